#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""fakesmtp.py -- a scriptable, deliberately misbehaving SMTP relay for etrnpoll tests.

The real relay in the test suite is a real Postfix.  This server exists ONLY for
what no real server does on request: malformed replies, injection attempts,
hangs, resets, odd-but-legal replies.  Python standard library only.

USAGE
  fakesmtp.py --listen ADDR [--port 0] --port-file F --scenario NAME[:ARG]
              [--tls-cert C --tls-key K] [--transcript FILE] [--max-sessions N]
              [--lifetime S] [scenario options]
  fakesmtp.py --list-scenarios

  Ready when F exists (written atomically: tmp file + rename; holds the port
  number and a newline; a stale F is removed at start-up).  Sessions are
  served one after another (a client may reconnect).  Exits 0 on
  SIGTERM/SIGINT or after --max-sessions sessions, and exits 124 by itself
  when --lifetime (default 120 s) is over, so a failing test never leaves it
  running.

DEFAULT DIALOGUE (scenario "normal")
  greeting  220 fake.test ESMTP
  EHLO x    250-fake.test / PIPELINING / ENHANCEDSTATUSCODES / STARTTLS (only
            when --tls-cert is given and TLS is not active yet) / AUTH PLAIN LOGIN
            (only inside TLS, unless --auth-in-clear) / ETRN
  HELO x    250 fake.test
  STARTTLS  220 2.0.0 Ready, then a real TLS handshake (python ssl, server
            side); plaintext the client sent after STARTTLS and before the
            handshake is discarded and recorded (DISCARDED).  After TLS the
            client must EHLO again (ETRN/AUTH before that: 503).
  AUTH      PLAIN / LOGIN (with or without initial response) against --user /
            --password: 235 2.7.0 Authentication successful, else
            535 5.7.8 Error: authentication failed: authentication failure.
            "*" cancels (501 5.7.0), bad base64 gives 501 5.5.2, AUTH when not
            advertised 503 5.5.1, unknown mechanism 504 5.5.4.
  ETRN node 250 Queuing started   (--etrn-reply table first, see below)
            no EHLO/HELO yet: 503 5.5.1; no node: 500 5.5.2;
            --require-tls / --require-auth: 530 5.7.0 until satisfied.
  NOOP, RSET 250 2.0.0 Ok    QUIT 221 2.0.0 Bye, then close
  other     500 5.5.2 Error: command not recognized
            (a client line over 64 KiB: 500 5.5.2 Error: line too long)

STAGES AND TRIGGERS
  Every reply belongs to a stage: greeting ehlo helo starttls auth-challenge
  (the 334 lines) auth (the final AUTH reply) etrn noop rset quit unknown
  error (503/501/530/500 answers to out-of-sequence or malformed commands).
  A scenario acts through fault() when the reply of a stage in --where
  (comma list, or "any") is about to be sent, for the --at'th time in the
  session (0 = every time).  Each scenario has its own defaults for --where
  and --at; --fault-sessions M applies the scenario to sessions 1..M only
  (later sessions get "normal"), so "fail once, then succeed on reconnect"
  is easy to test.  --reply STAGE=TEXT replaces the normal reply of a stage
  in every scenario (TEXT as for --etrn-reply).

SCENARIOS  (--scenario NAME or NAME:ARG; ARG sets the option in brackets)
  normal               the default dialogue
  etrn-codes           normal; use with --etrn-reply NODE=REPLY (repeatable,
                       works in every scenario): REPLY is a bare code (251 ->
                       "251 OK, no messages waiting for node NODE", see
                       ETRN_TEXT) or a full reply with escapes \\r \\n \\t \\0 \\\\
                       \\xHH and {node}; CRLF appended if missing; multi-line
                       allowed ("250-Queuing\\r\\n250 started").  NODE is
                       matched exactly, then case-insensitively, then "*".
  etrn-253             ETRN: 253 OK, 17 pending messages for node NODE started
                       (--pending N)
  etrn-limit[:K]       after K (--count, default 2) ETRNs in a session, further
                       ETRNs get 458 4.7.1 ETRN session limit reached
                       (--limit-reply TEXT: another reply, e.g. PMDF before
                       Messaging Server 7.0.5: "550 5.7.1 ETRN session limit
                       reached"); the session stays open, as PMDF's does
  exim[:K]             Exim's smtp_accept_max_nonmail (--count, default 10):
                       ETRN, NOOP, VRFY, EXPN, HELP and a second HELO/EHLO/
                       RSET/STARTTLS per TLS state count; the (K+1)th gets
                       "554 Too many nonmail commands" written IN CLEARTEXT on
                       the socket even inside TLS (as measured against Exim
                       4.96), then the connection is closed
  exim-builtin         Exim without smtp_etrn_command: only "ETRN #queue"
                       (250 OK); any other node -> "501 argument must begin
                       with #"; the 4th such error -> "501-argument must begin
                       with #" / "501 Too many syntax or protocol errors" and
                       the connection is closed (smtp_max_synprot_errors 3);
                       non-mail commands count as in "exim"
  sendmail-tarpit[:K]  Sendmail's MAXETRNCOMMANDS (--count, default 8): from
                       the Kth ETRN of a session on, the reply is delayed
                       0.9, 0.9, 7, 15, 31, 63, 127, 238 s (measured on 8.17).
                       Unlike Sendmail (one process per connection), this
                       server is sequential: a delayed session ends as soon
                       as the client hangs up, so a reconnect is served
  421-mid[:N]          at the Nth (--at, default 2) ETRN: 421 4.3.2 Service
                       shutting down, then close
  no-starttls          STARTTLS not advertised; STARTTLS -> 502 5.5.1
  starttls-454         STARTTLS advertised, answered 454 4.7.0 TLS not available
                       (session continues in plaintext)
  starttls-injection   STARTTLS answered "220 Ready\\r\\n250 injected\\r\\n" in ONE
                       send() (one TCP segment, TCP_NODELAY), then the TLS
                       handshake as usual
  no-etrn              ETRN not advertised; ETRN -> 502 5.5.1 Error: command not
                       implemented
  no-pipelining        PIPELINING not advertised; otherwise normal (a client that
                       pipelines anyway shows PIPELINED lines in the transcript)
  helo-only            EHLO -> 502 5.5.2 Error: command not recognized; HELO ok
  overlong-line        at --where (default greeting): "CODE " + --size (default
                       1 MiB) bytes of "x", no CRLF, then stall.  With --crlf:
                       "CODE-xxx...\\r\\n" followed by the normal reply
  endless-continuation at --where (default greeting): "CODE-x\\r\\n" forever (until
                       the client closes or --lifetime); with --size N stop
                       after about N bytes and send the normal reply
  nul-bytes            at --where (default greeting): NUL inserted in the middle
                       of the first line's text and at the end of every line
                       ("220 fake.te\\0st ESMTP\\0\\r\\n")
  invalid-utf8         at --where (default greeting): " \\xff\\xfe\\xc3(\\xed\\xa0\\x80
                       \\xc0\\xaf" appended to every line's text
  split-packets        every reply (--where any) sent one byte per send() with
                       --delay (default 0.005 s) between bytes
  bad-code[:VARIANT]   at --where (default greeting) the reply is replaced by
                       BAD_CODE[VARIANT] (--variant, default x-in-code); see the
                       BAD_CODE table (C = the stage's normal code, e.g. 250):
                       x-in-code "2x0 hello", short "25", no-space "250garbage",
                       four-digit "2500 hello", mixed-codes "250-a\\r\\n251 b",
                       mixed-class "250-a\\r\\n550 b", leading-space " 250 ...",
                       empty-line "\\r\\n" before the reply, bare-lf (LF only),
                       cr-only (CR only: no line end at all), tab "250\\t...";
                       legal or odd-but-legal: lowercase (whole reply
                       lowercased, e.g. "250-starttls"), code-only "250",
                       trailing-space "250 ", extra-spaces (runs of spaces
                       and a trailing space in every text), auth-equals (an
                       extra "250-AUTH=PLAIN LOGIN" line before AUTH)
  reset-greeting       RST (SO_LINGER 0 + close) instead of the greeting
  reset-auth           RST instead of the final AUTH reply (after the client
                       sent its credentials: "mid-AUTH")
  reset-etrn[:N]       RST instead of the reply to the Nth ETRN (--at, default 1)
  reset / close / stall / delay   generic: RST / close (FIN, no reply) / stop
                       answering / wait --delay seconds, at --where (default
                       etrn) and --at (default 1)
  stall-greeting       accept and never send anything (client lines still
                       recorded)
  stall-after-ehlo[:N] answer the Nth EHLO (--at, default 1), then never answer
                       anything again
  stall-etrn[:N]       never answer the Nth ETRN (--at, default 1) or anything
                       after it
  slow-greeting[:S]    greeting after S seconds (--delay, default 5)
  scram / scram-no-final / scram-bad-final   AUTH SCRAM-SHA-256 (advertise it
                       with --auth-mechs): server-final "v=" correct / left
                       out (235 right after the client proof) / wrong
  Adding one: subclass Dialogue, override fault() (or caps()/cmd_X()), and
  register it with @scenario(name, doc, where=..., at=..., arg=...).

TLS
  --tls-cert/--tls-key enable STARTTLS (and are required by --implicit-tls:
  TLS from the first byte, port-465 style).  --tls-min-version and
  --tls-max-version (1.0 1.1 1.2 1.3) bound the protocol; when either allows
  < 1.2 the cipher string becomes "ALL:@SECLEVEL=0" (or --tls-ciphers), since
  at OpenSSL 3's default security level TLS 1.0/1.1 fail with "no suitable
  signature algorithm" (SHA-1 handshake signatures).  SNI sent by the client
  is recorded.

TRANSCRIPT (--transcript FILE, truncated at start, flushed per line, ASCII)
  "# fakesmtp ..." header, then one line per event:  #<session> <TAG>[ <data>]
  data escaping: bytes 0x20-0x7e as is except "\\" -> "\\\\"; others \\xHH
    CONNECT ip port   a session started (sessions numbered from 1)
    C line            a CRLF-terminated client line received in clear text
    T line            the same, received inside TLS
    C-LF / T-LF       a line ended by a bare LF
    C-EOF / T-EOF     unterminated bytes when the client closed
    C-LONG / T-LONG   first 200 bytes of a line over 64 KiB, "... (N bytes)"
    PIPELINED         the line above had arrived before the server sent its
                      previous reply (or the greeting): pipelining or early
                      talking.  Sound, not complete (only what had arrived).
    SASL-C / SASL-T   base64-decoded SASL data of the AUTH line/response above
                      (e.g. "\\x00alice\\x00secret"), so tests can grep for a
                      password in clear text
    DISCARDED bytes   plaintext received after STARTTLS before the handshake
    TLS version cipher sni=NAME|-   handshake done (STARTTLS or implicit);
                      version as Python reports it: TLSv1 TLSv1.1 TLSv1.2 TLSv1.3
    TLS-FAIL reason   handshake failed (session ends)
    EVENT what        a scenario action: reset, stall, close, 421, delay ...;
                      "EVENT closing" precedes lines the client sent after the
                      server's final reply (QUIT/421), read for up to --linger
    CLOSE reason      client-eof client-reset server-close server-reset
                      idle-timeout send-failed tls-failed shutdown server-error
  Examples:  grep -Eq '^#1 [CT] QUIT$'     ! grep -Eiq '^#[0-9]+ [CT] AUTH'
             ! grep -E '^#[0-9]+ (C|C-LF|C-EOF|SASL-C) ' F | grep -q secret
"""

import argparse
import base64
import binascii
import collections
import os
import select
import signal
import socket
import ssl
import struct
import sys
import time
import traceback
import warnings

MAXLINE = 65536


class SessionEnd(Exception):
    """Ends the current session; args[0] is the CLOSE reason."""


class Shutdown(BaseException):
    """Ends the server (signal, lifetime); args[0] is the exit code."""


def esc(data):
    """Bytes -> one line of printable ASCII (see TRANSCRIPT in the docstring)."""
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def unescape(text):
    """Command-line text -> bytes: \\r \\n \\t \\0 \\\\ \\xHH (latin-1 otherwise)."""
    out, i = bytearray(), 0
    simple = {"r": 13, "n": 10, "t": 9, "0": 0, "\\": 92}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nx = text[i + 1]
            if nx in simple:
                out.append(simple[nx])
                i += 2
                continue
            hexdigits = text[i + 2:i + 4]
            if nx == "x" and len(hexdigits) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexdigits):
                out.append(int(hexdigits, 16))
                i += 4
                continue
        out += ch.encode("utf-8") if ord(ch) > 255 else bytes([ord(ch)])
        i += 1
    return bytes(out)


def fmt_reply(code, lines):
    """250, ["a", "b"] -> b"250-a\\r\\n250 b\\r\\n"."""
    out = b""
    for i, line in enumerate(lines):
        sep = b" " if i == len(lines) - 1 else b"-"
        out += b"%d%s%s\r\n" % (code, sep, line.encode() if isinstance(line, str) else line)
    return out


def reply_lines(data):
    """b"250-a\\r\\n250 b\\r\\n" -> [(b"250", b"-", b"a"), (b"250", b" ", b"b")]."""
    return [(l[:3], l[3:4] or b" ", l[4:]) for l in data.split(b"\r\n") if l]


def join_lines(lines):
    return b"".join(c + s + t + b"\r\n" for c, s, t in lines)


def map_text(data, fn):
    """Apply fn(index, text) to the text of every line of a reply."""
    return join_lines([(c, s, fn(i, t)) for i, (c, s, t) in enumerate(reply_lines(data))])


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

STAGES = ("greeting", "ehlo", "helo", "starttls", "auth-challenge", "auth", "etrn",
          "noop", "rset", "quit", "unknown", "error")

# Options whose default depends on the scenario (class attribute of the same name).
SCENARIO_OPTS = {"where": "", "at": 1, "count": 2, "delay": 5.0, "size": 0,
                 "variant": "x-in-code", "pending": 17}


class Dialogue:
    """The sane default dialogue; scenarios subclass it."""

    name = "normal"
    doc = "the default dialogue"
    arg = None          # option set by --scenario NAME:ARG

    def __init__(self, srv, sock, peer, num, faulty):
        self.srv, self.o, self.sock, self.peer, self.num = srv, srv.opts, sock, peer, num
        self.faulty = faulty
        self.buf = b""
        self.eof = False
        self.early = 0          # bytes in buf that arrived before the last reply
        self.skipping = None    # [head, length] while discarding an overlong line
        self.tls = False
        self.greeted = False
        self.authed = False
        self.stalled = False
        self.split = False
        self.n = collections.Counter()
        self.sock.settimeout(self.o.idle_timeout or None)

    # ---- transcript -------------------------------------------------------
    def log(self, tag, data=None):
        self.srv.log(self.num, tag, data)

    def ch(self):
        return "T" if self.tls else "C"

    # ---- scenario hooks ---------------------------------------------------
    def caps(self):
        c = ["PIPELINING", "ENHANCEDSTATUSCODES"]
        if self.srv.tls_ctx is not None and not self.tls:
            c.append("STARTTLS")
        if self.tls or self.o.auth_in_clear:
            c.append("AUTH " + self.o.auth_mechs)
        c += self.o.ehlo_extra
        c.append("ETRN")
        return c

    def fault(self, stage, data):
        """Called instead of sending `data` when the trigger matches.  Return the
        bytes to send (or None to send nothing); may send, sleep, reset, stall."""
        return data

    def default_etrn(self, node):
        return b"250 Queuing started\r\n"

    # ---- helpers for scenarios ---------------------------------------------
    def offers(self, keyword):
        return any(c.split()[0].upper() == keyword for c in self.caps())

    def stall(self):
        if not self.stalled:
            self.log("EVENT", "stall")
        self.stalled = True

    def reset(self):
        self.log("EVENT", "reset")
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()   # no close_notify for TLS: SSLSocket.close() just drops it
        raise SessionEnd("server-reset")

    def close(self):
        """Graceful close: record what the client still sends (up to --linger
        seconds or its EOF), send close_notify in TLS, then FIN."""
        self.log("EVENT", "closing")
        deadline = time.monotonic() + self.o.linger
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                self.read_line()
        except (SessionEnd, OSError):
            pass
        if self.tls:
            try:
                self.sock.setblocking(False)
                self.sock.unwrap()
            except (OSError, ValueError):
                pass
        try:
            self.sock.close()
        except OSError:
            pass
        raise SessionEnd("server-close")

    # ---- I/O -------------------------------------------------------------
    def drain(self):
        """Pull whatever already arrived into buf without blocking."""
        if self.eof:
            return
        try:
            self.sock.setblocking(False)
            while True:
                d = self.sock.recv(65536)
                if not d:
                    self.eof = True
                    break
                self.buf += d
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError, InterruptedError):
            pass
        except OSError:
            pass
        finally:
            try:
                self.sock.settimeout(self.o.idle_timeout or None)
            except OSError:
                pass

    def send(self, data):
        """Send raw bytes: one sendall() (one send() for small data), or one
        byte per send() in split mode."""
        self.drain()
        self.early = len(self.buf)
        self.srv.debug("S%d> %s" % (self.num, esc(data[:300])))
        try:
            if self.split:
                for i in range(len(data)):
                    self.sock.send(data[i:i + 1])
                    time.sleep(self.o.delay)
            else:
                self.sock.sendall(data)
        except (OSError, ValueError) as e:
            raise SessionEnd("send-failed") from e

    def triggered(self, stage):
        if not self.faulty:
            return False
        where = self.o.where
        return (stage in where or "any" in where) and (self.o.at == 0 or self.n[stage] == self.o.at)

    def reply(self, stage, data):
        """Send the reply of a stage through the scenario; returns what was sent
        (None if nothing)."""
        if self.stalled:
            return None
        self.n[stage] += 1
        if stage in self.o.reply_override:
            data = self.o.reply_override[stage]
        if self.triggered(stage):
            data = self.fault(stage, data)
        if data is not None:     # also when fault() stalled *after* this reply
            self.send(data)
        return data

    def read_line(self):
        """Next client line (bytes, no EOL), recorded in the transcript; None for
        an overlong line.  Raises SessionEnd at EOF/errors."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                raw, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                pipelined = self.early > 0
                self.early = max(0, self.early - len(raw))
                if not self.skipping and len(raw) > MAXLINE:
                    self.skipping = [raw[:200], 0]
                if self.skipping:
                    head, n = self.skipping
                    self.skipping = None
                    self.log(self.ch() + "-LONG", "%s ... (%d bytes)" % (esc(head), n + len(raw)))
                    return None
                if raw.endswith(b"\r\n"):
                    line, tag = raw[:-2], self.ch()
                else:
                    line, tag = raw[:-1], self.ch() + "-LF"
                self.log(tag, esc(line))
                if pipelined:
                    self.log("PIPELINED")
                return line
            if len(self.buf) > MAXLINE or (self.skipping and self.buf):
                if not self.skipping:
                    self.skipping = [self.buf[:200], 0]
                self.skipping[1] += len(self.buf)
                self.buf = b""
                self.early = 0
            if self.eof:
                if self.skipping:
                    head, n = self.skipping
                    self.log(self.ch() + "-LONG", "%s ... (%d bytes, no EOL)" % (esc(head), n))
                elif self.buf:
                    self.log(self.ch() + "-EOF", esc(self.buf))
                raise SessionEnd("client-eof")
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                raise SessionEnd("idle-timeout")
            except ConnectionResetError:
                raise SessionEnd("client-reset")
            except ssl.SSLError as e:
                raise SessionEnd("client-tls-error: %s" % e.reason)
            except OSError as e:
                raise SessionEnd("client-error: %s" % e)
            if not d:
                self.eof = True
            self.buf += d

    def log_sasl(self, text):
        try:
            raw = b"" if text.strip() == b"=" else base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        self.log("SASL-" + self.ch(), esc(raw))
        return raw

    # ---- TLS -------------------------------------------------------------
    def start_tls(self):
        self.srv.sni = None
        try:
            s = self.srv.tls_ctx.wrap_socket(self.sock, server_side=True,
                                             do_handshake_on_connect=False)
        except (OSError, ValueError) as e:
            self.log("TLS-FAIL", esc(str(e).encode()))
            raise SessionEnd("tls-failed")
        self.sock = s
        try:
            s.do_handshake()
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or str(e) or type(e).__name__
            self.log("TLS-FAIL", esc(str(reason).encode()))
            raise SessionEnd("tls-failed")
        self.tls, self.greeted, self.authed = True, False, False
        self.buf, self.early, self.eof = b"", 0, False
        self.log("TLS", "%s %s sni=%s" % (s.version(), s.cipher()[0], self.srv.sni or "-"))

    # ---- session -----------------------------------------------------------
    def run(self):
        self.log("CONNECT", "%s %s" % (self.peer[0], self.peer[1]))
        if self.o.implicit_tls:
            self.start_tls()
        if self.o.greeting_delay:
            time.sleep(self.o.greeting_delay)
        self.reply("greeting", b"220 %s ESMTP\r\n" % self.o.hostname.encode())
        while True:
            line = self.read_line()
            if self.stalled:
                continue
            if line is None:
                self.reply("error", b"500 5.5.2 Error: line too long\r\n")
                continue
            self.dispatch(line)

    def dispatch(self, line):
        text = line.decode("latin-1")
        verb, _, arg = text.strip().partition(" ")
        handler = None
        if verb.isascii() and verb.isalpha():
            handler = getattr(self, "cmd_" + verb.upper(), None)
        if handler is None:
            return self.reply("unknown", b"500 5.5.2 Error: command not recognized\r\n")
        return handler(arg.strip())

    # ---- commands ------------------------------------------------------------
    def cmd_EHLO(self, arg):
        if not arg:
            return self.reply("error", b"501 5.5.4 Syntax: EHLO hostname\r\n")
        self.greeted = True
        return self.reply("ehlo", fmt_reply(250, [self.o.hostname] + self.caps()))

    def cmd_HELO(self, arg):
        if not arg:
            return self.reply("error", b"501 5.5.4 Syntax: HELO hostname\r\n")
        self.greeted = True
        return self.reply("helo", b"250 %s\r\n" % self.o.hostname.encode())

    def cmd_STARTTLS(self, arg):
        if self.tls:
            return self.reply("error", b"554 5.5.1 Error: TLS already active\r\n")
        if not self.offers("STARTTLS"):
            return self.reply("starttls", b"502 5.5.1 Error: command not implemented\r\n")
        if arg:
            return self.reply("error", b"501 5.5.4 Syntax: STARTTLS\r\n")
        sent = self.reply("starttls", b"220 2.0.0 Ready\r\n")
        if sent is None or not sent.startswith(b"220") or self.srv.tls_ctx is None:
            return None
        if self.buf:
            self.log("DISCARDED", esc(self.buf))
        self.buf, self.early = b"", 0
        self.start_tls()
        return sent

    def challenge(self, prompt):
        if self.reply("auth-challenge", b"334 " + base64.b64encode(prompt) + b"\r\n") is None:
            return None
        line = self.read_line()
        if line is None:
            self.reply("error", b"500 5.5.2 Error: line too long\r\n")
            return None
        if line.strip() == b"*":
            self.reply("auth", b"501 5.7.0 Authentication aborted\r\n")
            return None
        self.log_sasl(line)
        return line

    def decode(self, resp):
        try:
            return b"" if resp.strip() == b"=" else base64.b64decode(resp.strip(), validate=True)
        except (binascii.Error, ValueError):
            self.reply("auth", b"501 5.5.2 Cannot decode response\r\n")
            return None

    def cmd_AUTH(self, arg):
        parts = arg.split()
        ir = parts[1].encode("latin-1") if len(parts) > 1 else None
        if ir is not None:
            self.log_sasl(ir)
        if not self.greeted:
            return self.reply("error", b"503 5.5.1 Error: send HELO/EHLO first\r\n")
        if self.authed:
            return self.reply("error", b"503 5.5.1 Error: already authenticated\r\n")
        if not parts:
            return self.reply("error", b"501 5.5.4 Syntax: AUTH mechanism\r\n")
        if not self.offers("AUTH"):
            return self.reply("error", b"503 5.5.1 Error: authentication not enabled\r\n")
        mech = parts[0].upper()
        if mech not in ("PLAIN", "LOGIN") or mech not in self.o.auth_mechs.upper().split():
            return self.reply("error", b"504 5.5.4 Unrecognized authentication type\r\n")
        if mech == "PLAIN":
            resp = ir if ir is not None else self.challenge(b"")
            raw = None if resp is None else self.decode(resp)
            if raw is None:
                return None
            f = raw.split(b"\0")
            user, pw = (f[1], f[2]) if len(f) == 3 else (None, None)
        else:
            resp = ir if ir is not None else self.challenge(b"Username:")
            user = None if resp is None else self.decode(resp)
            if user is None:
                return None
            resp = self.challenge(b"Password:")
            pw = None if resp is None else self.decode(resp)
            if pw is None:
                return None
        ok = (self.o.user is not None and user == self.o.user.encode()
              and pw == (self.o.password or "").encode())
        self.authed = ok
        return self.reply("auth", b"235 2.7.0 Authentication successful\r\n" if ok else
                          b"535 5.7.8 Error: authentication failed: authentication failure\r\n")

    def cmd_ETRN(self, arg):
        if not self.offers("ETRN"):
            return self.reply("etrn", b"502 5.5.1 Error: command not implemented\r\n")
        if not self.greeted:
            return self.reply("error", b"503 5.5.1 Error: send HELO/EHLO first\r\n")
        if self.o.require_tls and not self.tls:
            return self.reply("error", b"530 5.7.0 Must issue a STARTTLS command first\r\n")
        if self.o.require_auth and not self.authed:
            return self.reply("error", b"530 5.7.0 Authentication required\r\n")
        if not arg:
            return self.reply("error", b"500 5.5.2 Syntax: ETRN domain\r\n")
        table = self.o.etrn_replies
        r = table.get(arg)
        if r is None:
            r = next((v for k, v in table.items() if k.lower() == arg.lower()), table.get("*"))
        data = self.default_etrn(arg) if r is None else r.replace(b"{node}", arg.encode("latin-1"))
        return self.reply("etrn", data)

    def cmd_NOOP(self, arg):
        return self.reply("noop", b"250 2.0.0 Ok\r\n")

    def cmd_RSET(self, arg):
        return self.reply("rset", b"250 2.0.0 Ok\r\n")

    def cmd_QUIT(self, arg):
        if self.reply("quit", b"221 2.0.0 Bye\r\n") is not None:
            self.close()


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


# ------------------------------------------------------------------- server
class Server:
    def __init__(self, opts, cls):
        self.opts, self.cls = opts, cls
        self.sni = None
        self.tls_ctx = self.make_tls() if opts.tls_cert else None
        self.tfile = open(opts.transcript, "w", encoding="ascii") if opts.transcript else None

    def make_tls(self):
        o = self.opts
        vers = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if o.tls_ciphers:   # before loading: "@SECLEVEL=0" admits a 1024-bit RSA key
            ctx.set_ciphers(o.tls_ciphers)
        ctx.load_cert_chain(o.tls_cert, o.tls_key or o.tls_cert)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = any(v in ("1.0", "1.1") for v in (o.tls_min_version, o.tls_max_version))
            if o.tls_ciphers or old:
                ctx.set_ciphers(o.tls_ciphers or "ALL:@SECLEVEL=0")
            if o.tls_min_version:
                ctx.minimum_version = vers[o.tls_min_version]
            elif old:
                ctx.minimum_version = ssl.TLSVersion.TLSv1
            if o.tls_max_version:
                ctx.maximum_version = vers[o.tls_max_version]

        def sni_cb(sslobj, name, c):
            self.sni = name
        ctx.sni_callback = sni_cb
        return ctx

    def debug(self, msg):
        if self.opts.verbose:
            print("fakesmtp: " + msg, file=sys.stderr, flush=True)

    def log(self, num, tag, data=None):
        line = "#%d %s%s" % (num, tag, "" if data is None else " " + data)
        self.debug(line)
        if self.tfile:
            self.tfile.write(line + "\n")
            self.tfile.flush()

    def serve(self):
        o = self.opts
        if o.port_file:
            try:
                os.unlink(o.port_file)
            except FileNotFoundError:
                pass
        fam = socket.AF_INET6 if ":" in o.listen else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((o.listen, o.port))
        ls.listen(16)
        port = ls.getsockname()[1]
        if self.tfile:
            self.tfile.write("# fakesmtp scenario=%s pid=%d listen=%s port=%d\n"
                             % (self.cls.name, os.getpid(), o.listen, port))
            self.tfile.flush()
        if o.port_file:
            tmp = "%s.tmp%d" % (o.port_file, os.getpid())
            with open(tmp, "w") as f:
                f.write("%d\n" % port)
            os.replace(tmp, o.port_file)
        else:
            print(port, flush=True)
        self.debug("scenario %s on %s port %d" % (self.cls.name, o.listen, port))
        num = 0
        try:
            while not o.max_sessions or num < o.max_sessions:
                conn, peer = ls.accept()
                num += 1
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                faulty = not o.fault_sessions or num <= o.fault_sessions
                d, reason = None, "server-error"
                try:
                    d = (self.cls if faulty else Dialogue)(self, conn, peer, num, faulty)
                    d.run()
                except SessionEnd as e:
                    reason = e.args[0]
                except Shutdown:
                    reason = "shutdown"
                    raise
                except Exception:
                    traceback.print_exc()
                finally:
                    for s in (getattr(d, "sock", conn), conn):
                        try:
                            s.close()
                        except OSError:
                            pass
                    self.log(num, "CLOSE", reason)
        finally:
            ls.close()
        return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description="misbehaving SMTP relay for etrnpoll tests",
                                epilog="see the module docstring (head of this file)")
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--scenario", default="normal", help="NAME or NAME:ARG")
    p.add_argument("--list-scenarios", action="store_true")
    p.add_argument("--transcript")
    p.add_argument("--max-sessions", type=int, default=0, help="exit after N sessions (0: no limit)")
    p.add_argument("--fault-sessions", type=int, default=0, help="scenario only in sessions 1..M")
    p.add_argument("--lifetime", type=float, default=120.0, help="exit (124) after S seconds; 0: never")
    p.add_argument("--idle-timeout", type=float, default=60.0, help="end a session after S s of client silence")
    p.add_argument("--linger", type=float, default=1.0, help="after QUIT/421, record client lines for S s")
    p.add_argument("--hostname", default="fake.test")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--tls-min-version", choices=["1.0", "1.1", "1.2", "1.3"])
    p.add_argument("--tls-max-version", choices=["1.0", "1.1", "1.2", "1.3"])
    p.add_argument("--tls-ciphers", help="OpenSSL cipher string (TLS <= 1.2)")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--auth-in-clear", action="store_true", help="advertise AUTH before TLS")
    p.add_argument("--auth-mechs", default="PLAIN LOGIN", help="advertised mechanisms")
    p.add_argument("--ehlo-extra", action="append", default=[], help="extra EHLO keyword line")
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--require-auth", action="store_true")
    p.add_argument("--etrn-reply", action="append", default=[], metavar="NODE=REPLY")
    p.add_argument("--reply", action="append", default=[], metavar="STAGE=REPLY")
    p.add_argument("--where", help="comma list of stages or 'any'")
    p.add_argument("--at", type=int, help="Nth reply of the stage in a session (0: every)")
    p.add_argument("--count", type=int, help="etrn-limit K")
    p.add_argument("--delay", type=float, help="seconds (slow-greeting, delay, split-packets)")
    p.add_argument("--size", type=int, help="bytes (overlong-line, endless-continuation)")
    p.add_argument("--crlf", action="store_true", help="overlong-line: terminate the line")
    p.add_argument("--variant", help="bad-code variant: " + " ".join(BAD_CODE))
    p.add_argument("--pending", type=int, help="etrn-253 message count")
    p.add_argument("--greeting-delay", type=float, default=0.0,
                   help="every session: wait S seconds before the greeting (any scenario)")
    p.add_argument("--limit-reply", default="458 4.7.1 ETRN session limit reached",
                   help="etrn-limit: the reply once the limit is reached")
    p.add_argument("-v", "--verbose", action="store_true")
    o = p.parse_args(argv)
    if o.list_scenarios:
        for name, cls in SCENARIOS.items():
            print("%-22s %s" % (name + (":" + cls.arg.upper() if cls.arg else ""), cls.doc))
        sys.exit(0)
    name, _, sarg = o.scenario.partition(":")
    if name not in SCENARIOS:
        p.error("unknown scenario %r (try --list-scenarios)" % name)
    cls = SCENARIOS[name]
    if sarg:
        if not cls.arg:
            p.error("scenario %s takes no :ARG" % name)
        setattr(o, cls.arg, sarg)
    for key, dflt in SCENARIO_OPTS.items():
        if getattr(o, key) is None:
            setattr(o, key, getattr(cls, key, dflt))
    try:
        o.at, o.count, o.size, o.pending = int(o.at), int(o.count), int(o.size), int(o.pending)
        o.delay = float(o.delay)
    except ValueError as e:
        p.error(str(e))
    o.where = frozenset(w.strip() for w in str(o.where).split(",") if w.strip())
    bad = o.where - set(STAGES) - {"any"}
    if bad:
        p.error("unknown stage(s) %s; stages: %s any" % (",".join(sorted(bad)), " ".join(STAGES)))
    if o.variant not in BAD_CODE:
        p.error("unknown --variant %r; variants: %s" % (o.variant, " ".join(BAD_CODE)))
    o.etrn_replies = {}
    for spec in o.etrn_reply:
        node, eq, val = spec.partition("=")
        if not eq or not node:
            p.error("--etrn-reply wants NODE=REPLY")
        if val.strip().isdigit() and len(val.strip()) == 3:
            code = int(val.strip())
            val = ETRN_TEXT.get(code, "%d ETRN reply for node {node}" % code).replace(
                "{pending}", str(o.pending))
        data = unescape(val)
        o.etrn_replies[node] = data if data.endswith(b"\n") else data + b"\r\n"
    o.limit_reply = unescape(o.limit_reply)
    if not o.limit_reply.endswith(b"\n"):
        o.limit_reply += b"\r\n"
    o.reply_override = {}
    for spec in o.reply:
        stage, eq, val = spec.partition("=")
        if not eq or stage not in STAGES:
            p.error("--reply wants STAGE=REPLY, stages: " + " ".join(STAGES))
        data = unescape(val)
        o.reply_override[stage] = data if data.endswith(b"\n") else data + b"\r\n"
    if o.implicit_tls and not o.tls_cert:
        p.error("--implicit-tls needs --tls-cert/--tls-key")
    return o, cls


def main(argv):
    o, cls = parse_args(argv)

    def on_signal(signum, frame):
        raise Shutdown(124 if signum == signal.SIGALRM else 0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    if o.lifetime > 0:
        signal.setitimer(signal.ITIMER_REAL, o.lifetime)
    srv = Server(o, cls)
    try:
        return srv.serve()
    except Shutdown as e:
        if e.args[0] == 124:
            print("fakesmtp: lifetime (%g s) over, exiting" % o.lifetime, file=sys.stderr)
        return e.args[0]
    finally:
        if srv.tfile:
            srv.tfile.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
