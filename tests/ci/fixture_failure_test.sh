#!/usr/bin/env bash
# LabFixture through the real BOOST_FIXTURE_TEST_CASE macro, in a child test
# program (tests/netns/fixture_failure_demo.cpp), at Boost.Test's default log
# level: a failed test keeps its pcap (a valid file with the packets of the
# test) and prints its programs' output, whether it failed in a check or by
# throwing, and also for a lab destroyed in the middle of the test; a test
# that passes keeps and prints nothing.
set -euo pipefail
demo=$1
work=$(mktemp -d /tmp/nslab-fixture-failure-XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# The ICMP packets of a pcap file, one line each: "TYPE SRC DST". Python, not
# tcpdump: tcpdump cannot read a file inside a user namespace (rootless run).
icmp_records() {
  python3 - "$1" <<'PY'
import socket, struct, sys
d = open(sys.argv[1], "rb").read()
magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", d[:24])
assert magic == 0xa1b2c3d4 and linktype == 1, "not a little-endian Ethernet pcap"
o = 24
while o < len(d):
    caplen = struct.unpack("<IIII", d[o:o + 16])[2]
    frame = d[o + 16:o + 16 + caplen]
    o += 16 + caplen
    assert len(frame) == caplen, "truncated record"
    if struct.unpack("!H", frame[12:14])[0] != 0x0800 or frame[23] != 1:
        print("other"); continue
    ihl = (frame[14] & 0x0f) * 4
    print(frame[14 + ihl], socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34]))
PY
}

# Runs one case of the demo; sets $rc and $out.
run_case() {
  set +e
  out=$(NSLAB_ARTIFACTS="$work/$1" "$demo" --run_test="$1" 2>&1)
  rc=$?
  set -e
  if [ "$rc" = 4 ]; then echo "skipped: $out"; exit 4; fi
}

# A failed case: exit code, the marker of its program's output, one pcap with
# the test's echo request and reply and nothing else.
check_failed() {
  local name=$1 marker=$2
  run_case "$name"
  [ "$rc" != 0 ] || fail "$name: exit 0 for a failing test"$'\n'"$out"
  grep -q "$marker" <<<"$out" || fail "$name: no \"$marker\" (its program's output) in the output"$'\n'"$out"
  local pcap="$work/$name/$name-1-red-veth-red.pcap"
  [ -f "$pcap" ] || fail "$name: no $pcap; artifacts: $(ls -R "$work/$name" 2>&1)"$'\n'"$out"
  grep -q "kept in $pcap" <<<"$out" || fail "$name: the output does not say where the packets are"$'\n'"$out"
  local records
  records=$(icmp_records "$pcap") || fail "$name: $pcap is not a valid pcap file"
  grep -qx "8 192.168.1.1 192.168.1.2" <<<"$records" || fail "$name: no echo request in $pcap:"$'\n'"$records"
  grep -qx "0 192.168.1.2 192.168.1.1" <<<"$records" || fail "$name: no echo reply in $pcap:"$'\n'"$records"
  ! grep -Evx "[08] 192.168.1.[12] 192.168.1.[12]" <<<"$records" || fail "$name: other packets in $pcap:"$'\n'"$records"
  [ "$(ls "$work/$name")" = "$name-1-red-veth-red.pcap" ] || fail "$name: more artifacts: $(ls "$work/$name")"
}

check_failed fails_in_a_check MARK-check-42
# The same case with Boost.Test's JUnit logger: the file parses, and holds
# the program's output (its odd bytes escaped).
set +e
NSLAB_ARTIFACTS="$work/junit" "$demo" --run_test=fails_in_a_check --logger=JUNIT,error,"$work/junit.xml" >/dev/null 2>&1
set -e
python3 - "$work/junit.xml" <<'PY' || fail "fails_in_a_check: the JUnit log is not what it should be:"$'\n'"$(cat -v "$work/junit.xml")"
import sys, xml.etree.ElementTree as ET
raw = open(sys.argv[1], "rb").read()
raw.decode("utf-8")
text = "".join(ET.fromstring(raw).itertext())
assert "MARK-check-42" in text, "no program output"
assert "bytes \\xFF\\xFE \\x01 ]]\\x3E ]]\\x3E end" in text, "odd bytes not escaped as expected"
PY
check_failed fails_by_throwing MARK-throw-42
grep -q "thrown on purpose" <<<"$out" || fail "fails_by_throwing: the exception is not reported"$'\n'"$out"
check_failed fails_after_destroy_lab MARK-first-42

# A failed check_matrix names the test's own line, with the tables and evidence.
run_case fails_a_matrix
[ "$rc" != 0 ] || fail "fails_a_matrix: exit 0"$'\n'"$out"
line=$(grep -n "MATRIX-CHECK-LINE" "$(dirname "$0")/../netns/fixture_failure_demo.cpp" | cut -d: -f1)
grep -q "fixture_failure_demo.cpp($line): .*error" <<<"$out" ||
  fail "fails_a_matrix: not reported at fixture_failure_demo.cpp($line)"$'\n'"$out"
! grep -q "lab_fixture.cpp" <<<"$out" || fail "fails_a_matrix: reported inside the fixture"$'\n'"$out"
grep -q "red -> blue icmp: expected blocked, observed reachable (echo reply from 192.168.1.2)" <<<"$out" ||
  fail "fails_a_matrix: no evidence for the wrong cell"$'\n'"$out"

# A failed probe check names the test's own line and shows the probe's evidence.
run_case fails_a_probe
[ "$rc" != 0 ] || fail "fails_a_probe: exit 0"$'\n'"$out"
demo_src="$(dirname "$0")/../netns/fixture_failure_demo.cpp"
for marker in PROBE-CHECK-LINE PROBE-TCP-LINE; do
  line=$(grep -n "$marker" "$demo_src" | cut -d: -f1)
  grep -q "fixture_failure_demo.cpp($line): .*error" <<<"$out" ||
    fail "fails_a_probe: not reported at fixture_failure_demo.cpp($line) ($marker)"$'\n'"$out"
done
! grep -q "lab_fixture.cpp" <<<"$out" || fail "fails_a_probe: reported inside the fixture"$'\n'"$out"
grep -q "red -> blue icmp: expected blocked, observed reachable (echo reply from 192.168.1.2" <<<"$out" ||
  fail "fails_a_probe: no evidence for the ping"$'\n'"$out"
grep -q "red -> blue tcp/9: expected reachable, observed refused (" <<<"$out" ||
  fail "fails_a_probe: no evidence for the TCP probe"$'\n'"$out"

# A failed probe is explained: the kernel's counters name the router that
# does not forward, at the test's line.
run_case fails_with_an_explanation
[ "$rc" != 0 ] || fail "fails_with_an_explanation: exit 0"$'\n'"$out"
line=$(grep -n "EXPLAINED-LINE" "$demo_src" | cut -d: -f1)
grep -q "fixture_failure_demo.cpp($line): .*red -> external icmp: expected reachable, observed blocked (.*); not forwarded by host: net.ipv4.ip_forward = 0 (re-run alone: blocked)" <<<"$out" ||
  fail "fails_with_an_explanation: no explanation at fixture_failure_demo.cpp($line)"$'\n'"$out"

# A program that printed nothing: shown as such, not as an unreadable log.
run_case fails_with_a_silent_program
[ "$rc" != 0 ] || fail "fails_with_a_silent_program: exit 0"$'\n'"$out"
grep -q "red: sleep 600 was running; the end of its output:" <<<"$out" ||
  fail "fails_with_a_silent_program: the program is not shown"$'\n'"$out"
grep -A1 "red: sleep 600 was running" <<<"$out" | grep -q "^(none)" ||
  fail "fails_with_a_silent_program: its empty output is not \"(none)\""$'\n'"$out"
! grep -q "cannot be read" <<<"$out" || fail "fails_with_a_silent_program: its log could not be read"$'\n'"$out"

run_case passes
[ "$rc" = 0 ] || fail "passes: exit $rc"$'\n'"$out"
! grep -q "MARK-pass-42" <<<"$out" || fail "passes: a passing test printed its program's output"$'\n'"$out"
[ ! -e "$work/passes" ] || fail "passes: a passing test kept $(ls -R "$work/passes")"

echo "failed tests keep their pcaps and print their programs' output; a passing test keeps nothing"
