// A lab's Open vSwitch bridges (nslab/ovs.h): the daemons of every node
// that has one (ovs_daemons.h), started on a helper thread while the rest
// of the lab is built, then the bridges, ports, VLANs, mirrors and flows
// made through the lab's own database.
//
// Owned by the Lab, destroyed after its programs and before its nodes:
// the helper thread is joined first, then each node's daemons stop and
// their directories go.
#pragma once

#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nslab/topology.h"
#include "nslab/values.h"

namespace nslab {
class Node;
class Process;
}  // namespace nslab

namespace nslab::detail {

class OvsDaemons;

class OvsLab {
 public:
  // Checks what the bridges need (Open vSwitch installed, the kernel's
  // openvswitch module for the system datapath; else EnvironmentError) and
  // starts the daemons of the nodes with OVS bridges on a helper thread.
  // `nodes` are the lab's, in the topology's order.
  OvsLab(const Topology& t, const std::vector<Node*>& nodes);
  ~OvsLab();
  OvsLab(const OvsLab&) = delete;
  OvsLab& operator=(const OvsLab&) = delete;

  // Once the links exist: waits for the daemons, then makes each node's
  // bridges and ports in one ovs-vsctl transaction (which returns once
  // ovs-vswitchd has applied it), loads each bridge's flows in one bundle,
  // and turns transmit checksum offload off on both ends of the netdev
  // datapath's ports (ovs-vswitchd forwards their frames in userspace,
  // where a checksum left to the hardware is never filled in). A flow that
  // ovs-ofctl rejects is a ConfigError at its line of the scenario.
  // `macs`: the address of each bridge's own interface ("node:bridge").
  // Last, it sets the bridges' own interfaces up.
  void configure(const std::map<std::string, MacAddress, std::less<>>& macs);

  const OvsDaemons* daemons(std::string_view node) const;
  std::vector<Process*> processes() const;

 private:
  void start();  // on starter_
  void configure_node(const NodeSpec& spec, const OvsDaemons& d,
                      const std::map<std::string, MacAddress, std::less<>>& macs);
  void load_flows(const NodeSpec& spec, const BridgeSpec& b, const OvsDaemons& d);

  const Topology& topology_;
  std::vector<Node*> all_;    // the lab's
  std::vector<Node*> nodes_;  // those with OVS bridges
  std::map<std::string, std::unique_ptr<OvsDaemons>, std::less<>> daemons_;
  std::exception_ptr failed_;  // what start() threw
  std::thread starter_;        // joined first
};

// Transmit checksum offload off on the node's interfaces (SIOCETHTOOL).
void disable_tx_checksum(const Node& node, const std::vector<std::string>& interfaces);

}  // namespace nslab::detail
