#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/slowline-ddns.sh — a poll WITH a dynamic DNS update on the simulated
# dial-up (v90) and GSM line (tests/lib/slowline.sh): a REAL PowerDNS
# (HTTP API, wait-server) and a REAL Postfix backup MX both sit in the ISP's
# namespace, across the line.  Every run publishes a new address (PATCH),
# waits until PowerDNS serves it, and sends ETRN for one domain (TLS resumed
# after the first run).  Prints figures; asserts nothing.
#
#   OLD=/path/to/older/etrnpoll bash bench/slowline-ddns.sh [RUNS] [PROFILE...]
#
# Per profile and binary (this build, and OLD when given), medians of RUNS:
# seconds from the start to the PATCH's answer ("updated"), to "serves"
# (wait-server saw the new address), to the ETRN reply, and to exit.  An
# older build opens the SMTP session only after the DDNS wait; this one opens
# it while the update runs, so the ETRN reply follows "serves" by one round
# trip.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR ETRNPOLL=${ETRNPOLL:-$SRCDIR/build/etrnpoll}
. "$SRCDIR/tests/lib/common.sh"
RUNS=${1:-5}; shift || true
PROFILES=${*:-v90 gsm}
need_root
need_binary
. "$LIB/netns.sh"
. "$LIB/slowline.sh"
. "$SRCDIR/bench/lib.sh"
OLD=${OLD:-}
first_ts() { awk -v re="$2" '$0 ~ re { print $1; exit }' "$1"; }
ZONE=bench.test DNS_PORT=5300 API_PORT=8081

mkconf() { # mkconf FILE
    cat > "$1" <<C
ehlo-name = "gw.$ZONE"
state-dir = "$T/state-$(basename "$1" .conf)"
relay isp {
  host = "$SL_ISP"
  ca-file = "$RD/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$RD/password"
  domains = { "d1.$ZONE" }
}
ddns gw {
  protocol = "powerdns"
  server = "http://$SL_ISP:$API_PORT"
  zone = "$ZONE"
  hostname = "gw.$ZONE"
  password-file = "$PD/api-key"
  wait-server = "$SL_ISP:$DNS_PORT"
  on-private-address = "warn"
}
C
}

run_one() { # run_one BINARY CONF ADDR -> "updated served etrn exit"
    local t0 t1 out=$T/run.out
    t0=$(now)
    "$1" -c "$2" -v poll --no-hold -a "$3" 2>&1 | "$PY" "$STAMP" "$t0" > "$out"
    t1=$(now)
    local up sv et
    up=$(first_ts "$out" 'ddns gw: .*(updated|HTTP 20)')
    sv=$(first_ts "$out" 'serves gw')
    et=$(awk '/: > ETRN / { e=1 } e && /: < 25[0-3] / { print $1; exit }' "$out")
    echo "${up:--} ${sv:--} ${et:--} $(fsub "$t1" "$t0")"
}

for prof in $PROFILES; do
    slowline_start "$prof" || { echo "line $prof did not start"; exit 1; }
    RD=$T/relay-$prof PD=$T/pdns-$prof
    ip netns exec "$SL_NS" env PDNS_ALLOW_FROM=192.0.2.0/24 sh "$LIB/pdns.sh" start "$PD" "$SL_ISP" $DNS_PORT $API_PORT $ZONE > "$T/pdns.log" 2>&1 ||
        { cat "$T/pdns.log"; exit 1; }
    on_exit "ip netns exec $SL_NS sh $LIB/pdns.sh stop $PD"
    slowline_relay_start "$RD" "d1.$ZONE" || { echo "relay or sink did not start"; exit 1; }
    echo
    echo "== $prof: $SL_RATE bit/s, base RTT $((2 * SL_DELAY)) ms; $RUNS runs, medians (s from the start)"
    printf '  %-28s %9s %9s %9s %9s %14s\n' binary "updated" "served" "ETRN rep" "exit" "ETRN - served"
    n=10
    for b in new ${OLD:+old}; do
        bin=$ETRNPOLL; [ $b = old ] && bin=$OLD
        mkconf "$T/$b.conf"
        : > "$T/res-$b"
        run_one "$bin" "$T/$b.conf" 198.51.100.9 > /dev/null    # TLS session cached, state made
        for r in $(seq 1 "$RUNS"); do
            n=$((n + 1))
            run_one "$bin" "$T/$b.conf" "198.51.100.$n" >> "$T/res-$b"
        done
        printf '  %-28s %9s %9s %9s %9s %14s\n' "$( [ $b = new ] && echo "this build" || echo "OLD ($(basename "$(dirname "$OLD")"))")" \
            "$(col 1 < "$T/res-$b" | median)" "$(col 2 < "$T/res-$b" | median)" \
            "$(col 3 < "$T/res-$b" | median)" "$(col 4 < "$T/res-$b" | median)" \
            "$(awk '$2 != "-" && $3 != "-" { print $3 - $2 }' "$T/res-$b" | median)"
    done
    ip netns exec "$SL_NS" sh "$LIB/pdns.sh" stop "$PD" >/dev/null 2>&1
    slowline_relay_end "$RD"
done
