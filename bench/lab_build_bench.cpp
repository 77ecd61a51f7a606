// Builds and tears down the article's bridge lab with N nodes, with nslab and
// with the article's `ip` commands (one process per command), in one run, and
// prints a Markdown table with the ratio, the build's phases, the process's
// peak memory, the kernel's memory per node and the kernel's time to destroy
// the namespaces (cleanup_net, from the workqueue tracepoints).
//
//   sudo unshare -n build/bench/nslab_bench_build [N...] [--shell-max N] [--reps R] [--probe]
//
// With --probe, each built lab is probed before its teardown (three single
// pings from n1: to the host and to n2, reachable, and to an address no node
// has, blocked), and their times and verdicts are printed under the table.
//
// With --alive K..., it measures instead what one namespace's sysctl writes
// cost while K other namespaces are alive: through the shared /proc/sys and
// through a procfs of the writer's own (SysctlWriter), side by side.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "bench_support.h"
#include "nslab/environment.h"
#include "nslab/lab.h"
#include "nslab/netns.h"
#include "sysctl.h"

using namespace nslab::bench;

namespace {

struct Sample {
  nslab::BuildTimes build;
  double teardown_ms = 0;
  double teardown_at = 0;  // monotonic_ms() when the teardown began
  long max_rss_kib = 0;
  long kernel_kib = 0;  // MemAvailable lost while the lab stood
  // With --probe: n1 -> host (reachable), n1 -> n2 (reachable), n1 -> an
  // address no node has (blocked), each probed alone, in ms; and whether
  // each verdict was the expected one.
  double probe_ms[3] = {0, 0, 0};
  bool probe_ok[3] = {false, false, false};
  char probe_detail[160] = {};  // the blocked probe's evidence
};

bool g_probe = false;  // --probe

long mem_available_kib() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  long v = 0;
  while (in >> key >> v) {
    if (key == "MemAvailable:") return v;
    if (key.back() == ':') std::getline(in, unit);  // " kB", or nothing
  }
  return 0;
}

// One build and teardown in a fresh child process, so that its peak memory is
// the lab's alone.
std::optional<Sample> measure_in_child(int n) {
  int p[2];
  if (::pipe(p) != 0) return std::nullopt;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    Sample s;
    try {
      auto t = bridge_lab(n);
      long before = mem_available_kib();
      auto lab = std::make_unique<nslab::Lab>(std::move(t));
      s.build = lab->build_times();
      s.kernel_kib = before - mem_available_kib();
      if (g_probe) {
        const std::string targets[3] = {"host", n > 1 ? "n2" : "host", "10.0.254.254"};
        for (int k = 0; k < 3; ++k) {
          auto t0 = Clock::now();
          auto result = lab->probe(nslab::Probe{.from = "n1", .to = targets[k]});
          s.probe_ms[k] = ms_since(t0);
          s.probe_ok[k] = result.verdict == (k < 2 ? nslab::Verdict::reachable : nslab::Verdict::blocked);
          if (k == 2) std::snprintf(s.probe_detail, sizeof s.probe_detail, "%s", result.detail.c_str());
        }
      }
      s.teardown_at = monotonic_ms();
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
  if (!ok) return std::nullopt;
  return s;
}

// The cost of one namespace's sysctl writes (the two an IPv4 lab writes per
// node) with `alive` other namespaces alive, both ways, in ms: median of 200.
std::pair<double, double> sysctl_cost(int alive) {
  return nslab::on_new_thread([&] {
    std::vector<nslab::Netns> held;
    // Each written through /proc/sys, as a lab wrote them: a namespace adds
    // its dentries to the shared chains when its sysctls are first looked up.
    for (int i = 0; i < alive; ++i) {
      held.push_back(nslab::Netns::unshare_this_thread());
      nslab::write_sysctl_here("net.ipv4.icmp_ratemask", "0");
      nslab::write_sysctl_here("net.ipv6.conf.default.disable_ipv6", "1");
    }
    std::vector<double> shared, own;
    nslab::SysctlWriter writer;
    for (int i = 0; i < 200; ++i) {
      held.push_back(nslab::Netns::unshare_this_thread());
      auto t0 = Clock::now();
      nslab::write_sysctl_here("net.ipv4.icmp_ratemask", "0");
      nslab::write_sysctl_here("net.ipv6.conf.default.disable_ipv6", "1");
      shared.push_back(ms_since(t0));
      held.push_back(nslab::Netns::unshare_this_thread());
      t0 = Clock::now();
      writer.write("net.ipv4.icmp_ratemask", "0");
      writer.write("net.ipv6.conf.default.disable_ipv6", "1");
      own.push_back(ms_since(t0));
    }
    if (!writer.private_procfs()) std::fprintf(stderr, "no procfs of its own here: both columns use /proc/sys\n");
    return std::pair{median(shared), median(own)};
  });
}

// Waits until cleanup_net has been idle for a second; returns the end of its
// last run (monotonic ms) and its busy time since `from`.
std::pair<double, double> destruction(CleanupNetTrace& trace, double from) {
  double last = 0, busy = 0;
  for (;;) {
    ::usleep(1000000);
    auto runs = trace.runs();
    double end = 0, b = 0;
    bool running = false;
    for (auto [s, e] : runs) {
      running = running || e < 0;
      if (e >= from) {
        end = std::max(end, e);
        b += e - std::max(s, from);
      }
    }
    if (end == last && !running) return {last, busy};
    last = end;
    busy = b;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes, alive;
  int shell_max = 1000, reps = 0;
  bool alive_mode = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--shell-max") && i + 1 < argc)
      shell_max = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--probe"))
      g_probe = true;
    else if (!std::strcmp(argv[i], "--alive"))
      alive_mode = true;
    else
      (alive_mode ? alive : sizes).push_back(std::atoi(argv[i]));
  }
  if (sizes.empty()) sizes = {3, 20, 100, 1000};
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return 4;
  }
  if (alive_mode) {
    std::printf(
        "| namespaces alive | sysctl writes per namespace, /proc/sys ms | through a procfs of its own ms | ratio |\n");
    std::printf("|---:|---:|---:|---:|\n");
    for (int k : alive) {
      auto [shared, own] = sysctl_cost(k);
      std::printf("| %d | %.3f | %.3f | %.1fx |\n", k, shared, own, shared / own);
      std::fflush(stdout);
      ::usleep(static_cast<useconds_t>(1000000 + k * 1000));  // let them die
    }
    return 0;
  }
  CleanupNetTrace trace;
  std::printf(
      "| nodes | nslab build ms (namespaces / links / addresses / routes / neighbours / wait up) "
      "| nslab teardown ms | nslab peak RSS MiB | kernel KiB per node | kernel destruction ms "
      "| `ip` script build ms | `ip` script teardown ms | build ratio |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int n : sizes) {
    int r = reps > 0 ? reps : (n <= 20 ? 15 : n <= 100 ? 7 : n <= 1000 ? 3 : 1);
    std::vector<Sample> samples;
    std::vector<double> destroyed;
    for (int i = 0; i < r; ++i) {
      // Closing a namespace returns at once and the kernel destroys it in the
      // background; wait for that (traced), or a fixed pause without tracefs,
      // so that one sample does not pay for the last.
      if (!trace.active()) ::usleep(static_cast<useconds_t>(100000 + n * 2000));
      trace.clear();
      auto sample = measure_in_child(n);
      if (!sample) return 1;  // the child said why; returning ends the trace
      samples.push_back(*sample);
      if (trace.active()) {
        auto [end, busy] = destruction(trace, samples.back().teardown_at);
        (void)busy;
        destroyed.push_back(end > 0 ? end - samples.back().teardown_at : 0);
      }
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
    double routes = med([](auto& s) { return s.build.routes_ms; });
    double up = med([](auto& s) { return s.build.wait_up_ms; });
    double neigh = med([](auto& s) { return s.build.neighbours_ms; });
    double down = med([](auto& s) { return s.teardown_ms; });
    double rss = med([](auto& s) { return static_cast<double>(s.max_rss_kib) / 1024.0; });
    double kernel = med([&](auto& s) { return static_cast<double>(s.kernel_kib) / (n + 1); });
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
      if (trace.active()) (void)destruction(trace, monotonic_ms());
    }
    std::string destroy = destroyed.empty() ? "-" : fmt::format("{:.0f}", median(destroyed));
    std::printf("| %d | %.1f (%.1f / %.1f / %.1f / %.1f / %.1f / %.1f) | %.1f | %.1f | %.0f | %s | %s | %s | %s |\n", n,
                total, ns, links, addr, routes, neigh, up, down, rss, kernel, destroy.c_str(), shell_build.c_str(),
                shell_down.c_str(), ratio.c_str());
    if (g_probe)
      for (const auto& sm : samples)
        std::printf("  probes of %d nodes: n1->host %.1f ms %s, n1->n2 %.1f ms %s, n1->10.0.254.254 %.1f ms %s (%s)\n",
                    n, sm.probe_ms[0], sm.probe_ok[0] ? "reachable" : "WRONG", sm.probe_ms[1],
                    sm.probe_ok[1] ? "reachable" : "WRONG", sm.probe_ms[2], sm.probe_ok[2] ? "blocked" : "WRONG",
                    sm.probe_detail);
    std::fflush(stdout);
  }
  return 0;
}
