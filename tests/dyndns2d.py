#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""dyndns2d.py -- a small but faithful dyndns2 ("DynDNS Remote Access API")
server for the etrnpoll tests, backed by a REAL PowerDNS Authoritative
server through its HTTP API.  Python standard library only.

Endpoints (one listener, HTTP or HTTPS):
  GET  /nic/update?hostname=h1,h2&myip=ADDR   dyndns2 update (also /v3/update)
  GET  /checkip      checkip.dyndns.org look-alike (HTML)
  GET  /ip           the address alone plus "\\n"
  GET  /control      JSON state (forced codes, NAT address, counters)
  POST /control      script the server (form, query string or JSON body):
        code=CODE [host=H] [http_status=N] [count=N]   force an answer
        code=     [host=H]                             clear it
        nat_ip=ADDR | nat_ip=                          checkip/"caller" address
        delay=SECONDS                                  delay update answers
        block_agent=SUBSTR | unblock_agent=SUBSTR      badagent on User-Agent
        add_host=H | remove_host=H                     account's host list
        abuse_after=N                                  abuse after N nochg in a row
        reset=1                                        clear all of the above
        clear_abuse=1                                  forget abuse/nochg streaks

dyndns2 semantics implemented (see below):
  * HTTP Basic auth; no Authorization header -> 401 + WWW-Authenticate,
    body "badauth"; wrong credentials -> 200 "badauth".
  * missing/blocked User-Agent or a method other than GET -> "badagent".
  * more than --max-hosts hostnames -> "numhost"; none -> "notfqdn".
  * per host, one line each in request order: "notfqdn" (no dot), "nohost"
    (not in the account), "abuse" (blocked), "dnserr" (PowerDNS API failed),
    "good ADDR" (a real change was made in PowerDNS), "nochg ADDR" (the
    address already is the current one).
  * myip absent or invalid -> the caller's address (or the NAT address set
    with nat_ip).  myip may hold an IPv4 and an IPv6 address separated by a
    comma (ddclient style); myipv6= is accepted too.  IPv4 -> A, IPv6 -> AAAA.
  * offline=YES -> "!donator" unless --donator.
  * The HTTP status is 200 for every answer (including errors) unless a
    test forces another one with http_status.

Every request is logged as one JSON object per line to --log (written and
flushed BEFORE the answer is sent, so a client that got its answer can count
on the line being there).
"""

import argparse
import base64
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CODES = ("good", "nochg", "badauth", "notfqdn", "nohost", "numhost", "abuse",
         "badagent", "dnserr", "911", "!donator")
# Codes that answer the whole request with a single line.
REQUEST_CODES = ("badauth", "badagent", "numhost", "911")
UPDATE_PATHS = ("/nic/update", "/v3/update")
CHECKIP_HTML = ("<html><head><title>Current IP Check</title></head>"
                "<body>Current IP Address: {}</body></html>\r\n")


def norm_host(h):
    return h.strip().rstrip(".").lower()


def parse_ip(s):
    try:
        a = ipaddress.ip_address(s.strip())
    except ValueError:
        return None
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a


class PdnsError(Exception):
    pass


class Pdns:
    """Minimal PowerDNS Authoritative HTTP API client."""

    def __init__(self, api, key, zone, ttl, timeout=5.0):
        api = api.rstrip("/")
        if "/api/v1" not in api:
            api += "/api/v1/servers/localhost"
        self.api = api
        self.key = key
        self.zone = zone.rstrip(".") + "."   # PowerDNS wants canonical names
        self.ttl = ttl
        self.timeout = timeout

    def _req(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("X-API-Key", self.key)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raise PdnsError("HTTP %d %s" % (e.code, e.read()[:200].decode("utf-8", "replace")))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise PdnsError(str(e))

    def zone_url(self):
        return "%s/zones/%s" % (self.api, urllib.parse.quote(self.zone))

    def current(self, fqdn):
        """{'A': [...], 'AAAA': [...]} currently served for fqdn (no dot)."""
        _, z = self._req("GET", self.zone_url())
        name = fqdn.rstrip(".") + "."
        out = {"A": [], "AAAA": []}
        for rr in (z or {}).get("rrsets", []):
            if rr.get("name", "").lower() == name and rr.get("type") in out:
                out[rr["type"]] = sorted(r["content"] for r in rr.get("records", [])
                                         if not r.get("disabled"))
        return out

    def replace(self, fqdn, rtype, addr):
        body = {"rrsets": [{
            "name": fqdn.rstrip(".") + ".", "type": rtype, "ttl": self.ttl,
            "changetype": "REPLACE",
            "records": [{"content": addr, "disabled": False}]}]}
        status, _ = self._req("PATCH", self.zone_url(), body)
        if status not in (200, 204):
            raise PdnsError("PATCH answered %d" % status)

    def ping(self):
        self._req("GET", self.zone_url())


class State:
    def __init__(self, args, hosts, users):
        self.lock = threading.Lock()        # state
        self.update_lock = threading.Lock()  # serialises DNS changes
        self.args = args
        self.hosts = set(hosts)
        self.users = users
        self.blocked_agents = list(args.block_agent or [])
        self.abuse_after = args.abuse_after
        self.reset()

    def reset(self):
        self.forced = {}          # host or "*" -> {"code", "http_status", "count"}
        self.nat_ip = self.args.nat_ip or ""
        self.delay = 0.0
        self.blocked_agents = list(self.args.block_agent or [])
        self.abuse_after = self.args.abuse_after
        self.nochg_streak = {}
        self.abused = set()
        self.counters = {"requests": 0, "updates": 0, "dns_changes": 0, "answers": {}}

    def take_forced(self, key):
        """Return the forced entry for key (consuming one use), or None."""
        f = self.forced.get(key)
        if not f:
            return None
        if f["count"] is not None:
            f["count"] -= 1
            if f["count"] <= 0:
                del self.forced[key]
        return dict(f)

    def snapshot(self):
        return {
            "forced": {k: dict(v) for k, v in self.forced.items()},
            "nat_ip": self.nat_ip,
            "delay": self.delay,
            "hosts": sorted(self.hosts),
            "blocked_agents": list(self.blocked_agents),
            "abuse_after": self.abuse_after,
            "abused": sorted(self.abused),
            "nochg_streak": dict(self.nochg_streak),
            "counters": json.loads(json.dumps(self.counters)),
            "zone": self.args.zone.rstrip("."),
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dyndns2d/1.0"
    sys_version = ""

    # ---- plumbing -----------------------------------------------------
    def log_message(self, fmt, *a):
        if self.server.args.verbose:
            sys.stderr.write("dyndns2d: %s - %s\n" % (self.address_string(), fmt % a))

    def caller_ip(self):
        a = parse_ip(self.client_address[0])
        return str(a) if a else self.client_address[0]

    def write_log(self, rec):
        rec = dict(rec)
        rec.setdefault("ts", round(time.time(), 6))
        rec.setdefault("client", self.caller_ip())
        rec.setdefault("method", self.command)
        u = urllib.parse.urlsplit(self.path)
        rec.setdefault("path", u.path)
        rec.setdefault("query", u.query)
        rec.setdefault("user_agent", self.headers.get("User-Agent"))
        rec.setdefault("tls", self.server.tls)
        self.server.log(rec)

    def send(self, status, body, ctype="text/plain; charset=utf-8", extra=None):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # ---- dispatch -------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def dispatch(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path in UPDATE_PATHS:
                self.read_body()
                self.update()
            elif path == "/checkip":
                self.checkip(html=True)
            elif path == "/ip":
                self.checkip(html=False)
            elif path == "/control":
                self.control()
            else:
                self.read_body()
                self.write_log({"kind": "other", "status": 404, "answer": "not found"})
                self.send(404, "not found\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ---- check-ip -------------------------------------------------------
    def checkip(self, html):
        with self.server.state.lock:
            ip = self.server.state.nat_ip or self.caller_ip()
            self.server.state.counters["requests"] += 1
        body = CHECKIP_HTML.format(ip) if html else ip + "\n"
        self.write_log({"kind": "checkip" if html else "ip", "status": 200, "answer": ip})
        self.send(200, body, "text/html" if html else "text/plain; charset=utf-8")

    # ---- control ----------------------------------------------------------
    def control(self):
        st = self.server.state
        if self.command == "GET":
            with st.lock:
                snap = st.snapshot()
            self.send(200, json.dumps(snap, indent=1, sort_keys=True) + "\n",
                      "application/json")
            return
        raw = self.read_body()
        params = {}
        q = urllib.parse.urlsplit(self.path).query
        for k, v in urllib.parse.parse_qsl(q, keep_blank_values=True):
            params[k] = v
        ctype = (self.headers.get("Content-Type") or "").lower()
        try:
            if raw.strip().startswith(b"{") or "json" in ctype:
                params.update({k: ("" if v is None else str(v))
                               for k, v in json.loads(raw or b"{}").items()})
            else:
                for k, v in urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
                    params[k] = v
            err = self.apply_control(params)
        except (ValueError, UnicodeDecodeError) as e:
            err = "bad request: %s" % e
        if err:
            self.write_log({"kind": "control", "params": params, "status": 400, "answer": err})
            self.send(400, json.dumps({"error": err}) + "\n", "application/json")
            return
        with st.lock:
            snap = st.snapshot()
        self.write_log({"kind": "control", "params": params, "status": 200, "answer": "ok"})
        self.send(200, json.dumps(snap, indent=1, sort_keys=True) + "\n", "application/json")

    def apply_control(self, p):
        st = self.server.state
        known = {"code", "host", "http_status", "count", "nat_ip", "delay", "block_agent",
                 "unblock_agent", "add_host", "remove_host", "abuse_after", "reset",
                 "clear_abuse"}
        bad = set(p) - known
        if bad:
            return "unknown parameter(s): %s" % ", ".join(sorted(bad))
        with st.lock:
            if p.get("reset") not in (None, "", "0"):
                st.reset()
            if p.get("clear_abuse") not in (None, "", "0"):
                st.abused.clear()
                st.nochg_streak.clear()
            if "code" in p or "http_status" in p:
                key = norm_host(p["host"]) if p.get("host") else "*"
                code = p.get("code", "")
                hs = p.get("http_status", "")
                if code and code not in CODES:
                    return "unknown code %r (one of: %s)" % (code, " ".join(CODES))
                if hs and not (hs.isdigit() and 100 <= int(hs) <= 599):
                    return "bad http_status %r" % hs
                if not code and not hs:
                    st.forced.pop(key, None)
                else:
                    cnt = p.get("count", "")
                    if cnt and not (cnt.isdigit() and int(cnt) > 0):
                        return "bad count %r" % cnt
                    st.forced[key] = {"code": code or None,
                                      "http_status": int(hs) if hs else None,
                                      "count": int(cnt) if cnt else None}
            if "nat_ip" in p:
                v = p["nat_ip"].strip()
                if v and parse_ip(v) is None:
                    return "bad nat_ip %r" % v
                st.nat_ip = str(parse_ip(v)) if v else ""
            if "delay" in p:
                st.delay = float(p["delay"] or 0)
            if p.get("block_agent"):
                st.blocked_agents.append(p["block_agent"])
            if p.get("unblock_agent"):
                st.blocked_agents = [a for a in st.blocked_agents if a != p["unblock_agent"]]
            if p.get("add_host"):
                h = norm_host(p["add_host"])
                if not self.server.in_zone(h):
                    return "host %r is not in zone %s" % (h, self.server.args.zone)
                st.hosts.add(h)
            if p.get("remove_host"):
                st.hosts.discard(norm_host(p["remove_host"]))
            if "abuse_after" in p:
                st.abuse_after = int(p["abuse_after"] or 0)
        return None

    # ---- the dyndns2 update ---------------------------------------------
    def check_auth(self):
        """('valid'|'invalid'|'missing', user or None)"""
        h = self.headers.get("Authorization")
        if not h:
            return "missing", None
        parts = h.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "basic":
            return "invalid", None
        try:
            dec = base64.b64decode(parts[1].strip(), validate=True)
        except ValueError:
            return "invalid", None
        try:
            dec = dec.decode("utf-8")
        except UnicodeDecodeError:
            dec = dec.decode("latin-1")
        user, sep, pw = dec.partition(":")
        if not sep:
            return "invalid", user
        ok = user in self.server.state.users and self.server.state.users[user] == pw
        return ("valid" if ok else "invalid"), user

    def update(self):
        srv = self.server
        st = srv.state
        u = urllib.parse.urlsplit(self.path)
        params = {}
        for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True):
            params.setdefault(k.lower(), v)
        auth, user = self.check_auth()
        ua = self.headers.get("User-Agent")
        rec = {"kind": "update", "params": params, "auth": auth, "user": user,
               "forced": False}
        with st.lock:
            st.counters["requests"] += 1
            st.counters["updates"] += 1
            delay = st.delay
            blocked = [a for a in st.blocked_agents if ua and a in ua]
            forced_all = st.take_forced("*")
        if delay > 0:
            time.sleep(delay)

        status = 200
        extra = {}
        lines = None
        results = []
        changed = []

        hostnames = [norm_host(h) for h in params.get("hostname", "").split(",") if h.strip()]

        if forced_all:
            rec["forced"] = True
            status = forced_all["http_status"] or 200
            code = forced_all["code"]
            if code is None:
                lines = None          # only the status is forced: normal processing
                rec["forced"] = "http_status"
            elif code in REQUEST_CODES or not hostnames:
                lines = [code]
            else:
                addr = self.pick_addrs(params)[0]
                lines = [("%s %s" % (code, ",".join(addr))) if code in ("good", "nochg") else code
                         for _ in hostnames]
        if lines is None:
            if self.command not in ("GET", "HEAD"):
                lines = ["badagent"]
                rec["reason"] = "method %s not permitted" % self.command
            elif not ua or not ua.strip():
                lines = ["badagent"]
                rec["reason"] = "no User-Agent"
            elif blocked:
                lines = ["badagent"]
                rec["reason"] = "blocked User-Agent"
            elif auth != "valid":
                lines = ["badauth"]
                if auth == "missing" and not forced_all:
                    status = 401
                    extra["WWW-Authenticate"] = 'Basic realm="DynDNS API Access"'
            elif not hostnames:
                lines = ["notfqdn"]
                rec["reason"] = "no hostname"
            elif len(hostnames) > srv.args.max_hosts:
                lines = ["numhost"]
            else:
                addrs, how = self.pick_addrs(params)
                rec["myip_used"] = addrs
                rec["myip_source"] = how
                lines = []
                for h in hostnames:
                    line, did = self.update_host(h, addrs, params)
                    results.append({"host": h, "answer": line, "changed": did})
                    if did:
                        changed.append(h)
                    lines.append(line)

        answer = "\n".join(lines)
        rec.update({"status": status, "answer": answer, "lines": lines,
                    "hosts": hostnames, "results": results, "dns_changed": changed})
        with st.lock:
            for ln in lines:
                c = ln.split()[0] if ln else ""
                st.counters["answers"][c] = st.counters["answers"].get(c, 0) + 1
            st.counters["dns_changes"] += len(changed)
        self.write_log(rec)
        self.send(status, answer + "\n", extra=extra)

    def pick_addrs(self, params):
        """([addr, ...], source) -- at most one IPv4 and one IPv6."""
        v4 = v6 = None
        given = []
        for key in ("myip", "myipv6"):
            if key in params:
                given += [x for x in params[key].split(",") if x.strip()]
        invalid = False
        for x in given:
            a = parse_ip(x)
            if a is None:
                invalid = True
                continue
            if a.version == 4 and v4 is None:
                v4 = str(a)
            elif a.version == 6 and v6 is None:
                v6 = str(a)
        if v4 or v6:
            return [x for x in (v4, v6) if x], "myip"
        with self.server.state.lock:
            nat = self.server.state.nat_ip
        src = ("invalid-myip:" if invalid else "") + ("nat_ip" if nat else "caller")
        return [nat or self.caller_ip()], src

    def update_host(self, h, addrs, params):
        srv = self.server
        st = srv.state
        with st.lock:
            f = st.take_forced(h)
        shown = ",".join(addrs)
        if f and f["code"]:
            return ("%s %s" % (f["code"], shown)) if f["code"] in ("good", "nochg") else f["code"], False
        if "." not in h:
            return "notfqdn", False
        with st.lock:
            if h not in st.hosts:
                return "nohost", False
            if h in st.abused:
                return "abuse", False
        if params.get("offline", "").upper() == "YES" and not srv.args.donator:
            return "!donator", False
        with st.update_lock:
            try:
                cur = srv.pdns.current(h)
                did = False
                for a in addrs:
                    rtype = "AAAA" if ":" in a else "A"
                    if cur[rtype] != [a]:
                        srv.pdns.replace(h, rtype, a)
                        did = True
            except PdnsError as e:
                srv.note("PowerDNS API error for %s: %s" % (h, e))
                return "dnserr", False
        with st.lock:
            if did:
                st.nochg_streak[h] = 0
                return "good %s" % shown, True
            st.nochg_streak[h] = st.nochg_streak.get(h, 0) + 1
            if st.abuse_after and st.nochg_streak[h] > st.abuse_after:
                st.abused.add(h)
                return "abuse", False
        return "nochg %s" % shown, False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, args, state, pdns, sslctx):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.args = args
        self.state = state
        self.pdns = pdns
        self.sslctx = sslctx
        self.tls = sslctx is not None
        self.log_lock = threading.Lock()
        self.logf = open(args.log, "a", encoding="utf-8") if args.log else None
        super().__init__(addr, Handler)

    def in_zone(self, h):
        z = self.args.zone.rstrip(".").lower()
        return h == z or h.endswith("." + z)

    def note(self, msg):
        sys.stderr.write("dyndns2d: %s\n" % msg)
        sys.stderr.flush()

    def log(self, rec):
        if not self.logf:
            return
        line = json.dumps(rec, sort_keys=True)
        with self.log_lock:
            self.logf.write(line + "\n")
            self.logf.flush()

    def finish_request(self, request, client_address):
        # TLS handshake in the per-connection thread, so a stalled or failing
        # client never blocks the accept loop.
        if self.sslctx is not None:
            request.settimeout(10)
            try:
                request = self.sslctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.log({"ts": round(time.time(), 6), "kind": "tls-error",
                          "client": client_address[0], "error": str(e), "tls": True})
                try:
                    request.close()
                except OSError:
                    pass
                return
            request.settimeout(30)
        else:
            request.settimeout(30)
        try:
            super().finish_request(request, client_address)
        finally:
            if self.sslctx is not None:
                try:
                    request.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        if self.args.verbose:
            super().handle_error(request, client_address)


def parse_listen(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected ADDR:PORT or [V6ADDR]:PORT, got %r" % s)
    return host, int(port)


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().rstrip("\r\n")


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="dyndns2d.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 0), metavar="ADDR:PORT",
                    help="address to listen on; port 0 = ephemeral (default 127.0.0.1:0)")
    ap.add_argument("--port-file", help="write the actual port here once ready")
    ap.add_argument("--pid-file", help="write our pid here once ready")
    ap.add_argument("--tls-cert", help="PEM certificate (chain) -> serve HTTPS")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    ap.add_argument("--pdns-api", required=True,
                    help="PowerDNS API, e.g. http://127.0.0.20:8081 or .../api/v1/servers/localhost")
    ap.add_argument("--pdns-key-file", required=True, help="file holding the X-API-Key")
    ap.add_argument("--zone", required=True, help="zone the hosts live in, e.g. example.test")
    ap.add_argument("--hosts", default="",
                    help="comma-separated hostnames of the account (default gw.ZONE)")
    ap.add_argument("--user", default="test", help="account user name (default test)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--password-file", help="file holding the password (trailing newline ignored)")
    g.add_argument("--password", help="the password (prefer --password-file)")
    ap.add_argument("--credentials-file",
                    help="extra accounts, one 'user:password' per line (all own all hosts)")
    ap.add_argument("--ttl", type=int, default=60, help="TTL of records written (default 60)")
    ap.add_argument("--max-hosts", type=int, default=20, help="more hostnames -> numhost (20)")
    ap.add_argument("--block-agent", action="append", metavar="SUBSTR",
                    help="User-Agent substring answered with badagent (repeatable)")
    ap.add_argument("--abuse-after", type=int, default=0, metavar="N",
                    help="after N nochg answers in a row for a host, answer abuse for it "
                         "from then on (0 = never)")
    ap.add_argument("--nat-ip", default="", help="address /checkip reports and missing myip uses")
    ap.add_argument("--donator", action="store_true", help="allow offline=YES instead of !donator")
    ap.add_argument("--log", help="JSON-lines request log (appended)")
    ap.add_argument("--no-pdns-check", action="store_true",
                    help="start even if the PowerDNS API does not answer")
    ap.add_argument("--verbose", "-v", action="store_true", help="access log on stderr")
    args = ap.parse_args(argv)

    zone = args.zone.rstrip(".").lower()
    args.zone = zone
    hosts = [norm_host(h) for h in (args.hosts or "gw." + zone).split(",") if h.strip()]
    for h in hosts:
        if "." in h and not (h == zone or h.endswith("." + zone)):
            ap.error("host %s is not in zone %s" % (h, zone))
    if args.password_file:
        pw = read_secret(args.password_file)
    elif args.password is not None:
        pw = args.password
    else:
        ap.error("one of --password-file / --password is required")
    users = {args.user: pw}
    if args.credentials_file:
        with open(args.credentials_file, encoding="utf-8") as f:
            for ln in f:
                ln = ln.rstrip("\r\n")
                if ln and not ln.startswith("#") and ":" in ln:
                    u, _, p = ln.partition(":")
                    users[u] = p
    if args.nat_ip and parse_ip(args.nat_ip) is None:
        ap.error("bad --nat-ip")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    pdns = Pdns(args.pdns_api, read_secret(args.pdns_key_file), zone, args.ttl)
    if not args.no_pdns_check:
        try:
            pdns.ping()
        except PdnsError as e:
            sys.stderr.write("dyndns2d: PowerDNS API %s not usable: %s\n" % (pdns.zone_url(), e))
            return 1

    sslctx = None
    if args.tls_cert:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.minimum_version = ssl.TLSVersion.TLSv1_2
        sslctx.load_cert_chain(args.tls_cert, args.tls_key)

    state = State(args, hosts, users)
    srv = Server(args.listen, args, state, pdns, sslctx)
    port = srv.server_address[1]

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.pid_file:
        write_atomic(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    srv.note("listening on %s port %d (%s), zone %s, hosts %s"
             % (args.listen[0], port, "https" if sslctx else "http", zone, ",".join(hosts)))
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        if srv.logf:
            srv.logf.close()
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except OSError:
                pass
    srv.note("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
