#include "nslab/environment.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cstdint>
#include <fmt/format.h>
#include <mutex>
#include <sstream>

#include "netlink.h"
#include "nslab/error.h"
#include "nslab/netns.h"
#include "sys.h"

namespace nslab {

namespace {

constexpr int kCapNetAdmin = 12, kCapSysAdmin = 21;

std::string read_or_empty(const std::string& path) {
  try {
    return sys::read_file(path);
  } catch (const Error&) {
    return {};
  }
}

// A field of /proc/self/status ("CapEff", "Seccomp"), or empty.
std::string status_field(const std::string& status, const std::string& name) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + ":", 0) == 0) {
      std::string v = line.substr(name.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return {};
}

// What the answer depends on: the user namespace (rootless sandboxes change
// it) and the effective capabilities in it.
std::string answer_key(const std::string& status) {
  struct stat st {};
  ::stat("/proc/self/ns/user", &st);
  return fmt::format("{} {}", st.st_ino, status_field(status, "CapEff"));
}

// Whether the running kernel has veth and bridge support, as far as it says
// without building anything: a module in /sys/module, or the configuration
// (/proc/config.gz) saying built in. Empty when it does not say.
std::optional<bool> kernel_has_veth_and_bridge() {
  auto loaded = [](const char* module) {
    struct stat st {};
    return ::stat(fmt::format("/sys/module/{}", module).c_str(), &st) == 0;
  };
  bool veth = loaded("veth"), bridge = loaded("bridge");
  if (veth && bridge) return true;
  // Read in this process (zlib): a gzip process per check cost 25-40 ms of
  // every `nslab check`.
  gzFile gz = ::gzopen("/proc/config.gz", "rb");
  if (!gz) return std::nullopt;
  std::string config = "\n";
  char buf[16384];
  int n = 0;
  while ((n = ::gzread(gz, buf, sizeof buf)) > 0) config.append(buf, static_cast<std::size_t>(n));
  bool whole = n == 0;
  ::gzclose(gz);
  if (!whole) return std::nullopt;
  auto setting = [&](const std::string& key) {
    auto at = config.find("\n" + key + "=");
    return at == std::string::npos ? 'n' : config[at + key.size() + 2];
  };
  // A module (=m) that is not loaded may still be missing from this
  // machine's disk: only the probe can tell.
  for (auto [key, have] : {std::pair{"CONFIG_VETH", &veth}, std::pair{"CONFIG_BRIDGE", &bridge}}) {
    char c = setting(key);
    if (c == 'y')
      *have = true;
    else if (c != 'm' && !*have)
      return false;
  }
  if (veth && bridge) return true;
  return std::nullopt;
}

// The probe lab: one namespace, a veth pair and a bridge in it.
std::optional<std::string> probe_lab() {
  try {
    on_new_thread([] {
      Netns a = Netns::unshare_this_thread();
      Netlink nl = Netlink::open_here("environment-check");
      nl.set_up(1, true, "environment-check:lo");
      try {
        nl.create_veth(VethEnd{"check0", "environment-check:check0", -1, 0, true, 0, std::nullopt},
                       VethEnd{"check1", "environment-check:check1", -1, 0, false, 0, std::nullopt});
        nl.create_bridge("checkbr0", 0, "environment-check:checkbr0");
      } catch (const NetlinkError& e) {
        if (e.code() == EPERM)
          throw EnvironmentError(fmt::format("{} (CAP_NET_ADMIN is missing in the lab's namespaces)", e.what()));
        if (e.code() == EOPNOTSUPP)
          throw EnvironmentError(
              fmt::format("{} (the kernel lacks veth or bridge support: CONFIG_VETH, CONFIG_BRIDGE)", e.what()));
        throw;
      }
    });
  } catch (const EnvironmentError& e) {
    return std::string(e.what());
  } catch (const Error& e) {
    return fmt::format("cannot build a lab here: {}", e.what());
  }
  return std::nullopt;
}

std::optional<std::string> check(const std::string& status) {
  std::uint64_t caps = 0;
  std::istringstream(status_field(status, "CapEff")) >> std::hex >> caps;
  const bool net_admin = caps >> kCapNetAdmin & 1, sys_admin = caps >> kCapSysAdmin & 1;
  if (!net_admin || !sys_admin)
    return fmt::format(
        "cannot create a network namespace: Operation not permitted (this process lacks {}); nslab "
        "needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root or under `unshare -Urn`",
        !net_admin && !sys_admin ? "CAP_SYS_ADMIN and CAP_NET_ADMIN"
        : !net_admin             ? "CAP_NET_ADMIN"
                                 : "CAP_SYS_ADMIN");
  std::string limit = read_or_empty("/proc/sys/user/max_net_namespaces");
  if (limit == "0\n")
    return "cannot create a network namespace: user.max_net_namespaces is 0 (sysctl user.max_net_namespaces=15000 "
           "allows them)";
  // A seccomp filter may refuse what the capabilities allow: ask the kernel.
  if (status_field(status, "Seccomp") == "0" && kernel_has_veth_and_bridge() == true) return std::nullopt;
  return probe_lab();
}

}  // namespace

std::optional<std::string> lab_environment_problem() {
  static std::mutex m;
  static std::string last_key;
  static std::optional<std::string> last;
  const std::string status = read_or_empty("/proc/self/status");
  const std::string key = answer_key(status);
  std::lock_guard lock(m);
  if (key != last_key || key.empty()) {
    last = check(status);
    last_key = key;
  }
  return last;
}

}  // namespace nslab
