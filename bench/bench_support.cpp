#include "bench_support.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <fmt/format.h>
#include <unistd.h>

namespace nslab::bench {

namespace {
// Node i (from 1) is on bridge v-net-K, K = (i - 1) / kPortsPerBridge, in 10.K.0.0/16.
int bridge_of(int i) {
  return (i - 1) / kPortsPerBridge;
}
std::string node_address(int i) {
  int j = (i - 1) % kPortsPerBridge + 1;
  return fmt::format("10.{}.{}.{}", bridge_of(i), j / 250, j % 250 + 1);
}
}  // namespace

Topology bridge_lab(int n) {
  Topology t(fmt::format("bridge-{}", n));
  auto& host = t.add_node("host");
  for (int k = 0; k <= bridge_of(std::max(n, 1)); ++k)
    host.bridge(fmt::format("v-net-{}", k), {fmt::format("10.{}.255.254/16", k)});
  for (int i = 1; i <= n; ++i) {
    auto name = fmt::format("n{}", i);
    t.add_node(name);
    t.link(fmt::format("{}:eth0 {}/16", name, node_address(i)), fmt::format("host:v{}@v-net-{}", i, bridge_of(i)));
  }
  return t;
}

// The article's commands, with the host as a namespace of its own so that the
// baseline, like nslab, touches nothing of the machine.
std::string bridge_lab_script(int n) {
  std::string s = "set -e\nip netns add host\nip -n host link set lo up\n";
  for (int k = 0; k <= bridge_of(std::max(n, 1)); ++k) {
    s += fmt::format("ip -n host link add name v-net-{0} type bridge\nip -n host link set v-net-{0} up\n", k);
    s += fmt::format("ip -n host addr add 10.{0}.255.254/16 dev v-net-{0}\n", k);
  }
  for (int i = 1; i <= n; ++i) {
    auto ns = fmt::format("n{}", i);
    s += fmt::format("ip netns add {0}\n", ns);
    s += fmt::format("ip -n host link add v{1} type veth peer name {0}-veth\n", ns, i);
    s += fmt::format("ip -n host link set {0}-veth netns {0}\n", ns);
    s += fmt::format("ip -n host link set v{} master v-net-{}\n", i, bridge_of(i));
    s += fmt::format("ip -n host link set v{} up\n", i);
    s += fmt::format("ip netns exec {0} ip addr add {1}/16 dev {0}-veth\n", ns, node_address(i));
    s += fmt::format("ip netns exec {0} ip link set {0}-veth up\n", ns);
    s += fmt::format("ip netns exec {0} ip link set lo up\n", ns);
  }
  return s;
}

std::string bridge_lab_teardown_script(int n) {
  std::string s = "set -e\n";
  for (int i = 1; i <= n; ++i) s += fmt::format("ip netns del n{}\n", i);
  s += "ip netns del host\n";
  return s;
}

ShellTimes run_sandboxed_shell(const std::string& build, const std::string& teardown) {
  char path[] = "/tmp/nslab-bench-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return {};
  std::string script = "date +T%s%N\n(\n" + build + ") >/dev/null 2>&1 || exit 1\ndate +T%s%N\n(\n" + teardown +
                       ") >/dev/null 2>&1 || exit 1\ndate +T%s%N\n";
  (void)!::write(fd, script.data(), script.size());
  ::close(fd);
  std::string cmd = fmt::format(
      "unshare --net --mount --propagation private sh -c 'mount -t tmpfs nslab-bench /run && "
      "sh {}'",
      path);
  FILE* p = ::popen(cmd.c_str(), "r");
  std::vector<double> marks;
  char line[128];
  while (p && std::fgets(line, sizeof line, p))
    if (line[0] == 'T') marks.push_back(std::strtod(line + 1, nullptr) / 1e6);
  int st = p ? ::pclose(p) : -1;
  ::unlink(path);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || marks.size() != 3) return {};
  return {marks[1] - marks[0], marks[2] - marks[1]};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace nslab::bench

namespace nslab::bench {

namespace {
const char* kTracing = "/sys/kernel/tracing";
void put(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}
}  // namespace

CleanupNetTrace::CleanupNetTrace() {
  dir_ = fmt::format("{}/instances/nslab-bench-{}", kTracing, ::getpid());
  if (::mkdir(dir_.c_str(), 0700) != 0) {
    dir_.clear();
    return;
  }
  put(dir_ + "/trace_clock", "mono");
  put(dir_ + "/buffer_size_kb", "8192");
  put(dir_ + "/events/workqueue/workqueue_execute_start/enable", "1");
  put(dir_ + "/events/workqueue/workqueue_execute_end/enable", "1");
  put(dir_ + "/tracing_on", "1");
}

CleanupNetTrace::~CleanupNetTrace() {
  if (dir_.empty()) return;
  put(dir_ + "/tracing_on", "0");
  put(dir_ + "/events/workqueue/enable", "0");
  ::rmdir(dir_.c_str());
}

void CleanupNetTrace::clear() {
  if (!dir_.empty()) put(dir_ + "/trace", "");
}

std::vector<std::pair<double, double>> CleanupNetTrace::runs() {
  std::vector<std::pair<double, double>> out;
  if (dir_.empty()) return out;
  std::ifstream in(dir_ + "/trace");
  std::string line;
  double open = -1;
  const void* work = nullptr;
  while (std::getline(in, line)) {
    // "kworker/u8:1-123 [001] ..... 5678.123456: workqueue_execute_start: work struct 0000...: function cleanup_net"
    auto colon = line.find(": workqueue_execute_");
    if (colon == std::string::npos) continue;
    auto space = line.rfind(' ', colon);
    double t = std::strtod(line.c_str() + space + 1, nullptr) * 1000.0;
    bool start = line.compare(colon, 25, ": workqueue_execute_start") == 0;
    auto ws = line.find("work struct ");
    const void* w = ws == std::string::npos
                        ? nullptr
                        : reinterpret_cast<const void*>(std::strtoull(line.c_str() + ws + 12, nullptr, 16));
    if (start && line.find("function cleanup_net") != std::string::npos) {
      open = t;
      work = w;
    } else if (!start && open >= 0 && w == work) {
      out.emplace_back(open, t);
      open = -1;
    }
  }
  if (open >= 0) out.emplace_back(open, -1);  // still running
  return out;
}

double monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace nslab::bench
