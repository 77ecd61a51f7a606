#include "nslab/scenario_run.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "conntrack_check.h"
#include "kept_check.h"
#include "link_impairment.h"
#include "probe_engine.h"
#include "probe_series.h"
#include "rule_watch.h"
#include "step_wait.h"
#include "subprocess.h"
#include <fmt/format.h>

namespace nslab {

bool ScenarioOutcome::passed() const {
  for (const auto& e : expectations)
    if (!e.passed) return false;
  return true;
}

// Every probe of every expectation goes out in one batch, so a scenario
// costs about one timeout however many of its cells are blocked. Each probe
// has its own 5-tuple (a fresh source port, a unique ICMP echo id), so no
// probe can pass as the reply of another's conntrack entry.
namespace {

// One path component from a name a user wrote (a scenario's `name`, "node:if"):
// no '/', no "." or "..", no leading dot, no control or non-ASCII bytes, at
// most 64 characters; whatever else is replaced by '_'.
std::string path_component(std::string_view name) {
  std::string out;
  for (char ch : name.substr(0, 64)) {
    auto u = static_cast<unsigned char>(ch);
    bool plain =
        (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_' || u == '.';
    out += ch == ':' ? '-' : plain ? ch : '_';
  }
  for (char& ch : out) {
    if (ch != '.') break;
    ch = '_';
  }
  return out.empty() ? std::string("scenario") : out;
}

// Inside `root` once symbolic links are resolved, or throws.
void check_inside(const std::filesystem::path& root, const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path real_root = fs::canonical(root, ec);
  fs::path real_dir = ec ? fs::path() : fs::canonical(dir, ec);
  if (ec) throw SystemError(fmt::format("cannot resolve artifact directory {}", dir.string()), ec.value());
  auto [r, d] = std::mismatch(real_root.begin(), real_root.end(), real_dir.begin(), real_dir.end());
  if (r != real_root.end() || d == real_dir.end())
    throw Error(fmt::format("artifact directory {} resolves to {}, outside {}", dir.string(), real_dir.string(),
                            real_root.string()));
}

// Which scenario file a directory under DIR belongs to: the file's absolute
// path (empty for a scenario built in code) in DIR/NAME/.nslab-scenario.
constexpr const char* kOwnerFile = ".nslab-scenario";

std::string read_owner(const std::filesystem::path& dir) {
  std::ifstream in(dir / kOwnerFile, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// DIR/SCENARIO, made if needed, and checked to be inside DIR once symbolic
// links are resolved: artifacts never leave the directory the user gave.
// Each scenario file has a directory of its own: two files with the same
// scenario name get NAME and NAME-2 (and so on), whoever comes first, and
// a file run again gets its own directory back. The claim is atomic (a
// hard link that fails if the owner file exists), so parallel runs into one
// DIR do not share a directory either.
std::string artifact_dir(const std::string& root, const Scenario& scenario) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string owner;
  if (!scenario.file.empty()) owner = fs::absolute(scenario.file, ec).lexically_normal().string();
  if (ec) owner = scenario.file;
  const std::string base = path_component(scenario.name);
  for (int n = 1; n < 1000; ++n) {
    std::string name = n == 1 ? base : fmt::format("{}-{}", base.substr(0, 64 - 4), n);
    fs::path dir = fs::path(root) / name;
    fs::create_directories(dir, ec);
    if (ec) throw SystemError(fmt::format("cannot create artifact directory {}", dir.string()), ec.value());
    check_inside(root, dir);
    if (fs::exists(dir / kOwnerFile, ec)) {
      if (read_owner(dir) == owner) return dir.string();
      continue;
    }
    // Claim it: write the owner aside, then link it in place (fails if
    // another run got there first).
    fs::path tmp = dir / fmt::format(".nslab-scenario.{}", ::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << owner;
      if (!out) throw SystemError(fmt::format("cannot write {}", tmp.string()), errno);
    }
    int rc = ::link(tmp.c_str(), (dir / kOwnerFile).c_str());
    int err = errno;
    fs::remove(tmp, ec);
    if (rc == 0 || read_owner(dir) == owner) return dir.string();
    if (err != EEXIST) throw SystemError(fmt::format("cannot claim artifact directory {}", dir.string()), err);
  }
  throw Error(fmt::format("no free artifact directory for scenario \"{}\" under {}", scenario.name, root));
}

ExpectationOutcome run_capture(Lab& lab, const Scenario& scenario, const CaptureExpectation& c, std::size_t index,
                               const ArtifactOptions& artifacts) {
  ExpectationOutcome o;
  o.title = c.str();
  o.where = c.where;
  auto t0 = std::chrono::steady_clock::now();
  Capture cap = [&] {
    try {
      return lab.capture(c.on, c.filter);
    } catch (const ConfigError& e) {
      throw ConfigError(e.message(), c.where);
    }
  }();
  auto probe = lab.probe(c.during, scenario.probe_options);
  cap.stop();
  o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const auto& packets = cap.packets();
  std::size_t n = packets.size();
  std::string wrong;
  for (const auto& p : packets) {
    if ((c.src && p.src != c.src) || (c.dst && p.dst != c.dst)) {
      wrong = p.str();
      break;
    }
  }
  o.passed = c.count.holds(n) && wrong.empty() && cap.dropped() == 0;
  o.summary =
      fmt::format("{} matching packet{} (probe: {}, {})", n, n == 1 ? "" : "s", to_string(probe.verdict), probe.detail);
  if (!wrong.empty()) o.summary += fmt::format("; a packet does not have the expected fields: {}", wrong);
  if (cap.dropped()) o.summary += fmt::format("; the kernel dropped {} packets", cap.dropped());
  for (std::size_t i = 0; i < packets.size() && i < 8; ++i) o.details += "    " + packets[i].str() + "\n";
  if (packets.size() > 8) o.details += fmt::format("    ... and {} more\n", packets.size() - 8);
  if (!artifacts.dir.empty() && (artifacts.always || !o.passed)) {
    std::string dir = artifact_dir(artifacts.dir, scenario);
    std::string path = fmt::format("{}/{:02}-{}.pcap", dir, index + 1, path_component(c.on));
    cap.save(path);
    o.artifacts.push_back(path);
  }
  return o;
}

}  // namespace

namespace detail {

// One step's expectations (scenario.expectations); `numbered_from`: the
// number of expectations before them, so that capture files stay apart.
ScenarioOutcome run_list(Lab& lab, const Scenario& scenario, const ArtifactOptions& artifacts,
                         const InsightOptions& insight, std::size_t numbered_from, detail::KeptConnections& kept) {
  detail::RuleWatch watch(lab, scenario, insight);  // counters' baseline, when asked
  detail::count_conntrack_packets(lab, scenario);
  std::vector<Probe> probes;
  std::vector<std::pair<std::size_t, std::size_t>> slices;  // per expectation: first, count
  for (const auto& e : scenario.expectations) {
    std::size_t first = probes.size();
    if (auto* p = std::get_if<ProbeExpectation>(&e)) {
      // A port set is a scan of its own, a path a trace, a count its own
      // single-shot batch: each after the batch.
      if (!p->ports && !p->path && !p->answers && !p->keep) probes.push_back(p->probe);
    } else if (auto* m = std::get_if<MatrixSpec>(&e)) {
      expected_table(*m);
      for (auto& cell : matrix_probes(*m)) probes.push_back(std::move(cell));
    }
    slices.push_back({first, probes.size() - first});
  }
  auto t0 = std::chrono::steady_clock::now();
  auto results = lab.probe(probes, scenario.probe_options);
  double batch_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  ScenarioOutcome out;
  for (std::size_t i = 0; i < scenario.expectations.size(); ++i) {
    const auto& e = scenario.expectations[i];
    auto [first, count] = slices[i];
    ExpectationOutcome o;
    // Its own time: until its probe (a matrix: its last cell) was decided.
    for (std::size_t k = first; k < first + count; ++k)
      o.ms = std::max(o.ms, std::chrono::duration<double, std::milli>(results[k].rtt).count());
    if (auto* p = std::get_if<ProbeExpectation>(&e); p && p->ports) {
      o = run_scan_expectation(lab, *p, scenario.probe_options);
    } else if (p && p->path) {
      o = run_path_expectation(lab, *p, scenario.probe_options);
    } else if (p && p->answers) {
      o = run_count_expectation(lab, *p, scenario.probe_options);
    } else if (p && p->keep) {
      o = detail::open_kept(lab, *p, kept, scenario.probe_options);  // in order: held for later `kept:`
    } else if (p) {
      const ProbeResult& r = results[first];
      o.title = p->str();
      o.where = p->where;
      o.passed = r.verdict == p->verdict;
      if (o.passed && p->served_by && r.served_by != *p->served_by) o.passed = false;
      if (o.passed && p->seen_from && r.seen_from != p->seen_from->str()) o.passed = false;
      const bool others = p->answered_by && r.answered_by != *p->answered_by;
      if (others) o.passed = false;
      auto payload = r.verdict == Verdict::reachable ? r.payload_problem() : std::nullopt;
      if (payload) o.passed = false;
      o.summary = fmt::format("observed {} ({})", to_string(r.verdict), r.detail);
      if (payload) o.summary += "; " + *payload;
      if (p->served_by && r.verdict == Verdict::reachable && r.served_by != *p->served_by)
        o.summary += fmt::format("; expected to be served by {}, served by {}", *p->served_by,
                                 r.served_by.empty() ? std::string("no nslab service") : r.served_by);
      if (p->seen_from && r.verdict == Verdict::reachable && r.seen_from != p->seen_from->str())
        o.summary += fmt::format("; expected the service to see {}, it saw {}", p->seen_from->str(),
                                 r.seen_from.empty() ? std::string("nothing") : r.seen_from);
      if (others) {
        auto list = [](const std::vector<std::string>& v) {
          std::string s;
          for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
          return "[" + s + "]";
        };
        o.summary +=
            fmt::format("; expected answers from {}, got them from {}", list(*p->answered_by), list(r.answered_by));
      }
    } else if (auto* cap = std::get_if<CaptureExpectation>(&e)) {
      o = run_capture(lab, scenario, *cap, numbered_from + i, artifacts);
      watch.invalidate();
    } else if (auto* ct = std::get_if<ConntrackExpectation>(&e)) {
      o = detail::check_conntrack(lab, *ct, scenario.probe_options);
      watch.invalidate();
    } else if (auto* use = std::get_if<KeptExpectation>(&e)) {
      o = detail::check_kept(*use, kept, scenario.probe_options);
      watch.invalidate();
    } else if (auto* counter = std::get_if<CounterExpectation>(&e)) {
      o = watch.check(*counter);
    } else if (auto* c = std::get_if<CommandExpectation>(&e)) {
      o.title = c->str();
      o.where = c->where;
      auto t1 = std::chrono::steady_clock::now();
      // The command ends when its shell does: whatever it left running in
      // the background is killed then, and everything at the timeout.
      auto r = run_in_node(lab.node(c->from), {"sh", "-c", c->command}, c->timeout);
      watch.invalidate();
      o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
      o.passed = !r.timed_out && r.status == c->exit && (!c->output || r.output.find(*c->output) != std::string::npos);
      std::string text = r.output.size() > 300 ? r.output.substr(0, 300) + "..." : r.output;
      while (!text.empty() && text.back() == '\n') text.pop_back();
      for (std::size_t k = 0; (k = text.find('\n', k)) != std::string::npos;) text.replace(k, 1, " | ");
      o.summary = r.timed_out ? fmt::format("timed out after {} ms, output so far: {}", c->timeout.count(),
                                            text.empty() ? "(none)" : text)
                              : fmt::format("exit {}, output: {}", r.status, text.empty() ? "(none)" : text);
    } else {
      const auto& m = std::get<MatrixSpec>(e);
      std::vector<ProbeResult> mine(results.begin() + static_cast<std::ptrdiff_t>(first),
                                    results.begin() + static_cast<std::ptrdiff_t>(first + count));
      auto report = matrix_report(m, std::move(mine), batch_ms);
      o.title = fmt::format("matrix {} over {} nodes", m.str(), m.nodes.size());
      o.where = m.where;
      o.passed = report.ok();
      o.summary = fmt::format("{} of {} cells as expected", report.results.size() - report.mismatches.size(),
                              report.results.size());
      o.details = report.text();
      o.matrix = std::move(report);
    }
    out.expectations.push_back(std::move(o));
  }
  if (insight.coverage) out.rule_hits = watch.hits_so_far();  // before explanations re-run probes
  for (std::size_t i = 0; i < scenario.expectations.size(); ++i)
    if (auto* p = std::get_if<ProbeExpectation>(&scenario.expectations[i]))
      if (insight.explain || (insight.explain_failed && !out.expectations[i].passed))
        if (auto why = detail::explain_probe(lab, p->probe, scenario.probe_options); !why.empty())
          out.expectations[i].summary += "; " + why;
  return out;
}

}  // namespace detail

// Steps: step 0 is the top-level list; each later step's actions go
// through the Lab and Node API (step_actions.cpp), then its expectations run
// as a list of their own, titled with the step.
ScenarioOutcome run_expectations(Lab& lab, const Scenario& scenario, const ArtifactOptions& artifacts,
                                 const InsightOptions& insight) {
  // A step's delay or jitter on a kernel without netem: a skip before any
  // step runs, as a link's own is at build (link_impairment.h).
  for (const auto& step : scenario.steps)
    for (const auto& a : step.actions)
      if (const auto* im = std::get_if<ImpairAction>(&a); im && im->impair.needs_netem() && !kernel_has_netem())
        throw EnvironmentError(
            fmt::format("{}: impair \"{}\": {} needs the kernel's netem qdisc "
                        "(CONFIG_NET_SCH_NETEM), which this kernel lacks; rate and loss work "
                        "without it",
                        im->where.str(), im->interface, im->impair.delay ? "delay" : "jitter"));
  detail::KeptConnections kept;  // `keep:` connections, across steps; closed when the run ends
  ScenarioOutcome out = detail::run_list(lab, scenario, artifacts, insight, 0, kept);
  std::size_t numbered = scenario.expectations.size();
  for (std::size_t k = 0; k < scenario.steps.size(); ++k) {
    const Step& step = scenario.steps[k];
    const std::string head = fmt::format("step {} '{}'", k + 1, step.name);
    // An action the kernel refuses fails the check here; the steps after
    // it would run against a lab in no known state, so they do not run.
    bool applied = true;
    for (const auto& a : step.actions) {
      // A wait is an outcome of its own: held (and how long it took), or
      // not, with what it saw last; the steps after one that never held do
      // not run.
      if (const auto* w = std::get_if<WaitAction>(&a)) {
        ExpectationOutcome o = detail::wait_until(lab, scenario, *w, kept);
        o.title = fmt::format("{}: {}", head, o.title);
        applied = o.passed;
        if (!applied) o.summary += "; the later steps did not run";
        out.expectations.push_back(std::move(o));
        if (!applied) break;
        continue;
      }
      try {
        apply_action(lab, a);
      } catch (const EnvironmentError&) {
        throw;  // a skip, as at build
      } catch (const Error& e) {
        ExpectationOutcome o;
        o.title = fmt::format("{}: {}", head, to_string(a));
        o.where = std::visit([](const auto& x) { return x.where; }, a);
        o.summary = fmt::format("the action failed: {}; the later steps did not run", e.what());
        out.expectations.push_back(std::move(o));
        applied = false;
        break;
      }
    }
    if (!applied) break;
    Scenario part = scenario;
    part.expectations = step.expectations;
    part.steps.clear();
    ScenarioOutcome o = detail::run_list(lab, part, artifacts, insight, numbered, kept);
    numbered += step.expectations.size();
    for (auto& e : o.expectations) {
      e.title = fmt::format("{}: {}", head, e.title);
      out.expectations.push_back(std::move(e));
    }
    // Coverage over every step: each step counts from its own start.
    for (auto& h : o.rule_hits) {
      auto same = std::find_if(out.rule_hits.begin(), out.rule_hits.end(), [&](const RuleHit& x) {
        return x.node == h.node && x.where.str() == h.where.str() && x.table == h.table && x.chain == h.chain &&
               x.rule == h.rule && x.ipv6 == h.ipv6 && x.policy == h.policy;
      });
      if (same == out.rule_hits.end()) {
        out.rule_hits.push_back(std::move(h));
      } else {
        same->packets += h.packets;
        same->bytes += h.bytes;
      }
    }
  }
  // A `run:` program that had to keep running and died while the
  // expectations ran fails the scenario, with its exit code and output.
  for (const auto& dead : lab.exited_programs()) {
    ExpectationOutcome o;
    o.title = fmt::format("{} keeps running", dead.process->label());
    o.where = dead.where;
    std::string tail = dead.process->log_tail();
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    o.summary = fmt::format("exited with code {}{}{}", dead.code, dead.process->exit_note(dead.code),
                            tail.empty() ? std::string(" and printed nothing") : "; the end of its output:\n" + tail);
    out.expectations.push_back(std::move(o));
  }
  return out;
}

}  // namespace nslab
