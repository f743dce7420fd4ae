#!/bin/bash
# SPDX-License-Identifier: ISC
# poll-pipelining.sh — opt-in pipelined ETRN (etrn-pipelining = yes, RFC 2920)
# against a REAL Postfix backup MX holding mail for 10 domains: every ETRN is
# accepted and the mail delivered; the 10 ETRNs leave in one write (strace
# of the poll: 9 sends fewer than lock-step; in clear on port 2525, one
# sendto carries all 10) and the dialogue has one ETRN turn instead of 10;
# with the key absent nothing changes.  The scripted relays (limits, drops,
# tarpits, no PIPELINING) are in tests/poll-relays.sh.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
command -v strace >/dev/null || { echo "SKIP: strace not installed (tests/install-deps.sh)"; exit 77; }

R=127.0.0.2 S=127.0.0.3
RD=$T/relay
DOMS=()
for i in $(seq 1 10); do DOMS+=("d$i.test"); done
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S "${DOMS[@]}" > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"
    bad "real Postfix relay starts"
    finish
fi
ok "real Postfix relay started on $R (sink $S), 10 fast-flush domains"

# conf NAME [extra relay lines...]
conf() {
    local name=$1; shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        "$(etp_timeouts)" -s "relay isp" -R "$RD" -d "${DOMS[@]}" -- "$@"
}
# etrn_turns ERR: times the dialogue turned from sending ETRNs to reading
# their replies (lock-step: one per ETRN; one group: 1)
etrn_turns() { awk '/: > ETRN / { e=1; if (!s) t++; s=1 } / < [0-9][0-9][0-9][ -]/ && e { s=0 } END { print t+0 }' "$1"; }
# sends STRACE: the poll's socket sends (TCP in clear and TLS records alike:
# conn.c sends with send(2), strace shows sendto)
sends() { grep -cE '^[0-9]+ +(sendto|sendmsg)\(' "$1"; }
ok_nodes() { $PY -c 'import json,sys; print(sum(1 for n in json.load(open(sys.argv[1]))["relays"][0]["nodes"] if n["result"]=="ok" and n["code"]==250))' "$T/state-$1/last-poll.json"; }

for d in "${DOMS[@]}"; do "$LIB/relay.sh" inject "$RD" 1 "$d" >/dev/null; done
check "10 messages held, one per domain" [ "$("$LIB/relay.sh" queued "$RD")" = 10 ]

# --- 1. etrn-pipelining = yes: one write, all accepted, mail delivered -------
CP=$(conf pipe 'etrn-pipelining = yes')
traced -f -qq -e trace=sendto,sendmsg,write -o "$T/pipe.strace" \
    "$ETRNPOLL" -c "$CP" -v poll --no-hold > /dev/null 2> "$T/pipe.err"
rc=$?
check "pipelined poll: exit 0 (rc $rc)" [ "$rc" = 0 ]
check "pipelined poll: all 10 ETRNs answered 250 (ok)" [ "$(ok_nodes pipe)" = 10 ]
check "pipelined poll: 10 ETRNs in one write, one session" \
    bash -c "grep -q 'etrn-pipelining: 10 ETRNs in one write' '$T/pipe.err' && [ '$(json relays.0.sessions "$T/state-pipe/last-poll.json")' = 1 ]"
PT=$(etrn_turns "$T/pipe.err")
check "pipelined poll: one ETRN turn (got $PT)" [ "$PT" = 1 ]
check "all 10 messages delivered to the sink" "$LIB/relay.sh" wait-delivered "$RD" 10 60

# --- 2. the key absent: lock-step, as before ------------------------------------
CL=$(conf lock)
traced -f -qq -e trace=sendto,sendmsg,write -o "$T/lock.strace" \
    "$ETRNPOLL" -c "$CL" -v poll --no-hold > /dev/null 2> "$T/lock.err"
rc=$?
check "lock-step poll (key absent): exit 0, all 10 ok (rc $rc)" [ "$rc $(ok_nodes lock)" = "0 10" ]
LT=$(etrn_turns "$T/lock.err")
check "key absent: one turn per ETRN (got $LT), and no word of pipelining" \
    bash -c "[ '$LT' = 10 ] && ! grep -q 'etrn-pipelining' '$T/lock.err'"
# both polls started from an empty state dir: same handshake, same AUTH
SP=$(sends "$T/pipe.strace") SL=$(sends "$T/lock.strace")
check "pipelined: 9 sends fewer than lock-step ($SP vs $SL)" [ $((SL - SP)) = 9 ]

check "poll --dry-run names the choice (and only where it is made)" bash -c \
    "'$ETRNPOLL' -c '$CP' poll --dry-run | grep -q '(pipelined where the relay allows: etrn-pipelining):' && ! '$ETRNPOLL' -c '$CL' poll --dry-run | grep -q pipelin"

# --- 3. in clear (port 2525): one sendto holds all 10 ETRNs ---------------------
CC=$(conf clear 'etrn-pipelining = yes' 'port = 2525' 'tls = none' 'allow-plaintext-auth = yes')
sed -i '/ca-file/d' "$CC"
traced -f -qq -s 4096 -e trace=sendto,sendmsg,write -o "$T/clear.strace" \
    "$ETRNPOLL" -c "$CC" -v poll --no-hold > /dev/null 2> "$T/clear.err"
rc=$?
check "pipelined poll in clear: exit 0, all 10 ok (rc $rc)" [ "$rc $(ok_nodes clear)" = "0 10" ]
ETRN_SENDS=$(grep -cE '(sendto|sendmsg)\(.*ETRN d' "$T/clear.strace")
IN_ONE=$(grep -E '(sendto|sendmsg)\(.*"ETRN d1\.test' "$T/clear.strace" | grep -o 'ETRN d[0-9]*\.test' | tr '\n' ' ')
check "one sendto carries the 10 ETRNs ($ETRN_SENDS sendto with ETRN; in it: $IN_ONE)" \
    [ "$ETRN_SENDS/$IN_ONE" = "1/$(printf 'ETRN %s ' "${DOMS[@]}")" ]

# what Postfix made of it (figures, not asserted: Postfix 3.7 logs pipelined
# ETRNs only when it objects)
n=$("$LIB/relay.sh" log "$RD" | grep -c 'improper command pipelining' || true)
echo "# Postfix: 'improper command pipelining' lines in its log: $n; ETRN turns: pipelined $PT, lock-step $LT; sends: pipelined $SP, lock-step $SL"
check "password never printed" bash -c "! grep -l \"\$(cat '$RD/password')\" $T/*.err"
finish
