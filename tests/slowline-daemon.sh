#!/bin/bash
# SPDX-License-Identifier: ISC
# slowline-daemon.sh — the daemon (`etrnpoll run`) on a simulated 56k line
# (v90: 56 kbit/s, base RTT 150 ms; tests/lib/slowline.sh), with a REAL
# Postfix backup MX in the ISP's namespace delivering back over the line to
# smtp-sink on the gateway.  The daemon starts while the line is down; then
# the line is dialled as pppd would (ppp0 appears; address, up, default route).
#
#  1. line down: the daemon waits, sends nothing over the line;
#  2. dial: exactly one poll (one TCP connection from the gateway), ETRN
#     accepted, the held mail at the sink when the hold ends; the hold-done
#     hook asks for the hang-up (as etrnpoll-hangup --request) and the line
#     is hung up while the poll still runs its (slow) post-poll hook: the
#     poll finishes (the hook runs to its end, exit 0), it is not stopped;
#  3. redial right after: one more poll, at once ("polling now": a hang-up
#     at the end of a mission is no flap), which resumes TLS.
# Bounded (each wait has a limit; max-hold 60 s); no timing asserted.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
. "$LIB/netns.sh"
. "$LIB/slowline.sh"

DOM=v90.test N=5
slowline_start v90 || { bad "simulated v90 line starts"; finish; }
RD=$T/relay
slowline_relay_start "$RD" $DOM; rc=$?
[ "$rc" != 1 ] || { bad "real Postfix relay starts in the ISP namespace"; finish; }
[ "$rc" != 2 ] || { bad "sink starts on the gateway"; finish; }
check "line hung up: ppp0 gone" slowline_hangup
ip netns exec "$SL_NS" "$LIB/relay.sh" inject "$RD" $N $DOM > "$T/inject.log" 2>&1 ||
    { cat "$T/inject.log"; bad "$N messages held at the relay"; finish; }
ok "Postfix relay on $SL_ISP with $N held messages, smtp-sink on $SL_GW:25, line down"

REQ=$T/hangup.req
# hold-done: the request (etrnpoll-hangup --request), then what the sink has
printf '#!/bin/sh\ndate +%%s.%%N > %q\necho "DELIVERED=$(%q delivered %q)" > %q.tmp && mv %q.tmp %q\n' \
    "$REQ" "$LIB/relay.sh" "$RD" "$REQ.info" "$REQ.info" "$REQ.info" > "$T/hold-done.sh"
# post-poll: slow (a notification, say), so the hang-up comes while it runs
printf '#!/bin/sh\nsleep 2\necho "EXIT=$ETRNPOLL_EXIT" >> %q\n' "$T/post-poll.out" > "$T/post-poll.sh"
chmod 755 "$T/hold-done.sh" "$T/post-poll.sh"
etp_conf "$T/d.conf" 'ehlo-name = "gw.v90.test"' "state-dir = \"$T/state\"" \
    -s link 'interfaces = { "ppp*" }' \
    -s "relay isp" "host = \"$SL_ISP\"" "ca-file = \"$RD/ca/ca.pem\"" 'username = "etrn@relay.test"' \
        "password-file = \"$RD/password\"" "domains = { \"$DOM\" }" \
    -s hold "local-address = \"$SL_GW\"" 'quiet = 3' 'max-hold = 60' \
    -t "hooks { hold-done = { \"$T/hold-done.sh\" } post-poll = { \"$T/post-poll.sh\" } }" >/dev/null
DLOG=$T/daemon.log
"$ETRNPOLL" -c "$T/d.conf" -v run > "$DLOG" 2>&1 &
DPID=$!
on_exit "kill $DPID"

# 1. line down
check "daemon started with the line down: waiting" wait_for 10 grep -q 'link not usable' "$DLOG"
sleep 1
check "nothing sent while the line is down (SYNs: $(slowline_stat syns))" [ "$(slowline_stat syns)" = 0 ]

# 2. dial: one poll, ETRN accepted, mail delivered, hang-up at the hold's end
s0=$(slowline_stat syns)
slowline_dial || { bad "dial"; finish; }
check "dial: the daemon polls ppp0 at once" wait_for 5 grep -q 'link ppp0 usable (192\.0\.2\.1, default route) — polling now' "$DLOG"
check "ETRN accepted by the relay" wait_for 30 grep -qE "ETRN $DOM: 25[0-3] " "$DLOG"
check "the hold ends and its hook asks for the hang-up" wait_for 90 test -e "$REQ"
slowline_hangup
wait_for 10 test -e "$REQ.info"
got=$(sed -n 's/^DELIVERED=//p' "$REQ.info" 2>/dev/null)
check "all $N messages at the sink when the hold ended (got ${got:-?})" [ "${got:-0}" = $N ]
check "one TCP connection from the gateway for the poll (SYNs: $(( $(slowline_stat syns) - s0 )))" \
    [ $(( $(slowline_stat syns) - s0 )) = 1 ]
check "hang-up while the poll ends: it is let finish" \
    wait_for 5 grep -q 'the running poll is done with the line; letting it finish' "$DLOG"
check "... its post-poll hook ran, exit 0" wait_for 10 grep -q '^EXIT=0$' "$T/post-poll.out"
check "... the daemon saw exit 0" wait_for 5 grep -q 'poll finished: exit 0' "$DLOG"
check "... and did not stop it" hasnot "$DLOG" 'poll stopped'
check "one poll for one dial" [ "$(grep -c 'poll started' "$DLOG")" = 1 ]

# 3. redial right after the hang-up
rm -f "$REQ" "$REQ.info"
slowline_dial || { bad "redial"; finish; }
check "redial: polled at once again (no flap settle)" \
    wait_for 5 bash -c "[ \$(grep -c 'link ppp0 usable .* — polling now' '$DLOG') = 2 ]"
check "second poll: hold ended, hang-up asked" wait_for 90 test -e "$REQ"
slowline_hangup
check "second poll finished: exit 0" wait_for 10 bash -c "[ \$(grep -c '^EXIT=0\$' '$T/post-poll.out') = 2 ]"
check "second poll resumed TLS" [ "$(json relays.0.tls_resumed "$T/state/last-poll.json")" = true ]
kill -TERM "$DPID"
check "daemon stops" wait_for 10 grep -q 'daemon stopped' "$DLOG"
grep -E 'link ppp0|poll finished|hold: ended|done with the line' "$DLOG" | sed 's/^/     /'
finish
