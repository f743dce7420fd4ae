#!/bin/bash
# SPDX-License-Identifier: ISC
# poll-dnscache.sh — no DNS on the path that can be avoided (issue 13).
# A real PowerDNS (127.0.0.20:53, zone "test": relay.test A 127.0.0.2) is
# the only name server of the test's private /etc/resolv.conf (the test's
# /etc is the private overlay of tests/lib/isolate.sh; nsswitch "files
# dns"); a real Postfix on 127.0.0.2 holds mail for example.test.  DNS
# queries are counted with PowerDNS's own counters (pdns_control show
# udp-queries / tcp-queries) around every step:
#   1. first poll of relay.test: DNS queried, addrs-isp-*.json written
#   2. second poll within the TTL: zero DNS queries, mail still delivered
#   3. the cache expired: the stale address used while it is looked up
#      again; the file refreshed, kept for the record's TTL (3600 s)
#   4. a cached address that does not answer: looked up again at once;
#      one with another name's certificate: refused (76), entry removed
#   5. the cache expired and DNS stopped: the poll works from the stale
#      cache and says so; without a cache it fails (cannot resolve); with
#      a DNS server that never answers the stale address is tried at once
#      (the poll takes ~1 s, not the resolver's 2 x 6 s)
#   6. an address-literal relay: no query, no cache file
#   7. address-cache = 0: a query on every poll, no file
#   8. dotless host name (own UTS namespace): loading the configuration makes
#      no DNS query; the EHLO name comes from /etc/hosts, a ddns hostname,
#      or is the bare name (check warns)
# Exit 0 pass, 1 fail, 77 skip.  Env: KEEP=1 keeps the files.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
if [ "${ETP_ISOLATED:-0}" != 1 ]; then
    echo "SKIP: $TESTNAME writes /etc/resolv.conf and /etc/hosts: only inside the private /etc of tests/lib/isolate.sh (not with ETP_NO_ISOLATE)" >&2
    exit 77
fi
for p in pdns_control pdns_server unshare; do
    command -v $p >/dev/null || [ -x /usr/sbin/$p ] || { echo "SKIP: $p not installed (tests/install-deps.sh)" >&2; exit 77; }
done

R=127.0.0.2 S=127.0.0.3 DNS=127.0.0.20
RD=$T/relay PD=$T/pdns
on_exit "$LIB/relay.sh stop $RD"
on_exit "$LIB/pdns.sh stop $PD"

# --- the private resolver configuration (in the overlay; rm first: a link
# to the host's file must not be written through) ----------------------------
rm -f /etc/resolv.conf /etc/hosts /etc/nsswitch.conf
printf 'nameserver %s\nsearch test\noptions timeout:1 attempts:1\n' $DNS > /etc/resolv.conf
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' > /etc/hosts
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > /etc/nsswitch.conf

if ! "$LIB/relay.sh" start "$RD" $R $S example.test > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"; bad "real Postfix relay starts"; finish
fi
ok "real Postfix relay started on $R (sink $S)"
if ! "$LIB/pdns.sh" start "$PD" $DNS 53 8081 test > "$T/pdns-start.log" 2>&1; then
    cat "$T/pdns-start.log"; bad "PowerDNS starts on $DNS:53"; finish
fi
ok "PowerDNS serves zone test on $DNS:53"

# DNS queries PowerDNS has answered so far
queries() {
    local u t
    u=$(pdns_control --config-dir="$PD" show udp-queries 2>/dev/null)
    t=$(pdns_control --config-dir="$PD" show tcp-queries 2>/dev/null)
    echo $(( ${u:-0} + ${t:-0} ))
}
# (getent hosts: ahosts sets AI_ADDRCONFIG, which finds no address but loopback here)
q=$(queries)
check "the system resolver asks PowerDNS: relay.test is 127.0.0.2" \
    bash -c "getent hosts relay.test | grep -q '^127\.0\.0\.2 '"
check "the query counter counts that lookup (before $q, after $(queries))" [ "$(queries)" -gt "$q" ]

# conf NAME [relay lines...] [-- top-level lines...]
conf() {
    local name=$1; shift
    local rl=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do rl+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    etp_conf "$T/$name.conf" "state-dir = \"$T/state-$name\"" "$(etp_timeouts)" "$@" \
        -s "relay isp" -r relay.test "$RD/ca/ca.pem" etrn@relay.test "$RD/password" \
        -d example.test -- "${rl[@]}"
}
cachefile() { ls "$T/state-$1"/addrs-isp-*.json 2>/dev/null | head -1; }
# poll CONF LOG: a poll; sets rc and dq (DNS queries during the poll)
poll() {
    local q0; q0=$(queries)
    rc=0; "$ETRNPOLL" -c "$1" -v poll --no-hold 2> "$2" || rc=$?
    dq=$(( $(queries) - q0 ))
}
delivered() { "$LIB/relay.sh" delivered "$RD"; }

C=$(conf main -- 'ehlo-name = "gw.example.test"')

# --- 1. the first poll looks relay.test up and caches it ------------------------
"$LIB/relay.sh" inject "$RD" 3 example.test >/dev/null
poll "$C" "$T/p1.err"
check "poll 1: exit $rc = 0" [ $rc = 0 ]
check "poll 1: 3 messages delivered" "$LIB/relay.sh" wait-delivered "$RD" 3 60
check "poll 1 asked DNS ($dq queries)" [ "$dq" -ge 1 ]
F=$(cachefile main)
check "poll 1 wrote the address cache (${F##*/})" [ -n "$F" ]
check "cache file: mode 0600" [ "$(stat -c %a "$F" 2>/dev/null)" = 600 ]
check "cache file: host relay.test, address 127.0.0.2, ttl 86400 (the default)" \
    bash -c "[ \"\$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"host\"], d[\"addresses\"], d[\"ttl\"])' '$F')\" = \"relay.test ['127.0.0.2'] 86400\" ]"
check "poll 1 log: looked up and cached" has "$T/p1.err" 'info: isp: looked up relay.test: 1 address, cached for 86400 s'

# --- 2. within the TTL: no DNS at all ----------------------------------------------
"$LIB/relay.sh" inject "$RD" 2 example.test >/dev/null
poll "$C" "$T/p2.err"
check "poll 2: exit $rc = 0" [ $rc = 0 ]
check "poll 2: 2 more messages delivered (5)" "$LIB/relay.sh" wait-delivered "$RD" 5 60
check "poll 2 made zero DNS queries (got $dq)" [ "$dq" = 0 ]
check "poll 2 log: addresses from the cache" has "$T/p2.err" 'info: isp: 1 address of relay.test from the address cache \(looked up [0-9]+ s ago, kept 86400 s\): no DNS query'
check "poll 2: ETRN example.test answered 250 by the real relay" \
    bash -c "grep -q '> ETRN example.test' '$T/p2.err' && [ '$(json relays.0.nodes.0.code "$T/state-main/last-poll.json")' = 250 ]"

"$ETRNPOLL" -c "$C" status > "$T/status.out" 2>&1
check "status shows the cached address and how long it is kept" \
    has "$T/status.out" '^  relay isp: relay\.test is 127\.0\.0\.2 \(address cache: looked up [0-9]+ s ago, no lookup for [0-9]+ s more\)$'
"$ETRNPOLL" -c "$C" status --json > "$T/status.json" 2>&1
check "status --json: addresses.isp.addresses = ['127.0.0.2']" \
    [ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["addresses"]["isp"]["addresses"])' "$T/status.json" 2>&1)" = "['127.0.0.2']" ]

# age the cache: looked_up moved back by SECONDS (the file is rewritten in place)
age() { $PY -c 'import json,sys
d=json.load(open(sys.argv[1])); d["looked_up"]-=int(sys.argv[2])
open(sys.argv[1],"w").write(json.dumps(d))' "$1" "$2"; }
lookedup() { json looked_up "$1"; }

# --- 3. past the TTL: looked up again ----------------------------------------------
age "$F" 90000
old=$(lookedup "$F")
poll "$C" "$T/p3.err"
check "poll 3 (cache expired): exit $rc = 0" [ $rc = 0 ]
check "poll 3 asked DNS again ($dq queries)" [ "$dq" -ge 1 ]
check "poll 3 refreshed the cache (looked_up $old -> $(lookedup "$F"))" [ "$(lookedup "$F")" -gt $((old + 80000)) ]
check "poll 3 cached it for the record's TTL: 3600 s (pdns.sh's relay.test A), below address-cache 86400" \
    [ "$(json ttl "$F")" = 3600 ]
check "poll 3 log: connected to the stale address while looking it up, then cached for the record's TTL" \
    bash -c "grep -q 'connecting to its cached address while it is looked up again' '$T/p3.err' && grep -q 'looked up relay.test: 1 address, cached for 3600 s (the record.s TTL)' '$T/p3.err'"

# --- 4. a cached address that does not answer: looked up again at once -------------
$PY -c 'import json,sys,time
d=json.load(open(sys.argv[1])); d["addresses"]=["127.0.0.9"]; d["looked_up"]=int(time.time())
open(sys.argv[1],"w").write(json.dumps(d))' "$F"
poll "$C" "$T/p4.err"
check "poll 4 (cached 127.0.0.9 refuses): exit $rc = 0" [ $rc = 0 ]
check "poll 4 log: the cached address failed, looked up again" has "$T/p4.err" 'no cached address of relay.test answered: looking it up again'
check "poll 4 asked DNS ($dq queries) and stored 127.0.0.2 again" \
    bash -c "[ $dq -ge 1 ] && [ '$(json addresses.0 "$F")' = 127.0.0.2 ]"

# --- 4b. a cached address now serving another name's certificate ------------
# (the scripted relay on 127.0.0.4:25 with the CA's certificate for 127.0.0.2,
# not relay.test): refused, never trusted; the entry is removed, the next
# poll looks the name up
if fake_run wrong 127.0.0.4 25 normal 60 --tls-cert "$RD/ca/127.0.0.2.pem" \
        --tls-key "$RD/ca/127.0.0.2.key" --user etrn@relay.test --password "$(cat "$RD/password")"; then
    $PY -c 'import json,sys,time
d=json.load(open(sys.argv[1])); d["addresses"]=["127.0.0.4"]; d["looked_up"]=int(time.time())
open(sys.argv[1],"w").write(json.dumps(d))' "$F"
    poll "$C" "$T/p4b.err"
    check "poll 4b (cached 127.0.0.4 has another certificate): exit $rc = 76, no DNS query ($dq)" \
        bash -c "[ $rc = 76 ] && [ $dq = 0 ]"
    check "poll 4b: no ETRN sent to the wrong server" hasnot "$FTRANS" 'ETRN'
    check "poll 4b log: the cache entry is removed" has "$T/p4b.err" 'the certificate was refused on a cached address of relay.test: its address cache is removed'
    check "poll 4b removed the cache file" [ ! -e "$F" ]
    poll "$C" "$T/p4c.err"
    check "poll 4c: looked up again ($dq queries), exit $rc = 0, 127.0.0.2 cached" \
        bash -c "[ $rc = 0 ] && [ $dq -ge 1 ] && [ -e '$F' ]"
    check "poll 4c: the cache holds 127.0.0.2 again" [ "$(json addresses.0 "$F")" = 127.0.0.2 ]
    kill "$FPID" 2>/dev/null
else
    bad "the scripted relay starts on 127.0.0.4:25"
fi

# --- 5. DNS down and the cache expired: the stale addresses ---------------------------
age "$F" 90000
old=$(lookedup "$F")
"$LIB/pdns.sh" stop "$PD"
check "DNS is down: relay.test no longer resolves" bash -c "! getent hosts relay.test >/dev/null"
"$LIB/relay.sh" inject "$RD" 1 example.test >/dev/null
rc=0; "$ETRNPOLL" -c "$C" -v poll --no-hold 2> "$T/p5.err" || rc=$?
check "poll 5 (DNS down, cache expired): exit $rc = 0" [ $rc = 0 ]
check "poll 5: the message is delivered (6)" "$LIB/relay.sh" wait-delivered "$RD" 6 60
check "poll 5 log: connected to the stale address while looking up" has "$T/p5.err" 'info: isp: the address cache of relay.test expired \(looked up [0-9]+ s ago\): connecting to its cached address while it is looked up again'
check "poll 5 log: the lookup failed, the stale entry kept" has "$T/p5.err" 'info: isp: cannot resolve relay.test: .*; kept the stale cached address \(looked up [0-9]+ s ago\)'
check "poll 5 left the stale entry as it was (looked_up $old)" [ "$(lookedup "$F")" = "$old" ]
rm -f "$F"
rc=0; "$ETRNPOLL" -c "$C" poll --no-hold 2> "$T/p5b.err" || rc=$?
check "without a cache and without DNS the poll fails: exit $rc = 75, 'cannot resolve relay.test'" \
    bash -c "[ $rc = 75 ] && grep -q 'cannot resolve relay.test' '$T/p5b.err'"

# --- 5c. DNS that never answers (the link's DNS not up yet): the stale
# address is tried at once, not after the resolver's 6 s time-out -------------
$PY -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((sys.argv[1],53))
open(sys.argv[2],"w").write("up")
while True: s.recv(4096)' $DNS "$T/blackhole.up" &
BH=$!
on_exit "kill $BH"
wait_for 5 test -s "$T/blackhole.up" || true
printf 'nameserver %s\nsearch test\noptions timeout:6 attempts:1\n' $DNS > /etc/resolv.conf
printf '{"host":"relay.test","looked_up":%s,"ttl":86400,"addresses":["127.0.0.2"]}' $(( $(date +%s) - 90000 )) > "$F"
chmod 600 "$F"
"$LIB/relay.sh" inject "$RD" 1 example.test >/dev/null
t0=$(date +%s%N)
rc=0; "$ETRNPOLL" -c "$C" -v poll --no-hold 2> "$T/p5c.err" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "poll 5c (DNS silent, cache expired): exit $rc = 0 in $ms ms (< 4000: the resolver's 6 s were not waited for)" \
    bash -c "[ $rc = 0 ] && [ $ms -lt 4000 ]"
check "poll 5c: ETRN answered 250, the message delivered (7)" \
    bash -c "[ '$(json relays.0.nodes.0.code "$T/state-main/last-poll.json")' = 250 ] && '$LIB/relay.sh' wait-delivered '$RD' 7 60 >/dev/null"
check "poll 5c log: the lookup did not finish, the old entry kept" \
    bash -c "grep -q 'the lookup of relay.test did not finish: the address cache keeps the old entry' '$T/p5c.err' && [ '$(json addresses.0 "$F")' = 127.0.0.2 ]"
kill $BH 2>/dev/null; wait $BH 2>/dev/null
printf 'nameserver %s\nsearch test\noptions timeout:1 attempts:1\n' $DNS > /etc/resolv.conf

if ! "$LIB/pdns.sh" start "$PD" $DNS 53 8081 test > "$T/pdns-start2.log" 2>&1; then
    cat "$T/pdns-start2.log"; bad "PowerDNS restarts"; finish
fi

# --- 6. an address literal: no query, no cache ---------------------------------------
CL=$(etp_conf "$T/lit.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-lit\"" \
    "$(etp_timeouts)" -s "relay isp" -R "$RD" -d example.test --)
poll "$CL" "$T/p6.err"
check "poll 6 (host = $R): exit $rc = 0" [ $rc = 0 ]
check "poll 6 made zero DNS queries (got $dq)" [ "$dq" = 0 ]
check "poll 6 wrote no address cache" [ -z "$(cachefile lit)" ]
check "poll 6 log says nothing about the address cache" hasnot "$T/p6.err" 'address cache|looked up'

# --- 7. address-cache = 0: off -------------------------------------------------------
C0=$(conf off 'address-cache = 0' -- 'ehlo-name = "gw.example.test"')
poll "$C0" "$T/p7a.err"; rc1=$rc dq1=$dq
poll "$C0" "$T/p7b.err"
check "address-cache = 0: both polls exit 0 ($rc1, $rc) and both ask DNS ($dq1, $dq queries)" \
    bash -c "[ $rc1 = 0 ] && [ $rc = 0 ] && [ $dq1 -ge 1 ] && [ $dq -ge 1 ]"
check "address-cache = 0: no cache file" [ -z "$(cachefile off)" ]
check "address-cache = 8 days is refused (at most 604800)" \
    bash -c "! '$ETRNPOLL' -c '$(conf big 'address-cache = 691200')' check >'$T/big.out' 2>&1 && grep -q 'address-cache' '$T/big.out'"

# --- 8. a dotless host name: no DNS query at config load ------------------------------
# (own UTS namespace; no ehlo-name; the old default asked DNS for
# gwbox / gwbox.test here)
inuts() { unshare --uts /bin/bash -c 'hostname gwbox && exec "$@"' uts "$@"; }
CD=$(conf main)                                   # same state dir: the cache is fresh
q0=$(queries)
rc=0; inuts "$ETRNPOLL" -c "$CD" check > "$T/c8a.out" 2>&1 || rc=$?
q1=$(queries)
check "dotless host, not in /etc/hosts, no ddns: check makes zero DNS queries (got $((q1 - q0)))" [ $((q1 - q0)) = 0 ]
check "... and warns about the bare EHLO name gwbox" has "$T/c8a.out" 'the EHLO name "gwbox" has no dot'

printf '127.0.1.1\tgwbox.site.test gwbox\n' >> /etc/hosts
"$ETRNPOLL" -c "$CD" poll --no-hold 2>/dev/null     # the cache went in step 5: fill it
q0=$(queries)
rc=0; inuts "$ETRNPOLL" -c "$CD" -v poll --no-hold 2> "$T/p8b.err" || rc=$?
q1=$(queries)
check "dotless host in /etc/hosts: poll exit $rc = 0 with zero DNS queries (got $((q1 - q0)))" \
    bash -c "[ $rc = 0 ] && [ $((q1 - q0)) = 0 ]"
check "... and says EHLO gwbox.site.test (its canonical name there)" has "$T/p8b.err" '> EHLO gwbox\.site\.test$'

printf '127.0.0.1\tlocalhost\n' > /etc/hosts
CDD=$(conf ddns -- 'ddns home {' '  protocol = "custom"' '  url = "http://127.0.0.1:9/u?h={hostname}&ip={ip}"' \
    '  hostname = "home.test,alt.test"' '}')
q0=$(queries)
rc=0; inuts "$ETRNPOLL" -c "$CDD" check > "$T/c8c.out" 2>&1 || rc=$?
q1=$(queries)
check "dotless host with a ddns section: check makes zero DNS queries (got $((q1 - q0)))" [ $((q1 - q0)) = 0 ]
check "... and has no EHLO warning (the default is home.test)" hasnot "$T/c8c.out" 'gwbox'

finish
