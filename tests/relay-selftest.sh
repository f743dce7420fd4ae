#!/bin/bash
# SPDX-License-Identifier: ISC
# relay-selftest.sh -- check tests/lib/relay.sh against a real Postfix:
# held mail, ETRN release after STARTTLS+AUTH, the refusals etrnpoll's tests
# rely on (ETRN before AUTH, ETRN for a non-fast-flush domain, AUTH in clear
# on port 25), implicit TLS on 465, no STARTTLS on 2525, two instances at
# once, and recovery from a killed earlier run.
#
# Exit: 0 pass, 1 fail, 77 skip (not root).
# Environment: RELAY_ADDR/SINK_ADDR (default 127.0.0.2/127.0.0.3) and
# RELAY2_ADDR/SINK2_ADDR (default 127.0.0.12/127.0.0.13, second instance).
set -u
export LC_ALL=C

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: relay-selftest needs root (Postfix master, port 25 on loopback)"
    exit 77
fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/isolate.sh"
RELAY=$HERE/lib/relay.sh
PY=/usr/bin/python3
A=${RELAY_ADDR:-127.0.0.2}
S=${SINK_ADDR:-127.0.0.3}
A2=${RELAY2_ADDR:-127.0.0.12}
S2=${SINK2_ADDR:-127.0.0.13}

T=$(mktemp -d /tmp/relay-selftest.XXXXXX)
D=$T/relay
sleeper=
cleanup() {
    for d in "$D" "$T/r2" "$T/r3"; do "$RELAY" stop "$d" 2>/dev/null; done
    [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
n=0
ok()   { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); echo "FAIL $n - $*"; fails=$((fails + 1)); }
# check DESCRIPTION CMD...: ok if CMD succeeds
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
eq() { [ "$1" = "$2" ] || { echo "   expected '$2', got '$1'" >&2; return 1; }; }
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
# pids of the processes relay.sh started for instance DIR (marked in environ)
instance_pids() {
    grep -lzxF "RELAY_SH_INSTANCE=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
}
# the listening TCP sockets (ADDR:PORT, sorted) of instance DIR
listeners() {
    local pids; pids=" $(instance_pids "$1" | tr '\n' ' ') "
    ss -Hltnp | while read -r _ _ _ local _ users; do
        for p in $(echo "$users" | grep -o 'pid=[0-9]*' | cut -d= -f2); do
            case $pids in *" $p "*) echo "$local"; break ;; esac
        done
    done | sort -u
}
# wait up to 10 s for a line matching the fixed string STR in the Postfix log
log_has() {
    local i
    for i in $(seq 100); do
        "$RELAY" log "$D" | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}

[ -x "$PY" ] || { echo "FAIL: $PY missing (run tests/install-deps.sh)"; exit 1; }

# The SMTP client side, Python stdlib only.  Prints "ok|FAIL <what> -- <reply>"
# lines; exits 1 if anything failed.
#   client.py main RELAY CA USER PASS    all protocol checks on 25/465/2525
#   client.py etrn RELAY CA USER PASS DOMAIN
cat > "$T/client.py" <<'PYEOF'
import smtplib, socket, ssl, sys

mode, relay, ca, user, pw = sys.argv[1:6]
fails = 0

def txt(r):
    return "%d %s" % (r[0], r[1].decode(errors="replace").replace("\n", " | "))

def check(cond, what, got):
    global fails
    print(("ok   " if cond else "FAIL ") + what + " -- " + got)
    if not cond:
        fails += 1

def ctx():
    # verifies the chain against the test CA and the name (IP SAN) of relay
    return ssl.create_default_context(cafile=ca)

def connect(cls, port, **kw):
    s = cls(timeout=15, **kw)
    s._host = relay                     # hostname to verify on STARTTLS
    return s, s.connect(relay, port)

def etrn_session(domain):
    s, r = connect(smtplib.SMTP, 25)
    s.ehlo("client.test")
    s.starttls(context=ctx())
    s.ehlo("client.test")
    s.user, s.password = user, pw
    s.auth("PLAIN", s.auth_plain)
    r = s.docmd("ETRN", domain)
    s.quit()
    return r

if mode == "etrn":
    r = etrn_session(sys.argv[6])
    check(r[0] == 250, "ETRN %s after STARTTLS+AUTH" % sys.argv[6], txt(r))
    sys.exit(1 if fails else 0)

# ---- port 25: STARTTLS, AUTH only after TLS, ETRN only after AUTH
s, r = connect(smtplib.SMTP, 25)
check(r[0] == 220, "25: greeting", txt(r))
r = s.ehlo("client.test")
check(r[0] == 250 and s.has_extn("starttls") and s.has_extn("etrn")
      and not s.has_extn("auth"),
      "25: EHLO offers STARTTLS and ETRN, no AUTH before TLS", txt(r))
r = s.docmd("ETRN", "example.test")
check(r[0] == 554 and b"Access denied" in r[1], "25: ETRN before TLS refused", txt(r))
r = s.docmd("AUTH", "PLAIN")
check(r[0] == 503, "25: AUTH before STARTTLS refused", txt(r))
r = s.starttls(context=ctx())
check(r[0] == 220, "25: STARTTLS, certificate verified against ca.pem",
      txt(r) + " / %s %s" % (s.sock.version(), s.sock.getpeercert()["subject"]))
r = s.ehlo("client.test")
check(r[0] == 250 and not s.has_extn("starttls")
      and set(s.esmtp_features.get("auth", "").split()) >= {"PLAIN", "LOGIN", "CRAM-MD5"},
      "25: EHLO after TLS offers AUTH PLAIN LOGIN CRAM-MD5", txt(r))
r = s.docmd("ETRN", "example.test")
check(r[0] == 554 and b"Access denied" in r[1], "25: ETRN after TLS, before AUTH refused", txt(r))
s.user, s.password = user, "wrong-" + pw
try:
    r = s.auth("PLAIN", s.auth_plain)
    check(False, "25: AUTH with a wrong password refused", txt(r))
except smtplib.SMTPAuthenticationError as e:
    check(e.smtp_code == 535, "25: AUTH with a wrong password refused",
          txt((e.smtp_code, e.smtp_error)))
s.user, s.password = user, pw
r = s.auth("PLAIN", s.auth_plain)
check(r[0] == 235, "25: AUTH PLAIN " + user, txt(r))
r = s.docmd("ETRN", "notflush.test")
check(r[0] == 459, "25: ETRN notflush.test (relayed, not fast-flush)", txt(r))
r = s.docmd("ETRN", "other.test")
check(r[0] == 250, "25: ETRN other.test (nothing queued)", txt(r))
r = s.docmd("ETRN", "example.test")
check(r[0] == 250, "25: ETRN example.test", txt(r))
s.quit()

# ---- port 465: implicit TLS
s, r = connect(smtplib.SMTP_SSL, 465, context=ctx())
check(r[0] == 220 and s.sock.version().startswith("TLS"),
      "465: implicit TLS, certificate verified, greeting",
      txt(r) + " / " + s.sock.version())
r = s.ehlo("client.test")
check(r[0] == 250 and s.has_extn("auth") and not s.has_extn("starttls"),
      "465: EHLO offers AUTH, no STARTTLS", txt(r))
s.user, s.password = user, pw
r = s.auth("CRAM-MD5", s.auth_cram_md5)
check(r[0] == 235, "465: AUTH CRAM-MD5", txt(r))
s.quit()

# ---- SNI: a client asking for relay.test gets the relay.test certificate
raw = socket.create_connection((relay, 465), timeout=15)
t = ctx().wrap_socket(raw, server_hostname="relay.test")
cert = t.getpeercert()
check(("DNS", "relay.test") in cert.get("subjectAltName", ()),
      "465: SNI relay.test selects the relay.test certificate", str(cert["subject"]))
t.close()

# ---- port 2525: no TLS at all, AUTH in clear
s, r = connect(smtplib.SMTP, 2525)
r = s.ehlo("client.test")
check(r[0] == 250 and not s.has_extn("starttls") and s.has_extn("auth"),
      "2525: EHLO offers no STARTTLS, offers AUTH in clear", txt(r))
s.user, s.password = user, pw
r = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
check(r[0] == 235, "2525: AUTH LOGIN in clear accepted (detectable in log)", txt(r))
s.quit()
sys.exit(1 if fails else 0)
PYEOF

echo "# relay.sh selftest: relay $A, sink $S, second instance $A2/$S2, dir $T"

# ---------------------------------------------------------------- start --
t0=$(ms)
if ! "$RELAY" start "$D" "$A" "$S" example.test other.test; then
    fail "start instance"; exit 1
fi
ok "start $A (25/465/2525) + sink $S:25 in $(( $(ms) - t0 )) ms"
check "status reports running" "$RELAY" status "$D"
check "password file: mode 600, exactly 's3cret-pass' (no newline)" \
    eval '[ "$(stat -c %a "$D/password")" = 600 ] && [ "$(od -An -c "$D/password" | tr -d " ")" = s3cret-pass ]'
check "private config: queue_directory is $D/queue" \
    eq "$(postconf -c "$D/etc" -h queue_directory)" "$D/queue"
check "the instance listens on exactly $A:25,465,2525 and $S:25 (not 127.0.0.1:25)" \
    eq "$(listeners "$D")" "$(printf '%s\n' "$A:25" "$A:465" "$A:2525" "$S:25" | sort)"

# ---------------------------------------------------------------- hold --
t0=$(ms)
check "inject 5 messages for example.test" "$RELAY" inject "$D" 5 example.test
echo "#   inject took $(( $(ms) - t0 )) ms"
check "5 queued (held)" eq "$("$RELAY" queued "$D")" 5
check "0 delivered before ETRN" eq "$("$RELAY" delivered "$D")" 0

# --------------------------------------------------------- SMTP client --
# (ends with "ETRN example.test", after an "ETRN other.test" with nothing queued)
t0=$(ms)
if "$PY" "$T/client.py" main "$A" "$D/ca/ca.pem" etrn@relay.test "$(cat "$D/password")" \
    > "$T/client.out" 2>&1; then
    rc=0; else rc=1; fi
while IFS= read -r line; do
    case $line in
        "ok   "*) ok "${line#ok   }" ;;
        "FAIL "*) fail "${line#FAIL }" ;;
        *) echo "#   $line" ;;
    esac
done < "$T/client.out"
[ $rc = 0 ] || fail "python client exited $rc"

t1=$(ms)
check "5 delivered to the sink within 30 s of ETRN" "$RELAY" wait-delivered "$D" 5 30
echo "#   ETRN -> 5 delivered in $(( $(ms) - t1 )) ms"
check "exactly 5 delivered, queue empty" \
    eval '[ "$("$RELAY" delivered "$D")" = 5 ] && [ "$("$RELAY" queued "$D")" = 0 ]'
f=$(ls "$D/sink" | head -n1)
check "sink file: from $A, for user@example.test" \
    eval 'grep -qx "X-Client-Addr: $A" "$D/sink/$f" && grep -q "^X-Rcpt-Args: <user@example.test>" "$D/sink/$f"'
check "log shows the AUTH in clear on 2525 (postfix-relay/notls/smtpd ... auth=1)" \
    eval '"$RELAY" log "$D" | grep -q "postfix-relay/notls/smtpd\[[0-9]*\]: disconnect from .* auth=1 "'

# An ETRN for a domain with nothing queued leaves a pending "override
# defer_transports" in qmgr; inject must still hold new mail.
check "after an empty ETRN, inject 2 for other.test is still held" "$RELAY" inject "$D" 2 other.test
check "  ... nothing leaked (5 delivered, 2 queued)" \
    eval '[ "$("$RELAY" delivered "$D")" = 5 ] && [ "$("$RELAY" queued "$D")" = 2 ]'
check "ETRN other.test releases them" \
    "$PY" "$T/client.py" etrn "$A" "$D/ca/ca.pem" etrn@relay.test "$(cat "$D/password")" other.test
check "  ... 7 delivered" "$RELAY" wait-delivered "$D" 7 30

# ----------------------------------------------------- absent sink --
check "sink-stop" "$RELAY" sink-stop "$D"
check "inject 1 with the sink down" "$RELAY" inject "$D" 1 example.test
"$PY" "$T/client.py" etrn "$A" "$D/ca/ca.pem" etrn@relay.test "$(cat "$D/password")" example.test >/dev/null
check "ETRN with the sink down: delivery fails, mail stays queued" \
    eval 'log_has "connect to $S[$S]:25: Connection refused" && [ "$("$RELAY" queued "$D")" = 1 ]'
check "sink-start" "$RELAY" sink-start "$D" "$S"
check "ETRN again delivers it" \
    eval '"$PY" "$T/client.py" etrn "$A" "$D/ca/ca.pem" etrn@relay.test "$(cat "$D/password")" example.test >/dev/null && "$RELAY" wait-delivered "$D" 8 30'

# ------------------------------------------------- second instance --
check "adduser bob (second SASL user)" "$RELAY" adduser "$D" bob@relay.test hunter2
check "  ... bob can AUTH and ETRN" \
    "$PY" "$T/client.py" etrn "$A" "$D/ca/ca.pem" bob@relay.test hunter2 example.test

sleep 300 & sleeper=$!      # stands in for the owner of a second test run
if RELAY_OWNER_PID=$sleeper "$RELAY" start "$T/r2" "$A2" "$S2" example.test 2>/dev/null; then
    ok "second instance $A2/$S2 runs next to the first"
else
    fail "second instance $A2/$S2 runs next to the first"
fi
check "  ... inject 3 into the second; the first is unaffected" \
    eval '"$RELAY" inject "$T/r2" 3 example.test && [ "$("$RELAY" queued "$T/r2")" = 3 ] && [ "$("$RELAY" queued "$D")" = 0 ]'

# ---------------------------------------------------- stale instances --
check "start on $A2 refused while the other instance's owner lives" \
    eval '! "$RELAY" start "$T/r3" "$A2" "$S2" example.test 2>"$T/err" && grep -q "in use by relay instance" "$T/err"'
kill "$sleeper"; wait "$sleeper" 2>/dev/null; sleeper=
check "start on $A2 reclaims the ports once that owner is dead (killed run)" \
    eval '"$RELAY" start "$T/r3" "$A2" "$S2" example.test 2>"$T/err" && grep -q "reclaiming" "$T/err" && ! "$RELAY" status "$T/r2"'
check "  ... and the first instance still runs" "$RELAY" status "$D"
# a run killed with SIGKILL in the same DIR: Postfix and sink keep running,
# pid files and queued mail stay behind
"$RELAY" inject "$T/r3" 2 example.test >/dev/null
kill -KILL "$(cat "$T/r3/sink.pid")" "$(head -n1 "$T/r3/queue/pid/master.pid")"
check "restart in a killed run's DIR: fresh queue, everything up" \
    eval '"$RELAY" start "$T/r3" "$A2" "$S2" example.test 2>/dev/null && [ "$("$RELAY" queued "$T/r3")" = 0 ] && "$RELAY" status "$T/r3"'

# ---------------------------------------------------------------- stop --
t0=$(ms)
check "stop" "$RELAY" stop "$D"
echo "#   stop took $(( $(ms) - t0 )) ms"
check "stop again (idempotent)" "$RELAY" stop "$D"
check "no process of the instance left, ports free" \
    eval '[ -z "$(instance_pids "$D")" ] && ! ss -Hltn | grep -qE " ($A|$S):(25|465|2525) "'
check "stop the other instance" "$RELAY" stop "$T/r3"

echo "# $n checks, $fails failed"
[ $fails = 0 ]
