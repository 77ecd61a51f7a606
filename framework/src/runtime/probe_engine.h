// The probe engine: every probe of a batch at once, in one event loop on the
// caller's thread, through sockets made inside each source node by a helper
// thread. Lab::probe is its only caller (under the lab's probe lock).
#pragma once

#include <vector>

#include "nslab/options.h"
#include "nslab/probe.h"

namespace nslab {

class Lab;

// Results in the order of `probes`. TCP and UDP probes hold sockets (a TCP
// probe up to four, and the built-in service one per accepted connection):
// the number in flight is bounded by the process's descriptor limit, and
// the rest wait their turn, each with its own timeout. An error that is not
// about the network (EADDRNOTAVAIL when local ports run out, EMFILE) throws
// SystemError naming the probe: it is never a verdict.
std::vector<ProbeResult> run_probes(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options);

}  // namespace nslab
