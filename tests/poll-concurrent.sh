#!/bin/bash
# SPDX-License-Identifier: ISC
# poll-concurrent.sh — several relays are polled at the same time, one
# session (and one thread) each, under one lock, results merged; a stop
# reaches every relay's session at once.
#
#   relay "slow"  tests/fakesmtp.py on 127.0.0.4: its greeting comes after
#                 4 s (slow-greeting); configured FIRST
#   relay "isp"   the REAL Postfix backup MX (tests/lib/relay.sh) on
#                 127.0.0.30:25 holding 3 messages for example.test; smtp-sink
#                 on 127.0.0.31:25 is the customer MTA
#
# Checks: the real relay's ETRN is sent and answered while the slow relay has
# not even greeted (one after another, it would wait 4 s behind it); both
# relays' nodes are accepted and merged into one last-poll.json and one
# post-poll hook run; the slow relay's -v transcript lines carry its name;
# SIGTERM while one relay's ETRN is unanswered (etrn time-out 60 s) and the
# other's session is idle ends the poll within a few seconds, exit 75.
#
# Exit 0 pass, 1 fail, 77 skip (not root).  KEEP=1 keeps the files.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

A=127.0.0.30 S=127.0.0.31 ZONE=example.test RD=$T/relay
"$LIB/mkca.sh" "$T/ca" "$FAKE_ADDR" >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"

on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $A $S $ZONE > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"; bad "real Postfix relay starts on $A"; finish
fi
ok "real Postfix relay on $A:25, sink on $S:25"
"$LIB/relay.sh" inject "$RD" 3 $ZONE >/dev/null
check "3 messages held by the relay" [ "$("$LIB/relay.sh" queued "$RD")" = 3 ]

# post-poll hook: records the node lists it was given
HOOK_OUT=$T/hook.out
cat > "$T/post-poll" <<SH
#!/bin/sh
echo "ok=\$ETRNPOLL_NODES_OK failed=\$ETRNPOLL_NODES_FAILED exit=\$ETRNPOLL_EXIT" >> "$HOOK_OUT"
SH
chmod 755 "$T/post-poll"

# conf NAME ETRN-TIMEOUT: relay "slow" (the fake) first, then relay "isp"
conf() {
    R=$A etp_conf "$T/$1.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$1\"" \
        "timeouts { connect = 10 greeting = 10 command = 10 etrn = $2 tls = 10 quit = 2 }" \
        -s "relay slow" -F "$FAKE_ADDR" -d slow.test -- \
        -s "relay isp" -R "$RD" -d "$ZONE" -- \
        -s hooks "post-poll = { \"$T/post-poll\" }"
}
stamp() { "$PY" -u -c 'import sys, time
for l in sys.stdin: sys.stdout.write("%.6f %s" % (time.time(), l)); sys.stdout.flush()'; }
ts_of() { grep -E -m1 -- "$2" "$1" | cut -d' ' -f1; }
lt() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

# ---------------------------------------------------------------- 1. side by side
fake_start slow slow-greeting --delay 4
C=$(conf side 20)
T0=$(date +%s.%N)
"$ETRNPOLL" -c "$C" -v poll --no-hold 2>&1 | stamp > "$T/side.log"
RC=${PIPESTATUS[0]}
T1=$(date +%s.%N)
check "poll exit 0 (rc $RC)" [ "$RC" = 0 ]
T_ISP_ETRN=$(ts_of "$T/side.log" "isp: > ETRN $ZONE")
T_ISP_REPLY=$(ts_of "$T/side.log" "isp: < 25[0-9] ")
T_SLOW_GREET=$(ts_of "$T/side.log" 'slow: < 220')
T_SLOW_ETRN=$(ts_of "$T/side.log" 'slow: > ETRN slow.test')
echo "# start $T0, isp ETRN $T_ISP_ETRN, slow greeting $T_SLOW_GREET, slow ETRN $T_SLOW_ETRN, exit $T1"
check "the real relay's ETRN was sent" [ -n "$T_ISP_ETRN" ]
check "the slow relay's ETRN was sent" [ -n "$T_SLOW_ETRN" ]
check "the real relay's ETRN went out before the slow relay (configured first) greeted" \
    lt "${T_ISP_ETRN:-9e99}" "${T_SLOW_GREET:-0}"
check "... and it was answered before that greeting too" lt "${T_ISP_REPLY:-9e99}" "${T_SLOW_GREET:-0}"
LP=$T/state-side/last-poll.json
check "last-poll.json: two relays, in configuration order" \
    [ "$(json relays.0.name "$LP") $(json relays.1.name "$LP")" = "slow isp" ]
check "last-poll.json: both relays' nodes accepted" \
    [ "$(json relays.0.nodes.0.result "$LP") $(json relays.1.nodes.0.result "$LP")" = "ok ok" ]
check "one post-poll hook run with both relays' nodes" \
    [ "$(cat "$HOOK_OUT")" = "ok=slow.test $ZONE failed= exit=0" ]
check "one lock file for the poll" [ "$(ls "$T/state-side" | grep -c '\.lock$')" = 1 ]
check "the held mail is delivered to the sink" "$LIB/relay.sh" wait-delivered "$RD" 3 60
check "every transcript line carries its relay's name" \
    bash -c "! grep -E '^[0-9.]+ [<>] ' '$T/side.log'"
fake_stop

# ---------------------------------------------------------------- 2. a stop reaches every relay
# The fake never answers ETRN (etrn time-out 60 s); the real relay's session
# is idle for the hold's confirmation.  SIGTERM goes to the process: whichever
# thread the kernel gives it to, every session must unwind at once.
fake_start stall stall-etrn
C=$(conf stop 60)
"$LIB/relay.sh" inject "$RD" 1 $ZONE >/dev/null
"$ETRNPOLL" -c "$C" -v poll --no-hold > "$T/stop.log" 2>&1 &
P=$!
wait_for 20 grep -q 'slow: > ETRN slow.test' "$T/stop.log"
wait_for 20 grep -q "isp: < 25[0-9] " "$T/stop.log"
check "the stalled relay got its ETRN (no reply is coming)" has "$T/stop.log" 'slow: > ETRN slow.test'
sleep 0.5
TS=$(date +%s%N)
kill -TERM $P
RC=0
for _ in $(seq 1 100); do kill -0 $P 2>/dev/null || break; sleep 0.1; done
if kill -0 $P 2>/dev/null; then kill -KILL $P; fi
wait $P || RC=$?
MS=$(( ($(date +%s%N) - TS) / 1000000 ))
echo "# SIGTERM -> exit: $MS ms"
check "SIGTERM with an ETRN unanswered: exit 75 (rc $RC)" [ "$RC" = 75 ]
check "... within 5 s, not the 60 s ETRN time-out ($MS ms)" [ "$MS" -lt 5000 ]
check "the stalled relay's node is reported as not answered" \
    [ "$(json relays.0.nodes.0.result "$T/state-stop/last-poll.json")" = temporary ]
fake_stop

finish
