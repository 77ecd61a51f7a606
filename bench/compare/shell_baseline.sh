#!/bin/bash
# The hand-written baseline of bench/compare_tools.sh, as the article builds
# its bridge lab: N named namespaces h1..hN, one veth each to the bridge br0
# in a namespace of its own (sw), all ordered pairs pinged with
# `ip netns exec hI ping -c1 -W1`, then every namespace deleted.
# Prints one line: "build_ms ping_ms teardown_ms failed_pings".
# Run it only through compare_tools.sh (a sandbox with a private /run).
set -eu
n=$1
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
t0=$(ms)
ip netns add sw
ip -n sw link set lo up
ip -n sw link add name br0 type bridge
ip -n sw link set br0 up
for i in $(seq 1 "$n"); do
  ip netns add "h$i"
  ip -n sw link add "p$i" type veth peer name "h$i-eth0"
  ip -n sw link set "h$i-eth0" netns "h$i"
  ip -n sw link set "p$i" master br0
  ip -n sw link set "p$i" up
  ip netns exec "h$i" ip addr add "10.0.0.$i/24" dev "h$i-eth0"
  ip netns exec "h$i" ip link set "h$i-eth0" up
  ip netns exec "h$i" ip link set lo up
done
t1=$(ms)
failed=0
for i in $(seq 1 "$n"); do
  for j in $(seq 1 "$n"); do
    [ "$i" = "$j" ] && continue
    ip netns exec "h$i" ping -c1 -W1 -q "10.0.0.$j" >/dev/null 2>&1 || failed=$((failed + 1))
  done
done
t2=$(ms)
for i in $(seq 1 "$n"); do ip netns del "h$i"; done
ip netns del sw
t3=$(ms)
echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $failed"
