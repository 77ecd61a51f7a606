// What validation says of a scenario text, for the unit tests of the
// scenario format.
#pragma once

#include <exception>
#include <string>

#include "nslab/scenario.h"

namespace nslab::testing {

// The full error text of parsing `yaml` as `file` ("" when it is valid). An
// exception other than ScenarioError is a defect of its own (validation
// errors always carry a position): it comes back marked as such.
inline std::string scenario_errors(const std::string& yaml, const std::string& file = "lab.yaml") {
  try {
    parse_scenario(yaml, file);
  } catch (const ScenarioError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a ScenarioError: ") + e.what();
  }
  return "";
}

}  // namespace nslab::testing
