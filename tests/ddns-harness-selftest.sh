#!/bin/bash
# SPDX-License-Identifier: ISC
# ddns-harness-selftest.sh -- prove the dynamic-DNS test harness is real:
# tests/lib/pdns.sh (a private PowerDNS Authoritative with the HTTP API) and
# tests/dyndns2d.py (dyndns2 server updating that PowerDNS through its API).
#
# Exit: 0 pass, 1 fail, 77 skip (not root).
# Environment: DDNS_ADDR (127.0.0.20), DDNS_DNS_PORT (5300), DDNS_API_PORT
# (8081), KEEP=1 keeps the scratch directory. Prints "N passed, N failed".
set -u

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: ddns-harness-selftest needs root (it runs pdns_server with a private" \
         "config and installs nothing; tests/install-deps.sh needs root too)" >&2
    exit 77
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/isolate.sh"
PY=/usr/bin/python3
PDNS="$here/lib/pdns.sh"
DD="$here/dyndns2d.py"
MKCA="$here/lib/mkca.sh"
ADDR=${DDNS_ADDR:-127.0.0.20}
DNS_PORT=${DDNS_DNS_PORT:-5300}
API_PORT=${DDNS_API_PORT:-8081}
ZONE=example.test
USER_=alice
UA="etrnpoll-selftest/1.0"

pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "ok   - $*"; }
nok()  { fail=$((fail + 1)); echo "FAIL - $*"; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1: expected [$2], got [$3]"; fi; }
# check_match NAME GLOB ACTUAL
# shellcheck disable=SC2254  # $2 is a glob on purpose
check_match() { case $3 in $2) ok "$1" ;; *) nok "$1: expected [$2], got [$3]" ;; esac; }

T=$(mktemp -d /tmp/ddns-selftest.XXXXXX)
DD_PIDS=""
cleanup() {
    for p in $DD_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $DD_PIDS; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    sh "$PDNS" stop "$T/pdns" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ] || [ "$fail" != 0 ]; then
        echo "# scratch dir kept: $T (pdns/pdns.log, dd*.log, dd*.err)"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for t in /usr/sbin/pdns_server /usr/bin/pdnsutil sqlite3 dig curl certtool "$PY"; do
    command -v "$t" >/dev/null || { nok "missing $t (run tests/install-deps.sh)"; echo "$pass passed, $fail failed"; exit 1; }
done
if ss -Hltnu "( sport = :$DNS_PORT or sport = :$API_PORT )" 2>/dev/null | grep -q "$ADDR:"; then
    nok "$ADDR:$DNS_PORT or :$API_PORT already in use (another run? set DDNS_DNS_PORT/DDNS_API_PORT)"
    echo "$pass passed, $fail failed"; exit 1
fi

now_ms() { date +%s%3N; }
q() { sh "$PDNS" query "$T/pdns" "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

# ---------------------------------------------------------------- PowerDNS
t0=$(now_ms)
if sh "$PDNS" start "$T/pdns" "$ADDR" "$DNS_PORT" "$API_PORT" "$ZONE"; then
    ok "pdns.sh start ($(( $(now_ms) - t0 )) ms)"
else
    nok "pdns.sh start"; echo "$pass passed, $fail failed"; exit 1
fi
KEY=$(cat "$T/pdns/api-key")
check "api-key mode 0600" 600 "$(stat -c %a "$T/pdns/api-key")"
check "api-key has no trailing newline" 32 "$(wc -c < "$T/pdns/api-key")"
check "pdns.sh status" 0 "$(sh "$PDNS" status "$T/pdns"; echo $?)"
check "initial gw A" 192.0.2.1 "$(q gw.$ZONE A)"
check "zone MX" "10 gw.$ZONE. 100 relay.$ZONE." "$(q $ZONE MX)"
check "relay A" 127.0.0.2 "$(q relay.$ZONE A)"
check "zone NS" "ns1.$ZONE." "$(q $ZONE NS)"
check_match "zone SOA" "ns1.$ZONE. hostmaster.$ZONE. *" "$(q $ZONE SOA)"
PDNS_PID=$(cat "$T/pdns/pdns.pid")
check_match "pdns runs with the private config" "*--config-dir=$T/pdns*" \
    "$(tr '\0' ' ' < /proc/"$PDNS_PID"/cmdline)"

# ---------------------------------------------------------------- dyndns2d
printf 's3cr3t pass\n' > "$T/pw"
# start_dd NAME [extra options...] -> sets DD_PORT, appends pid to DD_PIDS
start_dd() {
    local name=$1; shift
    local t0; t0=$(now_ms)
    rm -f "$T/$name.port"
    "$PY" "$DD" --listen "$ADDR:0" --port-file "$T/$name.port" \
        --pdns-api "http://$ADDR:$API_PORT" --pdns-key-file "$T/pdns/api-key" \
        --zone "$ZONE" --hosts "gw.$ZONE,mail.$ZONE" --user "$USER_" --password-file "$T/pw" \
        --log "$T/$name.log" "$@" </dev/null >"$T/$name.err" 2>&1 &
    local pid=$!
    DD_PIDS="$DD_PIDS $pid"
    eval "${name}_PID=$pid"
    for _ in $(seq 100); do
        [ -s "$T/$name.port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -s "$T/$name.port" ]; then
        DD_PORT=$(cat "$T/$name.port")
        ok "dyndns2d $name started on port $DD_PORT ($(( $(now_ms) - t0 )) ms)"
    else
        nok "dyndns2d $name did not start: $(cat "$T/$name.err")"
        DD_PORT=0
    fi
}

start_dd dd
B="http://$ADDR:$DD_PORT"
# upd QUERY [curl options]  -> the body, lines joined with '|'
upd() { local qs=$1; shift
    curl -s --max-time 10 -A "$UA" -u "$USER_:s3cr3t pass" "$@" "$B/nic/update?$qs" | tr '\n' '|' | sed 's/|$//'; }
ctl() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST "$@" "$B/control"; }

check "update gw -> good" "good 198.51.100.7" "$(upd "hostname=gw.$ZONE&myip=198.51.100.7")"
check "dig after good" 198.51.100.7 "$(q gw.$ZONE A)"
check "same again -> nochg" "nochg 198.51.100.7" "$(upd "hostname=gw.$ZONE&myip=198.51.100.7")"
check "trailing dot / case in hostname" "nochg 198.51.100.7" "$(upd "hostname=GW.$ZONE.&myip=198.51.100.7")"
check "wrong password -> badauth" badauth \
    "$(curl -s -A "$UA" -u "$USER_:wrong" "$B/nic/update?hostname=gw.$ZONE&myip=198.51.100.99")"
check "wrong password is HTTP 200" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -A "$UA" -u "$USER_:wrong" "$B/nic/update?hostname=gw.$ZONE&myip=198.51.100.99")"
check "DNS unchanged after badauth" 198.51.100.7 "$(q gw.$ZONE A)"
check "no credentials -> 401 + challenge" "401 badauth" \
    "$(curl -s -D "$T/hdr" -w ' %{http_code}' -A "$UA" "$B/nic/update?hostname=gw.$ZONE&myip=198.51.100.99" | tr -d '\n' | awk '{print $2, $1}')"
check_match "WWW-Authenticate Basic" "*WWW-Authenticate: Basic realm=*" "$(tr -d '\r' < "$T/hdr")"
check "no User-Agent -> badagent" badagent "$(upd "hostname=gw.$ZONE&myip=198.51.100.99" -H 'User-Agent:')"
check "POST -> badagent" badagent "$(upd "hostname=gw.$ZONE&myip=198.51.100.99" -X POST)"
check "unknown host -> nohost" nohost "$(upd "hostname=nope.$ZONE&myip=198.51.100.99")"
check "no dot -> notfqdn" notfqdn "$(upd "hostname=gw&myip=198.51.100.99")"
check "no hostname -> notfqdn" notfqdn "$(upd "myip=198.51.100.99")"
many=$(for i in $(seq 21); do printf 'h%d.%s,' "$i" "$ZONE"; done)
check "21 hosts -> numhost" numhost "$(upd "hostname=${many%,}&myip=198.51.100.99")"
check "multi-host, one line per host" "good 198.51.100.8|nohost|notfqdn|good 198.51.100.8" \
    "$(upd "hostname=gw.$ZONE,x.$ZONE,gw,mail.$ZONE&myip=198.51.100.8")"
check "dig gw after multi-host" 198.51.100.8 "$(q gw.$ZONE A)"
check "dig mail after multi-host" 198.51.100.8 "$(q mail.$ZONE A)"
check "IPv4+IPv6 myip -> A and AAAA" "good 198.51.100.8,2001:db8::7" \
    "$(upd "hostname=mail.$ZONE&myip=198.51.100.8,2001:db8::7")"
check "dig AAAA" 2001:db8::7 "$(q mail.$ZONE AAAA)"
check "missing myip -> caller address" "good 127.0.0.1" "$(upd "hostname=mail.$ZONE")"
check "offline=YES -> !donator" '!donator' "$(upd "hostname=gw.$ZONE&myip=198.51.100.8&offline=YES")"

# forced answers
check "control: force dnserr" 200 "$(ctl -d code=dnserr)"
check "forced dnserr" dnserr "$(upd "hostname=gw.$ZONE&myip=198.51.100.50")"
check "DNS unchanged after forced dnserr" 198.51.100.8 "$(q gw.$ZONE A)"
check "control: clear" 200 "$(ctl -d code=)"
check "cleared -> nochg" "nochg 198.51.100.8" "$(upd "hostname=gw.$ZONE&myip=198.51.100.8")"
check "control: per-host abuse" 200 "$(ctl -d code=abuse -d host=mail.$ZONE)"
check "per-host forced only hits that host" "nochg 198.51.100.8|abuse" \
    "$(upd "hostname=gw.$ZONE,mail.$ZONE&myip=198.51.100.8")"
ctl -d code= -d host=mail.$ZONE >/dev/null
check "control: 911 + http 503, once" 200 "$(ctl -d code=911 -d http_status=503 -d count=1)"
check "forced 911 with status 503" "503 911" \
    "$(curl -s -w ' %{http_code}' -A "$UA" -u "$USER_:s3cr3t pass" "$B/nic/update?hostname=gw.$ZONE&myip=198.51.100.8" | tr -d '\n' | awk '{print $2, $1}')"
check "count=1 expired" "nochg 198.51.100.8" "$(upd "hostname=gw.$ZONE&myip=198.51.100.8")"
check "control: unknown code -> 400" 400 "$(ctl -d code=bogus)"
for c in good nochg badauth notfqdn nohost numhost abuse badagent dnserr 911 '!donator'; do
    ctl --data-urlencode "code=$c" >/dev/null
    ans=$(upd "hostname=gw.$ZONE&myip=198.51.100.60")
    check "forced $c" "$c" "${ans%% *}"
done
ctl -d reset=1 >/dev/null
check "forced answers never touched DNS" 198.51.100.8 "$(q gw.$ZONE A)"

# abuse after repeated nochg
ctl -d abuse_after=2 >/dev/null
a1=$(upd "hostname=gw.$ZONE&myip=198.51.100.8"); a2=$(upd "hostname=gw.$ZONE&myip=198.51.100.8")
a3=$(upd "hostname=gw.$ZONE&myip=198.51.100.8")
check "abuse_after=2: nochg, nochg, abuse" "nochg 198.51.100.8,nochg 198.51.100.8,abuse" "$a1,$a2,$a3"
ctl -d reset=1 >/dev/null

# check-ip
check "checkip (caller)" \
    "<html><head><title>Current IP Check</title></head><body>Current IP Address: 127.0.0.1</body></html>" \
    "$(curl -s "$B/checkip" | tr -d '\r\n')"
ctl -d nat_ip=203.0.113.45 >/dev/null
check "checkip (NAT address)" \
    "<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.45</body></html>" \
    "$(curl -s "$B/checkip" | tr -d '\r\n')"
check "/ip plain" "$(printf '203.0.113.45\nX')" "$(curl -s "$B/ip"; echo X)"
check "missing myip behind NAT -> NAT address" "good 203.0.113.45" "$(upd "hostname=gw.$ZONE")"
check "dig after NAT update" 203.0.113.45 "$(q gw.$ZONE A)"
ctl -d nat_ip= >/dev/null

# ------------------------------------------- PowerDNS API directly (protocol "powerdns")
patch() { # KEY ADDR -> http code
    curl -s -o "$T/patch.out" -w '%{http_code}' -X PATCH -H "X-API-Key: $1" \
        -H 'Content-Type: application/json' \
        --data "{\"rrsets\":[{\"name\":\"gw.$ZONE.\",\"type\":\"A\",\"ttl\":60,\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"$2\",\"disabled\":false}]}]}" \
        "http://$ADDR:$API_PORT/api/v1/servers/localhost/zones/$ZONE."
}
check "API PATCH -> 204" 204 "$(patch "$KEY" 198.51.100.200)"
check "dig after API PATCH" 198.51.100.200 "$(q gw.$ZONE A)"
check "API PATCH with bad key -> 401" 401 "$(patch "not-the-key" 198.51.100.201)"
check "DNS unchanged after 401" 198.51.100.200 "$(q gw.$ZONE A)"
check "API name without trailing dot -> 422" 422 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
       --data "{\"rrsets\":[{\"name\":\"gw.$ZONE\",\"type\":\"A\",\"ttl\":60,\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"198.51.100.1\",\"disabled\":false}]}]}" \
       "http://$ADDR:$API_PORT/api/v1/servers/localhost/zones/$ZONE.")"
check "dyndns2 sees the API change (reads PowerDNS, no cache)" "nochg 198.51.100.200" \
    "$(upd "hostname=gw.$ZONE&myip=198.51.100.200")"
check "and changes it back" "good 198.51.100.7" "$(upd "hostname=gw.$ZONE&myip=198.51.100.7")"
check "dig final" 198.51.100.7 "$(q gw.$ZONE A)"

# ---------------------------------------------------------------- the log
logcheck=$("$PY" - "$T/dd.log" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ups = [r for r in recs if r["kind"] == "update"]
need = ("method", "path", "query", "auth", "user_agent", "answer", "status", "client", "ts")
missing = [k for r in ups for k in need if k not in r]
real_good = sum(1 for r in ups if not r["forced"] and r["answer"].startswith("good"))
auths = sorted(set(r["auth"] for r in ups))
print("records=%s missing=%s auths=%s good_real>0=%s" % (
    "ok" if len(ups) > 30 else len(ups), missing, ",".join(auths), real_good > 0))
EOF
)
check "JSON-lines log" "records=ok missing=[] auths=invalid,missing,valid good_real>0=True" "$logcheck"

# real dnserr: an instance whose PowerDNS key is wrong
printf 'wrong-key' > "$T/badkey"
start_dd ddbad --pdns-key-file "$T/badkey" --no-pdns-check
B="http://$ADDR:$DD_PORT"
check "PowerDNS API refusing -> dnserr" dnserr "$(upd "hostname=gw.$ZONE&myip=198.51.100.77")"
check "DNS unchanged after dnserr" 198.51.100.7 "$(q gw.$ZONE A)"

# ---------------------------------------------------------------- HTTPS
if sh "$MKCA" "$T/ca" "$ADDR" >/dev/null 2>&1 && [ -f "$T/ca/$ADDR.pem" ]; then
    ok "mkca.sh made a CA and a cert for $ADDR"
else
    nok "mkca.sh failed"
fi
start_dd dds --tls-cert "$T/ca/$ADDR.pem" --tls-key "$T/ca/$ADDR.key"
B="https://$ADDR:$DD_PORT"
check "HTTPS update with --cacert" "good 198.51.100.9" "$(upd "hostname=gw.$ZONE&myip=198.51.100.9" --cacert "$T/ca/ca.pem")"
check "dig after HTTPS update" 198.51.100.9 "$(q gw.$ZONE A)"
check "HTTPS checkip" "Current IP Address: 127.0.0.1" \
    "$(curl -s --cacert "$T/ca/ca.pem" "$B/checkip" | sed 's/.*<body>//; s/<.*//')"
curl -s -o /dev/null --cacert "$T/ca/other-ca.pem" -A "$UA" "$B/checkip"; rc=$?
check "HTTPS with the wrong CA fails verification (curl 60)" 60 "$rc"
check "HTTPS without TLS -> fails" 1 "$(curl -s -o /dev/null --max-time 5 "http://$ADDR:$DD_PORT/ip" >/dev/null 2>&1 && echo 0 || echo 1)"
sleep 0.2
check_match "tls-error logged" '*"kind": "tls-error"*' "$(cat "$T/dds.log")"

# ---------------------------------------------------------------- stop
for name in dd ddbad dds; do
    eval "p=\$${name}_PID"
    kill -TERM "$p" 2>/dev/null
    rc=x
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || { wait "$p"; rc=$?; break; }; sleep 0.1; done
    check "dyndns2d $name exits 0 on SIGTERM" 0 "$rc"
done
DD_PIDS=""
sh "$PDNS" stop "$T/pdns"; check "pdns.sh stop" 0 $?
sh "$PDNS" stop "$T/pdns"; check "pdns.sh stop again (idempotent)" 0 $?
sh "$PDNS" stop "$T/does-not-exist"; check "pdns.sh stop on missing dir" 0 $?
# a zombie (exited, not yet reaped by init) counts as gone
pstate=$(sed 's/^.*) //' "/proc/$PDNS_PID/stat" 2>/dev/null | cut -c1)
check "pdns_server gone" gone "$(case $pstate in ''|Z) echo gone ;; *) echo "alive ($pstate)" ;; esac)"
check "ports released" "" "$(ss -Hltnu 2>/dev/null | grep -E "$ADDR:($DNS_PORT|$API_PORT)\b")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
