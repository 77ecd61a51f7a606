// Small text helpers shared by the tests.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

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

// A Boost.Test precondition: false in a chroot (the root is not the
// machine's, as /proc/1/root shows). There a new mount namespace or a
// nsenter into one sees the machine's root, and the kernel refuses a user
// namespace to a chrooted process, so tests of those are skipped, saying why.
inline boost::test_tools::assertion_result not_in_a_chroot(boost::unit_test::test_unit_id) {
  struct stat root {
  }, init_root{};
  boost::test_tools::assertion_result r(true);
  if (::stat("/", &root) == 0 && ::stat("/proc/1/root/", &init_root) == 0 &&
      (root.st_dev != init_root.st_dev || root.st_ino != init_root.st_ino)) {
    r = false;
    r.message() << "this process runs in a chroot: mount and user namespaces made here do not see this root";
  }
  return r;
}

}  // namespace nslab::testing
