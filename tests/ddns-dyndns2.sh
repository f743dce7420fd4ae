#!/bin/bash
# SPDX-License-Identifier: ISC
# ddns-dyndns2.sh — dyndns2 updates through the chain
#   etrnpoll -> tests/dyndns2d.py -> REAL PowerDNS (HTTP API) -> DNS answer
# and the dyndns2 rules for EVERY return code.
#
#   PowerDNS (tests/lib/pdns.sh) on 127.0.0.21, DNS :5311, API :8092.
#   dyndns2d (HTTP and HTTPS with the test CA) on 127.0.0.21, ephemeral ports;
#     it logs every request as a JSON line (that is how requests are counted)
#     and can be told to answer any code (POST /control).
#   The relay is tests/fakesmtp.py on 127.0.0.21 (ephemeral port): these
#   checks are about DNS; the real-Postfix ETRN is in ddns-powerdns.sh.
#
# Time: the rules "no retry within 10 minutes" and "refresh after 25 days"
# are exercised by rewriting etrnpoll's own state file (ddns.json: the
# updated/attempt/retry_after times are moved into the past, see age_state
# below).  There is no test-only switch in the binary.
#
# Exit 0 pass, 1 fail, 77 skip (not root).  KEEP=1 keeps the files.
# DDNS_D2_DNS_PORT / DDNS_D2_API_PORT override 5311 / 8092.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

A=127.0.0.21
DNS_PORT=${DDNS_D2_DNS_PORT:-5311}
API_PORT=${DDNS_D2_API_PORT:-8092}
ZONE=example.test
PD=$T/pdns

for t in /usr/sbin/pdns_server dig curl certtool; do
    command -v "$t" >/dev/null || { bad "missing $t (run tests/install-deps.sh)"; finish; }
done

# ---------------------------------------------------------------- servers
on_exit "sh $LIB/pdns.sh stop $PD"
if ! sh "$LIB/pdns.sh" start "$PD" $A "$DNS_PORT" "$API_PORT" $ZONE > "$T/pdns-start.log" 2>&1; then
    cat "$T/pdns-start.log"; bad "PowerDNS starts on $A"; finish
fi
ok "real PowerDNS on $A (DNS :$DNS_PORT, API :$API_PORT)"
q() { sh "$LIB/pdns.sh" query "$PD" "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

PWD_TXT='s3cr3t pass&x=1'
printf '%s' "$PWD_TXT" > "$T/pw"; chmod 600 "$T/pw"
B64=$(printf 'alice:%s' "$PWD_TXT" | base64 -w0)
sh "$LIB/mkca.sh" "$T/ca" $A >/dev/null 2>&1 || { bad "mkca.sh"; finish; }

# start_dd NAME [options]: dyndns2d in the background; sets DP_<NAME>
start_dd() {
    local name=$1; shift
    "$PY" "$SRCDIR/tests/dyndns2d.py" --listen "$A:0" --port-file "$T/$name.port" \
        --pdns-api "http://$A:$API_PORT" --pdns-key-file "$PD/api-key" --zone $ZONE \
        --hosts "gw.$ZONE,mail.$ZONE" --user alice --password-file "$T/pw" \
        --log "$T/$name.log" "$@" </dev/null >"$T/$name.err" 2>&1 &
    on_exit "kill $!"
    if ! wait_for 15 test -s "$T/$name.port"; then
        bad "dyndns2d $name starts: $(cat "$T/$name.err")"; finish
    fi
    eval "DP_$name=$(cat "$T/$name.port")"
    : >> "$T/$name.log"
}
start_dd dd
start_dd dds --tls-cert "$T/ca/$A.pem" --tls-key "$T/ca/$A.key"
ok "dyndns2d on $A:$DP_dd (http) and :$DP_dds (https)"
ctl() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST "$@" "http://$A:$DP_dd/control"; }
updates() { grep -c '"kind": "update"' "$T/${1:-dd}.log" || true; }
last_update() { grep '"kind": "update"' "$T/${2:-dd}.log" | tail -1 | "$PY" -c 'import json,sys
r=json.loads(sys.stdin.read()); v=r
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"; }

fake_run smtp "$A" 0 normal 0 --idle-timeout 30 || { bad "fakesmtp starts"; finish; }
SP=$FAKE_PORT

# conf NAME [ddns lines...]: own state dir per NAME; relay = fakesmtp
conf() {
    local name=$1; shift
    # documentation addresses from a plain-http check-IP server, on purpose:
    # on-private-address = "warn", trust-http-check-ip = yes
    etp_conf "$T/$name.conf" "ehlo-name = \"gw.$ZONE\"" "state-dir = \"$T/state-$name\"" \
        "relay isp { host = \"$A\" port = $SP tls = none domains = { \"$ZONE\" } }" \
        -s "ddns gw" 'protocol = "dyndns2"' "server = \"http://$A:$DP_dd/nic/update\"" \
        'username = "alice"' "password-file = \"$T/pw\"" 'address-source = "url"' \
        "check-ip-url = \"http://$A:$DP_dd/checkip\"" "timeout = 10" \
        'on-private-address = "warn"' "trust-http-check-ip = yes" "$@"
}
# pretend SECONDS passed since the last request of every entry in state dir NAME
age_state() {
    "$PY" - "$T/state-$1/ddns.json" "$2" <<'PY'
import json, sys
p, d = sys.argv[1], int(sys.argv[2])
j = json.load(open(p))
for e in j["entries"].values():
    for k in ("updated", "attempt", "retry_after"):
        if e.get(k):
            e[k] -= d
json.dump(j, open(p, "w"))
PY
}
stamp() { "$PY" -u -c 'import sys, time
for l in sys.stdin: sys.stdout.write("%.6f %s" % (time.time(), l)); sys.stdout.flush()'; }
poll() {
    local log=$1 conf=$2; shift 2
    "$ETRNPOLL" -c "$conf" -v poll --no-hold "$@" 2>&1 | stamp > "$log"
    RC=${PIPESTATUS[0]}
}
ts_of() { grep -E -m1 -- "$2" "$1" | cut -d' ' -f1; }
lt() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }
sj() { json "entries.gw.$2" "$T/state-$1/ddns.json"; }

VER=$("$ETRNPOLL" -V | head -1 | awk '{print $2}')

# ---------------------------------------------------------------- 1. the chain, behind NAT
check "control: NAT address 203.0.113.45" [ "$(ctl -d nat_ip=203.0.113.45)" = 200 ]
C1=$(conf chain 'hostname = "gw.example.test"' "wait-server = \"$A:$DNS_PORT\"" 'wait-timeout = 10')
expect_exit 0 "etrnpoll check accepts the dyndns2 section" "$ETRNPOLL" -c "$C1" check
check "DNS before: gw A 192.0.2.1" [ "$(q gw.$ZONE A)" = 192.0.2.1 ]
poll "$T/p1.log" "$C1" -a 192.168.1.5
check "poll exit 0 (rc $RC)" [ "$RC" = 0 ]
check "one dyndns2 request" [ "$(updates)" = 1 ]
check "request: hostname=gw.$ZONE" [ "$(last_update params.hostname)" = gw.$ZONE ]
check "request: myip is the check-IP (NAT) address" [ "$(last_update params.myip)" = 203.0.113.45 ]
check "request: GET with valid Basic auth" [ "$(last_update method) $(last_update auth)" = "GET valid" ]
check "request: User-Agent etrnpoll/$VER" [ "$(last_update user_agent)" = "etrnpoll/$VER" ]
check "answer good 203.0.113.45" [ "$(last_update answer)" = "good 203.0.113.45" ]
check "the check-IP URL was asked" grep -q '"kind": "checkip"' "$T/dd.log"
check "DNS query (PowerDNS): gw A is now 203.0.113.45" [ "$(q gw.$ZONE A)" = 203.0.113.45 ]
check "NAT warning (check-IP address differs from the local address)" \
    has "$T/p1.log" 'check-IP address 203.0.113.45 differs from the local address 192.168.1.5'
check "unreachable-address warning" has "$T/p1.log" 'the relay cannot connect back to this address; ETRN will not deliver'
check "ETRN sent" has "$T/p1.log" '> ETRN example.test'
T_UPD=$(grep '"kind": "update"' "$T/dd.log" | tail -1 | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["ts"])')
T_SERVED=$(ts_of "$T/p1.log" "serves gw.$ZONE A 203.0.113.45")
T_ETRN=$(ts_of "$T/p1.log" '> ETRN ')
echo "# timeline: dyndns2 request $T_UPD, PowerDNS served it $T_SERVED, ETRN $T_ETRN"
check "timestamps: dyndns2 update before the first ETRN" lt "$T_UPD" "$T_ETRN"
check "timestamps: name served before the first ETRN" lt "${T_SERVED:-9e99}" "$T_ETRN"
check "the relay got the ETRN" grep -q ' ETRN example.test$' "$T/fake-smtp.transcript"
check "state: good, 203.0.113.45" [ "$(sj chain result) $(sj chain addr4)" = "good 203.0.113.45 203.0.113.45" ]

# ---------------------------------------------------------------- 2. same address: nothing sent
poll "$T/p2.log" "$C1" -a 192.168.1.5
check "same address: no dyndns2 request (never a repeated nochg)" [ "$(updates)" = 1 ]
check "same address: logged as unchanged" has "$T/p2.log" 'unchanged .*nothing sent'
check "same address: ETRN still sent" has "$T/p2.log" '> ETRN example.test'

# ---------------------------------------------------------------- 3. force-refresh-days
age_state chain $((26 * 86400))
poll "$T/p3.log" "$C1" -a 192.168.1.5
check "26 days later: one refresh request" [ "$(updates)" = 2 ]
check "refresh answered nochg" [ "$(last_update answer)" = "nochg 203.0.113.45" ]
check "refresh logged" has "$T/p3.log" 'refreshing \(force-refresh-days = 25\)'
age_state chain 3600
poll "$T/p3b.log" "$C1" -a 192.168.1.5
check "after the refresh: nothing sent again" [ "$(updates)" = 2 ]
age_state chain $((24 * 86400))
poll "$T/p3c.log" "$C1" -a 192.168.1.5
check "24 days after the refresh: still nothing sent" [ "$(updates)" = 2 ]

# ---------------------------------------------------------------- 4. every return code
ctl -d reset=1 >/dev/null
# code  exit  kind
CODES="good:0:ok nochg:0:ok badauth:77:fatal notfqdn:78:fatal nohost:78:fatal numhost:78:fatal
abuse:69:fatal badagent:69:fatal !donator:69:fatal dnserr:75:retry 911:75:retry"
i=0
for spec in $CODES; do
    code=${spec%%:*} rest=${spec#*:}; want_exit=${rest%%:*} kind=${rest#*:}
    i=$((i + 1)); n="code$i"
    ctl -d reset=1 >/dev/null
    ctl --data-urlencode "code=$code" >/dev/null
    Cn=$(conf $n 'hostname = "gw.example.test"')
    u0=$(updates)
    poll "$T/$n-a.log" "$Cn" -a 192.168.1.5
    check "[$code] first poll: one request, answered $code" \
        bash -c "[ $(updates) = $((u0 + 1)) ] && [ \"\$(grep '\"kind\": \"update\"' '$T/dd.log' | tail -1 | grep -o '\"answer\": \"[^ \"]*')\" = '\"answer\": \"$code' ]"
    check "[$code] state records result $code, exit $want_exit" \
        bash -c "[ \"$(sj $n exit)\" = $want_exit ] && case \"$(sj $n result)\" in '$code'*) true ;; *) false ;; esac"
    check "[$code] ETRN still sent" has "$T/$n-a.log" '> ETRN example.test'
    poll "$T/$n-b.log" "$Cn" -a 192.168.1.5
    check "[$code] immediate second poll: no request" [ "$(updates)" = $((u0 + 1)) ]
    case $kind in
    ok)
        check "[$code] second poll: unchanged" has "$T/$n-b.log" 'unchanged .*nothing sent'
        age_state $n 700
        poll "$T/$n-c.log" "$Cn" -a 192.168.1.5
        check "[$code] 11 minutes later: still no request (no repeated nochg)" [ "$(updates)" = $((u0 + 1)) ]
        ;;
    fatal)
        check "[$code] second poll: the answer is final" has "$T/$n-b.log" 'answer is final'
        check "[$code] error names the answer" has "$T/$n-a.log" "$code"
        age_state $n 86400
        poll "$T/$n-c.log" "$Cn" -a 192.168.1.5
        check "[$code] a day later: still no request" [ "$(updates)" = $((u0 + 1)) ]
        poll "$T/$n-d.log" "$Cn" -a 192.168.1.6
        check "[$code] even with a new address: no request" [ "$(updates)" = $((u0 + 1)) ]
        "$ETRNPOLL" -c "$Cn" status > "$T/$n-status.out" 2>&1
        check "[$code] status explains the final failure" \
            bash -c "grep -qF -- '$code' '$T/$n-status.out' && grep -q 'FAILED for good' '$T/$n-status.out'"
        ;;
    retry)
        check "[$code] second poll: waits (10 minutes)" has "$T/$n-b.log" 'next attempt not before'
        check "[$code] the wait is EX_TEMPFAIL in the state" [ "$(sj $n exit)" = 75 ]
        age_state $n 540
        poll "$T/$n-c.log" "$Cn" -a 192.168.1.5
        check "[$code] 9 minutes later: still no request" [ "$(updates)" = $((u0 + 1)) ]
        age_state $n 61
        poll "$T/$n-d.log" "$Cn" -a 192.168.1.5
        check "[$code] 10 minutes later: retried" [ "$(updates)" = $((u0 + 2)) ]
        ;;
    esac
done
ctl -d reset=1 >/dev/null

# a final answer is cleared by a change of the section ...
C_nohost=$(conf code5 'hostname = "gw.example.test"')   # code5 = nohost, still marked final
u0=$(updates)
poll "$T/clear-a.log" "$C_nohost" -a 192.168.1.5
check "[nohost] unchanged config: still no request" [ "$(updates)" = "$u0" ]
sed -i 's|timeout = 10|timeout = 11|' "$C_nohost"
poll "$T/clear-b.log" "$C_nohost" -a 192.168.1.5
check "[nohost] changed ddns section: the mark is cleared, one request" [ "$(updates)" = $((u0 + 1)) ]
check "[nohost] ... and now good" [ "$(sj code5 fatal)" = false ]
# ... or by rewriting the secret file (badauth: the operator fixed the password)
C_badauth=$(conf code3 'hostname = "gw.example.test"')
printf '%s' "$PWD_TXT" > "$T/pw"
u0=$(updates)
poll "$T/clear-c.log" "$C_badauth" -a 192.168.1.5
check "[badauth] rewritten password file: the mark is cleared, one request" [ "$(updates)" = $((u0 + 1)) ]

# ---------------------------------------------------------------- 5. HTTP status vs body
ctl -d http_status=500 >/dev/null          # status forced, normal processing: body "good ..."
ctl -d nat_ip=203.0.113.46 >/dev/null
C5=$(conf st500 'hostname = "gw.example.test"')
poll "$T/st500.log" "$C5" -a 192.168.1.5
check "HTTP 500 with a dyndns2 body: the body counts (good)" [ "$(sj st500 result)" = "good 203.0.113.46" ]
check "... and DNS was updated" [ "$(q gw.$ZONE A)" = 203.0.113.46 ]
ctl -d reset=1 >/dev/null
ctl -d code=911 -d http_status=503 >/dev/null
C6=$(conf st503 'hostname = "gw.example.test"')
poll "$T/st503.log" "$C6" -a 192.168.1.5
check "911 with HTTP 503: retry later (75)" [ "$(sj st503 exit)" = 75 ]
ctl -d reset=1 >/dev/null

# ---------------------------------------------------------------- 6. network error
C7=$(conf neterr 'hostname = "gw.example.test"')
sed -i "s|server = \"http://$A:$DP_dd/nic/update\"|server = \"http://$A:1/nic/update\"|" "$C7"
poll "$T/net-a.log" "$C7" -a 192.168.1.5
check "network error: retry later (75)" [ "$(sj neterr exit) $(sj neterr result)" = "75 network error" ]
check "network error: explained" has "$T/net-a.log" 'update of gw.example.test failed: .*(onnect|refused)'
check "network error: ETRN still sent" has "$T/net-a.log" '> ETRN example.test'
poll "$T/net-b.log" "$C7" -a 192.168.1.5
check "network error: not retried within 10 minutes" has "$T/net-b.log" 'next attempt not before'

# ---------------------------------------------------------------- 7. several hosts, one line each
ctl -d nat_ip=203.0.113.47 >/dev/null
ctl -d code=abuse -d host=mail.$ZONE >/dev/null
C8=$(conf multi 'hostname = "gw.example.test,mail.example.test"')
u0=$(updates)
poll "$T/multi.log" "$C8" -a 192.168.1.5
check "two hosts in one request" [ "$(updates) $(last_update params.hostname)" = "$((u0 + 1)) gw.$ZONE,mail.$ZONE" ]
check "answer: one line per host" [ "$(last_update answer | tr '\n' '|' | sed 's/|$//')" = "good 203.0.113.47|abuse" ]
check "gw updated in DNS" [ "$(q gw.$ZONE A)" = 203.0.113.47 ]
check "the abuse line makes the entry final (69)" [ "$(sj multi fatal) $(sj multi exit)" = "true 69" ]
check "both hosts reported" has "$T/multi.log" 'gw.example.test: good 203.0.113.47; mail.example.test: abuse'
ctl -d reset=1 >/dev/null

# ---------------------------------------------------------------- 8. HTTPS with the test CA
ctl -d nat_ip=203.0.113.48 >/dev/null      # the check-IP URL stays on the http instance
C9=$(conf https 'hostname = "gw.example.test"' "ca-file = \"$T/ca/ca.pem\"")
sed -i "s|server = \"http://$A:$DP_dd/nic/update\"|server = \"https://$A:$DP_dds/nic/update\"|" "$C9"
poll "$T/https.log" "$C9" -a 192.168.1.5
check "HTTPS (verified with the test CA): good" [ "$(sj https result)" = "good 203.0.113.48" ]
check "HTTPS: the request arrived over TLS" [ "$(last_update tls dds)" = True ]
check "HTTPS: DNS updated" [ "$(q gw.$ZONE A)" = 203.0.113.48 ]
ctl -d nat_ip=203.0.113.49 >/dev/null
C10=$(conf wrongca 'hostname = "gw.example.test"' "ca-file = \"$T/ca/other-ca.pem\"")
sed -i "s|server = \"http://$A:$DP_dd/nic/update\"|server = \"https://$A:$DP_dds/nic/update\"|" "$C10"
u0=$(updates dds)
poll "$T/wrongca.log" "$C10" -a 192.168.1.5
check "HTTPS with the wrong CA: no update reached the server" [ "$(updates dds)" = "$u0" ]
check "HTTPS with the wrong CA: retry later, explained" \
    bash -c "[ \"$(sj wrongca exit)\" = 75 ] && grep -qiE 'certificate|verif|issuer' '$T/wrongca.log'"
check "HTTPS with the wrong CA: DNS unchanged" [ "$(q gw.$ZONE A)" = 203.0.113.48 ]

# ---------------------------------------------------------------- 9. on-private-address = skip
ctl -d nat_ip=10.1.2.3 >/dev/null
C11=$(conf skip 'hostname = "gw.example.test"' 'on-private-address = "skip"')
u0=$(updates)
poll "$T/skip.log" "$C11" -a 192.168.1.5
check "private address with skip: no request" [ "$(updates)" = "$u0" ]
check "private address with skip: explained" has "$T/skip.log" 'is private .*on-private-address = skip'
check "private address with skip: ETRN still sent" has "$T/skip.log" '> ETRN example.test'
ctl -d reset=1 >/dev/null

# ---------------------------------------------------------------- 9b. 20 long host names
# 20 names of 204 characters: the update URL is about 4.2 KB.  It must go
# out whole (all 20 names and myip), never cut at 4095 bytes.
L60=$(printf 'x%.0s' $(seq 60)) L63=$(printf 'y%.0s' $(seq 63)) L63z=$(printf 'z%.0s' $(seq 63))
LONG=""
for i in $(seq -w 1 20); do
    h="h$i$L60.$L63.$L63z.$ZONE"
    ctl -d "add_host=$h" >/dev/null
    LONG="$LONG${LONG:+,}$h"
done
ctl -d nat_ip=203.0.113.61 >/dev/null
C12=$(conf long "hostname = \"$LONG\"")
poll "$T/long.log" "$C12" -a 192.168.1.5
check "20 long names: the request carried all 20 names" [ "$(last_update hosts | "$PY" -c 'import ast,sys; print(len(ast.literal_eval(sys.stdin.read())))')" = 20 ]
check "20 long names: myip was sent (not cut off)" [ "$(last_update params.myip)" = 203.0.113.61 ]
check "20 long names: the server set every one" [ "$(last_update dns_changed | "$PY" -c 'import ast,sys; print(len(ast.literal_eval(sys.stdin.read())))')" = 20 ]
check "20 long names: DNS serves the last one" [ "$(q "h20$L60.$L63.$L63z.$ZONE" A)" = 203.0.113.61 ]
ctl -d reset=1 >/dev/null

# ---------------------------------------------------------------- 10. secrets and status
"$ETRNPOLL" -c "$C1" status > "$T/status.out" 2>&1
check "status: last update, address and result" \
    bash -c "grep -q 'ddns gw (dyndns2, gw.example.test)' '$T/status.out' && grep -q 'address 203.0.113.45' '$T/status.out' && grep -q 'nochg' '$T/status.out'"
leak=0
for f in "$T"/*.log "$T"/*.out "$T"/state-*/ddns.json; do
    case $f in "$T/dd.log"|"$T/dds.log") continue ;; esac
    if grep -qF -- "$PWD_TXT" "$f" || grep -qF -- "$B64" "$f"; then leak=1; echo "# secret in $f"; fi
done
check "the password (plain or Basic-encoded) never appears in any output or state" [ $leak = 0 ]
check "the Authorization header is masked in -v output" has "$T/p1.log" 'Authorization: \*\*\*\*\*\*\*\*'
finish
