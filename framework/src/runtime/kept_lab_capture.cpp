// `nslab capture LAB NODE:IF`: a live pcap stream of a kept node's interface
// (kept_lab_inspect.h), for `| wireshark -k -i -` or `| tcpdump -r -`. The
// packet socket is made after this thread entered the node, so it sees the
// node's interface.
#include <net/if.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fmt/format.h>

#include "kept_lab_inspect.h"
#include "nslab/error.h"

namespace nslab {

namespace {

volatile std::sig_atomic_t g_stop = 0;
pcap_t* g_handle = nullptr;

extern "C" void on_stop_signal(int) {
  g_stop = 1;
  if (g_handle) pcap_breakloop(g_handle);
}

struct Stream {
  pcap_t* handle = nullptr;
  pcap_dumper_t* dumper = nullptr;
  std::size_t written = 0;
  bool reader_gone = false;
};

extern "C" void on_packet(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  auto* s = reinterpret_cast<Stream*>(user);
  pcap_dump(reinterpret_cast<u_char*>(s->dumper), h, bytes);
  if (pcap_dump_flush(s->dumper) != 0) {
    s->reader_gone = true;
    pcap_breakloop(s->handle);
    return;
  }
  ++s->written;
}

std::string interfaces_here() {
  std::string names;
  if (auto* list = ::if_nameindex()) {
    for (auto* i = list; i->if_index != 0; ++i) names += (names.empty() ? "" : ", ") + std::string(i->if_name);
    ::if_freenameindex(list);
  }
  return names;
}

}  // namespace

std::size_t stream_kept_capture(const KeptLab& k, const std::string& node, const std::string& interface,
                                const std::string& filter, int out_fd, std::size_t count) {
  Netns ns = enter_kept_node(k, node);
  const std::string where = fmt::format("{}:{} of lab {}", node, interface, k.id);
  if (::if_nametoindex(interface.c_str()) == 0)
    throw Error(fmt::format("node \"{}\" has no interface \"{}\" (it has: {})", node, interface, interfaces_here()));
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t* p = pcap_create(interface.c_str(), err);
  if (!p) throw Error(fmt::format("cannot capture on {}: {}", where, err));
  struct Close {
    pcap_t* p;
    ~Close() {
      g_handle = nullptr;
      pcap_close(p);
    }
  } close_handle{p};
  pcap_set_snaplen(p, 262144);
  pcap_set_immediate_mode(p, 1);
  pcap_set_timeout(p, 100);
  if (int rc = pcap_activate(p); rc < 0)
    throw Error(
        fmt::format("cannot capture on {}: {}", where, rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc)));
  if (!filter.empty()) {
    bpf_program prog{};
    if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
      throw Error(fmt::format("bad capture filter \"{}\": {}", filter, pcap_geterr(p)));
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) throw Error(fmt::format("cannot set the filter on {}: {}", where, pcap_geterr(p)));
  }
  ::signal(SIGPIPE, SIG_IGN);
  int copy = ::dup(out_fd);
  FILE* out = copy >= 0 ? ::fdopen(copy, "w") : nullptr;
  if (!out) throw SystemError("cannot open the capture's output", errno);
  Stream s{p, pcap_dump_fopen(p, out), 0, false};
  if (!s.dumper) {
    std::fclose(out);
    throw Error(fmt::format("cannot write a pcap stream: {}", pcap_geterr(p)));
  }
  struct CloseDumper {
    pcap_dumper_t* d;
    ~CloseDumper() { pcap_dump_close(d); }
  } close_dumper{s.dumper};
  if (pcap_dump_flush(s.dumper) != 0) return 0;  // the reader went away before the header
  g_stop = 0;
  g_handle = p;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  while (!g_stop && !s.reader_gone && (count == 0 || s.written < count)) {
    int want = count == 0 ? -1 : static_cast<int>(count - s.written);
    int rc = pcap_dispatch(p, want, on_packet, reinterpret_cast<u_char*>(&s));
    if (rc == PCAP_ERROR) throw Error(fmt::format("capture on {} failed: {}", where, pcap_geterr(p)));
  }
  return s.written;
}

}  // namespace nslab
