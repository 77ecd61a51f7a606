// Real programs inside nodes: what they see, their isolation, readiness and
// early exits with reasons, and their death with the lab, even under SIGKILL.
// And `nslab up / exec / list / down`, in a private /run.
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
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

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
  q.wait(5s);
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
                          return has(e.what(), "nothing listens on tcp/9090 in node \"blue\" after 200 ms "
                                               "(blue: sleep 30 is still running)");
                        });
  auto& failing = lab.start("red", ProcessSpec{{"sh", "-c", "echo cannot bind: address in use; exit 3"}});
  BOOST_CHECK_EXCEPTION(nslab::wait_listening(lab.node("red"), nslab::Protocol::udp, 53, 5s, &failing),
                        nslab::ProcessError, [](const nslab::ProcessError& e) {
                          return has(e.what(), "red: sh -c echo cannot bind: address in use; exit 3 exited with "
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

BOOST_AUTO_TEST_CASE(processes_die_with_a_sigkilled_test_process) {
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
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  BOOST_TEST(gone_within(pids[0], 3s));
  BOOST_TEST(gone_within(pids[1], 3s));
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

BOOST_AUTO_TEST_CASE(up_exec_list_down_round_trip_in_a_private_run) {
  auto before = nslab::testing::take_census();
  auto script = fmt::format(R"SH(set -e
mount -t tmpfs nslab-test /run
{0} up {1}/seed/10-port-forward.yaml
id=$({0} list | awk '{{print $1}}')
{0} list | grep -q "$id .*running"
ip netns list | grep -c "^$id-" | grep -qx 4
{0} exec "$id" red -- ip -o addr show dev eth0 | grep -q 192.168.1.1/24
ip netns exec "$id-external" ping -c1 -W2 203.0.113.1 > /dev/null
# An interactive shell on a terminal (script(1) gives it a pty).
printf 'echo "tty=$(tty | cut -c1-8) links=$(ip -o link | wc -l)"; exit\n' \
  | SHELL=/bin/sh script -qec "{0} exec $id red" /dev/null | tr -d '\r' | grep -q "tty=/dev/pts links=2"
set +e; {0} exec "$id" red -- sh -c 'exit 7'; code=$?; set -e
[ "$code" = 7 ]
{0} down "$id"
[ -z "$(ls /run/netns)" ] && [ -z "$(ls /run/nslab)" ]
{0} list | grep -q "no lab is up"
echo round-trip-ok
)SH", NSLAB_BINARY, NSLAB_SCENARIOS);
  char path[] = "/tmp/nslab-up-test-XXXXXX";
  int fd = ::mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  (void)!::write(fd, script.data(), script.size());
  ::close(fd);
  auto r = nslab::run_command(fmt::format("cd /tmp && unshare -m --propagation private sh {}", path));
  ::unlink(path);
  BOOST_TEST(r.ok(), r.output);
  BOOST_TEST(has(r.output, "round-trip-ok"), r.output);
  // The keeper is gone and with it every namespace of the lab.
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(nslab::testing::new_namespaces(before, nslab::testing::take_census()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
