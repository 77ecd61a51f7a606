#!/usr/bin/env bash
# Makes the JSON samples of test_ruleset_scan: each ruleset loaded into a
# fresh namespace (root), then listed by nft -j as the kernel holds it.
# Run from this directory: unshare -n is done per sample.
gen() { # name, ruleset body (inside table inet t)
  unshare -n bash -c "nft -f - <<EOF
table inet t {
$2
}
EOF
nft -j list ruleset" > "$1.json" 2>&1 || echo "FAIL $1"
}
C='chain c { type filter hook input priority 0;'
gen limit "$C icmp type echo-request limit rate 1/second accept; }"
gen numgen "$C numgen random mod 10 < 5 drop; }"
gen quota "$C quota 100 bytes drop; }"
gen hour "$C meta hour \"10:00\"-\"11:00\" drop; }"
gen day "$C meta day \"Monday\" drop; }"
gen cpu "$C meta cpu 1 drop; }"
gen ctexp "$C ct expiration < 5s drop; }"
gen ctcount "$C tcp dport 22 ct count over 2 reject; }"
gen settimeout "set s { type ipv4_addr; flags timeout; }
$C ip saddr @s drop; }"
gen dynset "set s { type ipv4_addr; size 100; flags dynamic; }
$C update @s { ip saddr } drop; }"
gen elemtimeout "set s { type ipv4_addr; flags timeout; elements = { 1.2.3.4 timeout 10s } }
$C ip saddr @s drop; }"
gen meter "$C tcp dport 22 meter m { ip saddr limit rate 3/minute } accept; }"
gen synproxy "$C tcp dport 80 synproxy mss 1460 wscale 7; }"
gen quotaobj "quota q { over 1 mbytes }
$C quota name \"q\" drop; }"
gen ok_plain "set s2 { type ipv4_addr; flags interval; elements = { 1.2.3.4, 10.0.0.0/8 } }
map m { type inet_service : verdict; elements = { 22 : drop, 80 : accept } }
$C ct state established,related accept; iifname \"eth0\" ip saddr @s2 counter drop; tcp dport vmap @m; tcp dport { 81, 82 } reject with tcp reset; ip daddr 10.0.0.9 reject with icmp type host-prohibited; meta l4proto icmp log prefix \"x\" accept; ip6 nexthdr icmpv6 accept; tcp flags & (syn|ack) == syn jump d; }
chain d { meta mark set 1; ct mark set meta mark; return; }
chain n { type nat hook prerouting priority -100; tcp dport 8080 dnat ip to 10.0.0.2:80; }
chain p { type nat hook postrouting priority 100; oifname \"eth1\" masquerade; }"
gen numgen_dnat "chain n { type nat hook prerouting priority -100; dnat ip to numgen inc mod 2 map { 0 : 10.0.0.2, 1 : 10.0.0.3 }; }"
unshare -n bash -c 'iptables -A INPUT -p icmp -m statistic --mode nth --every 3 --packet 2 -j ACCEPT; iptables -A INPUT -p tcp --dport 81 -j REJECT; nft -j list ruleset' > xt_statistic.json
unshare -n bash -c 'iptables -A INPUT -p icmp -j REJECT; iptables -A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT; iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE; iptables -A INPUT -m comment --comment hi -p tcp -m multiport --dports 1,2 -j DROP; nft -j list ruleset' > xt_ok.json
unshare -n bash -c 'iptables -A INPUT -m recent --name x --rcheck --seconds 60 -j DROP; nft -j list ruleset' > xt_recent.json
unshare -n bash -c 'iptables -A INPUT -m hashlimit --hashlimit-above 1/sec --hashlimit-name h -j DROP; nft -j list ruleset' > xt_hashlimit.json
unshare -n bash -c 'iptables -A INPUT -m time --timestart 10:00 --timestop 11:00 -j DROP; nft -j list ruleset' > xt_time.json
