// The probe engine. Sockets are made inside each source node by one helper
// thread that hops between namespaces; everything else (connect, send, the
// event loop) runs on the caller's thread, since a socket keeps the namespace
// it was made in. What a probe's evidence means is decided in
// verdict_rules.cpp; the ICMP bytes are read and written by icmp_codec.cpp.
#include "probe_engine.h"

#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

#include "link_impairment.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "probe_engine_impl.h"
#include "stillness.h"

namespace nslab {

namespace probe_engine {

// How many descriptors the probes of one batch may hold: what the limit
// leaves after those already open.
long descriptor_budget() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  long open = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++open;
    ::closedir(d);
  }
  long soft = lim.rlim_cur == RLIM_INFINITY ? (1L << 20) : static_cast<long>(lim.rlim_cur);
  return std::max(soft - open - kReservedDescriptors, 1L);
}

// The packet shape a probe asks for, checked as the scenario loader checks
// it (for probes made in C++).
void check_shape(const Probe& p) {
  if (p.ttl < 0 || p.ttl > 255)
    throw ConfigError(fmt::format("probe \"{}\": ttl must be from 1 to 255, not {}", p.str(), p.ttl));
  if (p.size && p.protocol == Protocol::icmp && *p.size > Probe::kMaxEchoData)
    throw ConfigError(fmt::format("probe \"{}\": an echo holds at most {} data bytes, not {}", p.str(),
                                  Probe::kMaxEchoData, *p.size));
  if (p.size && p.protocol != Protocol::icmp) {
    if (!p.payload.empty())
      throw ConfigError(fmt::format("probe \"{}\": size makes the payload; give payload or size, not both", p.str()));
    std::size_t most = p.protocol == Protocol::udp ? Probe::kMaxUdpPayload : Probe::kMaxTcpPayload;
    if (*p.size == 0 || *p.size > most)
      throw ConfigError(
          fmt::format("probe \"{}\": a payload size must be from 1 to {} bytes, not {}", p.str(), most, *p.size));
  }
  if (p.df && p.protocol == Protocol::tcp)
    throw ConfigError(fmt::format("probe \"{}\": df needs an icmp or udp probe (TCP adapts to the path MTU)", p.str()));
}

// `size` bytes of printable text, the same for every probe of that size.
std::string generated_payload(std::size_t size) {
  static constexpr std::string_view kPattern = "nslab-size-payload-0123456789\n";
  std::string out;
  out.reserve(size);
  while (out.size() < size) out.append(kPattern.substr(0, std::min(kPattern.size(), size - out.size())));
  return out;
}

Engine::Engine(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options) : lab_(lab), options_(options) {
  tasks_.resize(probes.size());
  for (std::size_t i = 0; i < probes.size(); ++i) {
    Task& t = tasks_[i];
    const Probe& p = probes[i];
    t.result.probe = p;
    auto family = p.family ? p.family : p.icmp_type ? std::optional(p.icmp_type->family) : std::nullopt;
    t.result.target = resolve_target(lab, p.to, family, p.from, p.source);
    t.family = t.result.target.family();
    auto src = resolve_source(lab, p.from, p.source, t.family);
    t.src = src.node;
    t.bind = src.address;
    mark_broadcast(t);
    check_icmp_kind(t.result.probe, t.family);
    if (p.sport && p.protocol == Protocol::icmp)
      throw ConfigError(fmt::format("probe \"{}\": a source port needs a tcp or udp probe", p.str()));
    if (probes[i].protocol != Protocol::icmp && probes[i].port == 0)
      throw ConfigError(fmt::format("probe \"{}\" needs a port", probes[i].str()));
    // A built-in service answers a UDP request with its greeting and the
    // echo in one datagram.
    if (probes[i].protocol == Protocol::icmp && !probes[i].payload.empty())
      throw ConfigError(fmt::format("probe \"{}\": a payload needs a tcp or udp probe", probes[i].str()));
    check_shape(p);
    // A size for tcp/udp is a generated payload, echoed back as any other.
    if (p.size && p.protocol != Protocol::icmp) t.result.probe.payload = generated_payload(*p.size);
    if (probes[i].protocol == Protocol::udp && t.result.probe.payload.size() > kMaxUdpPayload)
      throw ConfigError(fmt::format("probe \"{}\": a UDP payload has at most {} bytes, not {}", probes[i].str(),
                                    kMaxUdpPayload, t.result.probe.payload.size()));
  }
  plan_unconnected();
}

std::vector<ProbeResult> Engine::run() {
  budget_ = descriptor_budget();
  verify_impairments(lab_);
  if (options_.decide_when_still) {
    still_.emplace(lab_);
    if (const auto& why = still_->blocker()) {
      still_reason_ = *why;
      still_.reset();
    }
  }
  make_raw_sockets();
  make_watch_sockets();
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw SystemError("cannot create epoll for probes", errno);
  for (auto& w : watch_) add(w.first.get(), EPOLLIN, kWatchTag | static_cast<std::uint64_t>(w.first.get()));
  for (auto& [fd, family] : raw_) {
    drain_raw(fd, family, /*dispatch=*/false);
    add(fd, EPOLLIN, kRawTag | static_cast<std::uint64_t>(fd));
  }
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    if (tasks_[i].result.probe.protocol == Protocol::icmp)
      start(i);
    else
      queue_.push_back(i);
  }
  admit();
  loop();
  std::vector<ProbeResult> out;
  out.reserve(tasks_.size());
  for (auto& t : tasks_) out.push_back(std::move(t.result));
  return out;
}

// Starts queued tcp/udp probes while their descriptors fit in the budget
// (at least one at a time, whatever the budget). Sockets for a round are
// made in one pass over the source nodes.
void Engine::admit() {
  while (!queue_.empty()) {
    std::vector<std::size_t> round;
    std::size_t held = held_;
    while (!queue_.empty()) {
      std::size_t c = cost(tasks_[queue_.front()]);
      if (!(held == 0 || held + c <= static_cast<std::size_t>(budget_))) break;
      held += c;
      round.push_back(queue_.front());
      queue_.pop_front();
    }
    if (round.empty()) return;
    std::vector<Node*> nodes;
    for (auto i : round)
      if (std::find(nodes.begin(), nodes.end(), tasks_[i].src) == nodes.end()) nodes.push_back(tasks_[i].src);
    std::vector<int> failed(round.size(), 0);
    lab_.run_in_each(nodes, [&](Node& n) {
      for (std::size_t k = 0; k < round.size(); ++k) {
        Task& t = tasks_[round[k]];
        if (t.src != &n) continue;
        try {
          t.fd = stream_socket(t, n);
        } catch (const SystemError& e) {
          failed[k] = e.code();
        }
      }
    });
    std::vector<std::size_t> later;
    for (std::size_t k = 0; k < round.size(); ++k) {
      std::size_t i = round[k];
      if (failed[k] == EMFILE || failed[k] == ENFILE) {
        // Something else took descriptors: wait for this batch's own.
        tasks_[i].fd.reset();
        later.push_back(i);
        continue;
      }
      if (failed[k])
        throw SystemError(fmt::format("cannot open a socket for probe {}", tasks_[i].result.probe.str()), failed[k]);
      held_ += cost(tasks_[i]);
      start(i);
    }
    if (!later.empty()) {
      if (held_ == 0)
        throw SystemError(fmt::format("cannot open a socket for probe {}: no descriptor is left",
                                      tasks_[later.front()].result.probe.str()),
                          EMFILE);
      queue_.insert(queue_.begin(), later.begin(), later.end());
      budget_ = static_cast<long>(held_);
      return;
    }
    if (!queue_.empty() && held_ + cost(tasks_[queue_.front()]) > static_cast<std::size_t>(budget_)) return;
  }
}

void Engine::add(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw SystemError("cannot watch probe socket", errno);
}

void Engine::modify(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw SystemError("cannot watch probe socket", errno);
}

void Engine::forget(Fd& fd) {
  if (!fd) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd.get(), nullptr);
  fd.reset();
}

void Engine::sent_something() {
  if (!still_) return;
  next_look_ = Clock::now() + kSettle;
  wake_at(next_look_);
}

// At least two attempts, each followed by stillness, before `blocked`: the
// machine itself may drop a packet now and then (a full CPU backlog under
// load), and one such loss must not read as a DROP. With random loss on the
// lab's links, as many as Stillness::attempts_needed asks for the packets
// of one attempt (a large UDP payload is several fragments, each lost on
// its own); a TCP probe makes at most 1 + kMaxSpareConnects attempts, and
// where that is not enough, only the timeout decides.
void Engine::plan_attempts(Task& t) const {
  if (!still_) return;
  if (single_shot()) {  // one request, as a loss measurement asks
    t.needed = 1;
    return;
  }
  const auto& p = t.result.probe;
  int out = 1, back = 1;
  if (p.protocol == Protocol::icmp && p.size) out = back = fragments(*p.size + 8, t.family);
  if (p.protocol == Protocol::udp) {
    std::size_t request = (p.payload.empty() ? 11 : p.payload.size()) + 8;
    out = fragments(request, t.family);
    back = fragments(request + kMaxGreeting, t.family);
  }
  auto n = still_->attempts_needed(out, back);
  if (!n) {
    t.wait_reason =
        fmt::format("the lab's lossy links lose all of {} attempts too often", detail::Stillness::kMaxAttempts);
    return;
  }
  t.needed = std::max(2, *n);
  if (p.protocol == Protocol::tcp && p.sport) {
    t.wait_reason = "a fixed source port allows one connection attempt";
    t.needed.reset();
    return;
  }
  if (p.protocol == Protocol::tcp && *t.needed > static_cast<int>(1 + kMaxSpareConnects)) {
    t.wait_reason = fmt::format("the lab's lossy links call for {} connection attempts, a TCP probe makes {}",
                                *t.needed, 1 + kMaxSpareConnects);
    t.needed.reset();
  }
}

int Engine::fragments(std::size_t bytes, Family f) const {
  int mtu = still_->min_mtu();
  std::size_t header = f == Family::ipv4 ? 20 : 40;
  if (bytes + header <= static_cast<std::size_t>(mtu)) return 1;
  std::size_t each = (static_cast<std::size_t>(mtu) - header - (f == Family::ipv4 ? 0 : 8)) & ~std::size_t{7};
  return static_cast<int>((bytes + each - 1) / std::max<std::size_t>(each, 8));
}

// When every probe has started and the lab is still, a probe waiting for
// an answer gets none to the attempts it made: it is tried again at once
// until it has made enough, then it is blocked.
void Engine::look_for_stillness(Clock::time_point now) {
  if (!still_ || now < next_look_ || !queue_.empty()) return;
  next_look_ = now + kLookGap;
  wake_at(next_look_);
  Clock::time_point deadline = Clock::time_point::max();
  bool decidable = false;
  for (const auto& t : tasks_)
    if (awaiting(t)) {
      deadline = std::min(deadline, t.deadline);
      decidable = decidable || t.needed;
    }
  if (!decidable) return;
  std::string why;
  switch (still_->settle(
      deadline, [this] { return poll_once(0); }, kEventsPerPoll, why)) {
    case detail::Stillness::Settled::moved: return;
    case detail::Stillness::Settled::gave_up:
      still_reason_ = why;
      still_.reset();
      return;
    case detail::Stillness::Settled::still: break;
  }
  std::vector<std::size_t> again;
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    Task& t = tasks_[i];
    if (!awaiting(t) || !t.needed) continue;
    if (t.attempts < *t.needed) {
      if (t.result.probe.protocol != Protocol::tcp || t.spare.size() < kMaxSpareConnects) again.push_back(i);
      continue;
    }
    finish(t, Verdict::blocked,
           fmt::format("no answer to {} attempts; the lab was still after each (nothing moved on any link or "
                       "queue for {} ms), the last at {:.1f} ms",
                       t.attempts, kLookGap.count(),
                       std::chrono::duration<double, std::milli>(Clock::now() - t.start).count()));
  }
  if (again.empty()) return;
  still_->forget();
  std::vector<std::size_t> reconnect;
  for (auto i : again) {
    Task& t = tasks_[i];
    t.next_retry = Clock::now() + options_.retry_interval;
    if (t.result.probe.protocol == Protocol::icmp)
      send_echo(t);
    else if (t.result.probe.protocol == Protocol::udp)
      send_udp(t);
    else
      reconnect.push_back(i);
  }
  if (!reconnect.empty()) retry_connects(reconnect);
}

void Engine::finish(Task& t, Verdict v, std::string detail) {
  if (t.done) return;
  end_broadcast(t, v, detail);
  t.done = true;
  ++finished_;
  t.result.verdict = v;
  t.result.detail = std::move(detail);
  t.result.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t.start);
  if (kept_ && v == Verdict::reachable && t.result.probe.protocol != Protocol::icmp && t.fd) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, t.fd.get(), nullptr);
    kept_->at(static_cast<std::size_t>(&t - tasks_.data())) = std::move(t.fd);
  }
  forget(t.fd);
  drop_spares(t);
  t.own.clear();
  if (t.result.probe.protocol != Protocol::icmp) {
    held_ -= cost(t);
    admit_pending_ = true;
  }
}

void Engine::drop_spares(Task& t) {
  for (auto& f : t.spare) forget(f);
}

// Deadlines, grace periods and retries of the running probes; returns
// when the next one is due.
Clock::time_point Engine::timers(Clock::time_point now) {
  bool due = false;
  for (const auto& t : tasks_)
    if (t.started && !t.done &&
        (t.deadline <= now || ((t.refused_by_own_rules || t.connected) && t.grace_until <= now)))
      due = true;
  // Answers that arrived before a deadline or the end of a grace count, even
  // when this thread was not scheduled to read them in time (a loaded
  // machine): an own REJECT's ICMP error is queued at once, read late.
  if (due)
    while (poll_once(0) == kEventsPerPoll) {}
  Clock::time_point next = Clock::time_point::max();
  std::vector<std::size_t> reconnect;
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    Task& t = tasks_[i];
    if (!t.started || t.done) continue;
    if (t.deadline <= now) {
      expire(t);
      continue;
    }
    if (t.refused_by_own_rules && t.grace_until <= now) {
      finish(t, Verdict::blocked, fmt::format("send: {} ({})", std::strerror(EPERM), detail::local_cause(EPERM)));
      continue;
    }
    if (t.connected && t.grace_until <= now) {
      finish(t, Verdict::reachable,
             t.result.served_by.empty() ? std::string("connected")
                                        : fmt::format("connected; served by {}", t.result.served_by));
      continue;
    }
    if (!t.connected && !t.refused_by_own_rules && t.next_retry <= now) {
      if (t.result.probe.protocol == Protocol::icmp)
        send_echo(t);
      else if (t.result.probe.protocol == Protocol::udp)
        send_udp(t);
      else if (t.spare.size() < kMaxSpareConnects && !t.result.probe.sport)
        reconnect.push_back(i);
      t.next_retry = now + options_.retry_interval;
    }
    if (t.done) continue;
    next = std::min({next, t.deadline, t.connected || t.refused_by_own_rules ? t.grace_until : t.next_retry});
  }
  if (!reconnect.empty()) retry_connects(reconnect);
  return next;
}

void Engine::loop() {
  epoll_event_buffer_.resize(kEventsPerPoll);
  while (finished_ < tasks_.size()) {
    auto now = Clock::now();
    if (now >= next_wake_) {
      next_wake_ = timers(now);
      // A look is due only while it can happen: with stillness watched and
      // no probe queued. A past look time otherwise turns this loop into a
      // busy wait (870 queued TCP probes under a low descriptor limit took
      // 88 s of CPU before).
      if (still_ && queue_.empty()) next_wake_ = std::min(next_wake_, next_look_);
    }
    look_for_stillness(now);
    if (admit_pending_) {
      admit_pending_ = false;
      admit();
      if (still_ && queue_.empty()) wake_at(next_look_);
    }
    if (finished_ >= tasks_.size()) break;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_wake_ - Clock::now()).count() + 1;
    poll_once(static_cast<int>(std::clamp<long long>(wait, 0, 1000)));
  }
}

int Engine::poll_once(int timeout_ms) {
  int n = ::epoll_wait(epoll_.get(), epoll_event_buffer_.data(), kEventsPerPoll, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    throw SystemError("epoll_wait in probes", errno);
  }
  for (int k = 0; k < n; ++k) {
    std::uint64_t tag = epoll_event_buffer_[static_cast<std::size_t>(k)].data.u64;
    if (tag & kWatchTag) {
      on_watched(static_cast<int>(tag & ~kWatchTag));
    } else if (tag & kRawTag) {
      int fd = static_cast<int>(tag & ~kRawTag);
      drain_raw(fd, raw_.at(fd), true);
    } else {
      on_socket(tag, epoll_event_buffer_[static_cast<std::size_t>(k)].events);
    }
  }
  return n;
}

}  // namespace probe_engine

std::vector<ProbeResult> run_probes(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options) {
  if (probes.empty()) return {};
  return probe_engine::Engine(lab, probes, options).run();
}

}  // namespace nslab
