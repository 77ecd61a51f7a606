// Descriptor limits: a large lab gives its nodes' netlink sockets back once
// built and reopens them on demand, builds even where the limit leaves no
// room for a socket per node, and a lab that runs out of descriptors says so
// ("too many open files (limit N)"), not "Unspecific failure".
//
// Each case runs in a forked child with a low hard RLIMIT_NOFILE and without
// CAP_SYS_RESOURCE, so that the lab cannot raise the limit back.
#include <boost/test/unit_test.hpp>

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "netlink.h"
#include "node_internals.h"
#include "nslab/environment.h"
#include "nslab/error.h"
#include "nslab/lab.h"

using namespace std::chrono_literals;

namespace {

nslab::Topology star(int n) {
  nslab::Topology t("star");
  t.add_node("host").bridge("br", {"10.0.255.254/16"});
  for (int i = 1; i <= n; ++i) {
    t.add_node(fmt::format("n{}", i));
    t.link(fmt::format("n{}:eth0 10.0.{}.{}/16", i, i / 250, i % 250 + 1), fmt::format("host:p{}@br", i));
  }
  return t;
}

int open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n - 3;  // ".", ".." and the directory's own descriptor
}

void limit_descriptors(rlim_t limit) {
  rlimit lim{limit, limit};
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(90);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) ::_exit(91);
  data[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
  data[CAP_SYS_RESOURCE / 32].permitted &= ~(1u << (CAP_SYS_RESOURCE % 32));
  if (::syscall(SYS_capset, &hdr, data) != 0) ::_exit(92);
}

// Runs fn in a child; returns its exit code. The child reports failures on stderr.
template <typename F>
int in_child(F&& fn) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = 1;
    try {
      code = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: unexpected exception: %s\n", e.what());
    }
    ::_exit(code);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void skip_without_labs() {
  if (auto why = nslab::lab_environment_problem()) {
    std::printf("SKIP: %s\n", why->c_str());
    std::exit(4);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_large_lab_holds_one_descriptor_per_node_once_built) {
  skip_without_labs();
  int code = in_child([] {
    // 301 nodes hold 602 descriptors while building: more than a quarter of
    // 2,000, so the lab closes its netlink sockets once built.
    limit_descriptors(2000);
    int before = open_fds();
    nslab::Lab lab(star(300));
    int held = open_fds() - before;
    if (held > 301 + 16) {
      std::fprintf(stderr, "child: the built lab holds %d descriptors for 301 nodes\n", held);
      return 1;
    }
    if (nslab::NodeInternals::netlink(lab.node("n7")).is_open()) {
      std::fprintf(stderr, "child: n7's netlink socket is still open\n");
      return 1;
    }
    // Reopened inside the right node on demand.
    auto eth0 = nslab::NodeInternals::netlink(lab.node("n7")).find_link("eth0");
    if (!eth0 || !nslab::NodeInternals::netlink(lab.node("n7")).is_open()) {
      std::fprintf(stderr, "child: n7's reopened socket does not see its eth0\n");
      return 1;
    }
    if (nslab::NodeInternals::netlink(lab.node("host")).find_link("eth0")) {
      std::fprintf(stderr, "child: host's reopened socket sees an eth0 (the wrong namespace)\n");
      return 1;
    }
    if (lab.ping("n1", "n300") != nslab::Verdict::reachable) {
      std::fprintf(stderr, "child: n1 does not reach n300\n");
      return 1;
    }
    return 0;
  });
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_CASE(a_lab_that_cannot_hold_two_descriptors_per_node_still_builds) {
  skip_without_labs();
  int code = in_child([] {
    // 401 nodes would hold 802 descriptors while building; the limit is 700.
    limit_descriptors(700);
    nslab::Lab lab(star(400));
    if (!nslab::NodeInternals::netlink(lab.node("n400")).find_link("eth0")) {
      std::fprintf(stderr, "child: n400 has no eth0\n");
      return 1;
    }
    // And it probes: reopening all 401 sockets for the stillness census
    // would not fit, so a probe nobody answers waits out its timeout.
    if (lab.ping("n1", "n400") != nslab::Verdict::reachable) {
      std::fprintf(stderr, "child: n1 does not reach n400\n");
      return 1;
    }
    auto lost = lab.probe(nslab::Probe{.from = "n1", .to = "10.0.250.250"}, nslab::ProbeOptions{.timeout = 300ms});
    if (lost.verdict != nslab::Verdict::blocked || lost.detail.find("too many to watch") == std::string::npos) {
      std::fprintf(stderr, "child: the unanswered probe: %s, %s\n", std::string(to_string(lost.verdict)).c_str(),
                   lost.detail.c_str());
      return 1;
    }
    return 0;
  });
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_CASE(a_small_lab_keeps_its_sockets) {
  skip_without_labs();
  int code = in_child([] {
    nslab::Lab lab(star(3));
    return nslab::NodeInternals::netlink(lab.node("n1")).is_open() ? 0 : 1;
  });
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_CASE(running_out_of_descriptors_names_the_limit) {
  skip_without_labs();
  int code = in_child([] {
    limit_descriptors(100);  // 61 nodes need 122 while building
    try {
      nslab::Lab lab(star(60));
      std::fprintf(stderr, "child: a lab of 61 nodes built with 100 descriptors\n");
      return 1;
    } catch (const nslab::EnvironmentError& e) {
      std::string what = e.what();
      if (what.find("too many open files (limit 100") == std::string::npos) {
        std::fprintf(stderr, "child: the message does not name the limit: %s\n", what.c_str());
        return 1;
      }
      return 0;
    }
  });
  BOOST_TEST(code == 0);
}
