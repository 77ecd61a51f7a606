// A node's conntrack table through libnetfilter_conntrack: a ctnetlink
// socket opened on a thread inside the node's namespace (so it sees that
// namespace's table and no other), one dump of both families. No
// libnetfilter type leaves this file.
//
// What a read costs: the kernel's conntrack hash is one for all namespaces
// (net.netfilter.nf_conntrack_buckets, 262,144 on this machine), and a dump
// walks every bucket whatever the namespace holds: about 13 ms here.
#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <fmt/format.h>

#include "nslab/conntrack.h"
#include "nslab/error.h"
#include "nslab/lab.h"

namespace nslab {

namespace {

const char* tcp_state_name(std::uint8_t s) {
  switch (s) {
    case TCP_CONNTRACK_SYN_SENT: return "SYN_SENT";
    case TCP_CONNTRACK_SYN_RECV: return "SYN_RECV";
    case TCP_CONNTRACK_ESTABLISHED: return "ESTABLISHED";
    case TCP_CONNTRACK_FIN_WAIT: return "FIN_WAIT";
    case TCP_CONNTRACK_CLOSE_WAIT: return "CLOSE_WAIT";
    case TCP_CONNTRACK_LAST_ACK: return "LAST_ACK";
    case TCP_CONNTRACK_TIME_WAIT: return "TIME_WAIT";
    case TCP_CONNTRACK_CLOSE: return "CLOSE";
    case TCP_CONNTRACK_SYN_SENT2: return "SYN_SENT2";
    default: return "NONE";
  }
}

IpAddress address_of(const nf_conntrack* ct, bool v6, int attr4, int attr6) {
  if (!v6) return IpAddress::from_bytes(Family::ipv4, nfct_get_attr(ct, static_cast<nf_conntrack_attr>(attr4)));
  return IpAddress::from_bytes(Family::ipv6, nfct_get_attr(ct, static_cast<nf_conntrack_attr>(attr6)));
}

std::uint16_t port_of(const nf_conntrack* ct, nf_conntrack_attr attr) {
  return nfct_attr_is_set(ct, attr) > 0 ? ntohs(nfct_get_attr_u16(ct, attr)) : std::uint16_t{0};
}

ConntrackEntry entry_of(const nf_conntrack* ct) {
  ConntrackEntry e;
  const bool v6 = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET6;
  e.l4proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
  e.original.src = address_of(ct, v6, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC);
  e.original.dst = address_of(ct, v6, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
  e.reply.src = address_of(ct, v6, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
  e.reply.dst = address_of(ct, v6, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST);
  if (e.l4proto == IPPROTO_ICMP || e.l4proto == IPPROTO_ICMPV6) {
    e.original.sport = port_of(ct, ATTR_ICMP_ID);
    e.reply.sport = e.original.sport;
  } else {
    e.original.sport = port_of(ct, ATTR_ORIG_PORT_SRC);
    e.original.dport = port_of(ct, ATTR_ORIG_PORT_DST);
    e.reply.sport = port_of(ct, ATTR_REPL_PORT_SRC);
    e.reply.dport = port_of(ct, ATTR_REPL_PORT_DST);
  }
  if (e.l4proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE) > 0)
    e.tcp_state = tcp_state_name(nfct_get_attr_u8(ct, ATTR_TCP_STATE));
  std::uint32_t status = nfct_attr_is_set(ct, ATTR_STATUS) > 0 ? nfct_get_attr_u32(ct, ATTR_STATUS) : 0;
  e.seen_reply = (status & IPS_SEEN_REPLY) != 0;
  e.assured = (status & IPS_ASSURED) != 0;
  if (nfct_attr_is_set(ct, ATTR_ID) > 0) e.id = nfct_get_attr_u32(ct, ATTR_ID);
  if (nfct_attr_is_set(ct, ATTR_MARK) > 0) e.mark = nfct_get_attr_u32(ct, ATTR_MARK);
  if (nfct_attr_is_set(ct, ATTR_ZONE) > 0) e.zone = nfct_get_attr_u16(ct, ATTR_ZONE);
  if (nfct_attr_is_set(ct, ATTR_TIMEOUT) > 0) e.timeout = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
  if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_PACKETS) > 0)
    e.packets =
        nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS) +
        (nfct_attr_is_set(ct, ATTR_REPL_COUNTER_PACKETS) > 0 ? nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS) : 0);
  return e;
}

int collect(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  static_cast<std::vector<ConntrackEntry>*>(data)->push_back(entry_of(ct));
  return NFCT_CB_CONTINUE;
}

// The table of the namespace the calling thread is in.
std::vector<ConntrackEntry> table_here() {
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (!h) throw SystemError("cannot open a ctnetlink socket", errno);
  std::vector<ConntrackEntry> out;
  nfct_callback_register(h, NFCT_T_ALL, collect, &out);
  // One dump of every family (AF_UNSPEC): the kernel walks its whole
  // conntrack hash per dump, which all namespaces share.
  std::uint32_t family = AF_UNSPEC;
  if (nfct_query(h, NFCT_Q_DUMP, &family) < 0) {
    int err = errno;
    nfct_close(h);
    throw SystemError("cannot dump the conntrack table", err);
  }
  nfct_close(h);
  return out;
}

}  // namespace

std::vector<ConntrackEntry> conntrack_table(Lab& lab, std::string_view node) {
  try {
    return lab.node(node).run([] { return table_here(); });
  } catch (const SystemError& e) {
    throw Error(fmt::format("node \"{}\": {}", node, e.what()));
  }
}

}  // namespace nslab
