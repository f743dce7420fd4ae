#!/bin/bash
# SPDX-License-Identifier: ISC
# link-lock.sh — one poll at a time.  The relay (tests/fakesmtp.py, scenario
# "delay": ETRN answered after 2 s) counts the polls, one SMTP session each.
#
#  1  two concurrent `etrnpoll poll` -> one poll; the second exits 0 at once
#  2  `--wait N` -> the second waits for the first, then polls itself
#  3  the daemon polling + a hook's `etrnpoll poll` -> one poll  (network
#     namespace: root; skipped with the reason otherwise)
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
. "$LIB/netns.sh"
need_binary
ADDR=127.0.0.61                          # link/daemon range (doc/HACKING.md)

conf() {
    etp_conf "$T/$1.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state\"" \
        'timeouts { connect = 3 greeting = 5 command = 5 etrn = 10 quit = 2 }' \
        'link { interfaces = { "wan*" } settle = 0 }' 'hold { enabled = false }' \
        -s "relay fake" "host = \"$ADDR\"" "port = $2" "tls = none" -d a.test --
}

# --- 1: two concurrent polls ------------------------------------------------------
fake_run host "$ADDR" 0 delay 120 --delay 2 || { echo "FAIL: fakesmtp did not start"; exit 1; }
CONF=$(conf host "$FAKE_PORT")

"$ETRNPOLL" -c "$CONF" poll --no-hold > "$T/a.out" 2>&1 &
A=$!
wait_for 5 grep -q '^#1 C ETRN' "$FTRANS"
t0=$(ms_now)
rc=0; "$ETRNPOLL" -c "$CONF" poll --no-hold --trigger hook > "$T/b.out" 2>&1 || rc=$?
el=$(( $(ms_now) - t0 ))
check "second poll while one runs: exit 0 ($rc) at once ($el ms)" [ "$rc" = 0 ] && [ "$el" -lt 1000 ]
check "second poll says why" has "$T/b.out" "another poll is running \\(pid $A\\)"
rc=0; wait "$A" || rc=$?
check "first poll: exit 0 ($rc)" [ "$rc" = 0 ]
check "two concurrent polls: one poll at the relay" [ "$(sessions "$FTRANS")" = 1 ]

# --- 2: --wait ----------------------------------------------------------------------
"$ETRNPOLL" -c "$CONF" poll --no-hold > "$T/c.out" 2>&1 &
A=$!
wait_for 5 grep -q '^#2 C ETRN' "$FTRANS"
rc=0; "$ETRNPOLL" -c "$CONF" poll --no-hold --wait 20 > "$T/d.out" 2>&1 || rc=$?
wait "$A"
check "--wait: the second poll waited and then polled (exit $rc)" [ "$rc" = 0 ]
check "--wait: two polls, one after the other" [ "$(sessions "$FTRANS")" = 3 ]
check "--wait: not at the same time (session 3 after session 2 closed)" \
    bash -c "grep -nE '^#(2 CLOSE|3 CONNECT)' '$FTRANS' | head -1 | grep -q '#2 CLOSE'"
kill "$FPID"; wait "$FPID" 2>/dev/null

# --- 3: the daemon's poll and a hook's poll --------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "     (part 3 skipped: network namespaces need root)"
    finish
fi
need_netns
ns_new C c
ns_new I i
ns_veth "$C" wan0 "$I" isp0
ip -n "$C" addr add 198.51.100.2/24 dev wan0
ip -n "$C" link set wan0 up
ip -n "$C" route add default via 198.51.100.1 dev wan0 onlink
fake_ns_start "$C" "$ADDR" 2525 ns delay --delay 3
CONF=$(conf ns 2525)
ip netns exec "$C" "$ETRNPOLL" -c "$CONF" run > "$T/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID"
wait_for 5 grep -q 'daemon started' "$T/daemon.log"
ip -n "$I" link set isp0 up                          # link up: the daemon polls at once (settle 0)
check "daemon polls on link-up" wait_for 5 grep -q '^#1 C ETRN' "$FTRANS"
rc=0; ip netns exec "$C" "$ETRNPOLL" -c "$CONF" poll --interface wan0 --trigger hook > "$T/hook.out" 2>&1 || rc=$?
check "hook poll during the daemon's poll: exit 0 ($rc), not polling" has "$T/hook.out" 'another poll is running'
check "daemon's poll completes" wait_for 8 grep -q 'poll finished: exit 0 ok' "$T/daemon.log"
check "daemon + hook: one poll at the relay" [ "$(sessions "$FTRANS")" = 1 ]
kill -USR1 "$DPID"
check "SIGUSR1 while idle: the daemon polls again" wait_for 5 grep -q '^#2 C ETRN' "$FTRANS"
kill -USR1 "$DPID"
check "SIGUSR1 during a poll: ignored, said so" wait_for 3 grep -q 'SIGUSR1: a poll is already running' "$T/daemon.log"
wait_for 8 grep -q '^#2 CLOSE' "$FTRANS"
sleep 0.5
check "never two polls: 2 sessions" [ "$(sessions "$FTRANS")" = 2 ]
kill -TERM "$DPID"
wait "$DPID"
finish
