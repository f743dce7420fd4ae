#!/bin/bash
# SPDX-License-Identifier: ISC
# poll-postfix.sh — the core poll against a REAL Postfix backup MX.
# Postfix (private config dir) on 127.0.0.2 holds mail for example.test and
# other.test until an authenticated ETRN; smtp-sink on 127.0.0.3 is the
# customer MTA. Checks delivery, AUTH failure, 459, STARTTLS refusal,
# wrong CA, implicit TLS, TLS resumption, SASL mechanisms, redaction.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

R=127.0.0.2 S=127.0.0.3
RD=$T/relay
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S example.test other.test > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"
    bad "real Postfix relay starts"
    finish
fi
ok "real Postfix relay started on $R (sink $S)"
PW=$(cat "$RD/password")

# conf NAME [extra relay lines...] [-- extra top-level lines]
conf() {
    local name=$1; shift
    local rl=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do rl+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        "$(etp_timeouts)" "$@" -s "relay isp" -R "$RD" "${rl[@]}"
}

# --- 1. 20 held messages delivered by one poll -------------------------------
"$LIB/relay.sh" inject "$RD" 20 example.test >/dev/null
"$LIB/relay.sh" inject "$RD" 3 other.test >/dev/null
check "23 messages held by the relay before the poll" [ "$("$LIB/relay.sh" queued "$RD")" = 23 ]
check "nothing delivered before the poll" [ "$("$LIB/relay.sh" delivered "$RD")" = 0 ]
C1=$(conf main 'domains = { "example.test", "other.test" }')
expect_exit 0 "poll with STARTTLS + AUTH + 2 ETRNs" "$ETRNPOLL" -c "$C1" -v poll --no-hold 2> "$T/poll1.err"
check "all 23 messages arrive at the sink after the poll" "$LIB/relay.sh" wait-delivered "$RD" 23 60
check "transcript shows STARTTLS before AUTH" bash -c "grep -n '> STARTTLS' '$T/poll1.err' | head -1 | cut -d: -f1 | { read a; b=\$(grep -n '> AUTH' '$T/poll1.err' | head -1 | cut -d: -f1); [ -n \"\$a\" ] && [ -n \"\$b\" ] && [ \$a -lt \$b ]; }"
check "one ETRN per domain, in order" bash -c "[ \"\$(grep -o '> ETRN .*' '$T/poll1.err' | tr '\n' ' ')\" = '> ETRN example.test > ETRN other.test ' ]"
check "QUIT sent" has "$T/poll1.err" '> QUIT'
check "AUTH payload redacted in the transcript" has "$T/poll1.err" 'AUTH [A-Z0-9-]+( <initial response redacted>)?$'
check "password never in the output" hasnot "$T/poll1.err" "$PW"
SJ=$T/state-main/last-poll.json
check "state: relay result ok" [ "$(json relays.0.result "$SJ")" = ok ]
check "state: node example.test 250" [ "$(json relays.0.nodes.0.code "$SJ")" = 250 ]
check "state: node other.test ok" [ "$(json relays.0.nodes.1.result "$SJ")" = ok ]
TLSV=$(json relays.0.tls "$SJ")
check "state: TLS 1.2 or 1.3 ($TLSV)" bash -c "echo '$TLSV' | grep -qE 'TLS1\.[23]'"
check "state file is mode 0600" [ "$(stat -c %a "$SJ")" = 600 ]
"$ETRNPOLL" -c "$C1" status > "$T/status.out" 2>&1
check "status shows both nodes" bash -c "grep -q 'example.test' '$T/status.out' && grep -q 'other.test' '$T/status.out'"
check "status shows no secret" hasnot "$T/status.out" "$PW"

# --- 2. TLS session resumption on the next poll -------------------------------
expect_exit 0 "second poll (nothing queued)" "$ETRNPOLL" -c "$C1" poll --no-hold 2> "$T/poll2.err"
check "second poll resumed the TLS session" [ "$(json relays.0.tls_resumed "$SJ")" = true ]

# --- 2b. resumption on every poll (issue 13): after a resumed TLS 1.3
# session Postfix sends no new ticket; the previous one must be kept, so
# five polls in a row are full, resumed, resumed, resumed, resumed (was:
# full, resumed, full, resumed, full).
CR=$(conf resume 'domains = { "example.test" }')
seq=""
for i in 1 2 3 4 5; do
    "$ETRNPOLL" -c "$CR" -v poll --no-hold > /dev/null 2> "$T/resume$i.err" || true
    seq="$seq $(json relays.0.tls_resumed "$T/state-resume/last-poll.json")"
done
check "five polls in a row: every poll after the first resumed TLS (got:$seq)" [ "$seq" = " false true true true true" ]
check "resumed polls used TLS 1.3 (tickets, not session IDs)" has "$T/resume5.err" 'TLS \(TLS1\.3\).*session resumed'
check "one TLS cache file, named after the relay plus a hash" bash -c "ls '$T/state-resume' | grep -cE '^tls-isp-[0-9a-f]{16}\.session\$' | grep -qx 1"
# the cache is written once per poll, after QUIT went out (was: between the
# ETRN reply and QUIT, with an fsync on the critical path, and once more after)
traced -f -qq -e trace=sendto,sendmsg,writev,rename -o "$T/resume.strace" "$ETRNPOLL" -c "$CR" poll --no-hold 2>/dev/null
last_send=$(grep -nE '(sendto|sendmsg|writev)\(' "$T/resume.strace" | tail -1 | cut -d: -f1)
renames=$(grep -n 'rename(.*tls-isp[^"]*\.session"' "$T/resume.strace" | cut -d: -f1 | tr '\n' ' ')
check "the TLS cache is written once, after the last send (QUIT) (sends end at line $last_send, cache renames at lines: $renames)" \
    bash -c "set -- $renames; [ \$# = 1 ] && [ \$1 -gt ${last_send:-999999} ]"

# a session is resumed only under the configuration it was verified with:
# another ca-file (here a copy of the same CA) means one full handshake
cp "$RD/ca/ca.pem" "$T/ca-copy.pem"
sed "s|ca-file = \"$RD/ca/ca.pem\"|ca-file = \"$T/ca-copy.pem\"|" "$CR" > "$T/resume-ca.conf"
"$ETRNPOLL" -c "$T/resume-ca.conf" poll --no-hold > /dev/null 2> "$T/resume-ca1.err" || true
check "changed ca-file: no resumption of the old session (tls_resumed $(json relays.0.tls_resumed "$T/state-resume/last-poll.json"))" \
    [ "$(json relays.0.tls_resumed "$T/state-resume/last-poll.json")" = false ]
check "... and the log says why" has "$T/resume-ca1.err" 'from another configuration of this relay: not resuming'
"$ETRNPOLL" -c "$T/resume-ca.conf" poll --no-hold > /dev/null 2>&1 || true
check "... the next poll under the new configuration resumes again" \
    [ "$(json relays.0.tls_resumed "$T/state-resume/last-poll.json")" = true ]

# two relays whose names differed only by "/" vs "_" shared one ticket file
# (tls-a_b.session); now each has its own
cat > "$T/twins.conf" <<C
ehlo-name = "gw.example.test"
state-dir = "$T/state-twins"
relay "a/b" { host = "$R" ca-file = "$RD/ca/ca.pem" username = "etrn@relay.test" password-file = "$RD/password" domains = { "example.test" } }
relay "a_b" { host = "$R" ca-file = "$RD/ca/ca.pem" username = "etrn@relay.test" password-file = "$RD/password" domains = { "example.test" } }
C
expect_exit 0 "poll of relays \"a/b\" and \"a_b\"" "$ETRNPOLL" -c "$T/twins.conf" poll --no-hold 2> "$T/twins.err"
check "relays a/b and a_b get one TLS cache file each ($(ls "$T/state-twins" | grep -c 'session$'))" \
    [ "$(ls "$T/state-twins" | grep -c '^tls-.*\.session$')" = 2 ]

# --- 2c. the default mechanism inside verified TLS: PLAIN with an initial
# response, one round trip (issue 13; was CRAM-MD5, two round trips)
check "default auth-mechanisms against Postfix: PLAIN ($(json relays.0.auth "$SJ"))" [ "$(json relays.0.auth "$SJ")" = PLAIN ]
check "PLAIN took one round trip: AUTH with initial response, then 235, no 334" \
    bash -c "grep -A1 '> AUTH PLAIN <initial response redacted>' '$T/poll1.err' | tail -1 | grep -q '< 235' && ! grep -q '< 334' '$T/poll1.err'"

# --- 3. every SASL mechanism Postfix/Cyrus offers ----------------------------
for m in CRAM-MD5 PLAIN LOGIN; do
    Cm=$(conf mech-$m "auth-mechanisms = { \"$m\" }" 'domains = { "example.test" }')
    expect_exit 0 "AUTH $m accepted" "$ETRNPOLL" -c "$Cm" poll --no-hold 2> "$T/mech-$m.err"
    check "AUTH $m was the mechanism used" [ "$(json relays.0.auth "$T/state-mech-$m/last-poll.json")" = "$m" ]
done

# --- 4. wrong password: exit 77, no ETRN sent ---------------------------------
"$LIB/relay.sh" inject "$RD" 2 example.test >/dev/null
printf 'wrong-password' > "$T/badpw"; chmod 600 "$T/badpw"
C4=$(conf badpw 'domains = { "example.test" }')
sed -i "s|password-file = \"$RD/password\"|password-file = \"$T/badpw\"|" "$C4"
expect_exit 77 "wrong password -> EX_NOPERM" "$ETRNPOLL" -c "$C4" -v poll --no-hold 2> "$T/poll4.err"
check "no ETRN sent after AUTH failure" hasnot "$T/poll4.err" '> ETRN'
check "QUIT sent after AUTH failure" has "$T/poll4.err" '> QUIT'
check "the failure names the relay's reply (535)" has "$T/poll4.err" '535'
sleep 1
check "nothing delivered after the failed AUTH" [ "$("$LIB/relay.sh" delivered "$RD")" = 23 ]

# --- 5. a domain the relay does not flush: 459 recorded, others still polled --
C5=$(conf n459 'domains = { "notflush.test", "example.test" }')
expect_exit 69 "459 for one domain -> EX_UNAVAILABLE" "$ETRNPOLL" -c "$C5" poll --no-hold 2> "$T/poll5.err"
J5=$T/state-n459/last-poll.json
check "459 recorded for notflush.test" [ "$(json relays.0.nodes.0.code "$J5")" = 459 ]
check "notflush.test classified refused" [ "$(json relays.0.nodes.0.result "$J5")" = refused ]
check "example.test still polled after the 459" [ "$(json relays.0.nodes.1.code "$J5")" = 250 ]
check "the 2 held messages arrive" "$LIB/relay.sh" wait-delivered "$RD" 25 60

# --- 6. relay without STARTTLS: refused, no AUTH ------------------------------
C6=$(conf nostarttls 'port = 2525' 'domains = { "example.test" }')
expect_exit 76 "relay without STARTTLS -> refused (EX_PROTOCOL)" "$ETRNPOLL" -c "$C6" -v poll --no-hold 2> "$T/poll6.err"
check "no AUTH in clear" hasnot "$T/poll6.err" '> AUTH'
check "no ETRN in clear" hasnot "$T/poll6.err" '> ETRN'
check "clear message about STARTTLS" has "$T/poll6.err" 'does not offer STARTTLS'

# --- 7. wrong CA: refused, no AUTH --------------------------------------------
C7=$(conf wrongca 'domains = { "example.test" }')
sed -i "s|$RD/ca/ca.pem|$RD/ca/other-ca.pem|" "$C7"
expect_exit 76 "certificate from an unknown CA -> refused" "$ETRNPOLL" -c "$C7" -v poll --no-hold 2> "$T/poll7.err"
check "no AUTH after failed verification" hasnot "$T/poll7.err" '> AUTH'
check "verification failure is explained" has "$T/poll7.err" 'not valid for|signer|not trusted|issuer'

# --- 8. wrong name: certificate for 127.0.0.2 checked against another name ----
C8=$(conf wrongname 'tls-name = "mx.elsewhere.test"' 'domains = { "example.test" }')
expect_exit 76 "certificate for another name -> refused" "$ETRNPOLL" -c "$C8" poll --no-hold 2> "$T/poll8.err"

# --- 9. implicit TLS on 465 ---------------------------------------------------
"$LIB/relay.sh" inject "$RD" 2 other.test >/dev/null
C9=$(conf implicit 'tls = implicit' 'domains = { "other.test" }')
expect_exit 0 "implicit TLS on port 465" "$ETRNPOLL" -c "$C9" -v poll --no-hold 2> "$T/poll9.err"
check "no STARTTLS on the implicit-TLS port" hasnot "$T/poll9.err" '> STARTTLS'
check "the 2 messages arrive via the implicit-TLS poll" "$LIB/relay.sh" wait-delivered "$RD" 27 60

# --- 10. check --connect: session + AUTH + ETRN advertised, no ETRN -----------
expect_exit 0 "check --connect" "$ETRNPOLL" -c "$C1" -v check --connect 2> "$T/check.err"
check "check --connect sends no ETRN" hasnot "$T/check.err" '> ETRN'
check "check --connect authenticates" has "$T/check.err" '^isp: < 235'

# --- 11. pinning: right pin passes, wrong pin refused ------------------------
PIN=$(certtool --pubkey-info --load-certificate "$RD/ca/$R.pem" --outder 2>/dev/null | openssl dgst -sha256 -binary | base64)
C11=$(conf pin "pin-sha256 = { \"sha256//$PIN\" }" 'domains = { "example.test" }')
expect_exit 0 "matching SPKI pin accepted" "$ETRNPOLL" -c "$C11" poll --no-hold 2> "$T/poll11.err"
C12=$(conf badpin 'pin-sha256 = { "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }' 'domains = { "example.test" }')
expect_exit 76 "wrong SPKI pin refused" "$ETRNPOLL" -c "$C12" poll --no-hold 2> "$T/poll12.err"
check "pin failure is explained" has "$T/poll12.err" 'does not match any pin-sha256'

# --- 12. secret file permissions ---------------------------------------------
cp "$RD/password" "$T/openpw"; chmod 644 "$T/openpw"
C13=$(conf openpw 'domains = { "example.test" }')
sed -i "s|password-file = \"$RD/password\"|password-file = \"$T/openpw\"|" "$C13"
expect_exit 78 "world-readable password file refused by check" "$ETRNPOLL" -c "$C13" check 2> "$T/check13.err" >/dev/null
check "and the message says how to fix it" has "$T/check13.err" 'chmod 600'
expect_exit 78 "world-readable password file refused by poll" "$ETRNPOLL" -c "$C13" poll --no-hold 2>/dev/null

# nothing leaked: every message the relay held was delivered exactly once
check "relay queue empty at the end" [ "$("$LIB/relay.sh" queued "$RD")" = 0 ]
finish
