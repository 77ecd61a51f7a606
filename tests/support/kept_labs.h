// The fixture and helpers of the kept-lab tests (`nslab up / list / exec /
// inspect / logs / capture / down`, run as a user runs them). Each test has a
// /run of its own (a tmpfs in a mount namespace private to the test program):
// `up` as root writes /run/netns and /run/nslab there and nowhere else.
// Commands run outside nslab's supervisor, so that the keeper `up` leaves
// behind keeps running as it does for a user. NSLAB_BINARY names the nslab
// executable.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "leak_scan.h"
#include "process_scan.h"
#include "text.h"

extern char** environ;

namespace nslab::testing::kept {

using namespace std::chrono_literals;
using nslab::testing::has;

// Two nodes on one veth pair.
inline constexpr const char* kLab = R"(name: kept
nodes:
  red:
  blue:
links:
  - [ "red:veth-red 192.168.1.1/24", "blue:veth-blue 192.168.1.2/24" ]
)";

struct Shell {
  int status = -1;
  std::string out;  // stdout and stderr
};

inline pid_t spawn_shell(const std::string& command, int out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, out, 2);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  BOOST_REQUIRE(rc == 0);
  return pid;
}

inline std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return text;
}

// Runs a shell command and waits for it; its output goes to a memfd (not a
// pipe that the keeper would hold open).
inline Shell sh(const std::string& command) {
  int out = ::memfd_create("nslab-test-out", MFD_CLOEXEC);
  pid_t pid = spawn_shell(command, out);
  int st = 0;
  ::waitpid(pid, &st, 0);
  Shell r{WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), read_all(out)};
  ::close(out);
  return r;
}

inline std::string nslab_cmd(const std::string& args) {
  return std::string(NSLAB_BINARY) + " " + args;
}

// Root of the machine's own user namespace (its inode is the kernel's fixed
// PROC_USER_INIT_INO), not of a rootless one.
inline bool machine_root() {
  struct stat st {};
  return ::geteuid() == 0 && ::stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDU;
}

// A precondition: this process's /run/netns is where `up` mounts (the
// machine's root; rootless labs mount in the keeper's own mount namespace).
inline boost::test_tools::assertion_result up_uses_our_run_netns(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(machine_root());
  if (!r) r.message() << "rootless: `up` keeps its /run/netns in a mount namespace of the keeper's own";
  return r;
}

// The nsfs mounts of a lab in this mount namespace, hidden or not.
inline std::vector<std::string> nsfs_mounts_of(const std::string& id) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);)
    if (has(line, " - nsfs ") && has(line, "/run/netns/" + id + "-")) out.push_back(line);
  return out;
}

inline bool wait_for_file(const std::string& path, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (::access(path.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

inline std::string slurp(const std::string& path) {
  std::stringstream s;
  s << std::ifstream(path).rdbuf();
  return s.str();
}

// The lab's name from what `nslab up` wrote: its stdout is exactly the name
// and a newline; its stderr names the lab as up.
inline std::string id_from_stdout(const std::string& out, const std::string& err) {
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_match(out, m, std::regex("([A-Za-z0-9][A-Za-z0-9_-]*)\n")),
                     "stdout: [" << out << "] stderr: " << err);
  const std::string id = m[1];
  BOOST_TEST(has(err, "lab " + id + " is up:"), err);
  return id;
}

// Each test: a private /run, a scratch directory that is also
// $XDG_RUNTIME_DIR, and at the end every lab it left up brought down and
// every keeper of its scenarios gone.
struct KeptLabs {
  std::string scratch;

  KeptLabs() {
    static const bool private_mounts = [] {
      if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        throw std::runtime_error(std::string("cannot make a private mount namespace: ") + std::strerror(errno));
      return true;
    }();
    (void)private_mounts;
    BOOST_REQUIRE(::mount("nslab-test-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0);
    char tmpl[] = "/tmp/nslab-kept-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl));
    scratch = tmpl;
    ::chmod(scratch.c_str(), 0755);  // scenario files readable by an unprivileged user
    ::mkdir((scratch + "/xdg").c_str(), 0700);
    ::setenv("XDG_RUNTIME_DIR", (scratch + "/xdg").c_str(), 1);
    ::unsetenv("NSLAB_STATE_DIR");
  }

  ~KeptLabs() {
    sh(nslab_cmd("down --all"));
    // A safety net: no keeper of this test's scenarios outlives it.
    for (const auto& file : files)
      for (pid_t p : nslab::testing::processes_with_argv({NSLAB_BINARY, "up", file})) ::kill(p, SIGKILL);
    ::umount2("/run", MNT_DETACH);
    sh("rm -rf " + scratch);
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = scratch + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0644);
    files.push_back(path);
    return path;
  }

  // `nslab up FILE` (after `prefix`, e.g. "umask 000;"); returns the lab's
  // id, which is all that `up` writes on its standard output
  // (name=$(nslab up FILE)); the rest is on its standard error.
  std::string up(const std::string& file, const std::string& prefix = "") {
    const std::string err = scratch + "/up.err";
    auto r = sh(prefix + nslab_cmd("up " + file) + " 2>" + err);
    BOOST_TEST_REQUIRE(r.status == 0, r.out << slurp(err));
    return id_from_stdout(r.out, slurp(err));
  }

  // Where records go: /run/nslab for the machine's root, $XDG_RUNTIME_DIR/nslab otherwise.
  std::string state_root() const { return machine_root() ? "/run/nslab" : scratch + "/xdg/nslab"; }
  std::string record(const std::string& id) const { return state_root() + "/" + id + "/state"; }

  std::vector<std::string> files;
};

// The keeper's pid, from its record.
inline pid_t keeper_of(const std::string& record) {
  std::smatch m;
  std::string text = slurp(record);
  if (!std::regex_search(text, m, std::regex("\nkeeper (\\d+) "))) return 0;
  return std::stoi(m[1]);
}

inline bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(in, line) || line[line.rfind(')') + 2] == 'Z') return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

inline mode_t mode_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

}  // namespace nslab::testing::kept
