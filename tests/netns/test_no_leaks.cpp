// Proof of no leaks. A lab is built in a child process that is SIGKILLed in
// the middle of the build and after it; afterwards no namespace, nsfs mount,
// process or link of that lab remains. The census is shown to see the lab's
// namespaces while they live, so this test can fail. Programs are found by
// their exact command line anywhere on the machine: one that escaped would
// have been reparented away from this process.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <thread>

#include "leak_scan.h"
#include "nslab/lab.h"
#include "nslab/matrix.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "process_scan.h"
#include "seed_topologies.h"

extern char** environ;

using namespace std::chrono_literals;
using nslab::testing::none_with_argv_within;
using nslab::testing::some_with_argv_within;
using nslab::testing::unique_token;

using nslab::testing::NetnsCensus;
using nslab::testing::new_namespaces;
using nslab::testing::take_census;

namespace {

std::pair<pid_t, int> spawn_lab_child(int nodes) {
  auto child = nslab::testing::spawn_lab_child(nslab::seed::bridge_n(nodes));
  BOOST_REQUIRE(child.pid > 0);
  return {child.pid, child.fd};
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
  BOOST_TEST(new_namespaces(before, after).empty(), new_namespaces(before, after).size()
                                                        << " namespaces still referenced");
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

BOOST_AUTO_TEST_CASE(fifty_labs_in_a_loop_leave_the_machine_as_it_was) {
  const std::string links_before = nslab::run_command("ip -o link show").output;
  const std::string mounts_before = nslab::run_command("cat /proc/self/mountinfo").output;
  NetnsCensus before = take_census();
  int fds = nslab::testing::count_open_fds();
  for (int i = 0; i < 50; ++i) {
    nslab::Lab lab(nslab::seed::routed_via_host());
    if (i % 10 == 0) BOOST_TEST(lab.ping("red", "external") == nslab::Verdict::reachable);
  }
  BOOST_TEST(new_namespaces(before, take_census()).empty());
  BOOST_TEST(nslab::testing::count_open_fds() == fds);
  BOOST_TEST(nslab::run_command("ip -o link show").output == links_before);
  BOOST_TEST(nslab::run_command("cat /proc/self/mountinfo").output == mounts_before);
}

// A child builds a lab, probes a matrix, tears the lab down, and again, with
// a service and a program in it; it is killed at pseudo-random moments, so
// some kills land in the build, some in the probes, some in the teardown.
BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_leaves_nothing) {
  const std::string links_before = nslab::run_command("ip -o link show").output;
  NetnsCensus before = take_census();
  std::uint32_t seed = 12345;
  auto next = [&] { return (seed = seed * 1103515245u + 12345u) >> 16; };
  const std::string bg = unique_token(60, 1), fg = unique_token(60, 2);
  for (int round = 0; round < 10; ++round) {
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        for (;;) {
          auto t = nslab::seed::bridge_n(12);
          t.node("n1").service(nslab::Protocol::tcp, 80);
          nslab::Lab lab(std::move(t));
          lab.start("n2", nslab::ProcessSpec{{"sh", "-c", fmt::format("sleep {} & exec sleep {}", bg, fg)}});
          nslab::MatrixSpec spec;
          for (int i = 1; i <= 12; ++i) spec.nodes.push_back("n" + std::to_string(i));
          lab.run_matrix(spec);
        }
      } catch (...) {
        ::_exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(next() % 120));
    kill_and_reap(pid);
    // The program's supervisor sees its lifeline close and kills the program
    // and its background child; give it a moment.
    BOOST_TEST(none_with_argv_within({"sleep", bg}, 5s));
    BOOST_TEST(none_with_argv_within({"sleep", fg}, 5s));
    for (int i = 0; i < 200 && !take_census().descendants.empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    expect_nothing_left(before, links_before);
  }
}

// `nslab check` is SIGKILLed while its lab is up: a `run:` string (through
// `sh -c`) with a background child, and a `command:` expectation that put a
// child in the background and still runs. Not one of their processes stays.
BOOST_AUTO_TEST_CASE(a_sigkilled_nslab_check_leaves_no_program_behind) {
  char dir[] = "/tmp/nslab-sigkill-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir));
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(unique_token(1777, 10 + i));
  const std::string file = std::string(dir) + "/lab.yaml", started = std::string(dir) + "/started";
  std::ofstream(file) << fmt::format(R"(
nodes:
  a:
    run: [ "sleep {} & sleep {}" ]
  b:
links: [ [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ] ]
expect:
  - {{ from: a, command: "sleep {} & touch {}; exec sleep {}", timeout: 60s }}
)",
                                     tokens[0], tokens[1], tokens[2], started, tokens[3]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  std::string binary = NSLAB_BINARY;
  std::vector<char*> argv{binary.data(), const_cast<char*>("check"), const_cast<char*>(file.c_str()), nullptr};
  pid_t pid = 0;
  BOOST_REQUIRE(::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  // The command runs: the lab is up and every program of it lives.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::access(started.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  BOOST_TEST_REQUIRE(::access(started.c_str(), F_OK) == 0, "the command expectation never ran");
  for (const auto& t : tokens) BOOST_TEST_REQUIRE(some_with_argv_within({"sleep", t}, 5s), t);
  kill_and_reap(pid);
  for (const auto& t : tokens) BOOST_TEST(none_with_argv_within({"sleep", t}, 5s), "sleep " << t << " survived");
  nslab::run_command(std::string("rm -rf ") + dir);
}

BOOST_AUTO_TEST_CASE(bad_input_leaves_nothing_behind) {
  const std::string links_before = nslab::run_command("ip -o link show").output;
  NetnsCensus before = take_census();
  char dir[] = "/tmp/nslab-bad-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir));
  struct Case {
    const char* name;
    const char* yaml;
    int exit_code;
  } cases[] = {
      {"malformed.yaml", "nodes: { red: [ }\n", 2},
      {"failing-rule.yaml",
       "nodes:\n  red:\n    iptables: \"-A INPUT -j NO_SUCH_CHAIN\"\n  blue:\n"
       "links: [ [ \"red:eth0 10.0.0.1/24\", \"blue:eth0 10.0.0.2/24\" ] ]\n",
       2},
      {"missing-binary.yaml",
       "nodes:\n  red:\n    run: [ [ nslab-no-such-program ] ]\n  blue:\n"
       "links: [ [ \"red:eth0 10.0.0.1/24\", \"blue:eth0 10.0.0.2/24\" ] ]\n",
       4},
      {"early-exit.yaml",
       "nodes:\n  red:\n    run: [ { command: \"exit 9\", ready: { tcp: 80 } } ]\n  blue:\n"
       "links: [ [ \"red:eth0 10.0.0.1/24\", \"blue:eth0 10.0.0.2/24\" ] ]\n",
       1},
  };
  for (const auto& c : cases) {
    std::string path = std::string(dir) + "/" + c.name;
    std::ofstream(path) << c.yaml;
    auto r = nslab::run_command(std::string(NSLAB_BINARY) + " check " + path);
    BOOST_TEST(r.status == c.exit_code, c.name << ": " << r.output);
    expect_nothing_left(before, links_before);
  }
  nslab::run_command(std::string("rm -rf ") + dir);
}

BOOST_AUTO_TEST_SUITE_END()
