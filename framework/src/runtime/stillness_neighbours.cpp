// The neighbour settings of the stillness census, read through rtnetlink by
// a thread inside the node: three dumps instead of four sysctl files per
// interface and family (a census read about 20 files per node, most of its
// time in path walks under /proc/sys).
#include "stillness_neighbours.h"

#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlink_dump.h"
#include "nslab/fd.h"

namespace nslab::detail {

namespace {

// Calls fn(type, data, size) for each attribute in [p, p + size).
template <typename Fn>
void each_attribute(const char* p, int size, Fn&& fn) {
  while (size >= static_cast<int>(sizeof(nlattr))) {
    nlattr a{};
    std::memcpy(&a, p, sizeof a);
    if (a.nla_len < sizeof(nlattr) || a.nla_len > size) break;
    fn(a.nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN, static_cast<int>(a.nla_len - NLA_HDRLEN));
    p += NLA_ALIGN(a.nla_len);
    size -= NLA_ALIGN(a.nla_len);
  }
}

template <typename T>
T value_of(const char* p, int size) {
  T v{};
  if (size >= static_cast<int>(sizeof v)) std::memcpy(&v, p, sizeof v);
  return v;
}

// A dump of `type` for `family`, whose messages start with a header of
// `header` bytes; each(attributes, size) per message. Returns 0 or the error.
template <typename Each>
int dump(int fd, std::uint16_t type, std::uint8_t family, std::uint32_t header, Each&& each) {
  struct {
    nlmsghdr h;
    ndtmsg body;  // ndtmsg and netconfmsg both begin with the family
  } req{};
  req.h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(header));
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.body.ndtm_family = family;
  int error = netlink_dump(fd, &req, req.h.nlmsg_len, [&](const nlmsghdr& m) {
    if (m.nlmsg_len < NLMSG_LENGTH(header)) return true;
    const char* attributes = static_cast<const char*>(NLMSG_DATA(&m)) + NLMSG_ALIGN(header);
    each(attributes, static_cast<int>(m.nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(header))));
    return true;
  });
  return error;
}

}  // namespace

NeighbourSettings neighbour_settings_here() {
  NeighbourSettings out;
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    out.proxies = true;  // cannot tell: assume the worst
    return out;
  }
  bool ok = true;
  // proxy_arp and proxy_ndp of every interface, "all" and "default"
  // (net.ipv4.conf.*.proxy_arp, net.ipv6.conf.*.proxy_ndp).
  for (std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    int error = dump(fd.get(), RTM_GETNETCONF, family, std::uint32_t{sizeof(netconfmsg)}, [&](const char* p, int size) {
      each_attribute(p, size, [&](int type, const char* v, int n) {
        if (type == NETCONFA_PROXY_NEIGH && value_of<std::int32_t>(v, n) != 0) out.proxies = true;
      });
    });
    // A kernel without IPv6 (ipv6.disable=1) has no IPv6 settings to read.
    bool no_ipv6 = family == AF_INET6 && (error == EOPNOTSUPP || error == EAFNOSUPPORT);
    if (error != 0 && !no_ipv6) ok = false;
  }
  // Every interface's ARP and NDP parameters (net.ipv4.neigh.*,
  // net.ipv6.neigh.*): app_solicit hands resolutions to user space, and
  // mcast_solicit × retrans_time_ms is when an unanswered one fails. The
  // parameters without an interface are the tables' defaults of the first
  // namespace, not this one's (which has no `default` entry of its own).
  ok = ok &&
       0 == dump(fd.get(), RTM_GETNEIGHTBL, AF_UNSPEC, std::uint32_t{sizeof(ndtmsg)}, [&](const char* p, int size) {
         each_attribute(p, size, [&](int type, const char* v, int n) {
           if (type != NDTA_PARMS) return;
           bool device = false;
           long app = 0, probes = 3, retrans = 1000;
           each_attribute(v, n, [&](int t, const char* w, int m) {
             if (t == NDTPA_IFINDEX) device = true;
             if (t == NDTPA_APP_PROBES) app = value_of<std::uint32_t>(w, m);
             if (t == NDTPA_MCAST_PROBES) probes = value_of<std::uint32_t>(w, m);
             if (t == NDTPA_RETRANS_TIME) retrans = static_cast<long>(value_of<std::uint64_t>(w, m));
           });
           if (!device) return;
           if (app != 0) out.proxies = true;
           out.failure_ms = std::min(out.failure_ms, std::max(probes, 1L) * std::max(retrans, 10L));
         });
       });
  if (!ok) out.proxies = true;
  return out;
}

}  // namespace nslab::detail
