// Probes: ICMP echo, TCP connect and UDP request/response between lab nodes,
// and what came of them. Lab::probe runs them (through sockets made inside
// the source node, never a forked `ping`), all of a batch at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/values.h"
#include "nslab/verdict.h"

namespace nslab {

struct Probe {
  // The longest UDP payload: a built-in service answers with its greeting
  // ("NODE ADDRESS\n") and the echo in one datagram, which IPv4 caps at
  // 65507 bytes of payload (IPv6 at 65527).
  static constexpr std::size_t kMaxUdpPayload = 65000;

  // Where the probe starts: "node" (the kernel picks the source address,
  // as any client does), "node:interface" (that interface's address of the
  // probe's family is the source) or an address of a node (that node, with
  // that source address).
  std::string from;
  std::string to;  // "node" (its first address), "node:interface" or an address
  Protocol protocol = Protocol::icmp;
  std::uint16_t port = 0;        // tcp/udp
  std::optional<Family> family;  // default: IPv4 where the target has it
  std::string payload;           // tcp/udp only: sent, and expected echoed back
  bool want_served_by = false;   // tcp: wait for the service's greeting
  // The source address to bind (as `nc -s`, `ping -I ADDRESS`): one of the
  // source node's own. Not together with a from that names an interface or
  // an address.
  std::optional<IpAddress> source;
  // tcp/udp: the source port to bind (as `nc -p`). A TCP probe with a fixed
  // source port makes one connection attempt (a second socket cannot have
  // the same 4-tuple while the first is in flight), so its `blocked` waits
  // out the timeout.
  std::uint16_t sport = 0;

  std::string str() const;  // "red -> blue icmp", "external -> host:eth0 tcp/8080"
};

// Ports as a scenario writes them: "22", "22, 80, 443", "1-1024",
// "80, 8000-8010". Kept as sorted, disjoint, non-adjacent ranges.
class PortSet {
 public:
  PortSet() = default;
  PortSet(std::initializer_list<std::uint16_t> ports);
  // Empty (with `why` set when given) for text that is not a port set.
  static std::optional<PortSet> parse(std::string_view text, std::string* why = nullptr);
  static PortSet range(std::uint16_t lo, std::uint16_t hi);

  void add(std::uint16_t lo, std::uint16_t hi);
  void add(std::uint16_t port) { add(port, port); }
  bool contains(std::uint16_t port) const noexcept;
  bool empty() const noexcept { return ranges_.empty(); }
  std::size_t size() const noexcept;
  std::vector<std::uint16_t> ports() const;
  const std::vector<std::pair<std::uint16_t, std::uint16_t>>& ranges() const noexcept { return ranges_; }
  std::string str() const;  // "22, 80, 8000-8010"
  bool operator==(const PortSet&) const = default;

 private:
  std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges_;
};

struct ProbeResult {
  Probe probe;
  IpAddress target;
  Verdict verdict = Verdict::blocked;
  std::string served_by;  // the node a built-in service answered from
  std::string seen_from;  // the client address that service saw
  // tcp/udp with a payload: the bytes that came back after the greeting (up
  // to the payload's length), or empty when nothing came back.
  std::optional<std::string> echo;
  std::chrono::microseconds rtt{0};
  std::string detail;  // the evidence: "echo reply from 192.168.1.2", ...

  // Empty when the probe sent no payload or got it back unchanged; else what
  // came back instead. A payload that is not echoed intact fails its
  // expectation even when the verdict is `reachable`.
  std::optional<std::string> payload_problem() const;
};

// A port scan (Lab::scan): every port of a set probed from one source to one
// target, as nmap's connect scan (-sT) and UDP scan (-sU) do, each port with
// the verdict a real client would get (README, Port scans).
struct PortScan {
  std::string from;  // as Probe::from
  std::string to;    // as Probe::to
  Protocol protocol = Protocol::tcp;
  PortSet ports;
  std::optional<Family> family;
  std::optional<IpAddress> source;
  std::uint16_t sport = 0;
  std::string str() const;  // "inet -> fw:eth0 tcp/1-65535"
};

// What a scan makes of a port's verdict, as nmap names it. TCP: reachable
// is open, refused closed, blocked and unreachable filtered. UDP: a reply
// is open, refused (port unreachable) closed, unreachable (host or net
// unreachable, admin-prohibited) filtered, and silence open|filtered: no answer may mean a service that
// does not reply or a DROP, and no scan can tell them apart.
enum class PortState { open, closed, filtered, open_filtered };
std::string_view to_string(PortState s) noexcept;
PortState port_state(Protocol p, Verdict v) noexcept;

struct ScanResult {
  PortScan scan;
  IpAddress target;
  std::vector<Verdict> verdicts;  // in the order of scan.ports.ports()
  // The evidence of the first port of each verdict: "connection refused (TCP RST)".
  std::vector<std::pair<Verdict, std::string>> evidence;
  double elapsed_ms = 0;

  PortSet with(Verdict v) const;
  PortSet in(PortState s) const;
  // The ports that count as open: open, and for UDP open|filtered too.
  PortSet open() const;
  // Empty when exactly `expected` (of the scanned ports) count as open;
  // else "open but not expected: 22, 8000-8010; expected open but closed: 443".
  std::optional<std::string> open_problem(const PortSet& expected) const;
  // Empty when every port has verdict `v`; else "reachable on 22, 80".
  std::optional<std::string> verdict_problem(Verdict v) const;
  // "65535 ports in 812 ms: open 80, 443; closed 1-79, 81-442, 444-65535".
  std::string summary() const;
};

}  // namespace nslab
