#include "bench_support.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <fmt/format.h>
#include <unistd.h>

namespace nslab::bench {

namespace {
std::string node_address(int i) { return fmt::format("10.0.{}.{}", i / 250, i % 250 + 1); }
}  // namespace

Topology bridge_lab(int n) {
  Topology t(fmt::format("bridge-{}", n));
  t.add_node("host").bridge("v-net-0", {"10.0.255.254/16"});
  for (int i = 1; i <= n; ++i) {
    auto name = fmt::format("n{}", i);
    t.add_node(name);
    t.link(fmt::format("{}:eth0 {}/16", name, node_address(i)), fmt::format("host:v{}@v-net-0", i));
  }
  return t;
}

// The article's commands, with the host as a namespace of its own so that the
// baseline, like nslab, touches nothing of the machine.
std::string bridge_lab_script(int n) {
  std::string s = "set -e\nip netns add host\n";
  s += "ip -n host link add name v-net-0 type bridge\nip -n host link set v-net-0 up\n";
  s += "ip -n host addr add 10.0.255.254/16 dev v-net-0\nip -n host link set lo up\n";
  for (int i = 1; i <= n; ++i) {
    auto ns = fmt::format("n{}", i);
    s += fmt::format("ip netns add {0}\n", ns);
    s += fmt::format("ip -n host link add v{1} type veth peer name {0}-veth\n", ns, i);
    s += fmt::format("ip -n host link set {0}-veth netns {0}\n", ns);
    s += fmt::format("ip -n host link set v{} master v-net-0\n", i);
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
  std::string script = "date +T%s%N\n(\n" + build + ") >/dev/null 2>&1 || exit 1\ndate +T%s%N\n(\n" +
                       teardown + ") >/dev/null 2>&1 || exit 1\ndate +T%s%N\n";
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
