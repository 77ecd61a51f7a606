// nslab exec LAB NODE [-- CMD...]: run a command inside a node of a kept lab.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.h"
#include "nslab/kept_lab.h"

namespace nslab::cli {

int exec(const Args& args) {
  if (wants_help(args) || args.size() < 2) {
    std::fputs(R"(usage: nslab exec LAB NODE [-- CMD [ARGS...]]

Runs CMD (default: $SHELL, or /bin/sh) inside NODE's network namespace of a
lab kept up by `nslab up`. The command replaces this process, so interactive
programs and exit codes behave as usual.
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
  std::string name;
  std::string nodes;
  for (const auto& [n, ns] : k.netns) {
    if (n == node) name = ns;
    nodes += " " + n;
  }
  if (name.empty()) {
    std::fprintf(stderr, "nslab exec: lab %s has no node \"%s\" (nodes:%s)\n", id.c_str(), node.c_str(),
                 nodes.c_str());
    return kUsage;
  }
  std::string path = "/run/netns/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    std::perror(("nslab exec: cannot enter " + path).c_str());
    return kFailed;
  }
  ::close(fd);
  std::vector<char*> argv;
  for (auto& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::perror(("nslab exec: " + cmd[0]).c_str());
  return 127;
}

}  // namespace nslab::cli
