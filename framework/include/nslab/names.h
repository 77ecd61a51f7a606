// The rules for the names a lab description uses: nodes, interfaces,
// bridges and sysctl keys. Each check returns why a name is refused, or
// nothing; validation and the builder share them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nslab {

// Linux's IFNAMSIZ - 1.
inline constexpr std::size_t kMaxInterfaceName = 15;
inline constexpr std::size_t kMaxNodeName = 32;

// Interface and bridge names: 1 to 15 letters, digits, '-' and '_', not
// starting with '-', and not "all" or "default" (the kernel's own names in
// net.ipv4.conf). Safe in endpoint syntax, DOT, nft rulesets, sysctl paths.
std::optional<std::string> interface_name_problem(std::string_view name);
// Node names: the same characters, 1 to 32 of them.
std::optional<std::string> node_name_problem(std::string_view name);
// Only keys that each network namespace has of its own may be set: "net."
// keys, less those the kernel keeps machine-wide (most of net.core, the
// neighbour table defaults, the route cache knobs...), which a lab's
// namespaces lack or show read-only.
std::optional<std::string> sysctl_key_problem(std::string_view key);

// Text for a message: control characters escaped (\x0d), never raw.
std::string printable(std::string_view text);

}  // namespace nslab
