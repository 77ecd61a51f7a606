// `nslab check --junit`'s XML: whatever bytes a program printed, the file is
// UTF-8 and holds only characters XML 1.0 allows.
#include <boost/test/unit_test.hpp>

#include <string>

#include "junit.h"

using nslab::detail::xml_escape;

namespace {
// True when every byte sequence is well-formed UTF-8 of a character that XML
// 1.0 allows (tab, newline, carriage return, U+0020..U+D7FF, U+E000..U+FFFD,
// U+10000..U+10FFFF): a strict re-check, independent of the escaper.
bool xml_chars_only(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    cp = n == 1 ? c : c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3f);
    }
    static const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n > 1 && cp < min[n]) return false;
    bool ok = cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
              (cp >= 0x10000 && cp <= 0x10ffff);
    if (!ok) return false;
    i += n;
  }
  return true;
}
}  // namespace

BOOST_AUTO_TEST_CASE(markup_becomes_entities) {
  BOOST_TEST(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  BOOST_TEST(xml_escape("end ]]> of CDATA") == "end ]]&gt; of CDATA");
}

BOOST_AUTO_TEST_CASE(valid_utf8_is_kept) {
  BOOST_TEST(xml_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_becomes_visible_escapes) {
  BOOST_TEST(xml_escape("\xff\xfe") == "\\xFF\\xFE");
  BOOST_TEST(xml_escape("cut \xe2\x82") == "cut \\xE2\\x82");  // a sequence cut short
  BOOST_TEST(xml_escape("\xe2\x82 x") == "\\xE2\\x82 x");
  BOOST_TEST(xml_escape("\xc0\xaf") == "\\xC0\\xAF");                    // overlong '/'
  BOOST_TEST(xml_escape("\xe0\x80\xaf") == "\\xE0\\x80\\xAF");           // overlong, 3 bytes
  BOOST_TEST(xml_escape("\xed\xa0\x80") == "\\xED\\xA0\\x80");           // a UTF-16 surrogate
  BOOST_TEST(xml_escape("\xf4\x90\x80\x80") == "\\xF4\\x90\\x80\\x80");  // beyond U+10FFFF
  BOOST_TEST(xml_escape("\xef\xbf\xbe") == "\\xEF\\xBF\\xBE");           // U+FFFE, not an XML character
  BOOST_TEST(xml_escape("\x80") == "\\x80");                             // a lone continuation byte
}

BOOST_AUTO_TEST_CASE(forbidden_controls_become_visible_escapes) {
  BOOST_TEST(xml_escape(std::string("nul\0x", 5)) == "nul\\x00x");
  BOOST_TEST(xml_escape("\x01\x1b[31m\x7f") == "\\x01\\x1B[31m\\x7F");
  BOOST_TEST(xml_escape("tab\tline\ncr\r") == "tab\tline\ncr&#13;");
  // In an attribute, a parser would fold them into spaces: references.
  BOOST_TEST(xml_escape("tab\tline\ncr\r", true) == "tab&#9;line&#10;cr&#13;");
}

BOOST_AUTO_TEST_CASE(every_byte_string_gives_xml_characters_only) {
  // Every byte value at every position of short strings, and each pair.
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    BOOST_TEST_REQUIRE(xml_chars_only(xml_escape(one)), "byte " << a);
    for (int b = 0; b < 256; ++b) {
      std::string two = one + static_cast<char>(b) + "\x82";
      BOOST_TEST_REQUIRE(xml_chars_only(xml_escape(two)), "bytes " << a << " " << b);
      BOOST_TEST_REQUIRE(xml_chars_only(xml_escape(two, true)), "bytes " << a << " " << b);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_whole_report_with_hostile_output) {
  nslab::detail::SuiteResult s;
  s.file = "dir/\xff.yaml";
  s.name = "name \"<&>\" \x01";
  nslab::ExpectationOutcome o;
  o.title = "a -> b \xe2\x82";
  o.summary = "exit 3, output: bad \xff ]]> <x> \x1b";
  o.details = std::string("line\r\n\0end", 10);
  s.outcome.expectations.push_back(o);
  std::string x = nslab::detail::junit_xml({s});
  BOOST_TEST(xml_chars_only(x), x);
  BOOST_TEST(x.find("]]>") == std::string::npos, x);
  BOOST_TEST(x.find("bad \\xFF ]]&gt; &lt;x&gt; \\x1B") != std::string::npos, x);
  BOOST_TEST(x.find("name=\"name &quot;&lt;&amp;&gt;&quot; \\x01\"") != std::string::npos, x);
}
