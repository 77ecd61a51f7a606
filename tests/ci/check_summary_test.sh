#!/usr/bin/env bash
# `nslab check --summary FILE` against a golden file (times normalised): a
# passing, a failing (a wrong verdict with its evidence, a matrix with its
# tables, a program's output), an empty and an invalid scenario. Then, from
# the same kind of run: a file with no expectations is a warning in
# `validate` and `check`, not "PASS 0 of 0"; and JUnit testcases carry
# their own time, not the batch's.
set -euo pipefail
nslab=$(realpath "$1")
golden=$(cd "$(dirname "$0")" && pwd)/golden/check_summary.md
work=$(mktemp -d /tmp/nslab-summary-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*"; exit 1; }

cat > ok.yaml <<'YAML'
name: ok
nodes:
  red:
  blue:
    services: [ tcp/80 ]
links:
  - [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ]
expect:
  - { from: red, to: blue, icmp: reachable }
  - { from: red, to: blue, tcp: 80, served_by: blue }
YAML
cat > bad.yaml <<'YAML'
name: bad
nodes:
  red:
    run: [ "echo server-started; exec sleep 600" ]
  blue:
links:
  - [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ]
expect:
  - { from: red, to: blue, icmp: blocked }
  - { from: red, to: blue, tcp: 81, verdict: refused }
  - matrix: { protocol: icmp, nodes: [red, blue], default: reachable,
              except: [ { from: blue, to: red, verdict: blocked } ] }
YAML
cat > empty.yaml <<'YAML'
name: empty
nodes:
  red:
YAML
cat > invalid.yaml <<'YAML'
name: invalid
nodes:
  red:
    routs: [ default via 10.0.0.1 ]
YAML

set +e
out=$("$nslab" check --summary summary.md ok.yaml bad.yaml empty.yaml invalid.yaml 2>&1)
rc=$?
set -e
if grep -q "^SKIP" <<<"$out"; then echo "skipped: $out"; exit 4; fi
[ "$rc" = 2 ] || fail "exit $rc, not 2 (an invalid file)"$'\n'"$out"
# Times vary; nothing else does.
sed -E 's/[0-9]+(\.[0-9]+)? (ms|s)\b/N \2/g' summary.md > normalised.md
if [ "${NSLAB_UPDATE_GOLDEN:-}" = 1 ]; then cp normalised.md "$golden"; fi
diff -u "$golden" normalised.md || fail "the summary differs from $golden (NSLAB_UPDATE_GOLDEN=1 rewrites it)"

# No expectations: a warning, with the file's position, in validate and check.
v=$("$nslab" validate empty.yaml 2>&1) || fail "validate rejected empty.yaml: $v"
grep -q "^empty.yaml:1:1: warning: no expectations" <<<"$v" || fail "validate: no warning"$'\n'"$v"
c=$("$nslab" check empty.yaml 2>&1) || fail "check failed on empty.yaml: $c"
grep -q "^empty.yaml:1:1: warning: no expectations" <<<"$c" || fail "check: no warning"$'\n'"$c"
grep -q "^WARN empty.yaml: no expectations" <<<"$c" || fail "check: no WARN line"$'\n'"$c"
! grep -q "PASS empty.yaml" <<<"$c" || fail "check: PASS for a file that checks nothing"$'\n'"$c"
printf 'name: e2\nnodes: { red: }\nexpect: []\n' > empty-list.yaml
v=$("$nslab" validate empty-list.yaml 2>&1)
grep -q "^empty-list.yaml:3:9: warning: no expectations" <<<"$v" || fail "validate: the warning is not at expect:"$'\n'"$v"

# JUnit times: a fast ping and a probe that waits out its 1 s timeout (a
# program in the node keeps the lab from being provably still) each carry
# their own time; before, both carried the batch's.
cat > times.yaml <<'YAML'
name: times
nodes:
  red:
    run: [ "exec sleep 600" ]
  blue:
    iptables: "-A INPUT -p tcp --dport 9 -j DROP"
links:
  - [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ]
expect:
  - { from: red, to: blue, icmp: reachable }
  - { from: red, to: blue, tcp: 9, verdict: blocked }
options: { timeout: 1s }
YAML
t=$("$nslab" check --junit times.xml times.yaml 2>&1) || fail "times.yaml: $t"
python3 - times.xml <<'PY' || fail "JUnit times are not each testcase's own:"$'\n'"$(cat times.xml)"
import sys, xml.etree.ElementTree as ET
cases = {c.get("name"): float(c.get("time")) for c in ET.parse(sys.argv[1]).iter("testcase")}
ping = next(v for k, v in cases.items() if "icmp" in k)
tcp = next(v for k, v in cases.items() if "tcp/9" in k)
assert tcp >= 0.95, cases   # it waited out its timeout
assert ping < tcp, cases    # and the ping did not
PY
echo "summary as golden; no-expectation warnings; JUnit testcases carry their own time"
