#!/usr/bin/env bash
# The whole seed suite (the 16 files of scenarios/seed/ in one `nslab
# check --quiet`), side by side for two or more nslab binaries: runs them
# in turn (A B A B ...), so that each pair meets the same load, and prints
# per binary the median wall time, CPU time (user + system) and peak RSS of
# the whole process, and the median sum of the files' own times ("total"
# of each PASS line) with the part of it spent building labs.
#
#   unshare -n bench/seed_suite.sh [-n RUNS] [-j JOBS] NSLAB [NSLAB...]
#
# -j JOBS passes `-j JOBS` to every check (files checked in parallel).
#
# As root in a namespace of its own (unshare -n); a binary that fails a
# check stops the benchmark.
set -euo pipefail
runs=5 jobs=()
while [ $# -ge 2 ]; do
  case $1 in
    -n) runs=$2; shift 2 ;;
    -j) jobs=(-j "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [-n RUNS] [-j JOBS] NSLAB [NSLAB...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/nslab-seed-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq 1 "$runs"); do
  for i in $(seq 1 $#); do
    bin=${!i}
    out=$work/$i.$r
    /usr/bin/time -f "%e %U %S %M" -o "$out.time" "$bin" check --quiet "${jobs[@]}" "$here"/scenarios/seed/*.yaml >"$out.log" 2>&1 || {
      echo "$bin failed:"; cat "$out.log"; exit 1
    }
    # "PASS FILE: ... (build 12.3 ms, total 45 ms)": the files' own times.
    sed -nE 's/.*\(build ([0-9.]+) ms, total ([0-9.]+) ms\)$/\1 \2/p' "$out.log" |
      awk '{ b += $1; t += $2 } END { printf "%.0f %.0f\n", b, t }' >"$out.files"
  done
done

printf '%-40s %8s %8s %8s %12s %12s\n' binary "wall s" "CPU s" "RSS MiB" "files ms" "building ms"
for i in $(seq 1 $#); do
  bin=${!i}
  wall=$(for r in $(seq 1 "$runs"); do awk '{ print $1 }' "$work/$i.$r.time"; done | median)
  cpu=$(for r in $(seq 1 "$runs"); do awk '{ print $2 + $3 }' "$work/$i.$r.time"; done | median)
  rss=$(for r in $(seq 1 "$runs"); do awk '{ print $4 / 1024 }' "$work/$i.$r.time"; done | median)
  files=$(for r in $(seq 1 "$runs"); do awk '{ print $2 }' "$work/$i.$r.files"; done | median)
  build=$(for r in $(seq 1 "$runs"); do awk '{ print $1 }' "$work/$i.$r.files"; done | median)
  printf '%-40s %8.2f %8.2f %8.1f %12.0f %12.0f\n' "$bin" "$wall" "$cpu" "$rss" "$files" "$build"
done
echo "(medians of $runs runs each, taken in turn; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
