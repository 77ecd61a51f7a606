// `nslab capture LAB NODE:IF [FILTER]`: a live pcap stream on standard output,
// read here as Wireshark reads `-i -`: libpcap's pcap_fopen_offline on the
// pipe, packet by packet while a ping runs in the kept lab.
#include <boost/test/unit_test.hpp>

#include <pcap/pcap.h>

#include "kept_labs.h"

using namespace nslab::testing::kept;
using namespace std::chrono_literals;
using nslab::testing::has;

namespace {

// `nslab ARGS` with its stdout on a pipe (returned) and its stderr in a memfd.
struct Running {
  pid_t pid = 0;
  int out = -1;  // read end of its stdout
  int err = -1;  // memfd holding its stderr
  int wait() {
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ~Running() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (err >= 0) ::close(err);
  }
};

void start(Running& r, const std::string& args) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  r.err = ::memfd_create("nslab-test-err", MFD_CLOEXEC);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, p[1], 1);
  posix_spawn_file_actions_adddup2(&actions, r.err, 2);
  const std::string command = "exec " + nslab_cmd(args);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  BOOST_REQUIRE(::posix_spawn(&r.pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(p[1]);
  r.out = p[0];
}

struct Icmp {
  std::string src, dst;
  int type = -1;
};

// An Ethernet + IPv4 + ICMP packet's addresses and ICMP type.
std::optional<Icmp> icmp_of(const pcap_pkthdr* h, const u_char* d) {
  if (h->caplen < 14 + 20 + 8 || d[12] != 0x08 || d[13] != 0x00 || d[14 + 9] != 1) return std::nullopt;
  auto addr = [&](int at) { return fmt::format("{}.{}.{}.{}", d[at], d[at + 1], d[at + 2], d[at + 3]); };
  int ihl = (d[14] & 0x0f) * 4;
  return Icmp{addr(14 + 12), addr(14 + 16), d[14 + ihl]};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(capture_cli, KeptLabs)

BOOST_AUTO_TEST_CASE(capture_streams_pcap_while_a_ping_runs) {
  std::string id = up(write("lab.yaml", kLab));
  Running cap;
  start(cap, fmt::format("capture {} red:veth-red -c 2 icmp", id));
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  FILE* in = ::fdopen(cap.out, "r");
  BOOST_REQUIRE(in);
  // Blocks until the header comes: the capture is running from then on.
  pcap_t* p = pcap_fopen_offline(in, errbuf);
  BOOST_TEST_REQUIRE(p != nullptr, errbuf << "; stderr: " << read_all(cap.err));
  BOOST_TEST(pcap_datalink(p) == DLT_EN10MB);
  auto ping = sh(nslab_cmd(fmt::format("exec {} blue -- ping -c 1 -W 5 192.168.1.1", id)));
  BOOST_TEST(ping.status == 0, ping.out);
  std::vector<Icmp> seen;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (seen.size() < 2 && pcap_next_ex(p, &h, &data) == 1)
    if (auto i = icmp_of(h, data)) seen.push_back(*i);
  BOOST_TEST_REQUIRE(seen.size() == 2u, read_all(cap.err));
  BOOST_TEST(seen[0].src == "192.168.1.2");
  BOOST_TEST(seen[0].dst == "192.168.1.1");
  BOOST_TEST(seen[0].type == 8);  // echo request
  BOOST_TEST(seen[1].src == "192.168.1.1");
  BOOST_TEST(seen[1].type == 0);  // echo reply
  // After -c 2 it ends the stream and exits 0.
  BOOST_TEST(pcap_next_ex(p, &h, &data) == PCAP_ERROR_BREAK);
  pcap_close(p);
  BOOST_TEST(cap.wait() == 0);
  BOOST_TEST(has(read_all(cap.err), "nslab capture: 2 packets"), read_all(cap.err));
}

// Wireshark closed: the next packet meets a closed pipe and capture ends.
BOOST_AUTO_TEST_CASE(capture_ends_when_the_reader_goes_away) {
  std::string id = up(write("lab.yaml", kLab));
  Running cap;
  start(cap, fmt::format("capture {} blue:veth-blue", id));
  char header[24];
  BOOST_TEST_REQUIRE(::read(cap.out, header, sizeof header) == 24, read_all(cap.err));
  ::close(cap.out);
  auto ping = sh(nslab_cmd(fmt::format("exec {} red -- ping -c 2 -i 0.2 -W 5 192.168.1.2", id)));
  BOOST_TEST(ping.status == 0, ping.out);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int st = 0;
  while (::waitpid(cap.pid, &st, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  BOOST_TEST_REQUIRE(WIFEXITED(st), "capture still runs after its reader went away");
  cap.pid = 0;
  BOOST_TEST(WEXITSTATUS(st) == 0);
}

BOOST_AUTO_TEST_CASE(capture_names_what_is_wrong) {
  std::string id = up(write("lab.yaml", kLab));
  auto no_if = sh(nslab_cmd(fmt::format("capture {} red:nope > /dev/null", id)));
  BOOST_TEST(no_if.status == 1, no_if.out);
  BOOST_TEST(has(no_if.out, "node \"red\" has no interface \"nope\" (it has: lo, veth-red)"), no_if.out);
  auto no_node = sh(nslab_cmd(fmt::format("capture {} green:eth0 > /dev/null", id)));
  BOOST_TEST(has(no_node.out, "has no node \"green\" (nodes: red blue)"), no_node.out);
  auto bad_filter = sh(nslab_cmd(fmt::format("capture {} red:veth-red 'tcp port' > /dev/null", id)));
  BOOST_TEST(bad_filter.status == 1, bad_filter.out);
  BOOST_TEST(has(bad_filter.out, "bad capture filter \"tcp port\""), bad_filter.out);
  auto usage = sh(nslab_cmd(fmt::format("capture {} red > /dev/null", id)));
  BOOST_TEST(usage.status == 2, usage.out);
}

BOOST_AUTO_TEST_SUITE_END()
