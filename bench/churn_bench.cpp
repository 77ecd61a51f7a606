// Churn, what a test suite does: many small labs one after another. Builds,
// probes once and tears down N 3-node labs (the article's bridge lab)
//   - in this process through the library (labs/s, and each lab's time:
//     median, p90, p99, max — a lab waits behind the kernel's destruction of
//     the last ones),
//   - as `nslab check` processes on the same lab as a scenario file,
//   - with the article's `ip` commands, one process per command,
// side by side in one run, and prints a Markdown table with the ratios.
//
//   sudo unshare -n build/bench/nslab_bench_churn [--labs N] [--processes N] [--shell N]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "nslab/environment.h"
#include "nslab/lab.h"

using namespace nslab::bench;

namespace {

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

const char* kScenario = R"(name: churn
nodes:
  host: { bridges: { v-net-0: { addresses: [10.0.255.254/16] } } }
  n1:
  n2:
  n3:
links:
  - [ "n1:eth0 10.0.0.1/16", "host:veth-n1@v-net-0" ]
  - [ "n2:eth0 10.0.0.2/16", "host:veth-n2@v-net-0" ]
  - [ "n3:eth0 10.0.0.3/16", "host:veth-n3@v-net-0" ]
expect:
  - { from: n1, to: n2, icmp: reachable }
)";

}  // namespace

int main(int argc, char** argv) {
  int labs = 1000, processes = 200, shell = 100;
  const char* nslab_binary = std::getenv("NSLAB_BINARY");
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--labs"))
      labs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--processes"))
      processes = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--shell"))
      shell = std::atoi(argv[++i]);
  }
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return 4;
  }
  // In this process, with the kernel's namespace destruction traced.
  std::vector<double> each;
  CleanupNetTrace trace;
  trace.clear();
  double m0 = monotonic_ms();
  auto t0 = Clock::now();
  for (int i = 0; i < labs; ++i) {
    auto l0 = Clock::now();
    {
      nslab::Lab lab(bridge_lab(3));
      if (lab.ping("n1", "n2") != nslab::Verdict::reachable) {
        std::fprintf(stderr, "lab %d: n1 does not reach n2\n", i);
        return 1;
      }
    }
    each.push_back(ms_since(l0));
  }
  double lib_s = ms_since(t0) / 1000;
  double m1 = monotonic_ms(), busy = 0;
  for (auto [b, e] : trace.runs()) busy += std::max(0.0, std::min(e < 0 ? m1 : e, m1) - std::max(b, m0));
  // As processes.
  std::string dir = fmt::format("/tmp/nslab-churn-{}", ::getpid());
  std::string file = dir + "/churn.yaml";
  std::string binary = nslab_binary ? nslab_binary : "build/tools/nslab";
  double proc_s = -1;
  if (processes > 0 && ::access(binary.c_str(), X_OK) == 0) {
    (void)!std::system(("mkdir -p " + dir).c_str());
    std::ofstream(file) << kScenario;
    auto p0 = Clock::now();
    for (int i = 0; i < processes; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) {
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::execl(binary.c_str(), binary.c_str(), "check", "--quiet", file.c_str(), nullptr);
        ::_exit(127);
      }
      int st = 0;
      ::waitpid(pid, &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        std::fprintf(stderr, "nslab check failed (status %d)\n", st);
        return 1;
      }
    }
    proc_s = ms_since(p0) / 1000;
    (void)!std::system(("rm -rf " + dir).c_str());
  }
  // The shell.
  double shell_s = -1;
  if (shell > 0) {
    auto s0 = Clock::now();
    for (int i = 0; i < shell; ++i) {
      auto st = run_sandboxed_shell(bridge_lab_script(3), bridge_lab_teardown_script(3));
      if (st.build_ms < 0) {
        std::fprintf(stderr, "the ip script failed\n");
        return 1;
      }
    }
    shell_s = ms_since(s0) / 1000;
  }
  double lib_rate = labs / lib_s, proc_rate = proc_s > 0 ? processes / proc_s : 0,
         shell_rate = shell_s > 0 ? shell / shell_s : 0;
  std::printf("| way | labs | labs/s | per lab ms: median / p90 / p99 / max | ratio to the shell |\n");
  std::printf("|---|---:|---:|---|---:|\n");
  std::printf("| nslab library, one process | %d | %.1f | %.1f / %.1f / %.1f / %.1f | %s |\n", labs, lib_rate,
              percentile(each, 0.5), percentile(each, 0.9), percentile(each, 0.99), percentile(each, 1.0),
              shell_rate > 0 ? fmt::format("{:.1f}x", lib_rate / shell_rate).c_str() : "-");
  if (trace.active())
    std::fprintf(stderr, "cleanup_net busy %.0f%% of the library loop (%.0f of %.0f ms)\n", 100 * busy / (m1 - m0),
                 busy, m1 - m0);
  if (proc_s > 0)
    std::printf("| `nslab check` processes | %d | %.1f | - | %s |\n", processes, proc_rate,
                shell_rate > 0 ? fmt::format("{:.1f}x", proc_rate / shell_rate).c_str() : "-");
  if (shell_s > 0) std::printf("| article's `ip` commands | %d | %.1f | - | 1x |\n", shell, shell_rate);
  return 0;
}
