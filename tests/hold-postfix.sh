#!/bin/bash
# SPDX-License-Identifier: ISC
# hold-postfix.sh — the hold (wait for inbound delivery to finish) against a
# REAL Postfix backup MX on 127.0.0.40 delivering to a REAL smtp-sink (the
# customer MTA, one file per received message) on 127.0.0.41:25.
#
# Independent witnesses for the timing checks (not etrnpoll's own figures):
#   - an `ss` watcher (every 50 ms) records when the last inbound connection
#     to 127.0.0.41:25 was seen open;
#   - the sink's message files' mtimes (ms) say when each message arrived;
#   - the hold-done hook records the sink's message count at the hold's end.
#
#  1. 20 queued messages: the hold ends by "quiet" only after the 20th
#     message, and within quiet + 2 s of the last inbound connection closing.
#  2. a slow sink (2 s per DATA): Postfix delivers over parallel connections
#     for longer than `quiet`; same checks.
#  3. nothing queued (Postfix says 250 anyway): ends by first-contact.
#  4. every relay answers 251 (scripted fake relay): ends at once.
#  5. a client that reconnects every 3 s (< quiet) keeps the hold open (and
#     the quiet period grows to 2 x the gap): a
#     scripted stand-in (Python smtplib sending real mail to the sink) for a
#     relay that delivers one message per connection, slowly.
#  6. a connection that never ends: max-hold ends the hold.
#  7. check-local-mta: with the sink stopped, no ETRN is sent, exit 75.
#  8. flush-command runs inside the hold; wait-outbound does not mistake
#     etrnpoll's own open relay session for outbound mail.
#  9. no address filter: the relay's end of etrnpoll's own session (also
#     on port 25) is not taken for a delivery.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

R=127.0.0.40 S=127.0.0.41 DOM=hold.test
RD=$T/relay
QUIET=4
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S $DOM > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"
    bad "real Postfix relay starts"
    finish
fi
ok "real Postfix relay on $R, smtp-sink on $S:25"

ms_now() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }

# hold-done hook: record the environment, the sink's count and the time.
cat > "$T/hook.sh" <<EOF
#!/bin/sh
out=\$1
{ env | grep '^ETRNPOLL_HOLD_' | sort
  echo "DELIVERED=\$("$LIB/relay.sh" delivered "$RD")"
  echo "HOOK_MS=\$(date +%s%3N)"; } > "\$out.tmp" && mv "\$out.tmp" "\$out"
EOF
chmod 755 "$T/hook.sh"

# conf NAME [hold lines...] [-- relay lines...]
conf() {
    local name=$1; shift
    local hl=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do hl+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || set -- -R "$RD" -d "$DOM" --
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.hold.test"' "state-dir = \"$T/state-$name\"" \
        "$(etp_timeouts)" -s "relay isp" "$@" -s hold "${hl[@]}" \
        -s hooks "hold-done = { \"$T/hook.sh\", \"$T/hook-$name.out\" }"
}

# Watch inbound connections to the sink (independently of etrnpoll): one
# line "ms count" every 50 ms.
watch_start() {
    WFILE=$T/watch-$1.log
    ( while :; do
          n=$(ss -Htn state established state close-wait "src $S:25" 2>/dev/null | wc -l)
          echo "$(ms_now) $n"
          sleep 0.05
      done > "$WFILE" ) &
    WPID=$!
    on_exit "kill $WPID"
}
watch_stop() { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null || true; }
# last ms at which a connection was seen open, and the first ms after it
# with none (the close as the watcher saw it); "0 0" if none was ever seen
watch_last_close() {
    awk '$2 > 0 { last = $1; closed = 0 } $2 == 0 && last && !closed { closed = $1 }
         END { print (last ? last : 0), (closed ? closed : 0) }' "$WFILE"
}
# timestamped stderr of a command: "ms line"
stamp() { while IFS= read -r l; do echo "$(ms_now) $l"; done; }
# run a poll: poll NAME CONF [etrnpoll args...]; sets RC, ERR, JS, HOOK
poll() {
    local name=$1 c=$2; shift 2
    ERR=$T/poll-$name.err JS=$T/state-$name/hold.json HOOK=$T/hook-$name.out
    RC=0
    "$ETRNPOLL" -c "$c" poll "$@" 2> >(stamp > "$ERR") || RC=$?
    sleep 0.2      # let the stamper drain
}
hookval() { sed -n "s/^$1=//p" "$HOOK"; }
newest_sink_ms() {
    local f newest=0 m
    for f in "$RD"/sink/*; do
        [ -e "$f" ] || continue
        m=$(stat -c %.3Y "$f"); m=${m/./}
        [ "$m" -gt "$newest" ] && newest=$m
    done
    echo "$newest"
}
clear_sink() { rm -f "$RD"/sink/*; }
# within LO HI VALUE
within() { [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }

# delivery_checks NAME N: the common checks after a poll that delivered N
delivery_checks() {
    local name=$1 n=$2
    check "$name: exit 0 (rc $RC)" [ "$RC" = 0 ]
    check "$name: hold ended by quiet ($(json end "$JS"))" [ "$(json end "$JS")" = quiet ]
    local dl; dl=$(hookval DELIVERED)
    check "$name: all $n messages were at the sink when the hold ended (had $dl)" [ "$dl" = "$n" ]
    local end newest; end=$(json ended_ms "$JS"); newest=$(newest_sink_ms)
    check "$name: the hold ended after the last message arrived (by $((end - newest)) ms)" \
        [ "$end" -gt "$newest" ]
    # The last close: as the ss watcher saw it, but never before the last
    # message was stored (a session of a few ms can slip past a 50 ms
    # watcher; the sink writes the file before the session ends).
    local last closed witness
    read -r last closed < <(watch_last_close)
    witness=$closed
    [ "$witness" -ge "$newest" ] || witness=$newest
    local after=$((end - witness))
    # Before hanging up the hold asks the relay again (a confirming ETRN) and
    # waits the learned connect-back bound for a new connection: 5 s here
    # (the floor; Postfix connects back in ~0.1 s on loopback) per confirmation.
    local cw=$(( $(json confirms "$JS") * 5000 ))
    check "$name: hold ended $after ms after the last inbound connection closed (quiet ${QUIET}000 ms + confirmation ${cw} ms, allowed -300..+2000)" \
        within $((QUIET * 1000 + cw - 300)) $((QUIET * 1000 + cw + 2000)) $after
    check "$name: the end was confirmed with the relay" [ "$(json confirmed "$JS")" = true ]
    echo "# $name: hold $(json duration_ms "$JS") ms, $(json connections "$JS") connection(s) from $(json peers "$JS"), $(json bytes_received "$JS") bytes, last message -> end $((end - newest)) ms, last close -> end $after ms ($([ "$closed" -ge "$newest" ] && echo "ss saw it" || echo "ss missed it; last message time"))"
    check "$name: log names the end and the peers" has "$ERR" "hold: ended after .* by quiet: .* inbound connection\(s\) from $R"
    check "$name: hook got ETRNPOLL_HOLD_END=quiet" [ "$(hookval ETRNPOLL_HOLD_END)" = quiet ]
    check "$name: hook got the connection count" [ "$(hookval ETRNPOLL_HOLD_CONNECTIONS)" = "$(json connections "$JS")" ]
    check "$name: hook got the peer" [ "$(hookval ETRNPOLL_HOLD_PEERS)" = "$R" ]
    check "$name: hook got a byte count ($(hookval ETRNPOLL_HOLD_BYTES))" [ "$(hookval ETRNPOLL_HOLD_BYTES)" -gt 0 ]
}

# --- 1. 20 messages -------------------------------------------------------------
"$LIB/relay.sh" inject "$RD" 20 $DOM >/dev/null
check "20 messages held by the relay" [ "$("$LIB/relay.sh" queued "$RD")" = 20 ]
C1=$(conf twenty "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 30" "max-hold = 120")
watch_start twenty
poll twenty "$C1"
watch_stop
delivery_checks twenty 20
"$ETRNPOLL" -c "$C1" status > "$T/status1.out" 2>&1
check "status shows the last hold" has "$T/status1.out" "hold: last ended .* by quiet; [0-9]+ inbound connection\(s\) from $R"

# --- 2. slow sink: 2 s per message, parallel connections -------------------------
clear_sink
"$LIB/relay.sh" sink-start "$RD" $S -w 2 >/dev/null
"$LIB/relay.sh" inject "$RD" 20 $DOM >/dev/null
C2=$(conf slow "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 30" "max-hold = 180")
watch_start slow
t0=$(ms_now)
poll slow "$C2"
watch_stop
delivery_checks slow 20
check "slow: delivery took longer than quiet, i.e. the hold really waited ($(( $(newest_sink_ms) - t0 )) ms)" \
    [ $(( $(newest_sink_ms) - t0 )) -gt $((QUIET * 1000)) ]
"$LIB/relay.sh" sink-start "$RD" $S >/dev/null

# --- 3. nothing queued: Postfix says 250 and never connects ------------------------
clear_sink
C3=$(conf empty "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 6" "max-hold = 120")
poll empty "$C3"
check "empty: exit 0 (rc $RC)" [ "$RC" = 0 ]
check "empty: hold ended by no-contact ($(json end "$JS"))" [ "$(json end "$JS")" = no-contact ]
check "empty: after first-contact (6 s): $(json duration_ms "$JS") ms" within 6000 7000 "$(json duration_ms "$JS")"
check "empty: logs the reason and what to check" has "$ERR" "the relay did not connect back within 6 s .* check DNS, firewall, port 25 reachability"
check "empty: hook got no-contact and 0 connections" bash -c "grep -qx ETRNPOLL_HOLD_END=no-contact '$HOOK' && grep -qx ETRNPOLL_HOLD_CONNECTIONS=0 '$HOOK'"

# --- 4. every relay answers 251 (scripted fake relay) ------------------------------
FAKE_ADDR=$R
ln -s "$RD/ca" "$T/ca"
if fake_start f251 etrn-codes --etrn-reply '*=251'; then
    printf 'fake-secret' > "$T/fake.pw"; chmod 600 "$T/fake.pw"
    C4=$(conf f251 "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 30" -- \
        "host = \"$R\"" "port = $FPORT" "ca-file = \"$RD/ca/ca.pem\"" "username = \"etrn\"" \
        "password-file = \"$T/fake.pw\"" "domains = { \"$DOM\" }")
    t0=$(ms_now)
    poll f251 "$C4"
    took=$(( $(ms_now) - t0 ))
    check "251: exit 0 (rc $RC)" [ "$RC" = 0 ]
    check "251: hold ended by nothing-queued ($(json end "$JS"))" [ "$(json end "$JS")" = nothing-queued ]
    check "251: at once ($(json duration_ms "$JS") ms hold, whole poll $took ms)" [ "$(json duration_ms "$JS")" -lt 500 ]
    fake_stop
else
    bad "251: scripted fake relay starts"
fi

# --- 5. slow reconnects keep the hold open -------------------------------------------
# Stand-in for a relay that opens one connection per message, slowly: from
# 127.0.0.40 (the relay's address), a real SMTP transaction each time.  On
# loopback each session lasts a few ms and the client closes first, so the
# sink's side vanishes between two samples without a TIME-WAIT: only the
# kernel's socket-close events show these (sampling alone missed 2 of 6).
cat > "$T/slowclient.py" <<'PY'
import smtplib, sys, time
sink, src, n, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
out = open(sys.argv[5], "w")
time.sleep(1)
for i in range(n):
    s = smtplib.SMTP(sink, 25, source_address=(src, 0), timeout=10)
    s.sendmail("a@relay.test", ["u@hold.test"], "Subject: %d\r\n\r\nslow %d\r\n" % (i, i))
    s.quit()
    s.close()
    out.write("%d\n" % int(time.time() * 1000)); out.flush()
    if i + 1 < n:
        time.sleep(gap)
PY
clear_sink
C5=$(conf reconnect "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 30" "max-hold = 120")
$PY "$T/slowclient.py" $S $R 6 3 "$T/slow-times" &
SPID=$!
on_exit "kill $SPID"
poll reconnect "$C5"
wait $SPID
check "reconnect: exit 0 (rc $RC)" [ "$RC" = 0 ]
check "reconnect: hold ended by quiet ($(json end "$JS"))" [ "$(json end "$JS")" = quiet ]
check "reconnect: all 6 connections counted ($(json connections "$JS"))" [ "$(json connections "$JS")" = 6 ]
lastc=$(tail -n1 "$T/slow-times"); end=$(json ended_ms "$JS"); qms=$(json quiet_ms "$JS")
# The quiet period follows the gaps: 2 x the longest (~3 s) between connections.
check "reconnect: quiet period grew with the 3 s gaps ($qms ms, configured ${QUIET}000)" \
    within 6000 7500 "$qms"
cw=$(( $(json confirms "$JS") * 5000 ))
check "reconnect: ended only after the 6th connection (+$((end - lastc)) ms, quiet $qms + confirmation $cw)" \
    within $((qms + cw - 300)) $((qms + cw + 2000)) $((end - lastc))
check "reconnect: hold lasted over 15 s although the gaps (3 s) are below quiet ($(json duration_ms "$JS") ms)" \
    [ "$(json duration_ms "$JS")" -gt 15000 ]

# --- 6. max-hold ----------------------------------------------------------------------
cat > "$T/holdopen.py" <<'PY'
import smtplib, sys, time
s = smtplib.SMTP(sys.argv[1], 25, source_address=(sys.argv[2], 0), timeout=10)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    s.noop(); time.sleep(1)
s.quit()
PY
C6=$(conf max "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 30" "max-hold = 5")
$PY "$T/holdopen.py" $S $R 12 &
HPID=$!
on_exit "kill $HPID"
sleep 0.5
poll max "$C6"
check "max: hold ended by max-hold ($(json end "$JS"))" [ "$(json end "$JS")" = max-hold ]
check "max: after 5 s ($(json duration_ms "$JS") ms)" within 5000 5600 "$(json duration_ms "$JS")"
check "max: logs that delivery is probably incomplete" has "$ERR" "max-hold \(5 s\) reached with 1 inbound connection\(s\) still open"
check "max: poll exits 75 (delivery may be incomplete: retry later) (rc $RC)" [ "$RC" = 75 ]
kill $HPID 2>/dev/null; wait $HPID 2>/dev/null

# --- 7. check-local-mta ------------------------------------------------------------------
# (The sink is stopped before the messages arrive: right after an ETRN,
# Postfix may deliver a new message at once instead of holding it.)
clear_sink
"$LIB/relay.sh" sink-stop "$RD"
"$LIB/relay.sh" inject "$RD" 2 $DOM >/dev/null
C7=$(conf precheck "local-address = \"$S\"" "check-local-mta = yes" "quiet = $QUIET" "first-contact = 30" "max-hold = 60")
poll precheck "$C7" -v
check "precheck: exit 75 with the sink down (rc $RC)" [ "$RC" = 75 ]
check "precheck: says nobody listens" has "$ERR" "nothing accepts connections on the local MTA at $S:25"
check "precheck: no ETRN sent" hasnot "$ERR" '> ETRN'
check "precheck: mail still queued at the relay" [ "$("$LIB/relay.sh" queued "$RD")" = 2 ]
"$LIB/relay.sh" sink-start "$RD" $S >/dev/null
poll precheck "$C7"
check "precheck: with the sink up the poll works (rc $RC)" [ "$RC" = 0 ]
check "precheck: the check's own connection is not a delivery (end $(json end "$JS"), $(json connections "$JS") connection(s))" \
    [ "$(json end "$JS")" = quiet ]
check "precheck: both messages were at the sink when the hold ended" [ "$(hookval DELIVERED)" = 2 ]

# --- 8. flush-command and wait-outbound -------------------------------------------------
clear_sink
cat > "$T/flush.sh" <<EOF
#!/bin/sh
date +%s%3N > "$T/flushed"
EOF
chmod 755 "$T/flush.sh"
"$LIB/relay.sh" inject "$RD" 3 $DOM >/dev/null
C8=$(conf flush "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 30" "max-hold = 60" \
    "flush-command = { \"$T/flush.sh\" }" "wait-outbound = yes")
watch_start flush
poll flush "$C8"
watch_stop
delivery_checks flush 3
fl=$(cat "$T/flushed" 2>/dev/null || echo 0)
check "flush: the flush command ran inside the hold" \
    within "$(json started_ms "$JS")" "$(json ended_ms "$JS")" "$fl"
check "flush: etrnpoll's own session to $R:25 was not waited for ($(json duration_ms "$JS") ms < 40 s)" \
    [ "$(json duration_ms "$JS")" -lt 40000 ]

# --- 9. no filter at all: the relay's end of our own session is not a delivery -------
# (The relay's side of etrnpoll's session listens on port 25 too, at $R.  No
# address filter here, so another test's mail traffic on this host at the
# same moment would make this hold longer; the checks allow for that.)
clear_sink
"$LIB/relay.sh" inject "$RD" 3 $DOM >/dev/null
C9=$(conf anyaddr "quiet = $QUIET" "first-contact = 30" "max-hold = 60")
poll anyaddr "$C9"
check "anyaddr: exit 0 (rc $RC)" [ "$RC" = 0 ]
check "anyaddr: hold ended by quiet ($(json end "$JS"))" [ "$(json end "$JS")" = quiet ]
check "anyaddr: all 3 messages were at the sink when the hold ended" [ "$(hookval DELIVERED)" = 3 ]
check "anyaddr: our own open session was not waited for ($(json duration_ms "$JS") ms < 40 s)" \
    [ "$(json duration_ms "$JS")" -lt 40000 ]

finish
