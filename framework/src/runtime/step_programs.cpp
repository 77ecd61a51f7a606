// Programs a step starts and stops by name (a step's `start:` and `stop:`).
// A started program is one of the lab's processes, as a `run:` program is;
// stopping it takes it off the list of programs that must keep running.
#include <algorithm>
#include <fmt/format.h>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/process.h"

namespace nslab {

Process& Lab::start_program(std::string_view node_name, std::string name, const RunSpec& run) {
  if (name.empty()) throw ConfigError(fmt::format("node \"{}\": a program started by name needs a name", node_name));
  if (named_.count(name)) throw ConfigError(fmt::format("program \"{}\" is already running; stop it first", name));
  if (run.expect_exit)
    throw ConfigError(fmt::format("program \"{}\": a program started by name keeps running (no exit code)", name));
  const Node& n = node(node_name);
  Process& p = start(node_name, ProcessSpec{.argv = run.argv, .env = run.env, .working_dir = run.working_dir});
  auto located = [&](const std::string& msg) { return fmt::format("program \"{}\" ({}): {}", name, p.label(), msg); };
  try {
    if (run.ready_port) wait_listening(n, run.ready_port->first, run.ready_port->second, run.timeout, &p);
    if (!run.ready_command.empty()) wait_command(n, run.ready_command, run.timeout, &p);
    p.require_running();
  } catch (const TimeoutError& e) {
    p.kill();
    throw TimeoutError(located(e.what()));
  } catch (const Error& e) {
    p.kill();
    throw ProcessError(located(e.what()));
  }
  lasting_.emplace_back(&p, run.where);
  named_.emplace(std::move(name), &p);
  return p;
}

int Lab::stop_program(std::string_view name, bool kill, std::chrono::milliseconds grace) {
  auto it = named_.find(name);
  if (it == named_.end()) {
    std::string running;
    for (const auto& [n, p] : named_) running += (running.empty() ? "" : ", ") + n;
    throw ConfigError(fmt::format("no running program \"{}\" to stop{}", name,
                                  running.empty() ? std::string() : " (running: " + running + ")"));
  }
  Process* p = it->second;
  // Off the list first: a program that dies of the stop did not "exit".
  // One that had exited before it stays there, and is reported.
  if (!p->exit_code())
    lasting_.erase(std::remove_if(lasting_.begin(), lasting_.end(), [&](const auto& x) { return x.first == p; }),
                   lasting_.end());
  named_.erase(it);
  return kill ? p->kill() : p->stop(grace);
}

}  // namespace nslab
