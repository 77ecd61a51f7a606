// Inside the netlink wrapper, shared by its files: netlink.cpp (the socket,
// links, addresses, routes), netlink_tc.cpp (qdiscs and counters),
// netlink_neighbours.cpp (neighbour entries, link notifications) and
// netlink_kinds.cpp (link kinds). Only these files include libnl.
#pragma once

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "netlink.h"

namespace nslab {

namespace nl {

struct MsgDeleter {
  void operator()(nl_msg* m) const noexcept { nlmsg_free(m); }
};
using Msg = std::unique_ptr<nl_msg, MsgDeleter>;

inline Msg new_msg(int type, int flags) {
  Msg m(nlmsg_alloc_simple(type, flags | NLM_F_REQUEST));
  if (!m) throw std::bad_alloc();
  return m;
}

template <typename T>
void append(nl_msg* m, const T& header) {
  if (nlmsg_append(m, const_cast<T*>(&header), sizeof header, NLMSG_ALIGNTO) < 0) throw std::bad_alloc();
}

inline void put(nl_msg* m, int type, const void* data, std::size_t len) {
  if (nla_put(m, type, static_cast<int>(len), data) < 0) throw std::bad_alloc();
}
inline void put_u32(nl_msg* m, int type, std::uint32_t v) {
  put(m, type, &v, sizeof v);
}
inline void put_str(nl_msg* m, int type, std::string_view s) {
  std::string z(s);
  put(m, type, z.c_str(), z.size() + 1);
}
inline nlattr* nest(nl_msg* m, int type) {
  nlattr* a = nla_nest_start(m, type);
  if (!a) throw std::bad_alloc();
  return a;
}

// A bridge's IFLA_INFO_DATA from its options, and why the kernel refused
// them (err) when that is this kernel's lack; empty otherwise
// (netlink_bridge.cpp).
void put_bridge_data(nl_msg* m, const BridgeOptions& o);
std::string bridge_refusal(const BridgeOptions& o, int err);

// A route-netlink socket in the calling thread's namespace, with nslab's
// settings. Throws naming `owner`; out of descriptors, it says which limit.
nl_sock* open_socket(const std::string& owner);

}  // namespace nl

struct Netlink::Impl {
  nl_sock* sock = nullptr;  // null while closed (see Netlink::close)
  std::string owner;
  int netns_fd = -1;  // where to reopen it; borrowed from the node, -1: nowhere

  ~Impl();
  // The socket, reopened inside netns_fd if it was closed.
  nl_sock* socket();

  // Sends m and reads its answer: an ack, one link, or a dump of links.
  // Returns 0 or the kernel's errno (libnl's own codes would lose it).
  int transact(nl_msg* m, LinkInfo* reply = nullptr, std::vector<LinkInfo>* dump_out = nullptr);
  // Sends a dump request and hands every answer to fn. Returns 0 or errno.
  int dump(nl_msg* m, const std::function<void(nlmsghdr*)>& fn);
  void must(nl_msg* m, const std::string& what);
};

// The fields of an RTM_NEWLINK message.
LinkInfo parse_link(nlmsghdr* h);

}  // namespace nslab
