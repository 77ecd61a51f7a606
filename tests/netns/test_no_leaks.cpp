// Proof of no leaks. A lab is built in a child process that is SIGKILLed in
// the middle of the build and after it; afterwards no namespace, nsfs mount,
// process or link of that lab remains. The census is shown to see the lab's
// namespaces while they live, so this test can fail.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "leak_scan.h"
#include "nslab/lab.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"

using nslab::testing::NetnsCensus;
using nslab::testing::new_namespaces;
using nslab::testing::take_census;

namespace {

// Forks a child that builds bridge_n(nodes) and then writes one byte to the
// pipe and waits to be killed. Returns the child's pid and the read end.
std::pair<pid_t, int> spawn_lab_child(int nodes) {
  int p[2];
  BOOST_REQUIRE(::pipe(p) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    try {
      nslab::Lab lab(nslab::seed::bridge_n(nodes));
      char ok = 'y';
      (void)!::write(p[1], &ok, 1);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(p[1]);
  return {pid, p[0]};
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  BOOST_TEST(WIFSIGNALED(st));
}

void expect_nothing_left(const NetnsCensus& before, const std::string& links_before) {
  // Namespaces are freed when their last reference goes; the census lists
  // every reference userspace can hold, so "not listed" means "gone".
  NetnsCensus after = take_census();
  BOOST_TEST(new_namespaces(before, after).empty(),
             new_namespaces(before, after).size() << " namespaces still referenced");
  BOOST_TEST(after.nsfs_mounts == before.nsfs_mounts);
  BOOST_TEST(after.descendants.empty(), "a process of the lab is still alive");
  BOOST_TEST(nslab::run_command("ip -o link show").output == links_before);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(no_leaks)

BOOST_AUTO_TEST_CASE(sigkill_after_build_leaves_nothing) {
  const std::string links_before = nslab::run_command("ip -o link show").output;
  NetnsCensus before = take_census();
  auto [pid, rd] = spawn_lab_child(20);
  char c = 0;
  BOOST_REQUIRE(::read(rd, &c, 1) == 1);
  ::close(rd);
  // While the child lives, the census sees its 21 namespaces.
  BOOST_TEST(new_namespaces(before, take_census()).size() == 21u);
  kill_and_reap(pid);
  expect_nothing_left(before, links_before);
}

BOOST_AUTO_TEST_CASE(sigkill_mid_build_leaves_nothing) {
  const std::string links_before = nslab::run_command("ip -o link show").output;
  NetnsCensus before = take_census();
  // Kill at several moments through a 60-node build (about 40 ms here).
  for (int delay_ms : {0, 1, 3, 7, 12, 20, 30}) {
    auto [pid, rd] = spawn_lab_child(60);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill_and_reap(pid);
    ::close(rd);
    expect_nothing_left(before, links_before);
  }
}

BOOST_AUTO_TEST_CASE(in_process_labs_release_every_descriptor_and_namespace) {
  NetnsCensus before = take_census();
  int fds = nslab::testing::count_open_fds();
  for (int i = 0; i < 5; ++i) {
    nslab::Lab lab(nslab::seed::routed_via_host());
    BOOST_TEST(new_namespaces(before, take_census()).size() == 5u);
  }
  BOOST_TEST(new_namespaces(before, take_census()).empty());
  BOOST_TEST(nslab::testing::count_open_fds() == fds);
}

BOOST_AUTO_TEST_SUITE_END()
