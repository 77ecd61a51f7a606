// A trace (Lab::trace) through a chain of routers, over ICMP, UDP and TCP,
// and a counted probe of 1,000 echoes (Lab::count_answers), next to their
// CPU time; and the same trace where the destination is silent (every TTL
// past the last router decided by stillness). Median of a few runs each.
//
//   sudo unshare -n build/bench/nslab_bench_paths [RUNS]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <functional>
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

constexpr int kRouters = 8;

// src -- r1 -- ... -- r8 -- dst, each link its own /24; dst serves tcp/80,
// and drops everything from 10.0.0.3 (a second source address of src).
nslab::Topology chain() {
  nslab::Topology t("path-bench");
  t.add_node("src").route("default", "10.0.0.1");
  for (int i = 1; i <= kRouters; ++i) {
    auto& r = t.add_node(fmt::format("r{}", i)).sysctl("net.ipv4.ip_forward", "1");
    if (i > 1) r.route("10.0.0.0/24", fmt::format("10.0.{}.1", i - 1));
    if (i < kRouters) r.route("10.0.99.0/24", fmt::format("10.0.{}.2", i));
  }
  t.add_node("dst").route("default", "10.0.99.1").service(nslab::Protocol::tcp, 80);
  t.node("dst").iptables_rules("-A INPUT -s 10.0.0.3 -j DROP\n");
  t.link("src:eth0 10.0.0.2/24 10.0.0.3/24", "r1:src 10.0.0.1/24");
  for (int i = 1; i < kRouters; ++i)
    t.link(fmt::format("r{}:next 10.0.{}.1/24", i, i), fmt::format("r{}:prev 10.0.{}.2/24", i + 1, i));
  t.link(fmt::format("r{}:dst 10.0.99.1/24", kRouters), "dst:eth0 10.0.99.2/24");
  return t;
}

void measure(const char* name, int runs, const std::function<std::string()>& fn) {
  std::vector<double> wall, cpu;
  std::string last;
  for (int i = 0; i < runs; ++i) {
    double c0 = cpu_ms();
    auto t0 = Clock::now();
    last = fn();
    wall.push_back(ms_since(t0));
    cpu.push_back(cpu_ms() - c0);
  }
  std::fprintf(stderr, "  %s\n", last.c_str());
  std::printf("%s: %.2f ms wall, %.2f ms CPU (median of %d)\n", name, median(wall), median(cpu), runs);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  if (auto why = nslab::lab_environment_problem()) {
    std::fprintf(stderr, "skipped: %s\n", why->c_str());
    return 4;
  }
  nslab::Lab lab(chain());
  auto probe = [](nslab::Protocol p, std::uint16_t port) {
    nslab::Probe x;
    x.from = "src";
    x.to = "dst";
    x.protocol = p;
    x.port = port;
    return x;
  };
  for (auto [name, p] : {std::pair{"trace icmp, 9 hops (30 TTLs)", probe(nslab::Protocol::icmp, 0)},
                         std::pair{"trace udp/33434, 9 hops (30 TTLs)", probe(nslab::Protocol::udp, 33434)},
                         std::pair{"trace tcp/80, 9 hops (30 TTLs)", probe(nslab::Protocol::tcp, 80)}})
    measure(name, runs, [&, p = p] { return lab.trace(nslab::PathTrace{.probe = p}).str(); });
  auto silent = probe(nslab::Protocol::icmp, 0);
  silent.source = nslab::IpAddress::from_string("10.0.0.3");
  measure("trace icmp, destination silent (22 TTLs unanswered)", runs,
          [&] { return lab.trace(nslab::PathTrace{.probe = silent}).str(); });
  measure("count 1000 echoes", runs,
          [&] { return lab.count_answers(probe(nslab::Protocol::icmp, 0), 1000).summary(); });
  return 0;
}
