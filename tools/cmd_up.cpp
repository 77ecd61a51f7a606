// nslab up FILE: build a lab and keep it for debugging.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "commands.h"
#include "keeper.h"
#include "kept_lab.h"
#include "nslab/environment.h"
#include "nslab/error.h"
#include "nslab/scenario.h"
#include "rootless.h"

namespace nslab::cli {

namespace {

const char* kHelp = R"(usage: nslab up [--name NAME] [--foreground] SCENARIO

Builds the scenario's lab and keeps it up: its services and programs keep
running in a background keeper process, each node's namespace is also at
/run/netns/LAB-NODE, and a record lists what was made. Prints the lab's name
alone on standard output (name=$(nslab up x.yaml)); what to do with it goes
to standard error.

As the machine's root, /run/netns is the machine's (so `ip netns exec
LAB-NODE CMD` works) and records are in /run/nslab. Anyone else (rootless,
or root of a user namespace) gets a /run/netns of the keeper's own, and
records in $XDG_RUNTIME_DIR/nslab (or /tmp/nslab-UID); exec, list and down
find them there. $NSLAB_STATE_DIR overrides where records are kept.

  nslab exec LAB NODE [-- CMD...]   run a command (default: a shell) in a node
  nslab list                        the labs that are up
  nslab down LAB                    remove exactly what `up` made

options:
  --name NAME    call the lab NAME (letters, digits, '-', '_'; up to 64)
                 instead of the scenario's name and a random suffix; a lab
                 of that name that is up already is refused
  --foreground   keep the lab in this process until Ctrl-C instead of a keeper
)";

// The name on stdout, for scripts; the rest on stderr, for people.
void print_up(const KeptLab& k, bool machine_netns) {
  std::printf("%s\n", k.id.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "lab %s is up:\n", k.id.c_str());
  for (const auto& n : k.netns) std::fprintf(stderr, "  %-12s /run/netns/%s\n", n.node.c_str(), n.name.c_str());
  if (machine_netns)
    std::fprintf(stderr, "enter a node:  nslab exec %s NODE [-- CMD...]   (or: ip netns exec %s-NODE CMD)\n",
                 k.id.c_str(), k.id.c_str());
  else
    std::fprintf(stderr, "enter a node:  nslab exec %s NODE [-- CMD...]   (its /run/netns is the keeper's own)\n",
                 k.id.c_str());
  std::fprintf(stderr, "remove it:     nslab down %s\n", k.id.c_str());
}

}  // namespace

int up(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  bool foreground = false;
  std::string file, name;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--foreground")
      foreground = true;
    else if (a == "--name" && i + 1 < args.size())
      name = args[++i];
    else if (file.empty() && !a.empty() && a[0] != '-')
      file = a;
    else {
      std::fprintf(stderr, "nslab up: unexpected \"%s\"\n\n%s", a.c_str(), kHelp);
      return kUsage;
    }
  }
  if (file.empty()) {
    std::fputs(kHelp, stderr);
    return kUsage;
  }
  if (!name.empty()) {
    if (auto why = kept_lab_id_problem(name)) {
      std::fprintf(stderr, "nslab up: \"%s\" cannot name a lab: %s\n", name.c_str(), why->c_str());
      return kUsage;
    }
  }
  Scenario scenario;
  try {
    scenario = load_scenario(file);
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return kUsage;
  }
  if (auto why = lab_environment_problem()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return kSkipped;
  }
  // Only the machine's root uses the machine's /run/netns.
  const bool machine_netns = ::geteuid() == 0 && in_initial_user_namespace();
  if (auto why = enter_private_run_if_needed()) {
    std::fprintf(stderr, "SKIP: %s\n", why->c_str());
    return kSkipped;
  }
  if (auto why = keeper_recording_problem()) {
    std::fprintf(stderr, "nslab up: %s\n", why->c_str());
    return kFailed;
  }
  try {
    prepare_kept_lab_root();
    if (!name.empty() && kept_lab_recorded(name)) {
      std::fprintf(stderr, "nslab up: a lab named \"%s\" is up already (nslab down %s)\n", name.c_str(), name.c_str());
      return kUsage;
    }
    const std::string id = name.empty() ? new_kept_lab_id(scenario.name) : name;
    if (foreground) {
      keep_in_foreground(scenario, id, file, [&](const KeptLab& k) {
        print_up(k, machine_netns);
        std::fprintf(stderr, "(Ctrl-C removes it)\n");
      });
    } else {
      print_up(start_keeper(scenario, id, file), machine_netns);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "nslab up: %s\n", e.what());
    return kFailed;
  }
  return kOk;
}

}  // namespace nslab::cli
