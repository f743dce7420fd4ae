#!/bin/sh
# SPDX-License-Identifier: ISC
# fakesmtp-selftest.sh [TEST...] -- check that tests/fakesmtp.py puts on the
# wire what each scenario promises, byte for byte, using a Python stdlib client
# (and gnutls-cli for the TLS version checks).  Loopback 127.0.0.30, ephemeral
# ports, throw-away CA from tests/lib/mkca.sh.  Exit 0 pass, 1 fail.
# TEST names: see "@test" functions below (default: all).  FAKESMTP_KEEP=1
# keeps the work directory (transcripts, server stderr).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/isolate.sh"
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/fakesmtp-selftest.XXXXXX")
if [ "${FAKESMTP_KEEP:-0}" = 1 ]; then
    echo "fakesmtp-selftest: work dir $work"
else
    trap 'rm -rf "$work"' EXIT
fi
if ! sh "$here/lib/mkca.sh" "$work/ca" fake.test >"$work/mkca.log" 2>&1; then
    echo "fakesmtp-selftest: mkca.sh failed:"; cat "$work/mkca.log"; exit 1
fi
rc=0
"$PY" - "$here/fakesmtp.py" "$work" "$@" <<'PYEOF' || rc=$?
import base64, os, re, shutil, signal, socket, ssl, subprocess, sys, time, traceback, warnings

FAKE, WORK, ONLY = sys.argv[1], sys.argv[2], sys.argv[3:]
CA = WORK + "/ca"
ADDR = "127.0.0.30"
PY = "/usr/bin/python3"
warnings.simplefilter("ignore", DeprecationWarning)
FAILS, TESTS, counter = [], [], [0]


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got[:300] if isinstance(got, bytes) else got, want))


def test(fn):
    TESTS.append(fn)
    return fn


class Fake:
    """One fakesmtp.py process."""

    def __init__(self, scenario, *args, tls=True, lifetime=60):
        counter[0] += 1
        n = counter[0]
        self.pf, self.tr, self.err = ("%s/%s.%d" % (WORK, k, n) for k in ("port", "transcript", "stderr"))
        cmd = [PY, FAKE, "--listen", ADDR, "--port", "0", "--port-file", self.pf,
               "--transcript", self.tr, "--scenario", scenario, "--lifetime", str(lifetime),
               "--linger", "0.3", "--user", "alice", "--password", "s3cret"]
        if tls:
            cmd += ["--tls-cert", CA + "/fake.test.pem", "--tls-key", CA + "/fake.test.key"]
        cmd += list(args)
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.err, "w"))
        deadline = time.time() + 10
        while not os.path.exists(self.pf):
            if self.p.poll() is not None:
                raise Fail("fakesmtp exited %s: %s" % (self.p.returncode, open(self.err).read()))
            check(time.time() < deadline, "no port file after 10 s")
            time.sleep(0.02)
        self.port = int(open(self.pf).read())

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise Fail("fakesmtp did not exit on SIGTERM")

    def lines(self, wait_close=0):
        """Transcript lines without the header; optionally wait for CLOSE of
        session wait_close."""
        deadline = time.time() + 5
        while True:
            ls = [l for l in open(self.tr).read().splitlines() if not l.startswith("# ")]
            if not wait_close or any(l.startswith("#%d CLOSE" % wait_close) for l in ls):
                return ls
            if time.time() > deadline:
                raise Fail("no CLOSE for session %d in transcript: %r" % (wait_close, ls))
            time.sleep(0.02)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        rc = self.stop()
        err = open(self.err).read()
        if "Traceback" in err and exc[0] is None:
            raise Fail("fakesmtp traceback:\n" + err)
        if rc != 0 and exc[0] is None:
            raise Fail("fakesmtp exit status %s after SIGTERM" % rc)


def cctx(minv=None, maxv=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(CA + "/ca.pem")
    if minv or maxv:
        c.set_ciphers("ALL:@SECLEVEL=0")
    if minv:
        c.minimum_version = minv
    if maxv:
        c.maximum_version = maxv
    return c


class Client:
    def __init__(self, port, timeout=5.0, implicit_tls=False):
        self.sock = socket.create_connection((ADDR, port), timeout=timeout)
        self.buf = b""
        if implicit_tls:
            self.tls()

    def tls(self, ctx=None):
        self.sock = (ctx or cctx()).wrap_socket(self.sock, server_hostname="fake.test")
        return self.sock

    def send(self, data):
        self.sock.sendall(data)

    def recv1(self):
        """Exactly one recv() (after what is already buffered)."""
        if self.buf:
            d, self.buf = self.buf, b""
            return d
        return self.sock.recv(1 << 20)

    def read_n(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(1 << 20)
            if not d:
                break
            self.buf += d
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self):
        """One complete (well-formed) reply, raw bytes."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                d = self.sock.recv(65536)
                if not d:
                    raise Fail("EOF inside reply after %r" % out)
                self.buf += d
            line, self.buf = self.buf.split(b"\r\n", 1)
            out += line + b"\r\n"
            if not re.match(rb"\d{3}-", line):
                return out

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def rest(self, quiet=0.3):
        """Everything until EOF or `quiet` seconds of silence."""
        self.sock.settimeout(quiet)
        out, self.buf = self.buf, b""
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    break
                out += d
        except (socket.timeout, ConnectionResetError):
            pass
        return out

    def expect_eof(self, what):
        self.sock.settimeout(3)
        d = self.buf or self.sock.recv(65536)
        eq(d, b"", what + " (expected EOF)")

    def expect_reset(self, what):
        """RST on the wire: read the TCP socket itself, also under TLS (Python's
        ssl turns ECONNRESET into a ragged EOF, so it cannot tell RST from FIN)."""
        raw = socket.socket(fileno=os.dup(self.sock.fileno()))
        raw.settimeout(3)
        try:
            d = raw.recv(65536)
        except ConnectionResetError:
            return
        finally:
            raw.close()
        raise Fail("%s: expected RST, got %r" % (what, d))

    def expect_silence(self, secs, what):
        self.sock.settimeout(secs)
        try:
            d = self.buf or self.sock.recv(65536)
        except socket.timeout:
            return
        raise Fail("%s: expected silence, got %r" % (what, d))

    def close(self):
        self.sock.close()


def ehlo_tls(c, name=b"client.test"):
    """greeting, EHLO, STARTTLS, handshake, EHLO again; returns 2nd EHLO reply."""
    eq(c.reply(), b"220 fake.test ESMTP\r\n", "greeting")
    c.cmd(b"EHLO " + name)
    eq(c.cmd(b"STARTTLS"), b"220 2.0.0 Ready\r\n", "STARTTLS")
    c.tls()
    return c.cmd(b"EHLO " + name)


PLAIN = b"AUTH PLAIN " + base64.b64encode(b"\0alice\0s3cret")
EHLO_CLEAR = (b"250-fake.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
              b"250-STARTTLS\r\n250 ETRN\r\n")
EHLO_TLS = (b"250-fake.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
            b"250-AUTH PLAIN LOGIN\r\n250 ETRN\r\n")


# ------------------------------------------------------------------ tests
@test
def normal_dialogue():
    with Fake("normal") as f:
        c = Client(f.port)
        eq(c.reply(), b"220 fake.test ESMTP\r\n", "greeting")
        eq(c.cmd(b"ETRN early.test"), b"503 5.5.1 Error: send HELO/EHLO first\r\n", "ETRN before EHLO")
        eq(c.cmd(b"EHLO client.test"), EHLO_CLEAR, "EHLO in clear")
        eq(c.cmd(PLAIN), b"503 5.5.1 Error: authentication not enabled\r\n", "AUTH in clear")
        eq(c.cmd(b"STARTTLS"), b"220 2.0.0 Ready\r\n", "STARTTLS")
        s = c.tls()
        check(s.version() == "TLSv1.3", "default TLS version %s" % s.version())
        eq(c.cmd(b"ETRN x.test"), b"503 5.5.1 Error: send HELO/EHLO first\r\n", "ETRN before 2nd EHLO")
        eq(c.cmd(b"EHLO client.test"), EHLO_TLS, "EHLO in TLS")
        eq(c.cmd(b"STARTTLS"), b"554 5.5.1 Error: TLS already active\r\n", "2nd STARTTLS")
        eq(c.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0wrong")),
           b"535 5.7.8 Error: authentication failed: authentication failure\r\n", "bad password")
        eq(c.cmd(PLAIN), b"235 2.7.0 Authentication successful\r\n", "AUTH PLAIN")
        eq(c.cmd(b"ETRN example.test"), b"250 Queuing started\r\n", "ETRN")
        eq(c.cmd(b"ETRN"), b"500 5.5.2 Syntax: ETRN domain\r\n", "ETRN without node")
        eq(c.cmd(b"NOOP"), b"250 2.0.0 Ok\r\n", "NOOP")
        eq(c.cmd(b"RSET"), b"250 2.0.0 Ok\r\n", "RSET")
        eq(c.cmd(b"XYZZY foo"), b"500 5.5.2 Error: command not recognized\r\n", "unknown")
        eq(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n", "QUIT")
        c.expect_eof("after QUIT")
        c.close()
        tr = f.lines(wait_close=1)
        want = ["#1 C ETRN early.test", "#1 C EHLO client.test", "#1 C " + PLAIN.decode(),
                "#1 C STARTTLS", "#1 T ETRN x.test", "#1 T EHLO client.test", "#1 T STARTTLS",
                "#1 T AUTH PLAIN " + base64.b64encode(b"\0alice\0wrong").decode(),
                "#1 T " + PLAIN.decode(), "#1 T ETRN example.test", "#1 T ETRN", "#1 T NOOP",
                "#1 T RSET", "#1 T XYZZY foo", "#1 T QUIT"]
        eq([l for l in tr if re.match(r"#1 [CT] ", l)], want, "transcript client lines")
        check(tr[0].startswith("#1 CONNECT 127."), "CONNECT line: %r" % tr[0])
        check(any(re.match(r"#1 TLS TLSv1\.3 \S+ sni=fake\.test$", l) for l in tr), "TLS line: %r" % tr)
        check("#1 SASL-C \\x00alice\\x00s3cret" in tr, "SASL-C (password sent in clear) recorded")
        check("#1 SASL-T \\x00alice\\x00s3cret" in tr, "SASL-T recorded")
        check(tr.index("#1 EVENT closing") > tr.index("#1 T QUIT"), "EVENT closing after QUIT")
        eq(tr[-1], "#1 CLOSE server-close", "last transcript line")


@test
def auth_login_and_options():
    with Fake("normal", "--auth-in-clear", "--require-auth", tls=False) as f:
        c = Client(f.port)
        c.reply()
        ehlo = c.cmd(b"EHLO c")
        check(b"250-AUTH PLAIN LOGIN\r\n" in ehlo and b"STARTTLS" not in ehlo, "EHLO: %r" % ehlo)
        eq(c.cmd(b"ETRN a.test"), b"530 5.7.0 Authentication required\r\n", "--require-auth")
        eq(c.cmd(b"AUTH LOGIN"), b"334 VXNlcm5hbWU6\r\n", "LOGIN username prompt")
        eq(c.cmd(base64.b64encode(b"alice")), b"334 UGFzc3dvcmQ6\r\n", "LOGIN password prompt")
        eq(c.cmd(base64.b64encode(b"s3cret")), b"235 2.7.0 Authentication successful\r\n", "LOGIN ok")
        eq(c.cmd(b"ETRN a.test"), b"250 Queuing started\r\n", "ETRN after AUTH")
        c.close()
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"AUTH PLAIN"), b"334 \r\n", "PLAIN empty challenge")
        eq(c.cmd(b"*"), b"501 5.7.0 Authentication aborted\r\n", "cancel")
        eq(c.cmd(b"AUTH CRAM-MD5"), b"504 5.5.4 Unrecognized authentication type\r\n", "other mech")
        eq(c.cmd(b"AUTH PLAIN !!!"), b"501 5.5.2 Cannot decode response\r\n", "bad base64")
        c.close()
        tr = f.lines(wait_close=2)
        check("#1 SASL-C alice" in tr and "#1 SASL-C s3cret" in tr, "LOGIN SASL-C lines: %r" % tr)


@test
def pipelining_and_client_injection():
    with Fake("normal") as f:
        c = Client(f.port)
        c.reply()
        c.send(b"EHLO c\r\nETRN a.test\r\nETRN b.test\r\n")
        eq(c.reply(), EHLO_CLEAR, "EHLO")
        eq(c.reply(), b"250 Queuing started\r\n", "ETRN a")
        eq(c.reply(), b"250 Queuing started\r\n", "ETRN b")
        c.send(b"STARTTLS\r\nNOOP\r\n")       # plaintext injected after STARTTLS
        eq(c.reply(), b"220 2.0.0 Ready\r\n", "STARTTLS")
        c.tls()
        eq(c.cmd(b"EHLO c"), EHLO_TLS, "EHLO after TLS (NOOP was discarded)")
        c.close()
        tr = f.lines(wait_close=1)
        i = tr.index("#1 C ETRN a.test")
        eq(tr[i:i + 4], ["#1 C ETRN a.test", "#1 PIPELINED", "#1 C ETRN b.test", "#1 PIPELINED"],
           "pipelined ETRNs")
        check("#1 DISCARDED NOOP\\x0d\\x0a" in tr, "DISCARDED line: %r" % tr)
    # a client that waits for each reply is never flagged
    with Fake("normal") as f:
        c = Client(f.port)
        c.reply()
        for cmd in (b"EHLO c", b"ETRN a.test", b"ETRN b.test", b"QUIT"):
            c.cmd(cmd)
        c.close()
        check("#1 PIPELINED" not in f.lines(wait_close=1), "lock-step client flagged PIPELINED")


@test
def implicit_tls():
    with Fake("normal", "--implicit-tls") as f:
        c = Client(f.port, implicit_tls=True)
        eq(c.reply(), b"220 fake.test ESMTP\r\n", "greeting over TLS")
        eq(c.cmd(b"EHLO c"), EHLO_TLS, "EHLO over implicit TLS")
        eq(c.cmd(PLAIN), b"235 2.7.0 Authentication successful\r\n", "AUTH")
        eq(c.cmd(b"QUIT"), b"221 2.0.0 Bye\r\n", "QUIT")
        c.close()
        tr = f.lines(wait_close=1)
        check(tr[1].startswith("#1 TLS TLSv1.3 "), "TLS before any client line: %r" % tr[:3])
        check(not [l for l in tr if re.match(r"#1 C[ -]", l)], "no clear-text line: %r" % tr)
        # plaintext client against implicit TLS: handshake failure is recorded
        c = Client(f.port)
        c.send(b"EHLO c\r\n")
        c.rest()
        c.close()
        tr = f.lines(wait_close=2)
        check(any(l.startswith("#2 TLS-FAIL ") for l in tr), "TLS-FAIL recorded: %r" % tr)


def gnutls(port, prio):
    """gnutls-cli STARTTLS (smtp) with a priority string -> (ok, version)."""
    r = subprocess.run(["gnutls-cli", "--starttls-proto", "smtp", "--priority", prio,
                        "--x509cafile", CA + "/ca.pem", "--verify-hostname", "fake.test",
                        "-p", str(port), ADDR], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    m = re.search(r"Description: \((TLS[0-9.]+)", r.stdout + r.stderr)
    ok = "Handshake was completed" in r.stdout + r.stderr
    return ok, m.group(1) if m else None


@test
def tls_versions():
    have_gnutls = shutil.which("gnutls-cli") is not None
    if not have_gnutls:
        print("  note: gnutls-cli missing, TLS version checks use the Python client only")
    V = ssl.TLSVersion
    for ver, pyv in (("1.0", V.TLSv1), ("1.1", V.TLSv1_1), ("1.2", V.TLSv1_2)):
        with Fake("normal", "--tls-min-version", ver, "--tls-max-version", ver) as f:
            if have_gnutls:
                eq(gnutls(f.port, "NORMAL:-VERS-ALL:+VERS-TLS" + ver), (True, "TLS" + ver),
                   "gnutls-cli TLS%s-only against a TLS %s-only server" % (ver, ver))
                ok, _ = gnutls(f.port, "NORMAL:-VERS-ALL:+VERS-TLS1.3")
                check(not ok, "TLS1.3-only gnutls-cli must fail against a TLS %s-only server" % ver)
            c = Client(f.port)
            ehlo_tls_ctx = cctx(V.TLSv1, V.TLSv1_3)
            c.reply()
            c.cmd(b"EHLO c")
            c.cmd(b"STARTTLS")
            s = c.tls(ehlo_tls_ctx)
            eq(s.version(), {"1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2"}[ver],
               "Python client offering 1.0-1.3 negotiates")
            eq(c.cmd(b"EHLO c"), EHLO_TLS, "EHLO over TLS " + ver)
            c.close()
            tr = f.lines(wait_close=2 if have_gnutls else 1)
            check(any(re.match(r"#\d+ TLS %s " % {"1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2"}[ver], l)
                      for l in tr), "transcript TLS line: %r" % tr)
    with Fake("normal", "--tls-min-version", "1.3") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        c.cmd(b"STARTTLS")
        try:
            c.tls(cctx(V.TLSv1, V.TLSv1_2))
            raise Fail("client limited to TLS 1.2 must fail against --tls-min-version 1.3")
        except ssl.SSLError:
            pass
        c.close()
        check(any(l.startswith("#1 TLS-FAIL ") for l in f.lines(wait_close=1)), "TLS-FAIL recorded")
    if have_gnutls:
        with Fake("normal") as f:   # default server: TLS 1.0 refused (OpenSSL security level)
            ok, _ = gnutls(f.port, "NORMAL:-VERS-ALL:+VERS-TLS1.0")
            check(not ok, "default server must not accept TLS 1.0")


@test
def starttls_injection():
    with Fake("starttls-injection") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        c.send(b"STARTTLS\r\n")
        eq(c.recv1(), b"220 Ready\r\n250 injected\r\n", "both lines in ONE recv()")
        s = c.tls()          # the handshake still follows the injected bytes
        check(s.version() is not None, "handshake after injection")
        eq(c.cmd(b"EHLO c"), EHLO_TLS, "EHLO after injection")
        c.close()


@test
def no_starttls():
    with Fake("no-starttls") as f:
        c = Client(f.port)
        c.reply()
        ehlo = c.cmd(b"EHLO c")
        eq(ehlo, EHLO_CLEAR.replace(b"250-STARTTLS\r\n", b""), "EHLO without STARTTLS")
        eq(c.cmd(b"STARTTLS"), b"502 5.5.1 Error: command not implemented\r\n", "STARTTLS")
        c.close()


@test
def starttls_454():
    with Fake("starttls-454") as f:
        c = Client(f.port)
        c.reply()
        eq(c.cmd(b"EHLO c"), EHLO_CLEAR, "EHLO advertises STARTTLS")
        eq(c.cmd(b"STARTTLS"), b"454 4.7.0 TLS not available\r\n", "STARTTLS")
        eq(c.cmd(b"NOOP"), b"250 2.0.0 Ok\r\n", "still plaintext SMTP")
        c.close()


@test
def etrn_limit():
    with Fake("etrn-limit:2") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN a.test"), b"250 Queuing started\r\n", "ETRN 1")
        eq(c.cmd(b"ETRN b.test"), b"250 Queuing started\r\n", "ETRN 2")
        eq(c.cmd(b"ETRN c.test"), b"458 4.7.1 ETRN session limit reached\r\n", "ETRN 3")
        eq(c.cmd(b"ETRN d.test"), b"458 4.7.1 ETRN session limit reached\r\n", "ETRN 4")
        c.close()
        c = Client(f.port)          # reconnect: counter is per session
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN c.test"), b"250 Queuing started\r\n", "ETRN after reconnect")
        c.close()


@test
def etrn_253_and_codes():
    with Fake("etrn-253") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN example.test"), b"253 OK, 17 pending messages for node example.test started\r\n", "253")
        c.close()
    with Fake("etrn-codes", "--etrn-reply", "example.test=251",
              "--etrn-reply", "bad.test=459 4.7.1 <bad.test>: service unavailable",
              "--etrn-reply", r"multi.test=250-Queuing\r\n250 started",
              "--etrn-reply", r"odd.test=250 a\x00b {node}") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN example.test"), b"251 OK, no messages waiting for node example.test\r\n", "251")
        eq(c.cmd(b"ETRN EXAMPLE.test"), b"251 OK, no messages waiting for node EXAMPLE.test\r\n", "case")
        eq(c.cmd(b"ETRN bad.test"), b"459 4.7.1 <bad.test>: service unavailable\r\n", "459")
        eq(c.cmd(b"ETRN multi.test"), b"250-Queuing\r\n250 started\r\n", "multi-line")
        eq(c.cmd(b"ETRN odd.test"), b"250 a\x00b odd.test\r\n", "escapes, {node}")
        eq(c.cmd(b"ETRN other.test"), b"250 Queuing started\r\n", "unlisted node")
        c.close()


@test
def shutdown_421_mid():
    with Fake("421-mid:2") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN a.test"), b"250 Queuing started\r\n", "ETRN 1")
        eq(c.cmd(b"ETRN b.test"), b"421 4.3.2 Service shutting down\r\n", "ETRN 2")
        c.send(b"QUIT\r\n")
        c.expect_eof("after 421")
        c.close()
        tr = f.lines(wait_close=1)
        eq(tr[-4:], ["#1 EVENT 421", "#1 EVENT closing", "#1 C QUIT", "#1 CLOSE server-close"],
           "421 transcript tail")


@test
def overlong_line():
    with Fake("overlong-line") as f:
        c = Client(f.port)
        d = c.read_n(4 + (1 << 20))
        eq(d[:8], b"220 xxxx", "start")
        eq(len(d), 4 + (1 << 20), "length")
        check(set(d[4:]) == {ord("x")}, "filler")
        c.send(b"QUIT\r\n")
        c.expect_silence(0.5, "no CRLF, no more replies")
        c.close()
        tr = f.lines(wait_close=1)
        check("#1 C QUIT" in tr and "#1 EVENT stall" in tr, "transcript: %r" % tr)
    with Fake("overlong-line", "--crlf", "--where", "etrn", "--size", "100000") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        c.send(b"ETRN a.test\r\n")
        d = c.read_n(4 + 100000 + 2 + 21)
        eq(d, b"250-" + b"x" * 100000 + b"\r\n250 Queuing started\r\n", "--crlf at etrn")
        c.close()


@test
def endless_continuation():
    with Fake("endless-continuation") as f:
        c = Client(f.port)
        d = c.read_n(300000)
        eq(len(d), 300000, "received")
        eq(d[:300000 // 7 * 7], b"220-x\r\n" * (300000 // 7), "220-x lines")
        c.close()
        tr = f.lines(wait_close=1)
        check(tr[-1] in ("#1 CLOSE send-failed", "#1 CLOSE client-reset"), "ends when client goes: %r" % tr[-1])
    with Fake("endless-continuation", "--where", "ehlo", "--size", "7000") as f:
        c = Client(f.port)
        c.reply()
        r = c.cmd(b"EHLO c")
        check(r.startswith(b"250-x\r\n" * 1000) and r.endswith(EHLO_CLEAR), "bounded: %r" % r[-200:])
        c.close()


@test
def nul_and_utf8():
    with Fake("nul-bytes") as f:
        c = Client(f.port)
        eq(c.reply(), b"220 fake.te\x00st ESMTP\x00\r\n", "NUL greeting")
        c.close()
    with Fake("nul-bytes", "--where", "ehlo,etrn") as f:
        c = Client(f.port)
        c.reply()
        eq(c.cmd(b"EHLO c"), b"250-fake\x00.test\x00\r\n250-PIPELINING\x00\r\n250-ENHANCEDSTATUSCODES\x00\r\n"
           b"250-STARTTLS\x00\r\n250 ETRN\x00\r\n", "NUL EHLO")
        eq(c.cmd(b"ETRN a.test"), b"250 Queuing\x00 started\x00\r\n", "NUL ETRN")
        c.close()
    with Fake("invalid-utf8") as f:
        c = Client(f.port)
        r = c.reply()
        eq(r, b"220 fake.test ESMTP \xff\xfe\xc3\x28\xed\xa0\x80\xc0\xaf\r\n", "invalid UTF-8 greeting")
        try:
            r.decode("utf-8")
            raise Fail("greeting decodes as UTF-8")
        except UnicodeDecodeError:
            pass
        c.close()


@test
def split_packets():
    with Fake("split-packets") as f:
        c = Client(f.port)
        want, got, recvs = b"220 fake.test ESMTP\r\n", b"", 0
        while len(got) < len(want):
            d = c.sock.recv(100)
            check(d, "EOF")
            got, recvs = got + d, recvs + 1
        eq(got, want, "greeting bytes")
        check(recvs >= len(want) // 2, "greeting arrived in only %d recv()s (%d bytes)" % (recvs, len(want)))
        eq(c.cmd(b"EHLO c"), EHLO_CLEAR, "EHLO reassembled")
        c.close()


BAD = {
    "x-in-code": b"2x0 hello\r\n",
    "short": b"22\r\n",
    "no-space": b"220garbage\r\n",
    "four-digit": b"2200 hello\r\n",
    "mixed-codes": b"220-a\r\n221 b\r\n",
    "mixed-class": b"220-a\r\n520 b\r\n",
    "leading-space": b" 220 fake.test ESMTP\r\n",
    "empty-line": b"\r\n220 fake.test ESMTP\r\n",
    "bare-lf": b"220 fake.test ESMTP\n",
    "cr-only": b"220 fake.test ESMTP\r",
    "tab": b"220\tfake.test ESMTP\r\n",
    "lowercase": b"220 fake.test esmtp\r\n",
    "code-only": b"220\r\n",
    "trailing-space": b"220 \r\n",
    "extra-spaces": b"220 fake.test   ESMTP \r\n",
    "auth-equals": b"220 fake.test ESMTP\r\n",
}


@test
def bad_code():
    for variant, want in BAD.items():
        with Fake("bad-code:" + variant) as f:
            c = Client(f.port)
            eq(c.rest(0.2), want, "bad-code:" + variant)
            c.close()
    with Fake("bad-code", "--where", "ehlo,etrn", "--at", "0", "--variant", "mixed-codes") as f:
        c = Client(f.port)
        c.reply()
        c.send(b"EHLO c\r\n")
        eq(c.rest(0.2), b"250-a\r\n251 b\r\n", "mixed-codes at EHLO")
        c.send(b"ETRN a.test\r\n")
        eq(c.rest(0.2), b"250-a\r\n251 b\r\n", "mixed-codes at ETRN")
        c.close()
    for variant, want in (("lowercase", EHLO_TLS.lower()),
                          ("auth-equals", EHLO_TLS.replace(b"250-AUTH ", b"250-AUTH=PLAIN LOGIN\r\n250-AUTH ")),
                          ("extra-spaces", b"250-fake.test \r\n250-PIPELINING \r\n250-ENHANCEDSTATUSCODES \r\n"
                                           b"250-AUTH   PLAIN   LOGIN \r\n250 ETRN \r\n")):
        with Fake("bad-code:" + variant, "--where", "ehlo", "--at", "2") as f:
            c = Client(f.port)
            eq(ehlo_tls(c), want, "%s at 2nd EHLO" % variant)
            c.close()


@test
def resets():
    with Fake("reset-greeting") as f:
        c = Client(f.port)
        c.expect_reset("reset-greeting")
        c.close()
        eq(f.lines(wait_close=1)[-2:], ["#1 EVENT reset", "#1 CLOSE server-reset"], "transcript")
    with Fake("reset-auth") as f:
        c = Client(f.port)
        ehlo_tls(c)
        c.send(b"AUTH LOGIN\r\n")
        eq(c.reply(), b"334 VXNlcm5hbWU6\r\n", "username prompt")
        eq(c.cmd(base64.b64encode(b"alice")), b"334 UGFzc3dvcmQ6\r\n", "password prompt")
        c.send(base64.b64encode(b"s3cret") + b"\r\n")
        c.expect_reset("reset-auth (inside TLS)")
        c.close()
        tr = f.lines(wait_close=1)
        eq(tr[-3:], ["#1 SASL-T s3cret", "#1 EVENT reset", "#1 CLOSE server-reset"], "transcript")
    with Fake("reset-etrn:2", "--fault-sessions", "1", tls=False) as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN a.test"), b"250 Queuing started\r\n", "ETRN 1")
        c.send(b"ETRN b.test\r\n")
        c.expect_reset("reset-etrn:2")
        c.close()
        c = Client(f.port)        # session 2 is normal (--fault-sessions 1)
        c.reply()
        c.cmd(b"EHLO c")
        eq(c.cmd(b"ETRN a.test"), b"250 Queuing started\r\n", "session 2 ETRN 1")
        eq(c.cmd(b"ETRN b.test"), b"250 Queuing started\r\n", "session 2 ETRN 2")
        c.close()


@test
def stalls():
    with Fake("stall-greeting") as f:
        c = Client(f.port)
        c.expect_silence(1, "stall-greeting")
        c.send(b"QUIT\r\n")
        c.expect_silence(0.3, "stall-greeting after QUIT")
        c.close()
        tr = f.lines(wait_close=1)
        eq(tr[1:], ["#1 EVENT stall", "#1 C QUIT", "#1 CLOSE client-eof"], "transcript")
    with Fake("stall-after-ehlo") as f:
        c = Client(f.port)
        c.reply()
        eq(c.cmd(b"EHLO c"), EHLO_CLEAR, "EHLO answered")
        c.send(b"STARTTLS\r\n")
        c.expect_silence(1, "after EHLO")
        c.close()
    with Fake("stall-etrn") as f:
        c = Client(f.port)
        c.reply()
        c.cmd(b"EHLO c")
        c.send(b"ETRN a.test\r\n")
        c.expect_silence(1, "stall-etrn")
        c.send(b"QUIT\r\n")
        c.expect_silence(0.3, "stall-etrn after QUIT")
        c.close()
        check("#1 C QUIT" in f.lines(wait_close=1), "QUIT recorded while stalled")
    with Fake("slow-greeting:1.5") as f:
        t0 = time.time()
        c = Client(f.port)
        c.expect_silence(1, "slow-greeting, first second")
        eq(c.reply(), b"220 fake.test ESMTP\r\n", "slow greeting")
        dt = time.time() - t0
        check(1.4 <= dt < 3, "greeting after %.2f s" % dt)
        c.close()


@test
def helo_only_and_no_etrn():
    with Fake("helo-only") as f:
        c = Client(f.port)
        c.reply()
        eq(c.cmd(b"EHLO c"), b"502 5.5.2 Error: command not recognized\r\n", "EHLO")
        eq(c.cmd(b"HELO c"), b"250 fake.test\r\n", "HELO")
        c.close()
    with Fake("no-etrn") as f:
        c = Client(f.port)
        c.reply()
        eq(c.cmd(b"EHLO c"), EHLO_CLEAR.replace(b"250-STARTTLS\r\n250 ETRN", b"250 STARTTLS"), "EHLO")
        eq(c.cmd(b"ETRN a.test"), b"502 5.5.1 Error: command not implemented\r\n", "ETRN")
        c.close()


@test
def generic_reply_close_and_lines():
    with Fake("close", "--reply", r"greeting=554 5.3.2 go away\x21", "--where", "quit", tls=False) as f:
        c = Client(f.port)
        eq(c.reply(), b"554 5.3.2 go away!\r\n", "--reply greeting")
        c.send(b"QUIT\r\n")
        c.expect_eof("close at quit")
        c.close()
    with Fake("normal", tls=False) as f:
        c = Client(f.port)
        c.reply()
        c.send(b"NOOP\n")
        eq(c.reply(), b"250 2.0.0 Ok\r\n", "bare-LF command")
        c.send(b"NOOP " + b"y" * 70000 + b"\r\n")
        eq(c.reply(), b"500 5.5.2 Error: line too long\r\n", "overlong client line")
        c.send(b"\\\xff\x00 partial")
        c.close()
        tr = f.lines(wait_close=1)
        check("#1 C-LF NOOP" in tr, "C-LF: %r" % tr)
        check(any(l.startswith("#1 C-LONG NOOP yyy") and l.endswith("(70007 bytes)") for l in tr), "C-LONG: %r" % tr)
        check("#1 C-EOF \\\\\\xff\\x00 partial" in tr, "C-EOF escaping: %r" % tr)


@test
def lifecycle():
    f = Fake("normal", "--max-sessions", "1", tls=False)
    c = Client(f.port)
    c.reply()
    c.cmd(b"QUIT")
    c.close()
    eq(f.p.wait(5), 0, "--max-sessions 1 exit status")
    t0 = time.time()
    f = Fake("stall-greeting", tls=False, lifetime=1)
    c = Client(f.port)                 # a hung session does not keep it alive
    try:
        rc = f.p.wait(5)
    except subprocess.TimeoutExpired:
        f.p.kill()
        raise Fail("did not exit after --lifetime")
    eq(rc, 124, "--lifetime exit status")
    check(time.time() - t0 < 3, "lifetime took %.1f s" % (time.time() - t0))
    check(f.lines()[-1] == "#1 CLOSE shutdown", "CLOSE shutdown: %r" % f.lines())
    c.close()
    f = Fake("normal", tls=False)
    c = Client(f.port)                 # SIGTERM in the middle of a session
    c.reply()
    eq(f.stop(), 0, "SIGTERM exit status")
    c.close()
    check(open(f.pf).read().strip().isdigit(), "port file content")
    r = subprocess.run([PY, FAKE, "--scenario", "nonesuch"], capture_output=True)
    check(r.returncode == 2, "unknown scenario is a usage error")


for t in TESTS:
    if ONLY and t.__name__ not in ONLY:
        continue
    t0 = time.time()
    try:
        t()
        print("ok   %-32s %.1fs" % (t.__name__, time.time() - t0))
    except Exception as e:
        FAILS.append(t.__name__)
        detail = str(e) if isinstance(e, Fail) else traceback.format_exc()
        print("FAIL %-32s %s" % (t.__name__, detail))
print("fakesmtp-selftest: %d failed: %s" % (len(FAILS), " ".join(FAILS)) if FAILS else
      "fakesmtp-selftest: all passed")
sys.exit(1 if FAILS else 0)
PYEOF
[ "$rc" = 0 ] || exit 1
exit 0
