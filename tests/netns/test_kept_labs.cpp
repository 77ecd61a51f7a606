// `nslab up / list / exec / down` round trips, as root, as an unprivileged
// user (rootless) and with a fixed name; and `up` killed while it builds.
#include <boost/test/unit_test.hpp>

#include "kept_labs.h"

using namespace nslab::testing::kept;
using namespace std::chrono_literals;
using nslab::testing::has;

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

// `down --all` brings down every lab this user keeps up — each named, each
// keeper stopped — and leaves another user's state directory alone.
BOOST_AUTO_TEST_CASE(down_all_removes_every_kept_lab) {
  auto before = nslab::testing::take_census();
  auto file = write("lab.yaml", kLab);
  const std::string err = scratch + "/up.err";
  std::vector<std::pair<std::string, pid_t>> labs;
  for (const char* name : {"first", "second"}) {
    auto r = sh(nslab_cmd(fmt::format("up --name {} {}", name, file)) + " 2>" + err);
    BOOST_TEST_REQUIRE(r.status == 0, r.out << slurp(err));
    labs.emplace_back(name, keeper_of(record(name)));
  }
  auto down = sh(nslab_cmd("down --all"));
  BOOST_TEST(down.status == 0, down.out);
  for (const auto& [id, keeper] : labs) {
    BOOST_TEST(has(down.out, fmt::format("{}: stopped keeper {}", id, keeper)), down.out);
    BOOST_TEST(has(down.out, fmt::format("{0}: removed the record of {0}", id)), down.out);
    BOOST_TEST(gone_within(keeper, 5s));
    BOOST_TEST(nsfs_mounts_of(id).empty());
  }
  BOOST_TEST(has(sh(nslab_cmd("list")).out, "no lab is up"));
  auto again = sh(nslab_cmd("down --all"));
  BOOST_TEST(again.status == 0, again.out);
  BOOST_TEST(nslab::testing::new_namespaces(before, nslab::testing::take_census()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
