// Lab: a Topology made real. It owns every namespace it created (and so every
// link, address, route and rule inside them) and releases all of it in its
// destructor; nothing is ever created in the caller's namespace.
//
// Teardown order (reverse of the members below): processes first (killed and
// reaped), then the Open vSwitch daemons and their directories, then services and probe sockets, then each node's
// netlink socket, then the namespace handles. Closing the last handle of a namespace makes the kernel delete its links,
// veth peers included, in the background.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/capture.h"
#include "nslab/connection.h"
#include "nslab/matrix.h"
#include "nslab/node.h"
#include "nslab/options.h"
#include "nslab/path.h"
#include "nslab/probe.h"
#include "nslab/probe_count.h"
#include "nslab/process.h"
#include "nslab/topology.h"

namespace nslab::detail {
class LabCgroups;
class OvsLab;
}  // namespace nslab::detail

namespace nslab {

class ServiceHost;  // the built-in services (not part of the API)

// Milliseconds spent in each phase of the last build (for benchmarks).
struct BuildTimes {
  double namespaces_ms = 0;
  double links_ms = 0;
  double addresses_ms = 0;
  double routes_ms = 0;
  double neighbours_ms = 0;
  double impairments_ms = 0;
  double sysctls_ms = 0;
  double firewall_ms = 0;
  double wait_up_ms = 0;
  double services_ms = 0;
  double processes_ms = 0;
  double ovs_ms = 0;  // of links_ms: Open vSwitch bridges, ports and flows, with the wait for the daemons
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
  // Every node, in the topology's order.
  const std::vector<Node*>& nodes() const noexcept { return node_list_; }

  // "red" (its primary address), "red:eth0", or a literal address. With no
  // family given, IPv4 is preferred. Throws ConfigError when nothing matches.
  IpAddress resolve(std::string_view target, std::optional<Family> family = {}) const;

  // Runs fn(node) inside each listed node on one helper thread that hops
  // between them: cheaper than one thread per node for bulk setup.
  void run_in_each(const std::vector<Node*>& nodes, const std::function<void(Node&)>& fn);

  // Probes (see probe.h), all of a batch at once. One thread at a time
  // probes a lab; concurrent callers wait their turn, since the probes of a
  // node share its raw socket.
  Verdict ping(std::string_view from, std::string_view to, const ProbeOptions& options = {});
  ProbeResult tcp(std::string_view from, std::string_view to, std::uint16_t port, const ProbeOptions& options = {});
  ProbeResult udp(std::string_view from, std::string_view to, std::uint16_t port, const ProbeOptions& options = {});
  ProbeResult probe(const Probe& probe, const ProbeOptions& options = {});
  std::vector<ProbeResult> probe(const std::vector<Probe>& probes, const ProbeOptions& options = {});
  // Every ordered pair of the matrix's nodes, probed at once, and the
  // expected / observed / difference tables.
  MatrixReport run_matrix(const MatrixSpec& spec, const ProbeOptions& options = {});
  // Every port of a set from one source to one target (probe.h, PortScan):
  // 65,535 TCP ports in about a second where they are refused or open.
  ScanResult scan(const PortScan& scan, const ProbeOptions& options = {});
  // A traceroute (path.h): one probe per TTL, all at once, each hop named
  // by the node that answered it.
  TraceResult trace(const PathTrace& trace, const ProbeOptions& options = {});
  // `ping -c N` (probe_count.h): `count` single-shot copies of a probe, all
  // at once, and how many were answered.
  CountResult count_answers(const Probe& probe, std::size_t count, const ProbeOptions& options = {});
  // A tcp (or udp) probe whose connection, when reachable, stays open for
  // later exchanges (connection.h): a flow established before a change to
  // the lab. Throws ConfigError for an icmp probe.
  Connection open_connection(const Probe& probe, const ProbeOptions& options = {});

  // Starts a program inside a node (see process.h); the lab owns it and kills
  // it first at teardown. The node's hostname and PID namespace settings
  // apply unless the spec sets its own.
  Process& start(std::string_view node, ProcessSpec spec);
  // Every program started in the lab, running or not, oldest first.
  const std::vector<Process*>& processes() const noexcept { return process_list_; }

  // The topology's `run:` programs that must keep running (no `exit:`) and
  // have exited since the lab came up, with their exit codes.
  struct ExitedProgram {
    Process* process;
    int code;
    SourceLocation where;  // of the `run:` entry
  };
  std::vector<ExitedProgram> exited_programs();

  // Changing a running lab (a scenario's steps: nslab/step.h; the scenario
  // runner calls these). Each returns once the kernel has done it.
  // Sets "node:interface" up or down, and waits (up to the lab's
  // link_up_timeout, else TimeoutError) until the kernel confirms it at this
  // end and, for a link of the topology, at its peer: operstate up and the
  // queues ready, or carrier lost.
  void set_link_up(std::string_view interface, bool up);
  // Adds or deletes a route in a node's main table (RouteSpec::parse reads
  // "10.9.0.0/16 via 10.0.0.2").
  void add_route(std::string_view node, const RouteSpec& route);
  void delete_route(std::string_view node, const RouteSpec& route);
  // Adds or deletes a policy rule (`ip rule`; RuleSpec::parse reads "from
  // 10.0.1.0/24 table wan2", a table named by the node's `tables:`).
  void add_rule(std::string_view node, const RuleSpec& rule);
  void delete_rule(std::string_view node, const RuleSpec& rule);
  // Replaces the impairment of the link with the end "node:interface" (as a
  // link's `impair:` at build; Direction::a_to_b is from this end to its
  // peer); an empty Impairment removes it. Returns once the qdiscs and loss
  // tables read back as asked. Delay or jitter on a kernel without netem
  // throws EnvironmentError.
  void set_impairment(std::string_view interface, const Impairment& impairment);
  // Starts a program in a node as a `run:` entry (argv, env, cwd), waits
  // until it is ready (its `ready_port` listens, its `ready_command` exits 0)
  // and keeps it under `name` (unique among the running ones). Like a
  // `run:` program, it must keep running: exited_programs() reports it if
  // it dies, unless stop_program stopped it.
  Process& start_program(std::string_view node, std::string name, const RunSpec& run);
  // TERM to the named program's process group, then KILL to its whole tree
  // after `grace` (kill: KILL at once); returns its exit code once nothing
  // of the tree is left. Throws ConfigError for a name not running.
  int stop_program(std::string_view name, bool kill = false,
                   std::chrono::milliseconds grace = std::chrono::milliseconds(1000));
  // Probes until the verdict is `verdict` (a short backoff between tries),
  // for at most `within`; returns the probe that held, or throws
  // TimeoutError with the last observation.
  ProbeResult wait_for(const Probe& probe, Verdict verdict, std::chrono::milliseconds within,
                       const ProbeOptions& options = {});
  // Waits until "node:interface" has operstate up (up) or not (!up), woken
  // by link notifications; throws TimeoutError after `within`.
  void wait_link(std::string_view interface, bool up, std::chrono::milliseconds within);

  // The environment of the Open vSwitch tools for the node's own daemons
  // (OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR: its private
  // directory, with db.sock and BRIDGE.mgmt): `ovs-vsctl show` and
  // `ovs-ofctl dump-flows BRIDGE` run inside the node with it. Empty for a
  // node without OVS bridges.
  std::map<std::string, std::string> ovs_environment(std::string_view node) const;

  // Starts a capture on "node:interface" (see capture.h).
  Capture capture(std::string_view on, const std::string& filter = {});

 private:
  friend struct LabInternals;  // the framework's view: services, build order

  ServiceHost& services();
  void build();
  void create_namespaces();
  void create_links();
  void add_addresses_and_routes();
  void add_static_neighbours();
  void apply_impairments();
  void apply_sysctls();
  void apply_firewalls();
  void wait_links_up();
  void start_services();
  void start_processes();

  Topology topology_;
  LabOptions options_;
  BuildTimes times_;
  MacAddress next_mac();

  std::uint32_t mac_counter_ = 0;
  std::mutex probe_mutex_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Node*> node_list_;                     // nodes_, for nodes()
  std::vector<Process*> process_list_;               // processes_, for processes()
  std::unique_ptr<ServiceHost> services_;            // destroyed before the nodes: it uses their sockets
  std::unique_ptr<detail::LabCgroups> cgroups_;      // the nodes' limits; destroyed after processes_
  std::unique_ptr<detail::OvsLab> ovs_;              // Open vSwitch daemons; destroyed after processes_
  std::vector<std::unique_ptr<Process>> processes_;  // destroyed first
  // The `run:` programs among processes_ that must keep running.
  std::vector<std::pair<Process*, SourceLocation>> lasting_;
  // The programs start_program started by name, while they run.
  std::map<std::string, Process*, std::less<>> named_;
};

}  // namespace nslab
