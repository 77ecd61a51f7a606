// nslab exec LAB NODE [-- CMD...]: run a command inside a node of a kept lab.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.h"
#include "kept_lab.h"

namespace nslab::cli {

int exec(const Args& args) {
  if (wants_help(args) || args.size() < 2) {
    std::fputs(R"(usage: nslab exec LAB NODE [-- CMD [ARGS...]]

Runs CMD (default: $SHELL, or /bin/sh) inside NODE's network namespace of a
lab kept up by `nslab up`. The command replaces this process, so interactive
programs and exit codes behave as usual. For a lab made rootless (or in a
mount namespace of its own), it first joins the keeper's user and mount
namespaces, where the lab's /run/netns is. It refuses a lab whose keeper is
not the recorded one, and a namespace file that is not the one up made.
)",
               args.size() < 2 && !wants_help(args) ? stderr : stdout);
    return wants_help(args) ? kOk : kUsage;
  }
  const std::string& id = args[0];
  const std::string& node = args[1];
  std::vector<std::string> cmd;
  std::size_t i = 2;
  if (i < args.size() && args[i] == "--") ++i;
  for (; i < args.size(); ++i) cmd.push_back(args[i]);
  if (cmd.empty()) {
    const char* shell = std::getenv("SHELL");
    cmd.push_back(shell && *shell ? shell : "/bin/sh");
  }
  KeptLab k;
  try {
    k = find_kept_lab(id);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nslab exec: %s\n", e.what());
    return kUsage;
  }
  try {
    enter_kept_node(k, node);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nslab exec: %s\n", e.what());
    return kFailed;
  }
  std::vector<char*> argv;
  argv.reserve(cmd.size() + 1);
  for (auto& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::perror(("nslab exec: " + cmd[0]).c_str());
  return 127;
}

}  // namespace nslab::cli
