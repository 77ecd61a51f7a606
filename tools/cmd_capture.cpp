// nslab capture LAB NODE:IF [FILTER]: a live pcap stream of a kept node's
// interface on standard output.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "commands.h"
#include "kept_lab.h"
#include "kept_lab_inspect.h"

namespace nslab::cli {

namespace {

const char* kHelp = R"(usage: nslab capture LAB NODE:IF [-c COUNT] [FILTER...]

Captures what crosses interface IF of NODE in a lab kept up by `nslab up`
and writes it to standard output as a pcap stream, each packet as it comes:

  nslab capture LAB red:eth0 | wireshark -k -i -
  nslab capture LAB host:v-net-0 icmp | tcpdump -n -r -

FILTER is a BPF filter (as for tcpdump), its words joined. It stops at
Ctrl-C, when the reader goes away, or after COUNT packets (-c). What it is
doing, and how many packets it wrote, goes to standard error. Standard
output must not be a terminal.
)";

}  // namespace

int capture(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  std::string id, on, filter;
  std::size_t count = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-c" && i + 1 < args.size()) {
      try {
        count = std::stoul(args[++i]);
      } catch (const std::exception&) {
        std::fprintf(stderr, "nslab capture: -c needs a number, not \"%s\"\n", args[i].c_str());
        return kUsage;
      }
    } else if (id.empty()) {
      id = a;
    } else if (on.empty()) {
      on = a;
    } else {
      filter += (filter.empty() ? "" : " ") + a;
    }
  }
  auto colon = on.find(':');
  if (id.empty() || colon == std::string::npos || colon == 0 || colon + 1 == on.size()) {
    std::fputs(kHelp, stderr);
    return kUsage;
  }
  if (::isatty(1)) {
    std::fprintf(stderr,
                 "nslab capture: standard output is a terminal; pipe it (| wireshark -k -i -) or redirect it\n");
    return kUsage;
  }
  KeptLab k;
  try {
    k = find_kept_lab(id);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nslab capture: %s\n", e.what());
    return kUsage;
  }
  const std::string node = on.substr(0, colon), iface = on.substr(colon + 1);
  std::fprintf(stderr, "nslab capture: %s %s%s%s\n", k.id.c_str(), on.c_str(), filter.empty() ? "" : ", filter ",
               filter.c_str());
  std::size_t n = stream_kept_capture(k, node, iface, filter, 1, count);
  std::fprintf(stderr, "nslab capture: %zu packet%s\n", n, n == 1 ? "" : "s");
  return kOk;
}

}  // namespace nslab::cli
