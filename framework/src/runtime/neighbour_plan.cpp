#include "neighbour_plan.h"

#include <map>

namespace nslab {

namespace {

struct Member {
  std::size_t node;  // index in the topology's nodes
  const std::string* interface;
  const std::vector<Prefix>* addresses;
  MacAddress mac;
};

}  // namespace

std::vector<NodeNeighbours> plan_static_neighbours(const Topology& topology,
                                                   const std::unordered_map<std::string, MacAddress>& macs,
                                                   std::size_t limit) {
  const auto& nodes = topology.nodes();
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < nodes.size(); ++i) index.emplace(nodes[i].name, i);
  auto mac_of = [&](const std::string& label) {
    auto it = macs.find(label);
    return it == macs.end() ? MacAddress{} : it->second;
  };
  std::vector<std::vector<std::pair<std::string, Neighbour>>> out(nodes.size());

  // Interfaces with addresses, by segment, in declaration order.
  const auto segment = topology.segments();
  std::map<int, std::vector<Member>> by_segment;
  auto add = [&](std::size_t node, const std::string& interface, const std::vector<Prefix>& addresses) {
    if (addresses.empty()) return;
    std::string label = nodes[node].name + ":" + interface;
    auto seg = segment.find(label);
    if (seg != segment.end()) by_segment[seg->second].push_back({node, &interface, &addresses, mac_of(label)});
  };
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (const auto& b : nodes[i].bridges) add(i, b.name, b.addresses);
  for (const auto& l : topology.links())
    for (const auto* e : {&l.a, &l.b})
      if (auto it = index.find(e->node); it != index.end()) add(it->second, e->interface, e->addresses);

  for (const auto& [seg, members] : by_segment) {
    (void)seg;
    std::size_t addresses = 0;
    for (const auto& m : members) addresses += m.addresses->size();
    if (members.size() < 2 || addresses > limit) continue;
    for (const auto& me : members)
      for (const auto& other : members) {
        // A node with `arp: dynamic` resolves its neighbours on the wire.
        if (&me == &other || nodes[me.node].arp == ArpMode::dynamic) continue;
        for (const auto& theirs : *other.addresses) {
          bool on_link = false;
          for (const auto& mine : *me.addresses) on_link = on_link || mine.contains(theirs.address());
          if (on_link) out[me.node].push_back({*me.interface, Neighbour{0, theirs.address(), other.mac}});
        }
      }
  }
  // Bridges learn the MAC behind each port from the first frame it sends; with
  // no ARP on the wire, the first frames to a node would be flooded to every
  // port. Static forwarding entries make a bridge a switch that already knows.
  for (const auto& l : topology.links())
    for (const auto& [port, other] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}}) {
      if (port->bridge.empty()) continue;
      // Open vSwitch learns in its own tables (its NORMAL flow), not the kernel's.
      if (const NodeSpec* n = topology.find_node(port->node); n)
        if (const BridgeSpec* b = n->find_bridge(port->bridge); b && b->kind == BridgeKind::ovs) continue;
      if (auto it = index.find(port->node); it != index.end())
        out[it->second].push_back({port->interface, Neighbour{0, {}, mac_of(other->label()), true}});
    }

  std::vector<NodeNeighbours> planned;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (!out[i].empty()) planned.push_back({nodes[i].name, std::move(out[i])});
  return planned;
}

}  // namespace nslab
