#include "stillness_ruleset.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <cstring>
#include <map>
#include <mutex>

#include "netlink_dump.h"
#include "nslab/fd.h"

namespace nslab::detail {

namespace {

struct Entry {
  std::uint32_t generation = 0;
  std::string json;
  std::optional<std::set<std::string>> skip;  // the last verdict's, when there is one
  std::optional<std::string> verdict;
};

// Namespaces of labs long gone stay listed until the cache is full; their
// cookies never come back.
constexpr std::size_t kMaxEntries = 4096;

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::uint64_t, Entry>& cache() {
  static std::map<std::uint64_t, Entry> c;
  return c;
}

}  // namespace

RulesetGeneration ruleset_generation_here() {
  RulesetGeneration out;
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) return out;
  socklen_t len = sizeof out.netns;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &out.netns, &len) != 0 || out.netns == 0) return out;
  struct {
    nlmsghdr nh;
    nfgenmsg g;
  } req{};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.nh.nlmsg_seq = 1;
  req.g.nfgen_family = AF_UNSPEC;
  req.g.version = NFNETLINK_V0;
  bool found = false;
  int error = netlink_dump(fd.get(), &req, sizeof req, [&](const nlmsghdr& m) {
    if (m.nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return true;
    const char* p = static_cast<const char*>(NLMSG_DATA(&m)) + NLMSG_ALIGN(sizeof(nfgenmsg));
    int size = static_cast<int>(m.nlmsg_len) - static_cast<int>(NLMSG_LENGTH(NLMSG_ALIGN(sizeof(nfgenmsg))));
    while (size >= static_cast<int>(sizeof(nlattr))) {
      nlattr a{};
      std::memcpy(&a, p, sizeof a);
      if (a.nla_len < sizeof(nlattr) || a.nla_len > size) break;
      if ((a.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && a.nla_len >= NLA_HDRLEN + sizeof(std::uint32_t)) {
        std::uint32_t id = 0;
        std::memcpy(&id, p + NLA_HDRLEN, sizeof id);
        out.generation = ntohl(id);
        found = true;
      }
      p += NLA_ALIGN(a.nla_len);
      size -= NLA_ALIGN(a.nla_len);
    }
    return true;
  });
  out.valid = error == 0 && found;
  return out;
}

std::optional<std::string> cached_ruleset(const RulesetGeneration& g) {
  if (!g.valid) return std::nullopt;
  std::lock_guard lock(cache_mutex());
  auto it = cache().find(g.netns);
  if (it == cache().end() || it->second.generation != g.generation) return std::nullopt;
  return it->second.json;
}

std::optional<std::string> ruleset_verdict(const RulesetGeneration& g, const std::string& json,
                                           const std::set<std::string>& skip,
                                           const std::function<std::optional<std::string>()>& scan) {
  if (!g.valid) return scan();
  {
    std::lock_guard lock(cache_mutex());
    auto it = cache().find(g.netns);
    if (it != cache().end() && it->second.generation == g.generation && it->second.json == json &&
        it->second.skip == skip)
      return it->second.verdict;
  }
  auto verdict = scan();
  std::lock_guard lock(cache_mutex());
  auto& c = cache();
  if (c.size() >= kMaxEntries && !c.count(g.netns)) c.clear();
  c[g.netns] = Entry{g.generation, json, skip, verdict};
  return verdict;
}

}  // namespace nslab::detail
