// YAML merge keys for the scenario loader (yaml_reader.h).
#include "yaml_reader.h"

namespace nslab::detail {

namespace {

class Merger {
 public:
  explicit Merger(Reader& r) : r_(r) {}

  void walk(YAML::Node n, int depth) {
    if (stopped_) return;
    if (++visited_ > Reader::kMaxNodes || depth > 256) {
      r_.error(n, fmt::format("the scenario expands to more than {} YAML nodes (aliases of aliases, or nesting "
                              "deeper than 256); write it out with fewer of them",
                              Reader::kMaxNodes));
      stopped_ = true;
      return;
    }
    if (n.IsSequence()) {
      for (auto it = n.begin(); it != n.end(); ++it) walk(*it, depth + 1);
      return;
    }
    if (!n.IsMap()) return;
    merge(n, depth);
    for (auto it = n.begin(); it != n.end(); ++it) walk(it->second, depth + 1);
  }

 private:
  void merge(YAML::Node map, int depth) {
    YAML::Node sources, at;
    bool found = false;
    // A plain `<<` (a quoted "<<" is an ordinary key, tagged "!").
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == "<<" && it->first.Tag() != "!") {
        if (found) r_.error(it->first, "a mapping has one merge key (<<); give several maps as a list, <<: [*a, *b]");
        sources = it->second;
        at = it->first;
        found = true;
      }
    if (!found) return;
    std::vector<YAML::Node> bases;
    if (sources.IsMap()) {
      bases.push_back(sources);
    } else if (sources.IsSequence()) {
      for (auto it = sources.begin(); it != sources.end(); ++it) {
        if (!it->IsMap()) {
          r_.error(*it, "a merge key (<<) takes a mapping or a list of mappings, e.g. <<: *defaults");
          continue;
        }
        bases.push_back(*it);
      }
    } else {
      r_.error(sources, "a merge key (<<) takes a mapping or a list of mappings, e.g. <<: *defaults");
    }
    map.remove(at);
    for (auto& b : bases) {
      walk(b, depth + 1);  // its own merge keys first
      for (auto it = b.begin(); it != b.end(); ++it) {
        if (!it->first.IsScalar()) continue;
        const YAML::Node& view = map;  // a const lookup adds nothing
        if (!view[it->first.Scalar()]) map.force_insert(it->first, it->second);
      }
    }
  }

  Reader& r_;
  std::size_t visited_ = 0;
  bool stopped_ = false;
};

}  // namespace

// A YAML::Node is a handle that shares the tree (a copy edits the same
// nodes), as cheap to pass as a pointer.
void Reader::expand_merge_keys(YAML::Node root) {  // NOLINT(performance-unnecessary-value-param)
  Merger(*this).walk(root, 0);
}

}  // namespace nslab::detail
