# SPDX-License-Identifier: ISC
"""fakesmtp_dialogue.py -- the default SMTP dialogue of tests/fakesmtp.py.

Part of the scripted relay (see the docstring of tests/fakesmtp.py for the
command line, the stages, the scenarios and the transcript format): the
session exceptions, the byte helpers (transcript escaping, command-line
unescaping, reply formatting), the stage names, and Dialogue -- the sane
default dialogue (I/O, transcript lines, STARTTLS, AUTH PLAIN/LOGIN, ETRN)
that every scenario in fakesmtp_scenarios.py subclasses.
"""

import base64
import binascii
import collections
import socket
import ssl
import struct
import time

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


STAGES = ("greeting", "ehlo", "helo", "starttls", "auth-challenge", "auth", "etrn",
          "noop", "rset", "quit", "unknown", "error")


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
