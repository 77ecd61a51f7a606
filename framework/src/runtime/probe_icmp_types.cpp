// The probe engine's raw ICMP sockets, its ICMP messages other than the echo
// request, and its echoes to a broadcast address (see probe_engine.cpp). A type the target's kernel
// answers (timestamp) goes the echo's way, keyed in its identifier and
// sequence; any other is judged by delivery: a raw socket made in the target
// node for this batch sees it only if the target's INPUT chain let it
// through (raw sockets read after LOCAL_IN), and the key it carries names
// the probe.
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>
#include <fmt/format.h>

#include "icmp_codec.h"
#include "nslab/error.h"
#include "node_internals.h"
#include "nslab/lab.h"
#include "probe_engine_impl.h"
#include "sys.h"

namespace nslab::probe_engine {

namespace {

// The lab node that has `a` on one of its interfaces, or none.
Node* owner_of(Lab& lab, const IpAddress& a) {
  for (Node* n : lab.nodes())
    for (const auto& i : n->interfaces())
      for (const auto& p : i.addresses)
        if (p.address() == a) return n;
  return nullptr;
}

}  // namespace

void Engine::check_icmp_kind(const Probe& p, Family target) {
  if (p.icmp_type) {
    const IcmpType& k = *p.icmp_type;
    if (p.protocol != Protocol::icmp)
      throw ConfigError(fmt::format("probe \"{}\": an ICMP type needs an icmp probe", p.str()));
    if (k.family != target)
      throw ConfigError(fmt::format("probe \"{}\": an {} type needs an {} target, and {} is {}", p.str(),
                                    k.family == Family::ipv4 ? "ICMP" : "ICMPv6", to_string(k.family), p.to,
                                    to_string(target)));
    if (p.size && !k.echo())
      throw ConfigError(
          fmt::format("probe \"{}\": size is an echo's data; the {} message has its own", p.str(), k.str()));
  }
  if (p.broadcast) {
    if (p.protocol != Protocol::icmp || (p.icmp_type && !p.icmp_type->echo()))
      throw ConfigError(fmt::format("probe \"{}\": a broadcast probe is an icmp echo (as ping -b)", p.str()));
    if (target != Family::ipv4)
      throw ConfigError(
          fmt::format("probe \"{}\": IPv6 has no broadcast; a broadcast probe needs an IPv4 address", p.str()));
  }
}

void Engine::mark_broadcast(Task& t) {
  Probe& p = t.result.probe;
  if (p.protocol != Protocol::icmp || (p.icmp_type && !p.icmp_type->echo()) || !t.result.target.is_v4()) return;
  for (const auto& i : t.src->interfaces())
    for (const auto& a : i.addresses) {
      if (!a.address().is_v4() || a.length() >= 31) continue;
      std::uint8_t b[4];
      std::memcpy(b, a.address().data(), 4);
      for (int bit = a.length(); bit < 32; ++bit) b[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
      if (std::memcmp(b, t.result.target.data(), 4) == 0) p.broadcast = true;
    }
}

void Engine::plan_unconnected() {
  std::map<std::tuple<const Node*, std::uint16_t, Family>, int> ports;
  for (const auto& t : tasks_)
    if (t.result.probe.protocol == Protocol::udp && t.result.probe.sport)
      ++ports[{t.src, t.result.probe.sport, t.family}];
  for (auto& t : tasks_)
    t.unconnected = t.result.probe.protocol == Protocol::udp && t.result.probe.sport &&
                    ports[{t.src, t.result.probe.sport, t.family}] == 1;
}

bool Engine::by_delivery(const Task& t) {
  const auto& k = t.result.probe.icmp_type;
  return t.result.probe.protocol == Protocol::icmp && k && !k->reply_type();
}

// Each source node's raw ICMP socket is made once, by a thread inside it.
// An echo with df has a raw socket of its own (IPv4 has no per-packet
// "don't fragment"), made there too; it sees every ICMP message of the
// node, as the shared one does, and an answer counts once (finish).
void Engine::make_raw_sockets() {
  std::vector<Node*> sources;
  for (auto& t : tasks_)
    if (t.result.probe.protocol == Protocol::icmp && NodeInternals::icmp_socket(*t.src, t.family) < 0 &&
        std::find(sources.begin(), sources.end(), t.src) == sources.end())
      sources.push_back(t.src);
  if (!sources.empty())
    lab_.run_in_each(sources, [&](Node& n) {
      for (Family f : {Family::ipv4, Family::ipv6})
        if (NodeInternals::icmp_socket(n, f) < 0 && std::any_of(tasks_.begin(), tasks_.end(), [&](const Task& t) {
              return t.src == &n && t.family == f && t.result.probe.protocol == Protocol::icmp;
            }))
          NodeInternals::set_icmp_socket(n, f, raw_socket(f, n));
    });
  // A broadcast has one too, with SO_BROADCAST (as `ping -b`): without
  // it, the kernel refuses a broadcast destination (EACCES).
  auto own = [](const Task& t) { return t.result.probe.df || t.result.probe.broadcast; };
  std::vector<Node*> df_sources;
  for (auto& t : tasks_)
    if (t.result.probe.protocol == Protocol::icmp && own(t) &&
        std::find(df_sources.begin(), df_sources.end(), t.src) == df_sources.end())
      df_sources.push_back(t.src);
  if (!df_sources.empty())
    lab_.run_in_each(df_sources, [&](Node& n) {
      for (auto& t : tasks_)
        if (t.src == &n && t.result.probe.protocol == Protocol::icmp && own(t)) {
          t.fd = raw_socket(t.family, n);
          std::string what = fmt::format("a raw ICMP socket in \"{}\"", n.name());
          if (t.result.probe.df) set_dont_fragment(t.fd.get(), t.family, what);
          int one = 1;
          if (t.result.probe.broadcast)
            sys::set_option(t.fd.get(), SOL_SOCKET, SO_BROADCAST, one, "SO_BROADCAST on " + what);
        }
    });
  for (auto& t : tasks_)
    if (t.result.probe.protocol == Protocol::icmp) {
      t.icmp_fd = t.fd ? t.fd.get() : NodeInternals::icmp_socket(*t.src, t.family);
      raw_.emplace(t.icmp_fd, t.family);
    }
}

// One raw socket per target node and family, made by a thread inside the
// node. Echoes are filtered out (the node's own probes use them); every
// other type reaches it, and its key tells whether it is ours.
void Engine::make_watch_sockets() {
  std::vector<Node*> targets;
  for (auto& t : tasks_) {
    if (!by_delivery(t)) continue;
    t.dst = owner_of(lab_, t.result.target);
    if (!t.dst)
      throw ConfigError(
          fmt::format("probe \"{}\": an {} message gets no answer, so it is judged by delivery, and "
                      "{} is no address of a lab node to watch for it",
                      t.result.probe.str(), t.result.probe.icmp_type->str(), t.result.target.str()));
    if (std::find(targets.begin(), targets.end(), t.dst) == targets.end()) targets.push_back(t.dst);
  }
  if (targets.empty()) return;
  std::vector<std::pair<Node*, Family>> wanted;
  for (auto& t : tasks_)
    if (by_delivery(t) && std::find(wanted.begin(), wanted.end(), std::pair{t.dst, t.family}) == wanted.end())
      wanted.emplace_back(t.dst, t.family);
  lab_.run_in_each(targets, [&](Node& n) {
    for (const auto& [node, f] : wanted) {
      if (node != &n) continue;
      std::string what = fmt::format("raw ICMP socket watching \"{}\"", n.name());
      int buf = 1 << 20;
      if (f == Family::ipv4) {
        Fd fd = sys::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP, what);
        icmp_filter filt{};
        filt.data = (1u << ICMP_ECHOREPLY) | (1u << ICMP_ECHO);
        sys::set_option(fd.get(), SOL_RAW, ICMP_FILTER, filt, what);
        sys::set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, buf, what);
        watch_.emplace_back(std::move(fd), f);
      } else {
        Fd fd = sys::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMPV6, what);
        icmp6_filter filt;
        ICMP6_FILTER_SETPASSALL(&filt);
        ICMP6_FILTER_SETBLOCK(ICMP6_ECHO_REQUEST, &filt);
        ICMP6_FILTER_SETBLOCK(ICMP6_ECHO_REPLY, &filt);
        sys::set_option(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, filt, what);
        sys::set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, buf, what);
        watch_.emplace_back(std::move(fd), f);
      }
    }
  });
}

// Everything a watching socket has queued: each message with our mark
// decides its probe.
void Engine::on_watched(int fd) {
  auto it = std::find_if(watch_.begin(), watch_.end(), [&](const auto& w) { return w.first.get() == fd; });
  if (it == watch_.end()) return;
  const Family f = it->second;
  for (;;) {
    ssize_t r = sys::retry([&] { return ::recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT); });
    if (r < 0) return;
    auto m =
        detail::parse_delivered(f, reinterpret_cast<const std::uint8_t*>(buf_.data()), static_cast<std::size_t>(r));
    if (!m) continue;
    auto k = echo_index_.find(m->key);
    if (k == echo_index_.end()) continue;
    Task& t = tasks_[k->second];
    if (!by_delivery(t) || t.done) continue;
    finish(t, Verdict::delivered,
           fmt::format("{} {} seen by a raw socket in {} (past its INPUT chain)", f == Family::ipv4 ? "ICMP" : "ICMPv6",
                       IcmpType{f, static_cast<std::uint8_t>(m->type), static_cast<std::uint8_t>(m->code)}.str(),
                       t.dst->name()));
  }
}

void Engine::on_broadcast_reply(Task& t, const IpAddress& sender) {
  if (t.done) return;
  const Node* n = owner_of(lab_, sender);
  std::string who = n ? n->name() : sender.str();
  auto& list = t.result.answered_by;
  if (std::find(list.begin(), list.end(), who) != list.end()) return;
  if (!t.result.icmp) t.result.icmp = ProbeResult::Icmp{sender, ICMP_ECHOREPLY, 0};
  list.insert(std::upper_bound(list.begin(), list.end(), who), who);
  t.result.detail += fmt::format("{}{} ({})", t.result.detail.empty() ? "echo replies from " : ", ", who, sender.str());
}

bool Engine::end_broadcast(Task& t, Verdict& v, std::string& detail) const {
  if (!t.result.probe.broadcast || v != Verdict::blocked || t.result.answered_by.empty()) return false;
  v = Verdict::reachable;
  detail = fmt::format("{} to {} attempt{}", t.result.detail, t.attempts, t.attempts == 1 ? "" : "s");
  return true;
}

}  // namespace nslab::probe_engine
