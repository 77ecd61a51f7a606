#!/bin/bash
# Side by side on one machine, in one run: nslab, Mininet 2.3 (Linux bridge,
# no controller) and the article's hand-written `ip` commands, on the same
# topologies (N hosts on one bridge, every ordered pair pinged once), then
# what each leaves behind when SIGKILL ends it mid-run.
#
#   unshare -n -- bench/compare_tools.sh [-r ROUNDS] [-s "3 20"] [-o FILE]
#
# As root, inside a fresh network namespace (only `lo`): Mininet builds its
# switch and the switch ends of its links in the namespace it runs in, and
# the leak census deletes what is left in this one. The script refuses to run
# anywhere else. It re-enters itself in a private mount namespace with a
# tmpfs on /run, so the shell baseline's named namespaces (/run/netns) are
# this run's alone and vanish with it.
#
# Runs are interleaved (round after round, the tools' order rotated each
# round, one warm-up round not counted); the figures are medians, and the
# ratio to nslab is the median of the per-round ratios. Needs: nslab built
# (build/tools/nslab, or NSLAB=PATH), and for Mininet `apt-get install
# mininet bridge-utils` (no Open vSwitch: the switch is a Linux bridge).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
nslab=${NSLAB:-$repo/build/tools/nslab}
rounds=5
sizes="3 20"
out=""

die() { echo "compare_tools: $*" >&2; exit 2; }

while getopts "r:s:o:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    s) sizes=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]?$ ]] || die "-r wants 1 to 99 rounds, not \"$rounds\""
for n in $sizes; do
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 2 && n <= 200)) || die "-s: a size is 2 to 200 hosts, not \"$n\""
done

links_here() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }

sandbox_check() {
  [ "$(id -u)" = 0 ] || die "run as root (Mininet and the shell baseline need CAP_NET_ADMIN)"
  local links
  links=$(links_here | tr '\n' ' ')
  [ "$links" = "lo " ] ||
    die "refusing to run: this network namespace has links other than lo ($links); run inside a fresh one: unshare -n -- $0"
  [ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ] ||
    die "refusing to run in PID 1's network namespace; use unshare -n"
}

sandbox_check
if [ -z "${COMPARE_TOOLS_INNER:-}" ]; then
  exec env COMPARE_TOOLS_INNER=1 unshare --mount --propagation private -- "$0" "$@"
fi
# the tmpfs below must never cover the caller's /run
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink "/proc/$PPID/ns/mnt")" ] ||
  die "not in a mount namespace of its own (COMPARE_TOOLS_INNER is the script's own); run: unshare -n -- $0"
mount -t tmpfs compare-tools /run
mkdir -p /run/netns
ip link set lo up

[ -x "$nslab" ] || die "no nslab at $nslab (build it: cmake --build build --target nslab)"
have_mininet=yes
/usr/bin/python3 -c 'import mininet.net' 2>/dev/null && command -v brctl >/dev/null ||
  have_mininet="not installed (apt-get install mininet bridge-utils)"

work=$(mktemp -d /tmp/compare-tools.XXXXXX)
trap 'rm -rf "$work"' EXIT
results=$work/results # size tool round whole_ms build_ms ping_ms stop_ms failed

now_us() { echo "${EPOCHREALTIME/./}"; }

# Whatever a tool leaves in this sandbox: non-lo links, named namespaces.
leftovers() {
  local l ns
  l=$(links_here | grep -cvx lo || true)
  ns=$(ip netns list | wc -l)
  echo "$l $ns"
}

# One run of TOOL on SIZE hosts; appends a line to $results.
run_one() {
  local tool=$1 n=$2 round=$3 t0 t1 log=$work/run.log line whole
  t0=$(now_us)
  case $tool in
    nslab) "$nslab" check "$here/compare/bridge-$n.yaml" >"$log" 2>&1 || true ;;
    mininet) /usr/bin/python3 "$here/compare/mininet_run.py" "$n" >"$log" 2>&1 || true ;;
    shell) "$here/compare/shell_baseline.sh" "$n" >"$log" 2>&1 || true ;;
  esac
  t1=$(now_us)
  whole=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
  case $tool in
    nslab)
      # "PASS FILE: 6 of 6 expectations held (build 12.3 ms, total 40 ms)"
      line=$(sed -n 's/.*expectations held (build \([0-9.]*\) ms, total \([0-9.]*\) ms).*/\1 \2/p' "$log")
      [ -n "$line" ] && grep -q '^PASS' "$log" || { cat "$log" >&2; die "nslab check failed on bridge-$n.yaml"; }
      set -- $line
      line="$1 $(awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", t - b }') - 0"
      ;;
    *)
      line=$(tail -n1 "$log")
      [[ $line =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+\ [0-9.]+$ ]] || { cat "$log" >&2; die "$tool failed on $n hosts"; }
      ;;
  esac
  echo "$n $tool $round $whole $line" >>"$results"
  read -r l ns < <(leftovers)
  [ "$l $ns" = "0 0" ] || die "$tool left $l links and $ns named namespaces after a clean run"
}

tools="nslab shell"
[ "$have_mininet" = yes ] && tools="nslab mininet shell"
set -- $tools
ntools=$#

for n in $sizes; do
  for ((r = 0; r <= rounds; r++)); do
    set -- $tools
    # rotate the order each round so no tool always runs after the same one
    for ((k = 0; k < r % ntools; k++)); do set -- "${@:2}" "$1"; done
    for t in "$@"; do run_one "$t" "$n" "$r"; done
  done
done

# ---- SIGKILL mid-run: what is left behind --------------------------------
# Each tool runs on the largest size under a child subreaper (so orphans
# stay countable) and is killed a quarter, half and three quarters of the
# way through its median whole-process time; 1 s later the census counts
# its surviving processes, this sandbox's links and named namespaces. Then
# everything counted is removed, by PID and in this sandbox only.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v n="$1" -v t="$2" -v c="$3" '$1 == n && $2 == t && $3 > 0 { print $c }' "$results"; }

big=${sizes##* }
leaks=$work/leaks
for t in $tools; do
  whole=$(col "$big" "$t" 4 | median)
  case $t in
    nslab) cmd=("$nslab" check "$here/compare/bridge-$big.yaml") ;;
    mininet) cmd=(/usr/bin/python3 "$here/compare/mininet_run.py" "$big") ;;
    shell) cmd=("$here/compare/shell_baseline.sh" "$big") ;;
  esac
  for q in 1 2 3; do
    delay=$(awk -v w="$whole" -v q="$q" 'BEGIN { printf "%d", w * q / 4 }')
    census=$(/usr/bin/python3 "$here/compare/kill_midrun.py" "$delay" "${cmd[@]}")
    read -r l ns < <(leftovers)
    inner=0 # links (lo aside) inside the named namespaces left
    for x in $(ip netns list | awk '{ print $1 }'); do
      inner=$((inner + $(ip -n "$x" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -cvx lo || true)))
    done
    names=$(links_here | grep -vx lo | paste -sd, - || true)
    echo "$t $q/4 $delay $census $l ${names:--} $ns $inner" >>"$leaks"
    # remove what was left, in this sandbox only (the processes are gone already)
    for x in $(ip netns list | awk '{ print $1 }'); do ip netns del "$x"; done
    for x in $(links_here | grep -vx lo); do ip link del "$x" 2>/dev/null || true; done
    read -r l ns < <(leftovers)
    [ "$l $ns" = "0 0" ] || die "could not clean up after killing $t"
  done
done

# ---- the table ---------------------------------------------------------
{
  echo "Machine: $(nproc) cores, $(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Rounds: $rounds counted (+1 warm-up), interleaved; medians in ms; ratio = median of per-round whole-process ratios to nslab"
  echo
  echo "| hosts | tool | build ms | ping all pairs ms | teardown ms | start-up and exit ms | whole process ms | ratio to nslab | failed pings |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  for n in $sizes; do
    for t in $tools; do
      ratio=$(awk -v n="$n" -v t="$t" '$1 == n && $3 > 0 { w[$2 " " $3] = $4; r[$3] = 1 }
        END { for (k in r) if ((t " " k) in w && ("nslab " k) in w) print w[t " " k] / w["nslab " k] }' "$results" | median)
      ratio=$(awk -v r="$ratio" 'BEGIN { printf "%.1fx", r }')
      fails=$(col "$n" "$t" 8 | awk '{ s += $1 } END { print s + 0 }')
      stop=$(col "$n" "$t" 7 | median)
      # whole - build - ping - teardown, per run (nslab's teardown is in it)
      rest=$(awk -v n="$n" -v t="$t" '$1 == n && $2 == t && $3 > 0 { printf "%.1f\n", $4 - $5 - $6 - ($7 == "-" ? 0 : $7) }' "$results" | median)
      [ "$t" = nslab ] && stop="(in the next column)"
      echo "| $n | $t | $(col "$n" "$t" 5 | median) | $(col "$n" "$t" 6 | median) | $stop | $rest | $(col "$n" "$t" 4 | median) | $ratio | $fails |"
    done
    [ "$have_mininet" = yes ] || echo "| $n | Mininet 2.3 | $have_mininet | | | | | | |"
    echo "| $n | containerlab | not measured here (needs Docker) | | | | | | |"
    echo "| $n | netlab | not measured here (needs Docker) | | | | | | |"
  done
  echo
  echo "Killed with SIGKILL mid-run ($big hosts; at a quarter, half, three quarters of the median whole-process time), 1 s later:"
  echo
  echo "| tool | killed at | after ms | processes left | which | network namespaces they hold | links left in the sandbox | which | named namespaces left | links inside them |"
  echo "|---|---|---:|---:|---|---:|---:|---|---:|---:|"
  while read -r t q d p nsp what l lw ns in; do echo "| $t | $q | $d | $p | $what | $nsp | $l | $lw | $ns | $in |"; done <"$leaks"
  echo
  echo "Raw runs (hosts tool round whole build ping teardown failed; round 0 is the warm-up):"
  cat "$results"
} | if [ -n "$out" ]; then tee "$out"; else cat; fi
