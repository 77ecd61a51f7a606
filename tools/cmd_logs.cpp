// nslab logs LAB [NODE]: what a kept lab's programs have written so far.
#include <cstdio>
#include <string>

#include "commands.h"
#include "kept_lab.h"
#include "kept_lab_inspect.h"

namespace nslab::cli {

int logs(const Args& args) {
  if (wants_help(args) || args.empty() || args.size() > 2) {
    std::fputs(R"(usage: nslab logs LAB [NODE]

Prints the output (stdout and stderr together) of the `run:` programs of a
lab kept up by `nslab up` — every node's, or NODE's — each after a line
"==> NODE: COMMAND (pid P, running | exited N) <==". The keeper holds the
output in memory for the lab's life; nothing is written to disk.
)",
               wants_help(args) ? stdout : stderr);
    return wants_help(args) ? kOk : kUsage;
  }
  KeptLab k;
  try {
    k = find_kept_lab(args[0]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nslab logs: %s\n", e.what());
    return kUsage;
  }
  const std::string node = args.size() > 1 ? args[1] : "";
  if (!node.empty()) {
    bool known = false;
    std::string nodes;
    for (const auto& n : k.netns) {
      known = known || n.node == node;
      nodes += " " + n.node;
    }
    if (!known) {
      std::fprintf(stderr, "nslab logs: lab %s has no node \"%s\" (nodes:%s)\n", k.id.c_str(), node.c_str(),
                   nodes.c_str());
      return kUsage;
    }
  }
  auto programs = kept_lab_programs(k);
  std::size_t shown = 0;
  for (const auto& p : programs.programs) {
    if (!node.empty() && p.node != node) continue;
    std::string log = kept_program_log(k, p.index);
    std::printf("%s==> %s (pid %ld, %s) <==\n", shown++ ? "\n" : "", p.label.c_str(), p.pid, p.state.c_str());
    std::fwrite(log.data(), 1, log.size(), stdout);
    if (!log.empty() && log.back() != '\n') std::putchar('\n');
  }
  if (shown == 0)
    std::fprintf(stderr, "nslab logs: %s runs no program%s\n", node.empty() ? ("lab " + k.id).c_str() : node.c_str(),
                 node.empty() ? " (no node has `run:`)" : "");
  return kOk;
}

}  // namespace nslab::cli
