#!/bin/bash
# SPDX-License-Identifier: ISC
# hold-trust.sh — the hold counts the relay, not the world; empty polls end
# at the learned connect-back time.  A REAL Postfix backup MX takes ETRN at
# 127.0.0.40 but delivers from a SECOND address, 127.0.0.42
# (smtp_bind_address), to a REAL smtp-sink (the customer MTA) on 127.0.0.41:25.
# The "poker" is an unprivileged local client (setpriv as nobody) connecting
# to the sink from 127.0.0.1.
#
#  1. first poll of the relay (nothing learned, hold.source unset): trust on
#     first use; 5 messages delivered from 127.0.0.42; it is learned
#     (hold-learned.json, `etrnpoll status`), with the connect-back time.
#  2. empty poll after that: ends by "empty" at the learned bound (goal
#     < 10 s after ETRN; the figure is printed), notice "nothing was queued at
#     isp", no firewall warning.
#  3. poke: an empty poll with the poker connecting 1 s into the hold: the
#     poke is ignored (logged once), it neither ends the hold as "delivery
#     complete" (the old rule: end=quiet, 1 connection) nor prolongs it.
#  4. hold-open: 5 messages and the poker holding a connection open for
#     40 s: the hold ends by quiet after the relay's delivery, with the
#     poke still open (the old rule waited for the poke: >= 40 s).
#  5. hold.source = any restores the old rule: the same poke is counted.
#  6. a config change of the relay resets what was learned.
#  7. check refuses a hold.local-address that is not on this host (exit 78).
#  8. max-hold with no connection at all says so (not "connections kept coming").
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

R=127.0.0.40 S=127.0.0.41 B=127.0.0.42 DOM=trust.test
RD=$T/relay
QUIET=3
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S $DOM > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"
    bad "real Postfix relay starts"
    finish
fi
# deliver from the second address
postconf -c "$RD/etc" "smtp_bind_address = $B" &&
    RELAY_SH_INSTANCE=$RD postfix -c "$RD/etc" reload > /dev/null 2>&1
check "real Postfix relay on $R delivers from $B" [ "$(postconf -c "$RD/etc" -h smtp_bind_address)" = $B ]

ms_now() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }
chmod 755 "$T"

# conf NAME [hold lines...]
conf() {
    local name=$1; shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.trust.test"' "state-dir = \"$T/state\"" \
        "$(etp_timeouts)" -s "relay isp" -R "$RD" -d "$DOM" -- \
        -s hold "local-address = \"$S\"" "quiet = $QUIET" "first-contact = 60" "max-hold = 120" \
        "sample-ms = 100" "$@"
}
# poll NAME CONF: sets RC, ERR, JS, MS (wall time of the poll)
poll() {
    local name=$1 c=$2 t0
    ERR=$T/poll-$name.err JS=$T/state/hold.json RC=0
    t0=$(ms_now)
    "$ETRNPOLL" -c "$c" -v poll 2> "$ERR" || RC=$?
    MS=$(( $(ms_now) - t0 ))
}
# poker SECONDS-BEFORE HOLD-SECONDS: as nobody, connect to the sink after a
# delay, keep the connection open, close it (the sink's greeting is read)
poker() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- $PY -c '
import socket, sys, time
time.sleep(float(sys.argv[1]))
s = socket.create_connection((sys.argv[3], 25), timeout=5)
s.recv(100)
time.sleep(float(sys.argv[2]))
s.close()' "$1" "$2" $S &
    POKER=$!
}

C1=$(conf base)
# --- 1. first poll: trust on first use, the second address is learned ---------
"$LIB/relay.sh" inject "$RD" 5 $DOM > /dev/null
poll first "$C1"
check "first: exit 0 (rc $RC)" [ "$RC" = 0 ]
check "first: ended by quiet ($(json end "$JS"))" [ "$(json end "$JS")" = quiet ]
check "first: 5 messages at the sink ($("$LIB/relay.sh" delivered "$RD"))" [ "$("$LIB/relay.sh" delivered "$RD")" = 5 ]
check "first: deliveries came from $B ($(json peers "$JS"))" [ "$(json peers "$JS")" = $B ]
check "first: trusted on first use (logged)" has "$ERR" "trust on first use"
L=$T/state/hold-learned.json
check "first: $B learned as isp's delivery source" [ "$(json relays.0.sources.0.addr "$L")" = $B ]
FC=$(json relays.0.contact_ms.0 "$L")
echo "# first contact after ETRN: $FC ms"
check "first: connect-back time learned ($FC ms)" [ "$FC" -ge 0 ]
"$ETRNPOLL" -c "$C1" status > "$T/status.out" 2>&1
check "status lists the learned source" has "$T/status.out" "relay isp: delivers from $B \(learned\)"
check "status lists the connect-back time" has "$T/status.out" "connects back within [0-9.]+ s \(1 poll\(s\) with mail\)"

# --- 2. empty poll: released at the learned bound -----------------------------
rm -f "$RD"/sink/*
poll empty "$C1"
DUR=$(json duration_ms "$JS")
echo "# empty poll: hold $DUR ms, whole poll $MS ms (was: first-contact, 120 s by default)"
check "empty: exit 0 (rc $RC)" [ "$RC" = 0 ]
check "empty: ended by empty ($(json end "$JS"))" [ "$(json end "$JS")" = empty ]
check "empty: line released within 10 s of ETRN ($DUR ms)" [ "$DUR" -lt 10000 ]
check "empty: notice names the relay and its usual time" has "$ERR" "nothing was queued at isp \(it usually connects back within [0-9.]+ s\)"
check "empty: no firewall warning" hasnot "$ERR" "check DNS, firewall"

# --- 3. poke during an empty poll ---------------------------------------------
poker 1 0.2
poll poke "$C1"
wait "$POKER"; PRC=$?
check "poke: the poker (nobody) connected (rc $PRC)" [ "$PRC" = 0 ]
check "poke: not taken for a delivery ($(json end "$JS"), $(json connections "$JS") connections)" \
    [ "$(json end "$JS")" = empty ] && [ "$(json connections "$JS")" = 0 ]
check "poke: logged once as not from the relay" [ "$(grep -c 'ignored: connection from 127.0.0.1 is not from the relay' "$ERR")" = 1 ]
check "poke: counted as ignored ($(json ignored "$JS"))" [ "$(json ignored "$JS")" = 1 ]
check "poke: did not prolong the hold ($(json duration_ms "$JS") ms)" [ "$(json duration_ms "$JS")" -lt 10000 ]

# --- 4. a poke held open during a poll with mail --------------------------------
"$LIB/relay.sh" inject "$RD" 5 $DOM > /dev/null
poker 0.5 40
poll open "$C1"
OPEN_AT_END=0; kill -0 "$POKER" 2>/dev/null && OPEN_AT_END=1
kill "$POKER" 2>/dev/null; wait "$POKER" 2>/dev/null
check "open: exit 0 (rc $RC)" [ "$RC" = 0 ]
check "open: ended by quiet ($(json end "$JS"))" [ "$(json end "$JS")" = quiet ]
check "open: ended while the poke was still open, $(json duration_ms "$JS") ms (old rule: >= 40 s)" \
    [ "$OPEN_AT_END" = 1 ] && [ "$(json duration_ms "$JS")" -lt 20000 ]
check "open: the 5 messages at the sink ($("$LIB/relay.sh" delivered "$RD"))" [ "$("$LIB/relay.sh" delivered "$RD")" = 5 ]
check "open: only the relay's connections counted ($(json peers "$JS"))" [ "$(json peers "$JS")" = $B ]

# --- 5. hold.source = any: the old rule -----------------------------------------
CA=$(conf any 'source = "any"')
poker 1 0.2
poll any "$CA"
wait "$POKER"
check "any: the poke counts again ($(json end "$JS"), $(json connections "$JS") connection)" \
    [ "$(json end "$JS")" = quiet ] && [ "$(json connections "$JS")" = 1 ]

# --- 6. a changed relay config resets what was learned ---------------------------
CP=$(conf pinned "source = \"$B\"")
"$LIB/relay.sh" inject "$RD" 1 $DOM > /dev/null
poll pinned "$CP"
check "pinned: config change logged" has "$ERR" "forgetting what was learned"
check "pinned: only this poll is learned after the reset ($(json relays.0.polls_with_mail "$L") poll)" [ "$(json relays.0.polls_with_mail "$L")" = 1 ]
check "pinned: no trust on first use with hold.source set" hasnot "$ERR" "trust on first use"

# --- 8. max-hold without any connection (issue 15's misleading message) --------
CM=$(conf maxhold)
sed -i -e "s|state-dir = \"$T/state\"|state-dir = \"$T/state-max\"|" -e 's/max-hold = 120/max-hold = 2/' "$CM"
poll maxhold "$CM"
check "maxhold: exit 75 (rc $RC)" [ "$RC" = 75 ]
check "maxhold: says no connection came" has "$ERR" "max-hold \(2 s\) reached without any inbound connection from isp"
check "maxhold: does not claim connections kept coming" hasnot "$ERR" "kept coming"

# --- 7. check refuses a local-address typo ---------------------------------------
CT=$(conf typo)
sed -i "s/local-address = \"$S\"/local-address = \"192.0.2.41\"/" "$CT"
RC=0; "$ETRNPOLL" -c "$CT" check > "$T/check.out" 2>&1 || RC=$?
check "check: local-address not on this host refused (exit $RC)" [ "$RC" = 78 ]
check "check: the message says why" has "$T/check.out" "192.0.2.41.*is not an address of this host"
finish
