#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""fakesmtp.py -- a scriptable, deliberately misbehaving SMTP relay for etrnpoll tests.

The real relay in the test suite is a real Postfix.  This server exists ONLY for
what no real server does on request: malformed replies, injection attempts,
hangs, resets, odd-but-legal replies.  Python standard library only.

This file is the entry point, the command line and this documentation; the
code is in the modules beside it (found wherever this file is run from):
fakesmtp_dialogue.py (the default dialogue: I/O, transcript lines,
STARTTLS, AUTH, ETRN), fakesmtp_scenarios.py (the scenario table) and
fakesmtp_server.py (TLS context, transcript file, accept loop).

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
  register it with @scenario(name, doc, where=..., at=..., arg=...), in
  fakesmtp_scenarios.py, or from a script that imports fakesmtp (as
  tests/harden-tls.sh does for its TLS-layer scenarios).

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
import os
import signal
import sys

# the modules beside this file (tests/fakesmtp_*.py), wherever it is run from
# or imported by (harden-tls.sh: sys.path + "import fakesmtp")
_HERE = os.path.dirname(os.path.realpath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# the whole API, also for scripts that import this file and register
# scenarios of their own (tests/harden-tls.sh)
from fakesmtp_dialogue import (MAXLINE, STAGES, Dialogue, SessionEnd, Shutdown,  # noqa: E402,F401
                               esc, fmt_reply, join_lines, map_text, reply_lines, unescape)
from fakesmtp_scenarios import (BAD_CODE, ETRN_TEXT, SCENARIO_OPTS, SCENARIOS,  # noqa: E402,F401
                                scenario)
from fakesmtp_server import Server  # noqa: E402


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
