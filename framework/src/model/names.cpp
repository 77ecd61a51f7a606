#include "nslab/names.h"

#include <algorithm>
#include <fmt/format.h>

namespace nslab {

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  return out;
}

namespace {

// What the kernel keeps machine-wide: absent from a lab's namespaces, or
// shown there read-only (measured on Linux 6.18; new kernels move keys into
// namespaces, rarely out). A key missing here that a namespace still lacks
// fails the build, naming the key's file:line:column.
// net.core: only these few are per namespace.
constexpr std::string_view kNamespacedCore[] = {
    "optmem_max",       "rps_default_mask",  "somaxconn",          "tstamp_allow_data", "txrehash",
    "xfrm_acq_expires", "xfrm_aevent_etime", "xfrm_aevent_rseqth", "xfrm_larval_drop",
};
constexpr std::string_view kMachineWide[] = {
    "net.ipv4.cipso_cache_bucket_size",
    "net.ipv4.cipso_cache_enable",
    "net.ipv4.cipso_rbm_optfmt",
    "net.ipv4.cipso_rbm_strictvalid",
    "net.ipv4.fib_sync_mem",
    "net.ipv4.inet_peer_maxttl",
    "net.ipv4.inet_peer_minttl",
    "net.ipv4.inet_peer_threshold",
    "net.ipv4.ipfrag_secret_interval",
    "net.ipv4.route.error_burst",
    "net.ipv4.route.error_cost",
    "net.ipv4.route.gc_elasticity",
    "net.ipv4.route.gc_interval",
    "net.ipv4.route.gc_min_interval",
    "net.ipv4.route.gc_min_interval_ms",
    "net.ipv4.route.gc_thresh",
    "net.ipv4.route.gc_timeout",
    "net.ipv4.route.max_size",
    "net.ipv4.route.redirect_load",
    "net.ipv4.route.redirect_number",
    "net.ipv4.route.redirect_silence",
    "net.ipv4.tcp_allowed_congestion_control",
    "net.ipv4.tcp_available_congestion_control",
    "net.ipv4.tcp_available_ulp",
    "net.ipv4.tcp_ehash_entries",
    "net.ipv4.tcp_low_latency",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_mem",
    "net.ipv4.udp_hash_entries",
    "net.ipv4.udp_mem",
    "net.ipv6.calipso_cache_bucket_size",
    "net.ipv6.calipso_cache_enable",
    "net.ipv6.ip6frag_secret_interval",
    "net.ipv6.mld_max_msf",
    "net.ipv6.mld_qrv",
    "net.mptcp.available_path_managers",
    "net.mptcp.available_schedulers",
    "net.netfilter.nf_conntrack_buckets",
    "net.netfilter.nf_conntrack_count",
    "net.netfilter.nf_conntrack_expect_max",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_log_all_netns",
    "net.nf_conntrack_max",
};
// The neighbour tables' defaults (gc_thresh3...) exist only in the initial
// namespace.
constexpr std::string_view kMachineWidePrefixes[] = {"net.ipv4.neigh.default.", "net.ipv6.neigh.default."};

}  // namespace

std::optional<std::string> interface_name_problem(std::string_view name) {
  if (name.empty()) return "an interface name cannot be empty";
  // Shown with control characters escaped, never raw.
  auto shown = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  };
  std::string printable;
  for (char c : name) printable += shown(c);
  if (name.size() > kMaxInterfaceName)
    return fmt::format("interface name \"{}\" is {} characters long; Linux allows at most {}", printable, name.size(),
                       kMaxInterfaceName);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok)
      return fmt::format(
          "interface name \"{}\" contains '{}'; interface and bridge names may hold only "
          "letters, digits, '-' and '_'",
          printable, shown(c));
  }
  if (name[0] == '-')
    return fmt::format("interface name \"{}\" starts with '-'; it must start with a letter, digit or '_'", printable);
  if (name == "all" || name == "default")
    return fmt::format("interface name \"{}\" is reserved by Linux (net.ipv4.conf.{} is not an interface)", name, name);
  return std::nullopt;
}

std::optional<std::string> sysctl_key_problem(std::string_view key) {
  const std::string shown = printable(key);
  if (key.substr(0, 4) != "net.")
    return fmt::format("sysctl \"{}\" is not per network namespace; a lab may only set net.* keys", shown);
  // Parts are names (interfaces follow interface_name_problem's rule).
  bool ok = key.back() != '.';
  for (std::size_t i = 0; i < key.size() && ok; ++i) {
    char c = key[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         (c == '.' && key[i + 1] != '.');
  }
  if (!ok)
    return fmt::format("sysctl \"{}\" is not a valid key (parts of letters, digits, '-' and '_', joined by '.')",
                       shown);
  auto global = [&] {
    return fmt::format(
        "sysctl \"{}\" is machine-wide, not per network namespace (a lab's namespaces lack it "
        "or show it read-only)",
        key);
  };
  if (key.substr(0, 9) == "net.core.") {
    auto leaf = key.substr(9);
    if (std::find(std::begin(kNamespacedCore), std::end(kNamespacedCore), leaf) == std::end(kNamespacedCore)) {
      std::string allowed;
      for (auto k : kNamespacedCore) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      return global() + "; the per-namespace net.core keys are " + allowed;
    }
  }
  if (std::find(std::begin(kMachineWide), std::end(kMachineWide), key) != std::end(kMachineWide)) return global();
  for (auto prefix : kMachineWidePrefixes)
    if (key.substr(0, prefix.size()) == prefix)
      return global() + "; set it per interface instead (net.ipv4.neigh.IFACE.KEY)";
  return std::nullopt;
}

std::optional<std::string> node_name_problem(std::string_view name) {
  if (name.empty()) return "a node name cannot be empty";
  const std::string shown = printable(name);
  if (name.size() > 32) return fmt::format("node name \"{}\" is longer than 32 characters", shown);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return fmt::format("node name \"{}\" may hold only letters, digits, '-' and '_'", shown);
  }
  if (name[0] == '-') return fmt::format("node name \"{}\" must start with a letter, digit or '_'", shown);
  return std::nullopt;
}

}  // namespace nslab
