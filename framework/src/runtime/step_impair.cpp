// A link's impairment changed while the lab runs (a step's `impair:`): the
// old one taken off, the new one applied as the build applies it, and both
// read back from the kernel before the call returns.
#include <nftables/libnftables.h>

#include <fmt/format.h>
#include <memory>

#include "lab_build.h"
#include "link_impairment.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab.h"

namespace nslab {

namespace {

// Whether the node has nslab's loss table for `interface`, and it drops.
bool has_loss_table(const Node& n, const std::string& interface) {
  return n.run([&] {
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    if (!ctx) throw SystemError(fmt::format("node \"{}\": cannot make an nftables context", n.name()), ENOMEM);
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    std::string cmd = "list table netdev " + loss_table_name(interface);
    if (nft_run_cmd_from_buffer(ctx.get(), cmd.c_str()) != 0) return false;
    return std::string(nft_ctx_get_output_buffer(ctx.get())).find("drop") != std::string::npos;
  });
}

void delete_loss_table(const Node& n, const std::string& interface) {
  n.run([&] {
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    if (!ctx) throw SystemError(fmt::format("node \"{}\": cannot make an nftables context", n.name()), ENOMEM);
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    std::string cmd = "delete table netdev " + loss_table_name(interface);
    if (nft_run_cmd_from_buffer(ctx.get(), cmd.c_str()) != 0)
      throw Error(fmt::format("node \"{}\": cannot delete nslab's loss table for \"{}\": {}", n.name(), interface,
                              nft_ctx_get_error_buffer(ctx.get())));
  });
}

// The C++ API skips the scenario parser's checks (as topology_problems.cpp
// checks a build's impairments).
void check_values(std::string_view label, const Impairment& im) {
  if (im.rate &&
      (im.rate->bits_per_second < Rate::kMinBitsPerSecond || im.rate->bits_per_second > Rate::kMaxBitsPerSecond))
    throw ConfigError(
        fmt::format("impair \"{}\": rate {} bit/s is outside 8bit..10tbit", label, im.rate->bits_per_second));
  if (im.loss_percent && !(*im.loss_percent >= 0 && *im.loss_percent <= 100))
    throw ConfigError(fmt::format("impair \"{}\": loss {}% is outside 0%..100%", label, *im.loss_percent));
  for (const auto& [what, d] : {std::pair{"delay", im.delay}, std::pair{"jitter", im.jitter}})
    if (d && (d->count() < 0 || *d > std::chrono::seconds(60)))
      throw ConfigError(fmt::format("impair \"{}\": {} {} us is outside 0..60s", label, what, d->count()));
}

bool sends(const Impairment& im, bool from_a) {
  return im.direction == Impairment::Direction::both ||
         im.direction == (from_a ? Impairment::Direction::a_to_b : Impairment::Direction::b_to_a);
}

}  // namespace

void Lab::set_impairment(std::string_view label, const Impairment& impair) {
  LinkSpec* link = nullptr;
  bool named_b = false;
  for (auto& l : topology_.links())
    if (l.a.label() == label || l.b.label() == label) {
      link = &l;
      named_b = l.b.label() == label;
      break;
    }
  if (!link) throw ConfigError(fmt::format("\"{}\" is not an end of a link of lab \"{}\"", label, topology_.name()));
  check_values(label, impair);
  // `forward` is from the named end: the link's own direction when it is b.
  Impairment want = impair;
  if (named_b && want.direction != Impairment::Direction::both)
    want.direction =
        want.direction == Impairment::Direction::a_to_b ? Impairment::Direction::b_to_a : Impairment::Direction::a_to_b;
  const bool netem = kernel_has_netem();
  if (want.needs_netem() && !netem)
    throw EnvironmentError(
        fmt::format("impair \"{}\": {} needs the kernel's netem qdisc (CONFIG_NET_SCH_NETEM), "
                    "which this kernel lacks; rate and loss work without it",
                    label, want.delay ? "delay" : "jitter"));

  // Off with the old: each sender's root qdisc, each receiver's loss table.
  const Impairment old = link->impair;
  for (bool from_a : {true, false}) {
    const Endpoint& from = from_a ? link->a : link->b;
    const Endpoint& to = from_a ? link->b : link->a;
    if (old.empty() || !sends(old, from_a)) continue;
    Node& sender = node(from.node);
    auto& nl = NodeInternals::netlink(sender);
    if (old.rate || (netem && (old.loss_percent || old.needs_netem())))
      nl.delete_root_qdisc(nl.link(from.interface).index, from.label());
    if (!netem && old.loss_percent && *old.loss_percent > 0 && has_loss_table(node(to.node), to.interface))
      delete_loss_table(node(to.node), to.interface);
  }
  link->impair = want;
  impair_link(*this, *link);

  // Read back: each sender's root qdisc is what the impairment needs (or
  // not nslab's any more), each receiver's loss table there or gone.
  for (bool from_a : {true, false}) {
    const Endpoint& from = from_a ? link->a : link->b;
    const Endpoint& to = from_a ? link->b : link->a;
    const bool on = !want.empty() && sends(want, from_a);
    const bool uses_netem = on && netem && (want.loss_percent || want.needs_netem());
    const std::string expect = uses_netem ? "netem" : on && want.rate ? "tbf" : "";
    const std::string qdisc = NodeInternals::netlink(node(from.node)).link(from.interface).qdisc;
    if (expect.empty() ? (qdisc == "tbf" || qdisc == "netem") : qdisc != expect)
      throw Error(fmt::format("impair \"{}\": the root qdisc of \"{}\" is \"{}\", not {}", label, from.label(), qdisc,
                              expect.empty() ? std::string("the default") : expect));
    const bool table = on && !netem && want.loss_percent && *want.loss_percent > 0;
    if (has_loss_table(node(to.node), to.interface) != table)
      throw Error(fmt::format("impair \"{}\": nslab's loss table on \"{}\" is {}", label, to.label(),
                              table ? "missing" : "still there"));
  }
}

}  // namespace nslab
