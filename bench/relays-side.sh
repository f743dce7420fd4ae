#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/relays-side.sh -- one etrnpoll poll of 18 nodes (--no-hold, default
# time-outs) against REAL Postfix, Exim 4.96 and Sendmail 8.17 side by side
# (tests/lib/relay.sh, exim.sh, sendmail.sh; STARTTLS + AUTH on loopback, in
# a private network namespace).  Prints, per relay: the wall time of each run
# and their median, the nodes accepted (result ok in last-poll.json), the
# sessions used and the exit codes.  Asserts nothing.
#   bash bench/relays-side.sh [RUNS]      (default 5 runs per relay)
# Each relay keeps one state dir over its runs (what a real installation
# does, so whatever etrnpoll learns about a relay is used from run 2 on).
# A run still going after $BENCH_TIMEOUT s (default 60) is killed and shown
# as ">T"; with the tarpit of Sendmail a poll can otherwise take ~16 minutes.
# Two extra rows show the admin's workaround, max-etrn-per-session below the
# relay's limit (Exim 10, Sendmail 7).  Needs root and a built etrnpoll
# (ETRNPOLL=path, default build/etrnpoll).
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
. "$SRCDIR/tests/lib/isolate.sh"
ETRNPOLL=${ETRNPOLL:-$SRCDIR/build/etrnpoll}
RUNS=${1:-5}
TMO=${BENCH_TIMEOUT:-60}
LIB=$SRCDIR/tests/lib
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "bench/relays-side.sh: needs root (starts private relays)"; exit 1; }
[ -x "$ETRNPOLL" ] || { echo "bench/relays-side.sh: no etrnpoll at $ETRNPOLL (build first or set ETRNPOLL)"; exit 1; }
T=$(mktemp -d /tmp/etp-bench-relays.XXXXXX); chmod 755 "$T"
cleanup() {
    "$LIB/relay.sh" stop "$T/postfix" >/dev/null 2>&1
    "$LIB/exim.sh" stop "$T/exim" >/dev/null 2>&1
    "$LIB/sendmail.sh" stop "$T/sendmail" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
. "$LIB/relaylab.sh"

NODES=(); for i in $(seq -w 1 18); do NODES+=("n$i.test"); done
# relay name -> harness, relay address, sink address
declare -A H=([postfix]=relay.sh [exim]=exim.sh [sendmail]=sendmail.sh)
declare -A A=([postfix]=127.0.0.2 [exim]=127.0.0.4 [sendmail]=127.0.0.6)
declare -A SK=([postfix]=127.0.0.3 [exim]=127.0.0.5 [sendmail]=127.0.0.7)
for r in postfix exim sendmail; do
    "$LIB/${H[$r]}" start "$T/$r" "${A[$r]}" "${SK[$r]}" "${NODES[@]}" >/dev/null 2>"$T/$r.start" ||
        { cat "$T/$r.start"; echo "bench/relays-side.sh: $r did not start"; exit 1; }
    # one held message for the first and the last node: the poll does real work
    "$LIB/${H[$r]}" inject "$T/$r" 1 n01.test >/dev/null
    "$LIB/${H[$r]}" inject "$T/$r" 1 n18.test >/dev/null
done

ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END { if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
sessions() { $PY -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["relays"][0].get("sessions", "?"))
except Exception: print("?")' "$1"; }

# row LABEL RELAY [extra relay lines...]
row() {
    local label=$1 r=$2; shift 2
    local c=$T/$label.conf sd=$T/state-$label i t0 el rc times="" shown="" oks="" sess="" rcs=""
    lab_conf "$c" "$sd" "${A[$r]}" "$T/$r/ca" "$T/$r/password" "$(clist "${NODES[@]}")" "$@"
    for i in $(seq 1 "$RUNS"); do
        rm -f "$sd/last-poll.json"     # a killed run writes none
        t0=$(ms); rc=0
        timeout -s TERM "$TMO" "$ETRNPOLL" -c "$c" poll --no-hold 2>"$T/$label-$i.err" || rc=$?
        el=$(( $(ms) - t0 ))
        times="$times$el
"
        if [ $rc = 124 ]; then shown="$shown >${TMO}s"; else shown="$shown $el"; fi
        oks="$oks $(nodes_ok "$sd/last-poll.json")"
        sess="$sess $(sessions "$sd/last-poll.json")"
        rcs="$rcs $rc"
    done
    printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(printf '%s' "$times" | median)" \
        "${shown# }" "${oks# }" "${sess# }" "${rcs# }"
}

echo "# $("$ETRNPOLL" --version 2>/dev/null | head -n1), 18 nodes, $RUNS runs per relay, kill after ${TMO}s"
echo "| relay | median ms | runs (ms) | nodes ok /18 | sessions | exit |"
echo "|---|---:|---|---|---|---|"
row postfix postfix
row exim exim
row sendmail sendmail
row exim-max10 exim "max-etrn-per-session = 10"
row sendmail-max7 sendmail "max-etrn-per-session = 7"
for r in postfix exim sendmail; do
    echo "# $r: held messages for n01/n18 delivered: $("$LIB/${H[$r]}" delivered "$T/$r") of 2"
done
