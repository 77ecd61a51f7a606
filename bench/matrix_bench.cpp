// A full ICMP matrix over N nodes on one bridge: nslab's concurrent probes
// next to `ip netns exec NODE ping -c1` per pair (the shell way), in one run.
//
//   sudo unshare -n build/bench/nslab_bench_matrix [N...] [--shell-max N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "bench_support.h"
#include "nslab/environment.h"
#include "nslab/lab.h"
#include "nslab/matrix.h"

using namespace nslab::bench;

namespace {

std::string address(int i) { return fmt::format("10.0.{}.{}", i / 250, i % 250 + 1); }

// The shell baseline: the article's lab, then one `ip netns exec ... ping -c1`
// per ordered pair, all in a sandbox; returns the probing time only.
double shell_matrix_ms(int n) {
  std::string build = bridge_lab_script(n);
  std::string probe = "fail=0\n";
  for (int a = 1; a <= n; ++a)
    for (int b = 1; b <= n; ++b)
      if (a != b)
        probe += fmt::format("ip netns exec n{} ping -n -c1 -W1 {} >/dev/null || fail=1\n", a, address(b));
  probe += "exit $fail\n";
  // Build first (untimed by the marker split), then the probes.
  auto t = run_sandboxed_shell(build, probe);
  return t.teardown_ms;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  int shell_max = 100;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--shell-max") && i + 1 < argc) shell_max = std::atoi(argv[++i]);
    else sizes.push_back(std::atoi(argv[i]));
  }
  if (sizes.empty()) sizes = {20, 100};
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return 4;
  }
  std::printf("| nodes | probes | nslab first matrix ms | nslab next matrices ms (median of 5) "
              "| `ip netns exec ping` per pair ms | ratio |\n|---:|---:|---:|---:|---:|---:|\n");
  for (int n : sizes) {
    nslab::Lab lab(bridge_lab(n));
    nslab::MatrixSpec spec;
    for (int i = 1; i <= n; ++i) spec.nodes.push_back(fmt::format("n{}", i));
    auto first = nslab::run_matrix(lab, spec);
    if (!first.ok()) {
      std::fprintf(stderr, "%s", first.text().c_str());
      return 1;
    }
    std::vector<double> next;
    for (int r = 0; r < 5; ++r) next.push_back(nslab::run_matrix(lab, spec).elapsed_ms);
    std::string shell = "-", ratio = "-";
    if (n <= shell_max) {
      double ms = shell_matrix_ms(n);
      if (ms < 0) {
        std::fprintf(stderr, "the shell matrix failed\n");
        return 1;
      }
      shell = fmt::format("{:.0f}", ms);
      ratio = fmt::format("{:.0f}x", ms / median(next));
    }
    std::printf("| %d | %zu | %.1f | %.1f | %s | %s |\n", n, first.results.size(), first.elapsed_ms,
                median(next), shell.c_str(), ratio.c_str());
    std::fflush(stdout);
  }
  return 0;
}
