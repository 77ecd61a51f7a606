// The keeper of `nslab up`: the process that builds a lab, publishes it
// (kept_lab.h: a record, then /run/netns/LAB-NODE for each node) and holds
// it until `nslab down` (SIGTERM), SIGINT or SIGHUP, then removes what it
// published. The CLI only chooses between the two ways of keeping a lab and
// prints what it gets back.
#pragma once

#include <functional>
#include <string>

#include "kept_lab.h"

namespace nslab {

struct Scenario;

// Starts a keeper in the background: a child in a session of its own, with
// /dev/null for its standard streams once the lab is up. Returns the lab's
// record once it is published. When the lab cannot be built (or published),
// throws Error with the keeper's reason, and the keeper leaves nothing.
// If the caller dies before it has been told, the keeper tears the lab down:
// a lab that no one was told about is not left behind.
KeptLab start_keeper(const Scenario& scenario, const std::string& id, const std::string& file);

// Keeps the lab in this process instead: builds and publishes it, calls
// up(record), waits for SIGTERM, SIGINT or SIGHUP, removes what it published.
void keep_in_foreground(const Scenario& scenario, const std::string& id, const std::string& file,
                        const std::function<void(const KeptLab&)>& up);

}  // namespace nslab
