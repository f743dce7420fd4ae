#!/bin/bash
# SPDX-License-Identifier: ISC
# slowline-gsm.sh — the whole mission on a simulated GSM line (9.6 kbit/s,
# base RTT 600 ms, 64 KB modem buffer; tests/lib/slowline.sh): a REAL Postfix
# backup MX in the ISP's namespace delivers back OVER THE SAME LINE to
# smtp-sink (the customer MTA) on the gateway.
#
#  1. 20 held messages, default hold settings: when the hold ends (the
#     hold-done hook, which on a real gateway hangs up), all 20 are at the
#     sink and the relay's queue is empty.  (Postfix's first wave of delivery
#     connections fills the downlink; the second wave's SYNs wait in the
#     modem's queue for seconds — a hold that sees only established
#     connections hangs up with most of the mail still queued.)
#  2. five polls in a row: every poll after the first resumes TLS.
# Bounded: max-hold 240 s, each poll under `timeout`.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
. "$LIB/netns.sh"
. "$LIB/slowline.sh"

DOM=gsm.test N=20 SIZE=${SIZE:-4000}
slowline_start gsm || { bad "simulated GSM line starts"; finish; }
ok "GSM line: ppp0 $SL_GW <-> $SL_ISP ($SL_RATE bit/s, one-way delay $SL_DELAY ms)"

RD=$T/relay
slowline_relay_start "$RD" $DOM; rc=$?
[ "$rc" != 1 ] || { bad "real Postfix relay starts in the ISP namespace"; finish; }
[ "$rc" != 2 ] || { bad "sink starts on the gateway"; finish; }
ok "Postfix relay on $SL_ISP (ISP side), smtp-sink on $SL_GW:25 (gateway side)"

ip netns exec "$SL_NS" env RELAY_MSG_SIZE=$SIZE "$LIB/relay.sh" inject "$RD" $N $DOM > "$T/inject.log" 2>&1 ||
    { cat "$T/inject.log"; bad "$N messages held at the relay"; finish; }
check "$N messages held at the relay, none delivered" [ "$("$LIB/relay.sh" delivered "$RD")" = 0 ]

cat > "$T/hook.sh" <<EOF
#!/bin/sh
{ echo "DELIVERED=\$("$LIB/relay.sh" delivered "$RD")"
  echo "QUEUED=\$(ip netns exec "$SL_NS" "$LIB/relay.sh" queued "$RD")"
  env | grep '^ETRNPOLL_HOLD_' | sort; } > "$T/hook.out.tmp" && mv "$T/hook.out.tmp" "$T/hook.out"
EOF
chmod 755 "$T/hook.sh"
cat > "$T/gsm.conf" <<C
ehlo-name = "gw.gsm.test"
state-dir = "$T/state"
relay isp {
  host = "$SL_ISP"
  ca-file = "$RD/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$RD/password"
  domains = { "$DOM" }
}
hold {
  local-address = "$SL_GW"
  max-hold = 240
}
hooks { hold-done = { "$T/hook.sh" } }
C

t0=$(ms_now)
rc=0
timeout 300 "$ETRNPOLL" -c "$T/gsm.conf" poll > "$T/poll1.out" 2>&1 || rc=$?
t1=$(ms_now)
check "poll with the hold exits 0 (exit $rc, $(( (t1 - t0) / 1000 )) s)" [ $rc = 0 ]
check "the hold-done hook ran" test -s "$T/hook.out"
got=$(sed -n 's/^DELIVERED=//p' "$T/hook.out" 2>/dev/null)
queued=$(sed -n 's/^QUEUED=//p' "$T/hook.out" 2>/dev/null)
check "all $N messages at the sink when the hold ended (got ${got:-?}, ${queued:-?} still queued)" [ "${got:-0}" = $N ]
check "nothing left in the relay's queue at the hold's end" [ "${queued:-1}" = 0 ]
grep -q . "$T/hook.out" && sed -n 's/^ETRNPOLL_HOLD_END=/  hold end: /p' "$T/hook.out"

# 2. resumption on every poll (the hold is not the point here)
resumed=""
for i in 1 2 3 4 5; do
    rc=0
    timeout 120 "$ETRNPOLL" -c "$T/gsm.conf" poll --no-hold > "$T/poll-r$i.out" 2>&1 || rc=$?
    [ $rc = 0 ] || { bad "poll $i of 5 exits 0 (exit $rc)"; cat "$T/poll-r$i.out"; }
    resumed="$resumed $(json relays.0.tls_resumed "$T/state/last-poll.json")"
done
check "five polls after the first, every one resumed TLS (resumed:$resumed)" \
    [ "$resumed" = " true true true true true" ]
echo "  line: up $(slowline_stat up_bytes) B, down $(slowline_stat down_bytes) B, drops up/down $(slowline_stat up_drops)/$(slowline_stat down_drops)"
finish
