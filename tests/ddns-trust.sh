#!/bin/bash
# SPDX-License-Identifier: ISC
# ddns-trust.sh — DDNS publishes only addresses that can receive mail, and
# only from sources it can trust.  REAL PowerDNS (tests/lib/pdns.sh, API
# and DNS) on 127.0.0.30; a scripted check-IP server (stdlib Python, below:
# a check-IP service answering garbage is exactly what no real server does
# on request) on 127.0.0.31, plain http and https (test CA).
#
# The reviewer's reproductions (issue 14/15), each checked by what PowerDNS
# then serves, not only by log lines:
#   1. check-IP answers "not-an-ip;x", two addresses, 127.0.0.1, 10.9.9.9,
#      100.64.7.7 (CGNAT): nothing published; private/CGNAT say plainly
#      that the backup MX cannot deliver here;
#   2. a plain-http check-IP answer that no interface address confirms:
#      not published unless a second URL (check-ip-confirm-url) gives the
#      same address, or trust-http-check-ip = yes (positive controls);
#   3. -a 'not-an-ip;x' (the hook / CLI address): not published;
#   4. on-private-address = warn publishes 10.9.9.9 (explicit choice);
#   5. `check` warns about an http:// check-ip-url;
#   6. an http -> https redirect to a port other than 443: refused;
#   7. a PowerDNS API key with a bare CR: check and poll refuse it alike,
#      no request is sent;
#   8. wrong interface: link.interfaces = { "ppp0" } and the default route
#      on eth0 (two veth links in this test's own network namespace): a
#      manual poll publishes ppp0's address, never eth0's; so does a poll
#      with the hook's --interface ppp0.
#
# Exit 0 pass, 1 fail, 77 skip (not root).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

A=127.0.0.30 C=127.0.0.31
DNS_PORT=5320 API_PORT=8093
ZONE=example.test
PD=$T/pdns

for t in /usr/sbin/pdns_server dig certtool; do
    command -v "$t" >/dev/null || { bad "missing $t (run tests/install-deps.sh)"; finish; }
done

on_exit "sh $LIB/pdns.sh stop $PD"
if ! sh "$LIB/pdns.sh" start "$PD" $A "$DNS_PORT" "$API_PORT" $ZONE > "$T/pdns-start.log" 2>&1; then
    cat "$T/pdns-start.log"; bad "PowerDNS starts on $A"; finish
fi
ok "real PowerDNS on $A (DNS :$DNS_PORT, API :$API_PORT)"
q() { sh "$LIB/pdns.sh" query "$PD" "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
check "initial gw A is 192.0.2.1" [ "$(q gw.$ZONE A)" = 192.0.2.1 ]
sh "$LIB/mkca.sh" "$T/ca" $C >/dev/null 2>&1 || { bad "mkca.sh"; finish; }

# check-IP server: GET /ans/NAME answers the body below; /up/PORT/NAME
# redirects (302) to https://C:PORT/ans/NAME.  Every request is logged.
cat > "$T/checkip.py" <<'PY'
import ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
addr, portf, cert, key, logf = sys.argv[1:6]
ANS = {"notip": "not-an-ip;x\n", "two": "81.2.69.142 81.2.69.143\n", "lo": "127.0.0.1\n",
       "priv": "10.9.9.9\n", "cgnat": "100.64.7.7\n", "good": "81.2.69.142\n",
       "good2": "81.2.69.144\n", "good3": "81.2.69.146\n"}
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        with lock, open(logf, "a") as f:
            f.write("%s %s\n" % (self.server.tag, self.path)); f.flush()
        p = self.path.split("/")
        if len(p) == 4 and p[1] == "up":
            self.send_response(302); self.send_header("Location", "https://%s:%s/ans/%s" % (addr, p[2], p[3]))
            self.send_header("Content-Length", "0"); self.end_headers(); return
        body = ANS.get(p[-1], "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain"); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
h = ThreadingHTTPServer((addr, 0), H); h.tag = "http"
s = ThreadingHTTPServer((addr, 0), H); s.tag = "https"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(portf, "w").write("%d %d\n" % (h.server_address[1], s.server_address[1]))
threading.Thread(target=s.serve_forever, daemon=True).start()
h.serve_forever()
PY
: > "$T/checkip.log"
"$PY" "$T/checkip.py" $C "$T/checkip.port" "$T/ca/$C.pem" "$T/ca/$C.key" "$T/checkip.log" \
    </dev/null >"$T/checkip.err" 2>&1 &
on_exit "kill $!"
wait_for 10 test -s "$T/checkip.port" || { bad "check-IP server starts: $(cat "$T/checkip.err")"; finish; }
read -r HP SP < "$T/checkip.port"
ok "check-IP server on $C (http :$HP, https :$SP)"

# conf NAME [ddns lines...]: own state dir; the relay is a closed port
# (only the DDNS step matters here; it runs before any relay is polled).
conf() {
    local name=$1; shift
    etp_conf "$T/$name.conf" "ehlo-name = \"gw.$ZONE\"" "state-dir = \"$T/state-$name\"" \
        'timeouts { connect = 2 }' \
        "relay isp { host = \"127.0.0.1\" port = 9 tls = none domains = { \"$ZONE\" } }" \
        -s "ddns gw" 'protocol = "powerdns"' "server = \"http://$A:$API_PORT\"" "zone = \"$ZONE\"" \
        "hostname = \"gw.$ZONE\"" "password-file = \"$PD/api-key\"" "timeout = 5" "$@"
}
poll() { local log=$1 cf=$2; shift 2; "$ETRNPOLL" -c "$cf" --debug poll --no-hold "$@" > "$log" 2>&1; RC=$?; }
url() { printf 'check-ip-url = "http://%s:%s/ans/%s"' $C "$HP" "$1"; }
gw() { q gw.$ZONE A; }

# ---------------------------------------------------------------- 1. bad check-IP answers
# trust-http-check-ip = yes here, so that only the answer itself decides.
for c in notip two lo priv cgnat; do
    cf=$(conf "$c" 'address-source = "url"' "$(url $c)" 'trust-http-check-ip = yes')
    poll "$T/$c.log" "$cf"
    check "check-IP answer '$c': nothing published (DNS still 192.0.2.1)" [ "$(gw)" = 192.0.2.1 ]
    check "check-IP answer '$c': no update was sent (no attempt in the state)" bash -c "! grep -qsE '\"attempt\": ?[1-9]' '$T/state-$c/ddns.json'"
done
check "'not-an-ip;x': refused as no address" has "$T/notip.log" 'no IPv4 address in the answer "not-an-ip;x'
check "two addresses: refused (exactly one must be there)" has "$T/two.log" 'more than one address in the answer'
check "127.0.0.1: loopback, not published (skip is the default)" has "$T/lo.log" 'is loopback: .*not published \(on-private-address = skip\)'
check "10.9.9.9: says the backup MX cannot deliver here" has "$T/priv.log" '10\.9\.9\.9 .* is private .*behind NAT, so the backup MX cannot deliver to it'
check "100.64.7.7: CGNAT, says the backup MX cannot deliver here" has "$T/cgnat.log" '100\.64\.7\.7 .* is carrier-grade NAT .*the backup MX cannot deliver to it'

# required = yes: a withheld (CGNAT) address stops ETRN for this poll, and says so
cf=$(conf req 'address-source = "url"' "$(url cgnat)" 'trust-http-check-ip = yes' 'required = yes')
poll "$T/req.log" "$cf"
check "CGNAT with required = yes: explained" has "$T/req.log" 'no address that can receive mail \(required = yes: no ETRN this poll\)'
check "CGNAT with required = yes: no ETRN (the cycle says so)" has "$T/req.log" 'required = yes failed: not sending ETRN'
check "CGNAT with required = yes: non-zero exit (rc $RC)" [ "$RC" != 0 ]

# ---------------------------------------------------------------- 2. plain http, unconfirmed
cf=$(conf http 'address-source = "url"' "$(url good)")
poll "$T/http.log" "$cf"
check "http check-IP answer, no interface confirms it: not published" [ "$(gw)" = 192.0.2.1 ]
check "http check-IP answer: explained, with the fix" has "$T/http.log" 'came over plain http .* not published \(use an https:// check-ip-url, a check-ip-confirm-url, or set trust-http-check-ip = yes'
cf=$(conf httpok 'address-source = "url"' "$(url good)" 'trust-http-check-ip = yes')
poll "$T/httpok.log" "$cf"
check "positive control: trust-http-check-ip = yes publishes 81.2.69.142" [ "$(gw)" = 81.2.69.142 ]
# a second source: the same answer over https confirms it; a different one does not
cf=$(conf confirm 'address-source = "url"' "$(url good2)" "check-ip-confirm-url = \"https://$C:$SP/ans/good2\"" "ca-file = \"$T/ca/ca.pem\"")
poll "$T/confirm.log" "$cf"
check "http answer confirmed by a second URL: published 81.2.69.144" [ "$(gw)" = 81.2.69.144 ]
cf=$(conf disagree 'address-source = "url"' "$(url good)" "check-ip-confirm-url = \"https://$C:$SP/ans/good2\"" "ca-file = \"$T/ca/ca.pem\"")
poll "$T/disagree.log" "$cf"
check "http answer contradicted by the second URL: not published" [ "$(gw)" = 81.2.69.144 ]
check "http answer contradicted: both answers named" has "$T/disagree.log" 'check-IP answers disagree: .* says 81.2.69.142, .* says 81.2.69.144'
cf=$(conf https 'address-source = "url"' "check-ip-url = \"https://$C:$SP/ans/good3\"" "ca-file = \"$T/ca/ca.pem\"")
poll "$T/https.log" "$cf"
check "an https check-IP answer is trusted without a second source" [ "$(gw)" = 81.2.69.146 ]

# ---------------------------------------------------------------- 3. -a 'not-an-ip;x'
cf=$(conf arg)
poll "$T/arg.log" "$cf" -a 'not-an-ip;x'
check "-a 'not-an-ip;x': nothing published" [ "$(gw)" = 81.2.69.146 ]
check "-a 'not-an-ip;x': never reaches the API (no attempt in the state)" bash -c "! grep -qsE '\"attempt\": ?[1-9]' '$T/state-arg/ddns.json'"
check "-a 'not-an-ip;x': refused on the command line, explained" has "$T/arg.log" 'not an IPv4 or IPv6 address: "not-an-ip;x"'

# ---------------------------------------------------------------- 4. explicit warn
cf=$(conf warn 'address-source = "url"' "$(url priv)" 'trust-http-check-ip = yes' 'on-private-address = "warn"')
poll "$T/warn.log" "$cf"
check "on-private-address = warn: 10.9.9.9 published (the admin chose it)" [ "$(gw)" = 10.9.9.9 ]
check "on-private-address = warn: still says the backup MX cannot deliver" has "$T/warn.log" 'cannot deliver to it.*published anyway \(on-private-address = warn\)'

# ---------------------------------------------------------------- 5. check warns on http check-ip-url
"$ETRNPOLL" -c "$T/http.conf" check > "$T/check-http.out" 2>&1
check "check: warns about an http:// check-ip-url" has "$T/check-http.out" 'check-ip-url uses http://: anyone on the path can change the answer'

# ---------------------------------------------------------------- 6. redirect to another port
cf=$(conf redir 'address-source = "url"' "check-ip-url = \"http://$C:$HP/up/$SP/good\"" \
    "ca-file = \"$T/ca/ca.pem\"" 'trust-http-check-ip = yes')
poll "$T/redir.log" "$cf"
check "http -> https on port $SP: refused, explained" has "$T/redir.log" "redirect from http to https on port $SP refused"
check "http -> https on port $SP: not followed" hasnot "$T/checkip.log" '^https /ans/good$'
check "http -> https on port $SP: DNS unchanged" [ "$(gw)" = 10.9.9.9 ]

# ---------------------------------------------------------------- 7. API key with a bare CR
printf '%s\rX-Injected: 1' "$(cat "$PD/api-key")" > "$T/crkey"; chmod 600 "$T/crkey"
cf=$(conf crkey 'on-private-address = "publish"')
sed -i "s|password-file = \"$PD/api-key\"|password-file = \"$T/crkey\"|" "$cf"
expect_exit 78 "check: an API key with a CR is a config error" "$ETRNPOLL" -c "$cf" check
"$ETRNPOLL" -c "$cf" check > "$T/check-cr.out" 2>&1
check "check: says carriage return" has "$T/check-cr.out" 'carriage return'
poll "$T/crkey.log" "$cf" -a 81.2.69.145
check "poll: the same rule refuses the key (carriage return)" has "$T/crkey.log" 'carriage return.*nothing was sent'
check "poll: DNS unchanged" [ "$(gw)" = 10.9.9.9 ]
check "poll: no 401 from the API (no request was sent)" hasnot "$T/crkey.log" 'HTTP 401'

# ---------------------------------------------------------------- 7b. status escapes the state file
# A tampered ddns.json (terminal escape, fake line, junk address) must not
# reach the admin's terminal raw.
"$PY" - "$T/state-httpok/ddns.json" <<'PYJ'
import json, sys
p = sys.argv[1]; j = json.load(open(p))
e = j["entries"]["gw"]
e["result"] = "good \x1b]0;owned\x07\x1b[2J\nddns fake: FAILED"
e["addr4"] = "1.2.3.4\x1b[31m"
json.dump(j, open(p, "w"))
PYJ
"$ETRNPOLL" -c "$T/httpok.conf" status > "$T/status-esc.out" 2>&1
check "status: no ESC byte from the state file reaches the terminal" bash -c "! grep -q \$'\\x1b' '$T/status-esc.out'"
check "status: no fake line from the state file" hasnot "$T/status-esc.out" '^ddns fake'
check "status: the escaped result is shown" has "$T/status-esc.out" 'good \\x1b'

# ---------------------------------------------------------------- 8. wrong interface
# In this test's own network namespace: ppp0 (the uplink, 81.2.69.150) and
# eth0 (81.2.69.99) with the default route.
if ip link add ppp0 type veth peer name ppp0-peer 2>/dev/null &&
   ip link add eth0 type veth peer name eth0-peer 2>/dev/null; then
    for l in ppp0 ppp0-peer eth0 eth0-peer; do ip link set $l up; done
    ip addr add 81.2.69.150/32 dev ppp0
    ip addr add 81.2.69.99/24 dev eth0
    ip route add default via 81.2.69.1 dev eth0
    cf=$(conf iface)
    sed -i 's|^relay isp|link { interfaces = { "ppp0" } require-default-route = no }\nrelay isp|' "$cf"
    poll "$T/iface.log" "$cf"
    check "manual poll, link.interfaces = ppp0: publishes ppp0's 81.2.69.150" [ "$(gw)" = 81.2.69.150 ]
    check "manual poll: never the default-route interface's 81.2.69.99" hasnot "$T/iface.log" '81\.69\.99|81\.2\.69\.99 \(from'
    check "manual poll: says where the address came from" has "$T/iface.log" 'IPv4 address 81.2.69.150 \(from interface ppp0\)'
    ip addr add 81.2.69.151/32 dev ppp0
    ip addr del 81.2.69.150/32 dev ppp0
    cf=$(conf hook)
    poll "$T/hook.log" "$cf" -i ppp0
    check "hook --interface ppp0 (no link.interfaces): publishes ppp0's 81.2.69.151" [ "$(gw)" = 81.2.69.151 ]
else
    bad "cannot create veth links ppp0/eth0 in the test namespace"
fi
finish
