// nslab: build network-namespace labs from scenario files and check them.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "commands.h"
#include "rootless.h"

namespace {

const char* kUsageText = R"(usage: nslab COMMAND [ARGS...]

Build labs of Linux network namespaces from YAML scenario files and check
their expected connectivity. Nothing is created in the caller's namespace.

commands:
  check FILE...      build each lab, run its expectations, print the results
                     and the difference tables; exit 0/1/2/3/4
  validate FILE...   only check the files (no privilege needed)
  graph FILE         write the topology as Graphviz DOT (and SVG with -o X.svg)
  up FILE            build a lab and keep it up for debugging; prints its name
  exec LAB NODE [-- CMD...]  run a command (default: a shell) inside a node
  list               the labs that are up
  inspect LAB        a lab's nodes: addresses, routes, rules, programs (--json)
  logs LAB [NODE]    what the lab's programs have written
  capture LAB NODE:IF [FILTER]  live pcap on stdout (| wireshark -k -i -)
  down LAB | --all   remove exactly what `up` made

exit codes:
  0  every expectation held      2  bad scenario or usage
  1  an expectation failed       3  rule coverage under check's --coverage-min
                                 4  skipped: this environment cannot build labs

Run `nslab COMMAND --help` for a command's options.
)";

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, int (*)(const nslab::cli::Args&)> commands{
      {"check", nslab::cli::check},     {"validate", nslab::cli::validate}, {"graph", nslab::cli::graph},
      {"up", nslab::cli::up},           {"exec", nslab::cli::exec},         {"list", nslab::cli::list},
      {"down", nslab::cli::down},       {"inspect", nslab::cli::inspect},   {"logs", nslab::cli::logs},
      {"capture", nslab::cli::capture},
  };
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsageText, argc < 2 ? stderr : stdout);
    return argc < 2 ? nslab::cli::kUsage : nslab::cli::kOk;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::puts("nslab " NSLAB_VERSION);
    return 0;
  }
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "nslab: unknown command \"%s\"\n\n%s", argv[1], kUsageText);
    return nslab::cli::kUsage;
  }
  nslab::cli::Args args(argv + 2, argv + argc);
  // Commands that build labs enter a user namespace of their own when they
  // lack privilege (exec and down work on labs made by a privileged `up`).
  if ((it->first == "check" || it->first == "up") && !nslab::cli::wants_help(args)) {
    if (auto why = nslab::enter_rootless_sandbox_if_needed()) {
      std::printf("SKIP: %s\n", why->c_str());
      return nslab::cli::kSkipped;
    }
  }
  try {
    return it->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nslab %s: %s\n", argv[1], e.what());
    return nslab::cli::kFailed;
  }
}
