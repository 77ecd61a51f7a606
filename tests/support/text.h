// Small text helpers shared by the tests.
#pragma once

#include <boost/test/unit_test.hpp>

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

}  // namespace nslab::testing
