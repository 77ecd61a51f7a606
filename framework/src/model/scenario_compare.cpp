#include "scenario_compare.h"

#include <yaml-cpp/yaml.h>

#include <string>

namespace nslab::detail {

namespace {

// Structural equality: scalars by their text, sequences in order, maps by
// key whatever their order (a scenario's keys are scalars).
bool same(const YAML::Node& a, const YAML::Node& b, bool top) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar: return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence: {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!same(a[i], b[i], false)) return false;
      return true;
    }
    case YAML::NodeType::Map: {
      auto ignored = [&](const YAML::Node& key) {
        if (!top || !key.IsScalar()) return false;
        const std::string& k = key.Scalar();
        return k == "expect" || k == "name" || k == "description";
      };
      std::size_t na = 0, nb = 0;
      for (const auto& kv : a) {
        if (ignored(kv.first)) continue;
        ++na;
        if (!kv.first.IsScalar()) return false;
        const YAML::Node other = b[kv.first.Scalar()];
        if (!other.IsDefined() || !same(kv.second, other, false)) return false;
      }
      for (const auto& kv : b)
        if (!ignored(kv.first)) ++nb;
      return na == nb;
    }
    default: return true;  // both null, or both undefined
  }
}

}  // namespace

bool same_lab_description(std::string_view a, std::string_view b) {
  try {
    return same(YAML::Load(std::string(a)), YAML::Load(std::string(b)), true);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace nslab::detail
