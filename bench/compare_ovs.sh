#!/bin/bash
# The article's three namespaces on a switch, built three ways on one
# machine, in one run: nslab on a Linux bridge (scenarios/seed/03), nslab on
# Open vSwitch (scenarios/seed/17: its own ovsdb-server and ovs-vswitchd in
# the switch node), and by hand with `ip` and `ovs-vsctl` (the same private
# daemons, started and waited for the way a careful script does: poll the
# sockets). Each figure is the time until the lab is built (nslab: the
# "build N ms" that `nslab check` prints; by hand: until the last command
# returned), the median of ROUNDS rounds after one warm-up round.
#
#   unshare -n -- bench/compare_ovs.sh [-r ROUNDS]
#
# As root inside a fresh network namespace; re-enters itself in a private
# mount namespace with a tmpfs on /run, so the shell's named namespaces are
# this run's alone. Needs nslab built (build/tools/nslab, or NSLAB=PATH) and
# openvswitch-switch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
nslab=${NSLAB:-$repo/build/tools/nslab}
rounds=5
while getopts "r:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
die() { echo "compare_ovs: $*" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]?$ ]] || die "-r wants 1 to 99 rounds"
[ "$(id -u)" = 0 ] || die "run as root"
[ "$(ip -o link show | wc -l)" = 1 ] || die "run inside a fresh network namespace: unshare -n -- $0"
command -v ovs-vswitchd >/dev/null || PATH=$PATH:/usr/sbin
command -v ovs-vswitchd >/dev/null || die "Open vSwitch is not installed (apt-get install openvswitch-switch)"
if [ -z "${COMPARE_OVS_INNER:-}" ]; then
  COMPARE_OVS_INNER=1 exec unshare -m -- bash -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /run && exec "$0" "$@"' "$0" "$@"
fi

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

nslab_build() {  # FILE -> ms
  "$nslab" check "$1" | sed -n 's/.*(build \([0-9.]*\) ms.*/\1/p'
}

by_hand() {  # -> ms, then tears the lab down
  local t0 d
  t0=$(now_ms)
  d=$(mktemp -d /tmp/ovs-hand-XXXXXX)
  export OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d
  ip netns add host
  for n in red blue green; do ip netns add $n; done
  ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec host ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" --no-chdir -vconsole:off -vsyslog:off &
  local db=$!
  until ovs-vsctl --no-wait show >/dev/null 2>&1; do sleep 0.005; done
  ip netns exec host ovs-vswitchd unix:"$d/db.sock" --no-chdir -vconsole:off -vsyslog:off &
  local sw=$!
  local i=1
  for n in red blue green; do
    ip link add veth-$n netns host type veth peer name $n-veth netns $n
    ip -n $n addr add 192.168.1.$i/24 dev $n-veth
    ip -n $n link set $n-veth up
    ip -n $n link set lo up
    ip netns exec $n ethtool -K $n-veth tx off >/dev/null 2>&1 || true
    ip -n host link set veth-$n up
    i=$((i + 1))
  done
  ip netns exec host ovs-vsctl --timeout=10 -- init -- add-br v-net-0 -- set bridge v-net-0 datapath_type=netdev \
    -- add-port v-net-0 veth-red -- add-port v-net-0 veth-blue -- add-port v-net-0 veth-green
  ip netns exec red ping -c1 -W2 192.168.1.2 >/dev/null
  local t1
  t1=$(now_ms)
  kill $db $sw; wait $db $sw 2>/dev/null || true
  for n in host red blue green; do ip netns del $n; done
  rm -rf "$d"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -a linux ovs hand
for r in $(seq 0 "$rounds"); do
  l=$(nslab_build "$repo/scenarios/seed/03-bridge-v-net-0.yaml")
  o=$(nslab_build "$repo/scenarios/seed/17-ovs-v-net-0.yaml")
  h=$(by_hand)
  [ "$r" = 0 ] && continue  # warm-up
  linux+=("$l"); ovs+=("$o"); hand+=("$h")
done
ml=$(printf '%s\n' "${linux[@]}" | median)
mo=$(printf '%s\n' "${ovs[@]}" | median)
mh=$(printf '%s\n' "${hand[@]}" | median)
echo "| build of the article's 3 namespaces on a switch ($rounds rounds, median) | ms | vs nslab on OVS |"
echo "|---|---|---|"
awk -v l="$ml" -v o="$mo" -v h="$mh" 'BEGIN {
  printf "| nslab, Linux bridge (seed 03) | %.1f | %.2fx |\n", l, l / o
  printf "| nslab, Open vSwitch netdev (seed 17) | %.1f | 1.00x |\n", o
  printf "| by hand: ip netns + ovsdb-server + ovs-vswitchd + ovs-vsctl, until the first ping | %.1f | %.2fx |\n", h, h / o
}'
