// Small text helpers shared by the tests.
#pragma once

#include <string>

namespace nslab::testing {

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace nslab::testing
