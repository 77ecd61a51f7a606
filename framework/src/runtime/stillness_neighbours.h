// The neighbour settings of the calling thread's namespace, for the
// stillness census (stillness_census.cpp).
#pragma once

namespace nslab::detail {

struct NeighbourSettings {
  bool proxies = false;    // proxy ARP/NDP somewhere, or resolution by user space (app_solicit)
  long failure_ms = 3000;  // the soonest an unanswered resolution fails here
};

// Read by a thread inside the node. Where the kernel cannot be asked,
// `proxies` is true: stillness is then no evidence there.
NeighbourSettings neighbour_settings_here();

}  // namespace nslab::detail
