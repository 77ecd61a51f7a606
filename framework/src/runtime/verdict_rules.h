// How a probe's evidence becomes a verdict: the one table that decides every
// verdict, kept apart from the sockets so that it is tested without root.
//
// The rule is what a real client (curl, nc, ping) would report. The kernel
// turns an ICMP error into the errno a socket reports (icmp_err_convert,
// icmpv6_err_convert); nslab does the same, then maps that errno to a
// verdict. An errno that is not about the network (EADDRNOTAVAIL, EMFILE)
// has no verdict: the probe fails the run instead.
#pragma once

#include <optional>
#include <string_view>

#include "nslab/ip_address.h"
#include "nslab/verdict.h"

namespace nslab::detail {

// The errno the kernel reports to a UDP or connecting TCP socket for this ICMP
// error; empty for messages the kernel ignores (source quench, redirect, and
// anything that is not an error). Packet too big / fragmentation needed give
// EMSGSIZE: a TCP socket adapts to them, a probe with DF set cannot.
std::optional<int> icmp_errno(Family family, int type, int code) noexcept;

// The verdict for an errno that came from the network (an ICMP error, a reset).
std::optional<Verdict> verdict_of_network_errno(int err) noexcept;

// The verdict for an errno from the source's own stack (connect, send): a
// route of the source, its own OUTPUT rules. Empty when the errno says nothing
// about the network (EADDRNOTAVAIL, EMFILE, ENOBUFS...).
std::optional<Verdict> verdict_of_local_errno(int err) noexcept;

// A few words on what causes this local errno, for the evidence:
// EINVAL -> "a blackhole route at the source". Empty when nothing to add.
std::string_view local_cause(int err) noexcept;

// "ICMP port unreachable", "ICMPv6 administratively prohibited", ...
std::string icmp_name(Family family, int type, int code);

}  // namespace nslab::detail
