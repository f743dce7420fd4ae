# SPDX-License-Identifier: ISC
"""fakesmtp_server.py -- the listener of tests/fakesmtp.py.

Part of the scripted relay (see the docstring of tests/fakesmtp.py): the TLS
context (--tls-*), the transcript file and -v debug output, the port file, and
the accept loop that runs one Dialogue (or scenario) per session, one after
another, and writes each session's CLOSE line.
"""

import os
import socket
import ssl
import sys
import traceback
import warnings

from fakesmtp_dialogue import Dialogue, SessionEnd, Shutdown


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
