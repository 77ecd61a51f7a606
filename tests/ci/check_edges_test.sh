#!/usr/bin/env bash
# `nslab check` on scenarios at the edges a hostile tester found, run as a
# user runs it (each in the namespace ctest runs in):
#  - a program that prints nothing and fails: the scenario fails with exit 1
#    and says the program printed nothing (the empty log used to throw);
#  - a program whose cwd does not exist fails at its run entry's position;
#  - two scenario files with the same `name:` in one --artifacts run: each
#    keeps its pcap in a directory of its own, and a second run of the same
#    files reuses those directories;
#  - an echo server that does not greet, fed a payload whose first line looks
#    like a greeting ("b 10.0.0.1"): the echo is read whole, over TCP (closing
#    or keeping the connection) and UDP; the built-in service still greets;
#  - loss: 100% is a plain drop that the lab builds (nft refused
#    "numgen random mod 1000000 < 1000000") and that drops everything;
#  - a probe to a subnet's broadcast address names the cause of EACCES.
set -euo pipefail
nslab=$1
work=$(mktemp -d /tmp/nslab-check-edges-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run_check() {  # run_check EXPECTED_EXIT ARGS...; sets $out
  local want=$1 rc
  shift
  set +e
  out=$(timeout 120 "$nslab" check "$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" = 4 ]; then echo "skipped: $out"; exit 4; fi
  [ "$rc" = "$want" ] || fail "nslab check $* exited $rc, not $want:"$'\n'"$out"
}

# --- a silent program -----------------------------------------------------------
cat > "$work/silent.yaml" <<'YAML'
name: silent
nodes:
  a:
  b:
    run:
      - "sleep 100"
links:
  - [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
expect:
  - { from: a, to: b, icmp: blocked }
YAML
run_check 1 "$work/silent.yaml"
grep -q "FAIL $work/silent.yaml:10:5: a -> b icmp: blocked" <<<"$out" || fail "silent: no failed expectation:"$'\n'"$out"
grep -q "log of b: sh -c sleep 100 (running): nothing" <<<"$out" || fail "silent: the empty log is not shown:"$'\n'"$out"
! grep -q "substr" <<<"$out" || fail "silent: an exception:"$'\n'"$out"
cat > "$work/silent-exit.yaml" <<'YAML'
name: silent-exit
nodes:
  a:
    run:
      - "sleep 0.2; exit 3"
  b:
links:
  - [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
expect:
  - { from: a, command: "sleep 1", exit: 0 }
YAML
run_check 1 "$work/silent-exit.yaml"
grep -q "FAIL $work/silent-exit.yaml:5:9: a: sh -c sleep 0.2; exit 3 keeps running — exited with code 3 and printed nothing" <<<"$out" ||
  fail "silent-exit: the dead program is not reported:"$'\n'"$out"

# A program that cannot start (its cwd is missing) is reported at its entry.
cat > "$work/cwd.yaml" <<'YAML'
nodes:
  a: { run: [ { command: "sleep 9", cwd: /nonexistent-nslab-cwd } ] }
  b:
links:
  - [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
YAML
run_check 1 "$work/cwd.yaml"
grep -q "FAIL $work/cwd.yaml: $work/cwd.yaml:2:15: .*cannot change to the working directory /nonexistent-nslab-cwd" <<<"$out" ||
  fail "cwd: not reported at its run entry:"$'\n'"$out"

# --- artifacts of two files with one name -------------------------------------------
capture_of() {  # capture_of FILE: a scenario named "twin" whose capture expectation fails
  cat > "$1" <<'YAML'
name: twin
nodes: { a: , b: }
links:
  - [ "a:eth0 10.0.0.1/30", "b:eth0 10.0.0.2/30" ]
expect:
  - capture: { on: "a:eth0", during: { from: a, to: b, icmp: reachable }, filter: icmp, count: 0 }
YAML
}
mkdir -p "$work/one" "$work/two" "$work/art"
capture_of "$work/one/twin.yaml"
capture_of "$work/two/twin.yaml"
for round in 1 2; do
  run_check 1 --artifacts "$work/art" "$work/one/twin.yaml" "$work/two/twin.yaml"
  mapfile -t kept < <(grep -o 'packets kept in .*' <<<"$out" | sed 's/packets kept in //')
  [ "${#kept[@]}" = 2 ] || fail "round $round: not two pcaps:"$'\n'"$out"
  [ "${kept[0]}" = "$work/art/twin/01-a-eth0.pcap" ] || fail "round $round: first pcap at ${kept[0]}"
  [ "${kept[1]}" = "$work/art/twin-2/01-a-eth0.pcap" ] || fail "round $round: second pcap at ${kept[1]}"
  for k in "${kept[@]}"; do [ -s "$k" ] || fail "round $round: $k is missing or empty"; done
  [ "$(ls "$work/art")" = $'twin\ntwin-2' ] || fail "round $round: directories $(ls "$work/art")"
done
# The order of the files does not matter: each gets its own directory back.
run_check 1 --artifacts "$work/art" "$work/two/twin.yaml" "$work/one/twin.yaml"
grep -q "packets kept in $work/art/twin-2/01-a-eth0.pcap" <<<"$out" || fail "reversed: two/ is not in twin-2:"$'\n'"$out"
grep -q "packets kept in $work/art/twin/01-a-eth0.pcap" <<<"$out" || fail "reversed: one/ is not in twin:"$'\n'"$out"

# --- echoes that look like greetings ----------------------------------------------
cat > "$work/echo.py" <<'PY'
import socket, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 7001))
def udp():
    while True:
        d, a = u.recvfrom(70000); u.sendto(d, a)
def tcp(port, close):
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", port)); t.listen(50)
    while True:
        c, _ = t.accept(); c.sendall(c.recv(65536))
        if close: c.close()
threading.Thread(target=udp, daemon=True).start()
threading.Thread(target=tcp, args=(7002, False), daemon=True).start()
tcp(7000, True)
PY
cat > "$work/echo.yaml" <<YAML
name: echo
nodes:
  a:
  b:
    services: [ tcp/80, udp/53 ]
    run:
      - { command: [ python3, "$work/echo.py" ], ready: { tcp: 7000 } }
links:
  - [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
expect:
  - { from: a, to: b, tcp: 7000, payload: "b 10.0.0.1\nhello" }
  - { from: a, to: b, tcp: 7002, payload: "b 10.0.0.1\nhello" }
  - { from: a, to: b, udp: 7001, payload: "b 10.0.0.1\nhello" }
  - { from: a, to: b, tcp: 80, payload: "b 10.0.0.1\n", served_by: b, seen_from: 10.0.0.1 }
  - { from: a, to: b, tcp: 80, payload: "b 10.0.0.1\nhello", served_by: b }
  - { from: a, to: b, udp: 53, payload: "b 10.0.0.1\n", served_by: b, seen_from: 10.0.0.1 }
YAML
run_check 0 "$work/echo.yaml"

# --- loss: 100%, and a broadcast destination --------------------------------------
cat > "$work/loss.yaml" <<'YAML'
name: loss
nodes: { a: , b: , c: }
links:
  - endpoints: [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
    impair: { loss: 100% }
  - [ "a:eth1 10.0.1.1/24", "c:eth0 10.0.1.2/24" ]
expect:
  - { from: a, to: b, icmp: blocked }
  - { from: b, to: a, icmp: blocked }
  - { from: a, to: c, icmp: reachable }
  - { from: a, to: 10.0.1.255, udp: 53, verdict: reachable }
YAML
run_check 1 "$work/loss.yaml"
! grep -q "INVALID" <<<"$out" || fail "loss: the lab was not built:"$'\n'"$out"
[ "$(grep -c "^  ok " <<<"$out")" = 3 ] || fail "loss: the first three expectations do not pass:"$'\n'"$out"
grep -q "FAIL $work/loss.yaml:11:5: .*observed unreachable (.*a broadcast destination" <<<"$out" ||
  fail "loss: the broadcast probe does not name its cause:"$'\n'"$out"

# --- an nftables file in the current directory that includes another ---------------
mkdir "$work/here"
cat > "$work/here/inc.yaml" <<'YAML'
name: inc
nodes:
  a: { nftables_file: top.nft }
  b:
links: [ [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ] ]
expect:
  - { from: b, to: a, icmp: blocked }
YAML
printf 'include "inc.nft"\n' >"$work/here/top.nft"
printf 'table ip f {\n  chain in { type filter hook input priority 0; icmp type echo-request drop; }\n}\n' \
  >"$work/here/inc.nft"
(cd "$work/here" && run_check 0 inc.yaml) || exit 1

# --- an iptables rpfilter match: stillness decides, no timeout is waited out --------
cat > "$work/rpf.yaml" <<'YAML'
name: rpf
nodes:
  a:
    interfaces: { lo: [ 10.0.5.1/32 ] }
    routes: [ "default via 10.0.0.2" ]
  b:
    sysctl: { net.ipv4.ip_forward: 1 }
    routes: [ "10.0.5.0/24 via 10.0.1.2" ]
    iptables: |
      -t raw -A PREROUTING -m rpfilter --invert -j DROP
  c: { routes: [ "default via 10.0.1.1" ] }
links:
  - [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
  - [ "b:eth1 10.0.1.1/24", "c:eth0 10.0.1.2/24" ]
expect:
  - { from: a, to: c, icmp: reachable }
  - { from: a, source: 10.0.5.1, to: c, icmp: blocked }
YAML
run_check 0 "$work/rpf.yaml"
! grep -q "waited it out" <<<"$out" || fail "rpfilter made stillness wait:"$'\n'"$out"

echo "a silent program fails its scenario plainly; same-named scenarios keep their own artifacts; greeting-like echoes read whole; loss 100% drops all"
