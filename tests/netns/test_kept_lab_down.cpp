// `nslab down` removes exactly what `up` made, says what stayed, and finishes
// the job after the keeper (or its PID namespace) died.
#include <boost/test/unit_test.hpp>

#include "kept_labs.h"

using namespace nslab::testing::kept;
using namespace std::chrono_literals;
using nslab::testing::has;

BOOST_FIXTURE_TEST_SUITE(kept_lab_down, KeptLabs)

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

BOOST_AUTO_TEST_SUITE_END()
