// A scenario's kept connections (nslab/connection.h) as the runner holds
// them: opened by `keep: NAME` probes, exchanged over by `kept: NAME`
// expectations in later steps, closed when the run ends (before the lab).
#pragma once

#include <map>
#include <string>

#include "nslab/connection.h"
#include "nslab/lab.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"

namespace nslab::detail {

// Every connection a run opened, by name: held from its `keep:` to the end
// of the run, whether its opening was reachable or not (a later `kept:`
// says why there is nothing to exchange over).
using KeptConnections = std::map<std::string, Connection>;

// A `keep: NAME` probe: opened and judged as the probe expectation it is,
// then held under its name.
ExpectationOutcome open_kept(Lab& lab, const ProbeExpectation& e, KeptConnections& kept, const ProbeOptions& options);
// `kept: NAME`: one exchange over the held connection, within the probe timeout.
ExpectationOutcome check_kept(const KeptExpectation& e, KeptConnections& kept, const ProbeOptions& options);

}  // namespace nslab::detail
