// Packets as values: their text, counts, and the one use of libpcap a
// description makes — compiling a filter to check it.
#include "nslab/packet.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pcap/pcap.h>

#include <charconv>
#include <fmt/format.h>

#include "bpf_compile.h"

namespace nslab {

namespace {
constexpr int kSnapLength = 2048;
}  // namespace

std::string Packet::str() const {
  if (!src || !dst) return fmt::format("ethertype 0x{:04x}, {} bytes", ethertype, wire_length);
  std::string s = fmt::format("{} > {}", src->str(), dst->str());
  if (sport && dport) s = fmt::format("{}:{} > {}:{}", src->str(), *sport, dst->str(), *dport);
  if (protocol == IPPROTO_TCP) {
    std::string f;
    if (tcp_flags) {
      if (*tcp_flags & TH_SYN) f += 'S';
      if (*tcp_flags & TH_FIN) f += 'F';
      if (*tcp_flags & TH_RST) f += 'R';
      if (*tcp_flags & TH_PUSH) f += 'P';
      if (*tcp_flags & TH_ACK) f += '.';
    }
    return s + " tcp [" + f + "]";
  }
  if (protocol == IPPROTO_UDP) return s + " udp";
  if (icmp_type) return s + fmt::format(" icmp type {} code {}", *icmp_type, icmp_code.value_or(0));
  return s + fmt::format(" protocol {}", protocol.value_or(0));
}

PacketPredicate src(const std::string& address) {
  auto a = IpAddress::from_string(address);
  return [a](const Packet& p) { return p.src && *p.src == a; };
}
PacketPredicate dst(const std::string& address) {
  auto a = IpAddress::from_string(address);
  return [a](const Packet& p) { return p.dst && *p.dst == a; };
}

std::optional<CountSpec> CountSpec::parse(std::string_view t) {
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  CountSpec c;
  auto take = [&](std::string_view word, Op o) {
    if (t.substr(0, word.size()) != word) return false;
    c.op = o;
    t.remove_prefix(word.size());
    return true;
  };
  take(">=", Op::ge) || take("<=", Op::le) || take("==", Op::eq) || take(">", Op::gt) || take("<", Op::lt);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), c.value);
  if (ec != std::errc{} || p != t.data() + t.size() || t.empty()) return std::nullopt;
  return c;
}

bool CountSpec::holds(std::size_t n) const noexcept {
  switch (op) {
    case Op::eq: return n == value;
    case Op::ge: return n >= value;
    case Op::le: return n <= value;
    case Op::gt: return n > value;
    case Op::lt: return n < value;
  }
  return false;
}

std::string CountSpec::str() const {
  const char* ops[] = {"==", ">=", "<=", ">", "<"};
  return fmt::format("{} {}", ops[static_cast<int>(op)], value);
}

std::mutex& bpf_compile_mutex() {
  static std::mutex m;
  return m;
}

std::optional<std::string> bpf_filter_problem(const std::string& filter) {
  if (filter.empty()) return std::nullopt;
  std::lock_guard lock(bpf_compile_mutex());
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, kSnapLength);
  bpf_program prog{};
  int rc = pcap_compile(dead, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN);
  std::optional<std::string> why;
  if (rc != 0)
    why = fmt::format("capture filter \"{}\" is invalid: {}", filter, pcap_geterr(dead));
  else
    pcap_freecode(&prog);
  pcap_close(dead);
  return why;
}

}  // namespace nslab
