// Small text helpers shared by the tests.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include <string>

#include "leak_scan.h"

namespace nslab::testing {

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A Boost.Test precondition: where this process cannot run a program as
// another user, the test is reported as skipped, with the reason.
inline boost::test_tools::assertion_result can_drop_privileges(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(true);
  if (auto why = cannot_drop_privileges()) {
    r = false;
    r.message() << *why;
  }
  return r;
}

// A Boost.Test precondition: false in a chroot. There a new mount namespace
// or a nsenter into one sees the machine's root, and the kernel refuses a
// user namespace to a chrooted process, so tests of those are skipped,
// saying why. A chroot into a bind mount (as a fresh debootstrap root is
// entered) shows in mountinfo: the mount at "/" has a root other than "/".
inline boost::test_tools::assertion_result not_in_a_chroot(boost::unit_test::test_unit_id) {
  std::ifstream in("/proc/self/mountinfo");
  std::string root_of_slash = "/";
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string id, parent, dev, root, point;
    if (words >> id >> parent >> dev >> root >> point && point == "/") root_of_slash = root;
  }
  boost::test_tools::assertion_result r(root_of_slash == "/");
  if (root_of_slash != "/")
    r.message() << "this process runs in a chroot (its / is " << root_of_slash
                << "): mount and user namespaces made here do not see this root";
  return r;
}

}  // namespace nslab::testing
