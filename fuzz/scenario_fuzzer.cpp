// libFuzzer target: the scenario loader must never crash, whatever the bytes.
// Any outcome but a Scenario or a ScenarioError is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nslab/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    nslab::parse_scenario(text, "fuzz.yaml");
  } catch (const nslab::ScenarioError&) {}
  return 0;
}
