// Two labs with the same node and interface names, at once, in two threads
// and in two processes: they never collide, and each one's ping works.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <future>

#include "nslab/lab.h"
#include "nslab/witness.h"
#include "seed_topologies.h"

namespace {
// Builds the routed lab and checks it with the real ping; 0 when all is well.
int build_and_check() {
  nslab::Lab lab(nslab::seed::routed_via_host());
  for (const char* n : {"red", "blue", "green"})
    if (!nslab::run_in_node(lab.node(n), "ping -n -c1 -W2 203.0.113.2").ok()) return 1;
  return 0;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(parallel_labs)

BOOST_AUTO_TEST_CASE(same_names_in_two_threads) {
  for (int round = 0; round < 3; ++round) {
    auto a = std::async(std::launch::async, build_and_check);
    auto b = std::async(std::launch::async, build_and_check);
    BOOST_TEST(a.get() == 0);
    BOOST_TEST(b.get() == 0);
  }
}

BOOST_AUTO_TEST_CASE(same_names_in_two_processes) {
  pid_t kids[2];
  for (auto& k : kids) {
    k = ::fork();
    BOOST_REQUIRE(k >= 0);
    if (k == 0) {
      int rc = 1;
      try {
        rc = build_and_check() | build_and_check();
      } catch (...) {}
      ::_exit(rc);
    }
  }
  for (auto k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
}

BOOST_AUTO_TEST_SUITE_END()
