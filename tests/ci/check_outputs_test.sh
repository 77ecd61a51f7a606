#!/usr/bin/env bash
# What `nslab check` writes is safe whatever a scenario holds:
#  - --junit FILE is well-formed XML (a real parser reads it) when a program
#    in a node prints bytes that are not UTF-8, control characters or "]]>",
#    and when names hold markup characters; the text survives, escaped;
#  - --artifacts DIR never writes outside DIR, whatever the scenario's name
#    ("../../../../tmp/x", "..", a leading dot, control characters, a
#    symbolic link planted in DIR).
set -euo pipefail
nslab=$1
work=$(mktemp -d /tmp/nslab-check-outputs-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run_check() {  # run_check EXPECTED_EXIT ARGS...; sets $out
  local want=$1 rc
  shift
  set +e
  out=$("$nslab" check "$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" = 4 ]; then echo "skipped: $out"; exit 4; fi
  [ "$rc" = "$want" ] || fail "nslab check $* exited $rc, not $want:"$'\n'"$out"
}

# --- JUnit --------------------------------------------------------------------
cat > "$work/bytes.yaml" <<'YAML'
name: "bytes <&> \"quoted\" 'single'"
nodes: { a: }
expect:
  - { from: a, command: "printf 'bad \\377\\376 bytes, cut \\342\\202 then ]]> and <tag> & \\001\\033[31m red \\r\\n'; exit 3", exit: 0 }
  - { from: a, command: "printf 'fine: caf\\303\\251 \\342\\202\\254'", exit: 0 }
YAML
run_check 1 --junit "$work/out.xml" "$work/bytes.yaml"
python3 - "$work/out.xml" <<'PY' || fail "the JUnit file is not what it should be:"$'\n'"$(cat -v "$work/out.xml")"
import sys, xml.etree.ElementTree as ET
raw = open(sys.argv[1], "rb").read()
raw.decode("utf-8")                      # valid UTF-8, or UnicodeDecodeError
root = ET.fromstring(raw)                # well-formed XML 1.0, or ParseError
suite = root.find("testsuite")
assert suite.get("name") == "bytes <&> \"quoted\" 'single'", suite.get("name")
assert root.get("tests") == "2" and root.get("failures") == "1", root.attrib
cases = suite.findall("testcase")
failure = cases[0].find("failure")
assert failure is not None, "the failed command has no failure element"
text = failure.text
for part in ["bad \\xFF\\xFE bytes", "cut \\xE2\\x82 then ]]> and <tag> &", "\\x01\\x1B[31m red"]:
    assert part in text, (part, text)
assert part in failure.get("message"), failure.get("message")
assert cases[1].find("failure") is None
print("JUnit: parsed, escaped text intact")
PY

# --- artifacts ----------------------------------------------------------------
# DIR is deep enough that "../../../../tmp/x" from DIR lands inside $work
# ($work/w/tmp/x), where this test can see it.
dir="$work/w/a/b/c/artifacts"
mkdir -p "$dir"
failing_capture() {  # failing_capture NAME FILE: a scenario whose capture expectation fails
  cat > "$2" <<YAML
name: $1
nodes: { a: , b: }
links:
  - [ "a:eth0 10.0.0.1/30", "b:eth0 10.0.0.2/30" ]
expect:
  - capture: { on: "a:eth0", during: { from: a, to: b, icmp: reachable }, filter: icmp, count: 0 }
YAML
}
failing_capture '"../../../../tmp/x"' "$work/escape.yaml"
failing_capture '".."' "$work/dotdot.yaml"
failing_capture '".hidden/../../up"' "$work/hidden.yaml"
failing_capture '"ctl\u0001\ttab"' "$work/control.yaml"
failing_capture "\"$(printf 'n%.0s' {1..300})\"" "$work/long.yaml"
for f in escape dotdot hidden control long; do
  run_check 1 --artifacts "$dir" "$work/$f.yaml"
  kept=$(grep -o 'packets kept in .*' <<<"$out" | sed 's/packets kept in //') || fail "$f: no pcap kept:"$'\n'"$out"
  [ -f "$kept" ] || fail "$f: $kept does not exist"
  real=$(realpath "$kept")
  case "$real" in "$(realpath "$dir")"/*/*) ;; *) fail "$f: $kept is outside $dir";; esac
  component=$(basename "$(dirname "$real")")
  [ "${component:0:1}" != . ] || fail "$f: a directory with a leading dot: $component"
  [ "${#component}" -le 64 ] || fail "$f: a directory name of ${#component} characters"
  LC_ALL=C grep -q '^[A-Za-z0-9._-]*$' <<<"$component" || fail "$f: unsafe directory name \"$component\""
done
outside=$(find "$work" -name '*.pcap' -not -path "$dir/*")
[ -z "$outside" ] || fail "pcap files outside $dir: $outside"

# A symbolic link planted in DIR does not lead the pcap out either.
mkdir "$work/elsewhere"
ln -s "$work/elsewhere" "$dir/planted"
failing_capture planted "$work/planted.yaml"
run_check 1 --artifacts "$dir" "$work/planted.yaml"
grep -q "outside" <<<"$out" || fail "planted: no word of the escape:"$'\n'"$out"
[ -z "$(ls -A "$work/elsewhere")" ] || fail "planted: written through the link: $(ls "$work/elsewhere")"

echo "JUnit parses whatever programs print; artifacts stay inside DIR"
