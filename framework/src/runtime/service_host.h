// ServiceHost: nslab's built-in TCP and UDP responders.
//
// Each service is a socket created inside its node, so it answers only there;
// one reactor thread serves every service of a lab (a socket belongs to its
// namespace, not to the thread that polls it). A responder answers with a line
// "NODE CLIENT-ADDRESS", then echoes whatever it receives, so a probe can tell
// which node served it (a port forward landing on the right node) and from
// which address it saw the request come (a MASQUERADE rewriting the source).
//
// A TCP client that speaks first with an HTTP/1.x request line (curl, wget,
// a browser) gets an HTTP response instead: 200 OK whose body is that line,
// then the connection closes. So a TCP connection is greeted once its first
// bytes show it is not HTTP, or after kGreetingDelay of silence (nslab's
// probes wait for a greeting that long; they send nothing first).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nslab/fd.h"
#include "nslab/topology.h"

namespace nslab {

class Node;

class ServiceHost {
 public:
  ServiceHost();
  ~ServiceHost();  // stops the reactor, then closes every socket
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // Listens on every address of the node (dual stack) at the port.
  void add(const Node& node, Protocol protocol, std::uint16_t port);
  // True when no socket holds a request or connection not yet handled, no
  // echo waits to be sent, and the reactor is between events.
  bool idle() const;
  // The inodes of its sockets (listening and accepted), as /proc/net lists them.
  std::vector<unsigned long> socket_inodes() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    Fd fd;
    std::string node;
    bool listening = false;
    Protocol protocol = Protocol::tcp;
    std::string pending;       // echoed bytes the peer has not taken yet
    std::uint32_t events = 0;  // what epoll watches for it
    // Before the greeting: what the client sent so far, the greeting held
    // back, and when it goes out unless the client turns out to speak HTTP.
    bool greeted = true;
    std::string request, greeting;
    Clock::time_point greet_at{};
    bool greet_now = false;  // its delay passed
    bool http = false;       // answered as HTTP: closes once sent (what comes in is dropped)
    bool shut = false;       // our side shut down after the HTTP response
  };
  // Reading from a connection pauses while this much waits to be echoed.
  static constexpr std::size_t kMaxPending = 4 << 20;

 public:
  // How long a silent TCP client waits for its greeting: long enough for a
  // client that speaks first (curl) to have sent its request on a loaded
  // machine (30 ms missed 1 of 200 curl runs at load average 15); a probe
  // without served_by waits this and 50 ms more for a greeting.
  static constexpr std::chrono::milliseconds kGreetingDelay{100};

 private:
  void echo(int fd, Conn& conn, std::uint32_t events);
  void decide_greeting(Conn& conn, bool ended);
  int greet_due();  // greets the connections whose delay passed; ms to the next, or -1
  void loop();
  void watch(Conn conn, std::uint32_t events);
  void handle(int fd, std::uint32_t events);

  std::atomic<bool> handling_{false};    // the reactor is handling events
  std::atomic<std::size_t> pending_{0};  // connections with echo bytes not yet sent
  Fd epoll_;
  Fd wake_;  // eventfd that stops the loop
  mutable std::mutex mutex_;
  std::map<int, Conn> conns_;
  // Connections waiting for their greeting, by deadline (one delay for all,
  // so accept order is deadline order); stale entries are skipped.
  std::deque<std::pair<Clock::time_point, int>> greetings_;
  std::thread thread_;  // last: joined in the destructor before sockets close
};

}  // namespace nslab
