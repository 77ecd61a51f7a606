// `nslab inspect` and `nslab logs` (kept_lab_inspect.h).
#include "kept_lab_inspect.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>
#include <sstream>

#include "kept_lab_control.h"
#include "kept_lab_detail.h"
#include "nslab/error.h"
#include "sys.h"

namespace nslab {

using namespace kept_detail;

namespace {

std::string ask(const KeptLab& k, const std::string& request, std::chrono::seconds timeout = std::chrono::seconds(10)) {
  auto status = keeper_status(k);
  if (status.state == KeeperStatus::gone)
    throw Error(
        fmt::format("lab {} is not running: {}; `nslab down {}` removes what is left", k.id, status.detail, k.id));
  if (status.state == KeeperStatus::unknown) throw Error(fmt::format("lab {}: {}", k.id, status.detail));
  Fd root = open_root(false);
  if (!root) throw Error(fmt::format("no lab \"{}\" is up", k.id));
  Fd dir = open_record_dir(root.get(), k.id);
  return ask_keeper(dir.get(), k.id, request, timeout);
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto tab = line.find('\t', start);
    out.push_back(control_unescape(line.substr(start, tab - start)));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

// The command's standard output, run inside the namespace; empty when it
// cannot run or fails.
std::string run_in(const Netns& ns, const std::vector<std::string>& argv) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw SystemError("cannot make a pipe", errno);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    throw SystemError("cannot fork", errno);
  }
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 2);
    ::dup2(p[1], 1);
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(126);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(p[1]);
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = sys::retry([&] { return ::read(p[0], buf, sizeof buf); })) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int st = 0;
  sys::retry([&] { return ::waitpid(pid, &st, 0); });
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? out : std::string();
}

// Lines for which drop(line) is false.
template <typename Drop>
std::string without(const std::string& text, Drop drop) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);)
    if (!drop(line)) out += line + "\n";
  return out;
}

bool starts(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// The tables iptables-save printed ("*filter" lines).
std::vector<std::string> saved_tables(const std::string& save) {
  std::vector<std::string> out;
  std::istringstream in(save);
  for (std::string line; std::getline(in, line);)
    if (starts(line, "*")) out.push_back(line.substr(1));
  return out;
}

// `nft list ruleset` without the tables that iptables-save and
// ip6tables-save show already (iptables-nft's: "table ip filter {" ... "}").
std::string without_iptables_tables(const std::string& ruleset, const std::vector<std::string>& ip,
                                    const std::vector<std::string>& ip6) {
  auto managed = [&](const std::string& line) {
    for (const auto& t : ip)
      if (line == "table ip " + t + " {") return true;
    for (const auto& t : ip6)
      if (line == "table ip6 " + t + " {") return true;
    return false;
  };
  std::istringstream in(ruleset);
  std::string out;
  bool skipping = false;
  for (std::string line; std::getline(in, line);) {
    if (!skipping &&
        (managed(line) || (starts(line, "# Warning: table ") && line.find("iptables-nft") != std::string::npos))) {
      skipping = !starts(line, "#");
      continue;
    }
    if (skipping) {
      if (line == "}") skipping = false;
      continue;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

KeptLabPrograms kept_lab_programs(const KeptLab& k) {
  KeptLabPrograms out;
  std::istringstream in(ask(k, "programs"));
  for (std::string line; std::getline(in, line);) {
    auto f = fields(line);
    if (f[0] == "program" && f.size() == 6)
      out.programs.push_back({std::stoul(f[1]), f[2], std::stol(f[3]), f[4], f[5]});
    else if (f[0] == "service" && f.size() == 3)
      out.services.push_back({f[1], f[2]});
  }
  return out;
}

std::string kept_program_log(const KeptLab& k, std::size_t index) {
  return ask(k, fmt::format("log {}", index));
}

KeptCheck kept_lab_check(const KeptLab& k, const std::string& path, bool explain) {
  KeptCheck out;
  // As long as the expectations take; the keeper bounds them by their timeouts.
  std::istringstream in(
      ask(k, fmt::format("check\t{}\t{}", control_escape(path), explain ? 1 : 0), std::chrono::seconds(3600)));
  for (std::string line; std::getline(in, line);) {
    auto f = fields(line);
    if (f[0] == "lab" && f.size() == 2) {
      out.same_lab = f[1] == "same";
    } else if (f[0] == "expectation" && f.size() == 9) {
      ExpectationOutcome x;
      x.passed = f[1] == "1";
      x.where = SourceLocation{f[2], std::stoi(f[3]), std::stoi(f[4])};
      x.ms = std::stod(f[5]);
      x.title = f[6];
      x.summary = f[7];
      x.details = f[8];
      out.expectations.push_back(std::move(x));
    }
  }
  return out;
}

std::vector<KeptNodeView> inspect_kept_nodes(const KeptLab& k, bool json) {
  std::vector<Netns> nodes = open_kept_nodes(k);
  std::vector<KeptNodeView> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& ns = nodes[i];
    KeptNodeView v;
    v.node = k.netns[i].node;
    v.hostname = k.netns[i].hostname;
    v.netns = std::string(kNetnsDir) + "/" + k.netns[i].name;
    auto no_comments = [](const std::string& l) { return starts(l, "#"); };
    v.iptables = without(run_in(ns, {"iptables-save"}), no_comments);
    v.ip6tables = without(run_in(ns, {"ip6tables-save"}), no_comments);
    if (json) {
      v.addresses = run_in(ns, {"ip", "-j", "address", "show"});
      v.routes = run_in(ns, {"ip", "-j", "route", "show"});
      v.routes6 = run_in(ns, {"ip", "-j", "-6", "route", "show"});
      v.nftables = run_in(ns, {"nft", "-j", "list", "ruleset"});
    } else {
      v.addresses = run_in(ns, {"ip", "-br", "address", "show"});
      v.routes = run_in(ns, {"ip", "route", "show"});
      v.routes6 = without(run_in(ns, {"ip", "-6", "route", "show"}),
                          [](const std::string& l) { return starts(l, "fe80::/64 ") || starts(l, "multicast "); });
      v.nftables = without_iptables_tables(run_in(ns, {"nft", "list", "ruleset"}), saved_tables(v.iptables),
                                           saved_tables(v.ip6tables));
      if (v.nftables.find_first_not_of(" \n") == std::string::npos) v.nftables.clear();
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace nslab
