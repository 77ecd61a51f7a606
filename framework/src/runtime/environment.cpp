#include "nslab/environment.h"

#include <fmt/format.h>

#include "nslab/error.h"
#include "netlink.h"
#include "nslab/netns.h"

namespace nslab {

std::optional<std::string> lab_environment_problem() {
  try {
    on_new_thread([] {
      Netns a = Netns::unshare_this_thread();
      Netns b = Netns::create();
      Netlink nl = Netlink::open_here("environment-check");
      nl.set_up(1, true, "environment-check:lo");
      try {
        nl.create_veth(VethEnd{"check0", "environment-check:check0", -1, 0, true, 0, std::nullopt},
                       VethEnd{"check1", "environment-check-peer:check1", b.fd(), 0, false, 0, std::nullopt});
        nl.create_bridge("checkbr0", 0, "environment-check:checkbr0");
      } catch (const NetlinkError& e) {
        if (e.code() == EPERM)
          throw EnvironmentError(fmt::format(
              "{} (CAP_NET_ADMIN is missing in the lab's namespaces)", e.what()));
        if (e.code() == EOPNOTSUPP)
          throw EnvironmentError(fmt::format(
              "{} (the kernel lacks veth or bridge support: CONFIG_VETH, CONFIG_BRIDGE)",
              e.what()));
        throw;
      }
    });
  } catch (const EnvironmentError& e) {
    return std::string(e.what());
  } catch (const Error& e) {
    return fmt::format("cannot build a lab here: {}", e.what());
  }
  return std::nullopt;
}

}  // namespace nslab
