// A full ICMP matrix over N nodes on one bridge: nslab's concurrent probes
// next to `ip netns exec NODE ping -c1` per pair (the shell way), in one run.
//
//   sudo unshare -n build/bench/nslab_bench_matrix [N...] [--shell-pairs P]
//
// The shell baseline runs at most P pairs (default 400), spread over the
// matrix, and is scaled to the full matrix; it also counts failed pings.
#include <unistd.h>

#include <cstdio>
#include <fstream>
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

std::string address(int i) {
  return fmt::format("10.0.{}.{}", i / 250, i % 250 + 1);
}

// The shell baseline: the article's lab, then `ip netns exec NODE ping -c1`
// for `pairs` ordered pairs spread over the matrix (all of them for small N),
// in a sandbox. Returns the probing time and how many pings failed.
struct ShellMatrix {
  double ms = -1;
  int pairs = 0;
  int failed = 0;
};

ShellMatrix shell_matrix(int n, int max_pairs) {
  std::vector<std::pair<int, int>> all;
  for (int a = 1; a <= n; ++a)
    for (int b = 1; b <= n; ++b)
      if (a != b) all.push_back({a, b});
  std::vector<std::pair<int, int>> chosen;
  std::size_t stride = all.size() <= static_cast<std::size_t>(max_pairs) ? 1 : all.size() / max_pairs;
  for (std::size_t i = 0; i < all.size(); i += stride) chosen.push_back(all[i]);
  char path[] = "/tmp/nslab-bench-fails-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd >= 0) ::close(fd);
  std::string probe = "fail=0\n";
  for (auto [a, b] : chosen)
    probe += fmt::format("ip netns exec n{} ping -n -c1 -W1 {} >/dev/null || fail=$((fail+1))\n", a, address(b));
  probe += fmt::format("echo $fail > {}\n", path);
  auto t = run_sandboxed_shell(bridge_lab_script(n), probe);
  ShellMatrix r;
  r.ms = t.teardown_ms;  // the second script's time: the probes
  r.pairs = static_cast<int>(chosen.size());
  std::ifstream(path) >> r.failed;
  ::unlink(path);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  int shell_pairs = 400;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--shell-pairs") && i + 1 < argc)
      shell_pairs = std::atoi(argv[++i]);
    else
      sizes.push_back(std::atoi(argv[i]));
  }
  if (sizes.empty()) sizes = {20, 100};
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return 4;
  }
  std::printf(
      "| nodes | probes | nslab first matrix ms | nslab next matrices ms (median of 5) "
      "| `ip netns exec ping` per pair: pairs run, failed, ms (full matrix at that rate) | ratio |\n"
      "|---:|---:|---:|---:|---|---:|\n");
  for (int n : sizes) {
    nslab::Lab lab(bridge_lab(n));
    nslab::MatrixSpec spec;
    for (int i = 1; i <= n; ++i) spec.nodes.push_back(fmt::format("n{}", i));
    auto first = lab.run_matrix(spec);
    if (!first.ok()) {
      std::fprintf(stderr, "%s", first.text().c_str());
      return 1;
    }
    std::vector<double> next;
    for (int r = 0; r < 5; ++r) next.push_back(lab.run_matrix(spec).elapsed_ms);
    std::string shell = "-", ratio = "-";
    if (shell_pairs > 0) {
      auto sh = shell_matrix(n, shell_pairs);
      if (sh.ms < 0) {
        std::fprintf(stderr, "the shell matrix could not run\n");
        return 1;
      }
      double full = sh.ms * static_cast<double>(first.results.size()) / sh.pairs;
      shell = fmt::format("{} pairs, {} failed, {:.0f} ms ({:.0f} ms)", sh.pairs, sh.failed, sh.ms, full);
      ratio = fmt::format("{:.0f}x", full / median(next));
    }
    std::printf("| %d | %zu | %.1f | %.1f | %s | %s |\n", n, first.results.size(), first.elapsed_ms, median(next),
                shell.c_str(), ratio.c_str());
    std::fflush(stdout);
  }
  return 0;
}
