#!/bin/bash
# SPDX-License-Identifier: ISC
# exim-selftest.sh -- check tests/lib/exim.sh against the real Exim 4.96:
# starts in its own mount namespace (host /etc/passwd untouched), STARTTLS
# with the mkca.sh certificate, AUTH PLAIN/LOGIN/CRAM-MD5 only after TLS,
# ETRN refused without AUTH, mail held until ETRN and delivered to the sink
# after it, Exim's default limits that etrnpoll has to cope with (the 11th
# non-mail command ends the session; 458 while a run for the node is still
# going), Exim's builtin ETRN (EXIM_ETRN=builtin: only 'ETRN #node'), stop.
# The client is Python's smtplib (tests/lib/mtaclient.py).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root

A=127.0.0.2 S=127.0.0.3
D=$T/exim
EX=$LIB/exim.sh
CL="$PY $LIB/mtaclient.py"
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
on_exit "$EX stop $D"

t0=$(ms)
rc=0; "$EX" start "$D" $A $S example.test other.test 2> "$T/start.err" || rc=$?
if [ $rc = 3 ]; then
    cat "$T/start.err"
    echo "SKIP: the Exim Debian packages are not cached and cannot be downloaded (run tests/install-deps.sh with the registry reachable)"
    exit 77
fi
if [ $rc != 0 ]; then cat "$T/start.err"; bad "exim.sh start"; finish; fi
ok "exim.sh start: Exim on $A:25 + sink $S:25 in $(( $(ms) - t0 )) ms"
check "status reports running" "$EX" status "$D"
check "the daemon is Exim 4.96" bash -c "'$EX' exim '$D' -bV | head -1 | grep -q 'Exim version 4.96'"
check "Debian-exim exists only in the relay's namespace, not in the host's /etc/passwd" \
    bash -c "! grep -q '^Debian-exim:' /etc/passwd && grep -q '^Debian-exim:' '$D/passwd'"
check "listening on $A:25 and $S:25" bash -c "ss -Hltn | grep -q ' $A:25 ' && ss -Hltn | grep -q ' $S:25 '"
PW=$(cat "$D/password")
check "password file mode 600" [ "$(stat -c %a "$D/password")" = 600 ]

# --- hold -------------------------------------------------------------------
t0=$(ms)
check "inject 5 for example.test" "$EX" inject "$D" 5 example.test
echo "#   inject took $(( $(ms) - t0 )) ms"
check "5 queued (held)" [ "$("$EX" queued "$D")" = 5 ]
check "log: held because the domain is in queue_domains" has "$D/log/mainlog" 'routing defer .*domain is in queue_domains'
sleep 1
check "0 delivered after 1 s without ETRN" [ "$("$EX" delivered "$D")" = 0 ]

# --- protocol: TLS, AUTH, refusals -----------------------------------------
$CL proto exim $A "$D/ca/ca.pem" etrn@relay.test "$PW" > "$T/proto.out" 2>&1; prc=$?
while IFS= read -r l; do
    case $l in "ok   "*) ok "${l#ok   }" ;; "FAIL "*) bad "${l#FAIL }" ;; *) echo "#   $l" ;; esac
done < "$T/proto.out"
[ $prc = 0 ] || bad "python client exited $prc"
check "gnutls-cli: STARTTLS handshake, chain verified against ca.pem" bash -c \
    "printf 'EHLO c.test\r\nSTARTTLS\r\n' | timeout 10 gnutls-cli --starttls-proto=smtp --x509cafile='$D/ca/ca.pem' --port 25 $A </dev/null 2>&1 | grep -q 'Handshake was completed'"
check "still 0 delivered after the refused ETRNs" [ "$("$EX" delivered "$D")" = 0 ]

# --- release ----------------------------------------------------------------
t0=$(ms)
$CL etrn $A "$D/ca/ca.pem" etrn@relay.test "$PW" example.test > "$T/etrn1.out" 2>&1
check "ETRN example.test after AUTH -> 250" has "$T/etrn1.out" '^250 '
check "5 delivered to the sink within 20 s of ETRN" "$EX" wait-delivered "$D" 5 20
echo "#   ETRN -> 5 delivered in $(( $(ms) - t0 )) ms"
check "queue empty" [ "$("$EX" queued "$D")" = 0 ]
f=$(ls "$D/sink" | head -n1)
check "sink file: sent from $A, for user@example.test" \
    bash -c "grep -qx 'X-Client-Addr: $A' '$D/sink/$f' && grep -q '^X-Rcpt-Args: <user@example.test>' '$D/sink/$f'"
check "log: queue run -R example.test started by the ETRN" has "$D/log/mainlog" 'Start queue run: .*-R example.test'
check "an ETRN for a domain with nothing queued -> 250, nothing moves" \
    bash -c "$CL etrn $A '$D/ca/ca.pem' etrn@relay.test '$PW' other.test | grep -q '^250 '"

# --- limit: smtp_accept_max_nonmail = 10 (default) ---------------------------
$CL etrn $A "$D/ca/ca.pem" etrn@relay.test "$PW" $(for i in $(seq 12); do echo n$i.test; done) > "$T/etrn12.out" 2>&1
sed 's/^/#   /' "$T/etrn12.out"
check "ETRNs 1-10 in one session are answered (not 554)" \
    [ "$(head -n 10 "$T/etrn12.out" | grep -c '^[24][0-9][0-9] ')" = 10 ]
# (Exim writes its "554 Too many nonmail commands" in cleartext into the TLS
# session, so a TLS client sees a TLS error, not a reply: the issue's case 1)
check "the 11th ETRN gets no usable reply: the session ends (EOF / TLS error)" \
    bash -c "sed -n 11p '$T/etrn12.out' | grep -q '^EOF '"
check "  ... Exim logs 'dropped: too many nonmail commands (last was \"ETRN\")'" \
    has "$D/log/mainlog" 'dropped: too many nonmail commands \(last was "ETRN"\)'

# --- 458 Already processing: a second ETRN while the first run delivers -----
check "sink restarted with a 1 s delay per message (smtp-sink -w 1)" "$EX" sink-start "$D" $S -w 1
check "inject 4 for example.test" "$EX" inject "$D" 4 example.test
$CL etrn $A "$D/ca/ca.pem" etrn@relay.test "$PW" example.test > "$T/etrnA.out" 2>&1
sleep 0.3
$CL etrn $A "$D/ca/ca.pem" etrn@relay.test "$PW" example.test > "$T/etrnB.out" 2>&1
check "first ETRN -> 250" has "$T/etrnA.out" '^250 '
check "second ETRN (new session) while delivering -> 458 Already processing" has "$T/etrnB.out" '^458 .*Already processing example.test'
check "the 4 arrive anyway (9 in all)" "$EX" wait-delivered "$D" 9 30
check "sink back to normal" "$EX" sink-start "$D" $S

check "Exim's panic log is empty" bash -c "[ ! -s '$D/log/paniclog' ] || { cat '$D/log/paniclog'; false; }"

# --- builtin ETRN (no smtp_etrn_command), a second instance -----------------
D2=$T/exim-builtin
on_exit "$EX stop $D2"
check "second instance on 127.0.0.12 with EXIM_ETRN=builtin" \
    env EXIM_ETRN=builtin "$EX" start "$D2" 127.0.0.12 127.0.0.13 example.test
check "  ... inject 2 for example.test" "$EX" inject "$D2" 2 example.test
$CL etrn 127.0.0.12 "$D2/ca/ca.pem" etrn@relay.test "$PW" '#example.test' a.test b.test c.test d.test e.test > "$T/builtin.out" 2>&1
sed 's/^/#   /' "$T/builtin.out"
check "  ... ETRN #example.test -> 250" bash -c "head -n1 '$T/builtin.out' | grep -q '^250 '"
check "  ... ETRN a.test -> 501 argument must begin with #" bash -c "sed -n 2p '$T/builtin.out' | grep -q '^501 .*argument must begin with #'"
check "  ... the 4th 501 ends the session (Too many syntax or protocol errors)" \
    bash -c "grep -q 'Too many syntax or protocol errors' '$T/builtin.out' && tail -n1 '$T/builtin.out' | grep -q '^EOF'"
check "  ... the 2 held messages were released by ETRN #example.test" "$EX" wait-delivered "$D2" 2 20
check "  ... stop the second instance" "$EX" stop "$D2"

# --- stop -------------------------------------------------------------------
t0=$(ms)
check "stop" "$EX" stop "$D"
echo "#   stop took $(( $(ms) - t0 )) ms"
check "stop again (idempotent)" "$EX" stop "$D"
check "ports free after stop" bash -c "! ss -Hltn | grep -qE ' ($A|$S):25 '"
finish
