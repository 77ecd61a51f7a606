#include "rootless.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <sstream>

#include "nslab/environment.h"
#include "nslab/error.h"
#include "nslab/fd.h"
#include "kept_lab.h"
#include "sys.h"

namespace nslab {

namespace {

bool g_sandboxed = false;
bool g_private_run = false;  // this process's /run is a tmpfs of its own

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
    why +=
        "; AppArmor restricts unprivileged user namespaces (sysctl "
        "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for nslab)";
  else if (err == EINVAL)
    why += "; the process has more than one thread, or the kernel lacks CONFIG_USER_NS";
  return why + ". Run as root, or where user namespaces are allowed";
}

void write_map(const char* path, const std::string& text) {
  sys::write_file(path, text);
}

// In a mount namespace of this process's own: mounts a tmpfs on /run, and
// binds the directory that holds kept_lab_root() (the caller's
// $XDG_RUNTIME_DIR, as a rule) back into it when the tmpfs would hide it.
std::optional<std::string> mount_private_run() {
  const std::string state = kept_lab_root();
  const std::string holder = state.substr(0, state.rfind('/'));
  Fd keep;
  if (holder.rfind("/run/", 0) == 0) {
    keep = Fd(::open(holder.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!keep) return fmt::format("cannot open {}, which holds nslab's records: {}", holder, std::strerror(errno));
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("nslab-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return fmt::format("cannot give this process its own /run: {}", std::strerror(errno));
  if (keep) {
    for (std::size_t slash = 4; (slash = holder.find('/', slash + 1)) != std::string::npos;)
      ::mkdir(holder.substr(0, slash).c_str(), 0755);
    ::mkdir(holder.c_str(), 0700);
    if (::mount(fmt::format("/proc/self/fd/{}", keep.get()).c_str(), holder.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return fmt::format("cannot keep {} (nslab's records) visible in the private /run: {}", holder,
                         std::strerror(errno));
  }
  g_private_run = true;
  return std::nullopt;
}

}  // namespace

std::optional<uid_t> outer_uid(uid_t inside) {
  std::string map;
  try {
    map = sys::read_file("/proc/self/uid_map");
  } catch (const Error&) {
    return inside;  // no user namespaces here: uids are the machine's
  }
  std::istringstream in(map);
  unsigned long long first, outside, count;
  while (in >> first >> outside >> count)
    if (inside >= first && inside - first < count) return static_cast<uid_t>(outside + (inside - first));
  return std::nullopt;
}

std::string uid_text(uid_t inside) {
  if (auto uid = outer_uid(inside)) return fmt::format("uid {}", *uid);
  return "a uid that this user namespace does not map (another user's)";
}

bool in_initial_user_namespace() {
  // The kernel's fixed inode for the initial user namespace (PROC_USER_INIT_INO).
  struct stat st {};
  return ::stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDU;
}

std::optional<std::string> enter_private_run_if_needed() {
  if (g_private_run || (::geteuid() == 0 && in_initial_user_namespace())) return std::nullopt;
  if (::unshare(CLONE_NEWNS) != 0)
    return fmt::format("cannot create a mount namespace for the lab's /run/netns: {}", std::strerror(errno));
  return mount_private_run();
}

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
  if (auto why = mount_private_run()) return fmt::format("{}; and in the sandbox, {}", *problem, *why);
  g_sandboxed = true;
  if (auto still = lab_environment_problem())
    return fmt::format("inside a user namespace, labs still cannot be built: {}", *still);
  return std::nullopt;
}

}  // namespace nslab
