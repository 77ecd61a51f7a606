// nslab graph FILE [-o OUT.dot|OUT.svg]: the topology as Graphviz.
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "nslab/graph.h"
#include "nslab/scenario.h"
#include "subprocess.h"

namespace nslab::cli {

int graph(const Args& args) {
  if (wants_help(args) || args.empty()) {
    std::fputs(R"(usage: nslab graph FILE [-o OUTPUT]

Writes the scenario's topology as Graphviz DOT: each node a box holding its
bridges and interfaces with their addresses, veth links as edges, bridge
ports as dashed edges. Without -o the DOT goes to standard output. With
-o OUT.svg (or .png, .pdf) it is rendered by Graphviz's `dot`, which must be
installed; -o OUT.dot writes the DOT text.
)",
               args.empty() ? stderr : stdout);
    return args.empty() ? kUsage : kOk;
  }
  std::string file, output;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size())
      output = args[++i];
    else if (file.empty())
      file = args[i];
    else {
      std::fprintf(stderr, "nslab graph: one scenario at a time (got \"%s\" too)\n", args[i].c_str());
      return kUsage;
    }
  }
  Scenario s;
  try {
    s = load_scenario(file);
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return kUsage;
  }
  std::string dot = to_dot(s.topology);
  if (output.empty()) {
    std::fputs(dot.c_str(), stdout);
    return kOk;
  }
  auto ext = output.substr(output.find_last_of('.') + 1);
  if (ext == "dot" || ext == "gv") {
    std::ofstream(output) << dot;
    return kOk;
  }
  if (find_program("dot").empty()) {
    std::fprintf(stderr, "nslab graph: rendering %s needs Graphviz's `dot` (apt-get install graphviz)\n",
                 output.c_str());
    return kSkipped;
  }
  auto r = run_program({"dot", "-T" + ext, "-o", output}, dot);
  if (r.status != 0) {
    std::fprintf(stderr, "nslab graph: dot failed: %s\n", r.output.c_str());
    return kFailed;
  }
  return kOk;
}

}  // namespace nslab::cli
