#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/slowline.sh — etrnpoll on a simulated dial-up (v90: 56 kbit/s, base
# RTT 150 ms) and GSM line (9.6 kbit/s, base RTT 600 ms), 64 KB modem buffer
# (tests/lib/slowline.sh; the kernel here has no netem).  A REAL Postfix backup
# MX sits in the ISP's namespace and delivers back OVER THE SAME LINE to
# smtp-sink on the gateway.  Prints figures; asserts nothing.
#
#   bash bench/slowline.sh [RUNS] [PROFILE...]     (default 5 runs, v90 gsm)
#
# Per profile, medians over RUNS:
#   1. one poll, 1 and 10 domains, --no-hold: etrnpoll (first poll = full TLS
#      handshake; later polls resume) beside `msmtp --rmqs` (one process per
#      domain): seconds to the (last) ETRN reply, seconds to exit, round trips
#      (TCP handshakes + request/response turns seen on the line), bytes each
#      way, the lower bound LB = 8 RTT (TCP, greeting, EHLO, STARTTLS, TLS 1.3,
#      EHLO, AUTH PLAIN with initial response, ETRN) + one more RTT per extra
#      domain + the dialogue's bytes at the line rate, and etrnpoll / LB;
#   2. the mission: 20 held messages of 4 KB, `etrnpoll poll` with the default
#      hold, the hold-done hook hangs up: ETRN accepted, last message at the
#      sink, hold end, and how many messages were still at the relay when the
#      line was released;
#   3. an empty poll right after it: line time from ETRN to the hold's end.
# With 10 domains also etrnpoll with etrn-pipelining = yes (the 10 ETRNs in
# one write: LB counts one ETRN round trip).  MISSION=0 skips 2 and 3;
# POLLS=0 skips 1 (e.g. `POLLS=0 bash bench/slowline.sh 5 gsm`: the mission
# five times).
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR ETRNPOLL=${ETRNPOLL:-$SRCDIR/build/etrnpoll}
# the line, relay and sink live in namespaces of this benchmark's own
# (common.sh re-executes this script in a private network namespace)
. "$SRCDIR/tests/lib/common.sh"
RUNS=${1:-5}; shift || true
PROFILES=${*:-v90 gsm}
command -v msmtp >/dev/null || { echo "bench/slowline.sh: msmtp not installed (tests/install-deps.sh)"; exit 1; }
need_root
need_binary
. "$LIB/netns.sh"
. "$LIB/slowline.sh"
. "$SRCDIR/bench/lib.sh"

mkconf() { # mkconf FILE NDOMAINS [hold lines] [relay lines]
    local list="" i
    for i in $(seq 1 "$2"); do list="$list${list:+, }\"d$i.test\""; done
    cat > "$1" <<C
ehlo-name = "gw.bench.test"
state-dir = "$T/state-$(basename "$1" .conf)"
relay isp {
  host = "$SL_ISP"
  ca-file = "$RD/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$RD/password"
  domains = { $list }
  ${4:-}
}
hold {
  local-address = "$SL_GW"
  ${3:-}
}
hooks { hold-done = { "$T/hangup.sh" } }
C
}
# ETRN reply time: the stamped -v transcript's last "250" after the last ETRN
# (first: the first reply only — a hold's confirming ETRN comes later)
etrn_reply_s() { awk -v first="${2:-}" '/: > ETRN / { e=1 } e && /: < 25[0-3] / && !(first && t) { t=$1 } END { print (t ? t : "-") }' "$1"; }

run_etrnpoll() { # run_etrnpoll CONF -> "etrn_s exit_s down up syns turns"
    local c0 c1 t0 t1 out=$T/ep.out
    c0=$(counters); t0=$(now)
    "$ETRNPOLL" -c "$1" -v poll --no-hold 2>&1 | "$PY" "$STAMP" "$t0" > "$out"
    t1=$(now); c1=$(counters)
    echo "$(etrn_reply_s "$out") $(fsub "$t1" "$t0") $(delta "$c0" "$c1")"
}
run_msmtp() { # run_msmtp NDOMAINS -> "etrn_s exit_s down up syns turns"
    local c0 c1 t0 t1 i
    c0=$(counters); t0=$(now)
    for i in $(seq 1 "$1"); do
        msmtp --host="$SL_ISP" --port=25 --tls=on --tls-starttls=on --tls-trust-file="$RD/ca/ca.pem" \
            --auth=on --user=etrn@relay.test --passwordeval="cat $RD/password" \
            --domain=gw.bench.test --rmqs="d$i.test" >/dev/null 2>&1
    done
    t1=$(now); c1=$(counters)
    local s; s=$(fsub "$t1" "$t0")
    echo "$s $s $(delta "$c0" "$c1")"
}
report_case() { # report_case LABEL FILE NDOMAINS [ETRN_RTTS (default NDOMAINS)]
    local f=$2 n=$3 er=${4:-$3} e x d u sy tu lb
    e=$(col 1 < "$f" | median); x=$(col 2 < "$f" | median)
    d=$(col 3 < "$f" | median); u=$(col 4 < "$f" | median)
    sy=$(col 5 < "$f" | median); tu=$(col 6 < "$f" | median)
    lb=$(slowline_lb "${d%.*}" "${u%.*}" $((7 + er)))
    printf '  %-34s %8s %8s %6s %8s %8s %8.3f %7s\n' "$1" "$e" "$x" "$((${sy%.*} + ${tu%.*}))" "$d" "$u" \
        "$(awk -v l="$lb" 'BEGIN { print l / 1000 }')" \
        "$( [ "$e" = - ] && echo - || awk -v e="$e" -v l="$lb" 'BEGIN { printf "%.2f", e * 1000 / l }')"
}

for prof in $PROFILES; do
    slowline_start "$prof" || { echo "line $prof did not start"; exit 1; }
    RD=$T/relay-$prof
    doms=(); for i in $(seq 1 10); do doms+=("d$i.test"); done
    slowline_relay_start "$RD" "${doms[@]}" || { echo "relay or sink did not start"; exit 1; }
    printf '#!/bin/sh\n{ echo DELIVERED=$(%q delivered %q); echo QUEUED=$(ip netns exec %q %q queued %q); date +%%s.%%N; } > %q\n' \
        "$LIB/relay.sh" "$RD" "$SL_NS" "$LIB/relay.sh" "$RD" "$T/hangup.out" > "$T/hangup.sh"
    chmod 755 "$T/hangup.sh"

    echo
    echo "== $prof: $SL_RATE bit/s, base RTT $((2 * SL_DELAY)) ms, queue $SL_QUEUE B; $RUNS runs, medians"
    printf '  %-34s %8s %8s %6s %8s %8s %8s %7s\n' case "ETRN s" "exit s" RTs "down B" "up B" "LB s" "÷ LB"
    for n in 1 10; do
        [ "${POLLS:-1}" != 0 ] || break
        mkconf "$T/p$n.conf" $n
        : > "$T/first$n"; : > "$T/res$n"; : > "$T/ms$n"
        for r in $(seq 1 "$RUNS"); do
            rm -rf "$T/state-p$n"                          # no TLS session: a full handshake
            run_etrnpoll "$T/p$n.conf" >> "$T/first$n"
            run_etrnpoll "$T/p$n.conf" >> "$T/res$n"        # resumed (if the cache works)
            run_msmtp $n >> "$T/ms$n"
        done
        report_case "etrnpoll, first poll, $n dom." "$T/first$n" $n
        report_case "etrnpoll, resumed, $n dom." "$T/res$n" $n
        report_case "msmtp --rmqs x$n" "$T/ms$n" $n
        [ "$n" -gt 1 ] || continue
        mkconf "$T/pp$n.conf" $n "" "etrn-pipelining = yes"
        : > "$T/pfirst$n"; : > "$T/pres$n"
        for r in $(seq 1 "$RUNS"); do
            rm -rf "$T/state-pp$n"
            run_etrnpoll "$T/pp$n.conf" >> "$T/pfirst$n"
            run_etrnpoll "$T/pp$n.conf" >> "$T/pres$n"
        done
        report_case "pipelined, first poll, $n dom." "$T/pfirst$n" $n 1
        report_case "pipelined, resumed, $n dom." "$T/pres$n" $n 1
    done
    if [ "${MISSION:-1}" = 0 ]; then
        slowline_relay_end "$RD"
        continue
    fi

    # the mission: 20 held messages, the default hold, hang-up at hold-done
    mkconf "$T/m.conf" 1
    : > "$T/mission"; : > "$T/empty"
    for r in $(seq 1 "$RUNS"); do
        ip netns exec "$SL_NS" env RELAY_MSG_SIZE=4000 "$LIB/relay.sh" inject "$RD" 20 d1.test >/dev/null 2>&1 ||
            { echo "inject failed"; break; }
        base=$("$LIB/relay.sh" delivered "$RD")
        rm -f "$T/hangup.out"
        t0=$(now)
        "$ETRNPOLL" -c "$T/m.conf" -v poll 2>&1 | "$PY" "$STAMP" "$t0" > "$T/mission.out"
        t1=$(now)
        cp "$T/mission.out" "$T/mission-$r.out"                 # KEEP=1 keeps them
        et=$(etrn_reply_s "$T/mission.out" first)
        last=$(ls -t --time-style=+%s.%N -l "$RD/sink" 2>/dev/null | awk 'NR==2 { print $6 }')
        dl=$(sed -n 's/^DELIVERED=//p' "$T/hangup.out" 2>/dev/null); q=$(sed -n 's/^QUEUED=//p' "$T/hangup.out" 2>/dev/null)
        he=$(tail -1 "$T/hangup.out" 2>/dev/null)
        echo "$et $(fsub "${last:-$t0}" "$t0") $(fsub "${he:-$t1}" "$t0") $(( ${dl:-0} - base )) ${q:--}" >> "$T/mission"
        ip netns exec "$SL_NS" "$LIB/relay.sh" wait-delivered "$RD" $((base + 20)) 300 >/dev/null 2>&1
        # an empty poll right after: nothing is queued
        t0=$(now)
        "$ETRNPOLL" -c "$T/m.conf" -v poll 2>&1 | "$PY" "$STAMP" "$t0" > "$T/empty.out"
        t1=$(now)
        et=$(etrn_reply_s "$T/empty.out" first)
        he=$(tail -1 "$T/hangup.out" 2>/dev/null)
        echo "$(fsub "${he:-$t1}" "$t0") $(awk -v a="$(fsub "${he:-$t1}" "$t0")" -v b="$et" 'BEGIN { printf "%.3f", a - b }')" >> "$T/empty"
    done
    printf '  mission, 20 x 4 KB, default hold: ETRN accepted %ss, last message at the sink %ss, hang-up %ss;\n' \
        "$(col 1 < "$T/mission" | median)" "$(col 2 < "$T/mission" | median)" "$(col 3 < "$T/mission" | median)"
    printf '    delivered before the hang-up (per run): %s of 20; still at the relay: %s\n' \
        "$(col 4 < "$T/mission" | tr '\n' ' ')" "$(col 5 < "$T/mission" | tr '\n' ' ')"
    printf '  empty poll: hang-up %ss after start, line held %ss after the ETRN reply\n' \
        "$(col 1 < "$T/empty" | median)" "$(col 2 < "$T/empty" | median)"
    slowline_relay_end "$RD"
done
echo
echo "RTs: TCP handshakes + request/response turns counted on the line; LB: see the header of this script."
