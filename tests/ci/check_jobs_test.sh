#!/usr/bin/env bash
# `nslab check` as a test suite runs it:
#  - one check process creates only its labs' network namespaces: no probe
#    namespaces for its environment check, asked once (strace counts them);
#  - -j N checks files at once — proved by two labs that each wait for the
#    other's program, which only finish when both are being built together —
#    while each file's output stays together, in the order given; the exit
#    code is the worst; --junit is still one file with every suite in order.
set -euo pipefail
nslab=$1
scenarios=$2
work=$(mktemp -d /tmp/nslab-check-jobs-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run_check() {  # run_check EXPECTED_EXIT ARGS...; sets $out (stdout) and $err
  local want=$1 rc
  shift
  set +e
  out=$("$nslab" check "$@" 2>"$work/err")
  rc=$?
  set -e
  err=$(cat "$work/err")
  if [ "$rc" = 4 ]; then echo "skipped: $out $err"; exit 4; fi
  [ "$rc" = "$want" ] || fail "nslab check $* exited $rc, not $want:"$'\n'"$out"$'\n'"$err"
}

# The summary lines of stdout, in order: "PASS file" / "FAIL file".
summaries() { grep -E '^(PASS|FAIL) ' <<<"$out" | sed -E 's/^(PASS|FAIL) ([^:]*):.*/\1 \2/'; }

# Every expectation line belongs to the file of the next summary line: a
# file's output is never interleaved with another's.
together() {
  awk '/^  (ok|FAIL) / { split($2, p, ":"); pending[p[1]] = 1; n++; next }
       /^(PASS|FAIL) / { f = $2; sub(/:$/, "", f); for (k in pending) if (k != f) { print "line of " k " before the end of " f; bad = 1 } delete pending }
       END { exit bad }' <<<"$out" || fail "interleaved output:"$'\n'"$out"
}

seed=$scenarios/seed/01-veth-pair.yaml
cp "$seed" "$work/pass1.yaml"
cp "$seed" "$work/pass2.yaml"
sed 's/{ from: red, to: blue, icmp: reachable }/{ from: red, to: blue, icmp: blocked }/' "$seed" > "$work/fail.yaml"
grep -q 'to: blue, icmp: blocked' "$work/fail.yaml" || fail "could not make a failing scenario from $seed"
printf 'name: bad\nnodes:\n  red:\nlinks:\n  - [ "red:eth0 10.0.0.1/24", "nowhere:eth0 10.0.0.2/24" ]\n' > "$work/invalid.yaml"

# --- namespaces per check process ----------------------------------------------
if command -v strace >/dev/null; then
  set +e
  strace -f -qq -e trace=unshare,clone,clone3 -o "$work/trace" "$nslab" check "$work/pass1.yaml" >"$work/out" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 4 ]; then echo "skipped: $(cat "$work/out")"; exit 4; fi
  [ "$rc" = 0 ] || fail "check under strace exited $rc: $(cat "$work/out")"
  made=$(grep -c 'CLONE_NEWNET' "$work/trace" || true)
  # The lab has two nodes: two namespaces, and none for the environment check.
  [ "$made" = 2 ] || fail "one check of a two-node lab created $made network namespaces:"$'\n'"$(grep CLONE_NEWNET "$work/trace")"
else
  echo "note: strace is not installed; namespaces per check are not counted"
fi

# --- -j --------------------------------------------------------------------------
run_check 0 "$work/pass1.yaml"
serial=$(sed -E 's/[0-9]+(\.[0-9]+)? ms/N ms/g' <<<"$out")

run_check 2 -j 3 --junit "$work/all.xml" "$work/pass1.yaml" "$work/fail.yaml" "$work/invalid.yaml" "$work/pass2.yaml"
[ "$(summaries)" = "PASS $work/pass1.yaml
FAIL $work/fail.yaml
PASS $work/pass2.yaml" ] || fail "summaries out of order:"$'\n'"$out"
together
grep -q "INVALID $work/invalid.yaml" <<<"$err" || fail "no INVALID line: $err"
grep -q 'invalid.yaml:5:31: link endpoint "nowhere:eth0" names unknown node "nowhere"' <<<"$err" || fail "no position: $err"
grep -q "FAIL $work/fail.yaml:11:5: red -> blue icmp: blocked — observed reachable" <<<"$out" || fail "no failed line: $out"
# The first file's block is what a check of that file alone prints.
first=$(sed -n "1,/^PASS /p" <<<"$out" | sed -E 's/[0-9]+(\.[0-9]+)? ms/N ms/g')
[ "$first" = "$serial" ] || fail "pass1's block differs from a check of it alone:"$'\n'"$first"$'\n'"---"$'\n'"$serial"
python3 - "$work/all.xml" "$work" <<'PY' || fail "JUnit: $(cat "$work/all.xml")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [s for s in root.iter("testsuite")]
w = sys.argv[2]
assert len(suites) == 4, len(suites)
assert [s.get("name") for s in suites] == ["veth-pair", "veth-pair", w + "/invalid.yaml", "veth-pair"], [s.get("name") for s in suites]
fails = [int(s.get("failures", "0")) + int(s.get("errors", "0")) for s in suites]
assert fails[0] == 0 and fails[1] >= 1 and fails[2] >= 1 and fails[3] == 0, fails
PY

run_check 1 -j 2 "$work/pass1.yaml" "$work/fail.yaml" "$work/pass2.yaml"
together
run_check 0 --jobs 2 "$work/pass2.yaml" "$work/pass1.yaml"
[ "$(summaries)" = "PASS $work/pass2.yaml
PASS $work/pass1.yaml" ] || fail "summaries out of order:"$'\n'"$out"
run_check 2 -j 0 "$work/pass1.yaml"
grep -q -- '-j needs a number' <<<"$err" || fail "no -j message: $err"

# Files really are checked at once: each lab's build waits (up to 20 s) for a
# file that the other lab's program makes. One at a time, the first would
# time out.
for me in a b; do
  other=$([ $me = a ] && echo b || echo a)
  cat > "$work/wait-$me.yaml" <<YAML
name: wait-$me
nodes:
  red:
    run: [ { command: "touch $work/$me; while [ ! -e $work/$other ]; do sleep 0.01; done", exit: 0, timeout: 20s } ]
  blue:
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
expect:
  - { from: red, to: blue, icmp: reachable }
YAML
done
run_check 0 -j 2 "$work/wait-a.yaml" "$work/wait-b.yaml"
[ "$(summaries)" = "PASS $work/wait-a.yaml
PASS $work/wait-b.yaml" ] || fail "summaries:"$'\n'"$out"
echo "ok"
