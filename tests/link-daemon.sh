#!/bin/bash
# SPDX-License-Identifier: ISC
# link-daemon.sh — `etrnpoll run` against real link events in network
# namespaces, with tests/fakesmtp.py as the relay (in the "ISP" namespace,
# reached over the veth link; or on the customer box's loopback for the
# tun/ppp0 case).  Polls are counted from the fake's transcript (one SMTP
# session = one poll) and cross-checked with the daemon's log.
#
#  1  no link -> no poll; link up + address + default route -> exactly one
#     poll after settle; stable -> no more polls; flapping within settle ->
#     one poll; SIGUSR1 -> poll; SIGHUP with a broken config -> old config
#     kept; SIGHUP with a good one -> new config used; sd_notify messages
#  2  link down during a poll (relay stalls at ETRN) -> poll killed within 1 s;
#     SIGTERM during a poll -> the child unwinds by itself, daemon exits 0
#  3  ppp0 (tun) hang-up during a poll -> poll killed within 1 s; a redial
#     right after it is a flap (settle applies)
#  3b ppp0 hang-up once the poll is done with the line (a hook asked for it)
#     -> the poll finishes (hooks, exit 0); a redial right after: no settle
#  4  temporary failures -> retries with growing backoff, then success stops them
#  5  permanent failure -> no retries until SIGHUP
#  6  link.cycle-timeout -> poll killed, retried
#  7  started as root with `user` set -> runs as that user, polls still work
#  8  link.interval -> periodic polls; a new address on the uplink -> a new poll
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
. "$LIB/netns.sh"
need_netns
need_binary

ns_new C c
ns_new I i
ns_veth "$C" wan0 "$I" isp0
ip -n "$I" addr add 198.51.100.1/24 dev isp0
ip -n "$C" addr add 198.51.100.2/24 dev wan0
ip -n "$C" link set wan0 up
ip -n "$C" route add default via 198.51.100.1 dev wan0 onlink
RELAY=198.51.100.1

# dconf NAME: a daemon config; IFACES, SETTLE, ETRN_TO, RHOST, RPORT, DOMS,
# LINKX (extra link keys), TOPX (extra top-level keys) tune it.
dconf() {
    local ifs=${IFACES:-'"wan*"'} doms=${DOMS:-'"a.test"'}
    etp_conf "$T/$1.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$1\"" "${TOPX:-}" \
        "timeouts { connect = 3 greeting = 5 command = 5 etrn = ${ETRN_TO:-5} quit = 2 }" \
        -s link "interfaces = { $ifs }" "settle = ${SETTLE:-1}" "backoff-min = 1" "backoff-max = 4" \
        "${LINKX:-}" -t 'hold { enabled = false }' \
        -s "relay fake" "host = \"${RHOST:-$RELAY}\"" "port = ${RPORT:-2525}" "tls = none" \
        "domains = { $doms }"
}
# d_start TAG CONF [VAR=value...]: the daemon in the customer namespace
d_start() {
    local tag=$1 conf=$2; shift 2
    DLOG=$T/daemon-$tag.log
    ip netns exec "$C" env "$@" "$ETRNPOLL" -c "$conf" run >"$DLOG" 2>&1 &
    DPID=$!
    on_exit "kill $DPID"
    wait_for 5 grep -q 'daemon started' "$DLOG" || { bad "daemon $tag did not start"; cat "$DLOG"; }
}
# d_stop: SIGTERM, wait (at most 5 s); DRC = exit code
d_stop() {
    kill -TERM "$DPID" 2>/dev/null
    if wait_for 5 bash -c "! kill -0 $DPID 2>/dev/null"; then wait "$DPID"; DRC=$?; else DRC=timeout; fi
}
logcount() { grep -cE -- "$1" "$DLOG"; }
nsess() { sessions "$FTRANS"; }
# within MS DESCRIPTION command...: the command succeeds within MS ms (checked
# every 20 ms); EL = the time it took
within() {
    local lim=$1 d=$2; shift 2
    local t0; t0=$(ms_now)
    local end=$(( t0 + lim ))
    while ! "$@"; do
        if [ "$(ms_now)" -ge "$end" ]; then EL=$(( $(ms_now) - t0 )); bad "$d (not within $lim ms)"; return 1; fi
        sleep 0.02
    done
    EL=$(( $(ms_now) - t0 ))
    ok "$d ($EL ms)"
}
count_is() { [ "$(nsess)" = "$1" ]; }
count_ge() { [ "$(nsess)" -ge "$1" ]; }

# --- 1: link-up, settle, stable, flapping, SIGUSR1, SIGHUP, sd_notify -------
fake_ns_start "$I" "$RELAY" 2525 p1 normal --idle-timeout 5
CONF=$(dconf p1)
# sd_notify listener on an abstract socket (abstract names are per network
# namespace: it runs in the daemon's namespace).
NLOG=$T/notify.log
ip netns exec "$C" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
open(sys.argv[3], "w").close()
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n--\n"); f.flush()
' "etp-notify-$$" "$NLOG" "$T/notify.ready" &
on_exit "kill $!"
wait_for 5 test -e "$T/notify.ready"
d_start p1 "$CONF" NOTIFY_SOCKET="@etp-notify-$$"
check "started without carrier: 'link not usable'" has "$DLOG" 'link not usable \(wan0: not running'
check "sd_notify READY=1 (abstract socket)" wait_for 3 grep -q '^READY=1' "$NLOG"
sleep 2
check "no link: no poll in 2 s" count_is 0

ip -n "$I" link set isp0 up               # carrier: wan0 becomes usable
within 4000 "link up + address + default route: a poll" count_ge 1
check "... not before settle (1 s): $EL ms" [ "$EL" -ge 900 ]
check "log: one line for the decision" has "$DLOG" 'link wan0 usable \(198\.51\.100\.2, default route\) — polling in 1 s'
sleep 3
check "stable link: exactly one poll (no more after 3 s)" count_is 1
check "daemon log agrees: one poll finished" [ "$(logcount 'poll finished: exit 0 ok')" = 1 ]

# Flapping within settle: down/up three times 0.3 s apart (admin state:
# the kernel reports it at once; "up" needs the default route again).
downs0=$(logcount 'link wan0 down')
for i in 1 2 3; do
    ip -n "$C" link set wan0 down
    sleep 0.3
    ip -n "$C" link set wan0 up
    ip -n "$C" route replace default via "$RELAY" dev wan0
    sleep 0.3
done
t_last=$(ms_now)
within 4000 "flapping: a poll after the last link-up" count_ge 2
sleep 3
check "flapping within settle: exactly one poll (count $(nsess))" count_is 2
check "the daemon saw the flaps ($(( $(logcount 'link wan0 down') - downs0 )) downs)" \
    [ $(( $(logcount 'link wan0 down') - downs0 )) -ge 2 ]

kill -USR1 "$DPID"
within 2000 "SIGUSR1: poll now" count_ge 3
check "log: SIGUSR1 decision" has "$DLOG" 'SIGUSR1: polling now'
wait_for 5 grep -q '^#3 CLOSE' "$FTRANS"

# SIGHUP with a broken config: reported with file:line, old config kept
cp "$CONF" "$T/p1.good"
printf 'ehlo-name = "gw.example.test"\nbogus-key = 1\nrelay fake { host = "x" domains = { "b.test" } }\n' > "$CONF"
kill -HUP "$DPID"
check "broken config: reported, old kept" wait_for 3 grep -q 'has errors; keeping the old configuration' "$DLOG"
check "broken config: file:line in the log" has "$DLOG" "$CONF:[0-9]+"
check "daemon still running" kill -0 "$DPID"
kill -USR1 "$DPID"
within 2000 "poll after the failed reload (old config)" count_ge 4
check "old config used: ETRN a.test" wait_for 3 grep -q '^#4 C ETRN a.test' "$FTRANS"
wait_for 5 grep -q '^#4 CLOSE' "$FTRANS"

# SIGHUP with a good new config: used by the next poll
DOMS='"b.test"' dconf p1 >/dev/null
kill -HUP "$DPID"
check "good config: reloaded" wait_for 3 grep -q 'configuration .* reloaded' "$DLOG"
kill -USR1 "$DPID"
within 2000 "poll after the reload" count_ge 5
check "new config used: ETRN b.test" wait_for 3 grep -q '^#5 C ETRN b.test' "$FTRANS"
sleep 0.5
d_stop
check "SIGTERM: clean exit 0 ($DRC)" [ "$DRC" = 0 ]
check "sd_notify RELOADING=1 then READY=1" grep -q '^RELOADING=1' "$NLOG"
check "sd_notify STOPPING=1" grep -q '^STOPPING=1' "$NLOG"
check "sd_notify STATUS= lines" grep -q '^STATUS=link wan0 usable' "$NLOG"
fake_ns_stop

# --- 2: link down during a poll; SIGTERM during a poll ----------------------
fake_ns_start "$I" "$RELAY" 2525 p2 stall-etrn --idle-timeout 3
CONF=$(ETRN_TO=300 dconf p2)
ip -n "$I" link set isp0 down
sleep 1.2                                  # let the carrier loss be reported
d_start p2 "$CONF"
ip -n "$I" link set isp0 up
check "poll started and stalls at ETRN" wait_for 6 grep -q '^#1 C ETRN' "$FTRANS"
sleep 0.3
ip -n "$C" link set wan0 down
within 1000 "link down during a poll: poll ended" grep -q 'poll stopped (link down)' "$DLOG"
check "log: 'link wan0 down ... — killed running poll'" has "$DLOG" 'link wan0 down \(.*\) — killed running poll'
grep 'poll stopped (link down)' "$DLOG" | sed 's/^/     /'
sleep 2
check "link down: no retry" count_is 1
# back up: a new poll; SIGTERM while it stalls
ip -n "$C" link set wan0 up
ip -n "$C" route replace default via "$RELAY" dev wan0
wait_for 6 grep -q '^#1 CLOSE' "$FTRANS"     # the fake is done with the dead session
check "link up again: a new poll, stalled at ETRN" wait_for 8 grep -q '^#2 C ETRN' "$FTRANS"
t0=$(ms_now)
d_stop
check "SIGTERM during a poll: exit 0 ($DRC) in $(( $(ms_now) - t0 )) ms" [ "$DRC" = 0 ]
check "the poll child unwound by itself (etp_abort), no SIGKILL needed" \
    grep -qE 'poll stopped \(shutdown\): process [0-9]+ exited' "$DLOG"
check "relay saw the client go promptly" wait_for 2 grep -qE '^#2 CLOSE client-(eof|reset)' "$FTRANS"
if grep -q '^#2 C QUIT' "$FTRANS"; then echo "     (the aborted poll sent QUIT)"; else echo "     (note: the aborted poll closed without QUIT)"; fi
fake_ns_stop

# --- 3: ppp0 (tun) hang-up during a poll ------------------------------------
# ppp_dial: ppp0 (a tun) appears with its address, is set up and gets the
# default route, as pppd does after IPCP; t0 = just before the route (the
# moment the link becomes usable)
ppp_dial() {
    tun_start "$C" ppp0
    ip -n "$C" addr add 10.64.0.2 peer 10.64.0.1 dev ppp0
    ip -n "$C" link set ppp0 up
    t0=$(ms_now)
    ip -n "$C" route replace default dev ppp0
}
fake_ns_start "$C" 127.0.0.60 2525 p3 stall-etrn --idle-timeout 3
CONF=$(IFACES='"ppp*"' ETRN_TO=300 RHOST=127.0.0.60 dconf p3)
d_start p3 "$CONF"
ppp_dial
check "ppp0 up: poll, stalled at ETRN" wait_for 6 grep -q '^#1 C ETRN' "$FTRANS"
EL=$(( $(ms_now) - t0 ))
check "point-to-point link with address and route: no settle (first ETRN after $EL ms, settle is 1 s)" [ "$EL" -lt 900 ]
check "log: ppp0 usable (operstate UNKNOWN is fine), polling at once" has "$DLOG" 'link ppp0 usable \(10\.64\.0\.2, default route\) — polling now'
tun_stop
within 1000 "ppp0 hang-up during a poll: poll ended" grep -q 'poll stopped (link down)' "$DLOG"
# a redial right after the hang-up is a flap: settle applies again
wait_for 6 grep -q '^#1 CLOSE' "$FTRANS"
ppp_dial
check "redial within a minute of the hang-up: poll again" wait_for 6 grep -q '^#2 C ETRN' "$FTRANS"
EL=$(( $(ms_now) - t0 ))
check "... after settle, the link flapped ($EL ms >= 900)" [ "$EL" -ge 900 ]
d_stop
ip -n "$C" route replace default via "$RELAY" dev wan0
fake_ns_stop

# --- 3b: hang-up once the poll is done with the line ---------------------------
# A hold-done/post-poll hook asks for the hang-up (etrnpoll-hangup --request);
# the line goes while the poll still runs its hooks: the poll finishes
# (hooks, state, exit 0), and a redial right after is no flap (no settle).
tun_stop                            # section 3's redialled ppp0
fake_ns_start "$C" 127.0.0.60 2525 p3b normal --idle-timeout 3
printf '#!/bin/sh\n: > %q\nsleep 2\n: > %q\n' "$T/p3b.req" "$T/p3b.done" > "$T/p3b-hook.sh"
chmod 755 "$T/p3b-hook.sh"
CONF=$(IFACES='"ppp*"' RHOST=127.0.0.60 TOPX="hooks { post-poll = { \"$T/p3b-hook.sh\" } }" dconf p3b)
d_start p3b "$CONF"
ppp_dial
check "ppp0 up: poll, its post-poll hook asks for the hang-up" wait_for 8 test -e "$T/p3b.req"
tun_stop
within 1000 "hang-up while the post-poll hook runs: the daemon lets the poll finish" \
    grep -q 'the running poll is done with the line; letting it finish' "$DLOG"
check "... the hook ran to its end" wait_for 4 test -e "$T/p3b.done"
check "... the poll finished: exit 0, not stopped" wait_for 4 grep -q 'poll finished: exit 0' "$DLOG"
check "... and was not killed" hasnot "$DLOG" 'poll stopped \(link down\)'
rm -f "$T/p3b.req" "$T/p3b.done"
ppp_dial
check "redial right after that hang-up: poll again" wait_for 6 grep -q '^#2 C ETRN' "$FTRANS"
EL=$(( $(ms_now) - t0 ))
check "... at once, the hang-up ended a mission: no flap ($EL ms < 900, settle is 1 s)" [ "$EL" -lt 900 ]
check "log: polling now" [ "$(grep -c 'link ppp0 usable (10\.64\.0\.2, default route) — polling now' "$DLOG")" = 2 ]
wait_for 8 test -e "$T/p3b.done"
tun_stop
d_stop
ip -n "$C" route replace default via "$RELAY" dev wan0
fake_ns_stop

# --- 4: temporary failures: retry with backoff -------------------------------
# (a reset before the greeting: an ETRN that loses its reply is now sent
# again within the same poll, so it would no longer fail the poll)
fake_ns_start "$I" "$RELAY" 2525 p4 reset-greeting --fault-sessions 3 --idle-timeout 5
CONF=$(dconf p4)
d_start p4 "$CONF"
declare -a at=()
t0=$(ms_now)
for n in 1 2 3 4; do
    if wait_for 15 count_ge $n; then at[$n]=$(( $(ms_now) - t0 )); else at[$n]=-1; fi
done
g1=$(( at[2] - at[1] )); g2=$(( at[3] - at[2] )); g3=$(( at[4] - at[3] ))
echo "     sessions at ${at[*]} ms; gaps $g1 $g2 $g3 ms"
check "temporary failure: retried (4 sessions)" [ "${at[4]}" -gt 0 ]
check "backoff grows: gap1 $g1 < gap2 $g2 < gap3 $g3" [ "$g1" -lt "$g2" ] && [ "$g2" -lt "$g3" ]
check "gap1 ~ backoff-min (0.8-1 s + poll time)" [ "$g1" -ge 700 ] && [ "$g1" -le 2500 ]
check "log: 'poll finished: exit 75 temporary-failure; retry in 1 s'" \
    has "$DLOG" 'poll finished: exit 7[56] [a-z-]+; retry in 1 s'
check "log: second retry in 2 s" has "$DLOG" 'retry in 2 s'
sleep 5
check "success ends the retries (no interval: 4 sessions)" count_is 4
d_stop
fake_ns_stop

# --- 5: permanent failure: no retry until SIGHUP ------------------------------
fake_ns_start "$I" "$RELAY" 2525 p5 normal --etrn-reply '*=459' --idle-timeout 5
CONF=$(dconf p5)
d_start p5 "$CONF"
check "a poll" wait_for 5 count_ge 1
check "log: permanent failure, not retrying" wait_for 3 grep -q 'not retrying until the configuration is reloaded' "$DLOG"
sleep 4
check "permanent failure: no retries in 4 s" count_is 1
kill -HUP "$DPID"
within 2500 "SIGHUP: a new poll with the (re)loaded config" count_ge 2
d_stop
fake_ns_stop

# --- 6: cycle-timeout ----------------------------------------------------------
fake_ns_start "$I" "$RELAY" 2525 p6 stall-etrn --fault-sessions 1 --idle-timeout 30
CONF=$(ETRN_TO=300 LINKX='cycle-timeout = 10' dconf p6)
d_start p6 "$CONF"
check "poll stalls at ETRN" wait_for 5 grep -q '^#1 C ETRN' "$FTRANS"
t0=$(ms_now)
check "killed after link.cycle-timeout (10 s)" wait_for 14 grep -q 'poll stopped (cycle-timeout)' "$DLOG"
el=$(( $(ms_now) - t0 ))
check "... not before ($el ms after ETRN)" [ "$el" -ge 8500 ]
check "and retried after backoff-min" wait_for 5 count_ge 2
d_stop
fake_ns_stop

# --- 8: link.interval; a new address = a new link-up ---------------------------
fake_ns_start "$I" "$RELAY" 2525 p8 normal --idle-timeout 5
CONF=$(LINKX='interval = 2' dconf p8)
d_start p8 "$CONF"
check "interval: first poll after settle" wait_for 4 count_ge 1
t0=$(ms_now)
check "interval 2 s: two more polls" wait_for 8 count_ge 3
el=$(( $(ms_now) - t0 ))
check "... about 2 s apart ($el ms for two)" [ "$el" -ge 3500 ] && [ "$el" -le 6500 ]
check "log: 'next poll in 2 s'" has "$DLOG" 'poll finished: exit 0 ok; next poll in 2 s'
# an IPv6 address appears next to the IPv4 one: the uplink changed
ip -n "$C" -6 route add default via 2001:db8:1::1 dev wan0 onlink
n0=$(nsess)
ip -n "$C" addr add 2001:db8:1::2/64 dev wan0 nodad
check "new IPv6 address: logged as an uplink change" wait_for 3 \
    grep -q 'uplink changed: wan0 (198\.51\.100\.2, default route) -> wan0 (198\.51\.100\.2, 2001:db8:1::2, default route)' "$DLOG"
check "... and a poll for it" wait_for 5 count_ge $((n0 + 1))
check "... with trigger link-up" wait_for 3 grep -q 'poll started (link-up, interface wan0)' "$DLOG"
# the IPv4 address changes (redial-like: the new one is promoted when the
# old one goes; the kernel silently drops the default route with it)
ip netns exec "$C" sysctl -qw net.ipv4.conf.wan0.promote_secondaries=1
ip -n "$C" -6 route del default via 2001:db8:1::1 dev wan0
ip -n "$C" addr del 2001:db8:1::2/64 dev wan0
sleep 0.5
ip -n "$C" addr add 198.51.100.3/24 dev wan0
ip -n "$C" addr del 198.51.100.2/24 dev wan0
ip -n "$C" route replace default via "$RELAY" dev wan0
check "new IPv4 address: seen (as an uplink change or down/up)" wait_for 3 \
    grep -qE '(uplink changed: .* -> wan0|link wan0 usable) \(198\.51\.100\.3' "$DLOG"
check "new IPv4 address: a poll from it" wait_for 5 grep -q 'CONNECT 198\.51\.100\.3 ' "$FTRANS"
d_stop
ip -n "$C" addr add 198.51.100.2/24 dev wan0
ip -n "$C" addr del 198.51.100.3/24 dev wan0
ip -n "$C" route replace default via "$RELAY" dev wan0
fake_ns_stop

# --- 7: privilege drop ---------------------------------------------------------
if getent passwd nobody >/dev/null; then
    fake_ns_start "$I" "$RELAY" 2525 p7 normal --idle-timeout 5
    CONF=$(TOPX='user = "nobody"' dconf p7)
    chmod 644 "$CONF"
    d_start p7 "$CONF"
    check "log: running as user nobody" wait_for 3 grep -q 'running as user nobody' "$DLOG"
    uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$DPID/status")
    nuid=$(id -u nobody)
    check "all uids are nobody's ($uid)" [ "$uid" = "$nuid $nuid $nuid $nuid" ]
    check "no supplementary root group" bash -c "awk '/^Groups:/' /proc/$DPID/status | grep -vqw 0"
    check "poll as nobody" wait_for 5 count_ge 1
    check "state written by nobody" wait_for 3 bash -c "[ \"\$(stat -c %U '$T/state-p7/last-poll.json' 2>/dev/null)\" = nobody ]"
    d_stop
    fake_ns_stop
else
    echo "     (no user 'nobody': privilege drop not tested)"
fi

finish
