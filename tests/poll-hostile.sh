#!/bin/bash
# SPDX-License-Identifier: ISC
# poll-hostile.sh — the poll against a scripted fake relay, for what no real
# server does on request: STARTTLS stripping and injection, session limits,
# odd reply codes, malformed/overlong/endless replies, resets and stalls.
# Every case must end with a clear exit code (never a crash) in bounded time.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
"$LIB/mkca.sh" "$T/ca" "$FAKE_ADDR" >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"

# fconf NAME DOMAINS [relay lines...]: config for the fake on $FPORT
fconf() {
    local name=$1 doms=$2; shift 2
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        'timeouts { connect = 5 greeting = 3 command = 3 etrn = 3 tls = 5 quit = 2 }' \
        -s "relay fake" -F "$FAKE_ADDR" "domains = { $doms }" "$@"
}
# run NAME WANT_EXIT DESCRIPTION CONF [extra etrnpoll args]: poll, check the
# exit code, that it is not a crash, and that it took less than 15 s.
run() {
    local name=$1 want=$2 d=$3 conf=$4; shift 4
    local t0=$(date +%s%N) rc=0
    timeout 30 "$ETRNPOLL" -c "$conf" -v poll --no-hold "$@" > "$T/$name.out" 2> "$T/$name.err" || rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc, ${ms} ms)"; else bad "$d (exit $rc, want $want, ${ms} ms)"; tail -5 "$T/$name.err"; fi
    [ $ms -lt 15000 ] || bad "$d took ${ms} ms"
}
state() { json "$1" "$T/state-$2/last-poll.json"; }

# --- TLS downgrade and injection ---------------------------------------------
fake_start inj starttls-injection
C=$(fconf inj '"a.test"'); run inj 76 "STARTTLS response injection aborts" "$C"
check "injection: explained" has "$T/inj.err" 'after the STARTTLS reply and before the TLS handshake'
check "injection: no AUTH sent" hasnot "$FTRANS" 'AUTH'
check "injection: no ETRN sent" hasnot "$FTRANS" 'ETRN'
fake_stop

fake_start strip no-starttls
C=$(fconf strip '"a.test"'); run strip 76 "STARTTLS not offered (stripped) -> refuse" "$C"
check "stripped: no AUTH in clear" hasnot "$FTRANS" 'AUTH'
fake_stop

fake_start s454 starttls-454
C=$(fconf s454 '"a.test"'); run s454 76 "STARTTLS answered 454 -> refuse" "$C"
check "454: no AUTH in clear" hasnot "$FTRANS" 'AUTH'
check "454: QUIT sent" has "$FTRANS" 'QUIT'
fake_stop

# --- ETRN replies ------------------------------------------------------------
fake_start lim etrn-limit:2
C=$(fconf lim '"a.test", "b.test", "c.test", "d.test", "e.test"'); run lim 0 "per-session ETRN limit: reconnect and continue" "$C"
check "limit: every node accepted" bash -c "[ \$(grep -c '\"result\":\"ok\"' <(tr -d ' \n' < '$T/state-lim/last-poll.json' | sed 's/},{/}\n{/g')) -ge 5 ]"
check "limit: 3 sessions used" [ "$(state relays.0.sessions lim)" = 3 ]
check "limit: each node sent exactly once successfully" [ "$(grep -c 'ETRN' "$FTRANS")" -ge 5 ]
fake_stop

fake_start c253 etrn-253
C=$(fconf c253 '"a.test"'); run c253 0 "253 with a count" "$C"
check "253: count 17 recorded" [ "$(state relays.0.nodes.0.count c253)" = 17 ]
fake_stop

fake_start m421 421-mid:2 --fault-sessions 1
C=$(fconf m421 '"a.test", "b.test", "c.test"'); run m421 0 "421 mid-session: reconnect, remaining nodes polled" "$C"
check "421: 2 sessions" [ "$(state relays.0.sessions m421)" = 2 ]
check "421: last node accepted" [ "$(state relays.0.nodes.2.result m421)" = ok ]
fake_stop

fake_start codes etrn-codes --etrn-reply 'n251.test=251' --etrn-reply 'n458.test=458' \
    --etrn-reply 'n459.test=459 4.7.1 <n459.test>: service unavailable' --etrn-reply 'n501.test=501' \
    --etrn-reply 'ml.test=250-Queuing\r\n250 started'
C=$(fconf codes '"n251.test", "n458.test", "n459.test", "n501.test", "ml.test"')
run codes 78 "mixed ETRN replies: worst wins (501 = config error)" "$C"
check "251 nothing-queued" [ "$(state relays.0.nodes.0.result codes)" = nothing-queued ]
check "458 temporary" [ "$(state relays.0.nodes.1.result codes)" = temporary ]
check "459 refused" [ "$(state relays.0.nodes.2.result codes)" = refused ]
check "501 config-error" [ "$(state relays.0.nodes.3.result codes)" = config-error ]
check "multi-line 250 ok" [ "$(state relays.0.nodes.4.result codes)" = ok ]
check "one log line per node" [ "$(grep -c 'notice: fake: ETRN ' "$T/codes.err")" = 5 ]
fake_stop
fake_start codes2 etrn-codes --etrn-reply 'n458.test=458' --etrn-reply 'n459.test=459'
C=$(fconf codes2 '"n458.test", "n459.test"'); run codes2 75 "temporary beats refused in the exit code" "$C"
fake_stop

fake_start noetrn no-etrn
C=$(fconf noetrn '"a.test"'); run noetrn 69 "ETRN not implemented (502) -> refused" "$C"
check "no-etrn: warning that ETRN is not advertised" has "$T/noetrn.err" 'does not advertise ETRN'
fake_stop
fake_start helo helo-only
C=$(fconf helo '"a.test"'); run helo 69 "EHLO refused, HELO works -> ETRN impossible" "$C"
check "helo-only: explained" has "$T/helo.err" 'does not speak ESMTP'
fake_stop

# --- malformed input: bounded, clear error, no crash -------------------------
for v in x-in-code short no-space four-digit mixed-codes mixed-class leading-space tab; do
    fake_start bad-$v bad-code:$v
    C=$(fconf bad-$v '"a.test"'); run bad-$v 75 "malformed greeting ($v) -> protocol error, temp" "$C"
    check "bad-code $v: says protocol error" has "$T/bad-$v.err" 'protocol error'
    fake_stop
done
for v in lowercase extra-spaces auth-equals bare-lf; do
    fake_start odd-$v bad-code:$v --where ehlo
    C=$(fconf odd-$v '"a.test"'); run odd-$v 0 "odd but legal EHLO reply ($v) accepted" "$C"
    fake_stop
done
for v in code-only trailing-space; do
    fake_start odd-$v bad-code:$v --where greeting,etrn
    C=$(fconf odd-$v '"a.test"'); run odd-$v 0 "odd but legal greeting and ETRN reply ($v) accepted" "$C"
    fake_stop
done
# A bare "250" EHLO reply advertises nothing, so no STARTTLS: refusing is right.
fake_start odd-bare bad-code:code-only --where ehlo
C=$(fconf odd-bare '"a.test"'); run odd-bare 76 "EHLO reply without STARTTLS keyword -> refuse" "$C"
fake_stop
fake_start long overlong-line
C=$(fconf long '"a.test"'); run long 75 "1 MiB greeting line -> error" "$C"
check "overlong: says longer than 512" has "$T/long.err" 'longer than 512'
fake_stop
fake_start endless endless-continuation
C=$(fconf endless '"a.test"'); run endless 75 "endless continuation lines -> error after 100" "$C"
check "endless: says more than 100 lines" has "$T/endless.err" 'more than 100 lines'
fake_stop
fake_start nul nul-bytes
C=$(fconf nul '"a.test"'); run nul 75 "NUL bytes in a reply -> protocol error" "$C"
fake_stop
fake_start utf8 invalid-utf8
C=$(fconf utf8 '"a.test"'); run utf8 0 "invalid UTF-8 in reply text is harmless" "$C"
check "utf8: logged escaped" has "$T/utf8.err" '\\xff'
fake_stop
fake_start split split-packets
C=$(fconf split '"a.test"'); run split 0 "replies split into 1-byte packets" "$C"
fake_stop

# --- resets and stalls: each step times out; the next relay is still polled --
fake_start rg reset-greeting
C=$(fconf rg '"a.test"'); run rg 75 "reset instead of greeting -> temporary" "$C"
fake_stop
fake_start ra reset-auth
C=$(fconf ra '"a.test"'); run ra 75 "reset mid-AUTH -> temporary, no ETRN" "$C"
check "reset-auth: no ETRN" hasnot "$FTRANS" 'ETRN'
fake_stop
fake_start re reset-etrn:1 --fault-sessions 1
C=$(fconf re '"a.test", "b.test"'); run re 0 "reset mid-ETRN: that node sent again on a new session (ETRN is idempotent)" "$C"
check "reset-etrn: first node accepted on the second session" [ "$(state relays.0.nodes.0.result re)" = ok ]
check "reset-etrn: first node took 2 tries" [ "$(state relays.0.nodes.0.tries re)" = 2 ]
check "reset-etrn: second node accepted after reconnect" [ "$(state relays.0.nodes.1.result re)" = ok ]
check "reset-etrn: a.test sent twice" [ "$(grep -c ' ETRN a.test$' "$FTRANS")" = 2 ]
fake_stop
fake_start re2 reset-etrn:1
C=$(fconf re2 '"a.test", "b.test"'); run re2 75 "reset after every first ETRN: temporary after 3 tries, bounded" "$C"
check "reset-etrn always: first node temporary" [ "$(state relays.0.nodes.0.result re2)" = temporary ]
check "reset-etrn always: 3 tries" [ "$(state relays.0.nodes.0.tries re2)" = 3 ]
fake_stop

fake_start sg stall-greeting
SGPORT=$FPORT
FAKE_ADDR_SAVE=$FAKE_ADDR
fake_start ok2 normal
C=$(fconf sg '"a.test"')
sed -i "s/port = $FPORT/port = $SGPORT/" "$C"
cat >> "$C" <<C2
relay second {
  host = "$FAKE_ADDR"
  port = $FPORT
  ca-file = "$T/ca/ca.pem"
  username = "etrn"
  password-file = "$T/pw"
  domains = { "b.test" }
}
C2
run sg 75 "stalled greeting times out (3 s); the next relay is still polled" "$C"
check "stall: first relay timed out" has "$T/sg.err" 'timed out'
check "stall: second relay accepted" [ "$(state relays.1.result sg)" = ok ]
fake_stop
fake_start se stall-etrn
C=$(fconf se '"a.test"'); run se 75 "stalled ETRN reply times out" "$C"
fake_stop

fake_start term stall-etrn
C=$(fconf term '"a.test"')
sed -i 's/etrn = 3/etrn = 60/' "$C"
"$ETRNPOLL" -c "$C" -v poll --no-hold 2> "$T/term.err" &
tp=$!
wait_for 10 grep -q 'ETRN a.test' "$FTRANS"
t0=$(date +%s%N); kill -TERM $tp; rc=0; wait $tp || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM during a stalled ETRN: exit 75 (rc $rc) within 1 s (${ms} ms)" bash -c "[ $rc = 75 ] && [ $ms -lt 1000 ]"
check "SIGTERM: QUIT still sent to the relay" wait_for 3 grep -qE '^#1 T QUIT$' "$FTRANS"
fake_stop

# --- IPv6 --------------------------------------------------------------------
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
    FAKE_ADDR=::1 "$LIB/mkca.sh" "$T/ca" ::1 >/dev/null
    FAKE_ADDR=::1 fake_start v6 normal
    C=$(fconf v6 '"a.test"'); sed -i 's/host = "127.0.0.4"/host = "::1"/' "$C"
    run v6 0 "IPv6 relay ([::1])" "$C"
    fake_stop
else
    echo "note: no ::1 on lo; IPv6 case not run"
fi

# --- secrets never in output -------------------------------------------------
check "password never printed in any transcript" bash -c "! grep -l 'fake-secret' $T/*.err $T/*.out"
finish
