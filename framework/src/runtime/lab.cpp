// A Lab once built: its nodes, probes, programs and captures. Building it is
// in lab_build.cpp.
#include "nslab/lab.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <utility>

#include "cgroup.h"
#include "fd_limit.h"
#include "netlink.h"
#include "ovs_daemons.h"
#include "ovs_lab.h"
#include "node_internals.h"
#include "probe_engine.h"
#include "nslab/error.h"
#include "service_host.h"

namespace nslab {

Lab::Lab(Topology topology, LabOptions options) : topology_(std::move(topology)), options_(options) {
  topology_.validate();
  reserve_lab_descriptors(topology_.nodes().size());
  build();
}

Lab::~Lab() {
  lasting_.clear();
  processes_.clear();
  ovs_.reset();
  cgroups_.reset();
  services_.reset();
  nodes_.clear();
}

std::map<std::string, std::string> Lab::ovs_environment(std::string_view node_name) const {
  (void)node(node_name);  // throws for a node that does not exist
  const detail::OvsDaemons* d = ovs_ ? ovs_->daemons(node_name) : nullptr;
  return d ? d->environment() : std::map<std::string, std::string>{};
}

void Lab::start_services() {
  for (const auto& spec : topology_.nodes())
    for (const auto& s : spec.services) services().add(node(spec.name), s.protocol, s.port);
}

Process& Lab::start(std::string_view node_name, ProcessSpec spec) {
  const Node& n = node(node_name);
  const NodeSpec& ns = topology_.node(node_name);
  if (spec.hostname.empty()) spec.hostname = ns.hostname;
  spec.pid_namespace = spec.pid_namespace || ns.pid_namespace;
  processes_.push_back(std::make_unique<Process>(n, std::move(spec)));
  process_list_.push_back(processes_.back().get());
  return *processes_.back();
}

void Lab::start_processes() {
  if (std::any_of(topology_.nodes().begin(), topology_.nodes().end(),
                  [](const NodeSpec& n) { return !n.limits.empty(); })) {
    cgroups_ = std::make_unique<detail::LabCgroups>(topology_);
    for (auto& n : nodes_) NodeInternals::set_cgroup(*n, cgroups_->node(n->name()));
  }
  for (const auto& spec : topology_.nodes()) {
    for (const auto& r : spec.run) {
      auto located = [&](const std::string& msg) { return r.where.known() ? r.where.str() + ": " + msg : msg; };
      Process* p = nullptr;
      try {
        p = &start(spec.name, ProcessSpec{.argv = r.argv, .env = r.env, .working_dir = r.working_dir});
        const Node& n = node(spec.name);
        if (r.expect_exit) {
          int code = p->wait(r.timeout);
          if (code != *r.expect_exit)
            throw ProcessError(fmt::format("{} exited with code {}{}, not {}; the end of its output:\n{}", p->label(),
                                           code, p->exit_note(code), *r.expect_exit, p->log_tail()));
          continue;
        }
        if (r.ready_port) wait_listening(n, r.ready_port->first, r.ready_port->second, r.timeout, p);
        if (!r.ready_command.empty()) wait_command(n, r.ready_command, r.timeout, p);
        p->require_running();
        lasting_.emplace_back(p, r.where);
      } catch (const ProcessError& e) {
        throw ProcessError(located(e.what()));
      } catch (const TimeoutError& e) {
        throw TimeoutError(located(e.what()));
      } catch (const EnvironmentError& e) {
        throw EnvironmentError(located(e.what()));
      } catch (const SystemError& e) {
        throw ProcessError(located(e.what()));  // e.g. a cwd that does not exist
      }
    }
  }
}

std::vector<Lab::ExitedProgram> Lab::exited_programs() {
  std::vector<ExitedProgram> out;
  for (const auto& [p, where] : lasting_)
    if (auto code = p->exit_code()) out.push_back({p, *code, where});
  return out;
}

ServiceHost& Lab::services() {
  if (!services_) services_ = std::make_unique<ServiceHost>();
  return *services_;
}

void Lab::run_in_each(const std::vector<Node*>& nodes, const std::function<void(Node&)>& fn) {
  on_new_thread([&] {
    for (Node* n : nodes) {
      n->netns().enter_this_thread();
      fn(*n);
    }
  });
}

const Node* Lab::find_node(std::string_view name) const {
  for (const auto& n : nodes_)
    if (n->name() == name) return n.get();
  return nullptr;
}

const Node& Lab::node(std::string_view name) const {
  if (const Node* n = find_node(name)) return *n;
  throw ConfigError(fmt::format("no node \"{}\" in lab \"{}\"", name, topology_.name()));
}

Node& Lab::node(std::string_view name) {
  return const_cast<Node&>(std::as_const(*this).node(name));
}

IpAddress Lab::resolve(std::string_view target, std::optional<Family> family) const {
  if (auto a = IpAddress::parse(target)) return *a;
  std::string_view node_name = target, iface;
  if (auto colon = target.find(':'); colon != std::string_view::npos) {
    node_name = target.substr(0, colon);
    iface = target.substr(colon + 1);
  }
  const Node* n = find_node(node_name);
  if (!n)
    throw ConfigError(
        fmt::format("probe target \"{}\": no node \"{}\" in lab \"{}\"", target, node_name, topology_.name()));
  std::vector<Family> order = family ? std::vector{*family} : std::vector{Family::ipv4, Family::ipv6};
  for (Family f : order) {
    auto a = iface.empty() ? n->primary_address(f) : n->interface_address(iface, f);
    if (a) return *a;
  }
  throw ConfigError(fmt::format("probe target \"{}\" has no {}address", target,
                                family ? fmt::format("{} ", to_string(*family)) : ""));
}

std::vector<ProbeResult> Lab::probe(const std::vector<Probe>& probes, const ProbeOptions& options) {
  std::lock_guard lock(probe_mutex_);
  return run_probes(*this, probes, options);
}

ProbeResult Lab::probe(const Probe& p, const ProbeOptions& options) {
  return std::move(probe(std::vector<Probe>{p}, options).front());
}

ScanResult Lab::scan(const PortScan& scan, const ProbeOptions& options) {
  std::lock_guard lock(probe_mutex_);
  return run_scan(*this, scan, options);
}

MatrixReport Lab::run_matrix(const MatrixSpec& spec, const ProbeOptions& options) {
  expected_table(spec);  // names a bad exception before probing
  auto t0 = std::chrono::steady_clock::now();
  auto results = probe(matrix_probes(spec), options);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return matrix_report(spec, std::move(results), ms);
}

Capture Lab::capture(std::string_view on, const std::string& filter) {
  auto colon = on.find(':');
  if (colon == std::string_view::npos)
    throw ConfigError(fmt::format("capture point \"{}\" must be node:interface", on));
  return Capture(node(on.substr(0, colon)), std::string(on.substr(colon + 1)), filter);
}

Verdict Lab::ping(std::string_view from, std::string_view to, const ProbeOptions& options) {
  return probe(Probe{std::string(from), std::string(to)}, options).verdict;
}

ProbeResult Lab::tcp(std::string_view from, std::string_view to, std::uint16_t port, const ProbeOptions& options) {
  Probe p{std::string(from), std::string(to), Protocol::tcp, port};
  p.want_served_by = true;
  return probe(p, options);
}

ProbeResult Lab::udp(std::string_view from, std::string_view to, std::uint16_t port, const ProbeOptions& options) {
  return probe(Probe{std::string(from), std::string(to), Protocol::udp, port}, options);
}

}  // namespace nslab
