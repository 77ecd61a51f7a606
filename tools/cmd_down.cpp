// nslab down LAB...: remove exactly what `nslab up` made.
#include <cstdio>

#include "commands.h"
#include "nslab/kept_lab.h"

namespace nslab::cli {

int down(const Args& args) {
  if (wants_help(args) || args.empty()) {
    std::fputs(R"(usage: nslab down LAB... | --all

Stops the lab's keeper, unmounts and removes the /run/netns entries its record
lists, and removes the record. Works for a lab whose `nslab up` crashed too.
Nothing that the record does not name is touched. --all does this for every
lab that `nslab list` shows.
)",
               args.empty() ? stderr : stdout);
    return args.empty() ? kUsage : kOk;
  }
  std::vector<std::string> ids;
  if (args.size() == 1 && args[0] == "--all") {
    for (const auto& k : list_kept_labs()) ids.push_back(k.id);
  } else {
    ids = args;
  }
  int rc = kOk;
  for (const auto& id : ids) {
    try {
      for (const auto& line : remove_kept_lab(id)) std::printf("%s: %s\n", id.c_str(), line.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nslab down: %s\n", e.what());
      rc = kUsage;
    }
  }
  return rc;
}

}  // namespace nslab::cli
