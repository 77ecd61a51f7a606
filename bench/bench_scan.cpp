// A full TCP port scan of one target (65,535 ports), as Lab::scan runs it,
// next to the same scan's CPU time; and a scan where a DROP silences every
// port, decided by stillness. Median of a few runs each.
//
//   sudo unshare -n build/bench/nslab_bench_scan [RUNS]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <vector>

#include "bench_support.h"
#include "nslab/environment.h"
#include "nslab/lab.h"

using namespace nslab::bench;

namespace {

double cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

nslab::Topology scan_lab() {
  nslab::Topology t("scan-bench");
  t.add_node("inet");
  t.add_node("fw").service(nslab::Protocol::tcp, 80).service(nslab::Protocol::tcp, 443).nftables_ruleset(R"(
    table inet bench {
      chain in {
        type filter hook input priority 0;
        tcp dport 20000-20999 drop
      }
    })");
  t.link("inet:eth0 203.0.113.2/24", "fw:eth0 203.0.113.1/24");
  return t;
}

struct Run {
  double wall_ms, cpu_ms;
};

Run run(nslab::Lab& lab, const nslab::PortScan& s) {
  double c0 = cpu_ms();
  auto t0 = Clock::now();
  auto r = lab.scan(s);
  Run out{ms_since(t0), cpu_ms() - c0};
  std::fprintf(stderr, "  %s\n", r.summary().c_str());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 3;
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "skipped: %s\n", why->c_str());
    return 4;
  }
  nslab::Lab lab(scan_lab());
  for (auto [name, ports] :
       {std::pair{"tcp/1-65535 (2 open, 1,000 dropped, the rest refused)", nslab::PortSet::range(1, 65535)},
        std::pair{"tcp/20000-20999 (all dropped)", nslab::PortSet::range(20000, 20999)}}) {
    nslab::PortScan s;
    s.from = "inet";
    s.to = "fw";
    s.ports = ports;
    std::vector<double> wall, cpu;
    for (int i = 0; i < runs; ++i) {
      auto r = run(lab, s);
      wall.push_back(r.wall_ms);
      cpu.push_back(r.cpu_ms);
    }
    std::printf("scan %s: %.0f ms wall, %.0f ms CPU (median of %d)\n", name, median(wall), median(cpu), runs);
  }
  return 0;
}
