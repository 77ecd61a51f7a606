// iptables rule lines as a scenario writes them, turned into one
// iptables-restore input: tables, policies, words split as sh splits them.
// No privilege needed; tests/netns/test_firewall.cpp loads them for real.
#include <boost/test/unit_test.hpp>

#include "iptables_text.h"
#include "nslab/error.h"
#include "text.h"

using nslab::testing::has;

BOOST_AUTO_TEST_CASE(iptables_lines_become_one_atomic_restore) {
  auto text = nslab::iptables_restore_input(
      "-t nat -A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE\n"
      "# a comment\n"
      "-P FORWARD DROP\n"
      "iptables -A FORWARD -p tcp -d 192.168.1.1 --dport 80 -j ACCEPT\n");
  BOOST_TEST(text ==
             "*nat\n-A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n"
             "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp -d 192.168.1.1 --dport 80 -j ACCEPT\nCOMMIT\n");
  BOOST_CHECK_EXCEPTION(nslab::iptables_restore_input("-F FORWARD", {"x.yaml", 4, 7}), nslab::ConfigError,
                        [](const nslab::ConfigError& e) {
                          return has(e.what(),
                                     "x.yaml:4:7: iptables line \"-F FORWARD\": only -A, -I, -P "
                                     "and -N build a lab's rules");
                        });
}

// Rule lines are split into words as sh splits them: '#' inside quotes is
// text, not a comment, and quoted words reach iptables-restore whole.
BOOST_AUTO_TEST_CASE(iptables_lines_are_split_like_sh) {
  BOOST_TEST(nslab::iptables_restore_input("-A INPUT -p icmp -m comment --comment \"ticket #42\" -j DROP\n") ==
             "*filter\n-A INPUT -p icmp -m comment --comment \"ticket #42\" -j DROP\nCOMMIT\n");
  // Single quotes, escapes, a comment after the rule, a continued line.
  BOOST_TEST(
      nslab::iptables_restore_input("-A INPUT -m comment --comment 'say \"hi\" \\ bye' -j ACCEPT  # why\n"
                                    "-A INPUT -p tcp \\\n    --dport 22 -m comment --comment it\\'s#1 -j DROP\n") ==
      "*filter\n-A INPUT -m comment --comment \"say \\\"hi\\\" \\\\ bye\" -j ACCEPT\n"
      "-A INPUT -p tcp --dport 22 -m comment --comment \"it's#1\" -j DROP\nCOMMIT\n");
  // A quoted "-t" is a word, not the table option.
  BOOST_TEST(nslab::iptables_restore_input("-A INPUT -m comment --comment \"-t\" -j DROP") ==
             "*filter\n-A INPUT -m comment --comment -t -j DROP\nCOMMIT\n");
  BOOST_CHECK_EXCEPTION(nslab::iptables_restore_input(
                            "-A INPUT -j DROP\n-A INPUT -m comment --comment \"ticket #42 -j DROP\n", {"x.yaml", 4, 7}),
                        nslab::ConfigError, [](const nslab::ConfigError& e) {
                          return has(e.what(), "x.yaml:5:37: iptables line 2: unterminated \" quote");
                        });
  BOOST_CHECK_EXCEPTION(
      nslab::iptables_restore_input("-A INPUT -j 'DROP", {"x.yaml", 4, 7}), nslab::ConfigError,
      [](const nslab::ConfigError& e) { return has(e.what(), "x.yaml:4:19: iptables line 1: unterminated ' quote"); });
  BOOST_CHECK_EXCEPTION(nslab::iptables_restore_input("-N \"my chain\""), nslab::ConfigError,
                        [](const nslab::ConfigError& e) { return has(e.what(), "cannot hold blanks"); });
}
