#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/slowline-daemon.sh — the daemon (`etrnpoll run`) on the simulated
# dial-up (v90: 56 kbit/s, base RTT 150 ms) and GSM line (9.6 kbit/s, base
# RTT 600 ms) of tests/lib/slowline.sh, with a REAL Postfix backup MX in the
# ISP's namespace delivering back over the line to smtp-sink on the gateway.
# bench/slowline.sh measures the hook-started path (`etrnpoll poll` started
# on an up line); this one starts the daemon while the line is DOWN and then
# dials, as pppd would (ppp0 appears; address, up, default route in one
# batch).  Prints figures; asserts nothing.
#
#   bash bench/slowline-daemon.sh [RUNS] [PROFILE...]   (default 3 runs, v90 gsm)
#
# Each case: start `etrnpoll -v run` (line down: "link not usable"), dial,
# and let it poll; the hold-done hook asks for the hang-up the way
# `etrnpoll-hangup --request` does (it writes a request file; this script,
# standing in for etrnpoll-hangup.path/.service, hangs the line up when it
# appears); then stop the daemon.  A fresh daemon per case, so every dial is
# its first link-up (a redial within a minute of a hang-up would be a flap,
# after which link.settle applies: measured once at the end).  Cases, per
# run and profile:
#   first    first poll (empty state dir: full TLS handshake, nothing
#            learned), nothing queued, hold disabled: to the ETRN reply
#   resumed  same with the TLS session of the previous poll
#   mission  20 held messages of 4 KB, default hold, TLS resumed
#   empty    nothing queued, default hold, after the mission (learned)
# Times are seconds after link-up (SL_T_UP: just before the ip batch that
# sets ppp0's address, up and default route):
#   usable   the daemon's "link ppp0 usable" log line
#   SYN      the poll's first TCP SYN came out of the line at the relay's end
#            (tests/lib/slowline.py, t_syn_out)
#   ETRN     the ETRN reply (the -v transcript; the first 25x after ETRN)
#   last     the last message complete at the sink (the file's mtime)
#   end      the hold's end (its log line "hold: ended"; without a hold,
#            "poll finished", which may come after the hang-up)
#   hang-up  ppp0 gone (the hook's request seen and the line hung up)
# and RTs / bytes on the line from link-up to hang-up, LB = 8 RTT + the
# session's bytes at the line rate (as bench/slowline.sh computes it); for
# the hold cases a floor instead: 8 RTT + the downlink's bytes (the line is
# full duplex, so the two ways' sum bounds nothing there).
# FLAP=0 skips the flap measurement; BENCH_MAX (s, default 400) bounds a case.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR ETRNPOLL=${ETRNPOLL:-$SRCDIR/build/etrnpoll}
. "$SRCDIR/tests/lib/common.sh"
RUNS=${1:-3}; shift || true
PROFILES=${*:-v90 gsm}
MAXCASE=${BENCH_MAX:-400}
need_root
need_binary
. "$LIB/netns.sh"
. "$LIB/slowline.sh"
. "$SRCDIR/bench/lib.sh"
spread() { sort -n | awk '{a[NR]=$1} END { if (!NR) print "-"; else if (NR == 1) print a[1]; else printf "%s-%s\n", a[1], a[NR] }'; }

mkconf() { # mkconf FILE STATE [hold lines]: tests/lib/conf.sh's etp_conf
    etp_conf "$1" 'ehlo-name = "gw.bench.test"' "state-dir = \"$2\"" \
        -s link 'interfaces = { "ppp*" }' \
        -s "relay isp" -r "$SL_ISP" "$RD/ca/ca.pem" etrn@relay.test "$RD/password" -d d1.test -- \
        -s hold "local-address = \"$SL_GW\"" "${3:-}" \
        -s hooks "hold-done = { \"$T/hangup-request.sh\" }" "post-poll = { \"$T/hangup-request.sh\" }" >/dev/null
}
REQ=$T/hangup.req
# the hold-done (or, without a hold, post-poll) hook: record, then ask for
# the hang-up (etrnpoll-hangup --request writes /run/etrnpoll/hangup)
mkhook() {
    # the request first (that is all etrnpoll-hangup --request does), then
    # what was delivered and what is still queued (taken as the line goes)
    printf '#!/bin/sh\n[ -e %q ] && exit 0\ndate +%%s.%%N > %q.tmp && mv %q.tmp %q\n{ echo DELIVERED=$(%q delivered %q); echo QUEUED=$(ip netns exec %q %q queued %q); } > %q.tmp && mv %q.tmp %q\n' \
        "$REQ" "$REQ" "$REQ" "$REQ" "$LIB/relay.sh" "$RD" "$SL_NS" "$LIB/relay.sh" "$RD" \
        "$REQ.info" "$REQ.info" "$REQ.info" > "$T/hangup-request.sh"
    chmod 755 "$T/hangup-request.sh"
}

# one_case CONF TAG -> one line of figures on stdout (details in $T/TAG.*)
one_case() {
    local conf=$1 tag=$2 c0 c1 dpid
    local log=$T/$tag.log
    rm -f "$REQ" "$REQ.info"
    : > "$log"
    "$ETRNPOLL" -c "$conf" -v run 2>&1 | "$PY" "$STAMP" 0 > "$log" &
    dpid=$!
    wait_for 10 grep -q 'link not usable' "$log" || { echo "daemon did not start:" >&2; cat "$log" >&2; return 1; }
    c0=$(counters)
    slowline_dial || return 1
    local tup=$SL_T_UP
    if ! wait_for "$MAXCASE" test -e "$REQ"; then
        echo "case $tag: no hang-up request within $MAXCASE s" >&2
    fi
    slowline_hangup
    local thang; thang=$(slowline_stat t_hangup)
    c1=$(counters)
    local syn; syn=$(slowline_stat t_syn_out)
    wait_for 10 test -e "$REQ.info"
    pkill_daemon "$dpid" "$log"
    # time stamps (absolute) from the daemon's log
    local tus tet
    tus=$(awk '/link ppp0 usable/ { print $1; exit }' "$log")
    tet=$(awk '/: > ETRN / { e=1 } e && /: < 25[0-3] / { print $1; exit }' "$log")
    local last="" dl q thold treq
    if [ "$tag" != "${tag#mission}" ]; then
        last=$(ls -t --time-style=+%s.%N -l "$RD/sink" 2>/dev/null | awk 'NR==2 { print $6 }')
    fi
    dl=$(sed -n 's/^DELIVERED=//p' "$REQ.info" 2>/dev/null); q=$(sed -n 's/^QUEUED=//p' "$REQ.info" 2>/dev/null)
    treq=$(cat "$REQ" 2>/dev/null)
    # the hold's end: its log line; without a hold, the poll's end
    thold=$(awk '/hold: ended after|poll finished: [0-9]+ of/ { print $1; exit }' "$log")
    cat "$REQ" "$REQ.info" > "$T/$tag.req" 2>/dev/null
    # was the poll process stopped by the hang-up (still running at link-down)?
    local killed=0
    grep -q 'poll stopped (link down)' "$log" && killed=1
    echo "$(fsub "$tus" "$tup") $(fsub "$syn" "$tup") $(fsub "$tet" "$tup") $(fsub "$last" "$tup")" \
         "$(fsub "$thold" "$tup") $(fsub "$thang" "$tup") $(delta "$c0" "$c1") ${dl:--} ${q:--}" \
         "$killed $(fsub "$treq" "$tup")"
}
# stop the daemon of this case (our own pid), wait for its log to end
pkill_daemon() {
    local pid=$1 log=$2 dp
    dp=$(awk '/daemon started \(pid/ { sub(/.*daemon started \(pid /, ""); sub(/,.*/, ""); print; exit }' "$log")
    [ -n "$dp" ] && kill -TERM "$dp" 2>/dev/null
    wait_for 10 grep -q 'daemon stopped' "$log"
    wait "$pid" 2>/dev/null
}

report() { # report FILE LABEL [floor]
    local f=$1 lab=$2 kind=${3:-lb} i v out=""
    for i in 1 2 3 4 5 6; do
        v=$(col $i < "$f" | grep -v '^-$' | median)
        out="$out $(printf '%8s' "$v")"
    done
    local d u sy tu lb
    d=$(col 7 < "$f" | median); u=$(col 8 < "$f" | median)
    sy=$(col 9 < "$f" | median); tu=$(col 10 < "$f" | median)
    if [ "$kind" = floor ]; then
        # full duplex: the downlink's bytes at the line rate + 8 RTT
        lb=$(slowline_lb "${d%.*}" 0 8)
    else
        lb=$(slowline_lb "${d%.*}" "${u%.*}" 8)
    fi
    printf '  %-22s%s %5s %7s %7s %7.3f%s\n' "$lab" "$out" "$((${sy%.*} + ${tu%.*}))" "$d" "$u" \
        "$(awk -v l="$lb" 'BEGIN { print l / 1000 }')" "$([ "$kind" = floor ] && echo ' (floor)')"
    printf '  %-22s   spread: usable %s, SYN %s, ETRN %s, end %s, hang-up %s; poll killed by the hang-up: %s of %s\n' "" \
        "$(col 1 < "$f" | spread)" "$(col 2 < "$f" | spread)" "$(col 3 < "$f" | spread)" \
        "$(col 5 < "$f" | spread)" "$(col 6 < "$f" | spread)" "$(col 13 < "$f" | awk '{s+=$1} END {print s+0}')" \
        "$(wc -l < "$f")"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime | sed 's/^ *//')"
for prof in $PROFILES; do
    slowline_start "$prof" || { echo "line $prof did not start"; exit 1; }
    RD=$T/relay-$prof
    export RD SL_NS
    slowline_relay_start "$RD" d1.test || { echo "relay or sink did not start"; exit 1; }
    slowline_hangup || { echo "hang-up failed"; exit 1; }
    mkhook

    mkconf "$T/nohold.conf" "$T/state-$prof" 'enabled = false'
    mkconf "$T/hold.conf" "$T/state-$prof"
    for c in first resumed mission empty; do : > "$T/$prof.$c"; done
    echo
    echo "== $prof: $SL_RATE bit/s, base RTT $((2 * SL_DELAY)) ms, queue $SL_QUEUE B; daemon, $RUNS runs, medians (s after link-up)"
    printf '  %-22s %8s %8s %8s %8s %8s %8s %5s %7s %7s %7s\n' case usable SYN ETRN last end hang-up RTs "down B" "up B" "LB s"
    for r in $(seq 1 "$RUNS"); do
        rm -rf "$T/state-$prof"
        one_case "$T/nohold.conf" "first-$prof-$r" >> "$T/$prof.first"
        one_case "$T/nohold.conf" "resumed-$prof-$r" >> "$T/$prof.resumed"
        ip netns exec "$SL_NS" env RELAY_MSG_SIZE=4000 "$LIB/relay.sh" inject "$RD" 20 d1.test >/dev/null 2>&1 ||
            { echo "inject failed"; break; }
        base=$("$LIB/relay.sh" delivered "$RD")
        one_case "$T/hold.conf" "mission-$prof-$r" > "$T/m.line"
        # column 11: delivered by this poll before the hang-up
        awk -v b="$base" '{ $11 = ($11 == "-") ? "-" : $11 - b; print }' "$T/m.line" >> "$T/$prof.mission"
        # what was not delivered goes at the next dial; nothing must be left
        # for the empty poll
        if [ "$(ip netns exec "$SL_NS" "$LIB/relay.sh" queued "$RD")" != 0 ]; then
            echo "  (run $r: mail left at the relay after the mission's hang-up)"
        fi
        one_case "$T/hold.conf" "empty-$prof-$r" >> "$T/$prof.empty"
    done
    report "$T/$prof.first" "first poll, no hold"
    report "$T/$prof.resumed" "resumed, no hold"
    report "$T/$prof.mission" "mission 20x4KB" floor
    printf '  %-22s   delivered before the hang-up (per run): %s of 20; still at the relay: %s\n' "" \
        "$(col 11 < "$T/$prof.mission" | tr '\n' ' ')" "$(col 12 < "$T/$prof.mission" | tr '\n' ' ')"
    report "$T/$prof.empty" "empty poll (learned)" floor
    if [ "${FLAP:-1}" = 1 ]; then
        # redial right after a hang-up: the daemon keeps running
        rm -f "$REQ" "$REQ.info"
        flog=$T/flap-$prof.log
        "$ETRNPOLL" -c "$T/nohold.conf" -v run 2>&1 | "$PY" "$STAMP" 0 > "$flog" &
        fpid=$!
        wait_for 10 grep -q 'link not usable' "$flog"
        slowline_dial; wait_for 60 test -e "$REQ"; slowline_hangup
        wait_for 10 test -e "$REQ.info"; rm -f "$REQ" "$REQ.info"
        sleep 1
        slowline_dial; t1=$SL_T_UP; wait_for 60 test -e "$REQ"; slowline_hangup
        wait_for 10 test -e "$REQ.info"
        pkill_daemon "$fpid" "$flog"
        printf '  redial 1 s after a hang-up, same daemon: %s\n' \
            "$(grep 'link ppp0 usable' "$flog" | tail -1 | sed 's/^ *[0-9.]* //; s/.*link ppp0/link ppp0/')"
        printf '    first SYN at the relay %s s after link-up\n' "$(fsub "$(slowline_stat t_syn_out)" "$t1")"
    fi
    slowline_relay_end "$RD"
done
echo
echo "usable: the daemon's verdict; SYN: at the relay's end of the line; end: the hold's end (no hold: the"
echo "poll's); RTs and bytes: link-up to hang-up, all connections (the mission: Postfix's deliveries too);"
echo "LB: 8 RTT + both ways' bytes at the line rate (bench/slowline.sh's); floor: 8 RTT + the downlink's bytes."
echo "# $(uptime | sed 's/^ *//')"
