// Real programs inside nodes: what they see, their isolation, readiness and
// early exits with reasons, and their death with the lab — with everything
// they started, whatever thread started them — even under SIGKILL.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <thread>

#include "leak_scan.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "process_scan.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::none_with_argv_within;
using nslab::testing::processes_with_argv;
using nslab::testing::some_with_argv_within;
using nslab::testing::unique_token;

using namespace std::chrono_literals;
using nslab::ProcessSpec;

namespace {
// True when the pid is gone (or a zombie left for init to reap).
bool gone(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return true;
  auto close = line.rfind(')');
  return close != std::string::npos && line[close + 2] == 'Z';
}
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}
// Waits until the process's log holds `text`; false if it exits first or the
// limit passes.
bool log_shows_within(nslab::Process& p, const std::string& text, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!has(p.log(), text)) {
    if (!p.running() || std::chrono::steady_clock::now() > deadline) return has(p.log(), text);
    std::this_thread::sleep_for(5ms);
  }
  return true;
}
const char* kPair = R"(
nodes: { red: , blue: }
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
)";
}  // namespace

BOOST_FIXTURE_TEST_SUITE(processes, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(a_process_sees_only_its_nodes_interfaces) {
  auto& lab = build(nslab::seed::veth_pair());
  auto& p = lab.start("red", ProcessSpec{{"ip", "-o", "link", "show"}});
  BOOST_TEST(p.wait(5s) == 0);
  BOOST_TEST(has(p.log(), "veth-red"), p.log());
  BOOST_TEST(!has(p.log(), "veth-blue"), p.log());
  BOOST_TEST(!has(p.log(), "eth0:"), p.log());
}

BOOST_AUTO_TEST_CASE(arguments_environment_and_working_directory) {
  auto& lab = build(nslab::seed::veth_pair());
  ProcessSpec spec{{"sh", "-c", "echo \"$GREETING from $(pwd): $1\" >&2", "sh", "two words"}};
  spec.env["GREETING"] = "hello";
  spec.working_dir = "/tmp";
  auto& p = lab.start("blue", spec);
  BOOST_TEST(p.wait(5s) == 0);
  BOOST_TEST(has(p.log(), "hello from /tmp: two words"), p.log());
}

BOOST_AUTO_TEST_CASE(hostname_and_pid_isolation_when_asked) {
  auto t = nslab::seed::veth_pair();
  t.node("red").hostname = "red-host";
  t.node("red").pid_namespace = true;
  auto& lab = build(std::move(t));
  auto& p = lab.start("red", ProcessSpec{{"sh", "-c", "hostname; echo pid=$$; ps -e -o pid=,comm="}});
  BOOST_TEST(p.wait(5s) == 0);
  auto log = p.log();
  BOOST_TEST(has(log, "red-host"), log);
  BOOST_TEST(has(log, "pid=1\n"), log);  // the first process of its own PID namespace
  // ps shows only the node's processes: the shell and ps itself.
  std::size_t lines = std::count(log.begin(), log.end(), '\n');
  BOOST_TEST(lines == 4u, log);
  BOOST_TEST(!has(nslab::run_command("hostname").output, "red-host"));
  // Without the request, a process shares the caller's PID namespace.
  auto& q = lab.start("blue", ProcessSpec{{"sh", "-c", "echo pid=$$"}});
  BOOST_TEST(q.wait(5s) == 0);
  BOOST_TEST(!has(q.log(), "pid=1\n"), q.log());
}

BOOST_AUTO_TEST_CASE(readiness_waits_and_reasons) {
  auto t = nslab::seed::veth_pair();
  auto& lab = build(std::move(t));
  auto& server = lab.start("blue", ProcessSpec{{"nc", "-l", "-k", "-p", "8080"}});
  nslab::wait_listening(lab.node("blue"), nslab::Protocol::tcp, 8080, 5s, &server);
  BOOST_TEST(lab.tcp("red", "blue", 8080).verdict == nslab::Verdict::reachable);

  auto& idle = lab.start("blue", ProcessSpec{{"sleep", "30"}});
  BOOST_CHECK_EXCEPTION(nslab::wait_listening(lab.node("blue"), nslab::Protocol::tcp, 9090, 200ms, &idle),
                        nslab::TimeoutError, [](const nslab::TimeoutError& e) {
                          return has(e.what(),
                                     "nothing listens on tcp/9090 in node \"blue\" after 200 ms "
                                     "(blue: sleep 30 is still running)");
                        });
  auto& failing = lab.start("red", ProcessSpec{{"sh", "-c", "echo cannot bind: address in use; exit 3"}});
  BOOST_CHECK_EXCEPTION(nslab::wait_listening(lab.node("red"), nslab::Protocol::udp, 53, 5s, &failing),
                        nslab::ProcessError, [](const nslab::ProcessError& e) {
                          return has(e.what(),
                                     "red: sh -c echo cannot bind: address in use; exit 3 exited with "
                                     "code 3; the end of its output:\ncannot bind: address in use");
                        });
  BOOST_CHECK_THROW(nslab::wait_command(lab.node("red"), {"false"}, 100ms), nslab::TimeoutError);
  nslab::wait_command(lab.node("red"), {"ping", "-c1", "-W1", "192.168.1.2"}, 5s);
}

BOOST_AUTO_TEST_CASE(processes_die_with_the_lab) {
  auto& lab = build(nslab::seed::veth_pair());
  pid_t pid = lab.start("red", ProcessSpec{{"sleep", "60"}}).pid();
  BOOST_TEST(!gone(pid));
  destroy_lab();
  BOOST_TEST(gone(pid));
}

// Not only the program's process group: a background child, a daemon that
// left for a session of its own (a double fork: its parent exited), and what
// a `run:` entry with `exit:` left behind all go when the lab does.
BOOST_AUTO_TEST_CASE(background_children_and_daemons_die_with_the_lab) {
  auto t = nslab::seed::veth_pair();
  const std::string a = unique_token(1777, 1), b = unique_token(1777, 2), c = unique_token(1777, 3),
                    d = unique_token(1777, 4);
  nslab::RunSpec setup;
  setup.argv = {"sh", "-c", fmt::format("sleep {} &", d)};
  setup.expect_exit = 0;
  t.node("blue").run.push_back(setup);
  auto& lab = build(std::move(t));
  lab.start("red", ProcessSpec{{"sh", "-c", fmt::format("sleep {} & (setsid sleep {} &); exec sleep {}", a, b, c)}});
  for (const auto& token : {a, b, c, d}) BOOST_TEST_REQUIRE(some_with_argv_within({"sleep", token}, 5s), token);
  teardown();
  // The teardown returns once the programs' supervisors have reaped everything.
  for (const auto& token : {a, b, c, d}) BOOST_TEST(processes_with_argv({"sleep", token}).empty(), token);
}

// PR_SET_PDEATHSIG fires when the *thread* that forked exits: a program
// started from a short-lived thread must not die with it.
BOOST_AUTO_TEST_CASE(a_program_started_from_a_thread_that_exits_lives_until_the_lab_goes) {
  auto& lab = build(nslab::seed::veth_pair());
  nslab::Process* p = nullptr;
  std::thread([&] {
    p = &lab.start("red", ProcessSpec{{"sh", "-c", "i=0; while :; do i=$((i+1)); echo beat $i; sleep 0.02; done"}});
  }).join();
  BOOST_TEST(log_shows_within(*p, "beat 10\n", 10s), "the program stopped: " << p->log());
  pid_t pid = p->pid();
  teardown();
  BOOST_TEST(gone(pid));
}

// A `command:` expectation ends when its shell does (a background child
// holds no pipe that keeps nslab waiting) and takes everything it started
// with it; one that times out is killed whole and shows its output so far.
BOOST_AUTO_TEST_CASE(a_command_ends_with_its_shell_and_leaves_nothing_running) {
  const std::string a = unique_token(30, 5), b = unique_token(30, 6), c = unique_token(30, 7);
  auto scenario = nslab::parse_scenario(fmt::format(R"({}expect:
  - {{ from: red, command: "sleep {} & echo started", output: started, timeout: 20s }}
  - {{ from: red, command: "echo partial; sleep {} & exec sleep {}", timeout: 300ms }}
)",
                                                    kPair, a, b, c),
                                        "commands.yaml");
  auto& lab = build(scenario.topology);
  auto t0 = std::chrono::steady_clock::now();
  auto outcome = nslab::run_expectations(lab, scenario);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_REQUIRE_EQUAL(outcome.expectations.size(), 2u);
  BOOST_TEST(outcome.expectations[0].passed, outcome.expectations[0].summary);
  BOOST_TEST(!outcome.expectations[1].passed);
  BOOST_TEST(has(outcome.expectations[1].summary, "timed out after 300 ms, output so far: partial"),
             outcome.expectations[1].summary);
  BOOST_TEST(seconds < 5.0, "the commands took " << seconds << " s");
  // The lab is still up; nothing the commands started is.
  for (const auto& token : {a, b, c}) BOOST_TEST(processes_with_argv({"sleep", token}).empty(), token);
}

// A `run:` program without `exit:` that dies while the lab is up fails the
// scenario, with its exit code and the end of its output.
BOOST_AUTO_TEST_CASE(a_run_program_that_dies_while_the_lab_is_up_fails_the_scenario) {
  const std::string a = unique_token(600, 8);
  auto scenario = nslab::parse_scenario(fmt::format(R"(
nodes:
  red:
    run: [ "echo serving; exec sleep {}" ]
  blue:
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
expect:
  - {{ from: red, to: blue, icmp: reachable }}
)",
                                                    a),
                                        "dies.yaml");
  auto& lab = build(scenario.topology);
  BOOST_REQUIRE_EQUAL(lab.processes().size(), 1u);
  auto& p = *lab.processes().front();
  BOOST_REQUIRE(some_with_argv_within({"sleep", a}, 5s));
  ::kill(p.pid(), SIGKILL);
  p.wait(5s);
  auto outcome = nslab::run_expectations(lab, scenario);
  BOOST_TEST(!outcome.passed());
  BOOST_REQUIRE_EQUAL(outcome.expectations.size(), 2u);
  const auto& dead = outcome.expectations[1];
  BOOST_TEST(!dead.passed);
  BOOST_TEST(dead.title == fmt::format("red: sh -c echo serving; exec sleep {} keeps running", a), dead.title);
  BOOST_TEST(dead.where.str() == "dies.yaml:4:12", dead.where.str());
  BOOST_TEST(dead.summary == "exited with code 137; the end of its output:\nserving", dead.summary);
}

// `nslab check` fails a scenario whose program died midway, and prints the
// end of every program's log when a scenario fails.
BOOST_AUTO_TEST_CASE(check_prints_the_logs_of_a_failed_scenarios_programs) {
  char dir[] = "/tmp/nslab-logs-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir));
  const std::string keep = unique_token(600, 9);
  std::string file = std::string(dir) + "/lab.yaml";
  std::ofstream(file) << fmt::format(R"(
nodes:
  red:
    run:
      - "echo about to fail; while [ ! -e {0}/stop ]; do sleep 0.01; done; exit 3"
      - "echo hello from red; exec sleep {1}"
  blue:
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
expect:
  - {{ from: red, command: "touch {0}/stop; while pgrep -f 'about to fai[l]' > /dev/null; do sleep 0.01; done" }}
)",
                                     dir, keep);
  auto r = nslab::run_command(fmt::format("{} check {}", NSLAB_BINARY, file));
  nslab::run_command(fmt::format("rm -rf {}", dir));
  BOOST_TEST(r.status == 1, r.output);
  BOOST_TEST(has(r.output, fmt::format("FAIL {}:5:9: red: sh -c echo about to fail; while [ ! -e {}/stop ]; do "
                                       "sleep 0.01; done; exit 3 keeps running — exited with code 3; the end of "
                                       "its output:\nabout to fail",
                                       file, dir)),
             r.output);
  BOOST_TEST(has(r.output, fmt::format("  log of red: sh -c echo hello from red; exec sleep {} (running), the end:\n"
                                       "    | hello from red\n",
                                       keep)),
             r.output);
  BOOST_TEST(has(r.output, "(exited with code 3), the end:\n    | about to fail\n"), r.output);
}

// In a PID namespace whose /proc is the host's (`unshare -pf` without
// --mount-proc), /proc counts pids differently from kill(2): the teardown
// must still find and kill every program and what it left in the background.
BOOST_AUTO_TEST_CASE(programs_die_with_the_lab_when_proc_counts_pids_differently) {
  char dir[] = "/tmp/nslab-pidns-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir));
  const std::string a = unique_token(1777, 12), b = unique_token(1777, 13), c = unique_token(1777, 14);
  std::string file = std::string(dir) + "/lab.yaml";
  // The expectation holds once all three run, so the teardown has them to kill.
  std::ofstream(file) << fmt::format(R"(
nodes:
  blue:
  red:
    run: [ "sleep {0} & (setsid sleep {1} &); exec sleep {2}" ]
expect:
  - {{ from: red, command: "for i in $(seq 500); do pgrep -fx 'sleep {0}' && pgrep -fx 'sleep {1}' && pgrep -fx 'sleep {2}' && exit 0; sleep 0.01; done; exit 1" }}
)",
                                     a, b, c);
  // The namespace's first process, sh, outlives nslab and looks for
  // survivors (pgrep reads the host's /proc) before the namespace ends.
  auto r = nslab::run_command(
      fmt::format("timeout -k 1 20 unshare -pf sh -c '{} check {}; echo rc=$?; for t in {} {} {}; do "
                  "pgrep -fx \"sleep $t\" && echo survivor $t; done; true'",
                  NSLAB_BINARY, file, a, b, c));
  nslab::run_command(fmt::format("rm -rf {}", dir));
  BOOST_TEST(r.status != 124, "nslab check did not return: " << r.output);
  BOOST_TEST(has(r.output, "rc=0"), r.output);
  BOOST_TEST(!has(r.output, "survivor"), r.output);
}

BOOST_AUTO_TEST_CASE(processes_die_with_a_sigkilled_test_process) {
  const std::string grandchild = unique_token(60, 10), child_token = unique_token(60, 11);
  int p[2];
  BOOST_REQUIRE(::pipe(p) == 0);
  pid_t child = ::fork();
  if (child == 0) {
    try {
      auto t = nslab::seed::veth_pair();
      t.node("red").pid_namespace = true;
      nslab::Lab lab(std::move(t));
      pid_t a = lab.start("red", ProcessSpec{{"sleep", "60"}}).pid();
      pid_t b = lab.start("blue", ProcessSpec{{"sleep", "60"}}).pid();
      // And a program started from a thread that is gone, with a child of its own.
      std::thread([&] {
        lab.start("blue", ProcessSpec{{"sh", "-c", fmt::format("sleep {} & exec sleep {}", grandchild, child_token)}});
      }).join();
      pid_t pids[2] = {a, b};
      (void)!::write(p[1], pids, sizeof pids);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(p[1]);
  pid_t pids[2] = {0, 0};
  BOOST_REQUIRE(::read(p[0], pids, sizeof pids) == static_cast<ssize_t>(sizeof pids));
  ::close(p[0]);
  BOOST_TEST(!gone(pids[0]));
  BOOST_TEST(!gone(pids[1]));
  BOOST_TEST(some_with_argv_within({"sleep", grandchild}, 5s));
  BOOST_TEST(some_with_argv_within({"sleep", child_token}, 5s));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  BOOST_TEST(gone_within(pids[0], 3s));
  BOOST_TEST(gone_within(pids[1], 3s));
  BOOST_TEST(none_with_argv_within({"sleep", grandchild}, 3s));
  BOOST_TEST(none_with_argv_within({"sleep", child_token}, 3s));
}

BOOST_AUTO_TEST_CASE(a_scenario_run_entry_that_exits_early_fails_the_build) {
  auto t = nslab::seed::veth_pair();
  nslab::RunSpec r;
  r.argv = {"sh", "-c", "echo listening soon; exit 2"};
  r.ready_port = {nslab::Protocol::tcp, 80};
  r.where = {"lab.yaml", 12, 9};
  t.node("red").run.push_back(r);
  BOOST_CHECK_EXCEPTION(build(std::move(t)), nslab::ProcessError, [](const nslab::ProcessError& e) {
    return has(e.what(), "lab.yaml:12:9: red: sh -c echo listening soon; exit 2 exited with code 2") &&
           has(e.what(), "listening soon");
  });
}

BOOST_AUTO_TEST_SUITE_END()
