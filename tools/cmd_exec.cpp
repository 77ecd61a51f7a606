// nslab exec LAB NODE [-- CMD...]: run a command inside a node of a kept lab.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.h"
#include "kept_lab.h"

namespace nslab::cli {

namespace {

// An interactive shell whose prompt starts with "(LAB:NODE) ". bash reads
// its usual rc files first (/etc/bash.bashrc, then ~/.bashrc through the
// rcfile given here), so the prefix lands on the prompt they set; other
// shells get PS1 from the environment.
void prepare_prompt(std::vector<std::string>& cmd, const std::string& tag) {
  const std::string& shell = cmd[0];
  const std::string base = shell.substr(shell.rfind('/') + 1);
  if (base == "bash") {
    int fd = ::memfd_create("nslab-exec-bashrc", 0);
    if (fd >= 0) {
      std::string rc = "[ -r ~/.bashrc ] && . ~/.bashrc\nPS1=\"" + tag + "${PS1-\\u@\\h:\\w\\$ }\"\n";
      if (::write(fd, rc.data(), rc.size()) == static_cast<ssize_t>(rc.size())) {
        cmd.push_back("--rcfile");
        cmd.push_back("/dev/fd/" + std::to_string(fd));
        return;
      }
      ::close(fd);
    }
  }
  ::setenv("PS1", (tag + (::geteuid() == 0 ? "# " : "$ ")).c_str(), 1);
}

}  // namespace

int exec(const Args& args) {
  if (wants_help(args) || args.size() < 2) {
    std::fputs(R"(usage: nslab exec LAB NODE [-- CMD [ARGS...]]

Runs CMD (default: $SHELL, or /bin/sh) inside NODE's network namespace of a
lab kept up by `nslab up`. The command replaces this process, so interactive
programs and exit codes behave as usual. It runs in a UTS namespace of its
own whose hostname is the node's `hostname:` (or else the node's name), with
NSLAB_LAB and NSLAB_NODE set; the default shell's prompt starts with
"(LAB:NODE) ". For a lab made rootless (or in a
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
  const bool shell = cmd.empty();
  if (shell) {
    const char* sh = std::getenv("SHELL");
    cmd.push_back(sh && *sh ? sh : "/bin/sh");
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
  if (auto why = take_kept_node_hostname(k, node))
    std::fprintf(stderr, "nslab exec: the hostname stays the machine's: %s\n", why->c_str());
  ::setenv("NSLAB_LAB", k.id.c_str(), 1);
  ::setenv("NSLAB_NODE", node.c_str(), 1);
  if (shell) prepare_prompt(cmd, "(" + k.id + ":" + node + ") ");
  std::vector<char*> argv;
  argv.reserve(cmd.size() + 1);
  for (auto& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::perror(("nslab exec: " + cmd[0]).c_str());
  return 127;
}

}  // namespace nslab::cli
