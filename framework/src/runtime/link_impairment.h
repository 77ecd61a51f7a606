// Link impairment made real: a tbf rate limit on the sending interface;
// loss, delay and jitter with netem where the kernel has it, else loss as an
// nftables random drop at the receiving interface's ingress (delay and
// jitter then fail the build with EnvironmentError naming the option).
#pragma once

namespace nslab {

// True when this kernel has the netem qdisc (asked once, in a scratch
// namespace, and remembered).
bool kernel_has_netem();

}  // namespace nslab
