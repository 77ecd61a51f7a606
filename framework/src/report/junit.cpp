#include "junit.h"

#include <fmt/format.h>

#include "xml_text.h"

namespace nslab::detail {

namespace {

std::string xml(std::string_view s) {
  return xml_escape(s, true);
}
std::string text(std::string_view s) {
  return xml_escape(s, false);
}

}  // namespace

std::string xml_escape(std::string_view s, bool attribute) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (std::size_t n = detail::xml_char_length(s, i)) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += fmt::format("\\x{:02X}", c);
        ++i;
      }
      continue;
    }
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;  // so that "]]>" never appears either
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02X}", c);
        else
          out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

std::string junit_xml(const std::vector<SuiteResult>& suites) {
  std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
  std::string body;
  for (const auto& s : suites) {
    std::size_t t = 0, f = 0, e = 0, sk = 0;
    std::string cases;
    if (s.kind == SuiteResult::Kind::ran) {
      for (const auto& x : s.outcome.expectations) {
        ++t;
        cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\" file=\"{}\" line=\"{}\">\n",
                             xml(s.name), xml(x.title), x.ms / 1000.0, xml(s.file), x.where.line);
        if (!x.passed) {
          ++f;
          cases += fmt::format("      <failure message=\"{}\">{}</failure>\n", xml(x.summary),
                               text(x.summary + (x.details.empty() ? "" : "\n" + x.details)));
        }
        cases += "    </testcase>\n";
      }
    } else {
      ++t;
      bool skip = s.kind == SuiteResult::Kind::skipped;
      (skip ? sk : e)++;
      cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"0\">\n", xml(s.name),
                           skip ? "skipped" : "scenario");
      cases += skip ? fmt::format("      <skipped message=\"{}\"/>\n", xml(s.message))
                    : fmt::format("      <error message=\"invalid scenario\">{}</error>\n", text(s.message));
      cases += "    </testcase>\n";
    }
    body += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
        "time=\"{:.3f}\" file=\"{}\">\n{}  </testsuite>\n",
        xml(s.name), t, f, e, sk, s.seconds, xml(s.file), cases);
    tests += t;
    failures += f;
    errors += e;
    skipped += sk;
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nslab\" tests=\"{}\" "
      "failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n{}</testsuites>\n",
      tests, failures, errors, skipped, body);
}

}  // namespace nslab::detail
