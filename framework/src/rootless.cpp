#include "nslab/rootless.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "nslab/environment.h"
#include "nslab/sys.h"

namespace nslab {

namespace {

bool g_sandboxed = false;

std::string userns_disabled_reason(int err) {
  std::string why = fmt::format("cannot create a user namespace: {}", std::strerror(err));
  auto knob = [](const char* path) -> std::string {
    try {
      std::string v = sys::read_file(path);
      while (!v.empty() && v.back() == '\n') v.pop_back();
      return v;
    } catch (...) {
      return {};
    }
  };
  if (knob("/proc/sys/kernel/unprivileged_userns_clone") == "0")
    why += "; unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=1 enables them)";
  else if (knob("/proc/sys/user/max_user_namespaces") == "0")
    why += "; user.max_user_namespaces is 0 (sysctl user.max_user_namespaces=15000 allows them)";
  else if (knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1")
    why += "; AppArmor restricts unprivileged user namespaces (sysctl "
           "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for nslab)";
  else if (err == EINVAL)
    why += "; the process has more than one thread, or the kernel lacks CONFIG_USER_NS";
  return why + ". Run as root, or where user namespaces are allowed";
}

void write_map(const char* path, const std::string& text) { sys::write_file(path, text); }

}  // namespace

bool in_rootless_sandbox() { return g_sandboxed; }

std::optional<std::string> enter_rootless_sandbox_if_needed() {
  auto problem = lab_environment_problem();
  if (!problem) return std::nullopt;
  const char* no = std::getenv("NSLAB_NO_REEXEC");
  if ((no && *no) || g_sandboxed) return problem;

  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) != 0)
    return fmt::format("{}; and {}", *problem, userns_disabled_reason(errno));
  try {
    write_map("/proc/self/setgroups", "deny");
    write_map("/proc/self/uid_map", fmt::format("0 {} 1", uid));
    write_map("/proc/self/gid_map", fmt::format("0 {} 1", gid));
  } catch (const std::exception& e) {
    return fmt::format("{}; and cannot map the user namespace: {}", *problem, e.what());
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("nslab-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return fmt::format("{}; and cannot give the sandbox its own /run: {}", *problem, std::strerror(errno));
  g_sandboxed = true;
  ::setenv("NSLAB_ROOTLESS", "1", 1);
  if (auto still = lab_environment_problem())
    return fmt::format("inside a user namespace, labs still cannot be built: {}", *still);
  return std::nullopt;
}

}  // namespace nslab
