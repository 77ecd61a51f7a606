// libpcap's filter compiler is not thread-safe in older versions: every
// pcap_compile in nslab, validation's and captures', holds this lock.
#pragma once

#include <mutex>

namespace nslab {
std::mutex& bpf_compile_mutex();
}  // namespace nslab
