#include "link_impairment.h"

#include <nftables/libnftables.h>

#include <fmt/format.h>

#include <cmath>

#include <memory>
#include <mutex>

#include "firewall.h"
#include "lab_build.h"
#include "netlink.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/names.h"
#include "nslab/netns.h"

namespace nslab {

namespace {

// The rule every loss table holds; verify_impairments looks for it.
constexpr const char* kLossRule = "numgen random mod 1000000 <";

}  // namespace

bool kernel_has_netem() {
  static std::once_flag once;
  static bool has = false;
  std::call_once(once, [] {
    try {
      has = on_new_thread([] {
        Netns scratch = Netns::unshare_this_thread();
        Netlink nl = Netlink::open_here("netem-check");
        nl.set_up(1, true, "netem-check:lo");
        return nl.can_add_netem(1);
      });
    } catch (...) {
      has = false;
    }
  });
  return has;
}

std::string loss_table_name(std::string_view interface) {
  return "nslab_loss_" + std::string(interface);
}

void apply_loss_without_netem(const Node& receiver, const std::string& interface, double percent,
                              const LinkSpec& link) {
  // One table per receiving interface. Interface names are letters, digits,
  // '-' and '_' (validated), all of which an nft identifier and a quoted
  // device name take as they are.
  if (auto why = interface_name_problem(interface))
    throw ConfigError(fmt::format("link \"{}\" <-> \"{}\": {}", link.a.label(), link.b.label(), *why), link.where);
  std::string chain = fmt::format("type filter hook ingress device \"{}\" priority -500;", interface);
  // 100% is every packet: numgen's range has no value that reaches it.
  std::string rule = percent >= 100 ? std::string("counter drop")
                                    : fmt::format("{} {} counter drop", kLossRule, std::lround(percent * 10000.0));
  apply_nftables(receiver, fmt::format("table netdev {} {{\n  chain ingress {{\n    {}\n    {}\n  }}\n}}\n",
                                       loss_table_name(interface), chain, rule));
}

// A link's impairment made real: a tbf rate limit on each sending interface,
// netem where the kernel has it, else loss as nftables drops at the receiver.
void impair_link(Lab& lab, const LinkSpec& l) {
  const Impairment& im = l.impair;
  if (im.empty()) return;
  std::string link = fmt::format("link \"{}\" <-> \"{}\"", l.a.label(), l.b.label());
  bool netem = (im.loss_percent || im.needs_netem()) && kernel_has_netem();
  if (im.needs_netem() && !netem) {
    std::string what = im.delay ? "delay" : "jitter";
    std::string msg = fmt::format(
        "{}: {} needs the kernel's netem qdisc (CONFIG_NET_SCH_NETEM), which this "
        "kernel lacks; rate and loss work without it",
        link, what);
    if (l.where.known()) msg = l.where.str() + ": " + msg;
    throw EnvironmentError(msg);
  }
  std::vector<std::pair<const Endpoint*, const Endpoint*>> directions;  // sender, receiver
  if (im.direction != Impairment::Direction::b_to_a) directions.push_back({&l.a, &l.b});
  if (im.direction != Impairment::Direction::a_to_b) directions.push_back({&l.b, &l.a});
  for (const auto& [from, to] : directions) {
    Node& sender = lab.node(from->node);
    int index = netlink_of(sender).link(from->interface).index;
    if (netem) {
      netlink_of(sender).add_netem(index, im.delay.value_or(std::chrono::microseconds(0)),
                                   im.jitter.value_or(std::chrono::microseconds(0)), im.loss_percent.value_or(0),
                                   from->label());
      if (im.rate) netlink_of(sender).add_rate_limit(index, im.rate->bits_per_second, kNetemChildHandle, from->label());
      continue;
    }
    if (im.rate) netlink_of(sender).add_rate_limit(index, im.rate->bits_per_second, 0, from->label());
    if (im.loss_percent && *im.loss_percent > 0)
      apply_loss_without_netem(lab.node(to->node), to->interface, *im.loss_percent, l);
  }
}

std::vector<std::string> loss_tables_of(const Lab& lab, std::string_view node) {
  std::vector<std::string> out;
  for (const auto& l : lab.topology().links()) {
    const Impairment& im = l.impair;
    if (!im.loss_percent || *im.loss_percent <= 0) continue;
    // Asked only for a lossy link: the answer costs a scratch namespace once.
    if (kernel_has_netem()) return {};
    if (im.direction != Impairment::Direction::b_to_a && l.b.node == node)
      out.push_back(loss_table_name(l.b.interface));
    if (im.direction != Impairment::Direction::a_to_b && l.a.node == node)
      out.push_back(loss_table_name(l.a.interface));
  }
  return out;
}

void verify_impairments(const Lab& lab) {
  for (const auto& n : lab.nodes()) {
    auto tables = loss_tables_of(lab, n->name());
    if (tables.empty()) continue;
    std::string missing = n->run([&] {
      std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
      if (!ctx) return std::string();
      nft_ctx_buffer_output(ctx.get());
      nft_ctx_buffer_error(ctx.get());
      for (const auto& t : tables) {
        std::string cmd = "list table netdev " + t;
        if (nft_run_cmd_from_buffer(ctx.get(), cmd.c_str()) != 0) return t + "\" is gone";
        std::string text = nft_ctx_get_output_buffer(ctx.get());
        if (text.find("drop") == std::string::npos) return t + "\" no longer drops";
      }
      return std::string();
    });
    if (!missing.empty())
      throw Error(
          fmt::format("node \"{}\": nslab's loss table \"{} (removed or changed after the build, e.g. by a "
                      "`flush ruleset`): the link's loss would not apply",
                      n->name(), missing));
  }
}

}  // namespace nslab
