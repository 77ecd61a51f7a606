// One node's Open vSwitch daemons (ovs_daemons.h).
#include "ovs_daemons.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>

#include "nslab/error.h"
#include "nslab/fd.h"
#include "nslab/node.h"
#include "subprocess.h"
#include "sys.h"

namespace nslab::detail {

namespace {

using Clock = std::chrono::steady_clock;

// OVS installs its daemons in sbin, which an ordinary user's PATH may lack.
std::string ovs_program(const std::string& name) {
  std::string p = find_program(name);
  if (!p.empty()) return p;
  for (const char* dir : {"/usr/sbin/", "/usr/local/sbin/", "/sbin/"}) {
    std::string full = dir + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return {};
}

std::string schema_path() {
  std::vector<std::string> dirs;
  if (const char* d = std::getenv("OVS_PKGDATADIR"); d && *d) dirs.emplace_back(d);
  dirs.emplace_back("/usr/share/openvswitch");
  dirs.emplace_back("/usr/local/share/openvswitch");
  for (const auto& d : dirs)
    if (::access((d + "/vswitch.ovsschema").c_str(), R_OK) == 0) return d + "/vswitch.ovsschema";
  return {};
}

// True once something accepts connections on the unix socket.
bool accepts(const std::string& path) {
  sockaddr_un a{};
  if (path.size() >= sizeof a.sun_path) return false;
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return s && ::connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
}

// Waits until the daemon accepts on `socket`: each new file in the
// directory wakes the wait (inotify); a socket bound but not yet listening
// refuses, so look again shortly after. Throws when the daemon exits or the
// time is up.
void wait_socket(const std::string& dir, const std::string& socket, Process& daemon,
                 std::chrono::milliseconds timeout) {
  Fd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (in) ::inotify_add_watch(in.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO);
  const auto deadline = Clock::now() + timeout;
  while (!accepts(socket)) {
    daemon.require_running();
    if (Clock::now() >= deadline)
      throw TimeoutError(fmt::format("{} did not accept on {} within {} ms; the end of its output:\n{}", daemon.label(),
                                     socket, timeout.count(), daemon.log_tail()));
    pollfd p{in.get(), POLLIN, 0};
    ::poll(&p, in ? 1 : 0, 5);
    char buf[4096];
    while (in && ::read(in.get(), buf, sizeof buf) > 0) {}
  }
}

}  // namespace

std::string ovs_missing() {
  for (const char* tool : {"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"})
    if (ovs_program(tool).empty())
      return fmt::format("Open vSwitch is not installed: no \"{}\" (Debian: apt-get install openvswitch-switch)", tool);
  if (schema_path().empty())
    return "Open vSwitch is not installed: no vswitch.ovsschema in /usr/share/openvswitch (set OVS_PKGDATADIR)";
  return {};
}

OvsDaemons::OvsDaemons(const Node& node, ProcessSpec settings) : node_(node), settings_(std::move(settings)) {
  if (auto why = ovs_missing(); !why.empty()) throw EnvironmentError(fmt::format("node \"{}\": {}", node.name(), why));
  // A short path: unix socket names have 108 bytes at most.
  char tmpl[] = "/tmp/nslab-ovs-XXXXXX";
  if (!::mkdtemp(tmpl))
    throw SystemError(fmt::format("node \"{}\": cannot create a directory for Open vSwitch in /tmp", node.name()),
                      errno);
  dir_ = tmpl;
  try {
    guardian_ = std::make_unique<Subprocess>(SubprocessSpec{
        .label = fmt::format("the Open vSwitch guardian of node \"{}\"", node.name()), .remove_trees = {dir_}});
  } catch (...) {
    ::rmdir(dir_.c_str());
    throw;
  }
  auto created = run_program({ovs_program("ovsdb-tool"), "create", dir_ + "/conf.db", schema_path()}, {},
                             std::chrono::seconds(30));
  if (!created.ok())
    throw ProcessError(fmt::format("node \"{}\": ovsdb-tool cannot create the database ({}): {}", node.name(),
                                   created.timed_out ? "timed out" : fmt::format("exit {}", created.status),
                                   created.output));
  ProcessSpec db = settings_;
  db.argv = {ovs_program("ovsdb-server"),
             dir_ + "/conf.db",
             "--remote=punix:" + dir_ + "/db.sock",
             "--unixctl=" + dir_ + "/ovsdb-server.ctl",
             "--no-chdir",
             "-vconsole:warn",
             "-vsyslog:off"};
  db.env = environment();
  ovsdb_ = std::make_unique<Process>(node, std::move(db));
}

OvsDaemons::~OvsDaemons() {
  vswitchd_.reset();
  ovsdb_.reset();
  guardian_.reset();
}

void OvsDaemons::start_switch(std::chrono::milliseconds timeout) {
  wait_socket(dir_, dir_ + "/db.sock", *ovsdb_, timeout);
  ProcessSpec sw = settings_;
  sw.argv = {ovs_program("ovs-vswitchd"),
             "unix:" + dir_ + "/db.sock",
             "--unixctl=" + dir_ + "/ovs-vswitchd.ctl",
             "--no-chdir",
             "-vconsole:warn",
             "-vsyslog:off"};
  sw.env = environment();
  vswitchd_ = std::make_unique<Process>(node_, std::move(sw));
  wait_socket(dir_, dir_ + "/ovs-vswitchd.ctl", *vswitchd_, timeout);
}

std::map<std::string, std::string> OvsDaemons::environment() const {
  return {{"OVS_RUNDIR", dir_}, {"OVS_DBDIR", dir_}, {"OVS_LOGDIR", dir_}, {"OVS_SYSCONFDIR", dir_}};
}

ProcessResult OvsDaemons::run(std::vector<std::string> argv, std::chrono::milliseconds timeout) const {
  std::string exe = ovs_program(argv.at(0));
  if (exe.empty()) throw EnvironmentError(fmt::format("\"{}\" is not installed (Open vSwitch)", argv[0]));
  std::string label = fmt::format("{}: {}", node_.name(), argv[0]);
  argv[0] = exe;
  Subprocess p(SubprocessSpec{
      .argv = std::move(argv), .env = environment(), .netns_fd = node_.netns().fd(), .label = std::move(label)});
  std::optional<int> code = p.wait_for(timeout);
  p.kill_tree();
  ProcessResult r;
  r.timed_out = !code;
  r.status = code ? *code : p.exit_code().value_or(128 + 9);
  r.output = p.output();
  return r;
}

std::vector<Process*> OvsDaemons::processes() const {
  std::vector<Process*> out;
  // The switch first: a probe that waits for a lab program names it.
  if (vswitchd_) out.push_back(vswitchd_.get());
  if (ovsdb_) out.push_back(ovsdb_.get());
  return out;
}

std::vector<int> OvsDaemons::pids() const {
  auto parent_of = [](int pid) {
    auto st = sys::read_stat(AT_FDCWD, fmt::format("/proc/{}/stat", pid).c_str());
    return st ? st->ppid : 0;
  };
  std::vector<int> out;
  for (const Process* p : processes()) {
    out.push_back(p->pid());
    int supervisor = parent_of(p->pid());
    if (supervisor > 0 && parent_of(supervisor) == ::getpid()) out.push_back(supervisor);
  }
  return out;
}

}  // namespace nslab::detail
