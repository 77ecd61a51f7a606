// ServiceHost: nslab's built-in TCP and UDP responders.
//
// Each service is a socket created inside its node, so it answers only there;
// one reactor thread serves every service of a lab (a socket belongs to its
// namespace, not to the thread that polls it). A responder answers with a line
// "NODE CLIENT-ADDRESS", then echoes whatever it receives, so a probe can tell
// which node served it (a port forward landing on the right node) and from
// which address it saw the request come (a MASQUERADE rewriting the source).
#pragma once

#include <atomic>
#include <cstdint>
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
  struct Conn {
    Fd fd;
    std::string node;
    bool listening = false;
    Protocol protocol = Protocol::tcp;
    std::string pending;       // echoed bytes the peer has not taken yet
    std::uint32_t events = 0;  // what epoll watches for it
  };
  // Reading from a connection pauses while this much waits to be echoed.
  static constexpr std::size_t kMaxPending = 4 << 20;
  void echo(int fd, Conn& conn, std::uint32_t events);
  void loop();
  void watch(Conn conn, std::uint32_t events);
  void handle(int fd, std::uint32_t events);

  std::atomic<bool> handling_{false};    // the reactor is handling events
  std::atomic<std::size_t> pending_{0};  // connections with echo bytes not yet sent
  Fd epoll_;
  Fd wake_;  // eventfd that stops the loop
  mutable std::mutex mutex_;
  std::map<int, Conn> conns_;
  std::thread thread_;  // last: joined in the destructor before sockets close
};

}  // namespace nslab
