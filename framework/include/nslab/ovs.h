// Open vSwitch bridges: what a node's bridge of kind `ovs` adds to a Linux
// bridge's description (topology.h, BridgeSpec). Plain data; the lab runs
// one ovsdb-server and one ovs-vswitchd per node with such bridges, inside
// the node, with a private run directory (README, "Open vSwitch").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"

namespace nslab {

enum class BridgeKind { linux_bridge, ovs };

// The datapath: `netdev` forwards in ovs-vswitchd (userspace, any kernel),
// `system` in the kernel's openvswitch module (CONFIG_OPENVSWITCH).
enum class OvsDatapath { netdev, system };

// With no controller: `standalone` forwards as a learning switch (its
// NORMAL flow) until flows replace it, `secure` forwards only what flows say.
enum class OvsFailMode { standalone, secure };

// A port's VLAN mode, OVS's own words (ovs-vswitchd.conf.db(5), Port vlan_mode).
enum class OvsVlanMode { access, trunk, native_tagged, native_untagged };

std::string_view to_string(BridgeKind k) noexcept;
std::string_view to_string(OvsDatapath d) noexcept;
std::string_view to_string(OvsFailMode m) noexcept;
std::string_view to_string(OvsVlanMode m) noexcept;                        // "native-tagged"
std::optional<BridgeKind> parse_bridge_kind(std::string_view s) noexcept;  // "linux", "ovs"
std::optional<OvsDatapath> parse_ovs_datapath(std::string_view s) noexcept;
std::optional<OvsFailMode> parse_ovs_fail_mode(std::string_view s) noexcept;
std::optional<OvsVlanMode> parse_ovs_vlan_mode(std::string_view s) noexcept;

// One port's settings, by the name of the interface that is the port (a
// link end written "node:NAME@bridge").
struct OvsPort {
  std::string name;
  std::optional<std::uint16_t> tag;      // access VLAN, or native VLAN of a native-* port (0..4095)
  std::vector<std::uint16_t> trunks;     // VLANs a trunk carries; empty: all
  std::optional<OvsVlanMode> vlan_mode;  // empty: access with a tag, else trunk (OVS's default)
  SourceLocation where;
};

// A mirror: a copy of what the listed ports send and receive (empty: every
// port) goes out of `output`, a port of the same bridge (e.g. one a capture
// listens on at its peer).
struct OvsMirror {
  std::string name;
  std::vector<std::string> select;  // port names; empty: all ports
  std::string output;
  SourceLocation where;
};

struct OvsOptions {
  OvsDatapath datapath = OvsDatapath::netdev;
  OvsFailMode fail_mode = OvsFailMode::standalone;
  // Flows in `ovs-ofctl add-flow` syntax, one a line, `#` comments; loaded
  // in one bundle (all or nothing) when the lab is built. `where` is the
  // position of the text's first line (errors name the flow's own line).
  std::string openflow;
  SourceLocation openflow_where;
  std::vector<OvsPort> ports;
  std::vector<OvsMirror> mirrors;

  // Builder helpers: port("veth-red", {.tag = 10}) sets the name.
  OvsOptions& port(std::string name, OvsPort settings = {});
  OvsOptions& flows(std::string text);
  const OvsPort* find_port(std::string_view name) const;
};

// The problems of an `openflow` text that need no ovs-ofctl: a flow is one
// line of printable text with an action ("actions=..."). Each names its
// line and column (from `where`, the text's first line).
std::vector<ConfigError> openflow_problems(std::string_view text, const SourceLocation& where);

// The flow lines of the text without comments and blank lines, each with the
// 0-based index of its line in the text.
struct OpenflowLine {
  std::string text;
  int line = 0;
  int column = 0;  // 0-based byte offset of the flow on its line
};
std::vector<OpenflowLine> openflow_lines(std::string_view text);

}  // namespace nslab
