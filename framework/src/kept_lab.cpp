#include "nslab/kept_lab.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "nslab/error.h"
#include "nslab/lab.h"

namespace fs = std::filesystem;

namespace nslab {

namespace {

constexpr const char* kNetnsDir = "/run/netns";

// The start time of a live process (0 when it is gone or a zombie).
unsigned long long start_time_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z') return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    rest >> field;
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

std::string state_file(const std::string& id) { return kept_lab_root() + "/" + id + "/state"; }

void write_state(const KeptLab& k) {
  fs::create_directories(kept_lab_root() + "/" + k.id);
  std::string tmp = state_file(k.id) + ".new";
  {
    std::ofstream out(tmp);
    out << "id " << k.id << "\nscenario " << k.scenario << "\nkeeper " << k.keeper << " " << k.keeper_start << "\n";
    for (const auto& [node, name] : k.netns) out << "netns " << node << " " << name << "\n";
    if (!out) throw SystemError(fmt::format("cannot write {}", tmp), errno);
  }
  fs::rename(tmp, state_file(k.id));
}

KeptLab read_state(const std::string& path) {
  KeptLab k;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string key;
    f >> key;
    if (key == "id") f >> k.id;
    else if (key == "scenario") std::getline(f >> std::ws, k.scenario);
    else if (key == "keeper") f >> k.keeper >> k.keeper_start;
    else if (key == "netns") {
      std::string node, name;
      f >> node >> name;
      k.netns.emplace_back(node, name);
    }
  }
  return k;
}

// Unmounts and removes one namespace file that the record names, if present.
std::string remove_netns_file(const std::string& name) {
  // Names come from our own record and hold no '/', so this stays in /run/netns.
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return {};
  std::string path = std::string(kNetnsDir) + "/" + name;
  if (::access(path.c_str(), F_OK) != 0) return {};
  ::umount2(path.c_str(), MNT_DETACH);
  ::unlink(path.c_str());
  return fmt::format("removed {}", path);
}

}  // namespace

bool KeptLab::keeper_alive() const {
  return keeper > 0 && ::kill(keeper, 0) == 0 && start_time_of(keeper) == keeper_start;
}

std::string kept_lab_root() {
  const char* dir = std::getenv("NSLAB_STATE_DIR");
  return dir && *dir ? dir : "/run/nslab";
}

std::string new_kept_lab_id(const std::string& name) {
  std::random_device rd;
  std::string base;
  for (char c : name) base += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
  if (base.size() > 24) base.resize(24);
  return fmt::format("{}-{:06x}", base.empty() ? "lab" : base, rd() & 0xffffff);
}

KeptLab publish_lab(const Lab& lab, const std::string& id, const std::string& scenario) {
  KeptLab k;
  k.id = id;
  k.scenario = scenario;
  k.keeper = ::getpid();
  k.keeper_start = start_time_of(k.keeper);
  for (const auto& n : lab.nodes()) k.netns.emplace_back(n->name(), id + "-" + n->name());
  write_state(k);
  fs::create_directories(kNetnsDir);
  for (const auto& n : lab.nodes()) {
    std::string path = std::string(kNetnsDir) + "/" + id + "-" + n->name();
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) throw SystemError(fmt::format("cannot create {}", path), errno);
    ::close(fd);
    if (::mount(n->netns().path().c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      throw SystemError(fmt::format("cannot bind-mount node \"{}\" at {}", n->name(), path), err);
    }
  }
  return k;
}

std::vector<KeptLab> list_kept_labs() {
  std::vector<KeptLab> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kept_lab_root(), ec))
    if (fs::exists(e.path() / "state")) out.push_back(read_state((e.path() / "state").string()));
  return out;
}

KeptLab find_kept_lab(const std::string& id) {
  if (id.find('/') != std::string::npos || !fs::exists(state_file(id))) {
    std::string known;
    for (const auto& k : list_kept_labs()) known += " " + k.id;
    throw Error(fmt::format("no lab \"{}\" is up{}", id, known.empty() ? "" : " (labs up:" + known + ")"));
  }
  return read_state(state_file(id));
}

void unpublish_lab(const KeptLab& k) {
  for (const auto& [node, name] : k.netns) remove_netns_file(name);
  std::error_code ec;
  fs::remove_all(kept_lab_root() + "/" + k.id, ec);
}

std::vector<std::string> remove_kept_lab(const std::string& id) {
  KeptLab k = find_kept_lab(id);
  std::vector<std::string> done;
  if (k.keeper_alive()) {
    ::kill(k.keeper, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (k.keeper_alive() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (k.keeper_alive()) {
      ::kill(k.keeper, SIGKILL);
      done.push_back(fmt::format("killed keeper {}", k.keeper));
    } else {
      done.push_back(fmt::format("stopped keeper {}", k.keeper));
    }
  }
  for (const auto& [node, name] : k.netns)
    if (auto what = remove_netns_file(name); !what.empty()) done.push_back(what);
  std::error_code ec;
  fs::remove_all(kept_lab_root() + "/" + k.id, ec);
  done.push_back(fmt::format("removed the record of {}", k.id));
  return done;
}

}  // namespace nslab
