// Lab: a Topology made real. It owns every namespace it created (and so every
// link, address, route and rule inside them) and releases all of it in its
// destructor; nothing is ever created in the caller's namespace.
//
// Teardown order (reverse of the members below): services and probe sockets
// first, then each node's netlink socket, then the namespace handles. Closing
// the last handle of a namespace makes the kernel delete its links, veth peers
// included, in the background.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/node.h"
#include "nslab/topology.h"

namespace nslab {

class ServiceHost;

struct LabOptions {
  // How long build() waits for every link to be operationally up.
  std::chrono::milliseconds link_up_timeout{3000};
};

// Milliseconds spent in each phase of the last build (for benchmarks).
struct BuildTimes {
  double namespaces_ms = 0;
  double links_ms = 0;
  double addresses_ms = 0;
  double routes_ms = 0;
  double sysctls_ms = 0;
  double wait_up_ms = 0;
  double services_ms = 0;
  double total_ms = 0;
};

class Lab {
 public:
  // Validates and builds; on any failure everything made so far is released
  // and the error is rethrown.
  explicit Lab(Topology topology, LabOptions options = {});
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const Topology& topology() const noexcept { return topology_; }
  const BuildTimes& build_times() const noexcept { return times_; }

  Node& node(std::string_view name);
  const Node& node(std::string_view name) const;
  const Node* find_node(std::string_view name) const;
  const std::vector<std::unique_ptr<Node>>& nodes() const noexcept { return nodes_; }

  // "red" (its primary address), "red:eth0", or a literal address. With no
  // family given, IPv4 is preferred. Throws ConfigError when nothing matches.
  IpAddress resolve(std::string_view target, std::optional<Family> family = {}) const;
  // The node that owns an address, if any.
  const Node* owner_of(const IpAddress& a) const;

  // Runs fn(node) inside each listed node on one helper thread that hops
  // between them: cheaper than one thread per node for bulk setup.
  void run_in_each(const std::vector<Node*>& nodes, const std::function<void(Node&)>& fn);

  ServiceHost& services();

 private:
  void build();
  void create_namespaces();
  void create_links();
  void add_addresses_and_routes();
  void apply_sysctls();
  void wait_links_up();
  void start_services();

  Topology topology_;
  LabOptions options_;
  BuildTimes times_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<ServiceHost> services_;  // destroyed first: it uses node sockets
};

}  // namespace nslab
