#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/empty-poll.sh [RUNS] — line time of an empty poll (nothing queued:
# Postfix, Exim and Sendmail answer ETRN with 250 anyway) against the REAL
# relays of the test harnesses (tests/lib/relay.sh, exim.sh, sendmail.sh),
# after one poll with mail taught etrnpoll the relay's connect-back time.
# Per relay: the learning poll (5 messages), then RUNS empty polls with the
# default hold; prints the hold's end, its duration (line held after the ETRN
# reply) and the whole poll, medians.  Root; runs in its own network
# namespace like the tests.  Prints figures; asserts nothing.
export SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRCDIR/tests/lib/common.sh"
need_root
need_binary
. "$LIB/relaylab.sh"
RUNS=${1:-5}
R=127.0.0.2 S=127.0.0.3
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
printf '%-9s %-28s %14s %14s %s\n' relay "learning poll (5 messages)" "empty: hold" "empty: poll" "end (each run)"
for relay in postfix exim sendmail; do
    case $relay in
        postfix) H=$LIB/relay.sh ;;
        exim) H=$LIB/exim.sh ;;
        sendmail) H=$LIB/sendmail.sh ;;
    esac
    D=$T/$relay
    if ! "$H" start "$D" $R $S example.test > "$T/$relay.start" 2>&1; then
        echo "$relay: did not start (see $T/$relay.start)"; continue
    fi
    C=$T/$relay.conf
    lab_conf "$C" "$T/state-$relay" "$R" "$D/ca" "$D/password" '"example.test"' \
        -- "hold { local-address = \"$S\" }"
    "$H" inject "$D" 5 example.test >/dev/null 2>&1
    "$ETRNPOLL" -c "$C" poll > /dev/null 2>&1
    learn="$(json end "$T/state-$relay/hold.json"), $(awk -v m="$(json duration_ms "$T/state-$relay/hold.json")" 'BEGIN { printf "%.1f s", m / 1000 }')"
    : > "$T/h"; : > "$T/p"; ends=""
    for r in $(seq 1 "$RUNS"); do
        t0=$(ms)
        "$ETRNPOLL" -c "$C" poll > /dev/null 2>&1
        echo $(( $(ms) - t0 )) >> "$T/p"
        json duration_ms "$T/state-$relay/hold.json" >> "$T/h"
        ends="$ends $(json end "$T/state-$relay/hold.json")"
    done
    printf '%-9s %-28s %12s ms %12s ms %s\n' "$relay" "$learn" "$(median < "$T/h")" "$(median < "$T/p")" "$ends"
    "$H" stop "$D" >/dev/null 2>&1
done
echo "(before: every empty poll held the line for first-contact, 120 s, and then warned about DNS/firewall)"
