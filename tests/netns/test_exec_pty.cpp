// `nslab exec` as a person uses it: an interactive shell on a terminal (a
// tmux pane, so a real pty), whose prompt names the lab and the node and
// whose hostname is the node's own — never the machine's.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <sys/utsname.h>

#include "kept_labs.h"

using namespace nslab::testing::kept;
using namespace std::chrono_literals;
using nslab::testing::has;

namespace {

const char* kNamed = R"(name: named
nodes:
  red:
    hostname: web1
  blue:
links:
  - [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ]
)";

// A tmux server of this test's own (its own socket), killed at the end.
// The socket is a path of its own (-S), not one under /tmp/tmux-UID: in a
// user namespace (the rootless lane) uid 0 would meet the real root's
// /tmp/tmux-0, which tmux refuses as unsafe.
struct Tmux {
  std::string socket = fmt::format("/tmp/nslab-tmux-{}", ::getpid());
  ~Tmux() {
    sh(cmd("kill-server"));
    ::unlink(socket.c_str());
  }
  std::string cmd(const std::string& args) const { return fmt::format("tmux -S {} -f /dev/null {}", socket, args); }
  // A detached session running command in a 200x50 pane.
  void open(const std::string& session, const std::string& command) const {
    auto r = sh(cmd(fmt::format("new-session -d -s {} -x 200 -y 50 \"{}\"", session, command)));
    BOOST_TEST_REQUIRE(r.status == 0, r.out);
  }
  void type(const std::string& session, const std::string& line) const {
    sh(cmd(fmt::format("send-keys -t {} -l '{}'", session, line)));
    sh(cmd(fmt::format("send-keys -t {} Enter", session)));
  }
  std::string screen(const std::string& session) const { return sh(cmd("capture-pane -p -t " + session)).out; }
  // The pane once it shows `what`, or what it shows after the limit.
  std::string wait_for(const std::string& session, const std::string& what,
                       std::chrono::milliseconds limit = 10s) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string s;
    while (!has(s = screen(session), what) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    return s;
  }
};

// A precondition: tmux (ci/setup installs it) gives these tests a real pty.
boost::test_tools::assertion_result have_tmux(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(sh("tmux -V").status == 0);
  if (!r) r.message() << "tmux is not installed (ci/setup installs it)";
  return r;
}

std::string machine_hostname() {
  utsname u{};
  ::uname(&u);
  return u.nodename;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(exec_pty, KeptLabs, *boost::unit_test::precondition(have_tmux))

// bash, with a ~/.bashrc that sets its own PS1 (as Debian's does): the
// prompt still starts with "(LAB:NODE) ", and \h is the node's hostname.
BOOST_AUTO_TEST_CASE(bash_prompt_names_the_lab_and_node_and_the_hostname_is_the_nodes) {
  BOOST_REQUIRE(::access("/bin/bash", X_OK) == 0);
  const std::string err = scratch + "/up.err";
  auto up = sh(nslab_cmd("up --name pty " + write("lab.yaml", kNamed)) + " 2>" + err);
  BOOST_TEST_REQUIRE(up.status == 0, up.out << slurp(err));
  const std::string home = scratch + "/home";
  ::mkdir(home.c_str(), 0755);
  std::ofstream(home + "/.bashrc") << "PS1='\\u@\\h:\\w\\$ '\n";
  Tmux tmux;
  tmux.open("red", fmt::format("env HOME={} SHELL=/bin/bash {}", home, nslab_cmd("exec pty red")));
  auto prompt = tmux.wait_for("red", "(pty:red)");
  BOOST_TEST_REQUIRE(std::regex_search(prompt, std::regex("\\(pty:red\\) [^@ ]+@web1:")), prompt);
  tmux.type("red", "echo \"host=$(hostname) lab=$NSLAB_LAB node=$NSLAB_NODE tty=$(tty | cut -c1-8)\"");
  auto screen = tmux.wait_for("red", "host=web1 ");
  BOOST_TEST(has(screen, "host=web1 lab=pty node=red tty=/dev/pts"), screen);
  // The machine keeps its own hostname.
  BOOST_TEST(machine_hostname() != "web1");
  BOOST_TEST(sh("hostname").out != "web1\n");
}

// A node without `hostname:` is named after itself; sh (dash) gets the
// prompt through PS1; a command (no shell) gets the hostname too.
BOOST_AUTO_TEST_CASE(sh_prompt_and_a_node_without_hostname) {
  const std::string err = scratch + "/up.err";
  auto up = sh(nslab_cmd("up --name pty2 " + write("lab.yaml", kNamed)) + " 2>" + err);
  BOOST_TEST_REQUIRE(up.status == 0, up.out << slurp(err));
  Tmux tmux;
  tmux.open("blue", "env SHELL=/bin/sh " + nslab_cmd("exec pty2 blue"));
  auto prompt = tmux.wait_for("blue", "(pty2:blue)");
  BOOST_TEST(std::regex_search(prompt, std::regex("\\(pty2:blue\\) [#$]")), prompt);
  tmux.type("blue", "echo \"host=$(hostname)\"");
  auto screen = tmux.wait_for("blue", "host=blue");
  BOOST_TEST(has(screen, "host=blue"), screen);
  auto cmd = sh(nslab_cmd("exec pty2 red -- hostname"));
  BOOST_TEST(cmd.status == 0, cmd.out);
  BOOST_TEST(cmd.out == "web1\n");
}

BOOST_AUTO_TEST_SUITE_END()
