#!/usr/bin/env bash
# NSLAB_REPORT=DIR for tests written with LabFixture: the demo program of
# tests/netns/fixture_failure_demo.cpp (six cases that fail on purpose, one
# that passes), run whole through the real BOOST_FIXTURE_TEST_CASE machinery,
# must leave DIR/fixture_failure_demo/index.html: well-formed and
# self-contained, one section per test case with the right state, each lab
# drawn (with Graphviz), the failed matrix as a grid with its wrong cell
# outlined and positioned at the test's own line, the failed probe with its
# evidence, and every capture kept beside the page as a pcap.
set -euo pipefail
demo=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/nslab-fixture-report-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

set +e
out=$(cd "$work" && NSLAB_REPORT="$work/report" timeout 250 "$demo" 2>&1)
rc=$?
set -e
if [ "$rc" = 4 ]; then echo "skipped: $out"; exit 4; fi
[ "$rc" != 0 ] || fail "the demo passed, but six of its cases fail on purpose"$'\n'"$out"
page=$work/report/fixture_failure_demo/index.html
[ -s "$page" ] || fail "no $page:"$'\n'"$out"
[ ! -e "$work/nslab-artifacts" ] || fail "with NSLAB_REPORT the pcaps go beside the page, not to ./nslab-artifacts"

has_dot=0
command -v dot > /dev/null && has_dot=1
PYTHONPATH=$here python3 - "$page" "$has_dot" "$demo" <<'PY'
import os, re, sys
from html_page import Page, check, self_contained
path, has_dot = sys.argv[1], sys.argv[2] == "1"
root = os.path.dirname(path)
page = open(path, encoding="utf-8").read()
p = Page(page)
self_contained(page, p)
sections = [a for t, a in p.tags if t == "section"]
check(len(sections) == 8, f"{len(sections)} sections, not one per test case (8)")
passed = [a for a in sections if "passed" in a.get("class", "").split()]
check(len(passed) == 1, f"{len(passed)} passed sections, not 1")
for name in ["fails_in_a_check", "fails_by_throwing", "fails_after_destroy_lab", "fails_a_matrix", "fails_a_probe",
             "fails_with_a_silent_program", "passes"]:
    check(name in p.text, f"no section for {name}")
if has_dot:
    check(p.names.count("svg") == 8, f"{p.names.count('svg')} drawings, not one per test case (8)")
diff = [c for c in p.cells if "diff" in c.get("class", "").split()]
check(diff and all(c.get("title", "").startswith("red -> blue: expected blocked, observed reachable") for c in diff),
      f"the matrix's wrong cell is not outlined with its evidence: {diff}")
check(re.search(r"fixture_failure_demo\.cpp:\d+:\d+", p.text), "no check positioned at the test's own line")
check("red -> blue icmp: blocked" in p.text and "observed reachable (echo reply from" in p.text,
      "the failed probe's evidence is not shown")
check("observed refused" in p.text, "the TCP probe to a closed port is not shown as refused")
check("failed: a check failed or the test threw" in p.text and "passed: every check held" in p.text,
      "the test cases' own results are not shown")
pcaps = [h for h in p.links if h.endswith(".pcap")]
# Every capture is kept with NSLAB_REPORT: fails_in_a_check, fails_by_throwing,
# fails_after_destroy_lab (the first lab's) and passes.
check(len(pcaps) == 4, f"{len(pcaps)} pcap links, not 4: {pcaps}")
for h in pcaps:
    f = os.path.join(root, h)
    check(not h.startswith("/") and os.path.isfile(f), f"pcap {h} is not beside the page")
    check(open(f, "rb").read(4) == bytes.fromhex("d4c3b2a1"), f"{h} is not a pcap file")
check("lab built in" in p.text, "no build time")
check("1 of 8 test cases passed" in p.text, "no count of the test cases that passed")
print(f"page ok: {len(page)} bytes, {len(sections)} sections, {len(pcaps)} pcaps")
PY
