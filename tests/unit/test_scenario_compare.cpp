// Whether two scenario files describe one lab (`nslab check --lab` warns when
// not): YAML data compared, not text; expectations, name and description
// set aside.
#include <boost/test/unit_test.hpp>

#include "scenario_compare.h"

using nslab::detail::same_lab_description;

namespace {
const char* kLab = R"(name: pair
nodes:
  red: { routes: [ "default via 10.0.0.2" ] }
  blue:
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
expect:
  - { from: red, to: blue, icmp: reachable }
)";
}  // namespace

BOOST_AUTO_TEST_CASE(style_order_comments_and_expectations_do_not_matter) {
  const char* same = R"(# the same lab, written otherwise
links:
  - - "red:eth0 10.0.0.1/24"
    - "blue:eth0 10.0.0.2/24"
nodes:
  blue: ~
  red:
    routes:
      - default via 10.0.0.2   # block style, unquoted
name: another name
description: and a description
)";
  BOOST_TEST(same_lab_description(kLab, same));
  BOOST_TEST(same_lab_description(kLab, kLab));
}

BOOST_AUTO_TEST_CASE(a_changed_address_node_or_key_is_another_lab) {
  std::string lab = kLab;
  auto changed = [&](const std::string& from, const std::string& to) {
    std::string s = lab;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  BOOST_TEST(!same_lab_description(lab, changed("10.0.0.1/24", "10.0.0.3/24")));
  BOOST_TEST(!same_lab_description(lab, changed("  blue:\n", "  blue:\n  green:\n")));
  BOOST_TEST(!same_lab_description(lab, changed("name: pair\n", "name: pair\noptions: { timeout: 2s }\n")));
  BOOST_TEST(!same_lab_description(lab, changed("[ \"default via 10.0.0.2\" ]", "[]")));
}

BOOST_AUTO_TEST_CASE(text_that_does_not_parse_is_never_the_same) {
  BOOST_TEST(!same_lab_description(kLab, "nodes: [ unclosed"));
  BOOST_TEST(!same_lab_description("", kLab));
  BOOST_TEST(same_lab_description("", ""));
}
