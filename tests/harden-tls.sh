#!/bin/bash
# SPDX-License-Identifier: ISC
# harden-tls.sh — hostile relays at the TLS layer, beyond poll-hostile.sh
# (which covers STARTTLS stripping, 454 and single-packet injection) and
# poll-postfix.sh (wrong CA, wrong name and pins against the real Postfix).
# Every case must refuse (exit 76, or 75 for a lost connection) before any
# AUTH or ETRN, in bounded time, and never show the password:
#   - certificate for another name / expired / self-signed not in the CA file
#   - pin mismatch with a valid chain (STARTTLS and implicit TLS), backup pins
#   - downgrade to TLS 1.0 / 1.1
#   - implicit TLS: good, expired, downgraded, plaintext server, and a
#     STARTTLS client meeting an implicit-TLS server
#   - server resets or stalls mid-handshake (a lost connection: 75), server
#     answers the handshake with garbage (76)
#   - STARTTLS response injection arriving in a SECOND packet after the 220
# Fake relays on 127.0.0.80 (hardening address plan, doc/HACKING.md).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
A=127.0.0.80
"$LIB/mkca.sh" "$T/ca" $A other.test >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"

# The scripted relay is tests/fakesmtp.py plus a few TLS-layer scenarios
# that only this test needs (registered through fakesmtp's scenario API).
cat > "$T/hfake.py" <<'PY'
import os, socket, struct, sys, time
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests"))
import fakesmtp as F

def raw_read(sock, n, timeout=5):
    """Read up to n bytes of the client's first TLS flight (ClientHello)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(n)
    except OSError:
        return b""

class ResetInHandshake(F.Dialogue):
    # read the start of the ClientHello, then RST (no ServerHello)
    def start_tls(self):
        got = raw_read(self.sock, 5)
        self.log("EVENT", "reset in handshake after %d bytes" % len(got))
        self.reset()

class StallInHandshake(F.Dialogue):
    # read the ClientHello, then never answer
    def start_tls(self):
        raw_read(self.sock, 4096)
        self.log("EVENT", "stall in handshake")
        time.sleep(30)
        self.reset()

class GarbageHandshake(F.Dialogue):
    # answer the ClientHello with plaintext SMTP, then close
    def start_tls(self):
        raw_read(self.sock, 4096)
        self.log("EVENT", "garbage instead of ServerHello")
        self.sock.sendall(b"250 2.0.0 Ok, not TLS at all\r\n" * 4)
        time.sleep(0.5)
        self.reset()

class Injection2nd(F.Dialogue):
    # "220 Ready" in one segment, "250 injected" in a second one (delay
    # --delay seconds; 0 = right behind it), then the real handshake
    def cmd_STARTTLS(self, arg):
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send(b"220 2.0.0 Ready\r\n")
        if self.o.delay > 0:
            time.sleep(self.o.delay)
        self.send(b"250 2.0.0 injected\r\n")
        self.log("EVENT", "injected in a second packet")
        self.start_tls()
        return b"220"

F.scenario("tls-reset-handshake", "RST after the first bytes of the ClientHello",
           base=ResetInHandshake)
F.scenario("tls-stall-handshake", "read the ClientHello, never answer",
           base=StallInHandshake)
F.scenario("tls-garbage-handshake", "plaintext SMTP in answer to the ClientHello",
           base=GarbageHandshake)
F.scenario("starttls-injection-2nd", "220 Ready, then 250 injected in a 2nd packet",
           base=Injection2nd, delay=0.0)
sys.exit(F.main(sys.argv[1:]))
PY

# hfake NAME SCENARIO [fakesmtp options]: start a fake on $A; sets FPORT FTRANS FPID
hfake() {
    local name=$1 scen=$2; shift 2
    FTRANS=$T/fake-$name.transcript
    local pf=$T/fake-$name.port
    rm -f "$pf"
    SRCDIR=$SRCDIR $PY "$T/hfake.py" --listen $A --port 0 --port-file "$pf" \
        --scenario "$scen" --transcript "$FTRANS" --lifetime 60 \
        --tls-cert "$T/ca/$A.pem" --tls-key "$T/ca/$A.key" \
        --user etrn --password fake-secret "$@" > "$T/fake-$name.log" 2>&1 &
    FPID=$!
    on_exit "kill $FPID"
    if ! wait_for 10 test -s "$pf"; then
        echo "fake relay did not start:"; cat "$T/fake-$name.log"; return 1
    fi
    FPORT=$(cat "$pf")
}
hstop() { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true; }

# conf NAME [relay lines...]
conf() {
    local name=$1; shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        'timeouts { connect = 5 greeting = 3 command = 3 etrn = 3 tls = 4 quit = 2 }' \
        -s "relay fake" -F "$A" -d a.test -- "$@"
}
# poll NAME WANT DESCRIPTION CONF: run, check exit code and time (< 12 s)
poll() {
    local name=$1 want=$2 d=$3 conf=$4
    local t0=$(date +%s%N) rc=0
    timeout 30 "$ETRNPOLL" -c "$conf" -v poll --no-hold > "$T/$name.out" 2> "$T/$name.err" || rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc, $ms ms)"; else bad "$d (exit $rc, want $want, $ms ms)"; tail -5 "$T/$name.err"; fi
    [ $ms -lt 12000 ] || bad "$d: took $ms ms"
}
# nothing secret went out: no AUTH and no ETRN in the relay's transcript
no_auth() {
    check "$1: no AUTH sent" hasnot "$FTRANS" '^#[0-9]+ [CT] AUTH'
    check "$1: no ETRN sent" hasnot "$FTRANS" '^#[0-9]+ [CT] ETRN'
}
tls_state() { json relays.0.tls "$T/state-$1/last-poll.json"; }

# --- 0. control: the same fake with a good certificate works ----------------
hfake good normal
C=$(conf good); poll good 0 "control: STARTTLS with a valid certificate" "$C"
check "control: TLS used" has "$FTRANS" '^#1 TLS TLSv1\.[23] '
hstop

# --- 1. certificates --------------------------------------------------------
hfake name normal --tls-cert "$T/ca/other.test.pem" --tls-key "$T/ca/other.test.key"
C=$(conf name); poll name 76 "certificate for another name (other.test, asked $A)" "$C"
check "name: explained" has "$T/name.err" "not valid for $A"
no_auth name
C=$(conf name-ok 'tls-name = "other.test"'); poll name-ok 0 "same certificate with tls-name = other.test is accepted" "$C"
check "tls-name: sent as SNI" has "$FTRANS" 'sni=other\.test'
hstop

hfake expired normal --tls-cert "$T/ca/expired-$A.pem" --tls-key "$T/ca/expired-$A.key"
C=$(conf expired); poll expired 76 "expired certificate" "$C"
check "expired: explained" has "$T/expired.err" 'expired'
no_auth expired
hstop

hfake self normal --tls-cert "$T/ca/self-$A.pem" --tls-key "$T/ca/self-$A.key"
C=$(conf self); poll self 76 "self-signed certificate not in the CA file" "$C"
check "self-signed: explained" has "$T/self.err" 'not valid for|signer|not trusted|issuer'
no_auth self
hstop

# --- 1b. key purpose and key size (issue 15) ---------------------------------
# Same CA, same name, right dates: only the extended key usage differs
# (clientAuth only / emailProtection only), or the key is 1024-bit RSA.
# mkcert NAME TEMPLATE-LINES... [--rsa BITS]: a certificate for $A from the test CA
mkcert() {
    local name=$1; shift
    local keyopt="--key-type=ecdsa"
    { echo "cn = \"$A\""; echo "ip_address = \"$A\""; echo "expiration_days = 30"
      for l in "$@"; do case $l in --rsa=*) ;; *) echo "$l";; esac; done; } > "$T/ca/$name.tmpl"
    for l in "$@"; do case $l in --rsa=*) keyopt="--key-type=rsa --bits=${l#--rsa=}";; esac; done
    certtool --generate-privkey $keyopt --outfile "$T/ca/$name.key" >/dev/null 2>&1
    certtool --generate-certificate --load-privkey "$T/ca/$name.key" --load-ca-certificate "$T/ca/ca.pem" \
        --load-ca-privkey "$T/ca/ca.key" --template "$T/ca/$name.tmpl" --outfile "$T/ca/$name.pem" >/dev/null 2>&1
    [ -s "$T/ca/$name.pem" ] || { echo "certtool failed for $name"; return 1; }
}
mkcert eku-client tls_www_client signing_key encryption_key
mkcert eku-email email_protection_key signing_key encryption_key
mkcert eku-server tls_www_server signing_key encryption_key --rsa=2048
mkcert rsa1024 tls_www_server signing_key encryption_key --rsa=1024
check "test certificates: clientAuth only" bash -c "certtool -i --infile '$T/ca/eku-client.pem' | grep -A2 'Key Purpose' | grep -q 'TLS WWW Client' && ! certtool -i --infile '$T/ca/eku-client.pem' | grep -q 'TLS WWW Server'"
check "test certificates: 1024-bit RSA" bash -c "certtool -i --infile '$T/ca/rsa1024.pem' | grep -q 'Modulus (bits 1024)'"
for e in client email; do
    case $e in client) what="only clientAuth";; email) what="only emailProtection";; esac
    hfake eku-$e normal --tls-cert "$T/ca/eku-$e.pem" --tls-key "$T/ca/eku-$e.key"
    C=$(conf eku-$e); poll eku-$e 76 "certificate whose extended key usage is $what is refused before AUTH" "$C"
    check "eku $e: explained (key purpose)" has "$T/eku-$e.err" 'not valid for .*(purpose|usage)'
    no_auth "eku $e"
    hstop
done
hfake eku-server normal --tls-cert "$T/ca/eku-server.pem" --tls-key "$T/ca/eku-server.key"
C=$(conf eku-server); poll eku-server 0 "control: the same CA's serverAuth certificate (RSA 2048) is accepted" "$C"
hstop
hfake rsa1024 normal --tls-cert "$T/ca/rsa1024.pem" --tls-key "$T/ca/rsa1024.key" --tls-ciphers 'DEFAULT:@SECLEVEL=0'
C=$(conf rsa1024); poll rsa1024 76 "1024-bit RSA server key is refused (verification profile medium)" "$C"
check "rsa1024: explained" has "$T/rsa1024.err" 'not valid for .*(insecure|weak|security|profile)'
no_auth rsa1024
C=$(conf rsa1024-ok 'tls-allow-weak-keys = yes'); poll rsa1024-ok 0 "... accepted with the documented opt-out tls-allow-weak-keys = yes" "$C"
hstop

# --- 2. pins ------------------------------------------------------------------
# spki_pin CERT: base64 SHA-256 of the certificate's SubjectPublicKeyInfo
spki_pin() { certtool --pubkey-info --load-certificate "$1" --outder 2>/dev/null |
    $PY -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode())'; }
PIN=$(spki_pin "$T/ca/$A.pem")
OTHER=$(spki_pin "$T/ca/other.test.pem")
hfake pin normal
C=$(conf pinbad "pin-sha256 = { \"sha256//$OTHER\" }"); poll pinbad 76 "pin mismatch although the chain is valid" "$C"
check "pin mismatch: explained with the real key" has "$T/pinbad.err" "does not match any pin-sha256 \\(its key is sha256//"
no_auth pinbad
C=$(conf pinbackup "pin-sha256 = { \"sha256//$OTHER\", \"sha256//$PIN\" }"); poll pinbackup 0 "second (backup) pin matches" "$C"
hstop
hfake pini normal --implicit-tls
C=$(conf pini 'tls = implicit' "pin-sha256 = { \"sha256//$OTHER\" }"); poll pini 76 "pin mismatch with implicit TLS" "$C"
no_auth pini
hstop

# --- 3. downgrade -----------------------------------------------------------------
for v in 1.1 1.0; do
    hfake down$v normal --tls-max-version $v
    C=$(conf down$v); poll down$v 76 "relay offering at most TLS $v is refused" "$C"
    check "TLS $v: handshake failed on the relay's side too" has "$FTRANS" '^#1 TLS-FAIL'
    no_auth "TLS $v"
    hstop
done
hfake v12 normal --tls-max-version 1.2
C=$(conf v12); poll v12 0 "relay with at most TLS 1.2 is fine" "$C"
check "TLS 1.2 recorded in the state" [ "$(tls_state v12)" = TLS1.2 ]
hstop

# --- 4. implicit TLS variants -------------------------------------------------------
hfake imp normal --implicit-tls
C=$(conf imp 'tls = implicit'); poll imp 0 "implicit TLS" "$C"
check "implicit: no STARTTLS sent" hasnot "$FTRANS" 'STARTTLS'
check "implicit: TLS from the first byte" bash -c "grep -A1 '^#1 CONNECT' '$FTRANS' | grep -q '^#1 TLS '"
hstop
hfake impexp normal --implicit-tls --tls-cert "$T/ca/expired-$A.pem" --tls-key "$T/ca/expired-$A.key"
C=$(conf impexp 'tls = implicit'); poll impexp 76 "implicit TLS with an expired certificate" "$C"
no_auth impexp
hstop
hfake impdown normal --implicit-tls --tls-max-version 1.1
C=$(conf impdown 'tls = implicit'); poll impdown 76 "implicit TLS downgraded to 1.1" "$C"
no_auth impdown
hstop
hfake impplain normal
C=$(conf impplain 'tls = implicit'); poll impplain 76 "implicit TLS against a plaintext server" "$C"
check "plaintext server: nothing but the ClientHello sent" bash -c "! grep -qE '^#[0-9]+ C (EHLO|AUTH|ETRN)' '$FTRANS'"
hstop
hfake starttls-vs-imp normal --implicit-tls
C=$(conf svi); poll svi 75 "STARTTLS client meets an implicit-TLS server: greeting times out" "$C"
check "starttls-vs-implicit: the relay saw no TLS handshake" has "$FTRANS" '^#1 TLS-FAIL'
no_auth starttls-vs-implicit
hstop

# --- 5. the handshake breaks ------------------------------------------------------------
hfake rst tls-reset-handshake
C=$(conf rst); poll rst 75 "relay resets mid-handshake (STARTTLS): lost connection, temporary" "$C"
check "reset: the relay reset after reading the ClientHello" has "$FTRANS" 'EVENT reset in handshake after [1-9]'
no_auth reset
hstop
hfake rsti tls-reset-handshake --implicit-tls
C=$(conf rsti 'tls = implicit'); poll rsti 75 "relay resets mid-handshake (implicit TLS)" "$C"
hstop
hfake stall tls-stall-handshake
C=$(conf stall); poll stall 75 "relay stalls mid-handshake: tls time-out (4 s), temporary" "$C"
check "stall: explained" has "$T/stall.err" 'TLS handshake with .* timed out'
no_auth stall
hstop
hfake garb tls-garbage-handshake
C=$(conf garb); poll garb 76 "relay answers the ClientHello with plaintext: protocol error" "$C"
no_auth garbage
hstop

# --- 6. STARTTLS injection in a second packet ------------------------------------------
for d in 0 0.2; do
    hfake inj$d starttls-injection-2nd --delay $d
    C=$(conf inj$d); poll inj$d 76 "STARTTLS injection in a 2nd packet ${d}s after the 220 -> refuse" "$C"
    check "injection ${d}s: explained" has "$T/inj$d.err" 'STARTTLS response injection|TLS handshake with .* failed'
    check "injection ${d}s: the injected reply is never read as SMTP" hasnot "$T/inj$d.err" '< 250 2.0.0 injected'
    no_auth "injection ${d}s"
    hstop
done

# --- 7. SCRAM mutual authentication cannot be skipped (issue 15) ---------------------------
# A relay that answers 235 without the server-final "v=" has not proved it
# knows the password: refused before ETRN.  A wrong "v=" too.  The
# correct exchange works (the control).
for sc in scram scram-no-final scram-bad-final; do
    hfake $sc $sc --auth-mechs "SCRAM-SHA-256 PLAIN"
    C=$(conf $sc 'auth-mechanisms = { "SCRAM-SHA-256", "PLAIN" }')
    case $sc in
    scram)
        poll $sc 0 "SCRAM-SHA-256 with the server's proof: accepted" "$C"
        check "scram: SCRAM was the mechanism (listed first by the admin)" [ "$(json relays.0.auth "$T/state-$sc/last-poll.json")" = SCRAM-SHA-256 ]
        check "scram: the client checked v= and answered it (the empty final response)" has "$FTRANS" '^#1 T $' ;;
    scram-no-final)
        poll $sc 76 "SCRAM-SHA-256: 235 without the server-final v= is refused" "$C"
        check "scram-no-final: the relay really skipped v=" has "$FTRANS" 'EVENT 235 without server-final'
        check "scram-no-final: explained" has "$T/$sc.err" 'answered 235 before the SCRAM-SHA-256 exchange was complete.*v='
        check "scram-no-final: not reported as authenticated" hasnot "$T/$sc.err" 'authenticated as'
        check "scram-no-final: no ETRN sent" hasnot "$FTRANS" '^#[0-9]+ [CT] ETRN' ;;
    scram-bad-final)
        poll $sc 76 "SCRAM-SHA-256: a wrong server signature is refused" "$C"
        check "scram-bad-final: no ETRN sent" hasnot "$FTRANS" '^#[0-9]+ [CT] ETRN' ;;
    esac
    hstop
done

# --- 8. port 465 and tls = starttls; implicit TLS against a plain port (issue 11) ---------------
# An implicit-TLS server on 465 waits silently for a ClientHello: after 5 s
# without a greeting on port 465 the poll says what is probably wrong
# (instead of 300 s of silence and "greeting failed: timed out").
hfake p465 normal --implicit-tls --port 465
C=$(conf p465 'timeouts { greeting = 60 }')
t0=$(date +%s%N); rc=0
timeout 30 "$ETRNPOLL" -c "$C" poll --no-hold > "$T/p465.out" 2> "$T/p465.err" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "465 with tls = starttls: fails (exit $rc = 75) after the short greeting wait, not the greeting time-out of 60 s ($ms ms)" \
    bash -c "[ $rc = 75 ] && [ $ms -ge 4500 ] && [ $ms -lt 9000 ]"
check "465 with tls = starttls: says it probably expects implicit TLS" has "$T/p465.err" 'no greeting .* on port 465: this port probably expects implicit TLS \(tls = implicit\)'
hstop
hfake p465ok normal --implicit-tls --port 465
C=$(conf p465ok 'tls = implicit'); poll p465ok 0 "control: port 465 with tls = implicit" "$C"
hstop
# the reverse: implicit TLS against a plain SMTP server whose greeting comes
# a little late (so it arrives after our ClientHello, inside the handshake)
hfake implate slow-greeting --delay 0.3
C=$(conf implate 'tls = implicit'); poll implate 76 "implicit TLS against a plain SMTP port (late greeting)" "$C"
check "implicit vs plain: a clear message naming the plain SMTP answer" has "$T/implate.err" 'answered the TLS handshake in plain SMTP \("220 fake\.test ESMTP"\): it is not an implicit-TLS .*tls = starttls'
check "implicit vs plain: no raw GnuTLS error text" hasnot "$T/implate.err" 'unexpected TLS packet|An unexpected|TLS handshake with .* failed'
no_auth implate
hstop
check "implicit vs plain (prompt greeting): clear message too" has "$T/impplain.err" 'not an implicit-TLS'

check "password never in any output" bash -c "! grep -l 'fake-secret' $T/*.err $T/*.out"
finish
