#!/bin/bash
# SPDX-License-Identifier: ISC
# harden-valgrind.sh — `etrnpoll poll` (and check, status, a config error)
# under valgrind --leak-check=full --error-exitcode=1: no invalid access, no
# uninitialised use, no leak, on the main path and its error paths:
#   against the scripted fake (127.0.0.86): STARTTLS+AUTH PLAIN and LOGIN with
#   3 ETRNs, a per-session ETRN limit (reconnects, TLS resumption), implicit
#   TLS, a failed AUTH, a malformed reply, a stalled relay (time-out), hooks,
#   the hold (sock_diag) until first-contact;
#   against the real Postfix backup MX (tests/lib/relay.sh on 127.0.0.82,
#   sink 127.0.0.83): a poll that delivers held mail.
# In an ASan build (make check in a --enable-sanitizers tree) valgrind cannot
# run the binary; the same runs are made under LeakSanitizer instead
# (ASAN_OPTIONS=detect_leaks=1) and must end without a sanitizer report.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
FAKE_ADDR=127.0.0.86
R=127.0.0.82 S=127.0.0.83
"$LIB/mkca.sh" "$T/ca" $FAKE_ADDR >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"
printf 'wrong-secret' > "$T/badpw"; chmod 600 "$T/badpw"

if ldd "$ETRNPOLL" 2>/dev/null | grep -q 'libasan'; then
    MODE=asan
    echo "note: $ETRNPOLL is an ASan build: valgrind cannot run it; using LeakSanitizer for the same runs"
    # vg: run under LSan; exit 1 if a sanitizer reported anything (like valgrind's --error-exitcode=1)
    vg() {
        local log=$1; shift
        local rc=0
        ASAN_OPTIONS=detect_leaks=1:exitcode=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "$@" 2> "$log" || rc=$?
        grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" && return 1
        return $rc
    }
else
    MODE=valgrind
    if ! command -v valgrind >/dev/null; then
        bad "valgrind is not installed (Debian: apt-get install valgrind; tests/install-deps.sh does)"
        finish
    fi
    vg() {
        local log=$1; shift
        valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
            --track-origins=yes --trace-children=no --num-callers=30 "$@" 2> "$log"
    }
fi

# conf NAME [relay lines...] [-- top-level lines]
conf() {
    local name=$1; shift
    local rl=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do rl+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        'timeouts { connect = 10 greeting = 20 command = 20 etrn = 20 tls = 20 quit = 5 }' "$@" \
        -s "relay fake" -F "$FAKE_ADDR" "${rl[@]}"
}
# run NAME WANT DESC command...: under valgrind/LSan; exit 1 = memory errors
run() {
    local name=$1 want=$2 d=$3; shift 3
    local rc=0
    vg "$T/$name.vg" "$@" > "$T/$name.out" || rc=$?
    if [ "$rc" = "$want" ]; then
        ok "$d: $MODE clean (exit $rc)"
    else
        bad "$d: exit $rc, want $want$([ $rc = 1 ] && echo " ($MODE found errors)")"
        grep -E '==[0-9]+== (Invalid|Conditional|Use of|Syscall|[0-9,]+ bytes in)|ERROR: |runtime error|SUMMARY' "$T/$name.vg" | head -8
        grep -vE '^==|^ *#' "$T/$name.vg" | tail -3
    fi
}

# --- 1. against the fake --------------------------------------------------------------
fake_start main normal --auth-mechs "PLAIN LOGIN"
H=$T/hook; printf '#!/bin/sh\necho hook "$ETRNPOLL_HOOK" ran\n' > "$H"; chmod 755 "$H"
for m in PLAIN LOGIN; do
    C=$(conf main-$m "auth-mechanisms = { \"$m\" }" 'domains = { "a.test", "b.test", "c.test" }' -- \
        "hooks { pre-poll = { \"$H\" } post-poll = { \"$H\" } }")
    run main-$m 0 "poll, STARTTLS + AUTH $m + 3 ETRNs + hooks" "$ETRNPOLL" -c "$C" -v poll --no-hold
done
check "the hooks ran (under $MODE)" has "$T/main-PLAIN.vg" 'hook post-poll ran'
# the hold (sock_diag netlink) until first-contact: nobody connects back to port 2599
C=$(conf hold 'domains = { "a.test" }' -- "hold { port = 2599 local-address = \"127.0.0.86\" first-contact = 2 quiet = 1 sample-ms = 100 }")
run hold 0 "poll with the hold (sock_diag), ended by first-contact" "$ETRNPOLL" -c "$C" poll
check "hold: ended by no-contact" has "$T/hold.vg" 'no-contact'
run status 0 "status" "$ETRNPOLL" -c "$T/main-PLAIN.conf" status
run status-json 0 "status --json" "$ETRNPOLL" -c "$T/main-PLAIN.conf" status --json
run check 0 "check" "$ETRNPOLL" -c "$T/main-PLAIN.conf" check
run check-connect 0 "check --connect" "$ETRNPOLL" -c "$T/main-PLAIN.conf" check --connect
C=$(conf badpw 'domains = { "a.test" }')
sed -i "s|$T/pw\"|$T/badpw\"|" "$C"
run badpw 77 "poll with a wrong password (535)" "$ETRNPOLL" -c "$C" poll --no-hold
printf 'relay x { host = "h" tls = maybe domains = { "a..b" } }\nbogus = 1\n' > "$T/broken.conf"
run broken 78 "configuration errors" "$ETRNPOLL" -c "$T/broken.conf" poll
fake_stop

fake_start lim etrn-limit:1
C=$(conf lim 'domains = { "a.test", "b.test", "c.test" }')
run lim 0 "per-session ETRN limit: 3 sessions, TLS resumption" "$ETRNPOLL" -c "$C" poll --no-hold
check "limit: 3 sessions" [ "$(json relays.0.sessions "$T/state-lim/last-poll.json")" = 3 ]
check "limit: a session was resumed" [ "$(json relays.0.tls_resumed "$T/state-lim/last-poll.json")" = true ]
fake_stop

fake_start imp normal --implicit-tls
C=$(conf imp 'tls = implicit' 'domains = { "a.test" }')
run imp 0 "implicit TLS" "$ETRNPOLL" -c "$C" poll --no-hold
fake_stop

fake_start bad bad-code:mixed-codes --where etrn
C=$(conf bad 'domains = { "a.test", "b.test" }')
run bad 75 "malformed ETRN reply (protocol error, reconnect)" "$ETRNPOLL" -c "$C" poll --no-hold
fake_stop

fake_start stall stall-etrn
C=$(conf stall 'domains = { "a.test" }')
sed -i 's/etrn = 20/etrn = 3/' "$C"
run stall 75 "stalled ETRN reply (time-out)" "$ETRNPOLL" -c "$C" poll --no-hold
fake_stop

# --- 2. against the real Postfix ---------------------------------------------------------
RD=$T/relay
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S example.test > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"
    bad "real Postfix relay starts on $R"
else
    "$LIB/relay.sh" inject "$RD" 3 example.test >/dev/null
    cat > "$T/postfix.conf" <<C
ehlo-name = "gw.example.test"
state-dir = "$T/state-postfix"
timeouts { greeting = 30 command = 30 etrn = 30 tls = 30 }
relay isp {
  host = "$R"
  ca-file = "$RD/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$RD/password"
  domains = { "example.test" }
}
C
    for m in CRAM-MD5 PLAIN; do
        sed "s/domains = /auth-mechanisms = { \"$m\" }\n  domains = /" "$T/postfix.conf" > "$T/postfix-$m.conf"
        run postfix-$m 0 "poll against the real Postfix, AUTH $m" "$ETRNPOLL" -c "$T/postfix-$m.conf" poll --no-hold
    done
    check "the 3 held messages were delivered" "$LIB/relay.sh" wait-delivered "$RD" 3 60
fi
finish
