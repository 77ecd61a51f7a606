#!/usr/bin/env bash
# `nslab check --lab`: a lab kept by `nslab up` is checked as it stands, as
# a user debugging by hand re-runs the checks without rebuilding it.
#  - the scenario's own expectations pass against the lab it built;
#  - after the port forward's DNAT rule is flushed by hand (`nslab exec ...
#    iptables`), the forwarded port fails with "refused", and curl in the
#    same node, the independent witness, says "Connection refused" too
#    (before the flush curl was answered through the forward);
#  - a file that describes another lab gets a warning, and its expectations
#    still run against the kept lab;
#  - a lab that is not up, and --lab with --coverage, are usage errors (2);
#  - after `nslab down`, no namespace or record is left.
set -euo pipefail
nslab=$1 scenarios=$2
work=$(mktemp -d /tmp/nslab-check-kept-XXXXXX)
export NSLAB_STATE_DIR=$work/state
id=
cleanup() {
  [ -n "$id" ] && "$nslab" down "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

cp "$scenarios/seed/10-port-forward.yaml" "$work/pf.yaml"
set +e
up=$("$nslab" up "$work/pf.yaml" 2>&1)
rc=$?
set -e
if [ "$rc" = 4 ]; then echo "skipped: $up"; exit 4; fi
[ "$rc" = 0 ] || fail "nslab up exited $rc: $up"
id=$(printf '%s\n' "$up" | sed -n 's/^lab \([^ ]*\) is up:$/\1/p')
[ -n "$id" ] || fail "no lab name in: $up"

check() {  # check EXPECTED_EXIT ARGS...; sets $out
  local want=$1 rc
  shift
  set +e
  out=$(timeout 120 "$nslab" check "$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "nslab check $* exited $rc, not $want:"$'\n'"$out"
}

check 0 --lab "$id" "$work/pf.yaml"
grep -q "PASS $work/pf.yaml: 3 of 3 expectations held against lab $id" <<<"$out" || fail "no PASS line: $out"
grep -q "WARN" <<<"$out" && fail "a warning for the file the lab was built from: $out"
witness=$("$nslab" exec "$id" external -- curl -sS -m 5 http://203.0.113.1:8080/ 2>&1 || true)
grep -q "red" <<<"$witness" || fail "curl was not served by red through the forward: $witness"

"$nslab" exec "$id" host -- iptables -t nat -F PREROUTING
check 1 --lab "$id" "$work/pf.yaml"
grep -q "FAIL $work/pf.yaml:27:5: external -> host:eth0 tcp/8080: reachable.*observed refused" <<<"$out" ||
  fail "the flushed forward does not fail as refused: $out"
grep -q "2 of 3 expectations held against lab $id" <<<"$out" || fail "no FAIL summary: $out"
witness=$("$nslab" exec "$id" external -- curl -v -sS -m 5 http://203.0.113.1:8080/ 2>&1 || true)
grep -q "Connection refused" <<<"$witness" || fail "curl disagrees after the flush: $witness"

sed 's/8080/8081/' "$work/pf.yaml" >"$work/other.yaml"
check 1 --lab "$id" "$work/other.yaml"
grep -q "WARN $work/other.yaml: describes another lab than $id was built from" <<<"$out" ||
  fail "no warning for another lab: $out"
grep -q "tcp/8081" <<<"$out" || fail "the other file's expectations did not run: $out"

check 2 --lab "no-such-lab-0" "$work/pf.yaml"
grep -q 'no lab "no-such-lab-0" is up' <<<"$out" || fail "$out"
check 2 --lab "$id" --coverage "$work/c.info" "$work/pf.yaml"

"$nslab" down "$id" >/dev/null
id=
ip netns list | grep -q "port-forward" && fail "a namespace is left: $(ip netns list)"
[ -z "$(ls -A "$NSLAB_STATE_DIR" 2>/dev/null)" ] || fail "records are left: $(ls -A "$NSLAB_STATE_DIR")"
echo "ok"
