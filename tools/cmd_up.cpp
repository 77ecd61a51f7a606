// nslab up FILE: build a lab and keep it for debugging.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "commands.h"
#include "nslab/environment.h"
#include "nslab/kept_lab.h"
#include "nslab/scenario.h"

namespace nslab::cli {

namespace {

const char* kHelp = R"(usage: nslab up [--foreground] SCENARIO

Builds the scenario's lab and keeps it up: each node's namespace is also at
/run/netns/LAB-NODE (so `ip netns exec LAB-NODE CMD` works), its services and
programs keep running in a background keeper process, and a record under
/run/nslab/LAB lists what was made. Prints the lab's name.

  nslab exec LAB NODE [-- CMD...]   run a command (default: a shell) in a node
  nslab list                        the labs that are up
  nslab down LAB                    remove exactly what `up` made

options:
  --foreground   keep the lab in this process until Ctrl-C instead of a keeper
)";

// Blocks until SIGTERM, SIGINT or SIGHUP.
void wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
}

void print_up(const KeptLab& k) {
  std::printf("lab %s is up:\n", k.id.c_str());
  for (const auto& [node, name] : k.netns) std::printf("  %-12s /run/netns/%s\n", node.c_str(), name.c_str());
  std::printf("enter a node:  nslab exec %s NODE [-- CMD...]   (or: ip netns exec %s-NODE CMD)\n", k.id.c_str(),
              k.id.c_str());
  std::printf("remove it:     nslab down %s\n", k.id.c_str());
  std::fflush(stdout);
}

}  // namespace

int up(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  bool foreground = false;
  std::string file;
  for (const auto& a : args) {
    if (a == "--foreground") foreground = true;
    else if (file.empty() && !a.empty() && a[0] != '-') file = a;
    else {
      std::fprintf(stderr, "nslab up: unexpected \"%s\"\n\n%s", a.c_str(), kHelp);
      return kUsage;
    }
  }
  if (file.empty()) {
    std::fputs(kHelp, stderr);
    return kUsage;
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
  const std::string id = new_kept_lab_id(scenario.name);

  if (foreground) {
    auto lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
    KeptLab k = publish_lab(*lab, id, file);
    print_up(k);
    std::printf("(Ctrl-C removes it)\n");
    std::fflush(stdout);
    wait_for_stop_signal();
    unpublish_lab(k);
    return kOk;
  }

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    std::perror("nslab up: pipe");
    return kFailed;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("nslab up: fork");
    return kFailed;
  }
  if (pid == 0) {
    // The keeper: its own session, holding the lab until `nslab down`.
    ::close(pipefd[0]);
    ::setsid();
    std::string status;
    std::unique_ptr<Lab> lab;
    KeptLab k;
    try {
      lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
      k = publish_lab(*lab, id, file);
      status = "OK";
    } catch (const std::exception& e) {
      status = std::string("ERR ") + e.what();
    }
    (void)!::write(pipefd[1], status.data(), status.size());
    ::close(pipefd[1]);
    if (status != "OK") {
      lab.reset();
      ::_exit(1);
    }
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    wait_for_stop_signal();
    unpublish_lab(k);
    lab.reset();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string status;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) status.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  if (status != "OK") {
    std::fprintf(stderr, "nslab up: %s\n", status.empty() ? "the keeper died" : status.substr(4).c_str());
    return kFailed;
  }
  print_up(find_kept_lab(id));
  return kOk;
}

}  // namespace nslab::cli
