#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/linkwatch.sh — the daemon's reaction time and idle cost.  Figures
# only; asserts nothing.
#
#  1  link-up -> relay: time from `ip link set wan0 up` (+ the default route,
#     in the same `ip -batch`) to the first byte the relay receives from the
#     daemon's poll (the EHLO), median/min/max of RUNS (20), with
#     link.settle = 0 (the configured settle time adds to this, by design).
#     Also the time to the TCP connection (accept) and the daemon's own
#     "usable" decision.
#  2  idle daemon: RSS (VmRSS) after start and after the RUNS polls.
#  3  stable link for IDLE seconds (60): syscalls (strace -c -f, if installed)
#     and context switches (/proc/PID/status) of the daemon.  Target: none.
#
# Network namespaces etp-bench-* (veth wan0 <-> isp0); the relay is a tiny
# Python SMTP responder in the "ISP" namespace that timestamps each session.
# Environment: RUNS (20), IDLE (60), ETRNPOLL, KEEP=1.  Needs root.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
RUNS=${RUNS:-20} IDLE=${IDLE:-60}
PY=/usr/bin/python3
if [ "$(id -u)" != 0 ]; then
    echo "bench/linkwatch.sh: needs root (network namespaces); not run" >&2
    exit 77
fi
if [ -z "${ETRNPOLL:-}" ]; then
    for c in "$SRCDIR/etrnpoll" "$SRCDIR"/build*/etrnpoll; do [ -x "$c" ] && ETRNPOLL=$c && break; done
fi
[ -x "${ETRNPOLL:-}" ] || { echo "bench/linkwatch.sh: etrnpoll binary not found (set ETRNPOLL)" >&2; exit 1; }
T=$(mktemp -d /tmp/etp-bench-link.XXXXXX)
C=etp-bench-$$-c I=etp-bench-$$-i
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for n in $C $I; do
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$n" 2>/dev/null
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "(files kept in $T)"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
now_ns() { date +%s%N; }
wait_for() { local n=$(( $1 * 50 )); shift; while ! "$@"; do n=$((n - 1)); [ $n -le 0 ] && return 1; sleep 0.02; done; }

ip netns add "$C"; ip netns add "$I"
ip -n "$C" link set lo up; ip -n "$I" link set lo up
ip link add wan0 netns "$C" type veth peer name isp0 netns "$I"
ip -n "$I" addr add 198.51.100.1/24 dev isp0
ip -n "$I" link set isp0 up
ip -n "$C" addr add 198.51.100.2/24 dev wan0

# relay: one line per session "accept_ns first_byte_ns" (CLOCK_REALTIME, like date +%s%N)
ip netns exec "$I" "$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.1", 2525)); s.listen(8)
out = open(sys.argv[1], "a", buffering=1)
while True:
    c, _ = s.accept(); t_acc = time.time_ns()
    c.sendall(b"220 bench ESMTP\r\n")
    f = c.makefile("rb"); first = None
    for line in f:
        if first is None: first = time.time_ns()
        cmd = line.strip().upper()
        if cmd.startswith(b"EHLO"): c.sendall(b"250-bench\r\n250 ETRN\r\n")
        elif cmd.startswith(b"ETRN"): c.sendall(b"250 Queuing started\r\n")
        elif cmd.startswith(b"QUIT"): c.sendall(b"221 bye\r\n"); break
        else: c.sendall(b"250 ok\r\n")
    c.close()
    out.write("%d %d\n" % (t_acc, first or 0))
' "$T/relay.times" &
PIDS+=($!)
cat > "$T/bench.conf" <<C
ehlo-name = "gw.example.test"
state-dir = "$T/state"
timeouts { connect = 3 greeting = 5 command = 5 etrn = 5 quit = 2 }
link { interfaces = { "wan*" } settle = 0 }
hold { enabled = false }
relay bench { host = "198.51.100.1" port = 2525 tls = none domains = { "bench.test" } }
C
ip netns exec "$C" "$ETRNPOLL" -c "$T/bench.conf" run > "$T/daemon.log" 2>&1 &
DPID=$!
PIDS+=($DPID)
wait_for 5 grep -q 'daemon started' "$T/daemon.log" || { echo "daemon did not start"; cat "$T/daemon.log"; exit 1; }
sleep 0.5
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$DPID/status")

# --- 1: link-up -> first byte at the relay -------------------------------------
: > "$T/relay.times"
declare -a first=() acc=() dec=()
for i in $(seq 1 "$RUNS"); do
    ip -n "$C" link set wan0 down
    wait_for 5 bash -c "tail -3 '$T/daemon.log' | grep -q 'link wan0 down\|link not usable'"
    sleep 0.3
    n0=$(wc -l < "$T/relay.times")
    ndec=$(grep -c 'link wan0 usable' "$T/daemon.log")
    printf 'link set wan0 up\nroute replace default via 198.51.100.1 dev wan0\n' > "$T/batch"
    t0=$(now_ns)
    ip -n "$C" -batch "$T/batch"
    if ! wait_for 10 bash -c "[ \$(wc -l < '$T/relay.times') -gt $n0 ]"; then
        echo "run $i: no poll reached the relay"; continue
    fi
    read -r ta tf < <(tail -1 "$T/relay.times")
    acc+=($(( (ta - t0) / 1000 )))
    first+=($(( (tf - t0) / 1000 )))
    wait_for 5 grep -q "poll finished: exit" "$T/daemon.log"
    wait_for 5 bash -c "[ \$(grep -c 'poll finished: exit' '$T/daemon.log') -ge $i ]"
done
stats() { # microsecond values -> "median / min / max ms"
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {
        if (NR == 0) { print "n/a"; exit }
        m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
        printf "median %.1f ms, min %.1f ms, max %.1f ms (n=%d)\n", m/1000, v[1]/1000, v[NR]/1000, NR }'
}
echo "== link-up -> relay (settle 0, $RUNS runs; veth, admin up + default route in one ip -batch)"
echo "   TCP connection accepted:      $(stats "${acc[@]}")"
echo "   first byte (EHLO) received:   $(stats "${first[@]}")"
polls=$(grep -c 'poll finished: exit 0' "$T/daemon.log")
echo "   polls: $polls ok of $RUNS link-ups"
sleep 1
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$DPID/status")
echo "== idle daemon RSS: ${rss0} kB after start, ${rss1} kB after $RUNS polls"

# --- 3: stable link: wakeups --------------------------------------------------
# Let the kernel finish what follows a link-up (IPv6 DAD of the link-local
# address, router solicitations: real netlink events), then measure.
sleep 5
ctx() { awk '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2} END {print v+n}' "/proc/$DPID/status"; }
echo "== stable link, daemon pid $DPID"
cs0=$(ctx); sleep "$IDLE"; cs1=$(ctx)
echo "   context switches in ${IDLE} s (no tracer attached): $(( cs1 - cs0 ))"
if command -v strace >/dev/null; then
    timeout -s INT "$IDLE" strace -c -f -p "$DPID" -o "$T/strace.out" 2>/dev/null
    calls=$(awk '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" {s += $4} END {print s+0}' "$T/strace.out")
    echo "   syscalls in ${IDLE} s (strace -c -f; restart_syscall = strace attaching): ${calls}"
    grep -E '^ *[0-9.]+ ' "$T/strace.out" | grep -v total | sed 's/^/     /'
else
    echo "   (strace not installed: no syscall count)"
fi
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
