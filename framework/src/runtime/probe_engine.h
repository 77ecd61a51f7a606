// The probe engine: every probe of a batch at once, in one event loop on the
// caller's thread, through sockets made inside each source node by a helper
// thread. Lab::probe is its only caller (under the lab's probe lock).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nslab/options.h"
#include "nslab/probe.h"

namespace nslab {

class Lab;
class Node;
struct ExpectationOutcome;
struct ProbeExpectation;

// Where a probe starts: the node, and the source address it binds (none:
// the kernel picks one, as for any client). `from` is "node",
// "node:interface" or an address of a node; `source` an address of that
// node. Throws ConfigError when they name nothing of the lab, or an
// interface without an address of `family`.
struct ProbeSource {
  Node* node = nullptr;
  std::optional<IpAddress> address;
};
ProbeSource resolve_source(Lab& lab, const std::string& from, const std::optional<IpAddress>& source, Family family);
// The family a source fixes (an address as `from`, or `source`), if any.
std::optional<Family> source_family(const std::string& from, const std::optional<IpAddress>& source);
// The target's address for a probe from `from` (the source's family first).
IpAddress resolve_target(Lab& lab, const std::string& to, std::optional<Family> family, const std::string& from,
                         const std::optional<IpAddress>& source);

// Results in the order of `probes`. TCP and UDP probes hold sockets (a TCP
// probe up to four, and the built-in service one per accepted connection):
// the number in flight is bounded by the process's descriptor limit, and
// the rest wait their turn, each with its own timeout. An error that is not
// about the network (EADDRNOTAVAIL when local ports run out, EMFILE) throws
// SystemError naming the probe: it is never a verdict.
std::vector<ProbeResult> run_probes(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options);

// A port scan (port_scan.cpp): at most 1,024 sockets in flight, within the
// descriptor budget; Lab::scan is its caller (under the probe lock).
ScanResult run_scan(Lab& lab, const PortScan& scan, const ProbeOptions& options);
// A port-set or scan expectation run and judged (run_expectations' hook):
// the unexpected ports listed as ranges.
ExpectationOutcome run_scan_expectation(Lab& lab, const ProbeExpectation& e, const ProbeOptions& options);

}  // namespace nslab
