// A step's `wait:` in a scenario run (step_wait.cpp), and the one list of
// expectations it checks again and again (scenario_run.cpp).
#pragma once

#include <cstddef>

#include "kept_check.h"
#include "nslab/scenario_run.h"

namespace nslab::detail {

// scenario.expectations checked once, as a step checks its own;
// `numbered_from` keeps capture files of different steps apart.
ScenarioOutcome run_list(Lab& lab, const Scenario& scenario, const ArtifactOptions& artifacts,
                         const InsightOptions& insight, std::size_t numbered_from, KeptConnections& kept);

// The wait's condition polled until it holds or its `within` has passed:
// passed with how long it took, or failed with the last observation.
// `scenario` gives the probe options; `kept` the run's kept connections (a
// wait may poll one: `wait: { kept: NAME, verdict: blocked, within: 2s }`).
ExpectationOutcome wait_until(Lab& lab, const Scenario& scenario, const WaitAction& wait, KeptConnections& kept);

}  // namespace nslab::detail
