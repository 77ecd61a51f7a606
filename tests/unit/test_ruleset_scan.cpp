// The allow-list that decides whether a node's firewall can change a
// packet's fate with time (time_dependent_rule), on rulesets as the kernel
// holds them: each sample in nft_rulesets/ is `nft -j list ruleset` of a
// namespace where the ruleset (or the iptables-nft rules) of
// make_samples.sh was loaded.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "firewall.h"

namespace {

std::string sample(const std::string& name) {
  std::ifstream in(std::string(NSLAB_RULESETS) + "/" + name + ".json");
  BOOST_REQUIRE_MESSAGE(in, "missing sample " << name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ruleset_scan)

BOOST_AUTO_TEST_CASE(time_chance_quotas_and_ageing_state_are_found) {
  struct {
    const char* name;
    const char* found;
  } rows[] = {
      {"limit", "rules with \"limit\" (inet t c)"},
      {"numgen", "rules with \"numgen\" (inet t c)"},
      {"numgen_dnat", "rules with \"numgen\" (inet t n)"},
      {"quota", "rules with \"quota\""},
      {"quotaobj", "rules with \"quota\""},
      {"hour", "rules with \"meta hour\""},
      {"day", "rules with \"meta day\""},
      {"cpu", "rules with \"meta cpu\""},
      {"ctexp", "rules with \"ct expiration\""},
      {"ctcount", "rules with \"ct count\""},
      {"settimeout", "a set with flag timeout"},
      {"dynset", "rules with \"set\" (inet t c)"},  // update @s
      {"elemtimeout", "a set with flag timeout"},
      {"meter", "rules with \""},
      {"synproxy", "rules with \"synproxy\""},
      {"xt_statistic", "rules with \"xt statistic\" (ip filter INPUT)"},
      {"xt_recent", "rules with \"xt recent\""},
      {"xt_hashlimit", "rules with \"xt hashlimit\""},
      {"xt_time", "rules with \"xt time\""},
  };
  for (const auto& row : rows) {
    BOOST_TEST_CONTEXT(row.name) {
      auto why = nslab::time_dependent_rule(sample(row.name));
      BOOST_REQUIRE(why.has_value());
      BOOST_TEST(why->find(row.found) != std::string::npos, *why);
    }
  }
}

// Filtering, NAT, verdict maps, marks, REJECT, logging: pure functions of
// the packet (and of the state its own flow makes).
BOOST_AUTO_TEST_CASE(rules_that_depend_on_the_packet_alone_pass) {
  auto plain = nslab::time_dependent_rule(sample("ok_plain"));
  BOOST_TEST(!plain.has_value(), plain.value_or(""));
  // iptables-nft: REJECT, MASQUERADE, comment and multiport pass; conntrack
  // only once its options were read (it may be --ctexpire).
  auto xt = nslab::time_dependent_rule(sample("xt_ok"));
  BOOST_REQUIRE(xt.has_value());
  BOOST_TEST(*xt == "rules with \"xt conntrack\" (ip filter FORWARD)");
  auto read = nslab::time_dependent_rule(sample("xt_ok"), {}, {"conntrack"});
  BOOST_TEST(!read.has_value(), read.value_or(""));
  BOOST_TEST(!nslab::time_dependent_rule("").has_value());
}

// Tables the caller names are skipped (nslab's own loss tables); anything
// unknown, or text that is not libnftables' JSON, counts as time-dependent.
BOOST_AUTO_TEST_CASE(skipped_tables_and_unknown_things) {
  std::string numgen = sample("numgen");
  BOOST_TEST(!nslab::time_dependent_rule(numgen, {"inet t"}).has_value());
  BOOST_TEST(*nslab::time_dependent_rule(R"({"nftables": [{"rule": {"family": "ip", "table": "x", "chain": "y",
      "expr": [{"frobnicate": {}}]}}]})") == "rules with \"frobnicate\" (ip x y)");
  BOOST_TEST(*nslab::time_dependent_rule(R"({"nftables": [{"flowtable": {"family": "ip", "table": "x"}}]})") ==
             "rules with \"flowtable\" (ip x)");
  BOOST_TEST(*nslab::time_dependent_rule(R"({"nftables": [)") == "a ruleset nslab cannot read");
  // This kernel has no nfnetlink_queue to load them: queue and last as
  // libnftables writes them.
  BOOST_TEST(*nslab::time_dependent_rule(R"({"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c",
      "expr": [{"queue": {"num": 1}}]}}]})") == "rules with \"queue\" (inet t c)");
  BOOST_TEST(*nslab::time_dependent_rule(R"({"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c",
      "expr": [{"last": null}, {"drop": null}]}}]})") == "rules with \"last\" (inet t c)");
  BOOST_TEST(*nslab::time_dependent_rule(R"({"nftables": [{"rule": {"family": "ip", "table": "x", "chain": "y",
      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "random"}}, "right": 1}}]}}]})") ==
             "rules with \"meta random\" (ip x y)");
}

BOOST_AUTO_TEST_SUITE_END()
