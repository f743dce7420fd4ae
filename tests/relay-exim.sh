#!/bin/bash
# SPDX-License-Identifier: ISC
# relay-exim.sh -- etrnpoll against a REAL Exim 4.96 backup MX (tests/lib/exim.sh;
# Exim's defaults: smtp_accept_max_nonmail = 10, smtp_etrn_serialize), the
# requirements of issue 12:
#  1. 20 held messages are released for the node in position 1 of 12
#  2. 20 held messages are released for the node in position 11 of 12: the
#     11th ETRN is the one Exim answers with its cleartext "554 Too many
#     nonmail commands" and a hang-up (smtp_accept_max_nonmail = 10)
#  3. a second poll while Exim is still delivering the first poll's run gets
#     "458 Already processing": exit 0 and the hold runs until delivery ends
#  4. wrong password: exit 77, no ETRN reaches Exim
#  5. wrong TLS name: exit 76, no AUTH and no ETRN reach Exim
#  6. Exim's builtin ETRN (no smtp_etrn_command; a second instance): plain
#     nodes get "501 argument must begin with #" and the 4th 501 ends the
#     session; the node after them ('#example.test') is still sent on a new
#     session and its mail released, and the output names the '#node' form
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

R=127.0.0.2 S=127.0.0.3
RD=$T/exim
EX=$LIB/exim.sh
FILL=(); for i in $(seq -w 1 11); do FILL+=("n$i.test"); done
on_exit "$EX stop $RD"
rc=0; "$EX" start "$RD" $R $S example.test late.test "${FILL[@]}" > "$T/start.log" 2>&1 || rc=$?
if [ $rc = 3 ]; then
    cat "$T/start.log"
    echo "SKIP: the Exim Debian packages are not cached and cannot be downloaded (run tests/install-deps.sh with the registry reachable)"
    exit 77
fi
if [ $rc != 0 ]; then cat "$T/start.log"; bad "real Exim relay starts"; finish; fi
ok "real Exim 4.96 relay started on $R (sink $S)"
PW=$(cat "$RD/password")
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
. "$LIB/relaylab.sh"
# ETRN lines Exim logged so far
etrn_seen() { grep -c ' ETRN .* received from ' "$RD/log/mainlog" 2>/dev/null || true; }
auth_seen() { grep -c 'A=\(plain\|login\|cram\)' "$RD/log/mainlog" 2>/dev/null || true; }

# conf NAME DOMAIN-LIST-TEXT [relay lines...] [-- top-level lines]: print the file
conf() {
    local name=$1 doms=$2; shift 2
    lab_conf "$T/$name.conf" "$T/state-$name" "$R" "$RD/ca" "$RD/password" "$doms" "$@"
    echo "$T/$name.conf"
}
show_transcript() { grep -E '> (ETRN|QUIT|NOOP)|< [245][0-9][0-9] |error|warning|session' "$1" | head -n 40 | sed 's/^/#   /'; }

# --- 1. node in position 1 of 12 ---------------------------------------------
check "inject 20 for example.test (held)" "$EX" inject "$RD" 20 example.test
C1=$(conf first "$(clist example.test "${FILL[@]}")")
t0=$(ms); rc=0
"$ETRNPOLL" -c "$C1" -v poll --no-hold 2> "$T/poll1.err" || rc=$?
echo "#   poll: 12 nodes, example.test first: exit $rc in $(( $(ms) - t0 )) ms"
show_transcript "$T/poll1.err"
check "position 1: exit 0 (got $rc)" [ $rc = 0 ]
check "position 1: all 20 messages reach the sink" "$EX" wait-delivered "$RD" 20 30
SJ=$T/state-first/last-poll.json
r=$(node_result "$SJ" example.test)
check "position 1: last-poll.json: example.test accepted ($r)" [ "${r%% *}" = ok ]
nok=$(nodes_ok "$SJ")
check "position 1: all 12 nodes accepted ($nok)" [ "$nok" = 12 ]

# --- 2. node in position 11 of 12: the ETRN that hits Exim's limit of 10 ----
before=$("$EX" delivered "$RD")
check "inject 20 for late.test (held)" "$EX" inject "$RD" 20 late.test
C2=$(conf late "$(clist "${FILL[@]:0:10}" late.test "${FILL[10]}")")
t0=$(ms); rc=0
"$ETRNPOLL" -c "$C2" -v poll --no-hold 2> "$T/poll2.err" || rc=$?
echo "#   poll: 12 nodes, late.test 11th: exit $rc in $(( $(ms) - t0 )) ms, $(grep -c '> ETRN' "$T/poll2.err") ETRNs sent"
show_transcript "$T/poll2.err"
check "position 11: exit 0 (got $rc)" [ $rc = 0 ]
check "position 11: ETRN late.test was sent" has "$T/poll2.err" '> ETRN late.test'
check "position 11: all 20 messages for late.test reach the sink" "$EX" wait-delivered "$RD" $((before + 20)) 30
SJ=$T/state-late/last-poll.json
r=$(node_result "$SJ" late.test)
check "position 11: last-poll.json: late.test accepted ($r)" [ "${r%% *}" = ok ]
nok=$(nodes_ok "$SJ")
check "position 11: all 12 nodes accepted ($nok)" [ "$nok" = 12 ]

# --- 3. second poll while Exim is still delivering: 458 Already processing ---
before=$("$EX" delivered "$RD")
check "sink answers DATA after 1 s (a slow customer MTA)" "$EX" sink-start "$RD" $S -w 1
check "inject 5 for example.test" "$EX" inject "$RD" 5 example.test
C3a=$(conf busy1 '"example.test"')
C3b=$(conf busy2 '"example.test"' -- "hold { local-address = \"$S\" quiet = 2 first-contact = 10 max-hold = 30 keepalive = no }")
rc=0; "$ETRNPOLL" -c "$C3a" poll --no-hold 2> "$T/poll3a.err" || rc=$?
check "first poll: exit 0 (got $rc), Exim starts its run" [ $rc = 0 ]
t0=$(ms); rc=0
"$ETRNPOLL" -c "$C3b" -v poll 2> "$T/poll3b.err" || rc=$?
el=$(( $(ms) - t0 ))
show_transcript "$T/poll3b.err"
echo "#   second poll: exit $rc after $el ms; sink has $(( $("$EX" delivered "$RD") - before )) of 5"
check "second poll: Exim answered 458 Already processing" has "$T/poll3b.err" '< 458 .*Already processing'
check "second poll: exit 0 (got $rc; 458 = the node's run is in progress)" [ $rc = 0 ]
HJ=$T/state-busy2/hold.json
check "second poll: the hold ran (hold.json written)" [ -f "$HJ" ]
hend=none; [ -f "$HJ" ] && hend=$(json end "$HJ" 2>/dev/null)
check "second poll: the hold ended by quiet ($hend)" [ "$hend" = quiet ]
check "second poll: all 5 were at the sink when it returned" [ "$(( $("$EX" delivered "$RD") - before ))" = 5 ]
"$EX" wait-delivered "$RD" $((before + 5)) 30 >/dev/null || true
check "sink back to normal" "$EX" sink-start "$RD" $S

# --- 4. wrong password: exit 77, no ETRN --------------------------------------
before=$("$EX" delivered "$RD"); e0=$(etrn_seen); q0=$("$EX" queued "$RD")
check "inject 2 for example.test" "$EX" inject "$RD" 2 example.test
printf 'wrong-password' > "$T/badpw"; chmod 600 "$T/badpw"
C4=$(conf badpw '"example.test"')
sed -i "s|password-file = \"$RD/password\"|password-file = \"$T/badpw\"|" "$C4"
expect_exit 77 "wrong password -> EX_NOPERM" "$ETRNPOLL" -c "$C4" -v poll --no-hold 2> "$T/poll4.err"
check "wrong password: no ETRN sent" hasnot "$T/poll4.err" '> ETRN'
check "wrong password: Exim logged no ETRN" [ "$(etrn_seen)" = "$e0" ]
check "wrong password: Exim's 535 is shown" has "$T/poll4.err" '535'
check "wrong password: password not in the output" hasnot "$T/poll4.err" "$PW"
sleep 1
check "wrong password: nothing delivered" [ "$("$EX" delivered "$RD")" = "$before" ]

# --- 5. wrong TLS name: exit 76, no AUTH, no ETRN -----------------------------
e0=$(etrn_seen); a0=$(auth_seen)
C5=$(conf wrongname '"example.test"' 'tls-name = "mx.elsewhere.test"')
expect_exit 76 "certificate for another name -> EX_PROTOCOL" "$ETRNPOLL" -c "$C5" -v poll --no-hold 2> "$T/poll5.err"
check "wrong name: no AUTH sent" hasnot "$T/poll5.err" '> AUTH'
check "wrong name: no ETRN sent" hasnot "$T/poll5.err" '> ETRN'
check "wrong name: Exim logged no ETRN and no AUTH" [ "$(etrn_seen)/$(auth_seen)" = "$e0/$a0" ]
sleep 1
check "wrong name: still nothing delivered" [ "$("$EX" delivered "$RD")" = "$before" ]
check "the 2 held messages are still queued" [ "$("$EX" queued "$RD")" = $((q0 + 2)) ]

# --- 6. Exim's builtin ETRN: only '#node' ------------------------------------
RB=$T/exim-builtin
on_exit "$EX stop $RB"
if EXIM_ETRN=builtin "$EX" start "$RB" 127.0.0.12 127.0.0.13 example.test a.test b.test c.test d.test > "$T/startb.log" 2>&1; then
    ok "second Exim with its builtin ETRN on 127.0.0.12"
    check "builtin: inject 2 for example.test" "$EX" inject "$RB" 2 example.test
    C6=$(conf builtin "$(clist a.test b.test c.test d.test '#example.test')")
    sed -i "s|host = \"$R\"|host = \"127.0.0.12\"|; s|$RD/ca/ca.pem|$RB/ca/ca.pem|" "$C6"
    rc=0; "$ETRNPOLL" -c "$C6" -v poll --no-hold 2> "$T/poll6.err" || rc=$?
    show_transcript "$T/poll6.err"
    echo "#   builtin: exit $rc"
    check "builtin: Exim answered 501 argument must begin with #" has "$T/poll6.err" '< 501.*argument must begin with #'
    check "builtin: ETRN #example.test was sent" has "$T/poll6.err" '> ETRN #example.test'
    check "builtin: the 2 messages for example.test reach the sink" "$EX" wait-delivered "$RB" 2 10
    r=$(node_result "$T/state-builtin/last-poll.json" '#example.test')
    check "builtin: last-poll.json: #example.test accepted ($r)" [ "${r%% *}" = ok ]
    check "builtin: the notice for a.test names the form Exim wants (#a.test / #name)" \
        has "$T/poll6.err" 'ETRN a\.test: 501.*#(a\.test|name|node)'
    "$EX" stop "$RB"
else
    cat "$T/startb.log"; bad "second Exim with its builtin ETRN on 127.0.0.12"
fi
finish
