// The only files that speak libnl are this one, netlink_tc.cpp and
// netlink_neighbours.cpp (see netlink_impl.h). Messages are built with
// libnl's message API so that a veth is created with its peer already in the
// target namespace, configured and up, in one request (about 40x faster than
// creating it in the caller's namespace and moving it).
#include "netlink.h"

#include <sys/ioctl.h>

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "fd_limit.h"
#include "netlink_impl.h"
#include "nslab/error.h"
#include "nslab/netns.h"

namespace nslab {

using namespace nl;

LinkInfo parse_link(nlmsghdr* h) {
  LinkInfo info;
  auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(h));
  info.index = ifi->ifi_index;
  nlattr* tb[IFLA_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return info;
  if (tb[IFLA_IFNAME]) info.name = nla_get_string(tb[IFLA_IFNAME]);
  if (tb[IFLA_MTU]) info.mtu = static_cast<int>(nla_get_u32(tb[IFLA_MTU]));
  if (tb[IFLA_MASTER]) info.master = static_cast<int>(nla_get_u32(tb[IFLA_MASTER]));
  if (tb[IFLA_QDISC]) info.qdisc = nla_get_string(tb[IFLA_QDISC]);
  info.carrier = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
  info.admin_up = (ifi->ifi_flags & IFF_UP) != 0;
  if (tb[IFLA_OPERSTATE]) {
    auto st = nla_get_u8(tb[IFLA_OPERSTATE]);
    info.oper_up = st == IF_OPER_UP;
  }
  if (tb[IFLA_LINKINFO]) {
    nlattr* li[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) == 0 && li[IFLA_INFO_KIND])
      info.kind = nla_get_string(li[IFLA_INFO_KIND]);
  }
  return info;
}

nl_sock* nl::open_socket(const std::string& owner) {
  // The descriptor is made here rather than by nl_connect, which reports
  // EMFILE as "Unspecific failure".
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    int err = errno;
    if (auto why = descriptor_exhaustion(err))
      throw EnvironmentError(fmt::format("cannot open a netlink socket in \"{}\": {}", owner, *why));
    throw SystemError(fmt::format("cannot open a netlink socket in \"{}\"", owner), err);
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // port 0: the kernel picks a free one
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    int err = errno;
    ::close(fd);
    throw SystemError(fmt::format("cannot bind a netlink socket in \"{}\"", owner), err);
  }
  nl_sock* sock = nl_socket_alloc();
  if (!sock) {
    ::close(fd);
    throw std::bad_alloc();
  }
  if (int rc = nl_socket_set_fd(sock, NETLINK_ROUTE, fd); rc < 0) {
    nl_socket_free(sock);  // closes fd
    throw Error(fmt::format("cannot open a netlink socket in \"{}\": {}", owner, nl_geterror(rc)));
  }
  // Acks are asked for per request (GETs get their answer instead).
  nl_socket_disable_auto_ack(sock);
  nl_socket_set_buffer_size(sock, 1 << 20, 1 << 20);
  return sock;
}

Netlink::Impl::~Impl() {
  if (sock) nl_socket_free(sock);
}

nl_sock* Netlink::Impl::socket() {
  if (sock) return sock;
  if (netns_fd < 0) throw Error(fmt::format("the netlink socket of \"{}\" is closed", owner));
  sock = on_new_thread([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0)
      throw SystemError(fmt::format("cannot enter \"{}\" to reopen its netlink socket (setns)", owner), errno);
    return open_socket(owner);
  });
  return sock;
}

int Netlink::Impl::transact(nl_msg* m, LinkInfo* reply, std::vector<LinkInfo>* dump_out) {
  return dump(m, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    if (reply) *reply = parse_link(h);
    if (dump_out) dump_out->push_back(parse_link(h));
  });
}

int Netlink::Impl::dump(nl_msg* m, const std::function<void(nlmsghdr*)>& fn) {
  nl_sock* handle = socket();
  if (nl_send_auto(handle, m) < 0) return EIO;
  struct Ctx {
    int err = 0;
    const std::function<void(nlmsghdr*)>* fn;
  } ctx{0, &fn};
  nl_cb* cb = nl_cb_clone(nl_socket_get_cb(handle));
  if (!cb) throw std::bad_alloc();
  nl_cb_err(
      cb, NL_CB_CUSTOM,
      [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
        static_cast<Ctx*>(arg)->err = -e->error;
        return NL_STOP;
      },
      &ctx);
  nl_cb_set(
      cb, NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* msg, void* arg) -> int {
        (*static_cast<Ctx*>(arg)->fn)(nlmsg_hdr(msg));
        return NL_OK;
      },
      &ctx);
  int rc = nl_recvmsgs(handle, cb);
  nl_cb_put(cb);
  if (ctx.err != 0) return ctx.err;
  return rc < 0 ? EIO : 0;
}

void Netlink::Impl::must(nl_msg* m, const std::string& what) {
  int err = transact(m);
  if (err != 0) throw NetlinkError(what, err);
}

Netlink::Netlink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Netlink::Netlink(Netlink&&) noexcept = default;
Netlink& Netlink::operator=(Netlink&&) noexcept = default;
Netlink::~Netlink() = default;

Netlink Netlink::open_here(std::string owner, int netns_fd) {
  auto impl = std::make_unique<Impl>();
  impl->sock = open_socket(owner);
  impl->owner = std::move(owner);
  impl->netns_fd = netns_fd;
  return Netlink(std::move(impl));
}

void Netlink::close() {
  if (impl_->netns_fd < 0 || !impl_->sock) return;
  nl_socket_free(impl_->sock);
  impl_->sock = nullptr;
}

bool Netlink::is_open() const noexcept {
  return impl_->sock != nullptr;
}

std::optional<LinkInfo> Netlink::find_link(std::string_view name) const {
  if (interface_name_problem(name)) return std::nullopt;
  // No NLM_F_ACK: the answer is the link itself or an error, never both.
  Msg m = new_msg(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  append(m.get(), ifi);
  put_str(m.get(), IFLA_IFNAME, name);
  put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  LinkInfo info;
  int err = impl_->transact(m.get(), &info);
  if (err == ENODEV) return std::nullopt;
  if (err != 0) throw NetlinkError(fmt::format("cannot look up link \"{}:{}\"", impl_->owner, name), err);
  if (info.index == 0) return std::nullopt;
  return info;
}

std::optional<int> Netlink::index_of(std::string_view name) const {
  // Any name the kernel allows, not only those of a veth (find_link's
  // check): a VLAN device is "eth0.10".
  if (name.empty() || name.size() >= IFNAMSIZ) return std::nullopt;
  ifreq ifr{};
  name.copy(ifr.ifr_name, IFNAMSIZ - 1);
  // A netlink socket passes interface ioctls to its namespace's devices.
  if (::ioctl(nl_socket_get_fd(impl_->socket()), SIOCGIFINDEX, &ifr) == 0) return ifr.ifr_ifindex;
  if (errno == ENODEV) return std::nullopt;
  throw SystemError(fmt::format("cannot look up the index of link \"{}:{}\"", impl_->owner, name), errno);
}

LinkInfo Netlink::link(std::string_view name) const {
  auto l = find_link(name);
  if (!l) throw NetlinkError(fmt::format("no link \"{}:{}\"", impl_->owner, name), ENODEV);
  return *l;
}

std::vector<LinkInfo> Netlink::links() const {
  Msg m = new_msg(RTM_GETLINK, NLM_F_DUMP);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  append(m.get(), ifi);
  put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<LinkInfo> out;
  int err = impl_->transact(m.get(), nullptr, &out);
  if (err != 0) throw NetlinkError(fmt::format("cannot list links of \"{}\"", impl_->owner), err);
  return out;
}

void Netlink::create_veth(const VethEnd& local, const VethEnd& peer) {
  for (const auto* end : {&local, &peer}) {
    if (auto why = interface_name_problem(end->name))
      throw ConfigError(fmt::format("cannot create veth \"{}\": {}", end->label, *why));
  }
  Msg m = new_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = local.up ? IFF_UP : 0;
  ifi.ifi_change = IFF_UP;
  append(m.get(), ifi);
  put_str(m.get(), IFLA_IFNAME, local.name);
  if (local.mac) put(m.get(), IFLA_ADDRESS, local.mac->data(), 6);
  if (local.mtu > 0) put_u32(m.get(), IFLA_MTU, static_cast<std::uint32_t>(local.mtu));
  if (local.master > 0) put_u32(m.get(), IFLA_MASTER, static_cast<std::uint32_t>(local.master));
  if (local.netns_fd >= 0) put_u32(m.get(), IFLA_NET_NS_FD, static_cast<std::uint32_t>(local.netns_fd));
  nlattr* linkinfo = nest(m.get(), IFLA_LINKINFO);
  put_str(m.get(), IFLA_INFO_KIND, "veth");
  nlattr* data = nest(m.get(), IFLA_INFO_DATA);
  nlattr* peer_attr = nest(m.get(), VETH_INFO_PEER);
  // The peer stays down here: the kernel configures it before the two ends are
  // joined, and opening a veth without its peer fails (ENOTCONN).
  ifinfomsg pifi{};
  pifi.ifi_family = AF_UNSPEC;
  append(m.get(), pifi);
  put_str(m.get(), IFLA_IFNAME, peer.name);
  if (peer.mac) put(m.get(), IFLA_ADDRESS, peer.mac->data(), 6);
  if (peer.mtu > 0) put_u32(m.get(), IFLA_MTU, static_cast<std::uint32_t>(peer.mtu));
  if (peer.netns_fd >= 0) put_u32(m.get(), IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer.netns_fd));
  nla_nest_end(m.get(), peer_attr);
  nla_nest_end(m.get(), data);
  nla_nest_end(m.get(), linkinfo);
  impl_->must(m.get(), fmt::format("cannot create veth \"{}\" <-> \"{}\"", local.label, peer.label));
}

int Netlink::create_bridge(std::string_view name, int mtu, std::string_view label, std::optional<MacAddress> mac,
                           const BridgeOptions* options) {
  if (auto why = interface_name_problem(name))
    throw ConfigError(fmt::format("cannot create bridge \"{}\": {}", label, *why));
  Msg m = new_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  // Created down: see the header.
  append(m.get(), ifi);
  put_str(m.get(), IFLA_IFNAME, name);
  if (mac) put(m.get(), IFLA_ADDRESS, mac->data(), 6);
  if (mtu > 0) put_u32(m.get(), IFLA_MTU, static_cast<std::uint32_t>(mtu));
  nlattr* linkinfo = nest(m.get(), IFLA_LINKINFO);
  put_str(m.get(), IFLA_INFO_KIND, "bridge");
  if (options) put_bridge_data(m.get(), *options);  // netlink_bridge.cpp
  nla_nest_end(m.get(), linkinfo);
  if (int err = impl_->transact(m.get()); err != 0) {
    const std::string what = fmt::format("cannot create bridge \"{}\"", label);
    if (auto lack = options ? bridge_refusal(*options, err) : std::string(); !lack.empty())
      throw EnvironmentError(fmt::format("{}: {}", what, lack));
    throw NetlinkError(what, err);
  }
  return link(name).index;
}

namespace {
Msg setlink_msg(int index, unsigned flags, unsigned change) {
  Msg m = new_msg(RTM_NEWLINK, NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  ifi.ifi_change = change;
  append(m.get(), ifi);
  return m;
}
}  // namespace

void Netlink::set_up(int index, bool up, std::string_view label) {
  Msg m = setlink_msg(index, up ? IFF_UP : 0, IFF_UP);
  impl_->must(m.get(), fmt::format("cannot set \"{}\" {}", label, up ? "up" : "down"));
}

void Netlink::configure(std::string_view name, int master, bool up, std::string_view label) {
  Msg m = setlink_msg(0, up ? IFF_UP : 0, IFF_UP);
  put_str(m.get(), IFLA_IFNAME, name);
  if (master > 0) put_u32(m.get(), IFLA_MASTER, static_cast<std::uint32_t>(master));
  impl_->must(m.get(),
              fmt::format("cannot {}set \"{}\" {}", master > 0 ? "enslave and " : "", label, up ? "up" : "down"));
}

void Netlink::add_address(int index, const Prefix& prefix, std::string_view label, const AddressOptions* options) {
  Msg m = new_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<unsigned char>(to_af(prefix.family()));
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix.length());
  ifa.ifa_scope = options && options->scope ? *options->scope : static_cast<unsigned char>(RT_SCOPE_UNIVERSE);
  ifa.ifa_index = static_cast<unsigned>(index);
  if (!prefix.address().is_v4()) ifa.ifa_flags = IFA_F_NODAD;
  append(m.get(), ifa);
  const auto& a = prefix.address();
  put(m.get(), IFA_LOCAL, a.data(), a.size());
  put(m.get(), IFA_ADDRESS, a.data(), a.size());
  std::uint32_t flags = a.is_v4() ? 0 : IFA_F_NODAD;
  if (options && options->noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
  if (flags) put_u32(m.get(), IFA_FLAGS, flags);
  impl_->must(m.get(), fmt::format("cannot add address {} to \"{}\"", prefix.str(), label));
}

// add_route is in netlink_routing.cpp.

}  // namespace nslab
