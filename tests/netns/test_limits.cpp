// Node limits (cgroups): what a program in a limited node meets is what the
// kernel enforces, read back independently (/proc/PID/cgroup, the cgroup's
// own files, /proc/PID/stat), and no cgroup directory outlives its lab, even
// when nslab is SIGKILLed. Where this machine cannot give a lab cgroups
// (rootless without delegation, no controller), the program exits 4 with
// the reason (a TestPrecondition, at the end).
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "cgroup.h"
#include "node_internals.h"
#include "nslab/lab.h"
#include "nslab/lab_fixture.h"
#include "nslab/process.h"
#include "kept_labs.h"
#include "scratch.h"
#include "text.h"

using namespace std::chrono_literals;
using nslab::testing::has;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nslab::Topology one_node(const nslab::Limits& limits) {
  nslab::Topology t("limits");
  t.add_node("a").limits = limits;
  return t;
}

// The cgroup directories a process is in, as the kernel lists them in
// /proc/PID/cgroup, mapped onto the mounted hierarchies.
std::vector<std::string> cgroup_dirs_of(int pid) {
  std::vector<std::string> dirs;
  std::istringstream in(read("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(in, line);) {
    auto path = line.substr(line.rfind(':') + 1);
    if (path.find("/nslab-") == std::string::npos) continue;
    for (const auto& base : {"/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu"}) {
      std::string d = std::string(base) + path;
      if (std::filesystem::exists(d + "/cgroup.procs")) dirs.push_back(d);
    }
  }
  return dirs;
}

// Every lab cgroup directory of process `pid` that still exists.
std::vector<std::string> lab_dirs_of(int pid) {
  std::vector<std::string> left;
  std::string prefix = "nslab-" + std::to_string(pid) + "-";
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator("/sys/fs/cgroup", ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_directory(ec) && it->path().filename().string().rfind(prefix, 0) == 0) left.push_back(it->path());
    if (it.depth() > 6) it.disable_recursion_pending();
  }
  return left;
}

long cpu_ticks(int pid) {
  std::string stat = read("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_memory_limit_is_enforced_and_an_oom_kill_is_named) {
  nslab::Lab lab(one_node({.memory = 64 << 20}));
  auto& idle = lab.start("a", {.argv = {"sleep", "30"}});
  // Witness: the kernel puts the program in a cgroup whose limit is 64 MiB.
  auto dirs = cgroup_dirs_of(idle.pid());
  BOOST_REQUIRE(!dirs.empty());
  bool limited = false;
  for (const auto& d : dirs) {
    std::string v2 = read(d + "/memory.max"), v1 = read(d + "/memory.limit_in_bytes");
    limited = limited || v2 == "67108864\n" || v1 == "67108864\n";
  }
  BOOST_TEST(limited, "no cgroup of the program has a 64 MiB limit");

  auto& hog = lab.start("a", {.argv = {"python3", "-c", "x = b'x' * (300 << 20); import time; time.sleep(60)"}});
  // A bound, not a timing: near its limit the kernel reclaims (slowly on an
  // emulated CPU) before it kills.
  int code = hog.wait(120s);
  BOOST_TEST(code == 137);
  BOOST_TEST(has(hog.exit_note(code), "OOM killer"), hog.exit_note(code));
  BOOST_TEST(has(hog.exit_note(code), "64MiB"));
  BOOST_TEST(idle.running(), "the OOM killer took the wrong process");
  BOOST_TEST(idle.exit_note(0).empty());
}

BOOST_AUTO_TEST_CASE(a_pids_limit_stops_forks) {
  nslab::Lab lab(one_node({.pids = 6}));
  auto& idle = lab.start("a", {.argv = {"sleep", "30"}});
  auto dirs = cgroup_dirs_of(idle.pid());
  BOOST_REQUIRE(!dirs.empty());
  // The shell gives up at the first fork the kernel refuses (dash exits).
  auto& p = lab.start("a", {.argv = {"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 20 & done; sleep 20"}});
  p.wait(10s);
  BOOST_TEST((has(p.log(), "fork") || has(p.log(), "Resource temporarily unavailable")), p.log());
  std::istringstream procs(read(dirs.front() + "/cgroup.procs"));
  int n = 0;
  for (std::string line; std::getline(procs, line);) ++n;
  BOOST_TEST(n <= 6);
  BOOST_TEST(n >= 2);  // the idle one and the sleeps the shell did start
  BOOST_TEST(idle.running());
}

BOOST_AUTO_TEST_CASE(a_cpu_quota_bounds_a_busy_loop) {
  // A generous bound, not a timing: a busy loop under a 0.2 CPU quota gets
  // at most about a fifth of the wall time (a loaded machine gives less).
  nslab::Lab lab(one_node({.cpu = 0.2}));
  auto& loop = lab.start("a", {.argv = {"sh", "-c", "while :; do :; done"}});
  long t0 = cpu_ticks(loop.pid());
  auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1500ms);
  long t1 = cpu_ticks(loop.pid());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  double share = static_cast<double>(t1 - t0) / static_cast<double>(::sysconf(_SC_CLK_TCK)) / wall;
  BOOST_TEST(share <= 0.3, "the loop got " << share << " of a CPU under a 0.2 quota");
  BOOST_TEST(share > 0.0);
  auto cg = nslab::NodeInternals::cgroup(lab.node("a"));
  BOOST_REQUIRE(cg);
  if (auto used = cg->cpu_seconds()) BOOST_TEST(*used <= 0.3 * wall + 0.05);
}

BOOST_AUTO_TEST_CASE(no_cgroup_outlives_a_lab) {
  int self = ::getpid();
  {
    nslab::Lab lab(one_node({.memory = 64 << 20, .pids = 50}));
    lab.start("a", {.argv = {"sleep", "30"}});
    BOOST_TEST(!lab_dirs_of(self).empty());
  }
  BOOST_TEST(lab_dirs_of(self).empty());
}

BOOST_AUTO_TEST_CASE(no_cgroup_outlives_a_sigkilled_nslab) {
  nslab::testing::Scratch s("nslab-limits");
  std::string file = s.write("limited.yaml", R"(name: limited
nodes:
  a:
    limits: { memory: 64MiB, pids: 50, cpu: 0.5 }
    run:
      - { command: "sleep 60" }
  b:
links:
  - [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
expect:
  - { from: a, command: "sleep 30" }
)");
  pid_t child = ::fork();
  if (child == 0) {
    ::execl(NSLAB_BINARY, NSLAB_BINARY, "check", file.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until the lab has made its cgroups, then SIGKILL nslab.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (lab_dirs_of(child).empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE(!lab_dirs_of(child).empty());
  std::this_thread::sleep_for(300ms);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  deadline = std::chrono::steady_clock::now() + 15s;
  while (!lab_dirs_of(child).empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  BOOST_TEST(lab_dirs_of(child).empty(), "a cgroup directory of the killed nslab remains");
}

// `nslab exec` into a limited node of a kept lab runs under the node's
// limits, as its programs do: the command is in the node's cgroup (its own
// /proc/self/cgroup says so) and meets its pids limit (a shell that forks
// more than the limit is refused by the kernel).
BOOST_AUTO_TEST_CASE(exec_into_a_kept_limited_node_joins_its_cgroup) {
  nslab::testing::Scratch s("nslab-limits");
  std::string file = s.write("kept.yaml", R"(name: kept-limits
nodes:
  a: { limits: { pids: 8 } }
  b:
links: [ [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ] ]
)");
  std::string env = "NSLAB_STATE_DIR=" + s.dir + "/state ";
  auto up = nslab::testing::kept::sh(env + NSLAB_BINARY + " up --name kl " + file + " 2>&1");
  BOOST_REQUIRE_MESSAGE(up.status == 0, up.out);
  auto in_a = nslab::testing::kept::sh(env + NSLAB_BINARY + " exec kl a -- cat /proc/self/cgroup 2>&1");
  auto in_b = nslab::testing::kept::sh(env + NSLAB_BINARY + " exec kl b -- cat /proc/self/cgroup 2>&1");
  // 20 sleeps at once from one shell: the limit of 8 refuses some forks.
  auto forks = nslab::testing::kept::sh(env + NSLAB_BINARY +
                                        " exec kl a -- sh -c 'for i in $(seq 20); do sleep 2 & done; wait' 2>&1");
  auto down = nslab::testing::kept::sh(env + NSLAB_BINARY + " down kl 2>&1");
  BOOST_TEST(in_a.status == 0, in_a.out);
  BOOST_TEST(has(in_a.out, "/nslab-"), "exec into a is not in a lab cgroup:\n" << in_a.out);
  BOOST_TEST(has(in_a.out, "/a\n"), in_a.out);
  BOOST_TEST(!has(in_b.out, "/nslab-"), "b has no limits, yet exec into it joined a lab cgroup:\n" << in_b.out);
  BOOST_TEST(has(forks.out, "fork"), "20 forks under pids 8 were not refused:\n" << forks.out);
  BOOST_TEST(down.status == 0, down.out);
}

// Where this machine cannot give a lab cgroups, the program is skipped.
const nslab::TestPrecondition kCgroups{[]() -> std::optional<std::string> {
  std::string why;
  if (nslab::detail::cgroups_usable(why)) return std::nullopt;
  return "node limits: " + why;
}};
