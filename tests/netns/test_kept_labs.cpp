// `nslab up / list / exec / down`, run as a user runs them: as root, as an
// unprivileged user (rootless), and against records that someone tampered
// with. Each test has a /run of its own (a tmpfs in a mount namespace private
// to this test program): `up` as root writes /run/netns and /run/nslab there
// and nowhere else. Commands run outside nslab's supervisor, so that the
// keeper `up` leaves behind keeps running as it does for a user.
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
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "leak_scan.h"
#include "process_scan.h"
#include "text.h"

extern char** environ;

using namespace std::chrono_literals;
using nslab::testing::has;

namespace {

const char* kLab = R"(name: kept
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

pid_t spawn_shell(const std::string& command, int out) {
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

std::string read_all(int fd) {
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
Shell sh(const std::string& command) {
  int out = ::memfd_create("nslab-test-out", MFD_CLOEXEC);
  pid_t pid = spawn_shell(command, out);
  int st = 0;
  ::waitpid(pid, &st, 0);
  Shell r{WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), read_all(out)};
  ::close(out);
  return r;
}

std::string nslab_cmd(const std::string& args) {
  return std::string(NSLAB_BINARY) + " " + args;
}

// Root of the machine's own user namespace (its inode is the kernel's fixed
// PROC_USER_INIT_INO), not of a rootless one.
bool machine_root() {
  struct stat st {};
  return ::geteuid() == 0 && ::stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDU;
}

// A precondition: this process's /run/netns is where `up` mounts (the
// machine's root; rootless labs mount in the keeper's own mount namespace).
boost::test_tools::assertion_result up_uses_our_run_netns(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(machine_root());
  if (!r) r.message() << "rootless: `up` keeps its /run/netns in a mount namespace of the keeper's own";
  return r;
}

// The nsfs mounts of a lab in this mount namespace, hidden or not.
std::vector<std::string> nsfs_mounts_of(const std::string& id) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);)
    if (has(line, " - nsfs ") && has(line, "/run/netns/" + id + "-")) out.push_back(line);
  return out;
}

bool wait_for_file(const std::string& path, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (::access(path.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string slurp(const std::string& path) {
  std::stringstream s;
  s << std::ifstream(path).rdbuf();
  return s.str();
}

// The lab's name from what `nslab up` wrote: its stdout is exactly the name
// and a newline; its stderr names the lab as up.
std::string id_from_stdout(const std::string& out, const std::string& err) {
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
pid_t keeper_of(const std::string& record) {
  std::smatch m;
  std::string text = slurp(record);
  if (!std::regex_search(text, m, std::regex("\nkeeper (\\d+) "))) return 0;
  return std::stoi(m[1]);
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(in, line) || line[line.rfind(')') + 2] == 'Z') return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(kept_labs, KeptLabs)

// The whole round trip as this test's user: the machine's root, or (in the
// rootless CI run) root of a user namespace, whose records go to
// $XDG_RUNTIME_DIR/nslab and whose /run/netns is the keeper's own. `up` runs
// under umask 000: the records are private all the same.
BOOST_AUTO_TEST_CASE(up_list_exec_down_round_trip) {
  auto before = nslab::testing::take_census();
  auto file = write("lab.yaml", kLab);
  std::string id = up(file, "umask 000; ");
  const std::string dir = state_root() + "/" + id;
  BOOST_TEST(mode_of(state_root()) == 0700u);
  BOOST_TEST(mode_of(dir) == 0700u);
  BOOST_TEST(mode_of(record(id)) == 0600u);
  pid_t keeper = keeper_of(record(id));
  BOOST_TEST_REQUIRE(keeper > 0);

  auto list = sh(nslab_cmd("list"));
  BOOST_TEST(std::regex_search(list.out, std::regex(id + " +running +red,blue")), list.out);
  auto addr = sh(nslab_cmd(fmt::format("exec {} red -- ip -o addr show dev veth-red", id)));
  BOOST_TEST(addr.status == 0, addr.out);
  BOOST_TEST(has(addr.out, "192.168.1.1/24"), addr.out);
  BOOST_TEST(sh(nslab_cmd(fmt::format("exec {} red -- sh -c 'exit 7'", id))).status == 7);
  // An interactive shell on a terminal (script(1) gives it a pty).
  auto tty =
      sh(fmt::format("printf 'echo \"tty=$(tty | cut -c1-8) links=$(ip -o link | wc -l)\"; exit\\n' | "
                     "SHELL=/bin/sh script -qec '{}' /dev/null | tr -d '\\r'",
                     nslab_cmd("exec " + id + " blue")));
  BOOST_TEST(has(tty.out, "tty=/dev/pts links=2"), tty.out);
  if (machine_root()) {
    // The machine's root gets the machine's /run/netns: ip netns works too.
    BOOST_TEST(sh("ip netns list").out.find(id + "-red") != std::string::npos);
    BOOST_TEST(sh(fmt::format("ip netns exec {}-blue ping -c1 -W2 192.168.1.1", id)).status == 0);
  }

  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 0, down.out);
  BOOST_TEST(has(down.out, fmt::format("{}: stopped keeper {}", id, keeper)), down.out);
  BOOST_TEST(has(down.out, fmt::format("{0}: removed /run/netns/{0}-red", id)), down.out);
  BOOST_TEST(has(down.out, fmt::format("{0}: removed the record of {0}", id)), down.out);
  BOOST_TEST(gone_within(keeper, 5s));
  BOOST_TEST(::access(dir.c_str(), F_OK) != 0);
  BOOST_TEST(nsfs_mounts_of(id).empty());
  BOOST_TEST(has(sh(nslab_cmd("list")).out, "no lab is up"));
  BOOST_TEST(nslab::testing::new_namespaces(before, nslab::testing::take_census()).empty());
}

// Rootless, as an unprivileged user: `up` moves into a user namespace of its
// own; list, exec and down, run outside it, find the lab through the
// records in the user's $XDG_RUNTIME_DIR (under /run, which the sandbox's
// private /run would hide) and exec joins the keeper's namespaces.
BOOST_AUTO_TEST_CASE(rootless_up_list_exec_down_as_an_unprivileged_user,
                     *boost::unit_test::precondition(nslab::testing::can_drop_privileges) *
                         boost::unit_test::precondition(nslab::testing::not_in_a_chroot)) {
  auto file = write("lab.yaml", kLab);
  BOOST_REQUIRE(::mkdir("/run/user", 0755) == 0 && ::mkdir("/run/user/65534", 0700) == 0);
  BOOST_REQUIRE(::chown("/run/user/65534", 65534, 65534) == 0);
  auto as_nobody = [&](const std::string& args) {
    return sh(
        fmt::format("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env "
                    "XDG_RUNTIME_DIR=/run/user/65534 HOME=/tmp {}",
                    nslab_cmd(args)));
  };
  auto up = as_nobody("up " + file + " 2>" + scratch + "/up.err");
  const std::string err = slurp(scratch + "/up.err");
  if (has(err, "cannot create a user namespace")) {
    BOOST_TEST(up.status == 4, err);  // the machine forbids them: a skip with the fix
    return;
  }
  BOOST_TEST_REQUIRE(up.status == 0, up.out << err);
  const std::string id = id_from_stdout(up.out, err);
  const std::string record = "/run/user/65534/nslab/" + id + "/state";
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(record.c_str(), &st) == 0, "no record at " << record);
  BOOST_TEST(st.st_uid == 65534u);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  pid_t keeper = keeper_of(record);

  auto list = as_nobody("list");
  BOOST_TEST(std::regex_search(list.out, std::regex(id + " +running")), list.out);
  auto addr = as_nobody(fmt::format("exec {} red -- ip -o addr show dev veth-red", id));
  BOOST_TEST(addr.status == 0, addr.out);
  BOOST_TEST(has(addr.out, "192.168.1.1/24"), addr.out);
  auto down = as_nobody("down " + id);
  BOOST_TEST(down.status == 0, down.out);
  BOOST_TEST(has(down.out, fmt::format("{}: stopped keeper {}", id, keeper)), down.out);
  BOOST_TEST(gone_within(keeper, 5s));
  BOOST_TEST(::access(record.c_str(), F_OK) != 0);
  BOOST_TEST(has(as_nobody("list").out, "no lab is up"));
}

// `nslab up` is SIGKILLed while its keeper builds the lab: the keeper sees
// that no one waits for it and tears the lab down — no keeper, no record, no
// /run/netns entry.
BOOST_AUTO_TEST_CASE(killing_up_during_its_build_leaves_nothing) {
  const std::string building = scratch + "/building", go = scratch + "/go";
  auto file = write("slow.yaml", fmt::format(R"(name: slow
nodes:
  red:
    run: [ {{ command: "touch {}; while [ ! -e {} ]; do sleep 0.01; done", exit: 0, timeout: 30s }} ]
  blue:
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
)",
                                             building, go));
  int out = ::memfd_create("nslab-test-out", MFD_CLOEXEC);
  pid_t up = spawn_shell("exec " + nslab_cmd("up " + file), out);
  BOOST_TEST_REQUIRE(wait_for_file(building, 10s), read_all(out));
  ::kill(up, SIGKILL);
  ::waitpid(up, nullptr, 0);
  ::close(out);
  std::ofstream(go) << "";
  BOOST_TEST(nslab::testing::none_with_argv_within({NSLAB_BINARY, "up", file}, 10s), "the keeper still runs");
  auto list = sh(nslab_cmd("list"));
  BOOST_TEST(has(list.out, "no lab is up"), list.out);
  BOOST_TEST(sh("ls -A /run/netns 2>/dev/null").out == "");
  BOOST_TEST(nsfs_mounts_of("slow").empty());
}

// `ip netns add` while a lab is up used to stack a bind mount over
// /run/netns that hid the lab's mounts from `down`.
BOOST_AUTO_TEST_CASE(down_removes_everything_after_ip_netns_add,
                     *boost::unit_test::precondition(up_uses_our_run_netns)) {
  std::string id = up(write("lab.yaml", kLab));
  const std::string other = fmt::format("nslab-test-{}", ::getpid());
  BOOST_REQUIRE(sh("ip netns add " + other).status == 0);
  auto down = sh(nslab_cmd("down " + id));
  sh("ip netns del " + other);
  BOOST_TEST(down.status == 0, down.out);
  BOOST_TEST(nsfs_mounts_of(id).empty(), "nsfs mounts stayed: " << nsfs_mounts_of(id).front());
}

// When something cannot be removed, `down` says so, exits 1 and keeps the
// record; a later `down` finishes the job.
BOOST_AUTO_TEST_CASE(down_says_what_stayed_and_can_try_again, *boost::unit_test::precondition(up_uses_our_run_netns)) {
  std::string id = up(write("lab.yaml", kLab));
  // Someone else's mount over /run/netns hides the lab's namespace files.
  BOOST_REQUIRE(sh("mount --bind /run/netns /run/netns").status == 0);
  auto first = sh(nslab_cmd("down " + id));
  BOOST_TEST(first.status == 1, first.out);
  BOOST_TEST(has(first.out, fmt::format("{0}: STAYED: /run/netns/{0}-red: a mount of it is still there, hidden "
                                        "under another mount",
                                        id)),
             first.out);
  BOOST_TEST(!has(first.out, "removed /run/netns"), first.out);
  BOOST_TEST(::access(record(id).c_str(), F_OK) == 0, "the record is gone");
  BOOST_REQUIRE(::umount2("/run/netns", 0) == 0);
  auto second = sh(nslab_cmd("down " + id));
  BOOST_TEST(second.status == 0, second.out);
  BOOST_TEST(has(second.out, fmt::format("{0}: removed /run/netns/{0}-red", id)), second.out);
  BOOST_TEST(nsfs_mounts_of(id).empty());
}

// A record rewritten to point exec elsewhere, or made writable by others, is
// refused: exec does not run, down touches nothing.
BOOST_AUTO_TEST_CASE(tampered_records_are_refused) {
  std::string id = up(write("lab.yaml", kLab));
  const std::string path = record(id), original = slurp(path);
  const std::string own_netns = sh("readlink /proc/self/ns/net").out;
  auto rewrite = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), 0600);
  };

  rewrite(std::regex_replace(original, std::regex("netns red \\S+"), "netns red ../../proc/self/ns/net"));
  auto exec = sh(nslab_cmd(fmt::format("exec {} red -- readlink /proc/self/ns/net", id)));
  BOOST_TEST(exec.status != 0, exec.out);
  BOOST_TEST(!has(exec.out, own_netns), "exec ran in this test's own namespace: " << exec.out);
  BOOST_TEST(has(exec.out, "recorded as \"../../proc/self/ns/net\", not \"" + id + "-red\""), exec.out);
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 1, down.out);
  BOOST_TEST(!has(down.out, "removed"), down.out);
  BOOST_TEST(has(sh(nslab_cmd("list")).out, id + " "));

  rewrite(original);
  ::chmod(path.c_str(), 0666);
  exec = sh(nslab_cmd(fmt::format("exec {} red -- true", id)));
  BOOST_TEST(exec.status != 0, exec.out);
  BOOST_TEST(has(exec.out, "refusing record " + path + " is writable by anyone (mode 0666)"), exec.out);
  down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 1, down.out);
  BOOST_TEST(!has(down.out, "removed"), down.out);
  BOOST_TEST(has(sh(nslab_cmd("list")).out, "refused"));

  ::chmod(path.c_str(), 0600);
  BOOST_TEST(sh(nslab_cmd("down " + id)).status == 0);
}

// A keeper pid that names another process — one of ours, started at that
// very time — is never signalled.
BOOST_AUTO_TEST_CASE(down_signals_only_the_real_keeper) {
  std::string id = up(write("lab.yaml", kLab));
  const std::string path = record(id), original = slurp(path);
  const std::string token = nslab::testing::unique_token(600, 1);
  int out = ::memfd_create("nslab-test-out", MFD_CLOEXEC);
  pid_t decoy = spawn_shell("exec sleep " + token, out);
  ::close(out);
  BOOST_REQUIRE(nslab::testing::some_with_argv_within({"sleep", token}, 5s));
  std::string stat = slurp(fmt::format("/proc/{}/stat", decoy));
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) fields >> field;
  std::ofstream(path, std::ios::trunc) << std::regex_replace(original, std::regex("\nkeeper \\d+ \\d+"),
                                                             fmt::format("\nkeeper {} {}", decoy, field));
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 1, down.out);
  BOOST_TEST(has(down.out, fmt::format("pid {} started when the keeper did but runs", decoy)), down.out);
  BOOST_TEST(!gone_within(decoy, 200ms), "the decoy was signalled");
  ::kill(decoy, SIGKILL);
  ::waitpid(decoy, nullptr, 0);
  std::ofstream(path, std::ios::trunc) << original;
  BOOST_TEST(sh(nslab_cmd("down " + id)).status == 0);
}

// `down ..` once deleted the parent of the state directory.
BOOST_AUTO_TEST_CASE(a_name_that_is_not_a_lab_name_touches_nothing) {
  const std::string parent = scratch + "/parent", root = parent + "/nslab";
  BOOST_REQUIRE(::mkdir(parent.c_str(), 0700) == 0 && ::mkdir(root.c_str(), 0700) == 0);
  // A crafted record one level up, naming itself "..".
  std::ofstream(parent + "/state") << "nslab-kept-lab 1\nid ..\nkeeper 1 1 1\n";
  std::ofstream(parent + "/sentinel") << "still here\n";
  for (const char* name : {"..", ".", "../nslab", "a/b", "-rf"}) {
    auto r = sh(fmt::format("NSLAB_STATE_DIR={} {} down '{}'; echo rc=$?", root, NSLAB_BINARY, name));
    BOOST_TEST(has(r.out, "rc=2"), name << ": " << r.out);
    BOOST_TEST(has(r.out, "is not a lab name"), name << ": " << r.out);
    BOOST_TEST(::access((parent + "/sentinel").c_str(), F_OK) == 0, name << " removed the state directory's parent");
    BOOST_TEST(::access(root.c_str(), F_OK) == 0, name << " removed the state directory");
    auto e = sh(fmt::format("NSLAB_STATE_DIR={} {} exec '{}' red -- true; echo rc=$?", root, NSLAB_BINARY, name));
    BOOST_TEST(has(e.out, "is not a lab name"), name << ": " << e.out);
  }
}

// Records owned by someone else are refused: another user's `down` neither
// claims success nor touches the lab.
BOOST_AUTO_TEST_CASE(another_users_down_is_refused,
                     *boost::unit_test::precondition(nslab::testing::can_drop_privileges)) {
  std::string id = up(write("lab.yaml", kLab));
  const std::string root = state_root();
  auto theirs =
      sh(fmt::format("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env "
                     "NSLAB_STATE_DIR={} {} down {}",
                     root, NSLAB_BINARY, id));
  BOOST_TEST(theirs.status != 0, theirs.out);
  BOOST_TEST(!has(theirs.out, "removed"), theirs.out);
  BOOST_TEST(std::regex_search(sh(nslab_cmd("list")).out, std::regex(id + " +running")));
  // A record made someone else's is refused even by root.
  BOOST_REQUIRE(::chown(record(id).c_str(), 65534, 65534) == 0);
  auto refused = sh(nslab_cmd("down " + id));
  BOOST_TEST(refused.status == 1, refused.out);
  BOOST_TEST(has(refused.out, "is owned by uid 65534, not by you (uid 0)"), refused.out);
  BOOST_REQUIRE(::chown(record(id).c_str(), 0, 0) == 0);
  BOOST_TEST(sh(nslab_cmd("down " + id)).status == 0);
}

// Inside a PID namespace whose /proc shows the host's processes, up cannot
// record a pid that down would understand, and says so; with a /proc of its
// own, it records its namespace, and down from outside refuses to signal a
// pid that means another process here.
BOOST_AUTO_TEST_CASE(up_inside_a_pid_namespace, *boost::unit_test::precondition(nslab::testing::not_in_a_chroot)) {
  auto file = write("lab.yaml", kLab);
  auto refused = sh("unshare -pf " + nslab_cmd("up " + file));
  BOOST_TEST(refused.status == 1, refused.out);
  BOOST_TEST(has(refused.out, "/proc shows another PID namespace's processes"), refused.out);
  BOOST_TEST(has(sh(nslab_cmd("list")).out, "no lab is up"));

  const std::string token = nslab::testing::unique_token(600, 2), printed = scratch + "/up.out";
  int out = ::memfd_create("nslab-test-out", MFD_CLOEXEC);
  pid_t inner = spawn_shell(fmt::format("exec unshare -pf --mount-proc sh -c '{} > {} 2> {}.err; exec sleep {}'",
                                        nslab_cmd("up " + file), printed, printed, token),
                            out);
  BOOST_TEST_REQUIRE(nslab::testing::some_with_argv_within({"sleep", token}, 10s), read_all(out));
  ::close(out);
  const std::string id = id_from_stdout(slurp(printed), slurp(printed + ".err"));
  auto keepers = nslab::testing::processes_with_argv({NSLAB_BINARY, "up", file});
  BOOST_TEST_REQUIRE(keepers.size() == 1u);
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 1, down.out);
  BOOST_TEST(has(down.out, "was recorded in another PID namespace"), down.out);
  BOOST_TEST(has(down.out, "nothing was touched"), down.out);
  BOOST_TEST(!gone_within(keepers[0], 200ms), "the keeper was stopped from outside its PID namespace");
  // From inside its PID namespace, down works.
  pid_t sleeper = nslab::testing::processes_with_argv({"sleep", token}).at(0);
  auto inside = sh(fmt::format("nsenter -t {} -p -m {}", sleeper, nslab_cmd("down " + id)));
  BOOST_TEST(inside.status == 0, inside.out);
  BOOST_TEST(gone_within(keepers[0], 5s));
  ::kill(sleeper, SIGKILL);  // PID 1 of its namespace: only SIGKILL reaches it
  ::waitpid(inner, nullptr, 0);
}

// exec enters only the namespace up made: a namespace file swapped for this
// test's own namespace is refused, and down leaves it alone.
BOOST_AUTO_TEST_CASE(exec_refuses_a_namespace_file_up_did_not_make,
                     *boost::unit_test::precondition(nslab::testing::not_in_a_chroot)) {
  std::string id = up(write("lab.yaml", kLab));
  pid_t keeper = keeper_of(record(id));
  const std::string own_netns = sh("readlink /proc/self/ns/net").out;
  // In the keeper's mount namespace (where its /run/netns is).
  auto swap =
      sh(fmt::format("nsenter -t {0} -m sh -c 'umount /run/netns/{1}-red && mount --bind /proc/{2}/ns/net "
                     "/run/netns/{1}-red'",
                     keeper, id, ::getpid()));
  BOOST_TEST_REQUIRE(swap.status == 0, swap.out);
  auto exec = sh(nslab_cmd(fmt::format("exec {} red -- readlink /proc/self/ns/net", id)));
  BOOST_TEST(exec.status != 0, exec.out);
  BOOST_TEST(!has(exec.out, own_netns), "exec ran in this test's own namespace: " << exec.out);
  BOOST_TEST(has(exec.out, fmt::format("refusing /run/netns/{}-red: it is not the network namespace up made", id)),
             exec.out);
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 1, down.out);
  BOOST_TEST(has(down.out, fmt::format("STAYED: /run/netns/{}-red is not the namespace up made for node \"red\"; "
                                       "left alone",
                                       id)),
             down.out);
}

// A keeper killed with SIGKILL leaves its /run/netns entries and its record:
// list calls the lab orphaned, down says the keeper has exited and removes
// what it left.
BOOST_AUTO_TEST_CASE(down_after_the_keeper_was_killed) {
  std::string id = up(write("lab.yaml", kLab));
  pid_t keeper = keeper_of(record(id));
  BOOST_TEST_REQUIRE(keeper > 0);
  BOOST_REQUIRE(::kill(keeper, SIGKILL) == 0);
  BOOST_TEST_REQUIRE(gone_within(keeper, 5s));
  auto list = sh(nslab_cmd("list"));
  BOOST_TEST(std::regex_search(list.out, std::regex(id + " +orphaned +red,blue")), list.out);
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 0, down.out);
  BOOST_TEST(has(down.out, fmt::format("{}: the keeper (pid {}) has exited", id, keeper)), down.out);
  if (machine_root()) BOOST_TEST(has(down.out, fmt::format("{0}: removed /run/netns/{0}-red", id)), down.out);
  BOOST_TEST(has(down.out, fmt::format("{0}: removed the record of {0}", id)), down.out);
  BOOST_TEST(::access((state_root() + "/" + id).c_str(), F_OK) != 0);
  BOOST_TEST(nsfs_mounts_of(id).empty());
  BOOST_TEST(has(sh(nslab_cmd("list")).out, "no lab is up"));
}

// A lab kept up inside a PID namespace that later died (its PID 1 SIGKILLed,
// which kills the keeper too): its pid means nothing anywhere now, but the
// keeper's lock on its record is free, so list calls it orphaned and down
// from outside removes what is left — here the /run/netns entries that
// propagated to this mount namespace through a shared /run, and the record.
BOOST_AUTO_TEST_CASE(down_after_the_keepers_pid_namespace_died) {
  auto file = write("lab.yaml", kLab);
  BOOST_REQUIRE(::mount(nullptr, "/run", nullptr, MS_SHARED, nullptr) == 0);
  const std::string token = nslab::testing::unique_token(600, 3), printed = scratch + "/up.out";
  // Whatever fails below, that PID namespace does not outlive the test.
  struct Reap {
    std::string token;
    ~Reap() {
      for (pid_t p : nslab::testing::processes_with_argv({"sleep", token})) ::kill(p, SIGKILL);
    }
  } reap{token};
  int out = ::memfd_create("nslab-test-out", MFD_CLOEXEC);
  pid_t inner = spawn_shell(fmt::format("exec unshare -pf --mount-proc --propagation unchanged sh -c "
                                        "'{} > {} 2> {}.err; exec sleep {}'",
                                        nslab_cmd("up " + file), printed, printed, token),
                            out);
  BOOST_TEST_REQUIRE(nslab::testing::some_with_argv_within({"sleep", token}, 10s), read_all(out));
  ::close(out);
  const std::string id = id_from_stdout(slurp(printed), slurp(printed + ".err"));
  auto keepers = nslab::testing::processes_with_argv({NSLAB_BINARY, "up", file});
  BOOST_TEST_REQUIRE(keepers.size() == 1u);
  if (machine_root()) BOOST_TEST(!nsfs_mounts_of(id).empty(), "the lab's mounts did not propagate here");
  // While it lives, it is another PID namespace's: not touched from here.
  auto early = sh(nslab_cmd("down " + id));
  BOOST_TEST(early.status == 1, early.out);
  BOOST_TEST(has(early.out, "nothing was touched"), early.out);

  pid_t sleeper = nslab::testing::processes_with_argv({"sleep", token}).at(0);
  ::kill(sleeper, SIGKILL);  // PID 1 of that namespace: the kernel kills the rest of it
  ::waitpid(inner, nullptr, 0);
  BOOST_TEST_REQUIRE(gone_within(keepers[0], 5s));

  auto list = sh(nslab_cmd("list"));
  BOOST_TEST(std::regex_search(list.out, std::regex(id + " +orphaned +red,blue")), list.out);
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 0, down.out);
  BOOST_TEST(has(down.out, "has exited: it no longer holds the record's lock, and that PID namespace has ended"),
             down.out);
  if (machine_root()) BOOST_TEST(has(down.out, fmt::format("{0}: removed /run/netns/{0}-red", id)), down.out);
  BOOST_TEST(has(down.out, fmt::format("{0}: removed the record of {0}", id)), down.out);
  BOOST_TEST(nsfs_mounts_of(id).empty(), "left: " << nsfs_mounts_of(id).front());
  BOOST_TEST(sh("ls -A /run/netns 2>/dev/null").out == "");
  BOOST_TEST(has(sh(nslab_cmd("list")).out, "no lab is up"));
}

// An entry someone else removed (`ip netns del`) is reported as not there,
// never as removed by down.
BOOST_AUTO_TEST_CASE(down_does_not_claim_what_was_already_gone,
                     *boost::unit_test::precondition(up_uses_our_run_netns)) {
  std::string id = up(write("lab.yaml", kLab));
  BOOST_REQUIRE(sh(fmt::format("ip netns del {}-red", id)).status == 0);
  auto down = sh(nslab_cmd("down " + id));
  BOOST_TEST(down.status == 0, down.out);
  BOOST_TEST(has(down.out, fmt::format("{0}: /run/netns/{0}-red was not there", id)), down.out);
  BOOST_TEST(!has(down.out, fmt::format("removed /run/netns/{}-red", id)), down.out);
  BOOST_TEST(has(down.out, fmt::format("{0}: removed /run/netns/{0}-blue", id)), down.out);
  BOOST_TEST(nsfs_mounts_of(id).empty());
}

// A state directory owned by another user is refused with the uids the
// machine knows: inside up's rootless sandbox, where that owner is unmapped
// (the kernel shows 65534) and the caller is uid 0, as outside it.
BOOST_AUTO_TEST_CASE(refusals_name_the_machines_uids,
                     *boost::unit_test::precondition(nslab::testing::can_drop_privileges)) {
  auto file = write("lab.yaml", kLab);
  const std::string root = scratch + "/theirs";
  BOOST_REQUIRE(::mkdir(root.c_str(), 0755) == 0 && ::chown(root.c_str(), 1234, 1234) == 0);
  auto as_nobody = [&](const std::string& args) {
    return sh(
        fmt::format("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env "
                    "NSLAB_STATE_DIR={} HOME=/tmp {}",
                    root, nslab_cmd(args)));
  };
  auto up = as_nobody("up " + file);
  if (!has(up.out, "cannot create a user namespace")) {
    BOOST_TEST(up.status == 1, up.out);
    BOOST_TEST(has(up.out,
                   "is owned by a uid that this user namespace does not map (another user's), not by you "
                   "(uid 65534)"),
               up.out);
    BOOST_TEST(!has(up.out, "uid 0"), up.out);
  }
  auto list = as_nobody("list");
  BOOST_TEST(has(list.out, "is owned by uid 1234, not by you (uid 65534)"), list.out);
}

// `up --name NAME`: the lab is NAME (its nodes NAME-NODE), a second lab of
// that name is refused before anything is built, a name that could not be a
// lab's is refused, and after `down` the name is free again.
BOOST_AUTO_TEST_CASE(up_with_a_fixed_name) {
  auto before = nslab::testing::take_census();
  auto file = write("lab.yaml", kLab);
  const std::string err = scratch + "/up.err";
  auto first = sh(nslab_cmd("up --name office-1 " + file) + " 2>" + err);
  BOOST_TEST_REQUIRE(first.status == 0, first.out << slurp(err));
  BOOST_TEST(first.out == "office-1\n");
  BOOST_TEST(::access(record("office-1").c_str(), F_OK) == 0);
  auto addr = sh(nslab_cmd("exec office-1 red -- ip -o addr show dev veth-red"));
  BOOST_TEST(has(addr.out, "192.168.1.1/24"), addr.out);

  auto census = nslab::testing::take_census();
  auto again = sh(nslab_cmd("up --name office-1 " + file));
  BOOST_TEST(again.status == 2, again.out);
  BOOST_TEST(has(again.out, "a lab named \"office-1\" is up already (nslab down office-1)"), again.out);
  // Refused before building: no namespace was made for it.
  BOOST_TEST(nslab::testing::new_namespaces(census, nslab::testing::take_census()).empty());
  for (const char* bad : {"../x", "-x", "a b", "a/b"}) {
    auto r = sh(nslab_cmd(fmt::format("up --name '{}' {}", bad, file)));
    BOOST_TEST(r.status == 2, bad << ": " << r.out);
    BOOST_TEST(has(r.out, "cannot name a lab"), r.out);
  }
  BOOST_TEST(sh(nslab_cmd("down office-1")).status == 0);
  auto reuse = sh(nslab_cmd("up --name office-1 " + file) + " 2>" + err);
  BOOST_TEST(reuse.status == 0, reuse.out << slurp(err));
  BOOST_TEST(sh(nslab_cmd("down office-1")).status == 0);
  BOOST_TEST(nsfs_mounts_of("office-1").empty());
  BOOST_TEST(nslab::testing::new_namespaces(before, nslab::testing::take_census()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
