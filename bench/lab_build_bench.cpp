// Builds and tears down the article's bridge lab with N nodes, with nslab and
// with the article's `ip` commands (one process per command), in one run, and
// prints a Markdown table with the ratio.
//
//   sudo unshare -n build/bench/nslab_bench_build [N...] [--shell-max N] [--reps R]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "bench_support.h"
#include "nslab/environment.h"
#include "nslab/lab.h"

using namespace nslab::bench;

namespace {

struct Sample {
  nslab::BuildTimes build;
  double teardown_ms = 0;
  long max_rss_kib = 0;
};

// One build and teardown in a fresh child process, so that its peak memory is
// the lab's alone.
Sample measure_in_child(int n) {
  int p[2];
  if (::pipe(p) != 0) std::exit(1);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    Sample s;
    try {
      auto t = bridge_lab(n);
      auto lab = std::make_unique<nslab::Lab>(std::move(t));
      s.build = lab->build_times();
      auto t0 = Clock::now();
      lab.reset();
      s.teardown_ms = ms_since(t0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nslab build of %d nodes failed: %s\n", n, e.what());
      ::_exit(1);
    }
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    s.max_rss_kib = ru.ru_maxrss;
    (void)!::write(p[1], &s, sizeof s);
    ::_exit(0);
  }
  ::close(p[1]);
  Sample s;
  bool ok = ::read(p[0], &s, sizeof s) == static_cast<ssize_t>(sizeof s);
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (!ok) std::exit(1);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  int shell_max = 1000, reps = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--shell-max") && i + 1 < argc) shell_max = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else sizes.push_back(std::atoi(argv[i]));
  }
  if (sizes.empty()) sizes = {3, 20, 100, 1000};
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return 4;
  }
  std::printf("| nodes | nslab build ms (namespaces / links / addresses / neighbours / wait up) | nslab teardown ms "
              "| nslab peak RSS MiB | `ip` script build ms | `ip` script teardown ms | build ratio |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|\n");
  for (int n : sizes) {
    int r = reps > 0 ? reps : (n <= 20 ? 15 : n <= 100 ? 7 : 3);
    std::vector<Sample> samples;
    for (int i = 0; i < r; ++i) {
      // Closing a namespace returns at once and the kernel destroys it in the
      // background; let that finish so one sample does not pay for the last.
      ::usleep(static_cast<useconds_t>(100000 + n * 2000));
      samples.push_back(measure_in_child(n));
    }
    auto med = [&](auto field) {
      std::vector<double> v;
      for (auto& s : samples) v.push_back(field(s));
      return median(v);
    };
    double total = med([](auto& s) { return s.build.total_ms; });
    double ns = med([](auto& s) { return s.build.namespaces_ms; });
    double links = med([](auto& s) { return s.build.links_ms; });
    double addr = med([](auto& s) { return s.build.addresses_ms; });
    double up = med([](auto& s) { return s.build.wait_up_ms; });
    double neigh = med([](auto& s) { return s.build.neighbours_ms; });
    double down = med([](auto& s) { return s.teardown_ms; });
    double rss = med([](auto& s) { return static_cast<double>(s.max_rss_kib) / 1024.0; });
    std::string shell_build = "-", shell_down = "-", ratio = "-";
    if (n <= shell_max) {
      std::vector<double> b, d;
      int sr = n <= 20 ? 5 : n <= 100 ? 3 : 1;
      for (int i = 0; i < sr; ++i) {
        auto st = run_sandboxed_shell(bridge_lab_script(n), bridge_lab_teardown_script(n));
        if (st.build_ms < 0) {
          std::fprintf(stderr, "the ip script for %d nodes failed\n", n);
          return 1;
        }
        b.push_back(st.build_ms);
        d.push_back(st.teardown_ms);
      }
      shell_build = fmt::format("{:.0f}", median(b));
      shell_down = fmt::format("{:.0f}", median(d));
      ratio = fmt::format("{:.0f}x", median(b) / total);
    }
    std::printf("| %d | %.1f (%.1f / %.1f / %.1f / %.1f / %.1f) | %.1f | %.1f | %s | %s | %s |\n", n, total,
                ns, links, addr, neigh, up, down, rss, shell_build.c_str(), shell_down.c_str(),
                ratio.c_str());
    std::fflush(stdout);
  }
  return 0;
}
