# SPDX-License-Identifier: ISC
# slowline.sh — a simulated dial-up/GSM line for tests and benchmarks (bash).
# Needs common.sh and netns.sh loaded first, and a private network namespace
# (integration tests have one: tests/lib/isolate.sh).  The namespace the
# caller runs in is the GATEWAY; slowline_start makes a second one, the ISP.
#
#   slowline_start PROFILE     PROFILE: v90 (56 kbit/s, base RTT 150 ms) or
#                              gsm (9.6 kbit/s, base RTT 600 ms); SL_RATE /
#                              SL_UP_RATE (bit/s), SL_DELAY (one-way ms) and
#                              SL_QUEUE (bytes, 65536) override.  Creates:
#        ppp0  in the gateway, $SL_GW peer $SL_ISP, default route over it
#        isp0  in namespace $SL_NS, $SL_ISP peer $SL_GW, default route
#        the line between them: tests/lib/slowline.py (pid SL_PID)
#   slowline_stop              hang up: both devices disappear
#   slowline_hangup            hang up but keep the line for a redial: ppp0
#                              disappears (with its address and route), the
#                              ISP end (isp0, its address and route) stays;
#                              what was in flight is lost
#   slowline_dial              redial after slowline_hangup, as pppd does:
#                              ppp0 appears, then its address, up and the
#                              default route in one `ip -batch`; SL_T_UP is
#                              the wall time (date +%s.%N) just before that
#                              batch ran ("link-up")
#   slowline_stat KEY          a counter of the line (see slowline.py):
#                              up_bytes down_bytes syns turns up_drops ...
#                              and wall-clock times: t_dial t_hangup t_syn_in
#                              t_syn_out (first SYN after the last dial, at
#                              the relay's end) t_up_last t_down_last
#   slowline_relay_start RD DOMAIN...
#                              a real Postfix backup MX (tests/lib/relay.sh,
#                              directory RD) in the ISP namespace, holding
#                              mail for DOMAIN... and delivering over the
#                              line to smtp-sink on the gateway ($SL_GW:25);
#                              stopped on exit.  1: the relay did not start,
#                              2: the sink did not (the log is printed)
#   slowline_relay_end RD      stop the relay, the sink and the line, and
#                              remove the ISP namespace (for the next profile)
#   slowline_lb NBYTES_DOWN NBYTES_UP RTTS
#                              lower bound in ms for a dialogue of RTTS round
#                              trips carrying those bytes over this line
# Addresses are TEST-NET-1 (RFC 5737) inside the test's own namespaces only.

SL_GW=192.0.2.1
SL_ISP=192.0.2.2

slowline_start() {
    local prof=$1 rate delay
    case $prof in
        v90) rate=56000 delay=75 ;;
        gsm) rate=9600 delay=300 ;;
        *) echo "slowline_start: unknown profile '$prof' (v90, gsm)" >&2; return 1 ;;
    esac
    SL_PROFILE=$prof
    # the caller's overrides (environment at the first start) win; otherwise
    # each start takes its profile's figures, also after another profile
    : "${SL_USER_RATE=${SL_RATE:-}}" "${SL_USER_UP_RATE=${SL_UP_RATE:-}}" "${SL_USER_DELAY=${SL_DELAY:-}}"
    SL_RATE=${SL_USER_RATE:-$rate}
    SL_UP_RATE=${SL_USER_UP_RATE:-$SL_RATE}
    SL_DELAY=${SL_USER_DELAY:-$delay}
    SL_QUEUE=${SL_QUEUE:-65536}
    ns_new SL_NS isp || return 1
    SL_STATS=$T/slowline-$prof.stats
    local ready=$T/slowline.ready
    rm -f "$ready"
    "$PY" "$LIB/slowline.py" --near ppp0 --far isp0 --rate "$SL_RATE" --up-rate "$SL_UP_RATE" \
        --delay "$SL_DELAY" --queue "$SL_QUEUE" --ready "$ready" --stats "$SL_STATS" ${SL_TRACE:+--trace "$SL_TRACE"} \
        </dev/null >"$T/slowline.log" 2>&1 &
    SL_PID=$!
    on_exit "slowline_stop"
    wait_for 10 test -e "$ready" || { echo "slowline did not start:"; cat "$T/slowline.log"; return 1; }
    ip link set isp0 netns "$SL_NS" || return 1
    _slowline_ppp_up || return 1
    ip -n "$SL_NS" addr add "$SL_ISP" peer "$SL_GW/32" dev isp0 &&
        ip -n "$SL_NS" link set isp0 up &&
        ip -n "$SL_NS" route add default dev isp0 || return 1
}

slowline_relay_start() {
    local rd=$1; shift
    on_exit "ip netns exec $SL_NS $LIB/relay.sh stop $rd"
    ip netns exec "$SL_NS" env RELAY_SINK=external "$LIB/relay.sh" start "$rd" "$SL_ISP" "$SL_GW" "$@" \
        > "$T/relay-start.log" 2>&1 || { cat "$T/relay-start.log"; return 1; }
    "$LIB/relay.sh" sink-start "$rd" "$SL_GW" > "$T/sink.log" 2>&1 || { cat "$T/sink.log"; return 2; }
}

slowline_relay_end() {
    ip netns exec "$SL_NS" "$LIB/relay.sh" stop "$1" >/dev/null 2>&1
    "$LIB/relay.sh" sink-stop "$1" >/dev/null 2>&1
    slowline_stop
    ip netns del "$SL_NS" 2>/dev/null
}

slowline_stop() {
    [ -n "${SL_PID:-}" ] || return 0
    kill "$SL_PID" 2>/dev/null
    wait "$SL_PID" 2>/dev/null || true
    SL_PID=
}

# pppd's part once IPCP is done: address, up, default route (one batch, so a
# watcher sees them within a millisecond, in this order)
_slowline_ppp_up() {
    printf 'addr add %s peer %s/32 dev ppp0\nlink set ppp0 up\nroute add default dev ppp0\n' \
        "$SL_GW" "$SL_ISP" > "$T/slowline.batch"
    SL_T_UP=$(date +%s.%N)
    ip -batch "$T/slowline.batch"
}

slowline_hangup() {
    [ -n "${SL_PID:-}" ] || return 1
    kill -HUP "$SL_PID" || return 1
    wait_for 5 bash -c '! ip link show ppp0 >/dev/null 2>&1'
}

slowline_dial() {
    [ -n "${SL_PID:-}" ] || return 1
    kill -USR2 "$SL_PID" || return 1
    wait_for 5 ip link show ppp0 >/dev/null 2>&1 || { echo "slowline_dial: no ppp0"; return 1; }
    _slowline_ppp_up
}

slowline_stat() {
    if [ -n "${SL_PID:-}" ]; then
        local before
        before=$(stat -c %Y.%N "$SL_STATS" 2>/dev/null)
        kill -USR1 "$SL_PID" 2>/dev/null
        wait_for 2 bash -c '[ "$(stat -c %Y.%N "$1" 2>/dev/null)" != "$2" ]' _ "$SL_STATS" "$before" || true
    fi
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$SL_STATS" "$1"
}

slowline_lb() {
    awk -v d="$1" -v u="$2" -v r="$3" -v rate="$SL_RATE" -v urate="$SL_UP_RATE" -v delay="$SL_DELAY" \
        'BEGIN { printf "%d\n", r * 2 * delay + d * 8000 / rate + u * 8000 / urate }'
}
