// nslab up FILE: build a lab and keep it for debugging.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "commands.h"
#include "nslab/environment.h"
#include "kept_lab.h"
#include "rootless.h"
#include "nslab/lab.h"
#include "nslab/scenario.h"

namespace nslab::cli {

namespace {

const char* kHelp = R"(usage: nslab up [--foreground] SCENARIO

Builds the scenario's lab and keeps it up: its services and programs keep
running in a background keeper process, each node's namespace is also at
/run/netns/LAB-NODE, and a record lists what was made. Prints the lab's name.

As the machine's root, /run/netns is the machine's (so `ip netns exec
LAB-NODE CMD` works) and records are in /run/nslab. Anyone else (rootless,
or root of a user namespace) gets a /run/netns of the keeper's own, and
records in $XDG_RUNTIME_DIR/nslab (or /tmp/nslab-UID); exec, list and down
find them there. $NSLAB_STATE_DIR overrides where records are kept.

  nslab exec LAB NODE [-- CMD...]   run a command (default: a shell) in a node
  nslab list                        the labs that are up
  nslab down LAB                    remove exactly what `up` made

options:
  --foreground   keep the lab in this process until Ctrl-C instead of a keeper
)";

// The signals that stop a kept lab. Blocked from the start, so that one that
// comes while the lab is being built or published waits for the teardown.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

void wait_for_stop_signal() {
  sigset_t set = stop_signals();
  int sig = 0;
  sigwait(&set, &sig);
}

void print_up(const KeptLab& k, bool machine_netns) {
  std::printf("lab %s is up:\n", k.id.c_str());
  for (const auto& n : k.netns) std::printf("  %-12s /run/netns/%s\n", n.node.c_str(), n.name.c_str());
  if (machine_netns)
    std::printf("enter a node:  nslab exec %s NODE [-- CMD...]   (or: ip netns exec %s-NODE CMD)\n", k.id.c_str(),
                k.id.c_str());
  else
    std::printf("enter a node:  nslab exec %s NODE [-- CMD...]   (its /run/netns is the keeper's own)\n",
                k.id.c_str());
  std::printf("remove it:     nslab down %s\n", k.id.c_str());
  std::fflush(stdout);
}

// True while the reader of the status pipe (the `nslab up` that waits for
// the keeper) is there.
bool reader_alive(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) == 0 || !(p.revents & (POLLERR | POLLHUP));
}

// The keeper: its own session, holding the lab until `nslab down`. It
// reports to `up` through the pipe; if `up` is gone before the lab is
// published, or cannot be told, the keeper tears the lab down: a lab that no
// one was told about is not left behind.
[[noreturn]] void keep(const Scenario& scenario, const std::string& id, const std::string& file, int report) {
  ::setsid();
  ::signal(SIGPIPE, SIG_IGN);
  std::string status;
  std::unique_ptr<Lab> lab;
  KeptLab k;
  bool published = false;
  try {
    lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
    if (reader_alive(report)) {
      k = publish_lab(*lab, id, file);
      published = true;
      status = "OK";
    }
  } catch (const std::exception& e) {
    status = std::string("ERR ") + e.what();
  }
  bool told = !status.empty() && ::write(report, status.data(), status.size()) == static_cast<ssize_t>(status.size());
  ::close(report);
  if (status != "OK" || !told) {
    if (published) unpublish_lab(k);
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
  } catch (const Error& e) {
    std::fprintf(stderr, "nslab up: %s\n", e.what());
    return kFailed;
  }
  const std::string id = new_kept_lab_id(scenario.name);
  sigset_t stops = stop_signals();

  if (foreground) {
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    auto lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
    KeptLab k = publish_lab(*lab, id, file);
    print_up(k, machine_netns);
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
    ::close(pipefd[0]);
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    keep(scenario, id, file, pipefd[1]);
  }
  ::close(pipefd[1]);
  std::string status;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) status.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  if (status != "OK") {
    // "ERR why", or whatever a dying keeper got out
    std::string why = status.rfind("ERR ", 0) == 0 ? status.substr(4) : status;
    std::fprintf(stderr, "nslab up: %s\n", why.empty() ? "the keeper died" : why.c_str());
    return kFailed;
  }
  print_up(find_kept_lab(id), machine_netns);
  return kOk;
}

}  // namespace nslab::cli
