// Kept labs' records are trusted only as far as they can be checked: tampered
// records, decoy keepers, names that are not lab names, other users' records
// and other PID namespaces' keepers are refused, and nothing is touched.
#include <boost/test/unit_test.hpp>

#include "kept_labs.h"

using namespace nslab::testing::kept;
using namespace std::chrono_literals;
using nslab::testing::has;

BOOST_FIXTURE_TEST_SUITE(kept_lab_trust, KeptLabs)

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

// A hostname in a record is a plain hostname of a node the record lists:
// exec would give it to a shell (sethostname), so anything else is refused.
BOOST_AUTO_TEST_CASE(a_tampered_hostname_is_refused) {
  std::string id = up(write("lab.yaml", kLab));
  const std::string path = record(id), original = slurp(path);
  for (const char* line : {"hostname red bad/name", "hostname green web1", "hostname red"}) {
    std::ofstream(path, std::ios::trunc) << original << line << "\n";
    auto exec = sh(nslab_cmd(fmt::format("exec {} red -- hostname", id)));
    BOOST_TEST(exec.status != 0, line << ": " << exec.out);
    BOOST_TEST(has(exec.out, "refusing the record " + path), line << ": " << exec.out);
  }
  std::ofstream(path, std::ios::trunc) << original << "hostname red web1\n";
  auto named = sh(nslab_cmd(fmt::format("exec {} red -- hostname", id)));
  BOOST_TEST(named.out == "web1\n", named.out);
  std::ofstream(path, std::ios::trunc) << original;
  BOOST_TEST(sh(nslab_cmd("down " + id)).status == 0);
}

BOOST_AUTO_TEST_SUITE_END()
