#!/usr/bin/env bash
# The installed headers are exactly the API the README documents (its
# "Public API" table), the description library references no netlink or
# nftables code and of libpcap only its filter compiler, and `nslab
# validate` built against the description library alone works.
set -euo pipefail
build=$1 source=$2 validate_only=$3
work=$(mktemp -d /tmp/nslab-api-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cmake --install "$build" --prefix "$work/prefix" >/dev/null
installed=$(cd "$work/prefix/include" && find nslab -type f | sort)
documented=$(grep -oE '^\| `nslab/[a-z_]+\.h`' "$source/README.md" | sed 's/^| `//; s/`$//' | sort)
[ -n "$documented" ] || fail "README.md has no Public API table"
if [ "$installed" != "$documented" ]; then
  echo "installed but not documented:"; comm -23 <(echo "$installed") <(echo "$documented")
  echo "documented but not installed:"; comm -13 <(echo "$installed") <(echo "$documented")
  fail "the installed headers are not the documented API"
fi
model=$(find "$work/prefix" -name 'libnslab_model.a' | head -1)
[ -n "$model" ] || fail "libnslab_model.a is not installed"
undefined=$(nm -u "$model" | awk '{print $2}' | sort -u)
bad=$(grep -E '^(rtnl_|nl_|nla_|nlmsg_|nft_|genl_)' <<<"$undefined" || true)
[ -z "$bad" ] || fail "the description library references netlink/nftables code: $bad"
pcap=$(grep -E '^pcap_' <<<"$undefined" | tr '\n' ' ')
for f in $pcap; do
  case $f in pcap_open_dead | pcap_compile | pcap_freecode | pcap_geterr | pcap_close) ;;
  *) fail "the description library uses $f of libpcap (only the filter compiler is allowed)" ;; esac
done
# nslab validate from the description layer alone.
printf 'nodes: { a: , b: }\nlinks: [ [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ] ]\nexpect: [ { from: a, to: b, icmp: reachable } ]\n' > "$work/ok.yaml"
printf 'nodes: { a: , b: }\nlinks: [ [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ] ]\nexpect: [ { from: a, to: b, icmp: reachabel } ]\n' > "$work/bad.yaml"
"$validate_only" "$work/ok.yaml" >/dev/null || fail "validate-only rejects a valid file"
rc=0; out=$("$validate_only" "$work/bad.yaml" 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "validate-only: exit $rc for a bad file"
grep -q 'bad.yaml:3:35: "reachabel" is not a verdict; did you mean "reachable"?' <<<"$out" || fail "validate-only: $out"
if ldd "$validate_only" | grep -qE 'libnl-|libnftables'; then fail "validate-only links netlink or nftables"; fi
echo "$(wc -l <<<"$installed") installed headers = the documented API; the description layer needs no runtime"
