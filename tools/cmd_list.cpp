// nslab list: the labs kept up by `nslab up`.
#include <cstdio>

#include "commands.h"
#include "kept_lab.h"

namespace nslab::cli {

int list(const Args& args) {
  if (wants_help(args)) {
    std::fputs(
        "usage: nslab list\n\nLists the labs that `nslab up` keeps (records in $NSLAB_STATE_DIR, /run/nslab for "
        "root,\n$XDG_RUNTIME_DIR/nslab or /tmp/nslab-UID otherwise), with their keeper's state and nodes.\n",
        stdout);
    return kOk;
  }
  auto labs = list_kept_labs();
  if (labs.empty()) {
    std::printf("no lab is up\n");
    return kOk;
  }
  for (const auto& e : labs) {
    if (!e.lab) {
      std::printf("%-32s refused    %s\n", e.id.c_str(), e.problem.c_str());
      continue;
    }
    const KeptLab& k = *e.lab;
    std::string nodes;
    for (const auto& n : k.netns) nodes += (nodes.empty() ? "" : ",") + n.node;
    auto status = keeper_status(k);
    const char* state = status.state == KeeperStatus::running ? "running"
                        : status.state == KeeperStatus::gone  ? "orphaned"
                                                              : "unknown";
    std::printf("%-32s %-10s %s  (%s)%s%s\n", k.id.c_str(), state, nodes.c_str(), k.scenario.c_str(),
                status.state == KeeperStatus::unknown ? ": " : "",
                status.state == KeeperStatus::unknown ? status.detail.c_str() : "");
  }
  return kOk;
}

}  // namespace nslab::cli
