#include "link_impairment.h"

#include <mutex>

#include "netlink.h"
#include "nslab/netns.h"

namespace nslab {

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

}  // namespace nslab
