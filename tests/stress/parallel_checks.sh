#!/usr/bin/env bash
# Many labs at once: six `nslab check` processes over every seed scenario,
# beside two busy loops that keep the CPUs loaded. Same node
# names, same addresses, same interface names in all of them: nothing may
# collide, and every check must pass every time — on a loaded machine an
# answer that comes late must still not read as `blocked`.
set -euo pipefail
nslab=$1 scenarios=$2
logs=$(mktemp -d "${TMPDIR:-/tmp}/nslab-stress-XXXXXX")
hogs=()
for _ in 1 2; do (while :; do :; done) & hogs+=($!); done
trap 'kill "${hogs[@]}" 2>/dev/null; rm -rf "$logs"' EXIT
pids=()
for i in 1 2 3 4 5 6; do
  "$nslab" check --quiet "$scenarios"/seed/*.yaml > "$logs/$i.log" 2>&1 &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  rc=0; wait "${pids[$i]}" || rc=$?
  if [ "$rc" = 4 ]; then cat "$logs/$((i + 1)).log"; exit 4; fi
  if [ "$rc" != 0 ]; then
    echo "check $((i + 1)) failed:"; cat "$logs/$((i + 1)).log"
    exit 1
  fi
done
echo "6 concurrent checks of every seed scenario passed"
