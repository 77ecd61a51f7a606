// The only file that speaks libpcap. The pcap handle's packet socket is made
// inside the node (on a thread that joined its namespace), so it sees that
// node's interface; it is then read from the caller's thread.
#include "nslab/capture.h"

#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <pcap/pcap.h>

#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <mutex>

#include "nslab/error.h"
#include "nslab/node.h"
#include "bpf_compile.h"

namespace nslab {

namespace {

constexpr int kSnapLength = 1920;

Packet decode(const pcap_pkthdr& h, const std::uint8_t* data) {
  Packet p;
  p.time = std::chrono::system_clock::time_point(std::chrono::seconds(h.ts.tv_sec) +
                                                 std::chrono::microseconds(h.ts.tv_usec));
  p.bytes.assign(data, data + h.caplen);
  p.wire_length = h.len;
  if (h.caplen < sizeof(ether_header)) return p;
  const auto* eth = reinterpret_cast<const ether_header*>(data);
  std::memcpy(p.dst_mac.data(), eth->ether_dhost, 6);
  std::memcpy(p.src_mac.data(), eth->ether_shost, 6);
  p.ethertype = ntohs(eth->ether_type);
  const std::uint8_t* l3 = data + sizeof(ether_header);
  std::size_t left = h.caplen - sizeof(ether_header);
  const std::uint8_t* l4 = nullptr;
  std::size_t l4_left = 0;
  if (p.ethertype == ETHERTYPE_IP && left >= sizeof(ip)) {
    const auto* iph = reinterpret_cast<const ip*>(l3);
    std::size_t ihl = static_cast<std::size_t>(iph->ip_hl) * 4;
    p.src = IpAddress::from_bytes(Family::ipv4, &iph->ip_src);
    p.dst = IpAddress::from_bytes(Family::ipv4, &iph->ip_dst);
    p.protocol = iph->ip_p;
    if (left >= ihl && (ntohs(iph->ip_off) & IP_OFFMASK) == 0) {
      l4 = l3 + ihl;
      l4_left = left - ihl;
    }
  } else if (p.ethertype == ETHERTYPE_IPV6 && left >= sizeof(ip6_hdr)) {
    const auto* ip6 = reinterpret_cast<const ip6_hdr*>(l3);
    p.src = IpAddress::from_bytes(Family::ipv6, &ip6->ip6_src);
    p.dst = IpAddress::from_bytes(Family::ipv6, &ip6->ip6_dst);
    p.protocol = ip6->ip6_nxt;
    l4 = l3 + sizeof(ip6_hdr);
    l4_left = left - sizeof(ip6_hdr);
  }
  if (!l4 || !p.protocol) return p;
  switch (*p.protocol) {
    case IPPROTO_TCP:
      if (l4_left >= sizeof(tcphdr)) {
        const auto* t = reinterpret_cast<const tcphdr*>(l4);
        p.sport = ntohs(t->th_sport);
        p.dport = ntohs(t->th_dport);
        p.tcp_flags = t->th_flags;
      }
      break;
    case IPPROTO_UDP:
      if (l4_left >= sizeof(udphdr)) {
        const auto* u = reinterpret_cast<const udphdr*>(l4);
        p.sport = ntohs(u->uh_sport);
        p.dport = ntohs(u->uh_dport);
      }
      break;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (l4_left >= 2) {
        p.icmp_type = l4[0];
        p.icmp_code = l4[1];
      }
      break;
    default: break;
  }
  return p;
}

}  // namespace

struct Capture::Impl {
  pcap_t* pcap = nullptr;
  std::string label;
  std::string filter;
  std::vector<Packet> packets;
  std::size_t dropped = 0;
  bool stopped = false;

  ~Impl() {
    if (pcap) pcap_close(pcap);
  }

  void drain() {
    if (!pcap || stopped) return;
    for (;;) {
      int n = pcap_dispatch(
          pcap, -1,
          [](u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
            reinterpret_cast<Impl*>(user)->packets.push_back(decode(*h, bytes));
          },
          reinterpret_cast<u_char*>(this));
      if (n <= 0) break;
    }
    pcap_stat st{};
    if (pcap_stats(pcap, &st) == 0) dropped = st.ps_drop;
  }
};

Capture::Capture(const Node& node, const std::string& iface, const std::string& filter)
    : impl_(std::make_unique<Impl>()) {
  impl_->label = node.name() + ":" + iface;
  impl_->filter = filter;
  std::string error = node.run([&]() -> std::string {
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_create(iface.c_str(), err);
    if (!p) return err;
    // Immediate mode rings hold fixed-size frames of the snapshot length,
    // each with a header, in page-sized blocks: 1,920 bytes keep whole
    // frames of standard-MTU links (VLAN tags included) and two of them fit
    // a 4 KiB page, so an 8 MiB ring holds about 4,000 frames between two
    // reads. The kernel allocates and maps the ring when the capture starts:
    // 2,048 bytes and 16 MiB took it 32 MiB and 40-50 ms per capture.
    pcap_set_snaplen(p, kSnapLength);
    pcap_set_promisc(p, 1);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, 8 << 20);
    int rc = pcap_activate(p);
    if (rc < 0) {
      std::string why = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface" : pcap_geterr(p);
      if (rc == PCAP_ERROR_PERM_DENIED) why = "permission denied (CAP_NET_RAW is needed)";
      pcap_close(p);
      return why;
    }
    impl_->pcap = p;
    return {};
  });
  if (!error.empty()) throw Error(fmt::format("cannot capture on \"{}\": {}", impl_->label, error));
  if (!filter.empty()) {
    bpf_program prog{};
    std::lock_guard lock(bpf_compile_mutex());
    if (pcap_compile(impl_->pcap, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
      throw ConfigError(fmt::format("capture filter \"{}\" on \"{}\" is invalid: {}", filter, impl_->label,
                                    pcap_geterr(impl_->pcap)));
    int rc = pcap_setfilter(impl_->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0)
      throw Error(fmt::format("cannot set capture filter on \"{}\": {}", impl_->label, pcap_geterr(impl_->pcap)));
  }
  pcap_setnonblock(impl_->pcap, 1, nullptr);
}

Capture::Capture(Capture&&) noexcept = default;
Capture& Capture::operator=(Capture&&) noexcept = default;
Capture::~Capture() = default;

const std::string& Capture::label() const noexcept {
  return impl_->label;
}
const std::string& Capture::filter() const noexcept {
  return impl_->filter;
}

void Capture::stop() {
  impl_->drain();
  impl_->stopped = true;
  if (impl_->pcap) {
    pcap_close(impl_->pcap);
    impl_->pcap = nullptr;
  }
}

const std::vector<Packet>& Capture::packets() {
  impl_->drain();
  return impl_->packets;
}

std::size_t Capture::dropped() {
  impl_->drain();
  return impl_->dropped;
}

std::size_t Capture::count(const std::string& filter) {
  const auto& all = packets();
  if (filter.empty()) return all.size();
  bpf_program prog{};
  {
    std::lock_guard lock(bpf_compile_mutex());
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, kSnapLength);
    int rc = pcap_compile(dead, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN);
    std::string why = rc != 0 ? pcap_geterr(dead) : "";
    pcap_close(dead);
    if (rc != 0) throw ConfigError(fmt::format("packet filter \"{}\" is invalid: {}", filter, why));
  }
  std::size_t n = 0;
  for (const auto& p : all) {
    pcap_pkthdr h{};
    h.caplen = static_cast<bpf_u_int32>(p.bytes.size());
    h.len = static_cast<bpf_u_int32>(p.wire_length);
    if (pcap_offline_filter(&prog, &h, p.bytes.data())) ++n;
  }
  pcap_freecode(&prog);
  return n;
}

std::size_t Capture::count_if(const PacketPredicate& predicate) {
  std::size_t n = 0;
  for (const auto& p : packets()) n += predicate(p) ? 1 : 0;
  return n;
}

void Capture::save(const std::string& path) {
  const auto& all = packets();
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, kSnapLength);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  if (!d) {
    std::string why = pcap_geterr(dead);
    pcap_close(dead);
    throw Error(fmt::format("cannot write capture of \"{}\" to {}: {}", impl_->label, path, why));
  }
  for (const auto& p : all) {
    pcap_pkthdr h{};
    auto since = p.time.time_since_epoch();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    h.ts.tv_sec = secs.count();
    h.ts.tv_usec = std::chrono::duration_cast<std::chrono::microseconds>(since - secs).count();
    h.caplen = static_cast<bpf_u_int32>(p.bytes.size());
    h.len = static_cast<bpf_u_int32>(p.wire_length);
    pcap_dump(reinterpret_cast<u_char*>(d), &h, p.bytes.data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

}  // namespace nslab
