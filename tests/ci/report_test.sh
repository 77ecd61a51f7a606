#!/usr/bin/env bash
# `nslab check --report DIR` as a user runs it (in the namespace ctest runs
# in), on a seed scenario that passes (with captures), one that fails (a
# matrix cell, a program printing markup, a hostile scenario name) and one
# that is invalid (a node named <script>). DIR/index.html must parse as
# well-formed HTML (python3's html.parser, every element closed in order),
# hold no script element and nothing fetched from elsewhere, draw each
# topology as inline SVG, mark the failed matrix cell (class "diff", its
# evidence as title=), link every kept pcap (the files exist beside it), and
# show the markup as text. With chromium installed, a headless screenshot of
# the page must not be blank (the part is skipped without it).
set -euo pipefail
nslab=$1
scenarios=$2
work=$(mktemp -d /tmp/nslab-report-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$work/fail.yaml" <<'YAML'
name: "report <script>alert(1)</script> fail"
nodes:
  host:
    bridges: [ br0 ]
  red:
  blue:
    run:
      - "echo '<script>alert(2)</script> & \"done\"'; sleep 100"
  green:
links:
  - [ "red:eth0 192.168.1.1/24", "host:veth-red@br0" ]
  - [ "blue:eth0 192.168.1.2/24", "host:veth-blue@br0" ]
  - [ "green:eth0 192.168.2.3/24", "host:veth-green@br0" ]
expect:
  # green is on another subnet: red and blue cannot reach it, nor it them.
  - matrix: { protocol: icmp, nodes: [red, blue, green], default: reachable }
YAML
cat > "$work/invalid.yaml" <<'YAML'
name: invalid
nodes:
  "<script>":
YAML

# Refused with --lab (it runs in a keeper) and with --artifacts (the pcaps go beside the page).
for other in "--lab nosuchlab" "--artifacts $work/a"; do
  set +e
  # shellcheck disable=SC2086
  msg=$("$nslab" check --report "$work/r" $other "$work/invalid.yaml" 2>&1)
  rc=$?
  set -e
  if [ "$rc" != 2 ] || ! grep -q -- "--report" <<<"$msg"; then fail "--report with $other: exit $rc, $msg"; fi
done
"$nslab" check --help | grep -q -- "--report DIR" || fail "--report is not in nslab check --help"

set +e
out=$(timeout 200 "$nslab" check --report "$work/report" "$scenarios/seed/07-nat-masquerade.yaml" "$work/fail.yaml" \
  "$work/invalid.yaml" 2>&1)
rc=$?
set -e
if [ "$rc" = 4 ]; then echo "skipped: $out"; exit 4; fi
[ "$rc" = 2 ] || fail "nslab check --report exited $rc, not 2 (an invalid file):"$'\n'"$out"
grep -q "^PASS .*07-nat-masquerade.yaml" <<<"$out" || fail "the seed scenario did not pass:"$'\n'"$out"
grep -q "^FAIL $work/fail.yaml" <<<"$out" || fail "fail.yaml did not fail:"$'\n'"$out"
[ -s "$work/report/index.html" ] || fail "no $work/report/index.html:"$'\n'"$out"

has_dot=0
command -v dot > /dev/null && has_dot=1
PYTHONPATH=$(cd "$(dirname "$0")" && pwd) python3 - "$work/report" "$has_dot" <<'PY'
import os, sys
from html_page import Page, check, self_contained
root, has_dot = sys.argv[1], sys.argv[2] == "1"
page = open(os.path.join(root, "index.html"), encoding="utf-8").read()
p = Page(page)
text, names = p.text, p.names
self_contained(page, p)
if has_dot:
    check(names.count("svg") == 2, f"{names.count('svg')} svg drawings, not 2 (one per valid file)")
else:
    check("Graphviz's `dot` is not installed" in text, "no note that dot is missing")
diff = [c for c in p.cells if "diff" in c.get("class", "").split()]
check(diff, "no matrix cell with the class diff")
check(all("green" in c.get("title", "") for c in diff), f"a differing cell that is not green's: {diff}")
check(any(c.get("title", "").startswith("red -> blue: expected reachable, observed reachable") for c in p.cells),
      "no hover evidence on the cell that held")
pcaps = [h for h in p.links if h.endswith(".pcap")]
check(len(pcaps) == 2, f"{len(pcaps)} pcap links, not 2 (07's two captures, kept with --report)")
for h in pcaps:
    check(not h.startswith("/") and os.path.getsize(os.path.join(root, h)) >= 24, f"pcap {h} not beside the page")
check("report <script>alert(1)</script> fail" in text, "the hostile scenario name is not shown as text")
check("<script>alert(2)</script> & \"done\"" in text, "the program's output is not shown as text")
check('invalid.yaml:3:3: node name "<script>"' in text, "the invalid file's message is not shown as text")
check("lab built in" in text, "no build time")
print(f"page ok: {len(page)} bytes, {len(diff)} differing cells, {len(pcaps)} pcaps")
PY

# --- headless screenshot, with chromium --------------------------------------
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "screenshot skipped: chromium is not installed"
  exit 0
fi
shot=$work/shot.png
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --screenshot="$shot" --window-size=1200,2000 \
  "file://$work/report/index.html" > "$work/chromium.log" 2>&1 || fail "chromium failed:"$'\n'"$(cat "$work/chromium.log")"
[ -z "${NSLAB_REPORT_SHOT:-}" ] || cp "$shot" "$NSLAB_REPORT_SHOT"
python3 - "$shot" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("FAIL: the screenshot is not a PNG")
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
if depth != 8 or ctype not in (2, 6):
    sys.exit(f"FAIL: unexpected PNG format (depth {depth}, colour type {ctype})")
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
inked = sum(1 for r in rows for x in range(0, stride, bpp) if min(r[x:x + 3]) < 200)
coloured = sum(1 for r in rows for x in range(0, stride, bpp) if max(r[x:x + 3]) - min(r[x:x + 3]) > 40)
print(f"screenshot {w}x{h}: {inked} inked pixels, {coloured} coloured")
if inked < 2000 or coloured < 500:
    sys.exit("FAIL: the screenshot is (nearly) blank")
PY
