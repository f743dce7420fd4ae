# SPDX-License-Identifier: ISC
"""fakesmtp_scenarios.py -- the scenario table of tests/fakesmtp.py.

Part of the scripted relay (see the docstring of tests/fakesmtp.py for what
each scenario does and its options): the canned ETRN replies (ETRN_TEXT), the
bad-code variants (BAD_CODE), the per-scenario option defaults
(SCENARIO_OPTS), the registry (SCENARIOS, scenario()) and every scenario --
per-relay behaviours (PMDF's ETRN limit, Exim, Sendmail), faults (resets,
stalls, delays), malformed replies, SCRAM.  --list-scenarios prints them in
the order they are registered here.
"""

import base64
import os
import select
import time

from fakesmtp_dialogue import Dialogue, SessionEnd, join_lines, map_text, reply_lines

# Canned ETRN replies for --etrn-reply NODE=CODE (RFC 1985 section 5).
ETRN_TEXT = {
    250: "250 Queuing started",
    251: "251 OK, no messages waiting for node {node}",
    252: "252 OK, pending messages for node {node} started",
    253: "253 OK, {pending} pending messages for node {node} started",
    458: "458 Unable to queue messages for node {node}",
    459: "459 Node {node} not allowed: unknown",
    500: "500 Syntax Error",
    501: "501 Syntax Error in Parameters",
}

# bad-code variants: fn(code, normal_reply) -> bytes.  c is e.g. b"250".
BAD_CODE = {
    "x-in-code": lambda c, d: c[:1] + b"x" + c[2:] + b" hello\r\n",
    "short": lambda c, d: c[:2] + b"\r\n",
    "no-space": lambda c, d: c + b"garbage\r\n",
    "four-digit": lambda c, d: c + b"0 hello\r\n",
    "mixed-codes": lambda c, d: c + b"-a\r\n" + c[:2] + bytes([48 + (c[2] - 47) % 10]) + b" b\r\n",
    "mixed-class": lambda c, d: c + b"-a\r\n" + (b"2" if c[:1] == b"5" else b"5") + c[1:] + b" b\r\n",
    "leading-space": lambda c, d: b" " + d,
    "empty-line": lambda c, d: b"\r\n" + d,
    "bare-lf": lambda c, d: d.replace(b"\r\n", b"\n"),
    "cr-only": lambda c, d: d.replace(b"\r\n", b"\r"),
    "tab": lambda c, d: join_lines([(a, b"\t" if s == b" " else s, t) for a, s, t in reply_lines(d)]),
    # legal or odd-but-legal:
    "lowercase": lambda c, d: d.lower(),
    "code-only": lambda c, d: c + b"\r\n",
    "trailing-space": lambda c, d: c + b" \r\n",
    "extra-spaces": lambda c, d: map_text(d, lambda i, t: t.replace(b" ", b"   ") + b" "),
    "auth-equals": lambda c, d: d.replace(b"-AUTH ", b"-AUTH=PLAIN LOGIN\r\n" + c + b"-AUTH ", 1),
}

# Options whose default depends on the scenario (class attribute of the same name).
SCENARIO_OPTS = {"where": "", "at": 1, "count": 2, "delay": 5.0, "size": 0,
                 "variant": "x-in-code", "pending": 17}


# ---------------------------------------------------------------- scenarios
SCENARIOS = {}


def scenario(name, doc, base=None, **attrs):
    """Register scenario NAME.  As a class decorator, or with base=CLASS to reuse
    a class with other defaults.  attrs: where, at, arg, count, delay, size,
    variant, pending, text ... (class attributes)."""
    def reg(cls):
        SCENARIOS[name] = type(cls.__name__, (cls,), dict(attrs, name=name, doc=doc))
        return cls
    return reg(base) if base is not None else reg


scenario("normal", "the default dialogue", base=Dialogue)
scenario("etrn-codes", "normal; per-node ETRN replies from --etrn-reply NODE=REPLY", base=Dialogue)


@scenario("etrn-253", "ETRN -> 253 OK, N pending messages for node NODE started")
class Etrn253(Dialogue):
    def default_etrn(self, node):
        return (ETRN_TEXT[253].format(pending=self.o.pending, node=node) + "\r\n").encode("latin-1")


@scenario("etrn-limit", "after K ETRNs per session: 458 4.7.1 ETRN session limit reached",
          where="etrn", at=0, arg="count")
class EtrnLimit(Dialogue):
    def fault(self, stage, data):
        return self.o.limit_reply if self.n[stage] > self.o.count else data


NONMAIL = ("ETRN", "NOOP", "VRFY", "EXPN", "HELP")
ONCE_FREE = ("HELO", "EHLO", "RSET", "STARTTLS")


@scenario("exim", "Exim smtp_accept_max_nonmail: the (K+1)th non-mail command gets 554 in "
          "cleartext (even inside TLS) and a drop", arg="count", count=10)
class Exim(Dialogue):
    def dispatch(self, line):
        verb = line.decode("latin-1").strip().partition(" ")[0].upper()
        if not hasattr(self, "nonmail"):
            self.nonmail, self.free = 0, set()
        key = (verb, self.tls)
        if verb in ONCE_FREE and key not in self.free:
            self.free.add(key)
        elif verb in NONMAIL or verb in ONCE_FREE:
            self.nonmail += 1
            if self.nonmail > self.o.count:
                self.log("EVENT", "nonmail-limit %d" % self.o.count)
                data = b"554 Too many nonmail commands\r\n"
                try:
                    os.write(self.sock.fileno(), data)   # below TLS: cleartext
                except OSError:
                    pass
                try:
                    self.sock.close()
                except OSError:
                    pass
                raise SessionEnd("server-close")
        return super().dispatch(line)


@scenario("exim-builtin", "Exim's built-in ETRN: only '#queue'; '501 argument must begin with #', "
          "drop after the 4th syntax error", count=10)
class EximBuiltin(Exim):
    def cmd_ETRN(self, arg):
        if not self.greeted:
            return self.reply("error", b"503 5.5.1 Error: send HELO/EHLO first\r\n")
        if arg.startswith("#") and len(arg) > 1:
            return self.reply("etrn", b"250 OK\r\n")
        self.synprot = getattr(self, "synprot", 0) + 1
        if self.synprot > 3:
            self.reply("etrn", b"501-argument must begin with #\r\n501 Too many syntax or protocol errors\r\n")
            self.log("EVENT", "synprot-limit")
            self.close()
        return self.reply("etrn", b"501 argument must begin with #\r\n")


TARPIT = (0.9, 0.9, 7, 15, 31, 63, 127, 238)


@scenario("sendmail-tarpit", "from the Kth ETRN per session: replies delayed 0.9, 0.9, 7, 15 ... s",
          where="etrn", at=0, arg="count", count=8)
class SendmailTarpit(Dialogue):
    def fault(self, stage, data):
        k = self.n[stage] - self.o.count
        if k < 0:
            return data
        delay = TARPIT[min(k, len(TARPIT) - 1)]
        self.log("EVENT", "tarpit %g" % delay)
        end = time.monotonic() + delay
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return data
            r, _, _ = select.select([self.sock], [], [], min(left, 0.05))
            if r:
                self.drain()
                if self.eof:
                    self.log("EVENT", "client gone during the delay")
                    raise SessionEnd("client-eof")


@scenario("421-mid", "421 4.3.2 Service shutting down + close at the Nth ETRN",
          where="etrn", at=2, arg="at")
class Shutdown421(Dialogue):
    def fault(self, stage, data):
        self.log("EVENT", "421")
        self.send(b"421 4.3.2 Service shutting down\r\n")
        self.close()


class Canned(Dialogue):
    text = b""

    def fault(self, stage, data):
        return self.text


scenario("starttls-454", "STARTTLS -> 454 4.7.0 TLS not available", base=Canned,
         where="starttls", text=b"454 4.7.0 TLS not available\r\n")
scenario("starttls-injection", "STARTTLS -> '220 Ready\\r\\n250 injected\\r\\n' in one send()",
         base=Canned, where="starttls", text=b"220 Ready\r\n250 injected\r\n")


@scenario("no-starttls", "STARTTLS not advertised (502)")
class NoStarttls(Dialogue):
    def caps(self):
        return [c for c in super().caps() if c != "STARTTLS"]


@scenario("no-pipelining", "PIPELINING not advertised (RFC 2920); otherwise normal")
class NoPipelining(Dialogue):
    def caps(self):
        return [c for c in super().caps() if c != "PIPELINING"]


@scenario("no-etrn", "ETRN not advertised; ETRN -> 502 5.5.1")
class NoEtrn(Dialogue):
    def caps(self):
        return [c for c in super().caps() if c != "ETRN"]


@scenario("helo-only", "EHLO -> 502 5.5.2; HELO -> 250")
class HeloOnly(Dialogue):
    def cmd_EHLO(self, arg):
        return self.reply("ehlo", b"502 5.5.2 Error: command not recognized\r\n")


class Reset(Dialogue):
    def fault(self, stage, data):
        self.reset()


class Close(Dialogue):
    def fault(self, stage, data):
        self.log("EVENT", "close")
        self.close()


class Stall(Dialogue):
    def fault(self, stage, data):
        self.stall()
        return None


class StallAfter(Dialogue):
    def fault(self, stage, data):
        self.stall()
        return data          # reply() still sends this one


class Delay(Dialogue):
    def fault(self, stage, data):
        self.log("EVENT", "delay %g" % self.o.delay)
        time.sleep(self.o.delay)
        return data


scenario("reset", "RST at --where/--at (default etrn, 1)", base=Reset, where="etrn")
scenario("reset-greeting", "RST instead of the greeting", base=Reset, where="greeting")
scenario("reset-auth", "RST instead of the final AUTH reply", base=Reset, where="auth")
scenario("reset-etrn", "RST instead of the reply to the Nth ETRN", base=Reset, where="etrn", arg="at")
scenario("close", "close (FIN) without reply at --where/--at (default etrn, 1)", base=Close, where="etrn")
scenario("stall", "stop answering at --where/--at (default etrn, 1)", base=Stall, where="etrn")
scenario("stall-greeting", "accept, never send anything", base=Stall, where="greeting")
scenario("stall-etrn", "never answer the Nth ETRN or anything after", base=Stall, where="etrn", arg="at")
scenario("stall-after-ehlo", "answer the Nth EHLO, then nothing", base=StallAfter, where="ehlo", arg="at")
scenario("delay", "wait --delay s before the reply at --where/--at", base=Delay, where="etrn", arg="delay")
scenario("slow-greeting", "greeting after --delay S seconds", base=Delay, where="greeting", arg="delay")


@scenario("overlong-line", "a --size (1 MiB) reply line without CRLF (--crlf: with)",
          where="greeting", size=1 << 20, arg="size")
class Overlong(Dialogue):
    def fault(self, stage, data):
        code = data[:3]
        if self.o.crlf:
            return code + b"-" + b"x" * self.o.size + b"\r\n" + data
        self.send(code + b" " + b"x" * self.o.size)
        self.stall()
        return None


@scenario("endless-continuation", "'CODE-x' lines forever (or about --size bytes)",
          where="greeting", arg="size")
class Endless(Dialogue):
    def fault(self, stage, data):
        chunk, sent = (data[:3] + b"-x\r\n") * 4096, 0
        self.log("EVENT", "endless")
        while not self.o.size or sent < self.o.size:
            self.send(chunk)
            sent += len(chunk)
        return data


@scenario("nul-bytes", "NUL inside reply lines", where="greeting")
class NulBytes(Dialogue):
    def fault(self, stage, data):
        return map_text(data, lambda i, t: (t[:len(t) // 2] + b"\0" + t[len(t) // 2:] if i == 0 else t) + b"\0")


@scenario("invalid-utf8", "invalid UTF-8 in reply lines", where="greeting")
class InvalidUtf8(Dialogue):
    def fault(self, stage, data):
        return map_text(data, lambda i, t: t + b" \xff\xfe\xc3\x28\xed\xa0\x80\xc0\xaf")


@scenario("split-packets", "every reply one byte per send()", where="any", at=0, delay=0.005)
class SplitPackets(Dialogue):
    def fault(self, stage, data):
        self.split = True
        return data


@scenario("bad-code", "malformed or odd reply codes (--variant, see BAD_CODE)",
          where="greeting", arg="variant")
class BadCode(Dialogue):
    def fault(self, stage, data):
        return BAD_CODE[self.o.variant](data[:3], data)


class Scram(Dialogue):
    """AUTH SCRAM-SHA-256 (RFC 5802/7677) against --user/--password, then
    (variant) the server-final message as it should be, missing, or wrong.
    Advertise it with --auth-mechs "SCRAM-SHA-256 ..."; PLAIN/LOGIN as usual."""
    final = "good"      # good | none (235 without "v=") | bad (wrong "v=")

    def cmd_AUTH(self, arg):
        parts = arg.split()
        if not parts or parts[0].upper() != "SCRAM-SHA-256":
            return super().cmd_AUTH(arg)
        import hashlib
        import hmac
        if not self.greeted or self.authed or not self.offers("AUTH"):
            return self.reply("error", b"503 5.5.1 Error: bad sequence\r\n")
        first = self.decode(parts[1].encode("latin-1")) if len(parts) > 1 else None
        if len(parts) > 1:
            self.log_sasl(parts[1].encode("latin-1"))
        if first is None:
            resp = self.challenge(b"")
            first = None if resp is None else self.decode(resp)
            if first is None:
                return None
        bare = first.split(b",", 2)[2] if first.count(b",") >= 2 else b""
        attrs = dict(a.split(b"=", 1) for a in bare.split(b",") if b"=" in a)
        cnonce = attrs.get(b"r", b"")
        salt, iters = os.urandom(16), 4096
        nonce = cnonce + base64.b64encode(os.urandom(18))
        sfirst = b"r=" + nonce + b",s=" + base64.b64encode(salt) + b",i=%d" % iters
        resp = self.challenge(sfirst)
        cfinal = None if resp is None else self.decode(resp)
        if cfinal is None:
            return None
        without_proof, _, proof = cfinal.rpartition(b",p=")
        pw = (self.o.password or "").encode()
        salted = hashlib.pbkdf2_hmac("sha256", pw, salt, iters)
        ckey = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(ckey).digest()
        authmsg = bare + b"," + sfirst + b"," + without_proof
        csig = hmac.new(stored, authmsg, hashlib.sha256).digest()
        want = base64.b64encode(bytes(a ^ b for a, b in zip(ckey, csig)))
        user = attrs.get(b"n", b"")
        if proof != want or user != (self.o.user or "").encode() or b"r=" + nonce not in cfinal:
            return self.reply("auth", b"535 5.7.8 Error: authentication failed: authentication failure\r\n")
        skey = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        ssig = hmac.new(skey, authmsg, hashlib.sha256).digest()
        if self.final == "bad":
            ssig = bytes(b ^ 0x5A for b in ssig)
        if self.final == "none":
            self.log("EVENT", "235 without server-final")
        else:
            resp = self.challenge(b"v=" + base64.b64encode(ssig))
            if resp is None:
                return None
        self.authed = True
        return self.reply("auth", b"235 2.7.0 Authentication successful\r\n")


scenario("scram", "AUTH SCRAM-SHA-256 with a correct server-final (use --auth-mechs)", base=Scram)
scenario("scram-no-final", "AUTH SCRAM-SHA-256: 235 right after the client proof, no server-final v=",
         base=Scram, final="none")
scenario("scram-bad-final", "AUTH SCRAM-SHA-256: a wrong server signature in v=", base=Scram, final="bad")
