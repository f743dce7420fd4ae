#!/bin/bash
# cli-ddns.sh — `etrnpoll ddns [--force] [--dry-run]` and `poll --dry-run`
# against a REAL PowerDNS Authoritative server (tests/lib/pdns.sh on
# 127.0.0.30, zone example.test, gw A 192.0.2.1).  A TCP listener stands in
# for the relay and counts connections: the ddns command makes none.
#   ddns                 updates the A record (DNS query proves it), no SMTP
#   ddns again           same address: no API request
#   ddns --force         same address: one PATCH again
#   ddns/poll --dry-run  prints the plan with the address; no API request,
#                        the record is unchanged, no SMTP
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

A=127.0.0.30 SM=127.0.0.31
ZONE=example.test PD=$T/pdns
for t in /usr/sbin/pdns_server dig curl; do
    command -v "$t" >/dev/null || { bad "missing $t (run tests/install-deps.sh)"; finish; }
done
on_exit "sh $LIB/pdns.sh stop $PD"
if ! sh "$LIB/pdns.sh" start "$PD" $A 5330 8093 $ZONE > "$T/pdns-start.log" 2>&1; then
    cat "$T/pdns-start.log"; bad "PowerDNS starts on $A"; finish
fi
ok "real PowerDNS on $A (DNS :5330, API :8093)"
q() { sh "$LIB/pdns.sh" query "$PD" "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
# A counting proxy in front of the API (one line per request it forwards).
cat > "$T/proxy.py" <<'PY'
import http.client, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
up, port, logf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def fwd(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c = http.client.HTTPConnection(up, port, timeout=20)
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse(); data = r.read()
        with open(logf, "a") as f: f.write("%s %s %d\n" % (self.command, self.path, r.status))
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(data))); self.send_header("Connection", "close")
        self.end_headers(); self.wfile.write(data)
    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = fwd
HTTPServer((up, 8094), H).serve_forever()
PY
: > "$T/api.log"
"$PY" "$T/proxy.py" $A 8093 "$T/api.log" </dev/null >"$T/proxy.err" 2>&1 &
on_exit "kill $!"
wait_for 5 bash -c "exec 3<>/dev/tcp/$A/8094" 2>/dev/null || { bad "API proxy starts: $(cat "$T/proxy.err")"; finish; }
patches() { grep -c '^PATCH ' "$T/api.log" || true; }

# the "relay": accepts and counts TCP connections, says nothing
cat > "$T/count.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 2525)); s.listen(8)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f: f.write("connect\n")
    c.close()
PY
"$PY" "$T/count.py" $SM "$T/smtp.count" </dev/null >/dev/null 2>&1 &
on_exit "kill $!"
wait_for 5 test -e "$T/smtp.count" || { bad "connection counter starts"; finish; }
smtp() { grep -c connect "$T/smtp.count" || true; }

cat > "$T/d.conf" <<C
ehlo-name = "gw.$ZONE"
state-dir = "$T/state"
relay isp { host = "$SM" port = 2525 tls = none domains = { "$ZONE" } }
ddns gw {
  protocol = "powerdns"
  server = "http://$A:8094"
  zone = "$ZONE"
  hostname = "gw.$ZONE"
  password-file = "$PD/api-key"
  ttl = 30
}
C
check "initial gw A is 192.0.2.1" [ "$(q gw.$ZONE A)" = 192.0.2.1 ]
p0=$(patches)

# --- dry runs first: nothing may change -----------------------------------------
rc=0; "$ETRNPOLL" -c "$T/d.conf" ddns --dry-run -a 81.2.69.142 > "$T/dry.out" 2> "$T/dry.err" || rc=$?
check "ddns --dry-run: exit $rc = 0" [ $rc = 0 ]
check "ddns --dry-run: one line names the entry, its host name and the address" \
    has "$T/dry.out" "^ *ddns gw \\(powerdns\\): would update.* gw\\.$ZONE -> 81\\.2\\.69\\.142\$"
check "ddns --dry-run: no relay in the plan" hasnot "$T/dry.out" '^relay'
rc=0; "$ETRNPOLL" -c "$T/d.conf" poll --dry-run -a 81.2.69.142 > "$T/pdry.out" 2>&1 || rc=$?
check "poll --dry-run: exit $rc = 0, plan has DDNS and the relay" \
    bash -c "[ $rc = 0 ] && grep -q 'ddns gw (powerdns): would update.*81.2.69.142' '$T/pdry.out' && grep -q '^relay isp: $SM port 2525' '$T/pdry.out'"
check "dry runs: PowerDNS saw no PATCH ($(patches) = $p0)" [ "$(patches)" = "$p0" ]
check "dry runs: the record is unchanged" [ "$(q gw.$ZONE A)" = 192.0.2.1 ]
check "dry runs: no SMTP connection" [ "$(smtp)" = 0 ]
check "dry runs: no DDNS state written" test ! -e "$T/state/ddns.json"

# --- ddns: DNS only ---------------------------------------------------------------
rc=0; "$ETRNPOLL" -c "$T/d.conf" ddns -a 81.2.69.142 > "$T/d1.out" 2> "$T/d1.err" || rc=$?
check "ddns: exit $rc = 0" [ $rc = 0 ]
check "ddns: gw A is now 81.2.69.142 (DNS query)" [ "$(q gw.$ZONE A)" = 81.2.69.142 ]
check "ddns: one PATCH" [ "$(patches)" = $((p0 + 1)) ]
check "ddns: no SMTP connection, no poll recorded" bash -c "[ \"\$(grep -c connect '$T/smtp.count')\" = 0 ] && [ ! -e '$T/state/last-poll.json' ]"
check "ddns: a summary line" has "$T/d1.err" 'ddns finished: 1 entry, 1 changed, 0 failed; ok \(exit 0\)'
rc=0; "$ETRNPOLL" -c "$T/d.conf" ddns -a 81.2.69.142 > /dev/null 2> "$T/d2.err" || rc=$?
check "ddns again, same address: exit $rc = 0, no request" bash -c "[ $rc = 0 ] && [ $(patches) = $((p0 + 1)) ]"
check "ddns again: 0 changed" has "$T/d2.err" '1 entry, 0 changed'
# set the record behind etrnpoll's back: only a forced update repairs it
curl -s -o /dev/null -X PATCH -H "X-API-Key: $(cat "$PD/api-key")" -H 'Content-Type: application/json' \
    --data "{\"rrsets\":[{\"name\":\"gw.$ZONE.\",\"type\":\"A\",\"ttl\":30,\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"192.0.2.99\",\"disabled\":false}]}]}" \
    "http://$A:8093/api/v1/servers/localhost/zones/$ZONE."
check "(record changed by hand to 192.0.2.99)" [ "$(q gw.$ZONE A)" = 192.0.2.99 ]
p1=$(patches)
"$ETRNPOLL" -c "$T/d.conf" ddns -a 81.2.69.142 > /dev/null 2>&1
check "plain ddns trusts its memory: no request, record stays wrong" bash -c "[ $(patches) = $p1 ] && [ '$(q gw.$ZONE A)' = 192.0.2.99 ]"
rc=0; "$ETRNPOLL" -c "$T/d.conf" ddns --force -a 81.2.69.142 > /dev/null 2> "$T/force.err" || rc=$?
check "ddns --force: exit $rc = 0, one PATCH" bash -c "[ $rc = 0 ] && [ $(patches) = $((p1 + 1)) ]"
check "ddns --force: the record is 81.2.69.142 again" [ "$(q gw.$ZONE A)" = 81.2.69.142 ]
check "ddns --force: no SMTP connection" [ "$(smtp)" = 0 ]
check "the API key is not in the output" bash -c "! grep -qF '$(cat "$PD/api-key")' '$T/d1.err' '$T/force.err' '$T/dry.out'"
expect_exit 64 "ddns --relay is refused (no relay is involved)" "$ETRNPOLL" -c "$T/d.conf" ddns --relay isp
printf 'state-dir = "%s"\nrelay isp { host = "h" domains = { "a.test" } }\n' "$T/st2" > "$T/noddns.conf"
expect_exit 78 "ddns without a ddns section: EX_CONFIG" "$ETRNPOLL" -c "$T/noddns.conf" ddns
finish
