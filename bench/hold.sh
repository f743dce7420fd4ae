#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/hold.sh — how long does etrnpoll keep the line up after the last
# delivery?  Figures only; asserts nothing.
#
# A REAL Postfix backup MX (127.0.0.100) holds MSGS messages; each poll
# sends ETRN and holds until delivery to a REAL smtp-sink (127.0.0.101:25) is
# complete.  Per poll we measure, from independent clocks:
#   delivery   hold start (~ETRN) -> the last message's file at the sink (mtime)
#   line       hold start -> hold end (what the dial-up line is kept up for,
#              after ETRN)
#   overshoot  the last message -> hold end (line time paid for nothing)
#   after-close  etrnpoll's own figure: last inbound connection closed -> end
# and print the median / min / max over POLLS polls, for a fast and a slow
# (1 s per message) sink, beside the fixed-hold alternative: a 10-minute
# timer after ETRN, whose overshoot is 600 s minus the delivery time.
# Expect overshoot = Postfix's cached-connection idle time (~2 s, the
# connection is still open) + hold.quiet + up to one sample.
#
# Then the empty poll (nothing queued; Postfix still answers 250): the line
# time of EMPTY_POLLS polls once a poll with mail has been seen (the learned
# connect-back bound), beside one poll of a relay nothing is learned about
# (what every empty poll cost before: the whole hold.first-contact, default
# 120 s; set EMPTY_BEFORE=0 to skip that 2-minute poll).
#
# Environment: POLLS (10), MSGS (20), QUIET (hold.quiet, 10), SAMPLE_MS
# (hold.sample-ms, 200), FIXED (fixed-timer seconds, 600), EMPTY_POLLS (5),
# EMPTY_BEFORE (1), ETRNPOLL, KEEP=1.
# Needs root (real Postfix on loopback addresses).
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
LIB=$SRCDIR/tests/lib
POLLS=${POLLS:-10} MSGS=${MSGS:-20} QUIET=${QUIET:-10} SAMPLE_MS=${SAMPLE_MS:-200}
FIXED=${FIXED:-600} EMPTY_POLLS=${EMPTY_POLLS:-5} EMPTY_BEFORE=${EMPTY_BEFORE:-1}
R=127.0.0.100 S=127.0.0.101 DOM=bench.test
if [ "$(id -u)" != 0 ]; then
    echo "bench/hold.sh: needs root (starts a real Postfix on $R); not run" >&2
    exit 77
fi
if [ -z "${ETRNPOLL:-}" ]; then
    for c in "$SRCDIR/etrnpoll" "$SRCDIR"/build*/etrnpoll; do [ -x "$c" ] && ETRNPOLL=$c && break; done
fi
[ -x "${ETRNPOLL:-}" ] || { echo "bench/hold.sh: etrnpoll binary not found (set ETRNPOLL)" >&2; exit 1; }

T=$(mktemp -d /tmp/etp-bench-hold.XXXXXX)
chmod 755 "$T"
RD=$T/relay
cleanup() { "$LIB/relay.sh" stop "$RD" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
"$LIB/relay.sh" start "$RD" $R $S $DOM > "$T/relay-start.log" 2>&1 || {
    cat "$T/relay-start.log" >&2; echo "bench/hold.sh: relay did not start" >&2; exit 1; }

cat > "$T/bench.conf" <<C
ehlo-name = "gw.bench.test"
state-dir = "$T/state"
relay isp {
  host = "$R"
  ca-file = "$RD/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$RD/password"
  domains = { "$DOM" }
}
hold {
  local-address = "$S"
  quiet = $QUIET
  sample-ms = $SAMPLE_MS
  first-contact = 60
  max-hold = 900
}
C

jsonv() { python3 -c 'import json,sys; print(json.load(open(sys.argv[2]))[sys.argv[1]])' "$1" "$2"; }
newest_sink_ms() {
    local f newest=0 m
    for f in "$RD"/sink/*; do
        [ -e "$f" ] || continue
        m=$(stat -c %.3Y "$f"); m=${m/./}
        [ "$m" -gt "$newest" ] && newest=$m
    done
    echo "$newest"
}
# stats FILE: "median min max" of one number per line
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (!NR) { print "- - -"; exit }
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'; }
fmt() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%9.2f %9.2f %9.2f", a / 1000, b / 1000, c / 1000 }'; }

run_load() {
    local label=$1 desc_load=$2; shift 2
    "$LIB/relay.sh" sink-start "$RD" $S "$@" >/dev/null
    local d=$T/$label; mkdir -p "$d"
    local i n
    for i in $(seq 1 "$POLLS"); do
        rm -f "$RD"/sink/*
        "$LIB/relay.sh" inject "$RD" "$MSGS" $DOM >/dev/null 2>"$d/inject-$i.err" || true
        "$ETRNPOLL" -c "$T/bench.conf" poll 2> "$d/poll-$i.err" || true
        n=$("$LIB/relay.sh" delivered "$RD")
        local js=$T/state/hold.json
        local st en newest
        st=$(jsonv started_ms "$js"); en=$(jsonv ended_ms "$js"); newest=$(newest_sink_ms)
        echo $((newest - st)) >> "$d/delivery"
        echo $((en - st)) >> "$d/line"
        echo $((en - newest)) >> "$d/overshoot"
        jsonv overshoot_ms "$js" >> "$d/afterclose"
        echo $(( FIXED * 1000 - (newest - st) )) >> "$d/fixed-overshoot"
        printf '  poll %2d: %s, %d/%d delivered, delivery %6d ms, line %6d ms, overshoot %6d ms\n' \
            "$i" "$(jsonv end "$js")" "$n" "$MSGS" $((newest - st)) $((en - st)) $((en - newest)) >&2
    done
    echo
    echo "load: $MSGS messages per poll, sink: $desc_load; $POLLS polls; hold.quiet = $QUIET s, hold.sample-ms = $SAMPLE_MS"
    printf '  %-44s %9s %9s %9s\n' "seconds" median min max
    local k
    for k in delivery line overshoot afterclose; do
        local desc
        case $k in
            delivery) desc="delivery (hold start -> last message)" ;;
            line) desc="line held by etrnpoll (after ETRN)" ;;
            overshoot) desc="overshoot (last message -> release)" ;;
            afterclose) desc="  of which after the last close (etrnpoll)" ;;
        esac
        # shellcheck disable=SC2046
        printf '  %-44s %s\n' "$desc" "$(fmt $(stats "$d/$k"))"
    done
    # shellcheck disable=SC2046
    printf '  %-44s %9.2f\n' "fixed ${FIXED} s timer: line held" "$FIXED"
    # shellcheck disable=SC2046
    printf '  %-44s %s\n' "fixed ${FIXED} s timer: overshoot" "$(fmt $(stats "$d/fixed-overshoot"))"
}

echo "bench/hold.sh: etrnpoll $("$ETRNPOLL" --version 2>/dev/null | head -n1), Postfix $(postconf -dh mail_version 2>/dev/null), kernel $(uname -r)" >&2
run_load fast "smtp-sink"
run_load slow "smtp-sink -w 1 (1 s per DATA reply)" -w 1

# --- the empty poll -------------------------------------------------------------
# default first-contact (120 s), state learned from the polls above
sed -e '/first-contact/d' "$T/bench.conf" > "$T/empty.conf"
sed -e "s|state-dir = \"$T/state\"|state-dir = \"$T/state-fresh\"|" "$T/empty.conf" > "$T/fresh.conf"
empty_poll() {   # CONF STATEDIR OUT: one empty poll; "line_ms whole_ms end" to OUT
    local t0 t1
    rm -f "$RD"/sink/*
    t0=$(date +%s%3N)
    "$ETRNPOLL" -c "$1" poll 2>> "$T/empty.err" || true
    t1=$(date +%s%3N)
    echo "$(jsonv duration_ms "$2/hold.json") $((t1 - t0)) $(jsonv end "$2/hold.json")" >> "$3"
}
for i in $(seq 1 "$EMPTY_POLLS"); do empty_poll "$T/empty.conf" "$T/state" "$T/empty-after"; done
[ "$EMPTY_BEFORE" = 1 ] && empty_poll "$T/fresh.conf" "$T/state-fresh" "$T/empty-before"
echo
echo "empty poll (nothing queued, Postfix answers 250), default first-contact = 120 s"
printf '  %-44s %9s %9s %9s\n' "seconds" median min max
awk '{ print $1 }' "$T/empty-after" > "$T/empty-after.line"
awk '{ print $2 }' "$T/empty-after" > "$T/empty-after.whole"
# shellcheck disable=SC2046
printf '  %-44s %s   (%s)\n' "line held after ETRN, learned ($EMPTY_POLLS polls)" \
    "$(fmt $(stats "$T/empty-after.line"))" "$(awk '{ print $3 }' "$T/empty-after" | sort | uniq -c | xargs)"
# shellcheck disable=SC2046
printf '  %-44s %s\n' "  whole poll (etrnpoll start -> exit)" "$(fmt $(stats "$T/empty-after.whole"))"
if [ -s "$T/empty-before" ]; then
    read -r l w e < "$T/empty-before"
    printf '  %-44s %9.2f   (%s; whole poll %.2f s)\n' "nothing learned yet (as every empty poll before)" \
        "$(awk -v v="$l" 'BEGIN { print v / 1000 }')" "$e" "$(awk -v v="$w" 'BEGIN { print v / 1000 }')"
fi
