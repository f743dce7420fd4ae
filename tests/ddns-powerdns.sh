#!/bin/bash
# SPDX-License-Identifier: ISC
# ddns-powerdns.sh — dynamic DNS through the REAL PowerDNS Authoritative HTTP
# API before ETRN to a REAL Postfix backup MX.
#
#   PowerDNS (tests/lib/pdns.sh) on 127.0.0.20, DNS :5310, API :8091, zone
#     example.test (gw A 192.0.2.1, MX 10 gw / 100 relay).  etrnpoll reaches
#     the API through a small counting proxy (stdlib Python, below) so that
#     the test sees every API request with its own timestamp.
#   Postfix (tests/lib/relay.sh) on 127.0.0.20:25 holds mail for example.test;
#     smtp-sink on 127.0.0.21:25 is the customer MTA.
#
# Checks: a poll with a changed address PATCHes the A record (DNS query
# proves it) BEFORE the first ETRN (timestamps: proxy log, an independent DNS
# observer and the relay's log against the time-stamped -v transcript); a
# second poll with the same address sends no API request; wait-server and
# delay-after-change; A+AAAA from an interface; a bad API key gives a clear
# error, ETRN is still sent, the failure is final until the key file changes;
# required = yes stops ETRN; the key never appears in the output.
#
# Exit 0 pass, 1 fail, 77 skip (not root).  Env: KEEP=1 keeps the files,
# DDNS_PDNS_DNS_PORT / DDNS_PDNS_API_PORT override 5310 / 8091.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

A=127.0.0.20 S=127.0.0.21
DNS_PORT=${DDNS_PDNS_DNS_PORT:-5310}
API_PORT=${DDNS_PDNS_API_PORT:-8091}
ZONE=example.test
PD=$T/pdns RD=$T/relay

for t in /usr/sbin/pdns_server dig curl; do
    command -v "$t" >/dev/null || { bad "missing $t (run tests/install-deps.sh)"; finish; }
done

# ---------------------------------------------------------------- servers
on_exit "sh $LIB/pdns.sh stop $PD"
if ! sh "$LIB/pdns.sh" start "$PD" $A "$DNS_PORT" "$API_PORT" $ZONE > "$T/pdns-start.log" 2>&1; then
    cat "$T/pdns-start.log"; bad "PowerDNS starts on $A"; finish
fi
ok "real PowerDNS on $A (DNS :$DNS_PORT, API :$API_PORT)"
KEY=$(cat "$PD/api-key")
q() { sh "$LIB/pdns.sh" query "$PD" "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
check "initial gw A is 192.0.2.1" [ "$(q gw.$ZONE A)" = 192.0.2.1 ]

# Counting proxy in front of the API: logs one JSON line per request
# (ts, method, path, status, whether an X-API-Key was sent), forwards it.
cat > "$T/proxy.py" <<'PY'
import http.client, json, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
up_host, up_port, logf, portf = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def fwd(self):
        ts = time.time()
        # test hooks: /redirect-same/PATH -> 302 to PATH here; /redirect-other/ -> another host
        if self.path.startswith("/redirect-"):
            same = self.path.startswith("/redirect-same/")
            loc = (self.path[len("/redirect-same"):] if same else "http://127.0.0.1:9/elsewhere")
            with lock, open(logf, "a") as f:
                f.write(json.dumps({"ts": ts, "method": self.command, "path": self.path,
                                    "status": 302, "key": "X-API-Key" in self.headers}) + "\n")
            self.send_response(302); self.send_header("Location", loc)
            self.send_header("Content-Length", "0"); self.send_header("Connection", "close")
            self.end_headers(); return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c = http.client.HTTPConnection(up_host, up_port, timeout=20)
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse(); data = r.read()
        with lock, open(logf, "a") as f:
            f.write(json.dumps({"ts": ts, "method": self.command, "path": self.path,
                                "status": r.status, "key": "X-API-Key" in self.headers,
                                "ua": self.headers.get("User-Agent"),
                                "body": (body or b"").decode("utf-8", "replace")}) + "\n")
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers(); self.wfile.write(data)
    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = fwd
s = ThreadingHTTPServer((up_host, 0), H)
open(portf + ".tmp", "w").write("%d\n" % s.server_address[1])
import os; os.rename(portf + ".tmp", portf)
s.serve_forever()
PY
"$PY" "$T/proxy.py" $A "$API_PORT" "$T/api.log" "$T/proxy.port" </dev/null >"$T/proxy.err" 2>&1 &
PROXY_PID=$!
on_exit "kill $PROXY_PID"
wait_for 10 test -s "$T/proxy.port" || { bad "API proxy starts: $(cat "$T/proxy.err")"; finish; }
PP=$(cat "$T/proxy.port")
: > "$T/api.log"
patches() { grep -c '"method": "PATCH"' "$T/api.log" || true; }

on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $A $S $ZONE > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"; bad "real Postfix relay starts on $A"; finish
fi
ok "real Postfix relay on $A:25, sink on $S:25"
"$LIB/relay.sh" inject "$RD" 3 $ZONE >/dev/null
check "3 messages held by the relay" [ "$("$LIB/relay.sh" queued "$RD")" = 3 ]

# conf NAME [ddns lines...]: a config with relay "isp" and ddns "gw"
conf() {
    local name=$1; shift
    # the test publishes documentation and loopback addresses on purpose
    # (on-private-address = "warn")
    R=$A etp_conf "$T/$name.conf" "ehlo-name = \"gw.$ZONE\"" "state-dir = \"$T/state\"" \
        "$(etp_timeouts)" -s "relay isp" -R "$RD" -d "$ZONE" -- \
        -s "ddns gw" 'protocol = "powerdns"' "server = \"http://$A:$PP\"" "zone = \"$ZONE\"" \
        "hostname = \"gw.$ZONE\"" "password-file = \"$PD/api-key\"" "ttl = 30" \
        'on-private-address = "warn"' "$@"
}

# stamp: prefix every line with the wall-clock time it arrived (s.us)
stamp() { "$PY" -u -c 'import sys, time
for l in sys.stdin: sys.stdout.write("%.6f %s" % (time.time(), l)); sys.stdout.flush()'; }
# poll LOG CONF [args...]: time-stamped -v transcript in LOG; sets RC
poll() {
    local log=$1 conf=$2; shift 2
    "$ETRNPOLL" -c "$conf" -v poll --no-hold "$@" 2>&1 | stamp > "$log"
    RC=${PIPESTATUS[0]}
}
# first time-stamp of a line matching ERE $2 in $1
ts_of() { grep -E -m1 -- "$2" "$1" | cut -d' ' -f1; }
lt() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

# ---------------------------------------------------------------- 1. changed address
C1=$(conf main "wait-server = \"$A:$DNS_PORT\"" "wait-timeout = 10")
expect_exit 0 "etrnpoll check accepts the ddns section" "$ETRNPOLL" -c "$C1" check
# Independent observer: ask PowerDNS for gw.$ZONE A every 2 ms over UDP
# (stdlib Python) and log "sent received answer" per query.
cat > "$T/observer.py" <<'PY'
import socket, struct, sys, time
addr, port, name, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
f = open(out, "w", buffering=1)
def skip(m, o):
    while True:
        n = m[o]
        if n == 0: return o + 1
        if n & 0xc0 == 0xc0: return o + 2
        o += n + 1
qid = 0
while True:
    qid = (qid + 1) & 0xffff
    t0 = time.time()
    s.sendto(struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1), (addr, port))
    try:
        m = s.recv(4096)
    except socket.timeout:
        continue
    t1 = time.time()
    if struct.unpack(">H", m[:2])[0] != qid: continue
    an = struct.unpack(">H", m[6:8])[0]
    o = skip(m, 12) + 4
    ips = []
    for _ in range(an):
        o = skip(m, o)
        typ, cls, ttl, rdl = struct.unpack(">HHIH", m[o:o + 10]); o += 10
        if typ == 1 and rdl == 4: ips.append(socket.inet_ntoa(m[o:o + 4]))
        o += rdl
    f.write("%.6f %.6f %s\n" % (t0, t1, ",".join(ips) or "-"))
    time.sleep(0.002)
PY
"$PY" "$T/observer.py" $A "$DNS_PORT" gw.$ZONE "$T/observer.log" </dev/null >/dev/null 2>&1 &
OBS_PID=$!
on_exit "kill $OBS_PID"
wait_for 5 grep -qs ' 192.0.2.1$' "$T/observer.log"
poll "$T/poll1.log" "$C1" -a 198.51.100.77
# The session is ready before the name is served, so the ETRN follows the
# wait-server confirmation within a millisecond or so; keep the observer
# running until it has asked at least once after the ETRN (under load it may
# be scheduled late), then judge by when its queries were sent.
T_ETRN=$(ts_of "$T/poll1.log" '> ETRN ')
after_etrn() { "$PY" -c 'import sys
sys.exit(0 if any(float(l.split()[0]) > float(sys.argv[2]) for l in open(sys.argv[1])) else 1)' "$T/observer.log" "${T_ETRN:-0}"; }
wait_for 10 after_etrn
kill $OBS_PID 2>/dev/null; wait $OBS_PID 2>/dev/null
check "poll 1 exit 0 (rc $RC)" [ "$RC" = 0 ]
check "DNS query: gw.$ZONE A is now 198.51.100.77" [ "$(q gw.$ZONE A)" = 198.51.100.77 ]
check "exactly one API request (PATCH) in poll 1" [ "$(patches)" = 1 ]
check "the PATCH was answered 204 and carried an X-API-Key" \
    grep -q '"method": "PATCH".*"status": 204, "key": true' "$T/api.log"
check "the PATCH body is a REPLACE of gw.$ZONE. A with the new address and TTL 30" \
    "$PY" -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if "PATCH" in l][0]
b=json.loads(r["body"]); rr=b["rrsets"][0]
assert rr=={"name":"gw.example.test.","type":"A","ttl":30,"changetype":"REPLACE","records":[{"content":"198.51.100.77","disabled":False}]}, rr' "$T/api.log"
VER=$("$ETRNPOLL" -V | head -1 | awk '{print $2}')
check "User-Agent is etrnpoll/$VER" grep -q "\"ua\": \"etrnpoll/$VER\"" "$T/api.log"
check "ETRN was sent" has "$T/poll1.log" '> ETRN example.test'
check "wait-server: etrnpoll saw PowerDNS serve the new address" has "$T/poll1.log" "serves gw.$ZONE A 198.51.100.77"
check "warned that 198.51.100.77 is not reachable" has "$T/poll1.log" 'is reserved for documentation .*the relay cannot connect back to it; ETRN will not deliver; published anyway \(on-private-address = warn\)'
T_PATCH=$("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "PATCH" in l][0]["ts"])' "$T/api.log")
T_SERVED=$(ts_of "$T/poll1.log" "serves gw.$ZONE A")
T_ETRN=$(ts_of "$T/poll1.log" '> ETRN ')
T_OBS=$(grep -m1 ' 198.51.100.77$' "$T/observer.log" | cut -d' ' -f2)
echo "# timeline: API PATCH $T_PATCH, observer saw new A $T_OBS, etrnpoll saw it $T_SERVED, ETRN sent $T_ETRN"
check "timestamps: API PATCH before the first ETRN" lt "$T_PATCH" "$T_ETRN"
# Independent view (the observer's own queries, by the time each was sent):
# it got the old address before the PATCH, and every query it sent from the
# ETRN on got the new one; at least one such query exists (waited for above).
check "timestamps: independent DNS queries sent after the ETRN all got the new address (and there were some)" \
    "$PY" -c 'import sys
rows = [l.split() for l in open(sys.argv[1])]
late = [r for r in rows if float(r[0]) >= float(sys.argv[2])]
sys.exit(0 if late and all(r[2] == "198.51.100.77" for r in late) else 1)' "$T/observer.log" "$T_ETRN"
check "timestamps: ... and the old one before the PATCH (the observer works)" \
    "$PY" -c 'import sys
old = [l.split() for l in open(sys.argv[1]) if l.split()[2] == "192.0.2.1"]
sys.exit(0 if old and float(old[0][0]) <= float(sys.argv[2]) else 1)' "$T/observer.log" "$T_PATCH"
check "order: the name was served before ETRN (transcript)" lt "$T_SERVED" "$T_ETRN"
check "the held mail is delivered to the sink after ETRN" "$LIB/relay.sh" wait-delivered "$RD" 3 60
# The relay's own log (1 s resolution) puts the ETRN session at or after the PATCH.
ETRN_LOG=$(grep -m1 -E 'smtpd\[[0-9]+\]: disconnect from .* etrn=1' "$RD/maillog" || true)
check "the relay logged the ETRN session" [ -n "$ETRN_LOG" ]
T_RELAY=$("$PY" - "$ETRN_LOG" <<'PY'
import sys, time, datetime, re
l = sys.argv[1]
m = re.match(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:?\d\d|Z)?)', l)
if m:
    s = m.group(1).replace("Z", "+00:00")
    print(datetime.datetime.fromisoformat(s).timestamp())
else:
    m = re.match(r'([A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d(?:\.\d+)?)', l)
    y = time.localtime().tm_year
    fmt = "%Y %b %d %H:%M:%S.%f" if m and "." in m.group(1) else "%Y %b %d %H:%M:%S"
    print(time.mktime(datetime.datetime.strptime("%d %s" % (y, " ".join(m.group(1).split())), fmt).timetuple()) if m else 0)
PY
)
echo "# relay log: ${ETRN_LOG:0:60}... -> $T_RELAY"
check "relay log time of the ETRN session is not before the PATCH (1 s resolution)" \
    "$PY" -c 'import sys; sys.exit(0 if int(float(sys.argv[1])) >= int(float(sys.argv[2])) - 0 else 1)' "$T_RELAY" "$T_PATCH"
check "the API key never appears in the output" hasnot "$T/poll1.log" "$KEY"
check "the X-API-Key header is masked in the -v transcript" has "$T/poll1.log" 'X-API-Key: \*\*\*\*\*\*\*\*'
SJ=$T/state/ddns.json
check "state: address 198.51.100.77 remembered" [ "$(json entries.gw.addr4 "$SJ")" = 198.51.100.77 ]
check "state: result HTTP 204" [ "$(json entries.gw.result "$SJ")" = "HTTP 204" ]
check "state file is mode 0600" [ "$(stat -c %a "$SJ")" = 600 ]
check "state file holds no secret" hasnot "$SJ" "$KEY"

# ---------------------------------------------------------------- 2. same address again
poll "$T/poll2.log" "$C1" -a 198.51.100.77
check "poll 2 exit 0 (rc $RC)" [ "$RC" = 0 ]
check "poll 2 with the same address sent no API request" [ "$(patches)" = 1 ]
check "poll 2 says unchanged, nothing sent" has "$T/poll2.log" 'unchanged .*nothing sent'
check "poll 2 still sent ETRN" has "$T/poll2.log" '> ETRN example.test'
"$ETRNPOLL" -c "$C1" status > "$T/status.out" 2>&1
check "status shows the ddns entry, address and result" \
    bash -c "grep -q 'ddns gw (powerdns, gw.$ZONE)' '$T/status.out' && grep -q 'address 198.51.100.77' '$T/status.out' && grep -q 'HTTP 204' '$T/status.out'"

# ---------------------------------------------------------------- 3. delay-after-change
C3=$(conf delay "delay-after-change = 2")
poll "$T/poll3.log" "$C3" -a 198.51.100.78
check "poll 3 exit 0 (rc $RC)" [ "$RC" = 0 ]
check "changed address: one more PATCH" [ "$(patches)" = 2 ]
check "DNS query: 198.51.100.78" [ "$(q gw.$ZONE A)" = 198.51.100.78 ]
T_PATCH3=$("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "PATCH" in l][-1]["ts"])' "$T/api.log")
T_ETRN3=$(ts_of "$T/poll3.log" '> ETRN ')
check "delay-after-change = 2: ETRN at least 2 s after the PATCH" \
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 1.9 else 1)' "$T_PATCH3" "$T_ETRN3"
# The relay session is opened while the DDNS update and its delay run; only
# the ETRN waits for them (the line time of TCP, TLS and AUTH is not added).
T_AUTH3=$(ts_of "$T/poll3.log" 'isp: .*authenticated as ')
echo "# poll 3: PATCH $T_PATCH3, relay authenticated $T_AUTH3, ETRN $T_ETRN3"
check "overlap: the relay session was authenticated at least 1.5 s before the ETRN (during the delay)" \
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 1.5 else 1)' "${T_AUTH3:-9e99}" "$T_ETRN3"
check "overlap: the session says it waited for the DDNS update" \
    has "$T/poll3.log" 'isp: session ready; waited [0-9]{4,} ms for the DDNS update and the hold; sending ETRN'

# ---------------------------------------------------------------- 4. A + AAAA from an interface
C4=$(conf iface 'interface = "lo"' 'ipv6 = yes' 'hostname = "lo.example.test"')
sed -i "s|hostname = \"gw.$ZONE\"||" "$C4"
if ip -6 addr show dev lo | grep -q '::1/128'; then
    poll "$T/poll4.log" "$C4"
    check "poll 4 (interface lo, A + AAAA) exit 0 (rc $RC)" [ "$RC" = 0 ]
    check "DNS: lo.$ZONE A 127.0.0.1" [ "$(q lo.$ZONE A)" = 127.0.0.1 ]
    check "DNS: lo.$ZONE AAAA ::1" [ "$(q lo.$ZONE AAAA)" = ::1 ]
    check "one PATCH with both rrsets" [ "$(patches)" = 3 ]
    check "loopback address warned about" has "$T/poll4.log" 'is loopback: the relay cannot connect back'
else
    echo "# (no ::1 on lo: A+AAAA interface case not run)"
fi

# ---------------------------------------------------------------- 4b. which interface address
# In a private network namespace (unshare -n; nothing outside sees it):
# public IPv4 before private/loopback, non-deprecated IPv6 before deprecated.
if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    C4b=$(conf pick 'interface = "lo"' 'ipv6 = yes' 'timeout = 2')
    sed -i "s|state-dir = \"$T/state\"|state-dir = \"$T/state-pick\"|" "$C4b"
    unshare -n bash -c "ip link set lo up; ip addr add 10.0.0.1/24 dev lo; ip addr add 81.2.69.142/32 dev lo
        ip addr add 2a01:4f8::1/64 dev lo preferred_lft 0 nodad; ip addr add 2a01:4f8::2/64 dev lo nodad
        ip addr add fd00::5/64 dev lo nodad
        '$ETRNPOLL' --debug -c '$C4b' poll --no-hold" > "$T/pick.log" 2>&1
    check "interface address: public IPv4 chosen over private and loopback" has "$T/pick.log" 'IPv4 address 81.2.69.142 \(from interface lo\)'
    check "interface address: stable IPv6 chosen over deprecated and ULA" has "$T/pick.log" 'IPv6 address 2a01:4f8::2 \(from interface lo\)'
else
    echo "# (unshare -n not usable: interface address choice not checked)"
fi

# ---------------------------------------------------------------- 5. bad API key
printf 'not-the-key' > "$T/badkey"; chmod 600 "$T/badkey"
C5=$(conf badkey)
sed -i "s|password-file = \"$PD/api-key\"|password-file = \"$T/badkey\"|" "$C5"
etrns() { grep -cE 'smtpd\[[0-9]+\]: disconnect from .* etrn=1' "$RD/maillog" || true; }
e0=$(etrns)
poll "$T/poll5.log" "$C5" -a 198.51.100.79
check "bad key: the poll still exits 0 (ETRN accepted; ddns not required) (rc $RC)" [ "$RC" = 0 ]
check "bad key: the API answered 401" grep -q '"method": "PATCH".*"status": 401' "$T/api.log"
check "bad key: clear error" has "$T/poll5.log" 'the API refused the credentials \(HTTP 401'
check "bad key: ETRN still sent" has "$T/poll5.log" '> ETRN example.test'
check "bad key: DNS unchanged" [ "$(q gw.$ZONE A)" = 198.51.100.78 ]
check "bad key: the relay logged one more ETRN session" [ "$(etrns)" = $((e0 + 1)) ]
check "state: final failure remembered" [ "$(json entries.gw.fatal "$SJ")" = true ]
check "state: exit 77 (auth-failed)" [ "$(json entries.gw.exit "$SJ")" = 77 ]
n=$(patches)
poll "$T/poll6.log" "$C5" -a 198.51.100.79
check "bad key, next poll: no API request (final until the config changes)" [ "$(patches)" = "$n" ]
check "bad key, next poll: says why" has "$T/poll6.log" 'answer is final'
"$ETRNPOLL" -c "$C5" status > "$T/status5.out" 2>&1
check "status shows the final failure" has "$T/status5.out" 'FAILED for good'
printf '%s' "$KEY" > "$T/badkey"      # the operator fixes the key file
poll "$T/poll7.log" "$C5" -a 198.51.100.79
check "fixed key file: one new request, accepted" bash -c "[ $(patches) = $((n + 1)) ] && tail -1 '$T/api.log' | grep -q '\"status\": 204'"
check "fixed key file: DNS updated" [ "$(q gw.$ZONE A)" = 198.51.100.79 ]

# ---------------------------------------------------------------- 6. required = yes
printf 'not-the-key' > "$T/badkey2"; chmod 600 "$T/badkey2"
C8=$(conf required 'required = yes')
sed -i "s|password-file = \"$PD/api-key\"|password-file = \"$T/badkey2\"|" "$C8"
poll "$T/poll8.log" "$C8" -a 198.51.100.80
check "required = yes and the update failed: no ETRN" hasnot "$T/poll8.log" '> ETRN'
check "required = yes: non-zero exit (rc $RC)" [ "$RC" != 0 ]
check "required = yes: says why" has "$T/poll8.log" 'required'
check "required = yes: the session opened meanwhile ends with QUIT" has "$T/poll8.log" 'isp: > QUIT'
check "required = yes: the relay's nodes say why they were not sent" \
    [ "$(json relays.0.nodes.0.reply "$T/state/last-poll.json" | grep -c 'required = yes failed')" = 1 ]

# ---------------------------------------------------------------- 7. custom (token API style)
# The PowerDNS API driven by a generic template: secret in a header, JSON body.
cat > "$T/custom.conf" <<C
state-dir = "$T/state-custom"
relay isp { host = "$A" ca-file = "$RD/ca/ca.pem" username = "etrn@relay.test"
            password-file = "$RD/password" domains = { "$ZONE" } }
ddns api {
  protocol = "custom"
  hostname = "gw.$ZONE"
  zone = "$ZONE"
  password-file = "$PD/api-key"
  method = "PATCH"
  url = "http://$A:$PP/api/v1/servers/localhost/zones/{zone}."
  headers = { "X-API-Key: {secret}", "Content-Type: application/json" }
  body = "{\\"rrsets\\": [{\\"name\\": \\"{hostname}.\\", \\"type\\": \\"{type}\\", \\"ttl\\": 60, \\"changetype\\": \\"REPLACE\\", \\"records\\": [{\\"content\\": \\"{ip}\\", \\"disabled\\": false}]}]}"
  success-status = { 204, 204 }
  on-private-address = "warn"
}
C
expect_exit 0 "custom: etrnpoll check accepts the templates" "$ETRNPOLL" -c "$T/custom.conf" check
n=$(patches)
poll "$T/poll9.log" "$T/custom.conf" -a 198.51.100.81
check "custom: poll exit 0 (rc $RC)" [ "$RC" = 0 ]
check "custom: one PATCH, answered 204" bash -c "[ $(patches) = $((n + 1)) ] && tail -1 '$T/api.log' | grep -q '\"status\": 204, \"key\": true'"
check "custom: DNS query gw A 198.51.100.81" [ "$(q gw.$ZONE A)" = 198.51.100.81 ]
check "custom: the secret header is masked in -v output" has "$T/poll9.log" 'X-API-Key: \*\*\*\*\*\*\*\*'
check "custom: ETRN sent" has "$T/poll9.log" '> ETRN example.test'
poll "$T/poll10.log" "$T/custom.conf" -a 198.51.100.81
check "custom: same address, no request" [ "$(patches)" = $((n + 1)) ]
# redirects: followed on the same host, refused to another host
sed -e 's|method = "PATCH"|method = "GET"|' -e '/^  body = /d' -e 's|success-status = { 204, 204 }|success-status = { 200, 200 }|' \
    -e "s|url = \"http://$A:$PP/|url = \"http://$A:$PP/redirect-same/|" -e "s|state-custom|state-redir|" \
    "$T/custom.conf" > "$T/redir.conf"
poll "$T/poll11.log" "$T/redir.conf" -a 198.51.100.82
check "redirect to the same host: followed, 200 counts as success" [ "$(json entries.api.result "$T/state-redir/ddns.json")" = "HTTP 200" ]
sed -e "s|redirect-same|redirect-other|" -e "s|state-redir|state-redir2|" "$T/redir.conf" > "$T/redir2.conf"
poll "$T/poll12.log" "$T/redir2.conf" -a 198.51.100.82
check "redirect to another host: refused, explained" has "$T/poll12.log" 'redirect to another host \(127.0.0.1\) refused'
check "redirect to another host: retry later (75)" [ "$(json entries.api.exit "$T/state-redir2/ddns.json")" = 75 ]

for f in "$T"/poll*.log; do
    if grep -q -- "$KEY" "$f"; then bad "API key found in $f"; fi
done
finish
