// The probe engine's insides, shared by its three sources: probe_engine.cpp
// (admission, the event loop, timers, stillness), probe_send.cpp (sockets,
// connects and requests per protocol) and probe_receive.cpp (answers, ICMP
// errors, greetings and echoes, timeouts). Private to them; run_probes in
// probe_engine.h is the engine's only entry.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nslab/fd.h"
#include "nslab/ip_address.h"
#include "nslab/options.h"
#include "nslab/probe.h"
#include "own_connections.h"
#include "stillness.h"
#include "verdict_rules.h"

namespace nslab {

class Lab;
class Node;

namespace probe_engine {

using Clock = std::chrono::steady_clock;
using detail::icmp_errno;
using detail::verdict_of_local_errno;
using detail::verdict_of_network_errno;

// The kernel resends a SYN only after a second; within a probe's timeout a
// lost SYN would read as "blocked". So a TCP probe opens a new connection
// at each retry tick (a few at most), and the first to answer decides.
constexpr std::size_t kMaxSpareConnects = 3;
// Descriptors a TCP probe may hold at once: its attempts, and as many
// connections accepted by a built-in service of the same process.
constexpr std::size_t kTcpDescriptors = 2 * (1 + kMaxSpareConnects);
// The longest greeting line a built-in service sends: "NODE ADDRESS\n".
constexpr std::size_t kMaxGreeting = 32 + 1 + 45 + 1;
// Descriptors left for everything else the process does meanwhile.
constexpr long kReservedDescriptors = 128;

socklen_t make_sockaddr(const IpAddress& a, std::uint16_t port, sockaddr_storage& ss);
IpAddress from_sockaddr(const sockaddr_storage& ss);
long descriptor_budget();
// The first error queued on a socket with IP_RECVERR (probe_receive.cpp):
// an ICMP error with its type, code and sender (" from ADDRESS"), or a
// local one; empty when none is queued.
struct QueuedError {
  int err = 0;
  bool icmp = false;
  Family family = Family::ipv4;
  int type = 0, code = 0;
  std::string from;
  std::optional<IpAddress> sender;  // the address in `from`
  std::uint32_t info = 0;           // too big (ICMP, or EMSGSIZE at the source): the MTU
};
std::optional<QueuedError> read_queued_error(int fd);
// Binds a probe socket to its source address and port, if it has them
// (probe_send.cpp); throws SystemError naming `what`.
void bind_source(int fd, const std::optional<IpAddress>& address, std::uint16_t port, Family family,
                 const std::string& what);

// Throws ConfigError for a packet shape the probe cannot have (probe_engine.cpp).
void check_shape(const Probe& p);
std::string generated_payload(std::size_t size);

struct Task {
  ProbeResult result;
  Node* src = nullptr;
  std::optional<IpAddress> bind;  // the source address, when the probe sets one
  Family family = Family::ipv4;
  Fd fd;                                       // tcp/udp: the probe's own socket (tcp: the connected attempt)
  std::vector<Fd> spare;                       // tcp: further connection attempts in flight
  std::vector<detail::OwnConnectionMark> own;  // tcp: its attempts, for the built-in services
  int icmp_fd = -1;  // icmp: the source node's shared raw socket, or (df) the probe's own in `fd`
  std::uint32_t echo = 0;
  int attempts = 0;           // requests sent and connections tried
  std::optional<int> needed;  // attempts before stillness decides it; empty: only the timeout does
  std::string wait_reason;    // why stillness cannot decide it, when that is the probe's own
  int too_big = 0;            // icmp/udp without df: "packet too big" / "fragmentation needed" answers, each resent
  std::string too_big_from;   // the last of them
  bool unconnected = false;   // udp: sent with sendto (plan_unconnected)
  Node* dst = nullptr;        // icmp judged by delivery: the target node, whose raw socket watches for it
  bool started = false;
  bool done = false;
  bool refused_by_own_rules = false;  // icmp/udp: send failed with EPERM
  bool connected = false;             // tcp
  bool greeting_decided = false;      // tcp/udp: a greeting was read, or there is none
  std::size_t sent = 0;               // tcp: payload bytes sent so far
  std::string inbox;                  // tcp: what came back, after the greeting
  Clock::time_point start, deadline, next_retry;
  Clock::time_point grace_until = Clock::time_point::max();  // tcp: how long to wait once connected
};

class Engine {
 public:
  Engine(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options);

  std::vector<ProbeResult> run();
  // Lab::open_connection (kept_connection.cpp): each tcp/udp probe that ends
  // reachable leaves its connected socket in `out` (one slot per probe)
  // instead of closing it. Before run().
  void keep_sockets(std::vector<Fd>* out) { kept_ = out; }

 private:
  static constexpr std::uint64_t kRawTag = 1ull << 63;
  static constexpr std::uint64_t kWatchTag = 1ull << 62;  // a target's raw socket (delivery)
  static constexpr std::size_t kMaxUdpPayload = Probe::kMaxUdpPayload;
  static constexpr auto kOwnRejectGrace = std::chrono::milliseconds(20);
  // A UDP probe told "too big" this often has a path that cannot take it.
  static constexpr int kMaxTooBig = 3;

  static std::size_t cost(const Task& t) { return t.result.probe.protocol == Protocol::tcp ? kTcpDescriptors : 1; }

  // Engine and loop (probe_engine.cpp).
  void admit();
  void add(int fd, std::uint32_t events, std::uint64_t tag);
  void modify(int fd, std::uint32_t events, std::uint64_t tag);
  void forget(Fd& fd);

  void wake_at(Clock::time_point t) { next_wake_ = std::min(next_wake_, t); }

  // The lab is looked at for stillness from a moment after the last packet
  // a probe sent, and every kLookGap after that.
  static constexpr auto kSettle = std::chrono::microseconds(500);
  static constexpr auto kLookGap = std::chrono::milliseconds(2);
  void sent_something();

  // A retry interval no shorter than the timeout asks for one request (or
  // one connection attempt) per probe, as a loss measurement does.
  bool single_shot() const { return options_.retry_interval >= options_.timeout; }

  bool awaiting(const Task& t) const { return t.started && !t.done && !t.connected && !t.refused_by_own_rules; }

  void plan_attempts(Task& t) const;
  int fragments(std::size_t bytes, Family f) const;
  void look_for_stillness(Clock::time_point now);
  void finish(Task& t, Verdict v, std::string detail);
  void drop_spares(Task& t);
  Clock::time_point timers(Clock::time_point now);
  void loop();

  static constexpr int kEventsPerPoll = 256;
  int poll_once(int timeout_ms);

  // Sockets, connects and requests (probe_send.cpp).
  static Fd stream_socket(Task& t, const Node& n);
  static void register_own(Task& t, int fd);
  static Fd raw_socket(Family f, const Node& n);
  static void set_dont_fragment(int fd, Family f, const std::string& what);
  static int path_mtu(int fd, Family f);
  void too_big_here(Task& t, int mtu);
  void own_rules_refused(Task& t);
  void local_error(Task& t, int err, std::string_view op);
  void start(std::size_t i);
  void send_echo(Task& t);
  void send_udp(Task& t);
  bool send_payload(Task& t);
  void retry_connects(const std::vector<std::size_t>& which);

  // Answers and timeouts (probe_receive.cpp).
  void on_error_queue(Task& t, int fd, int fallback_errno);
  bool read_error_queue(Task& t, int fd);
  bool looks_like_greeting(std::string_view line) const;
  bool is_greeting(std::string_view line, Task& t) const;
  // What came back, read against the payload: "greeted" when a greeting
  // line is followed by the whole payload, "bare" when the bytes start with
  // the whole payload (an echo server that does not greet, even if the
  // payload's own first line looks like a greeting), and "maybe greeted"
  // while a greeting line is followed by a part of the payload only.
  struct EchoReading {
    bool line = false;  // the first line looks like a greeting
    bool greeted = false;
    bool bare = false;
    bool maybe_greeted = false;
    bool part_of_payload = false;  // the bytes so far are the payload's first ones
  };
  EchoReading read_echo(std::string_view got, const std::string& payload) const;
  void on_tcp_connected(Task& t, std::size_t i, std::size_t attempt);
  void on_socket(std::uint64_t tag, std::uint32_t events);
  void read_datagrams(Task& t);
  void complete_stream(Task& t, bool eof);
  void drain_raw(int fd, Family family, bool dispatch);
  void on_icmp(Family f, const std::uint8_t* p, std::size_t n, const IpAddress& sender);
  void expire(Task& t);

  // Raw ICMP sockets, ICMP types other than the echo, and broadcasts
  // (probe_icmp_types.cpp).
  void make_raw_sockets();
  static void check_icmp_kind(const Probe& p, Family target);
  static bool by_delivery(const Task& t);
  // An echo to the broadcast address of one of the source's own subnets
  // is a broadcast, whether or not the probe says so (`ping -b` refuses
  // to guess; the address says it all).
  static void mark_broadcast(Task& t);
  // A UDP probe with a fixed source port, the only one of its batch from
  // that node and port, sends without connecting: a connected socket gets
  // a random flow hash (sk_txhash) that its packets carry across a veth,
  // and an ECMP router hashes on it, not on the ports. Unconnected, one
  // 5-tuple is one path, as on a wire (README, Paths and counted probes).
  // Several on one port (a scan) stay connected: only the 4-tuple tells
  // their answers and errors apart.
  static bool unconnected(const Task& t) { return t.unconnected; }
  void plan_unconnected();
  void make_watch_sockets();
  void on_watched(int fd);
  void on_broadcast_reply(Task& t, const IpAddress& sender);
  // A broadcast that ran out of attempts or time: `reachable` when anyone
  // answered; else `blocked` as for any probe.
  bool end_broadcast(Task& t, Verdict& v, std::string& detail) const;

  Lab& lab_;
  ProbeOptions options_;
  std::vector<Task> tasks_;
  std::deque<std::size_t> queue_;  // tcp/udp probes waiting for descriptors
  long budget_ = 0;                // descriptors this batch may hold
  std::size_t held_ = 0;           // descriptors its running probes hold
  bool admit_pending_ = false;
  std::unordered_map<int, Family> raw_;       // shared raw sockets (owned by nodes)
  std::vector<std::pair<Fd, Family>> watch_;  // raw sockets in delivery targets, this batch's own
  std::unordered_map<std::uint32_t, std::size_t> echo_index_;
  std::vector<char> buf_ = std::vector<char>(65536);
  std::vector<epoll_event> epoll_event_buffer_;
  Fd epoll_;
  std::size_t finished_ = 0;
  Clock::time_point next_wake_ = Clock::time_point::min();
  std::optional<detail::Stillness> still_;  // empty: wait out every timeout
  std::string still_reason_;                // why, when stillness is no evidence here
  Clock::time_point next_look_ = Clock::time_point::max();
  std::vector<Fd>* kept_ = nullptr;  // keep_sockets
};

}  // namespace probe_engine

}  // namespace nslab
