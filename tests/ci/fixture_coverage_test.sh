#!/usr/bin/env bash
# LabFixture with NSLAB_COVERAGE=DIR, through the real BOOST_FIXTURE_TEST_CASE
# machinery (tests/netns/coverage_demo.cpp): the LCOV and Cobertura files
# hold each rule line of fw's rules.v4 with the packets the tests sent
# through it, added up over the program's test cases and nothing else;
# NSLAB_COVERAGE_MIN fails a program that passed (exit 3) below its share.
set -euo pipefail
demo=$1 rules=$2
work=$(mktemp -d /tmp/nslab-fixture-coverage-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run() {  # DIR [ENV...] -- ARGS...: sets $rc and $out
  local dir=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  set +e
  out=$(env NSLAB_COVERAGE="$dir" "${envs[@]}" "$demo" "$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" = 4 ]; then echo "skipped: $out"; exit 4; fi
}
# The packets of one line of the LCOV file: "DA:LINE,N" -> N.
da() { sed -n "s/^DA:$2,//p" "$1"; }

run "$work/all" --
[ "$rc" = 0 ] || fail "the demo failed ($rc)"$'\n'"$out"
info="$work/all/coverage_demo.info"
[ -f "$info" ] || fail "no $info: $(ls -R "$work")"
grep -qx "SF:$rules" "$info" || fail "the rule file is not the source"$'\n'"$(cat "$info")"
# Three pings: three echo requests accepted, three replies out by OUTPUT's policy.
[ "$(da "$info" 5)" = 3 ] || fail "line 5 (echo-request ACCEPT) is not 3"$'\n'"$(cat "$info")"
[ "$(da "$info" 6)" -ge 1 ] || fail "line 6 (port 22 ACCEPT) was not hit"$'\n'"$(cat "$info")"
[ "$(da "$info" 4)" -ge 4 ] || fail "line 4 (OUTPUT policy) has not the replies"$'\n'"$(cat "$info")"
for line in 2 3 7; do
  [ "$(da "$info" $line)" = 0 ] || fail "line $line was never exercised, yet counts"$'\n'"$(cat "$info")"
done
grep -qx "LF:6" "$info" && grep -qx "LH:3" "$info" || fail "not 3 of 6 lines"$'\n'"$(cat "$info")"
python3 - "$work/all/coverage_demo.xml" "$rules" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "coverage" and abs(float(root.get("line-rate")) - 0.5) < 1e-9, root.attrib
lines = {int(l.get("number")): int(l.get("hits")) for l in root.iter("line")}
assert lines[5] == 3 and lines[7] == 0 and len(lines) == 6, lines
PY

# One test case alone: only its own packets.
run "$work/one" -- --run_test=pings_three_times
[ "$rc" = 0 ] || fail "pings_three_times failed ($rc)"$'\n'"$out"
[ "$(da "$work/one/coverage_demo.info" 6)" = 0 ] || fail "port 22 counted without its test"

# The gate: 50% passes at 50, fails at 60 with the share named.
run "$work/gate" NSLAB_COVERAGE_MIN=50 --
[ "$rc" = 0 ] || fail "exit $rc at NSLAB_COVERAGE_MIN=50"$'\n'"$out"
run "$work/gate" NSLAB_COVERAGE_MIN=60% --
[ "$rc" = 3 ] || fail "exit $rc, not 3, at NSLAB_COVERAGE_MIN=60%"$'\n'"$out"
grep -q "firewall rule coverage 50.0% (3 of 6 lines) is under NSLAB_COVERAGE_MIN 60%" <<<"$out" ||
  fail "the gate does not say why"$'\n'"$out"
# A value that is no percentage is not a way to turn the gate off.
run "$work/gate" NSLAB_COVERAGE_MIN=lots --
[ "$rc" = 3 ] || fail "exit $rc for NSLAB_COVERAGE_MIN=lots"$'\n'"$out"
echo "coverage ok: $(grep -c '^DA:' "$info") lines"
