// nslab down LAB...: remove exactly what `nslab up` made, and say what stayed.
#include <cstdio>

#include "commands.h"
#include "kept_lab.h"

namespace nslab::cli {

int down(const Args& args) {
  if (wants_help(args) || args.empty()) {
    std::fputs(R"(usage: nslab down LAB... | --all

Stops the lab's keeper (the recorded process, recognised by its pid, start
time and executable; no other is signalled), unmounts and removes the
/run/netns entries its record lists (only if they are the namespaces up
made), and removes the record; then checks that they are gone. Works for a
lab whose `nslab up` crashed too. Nothing that the record does not name is
touched. --all does this for every lab that `nslab list` shows.

exit codes: 0 everything was removed, 1 something stayed (each is named),
2 no such lab, or a name that is not a lab's.
)",
               args.empty() ? stderr : stdout);
    return args.empty() ? kUsage : kOk;
  }
  std::vector<std::string> ids;
  int rc = kOk;
  if (args.size() == 1 && args[0] == "--all") {
    for (const auto& e : list_kept_labs()) ids.push_back(e.id);
  } else {
    ids = args;
  }
  for (const auto& id : ids) {
    if (auto why = kept_lab_id_problem(id)) {
      std::fprintf(stderr, "nslab down: \"%s\" is not a lab name: %s\n", id.c_str(), why->c_str());
      rc = kUsage;
      continue;
    }
    if (!kept_lab_recorded(id)) {
      std::fprintf(stderr, "nslab down: no lab \"%s\" is up (records: %s)\n", id.c_str(), kept_lab_root().c_str());
      rc = kUsage;
      continue;
    }
    try {
      DownReport r = remove_kept_lab(id);
      for (const auto& line : r.done) std::printf("%s: %s\n", id.c_str(), line.c_str());
      for (const auto& line : r.stayed) std::fprintf(stderr, "%s: STAYED: %s\n", id.c_str(), line.c_str());
      if (!r.ok() && rc == kOk) rc = kFailed;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nslab down: %s\n", e.what());
      if (rc == kOk) rc = kFailed;
    }
  }
  return rc;
}

}  // namespace nslab::cli
