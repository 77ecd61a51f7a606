#include "cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "nslab/error.h"
#include "nslab/topology.h"
#include "subprocess.h"

namespace nslab::detail {

namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes text to a cgroup file; 0 or errno.
int write_text(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return err;
}

// The number after `key` in a "key value" line of a cgroup file.
std::optional<std::uint64_t> keyed(const std::string& path, const std::string& key) {
  auto text = read_text(path);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  for (std::string k; in >> k;) {
    std::uint64_t v = 0;
    if (!(in >> v)) {
      in.clear();
      continue;
    }
    if (k == key) return v;
  }
  return std::nullopt;
}

// Where each hierarchy is and where this process is in it.
struct Hierarchies {
  std::string v2;                         // the cgroup2 mount's directory for this process; empty: none
  std::string v2_controllers;             // its cgroup.controllers
  std::map<std::string, std::string> v1;  // controller -> this process's directory
};

Hierarchies find_hierarchies() {
  std::map<std::string, std::string> own;  // "" (v2) or a v1 controller list -> path
  if (auto text = read_text("/proc/self/cgroup")) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      auto a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      own[line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
    }
  }
  Hierarchies h;
  auto text = read_text("/proc/self/mountinfo").value_or("");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, options, word;
    f >> id >> parent >> dev >> root >> point >> options;
    while (f >> word && word != "-") {}
    std::string type, source, super;
    f >> type >> source >> super;
    auto under = [&](const std::string& path) {
      // The process's path is relative to its cgroup namespace; the mount
      // shows `root` of the hierarchy at `point`.
      std::string rel = path;
      if (root != "/" && rel.rfind(root, 0) == 0) rel = rel.substr(root.size());
      return point + (rel == "/" ? "" : rel);
    };
    if (type == "cgroup2" && own.count("")) {
      h.v2 = under(own[""]);
      auto c = read_text(h.v2 + "/cgroup.controllers").value_or("");
      h.v2_controllers = c;
    } else if (type == "cgroup") {
      std::vector<std::string> controllers;
      std::istringstream opts(super);
      for (std::string o; std::getline(opts, o, ',');) controllers.push_back(o);
      for (const auto& [list, path] : own) {
        if (list.empty()) continue;
        std::set<std::string> listed;
        std::istringstream l(list);
        for (std::string c; std::getline(l, c, ',');) listed.insert(c);
        for (const auto& c : controllers)
          if (listed.count(c) && !h.v1.count(c)) h.v1[c] = under(path);
      }
    }
  }
  return h;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

// The controllers a node's limits need, in cgroup v2's names.
std::vector<std::string> needed(const Limits& l) {
  std::vector<std::string> c;
  if (l.cpu) c.push_back("cpu");
  if (l.memory) c.push_back("memory");
  if (l.pids) c.push_back("pids");
  if (l.io_weight) c.push_back("io");
  return c;
}

std::string v1_name(const std::string& controller) {
  return controller == "io" ? "blkio" : controller;
}

std::string kernel_option(const std::string& controller) {
  if (controller == "cpu") return "CONFIG_CGROUP_SCHED, CONFIG_CFS_BANDWIDTH";
  if (controller == "memory") return "CONFIG_MEMCG";
  if (controller == "pids") return "CONFIG_CGROUP_PIDS";
  return "CONFIG_BLK_CGROUP";
}

std::atomic<unsigned> lab_counter{0};

// Removes lab directories left by an nslab process that no longer exists
// (its guardian was killed too): empty node directories, then the lab's.
void sweep(const std::string& base) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
    std::string name = e.path().filename();
    if (name.rfind("nslab-", 0) != 0 || !e.is_directory(ec)) continue;
    auto dash = name.find('-', 6);
    std::string pid = name.substr(6, dash == std::string::npos ? std::string::npos : dash - 6);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::access(("/proc/" + pid).c_str(), F_OK) == 0) continue;
    for (const auto& child : std::filesystem::directory_iterator(e.path(), ec))
      if (child.is_directory(ec)) ::rmdir(child.path().c_str());
    ::rmdir(e.path().c_str());
  }
}

}  // namespace

std::vector<int> NodeCgroup::procs() const {
  std::vector<int> out;
  out.reserve(procs_.size());
  for (const auto& fd : procs_) out.push_back(fd.get());
  return out;
}

std::uint64_t NodeCgroup::oom_kills() const {
  if (oom_file_.empty()) return 0;
  return keyed(oom_file_, "oom_kill").value_or(0);
}

std::optional<double> NodeCgroup::cpu_seconds() const {
  if (cpu_file_.empty()) return std::nullopt;
  if (v2_) {
    auto us = keyed(cpu_file_, "usage_usec");
    return us ? std::optional<double>(static_cast<double>(*us) / 1e6) : std::nullopt;
  }
  auto text = read_text(cpu_file_);
  if (!text) return std::nullopt;
  try {
    return static_cast<double>(std::stoull(*text)) / 1e9;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string NodeCgroup::exit_note(int exit_code) const {
  if (exit_code != 128 + 9 || oom_kills() == 0) return "";
  return fmt::format(" (killed by the kernel's OOM killer: node \"{}\" has limits.memory {})", node_,
                     limits_.memory ? size_text(*limits_.memory) : std::string("set"));
}

LabCgroups::LabCgroups(const Topology& t) {
  std::vector<const NodeSpec*> limited;
  std::set<std::string> controllers;
  for (const auto& n : t.nodes())
    if (!n.limits.empty()) {
      limited.push_back(&n);
      for (const auto& c : needed(n.limits)) controllers.insert(c);
    }
  if (limited.empty()) return;
  Hierarchies h = find_hierarchies();
  bool v2 = !h.v2.empty() && std::all_of(controllers.begin(), controllers.end(),
                                         [&](const std::string& c) { return has_word(h.v2_controllers, c); });
  std::string name = fmt::format("nslab-{}-{}", ::getpid(), lab_counter++);
  // The directories under which each hierarchy's lab directory goes.
  std::vector<std::pair<std::string, std::string>> bases;  // (v1 controller or "", base)
  if (v2) {
    std::string base = h.v2;
    auto delegates = [&](const std::string& dir) {
      std::string sub = read_text(dir + "/cgroup.subtree_control").value_or("");
      return std::all_of(controllers.begin(), controllers.end(),
                         [&](const std::string& c) { return has_word(sub, c); });
    };
    if (!delegates(base)) {
      // A cgroup with processes of its own (ours) cannot enable controllers
      // for children, unless it is the root: try enabling, else go beside.
      std::string enable;
      for (const auto& c : controllers) enable += (enable.empty() ? "+" : " +") + c;
      bool root = !read_text(base + "/cgroup.type");  // the root has no cgroup.type
      if (!(root && write_text(base + "/cgroup.subtree_control", enable) == 0)) {
        std::string parent = std::filesystem::path(base).parent_path();
        if (base.size() > 1 && read_text(parent + "/cgroup.type") && delegates(parent))
          base = parent;
        else if (!(root || delegates(base)))
          throw EnvironmentError(fmt::format(
              "cgroup v2: {} does not delegate the controllers {} (its cgroup.subtree_control lacks them and it "
              "holds processes); run nslab at the root of a cgroup namespace (a container, a VM) or from a "
              "cgroup whose parent delegates them",
              base, fmt::join(controllers, ", ")));
      }
    }
    bases.emplace_back("", base);
  } else {
    for (const auto& c : controllers) {
      auto it = h.v1.find(v1_name(c));
      if (it == h.v1.end())
        throw EnvironmentError(
            fmt::format("this machine offers no {} cgroup controller (cgroup v2 does not list it, no v1 "
                        "hierarchy mounts it; kernel option {})",
                        c, kernel_option(c)));
      bases.emplace_back(v1_name(c), it->second);
    }
    if (controllers.count("cpu") && h.v1.count("cpuacct") && h.v1["cpuacct"] != h.v1["cpu"])
      bases.emplace_back("cpuacct", h.v1["cpuacct"]);
  }

  std::vector<std::string> made;  // in creation order
  auto make = [&](const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0) {
      int err = errno;
      for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
      if (err == EACCES || err == EPERM || err == EROFS)
        throw EnvironmentError(
            fmt::format("cannot create the cgroup {}: {} (node limits need root, or a cgroup "
                        "delegated to this user)",
                        dir, std::strerror(err)));
      throw SystemError("cannot create the cgroup " + dir, err);
    }
    made.push_back(dir);
  };
  auto fail = [&](const std::string& what, int err) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
    throw EnvironmentError(fmt::format("{}: {}", what, std::strerror(err)));
  };
  for (const auto& [controller, base] : bases) {
    sweep(base);
    make(base + "/" + name);
  }
  if (v2) {
    std::string enable;
    for (const auto& c : controllers) enable += (enable.empty() ? "+" : " +") + c;
    std::string lab_dir = bases.front().second + "/" + name;
    if (int err = write_text(lab_dir + "/cgroup.subtree_control", enable))
      fail(fmt::format("cgroup v2: cannot enable {} in {}", enable, lab_dir), err);
  }

  for (const NodeSpec* n : limited) {
    auto cg = std::make_shared<NodeCgroup>();
    cg->node_ = n->name;
    cg->limits_ = n->limits;
    cg->v2_ = v2;
    const Limits& l = n->limits;
    auto set = [&](const std::string& dir, const std::string& file, const std::string& value, const char* key) {
      if (int err = write_text(dir + "/" + file, value))
        fail(fmt::format("node \"{}\": cannot set limits.{} ({} = {})", n->name, key, dir + "/" + file, value), err);
    };
    std::set<std::string> used;
    for (const auto& c : needed(l)) used.insert(v2 ? std::string() : v1_name(c));
    if (!v2 && l.cpu && bases.back().first == "cpuacct") used.insert("cpuacct");
    for (const auto& [controller, base] : bases) {
      if (!used.count(controller)) continue;
      std::string dir = base + "/" + name + "/" + n->name;
      make(dir);
      cg->dirs_.push_back(dir);
      int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) fail("cannot open " + dir + "/cgroup.procs", errno);
      cg->procs_.emplace_back(fd);
      auto quota = [&] { return std::max<long>(1000, std::lround(*l.cpu * 100000)); };
      if (v2) {
        if (l.cpu) set(dir, "cpu.max", fmt::format("{} 100000", quota()), "cpu");
        if (l.memory) {
          set(dir, "memory.max", std::to_string(*l.memory), "memory");
          if (::access((dir + "/memory.swap.max").c_str(), F_OK) == 0) set(dir, "memory.swap.max", "0", "memory");
        }
        if (l.pids) set(dir, "pids.max", std::to_string(*l.pids), "pids");
        if (l.io_weight) set(dir, "io.weight", fmt::format("default {}", *l.io_weight), "io_weight");
        cg->oom_file_ = dir + "/memory.events";
        cg->cpu_file_ = dir + "/cpu.stat";
      } else if (controller == "cpu") {
        set(dir, "cpu.cfs_period_us", "100000", "cpu");
        set(dir, "cpu.cfs_quota_us", std::to_string(quota()), "cpu");
        if (cg->cpu_file_.empty()) cg->cpu_file_ = dir + "/cpuacct.usage";  // co-mounted cpu,cpuacct
      } else if (controller == "cpuacct") {
        cg->cpu_file_ = dir + "/cpuacct.usage";
      } else if (controller == "memory") {
        set(dir, "memory.limit_in_bytes", std::to_string(*l.memory), "memory");
        if (::access((dir + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
          set(dir, "memory.memsw.limit_in_bytes", std::to_string(*l.memory), "memory");
        cg->oom_file_ = dir + "/memory.oom_control";
      } else if (controller == "pids") {
        set(dir, "pids.max", std::to_string(*l.pids), "pids");
      } else if (controller == "blkio") {
        // cgroup v1 weighs from 10 to 1000 (and only under a scheduler with weights, BFQ).
        long w = std::clamp<long>(std::lround(*l.io_weight / 10.0), 10, 1000);
        if (::access((dir + "/blkio.weight").c_str(), F_OK) != 0 &&
            ::access((dir + "/blkio.bfq.weight").c_str(), F_OK) != 0)
          fail(fmt::format("node \"{}\": limits.io_weight needs blkio.weight (the BFQ I/O scheduler) in {}", n->name,
                           dir),
               ENOENT);
        set(dir, ::access((dir + "/blkio.weight").c_str(), F_OK) == 0 ? "blkio.weight" : "blkio.bfq.weight",
            std::to_string(w), "io_weight");
      }
    }
    if (!cg->cpu_file_.empty() && ::access(cg->cpu_file_.c_str(), F_OK) != 0) cg->cpu_file_.clear();
    nodes_[n->name] = std::move(cg);
  }
  remove_.assign(made.rbegin(), made.rend());
  try {
    guardian_ = std::make_unique<Subprocess>(
        SubprocessSpec{.label = "the cgroup guardian of lab " + t.name(), .remove_dirs = remove_});
  } catch (...) {
    for (const auto& d : remove_) ::rmdir(d.c_str());
    throw;
  }
}

LabCgroups::~LabCgroups() {
  if (guardian_) guardian_->kill_tree();  // it removes the directories, waiting for the last process to leave
  for (const auto& d : remove_) ::rmdir(d.c_str());
}

std::shared_ptr<const NodeCgroup> LabCgroups::node(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second;
}

bool cgroups_usable(std::string& why) {
  Topology t("probe");
  t.add_node("n").limits.pids = 64;
  try {
    LabCgroups probe(t);
    return true;
  } catch (const Error& e) {
    why = e.what();
    return false;
  }
}

}  // namespace nslab::detail
