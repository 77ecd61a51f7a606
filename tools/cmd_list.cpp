// nslab list: the labs kept up by `nslab up`.
#include <cstdio>

#include "commands.h"
#include "nslab/kept_lab.h"

namespace nslab::cli {

int list(const Args& args) {
  if (wants_help(args)) {
    std::fputs("usage: nslab list\n\nLists the labs that `nslab up` keeps, with their keeper's state and nodes.\n",
               stdout);
    return kOk;
  }
  auto labs = list_kept_labs();
  if (labs.empty()) {
    std::printf("no lab is up\n");
    return kOk;
  }
  for (const auto& k : labs) {
    std::string nodes;
    for (const auto& [n, ns] : k.netns) nodes += (nodes.empty() ? "" : ",") + n;
    std::printf("%-32s %-10s %s  (%s)\n", k.id.c_str(),
                k.keeper_alive() ? "running" : "orphaned", nodes.c_str(), k.scenario.c_str());
  }
  return kOk;
}

}  // namespace nslab::cli
