// Whether two scenario files describe one lab, for `nslab check --lab`,
// which runs a file's expectations against a lab kept up by `nslab up`: a
// file whose lab differs from the one that was built would be checked
// against something it does not describe.
#pragma once

#include <string_view>

namespace nslab::detail {

// The two texts are equal as YAML data (styles, comments, key order and
// aliases aside) once their `expect:`, `name:` and `description:` are set
// aside. False when either does not parse.
bool same_lab_description(std::string_view a, std::string_view b);

}  // namespace nslab::detail
