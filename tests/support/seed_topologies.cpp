#include "seed_topologies.h"

#include <fmt/format.h>

namespace nslab::seed {

Topology veth_pair() {
  Topology t("veth-pair");
  t.add_node("red");
  t.add_node("blue");
  t.link("red:veth-red 192.168.1.1/24", "blue:veth-blue 192.168.1.2/24");
  return t;
}

Topology bridge_three() {
  Topology t("bridge-three");
  t.add_node("host").bridge("v-net-0");
  int i = 1;
  for (const char* ns : {"red", "blue", "green"}) {
    t.add_node(ns);
    t.link(fmt::format("{0}:{0}-veth 192.168.1.{1}/24", ns, i++), fmt::format("host:veth-{}@v-net-0", ns));
  }
  return t;
}

Topology host_access() {
  Topology t = bridge_three();
  t.set_name("host-access");
  t.node("host").bridges[0].addresses.push_back(Prefix::from_string("192.168.1.254/24"));
  return t;
}

Topology routed_via_host() {
  Topology t = host_access();
  t.set_name("routed-via-host");
  t.node("host").sysctl("net.ipv4.ip_forward", "1");
  t.add_node("external").route("192.168.1.0/24", "203.0.113.1");
  t.link("host:eth0 203.0.113.1/24", "external:eth0 203.0.113.2/24");
  for (const char* ns : {"red", "blue", "green"}) t.node(ns).route("default", "192.168.1.254");
  return t;
}

Topology bridge_n(int n) {
  Topology t(fmt::format("bridge-{}", n));
  t.add_node("host").bridge("v-net-0", {"10.0.255.254/16"});
  for (int i = 1; i <= n; ++i) {
    auto name = fmt::format("n{}", i);
    t.add_node(name);
    t.link(fmt::format("{}:eth0 10.0.{}.{}/16", name, i / 250, i % 250 + 1), fmt::format("host:v{}@v-net-0", i));
  }
  return t;
}

}  // namespace nslab::seed
