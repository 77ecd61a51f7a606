// Open vSwitch in a still lab. An ovs-vswitchd that nslab started for a
// node's netdev-datapath bridges forwards every frame in userspace: it reads
// the frame from a port's packet socket (or the bridge's own tap) and sends
// it out again before it sleeps in poll() once more. So it holds no frame
// while every one of its threads sleeps in poll (or select, epoll) and no
// packet socket of its has an unread frame; its ovsdb-server never touches
// a frame. A lab whose switches are idle at two looks in a row, with the
// counters unchanged, has no frame inside a switch either.
//
// This holds only for what nslab knows the switch to do: a learning switch
// (fail_mode standalone) or one that drops everything (secure), with no
// flows of the scenario's. Flows may answer for addresses no node has (an
// ARP responder), meter, learn with timeouts or keep userspace conntrack
// state, and the system datapath queues upcalls to handler threads through
// netlink: for those ovs_blocker() says why stillness is no evidence.
#pragma once

#include <optional>
#include <string>

#include "nslab/topology.h"

namespace nslab::detail {

// Why the node's Open vSwitch bridges keep the lab from being called still
// (flows, the system datapath); empty when they do not, or it has none.
std::optional<std::string> ovs_blocker(const NodeSpec& node);

// Why the ovs-vswitchd with this pid (as this process sees it) may hold a
// frame: a thread that runs or waits for anything but poll, an unread frame
// on one of its packet sockets, or a /proc file that cannot be read (it
// exited, or this process may not look at it). Empty when it is idle.
std::optional<std::string> switch_busy(int pid);

}  // namespace nslab::detail
