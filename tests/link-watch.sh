#!/bin/bash
# SPDX-License-Identifier: ISC
# link-watch.sh — the link watcher alone (tests/lw-monitor) against real
# kernel events in network namespaces: a veth pair (carrier follows the peer)
# and a tun device named ppp0 (operstate UNKNOWN, DELADDR + DELLINK on
# hang-up).  Checks the verdict after each change, the silent IPv4 route
# flush of a downed link, IPv6 DAD, the default-route mode and recovery
# from a netlink socket overflow (ENOBUFS).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
. "$LIB/netns.sh"
need_netns
MON=${BUILDDIR:-$SRCDIR}/tests/lw-monitor
[ -x "$MON" ] || { echo "FAIL: $MON not built (make check builds it)"; exit 1; }

ns_new C c          # the customer's box
ns_new I i          # the ISP
ns_veth "$C" wan0 "$I" isp0
ip -n "$I" addr add 198.51.100.1/24 dev isp0
ip -n "$C" addr add 198.51.100.2/24 dev wan0
ip -n "$C" link set wan0 up            # admin up; no carrier while isp0 is down
ip -n "$C" route add default via 198.51.100.1 dev wan0 onlink

# mon_start TAG [lw-monitor args]: start the monitor in $C; OUT = its output
mon_start() {
    local tag=$1; shift
    OUT=$T/mon-$tag.out
    ip netns exec "$C" "$MON" "$@" >"$OUT" 2>"$T/mon-$tag.err" &
    MPID=$!
    on_exit "kill $MPID"
    wait_for 5 grep -q '^ready$' "$OUT" || { bad "monitor $tag did not start"; cat "$T/mon-$tag.err"; }
}
mon_stop() { kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null || true; }
verdict() { grep -E '^[0-9]+ (usable|unusable) ' "$OUT" | tail -1 | cut -d' ' -f2-; }
vmatch() { verdict | grep -qE -- "$1"; }
# expect REGEX DESCRIPTION: the current verdict matches within 3 s
# expect REGEX WHAT [SECS]: the monitor's verdict matches within SECS (3)
expect() {
    local t0; t0=$(ms_now)
    if wait_for "${3:-3}" vmatch "$1"; then ok "$2 ($(( $(ms_now) - t0 )) ms)"; else bad "$2: verdict is \"$(verdict)\""; fi
}

# --- veth: carrier, addresses, default route ----------------------------------
mon_start veth -i 'wan*'
expect '^unusable wan0 \(not running' "veth without carrier: not usable"
ip -n "$I" link set isp0 up
expect '^usable wan0 198\.51\.100\.2 - ' "peer up: carrier, address, default route: usable"
ip -n "$I" link set isp0 down
expect '^unusable wan0 \(not running, flags UP' "peer down: carrier lost: not usable"
ip -n "$I" link set isp0 up
expect '^usable wan0 ' "carrier back (IPv4 route kept across a carrier loss): usable"

# An administrative down makes the kernel drop the IPv4 default route
# WITHOUT an RTM_DELROUTE; after "up" again there is no default route.
ip -n "$C" link set wan0 down
expect '^unusable wan0 \(not running' "wan0 set down: not usable"
ip -n "$C" link set wan0 up
expect '^unusable wan0 \(no default route through it\)' "wan0 up again: route flushed silently, seen as missing"
check "kernel agrees: no default route" bash -c "! ip -n $C route show default | grep -q ."
ip -n "$C" route add default via 198.51.100.1 dev wan0
expect '^usable wan0 ' "default route added: usable"

ip -n "$C" addr del 198.51.100.2/24 dev wan0
expect '^unusable wan0 \(no global address' "address removed: not usable"
ip -n "$C" addr add 169.254.3.3/16 dev wan0
expect '^unusable wan0 \(no global address' "a link-local IPv4 address does not count"

# IPv6: tentative during DAD (about 1 s), then usable.
ip netns exec "$C" sysctl -qw net.ipv6.conf.wan0.accept_dad=1 net.ipv6.conf.wan0.dad_transmits=2
ip -n "$I" addr add 2001:db8:1::1/64 dev isp0 nodad
ip -n "$C" -6 route add default via 2001:db8:1::1 dev wan0 onlink 2>/dev/null ||
    ip -n "$C" -6 route add default dev wan0
ip -n "$C" addr add 2001:db8:1::2/64 dev wan0
expect '^unusable wan0 \(no global address \(only tentative' "IPv6 address in DAD: not usable yet"
# DAD is the kernel's: up to 1 s random delay, then dad_transmits x 1 s
# (3.06 s seen with two suites running at once); a bound, not a timing.
expect '^usable wan0 - 2001:db8:1::2 ' "IPv6 DAD done: usable over IPv6" 10
mon_stop

# --- no interfaces configured: the default route's interface --------------------
ip -n "$C" addr add 198.51.100.2/24 dev wan0
ip -n "$C" route replace default via 198.51.100.1 dev wan0
mon_start auto
expect '^usable wan0 198\.51\.100\.2 2001:db8:1::2 ' "no link.interfaces: the default-route interface (v4 + v6)"
ip -n "$C" route del default via 198.51.100.1 dev wan0
ip -n "$C" -6 route flush default
expect '^unusable - \(no default route\)' "default routes removed: not usable"
mon_stop

# --- ppp0 as a tun device: operstate UNKNOWN, hang-up = DELADDR + DELLINK --------
mon_start ppp -i 'ppp*'
expect '^unusable - \(no interface matches ppp\*\)' "no ppp yet"
tun_start "$C" ppp0
expect '^unusable ppp0 \(not running' "ppp0 created, down"
ip -n "$C" addr add 10.64.0.2 peer 10.64.0.1 dev ppp0
ip -n "$C" link set ppp0 up
expect '^unusable ppp0 \(no default route through it\)' "ppp0 up with an address, no default route"
ip -n "$C" route add default dev ppp0
expect '^usable ppp0 10\.64\.0\.2 - ' "ppp0: operstate UNKNOWN + address + default route: usable"
check "ppp0 really reports operstate UNKNOWN" bash -c "ip -n $C link show ppp0 | grep -q 'state UNKNOWN'"
tun_stop
expect '^unusable - \(no interface matches ppp\*\)' "ppp0 hang-up (DELADDR, DELLINK): not usable"
sleep 0.5
check "and it stays so: no stale ppp0 (libnl's AF_INET6 link objects are ignored)" \
    vmatch '^unusable - \(no interface matches ppp\*\)'
# a second "ppp0" coming up again (redial) works the same
tun_start "$C" ppp0
ip -n "$C" addr add 10.64.0.9 peer 10.64.0.1 dev ppp0
ip -n "$C" link set ppp0 up
ip -n "$C" route add default dev ppp0
expect '^usable ppp0 10\.64\.0\.9 - ' "redial: new ppp0 with a new address: usable"
tun_stop
mon_stop

# --- overflow: a tiny socket buffer, a stopped reader, an event flood ------------
ip -n "$C" link add junk0 type veth peer name junk1
ip -n "$C" link set junk0 up
ip -n "$C" link set junk1 up
ip -n "$C" route replace default via 198.51.100.1 dev wan0
mon_start overflow -i 'wan*' -b 2048
expect '^usable wan0 ' "overflow test: wan0 usable before"
kill -STOP "$MPID"
for i in $(seq 1 250); do echo "addr add 10.99.$((i / 200)).$((i % 200 + 1))/32 dev junk0"; done > "$T/batch"
ip -n "$C" -batch "$T/batch"
ip -n "$I" link set isp0 down          # the change that matters, inside the flood
for i in $(seq 1 250); do echo "addr del 10.99.$((i / 200)).$((i % 200 + 1))/32 dev junk0"; done > "$T/batch"
ip -n "$C" -batch "$T/batch"
kill -CONT "$MPID"
expect '^unusable wan0 \(not running' "after overflow: state re-read, wan0 seen down"
kill -USR1 "$MPID"
wait_for 3 grep -q ' stats ' "$OUT"
st=$(grep ' stats ' "$OUT" | tail -1)
check "overflow detected and state re-read ($st)" bash -c "echo '$st' | grep -qE 'overflows=[1-9][0-9]* resyncs=[1-9]'"
ip -n "$I" link set isp0 up
expect '^usable wan0 ' "and events keep working after the overflow"
mon_stop

# --- stable: no output while nothing changes ------------------------------------
mon_start stable -i 'wan*'
expect '^usable wan0 ' "stable link: usable"
n1=$(wc -l < "$OUT"); sleep 3; n2=$(wc -l < "$OUT")
check "no verdict changes in 3 s of a stable link" [ "$n1" = "$n2" ]
mon_stop

finish
