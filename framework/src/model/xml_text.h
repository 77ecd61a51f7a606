// What XML 1.0 allows in text, for the two writers of XML reports (the
// JUnit of `nslab check --junit`, framework/src/report/junit.cpp; and Boost.Test's logs of
// program output, fixtures/src/lab_fixture.cpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace nslab::detail {

// The length of the well-formed UTF-8 sequence at s[i] that encodes a
// character XML 1.0 allows, or 0 (an ASCII byte, a continuation byte, an
// overlong or truncated sequence, a surrogate, a non-character, beyond
// U+10FFFF).
std::size_t xml_char_length(std::string_view s, std::size_t i);

}  // namespace nslab::detail
