#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""mtaclient.py -- the SMTP client side of tests/exim-selftest.sh and
tests/sendmail-selftest.sh (stdlib smtplib + ssl; NOT etrnpoll).

  mtaclient.py proto  KIND RELAY CA USER PASS    TLS/AUTH/ETRN protocol checks
  mtaclient.py etrn   RELAY CA USER PASS NODE... one session, one ETRN each;
                      prints "CODE SECONDS TEXT" per ETRN ("EOF ..." when the
                      relay closed the session)
KIND is exim or sendmail.  Prints "ok   <what> -- <reply>" / "FAIL <what>
-- <reply>" lines; exits 1 if a check failed.
"""
import smtplib
import socket
import ssl
import sys
import time

fails = 0


def check(cond, what, detail=""):
    global fails
    print(("ok   " if cond else "FAIL ") + what + (" -- " + detail if detail else ""))
    if not cond:
        fails += 1


def txt(r):
    return "%s %s" % (r[0], r[1].decode(errors="replace").replace("\n", " | "))


def ctx(ca):
    return ssl.create_default_context(cafile=ca)


def proto(kind, relay, ca, user, pw):
    s = smtplib.SMTP(relay, 25, local_hostname="client.test", timeout=30)
    r = s.ehlo()
    auth_clear = set(s.esmtp_features.get("auth", "").split())
    check(r[0] == 250 and s.has_extn("starttls") and s.has_extn("etrn"),
          "EHLO offers STARTTLS and ETRN", txt(r))
    if kind == "exim":
        check(not auth_clear, "no AUTH offered before STARTTLS", txt(r))
    else:
        check("PLAIN" not in auth_clear and "LOGIN" not in auth_clear,
              "no plaintext AUTH mechanism before STARTTLS (AuthOptions p)", txt(r))
    r = s.docmd("ETRN", "example.test")
    check(r[0] >= 400, "ETRN in clear without AUTH refused", txt(r))
    r = s.starttls(context=ctx(ca))
    check(r[0] == 220, "STARTTLS, certificate verified against ca.pem for %s" % relay,
          txt(r) + " / " + s.sock.version())
    r = s.ehlo()
    mechs = set(s.esmtp_features.get("auth", "").split())
    check(r[0] == 250 and mechs >= {"PLAIN", "LOGIN", "CRAM-MD5"},
          "EHLO after TLS offers AUTH PLAIN LOGIN CRAM-MD5", txt(r))
    r = s.docmd("ETRN", "example.test")
    check(r[0] >= 400, "ETRN inside TLS but before AUTH refused", txt(r))
    s.user, s.password = user, "wrong-" + pw
    try:
        r = s.auth("PLAIN", s.auth_plain)
        check(False, "AUTH PLAIN with a wrong password refused", txt(r))
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, "AUTH PLAIN with a wrong password refused",
              txt((e.smtp_code, e.smtp_error)))
    s.quit()
    for mech, fn in (("PLAIN", "auth_plain"), ("LOGIN", "auth_login"),
                     ("CRAM-MD5", "auth_cram_md5")):
        s = smtplib.SMTP(relay, 25, local_hostname="client.test", timeout=30)
        s.ehlo()
        s.starttls(context=ctx(ca))
        s.ehlo()
        s.user, s.password = user, pw
        try:
            r = s.auth(mech, getattr(s, fn), initial_response_ok=(mech == "PLAIN"))
        except smtplib.SMTPException as e:
            r = (getattr(e, "smtp_code", 0), getattr(e, "smtp_error", str(e).encode()))
        check(r[0] == 235, "AUTH %s %s" % (mech, user), txt(r))
        s.quit()
    # the certificate names only the address: a client checking another
    # name must fail verification (what etrnpoll's tls-name test relies on)
    raw = socket.create_connection((relay, 25), timeout=15)
    f = raw.makefile("rb")
    f.readline()
    raw.sendall(b"EHLO client.test\r\n")
    while not f.readline()[3:4] == b" ":
        pass
    raw.sendall(b"STARTTLS\r\n")
    f.readline()
    try:
        ctx(ca).wrap_socket(raw, server_hostname="mx.elsewhere.test")
        check(False, "certificate does not verify for name mx.elsewhere.test")
    except ssl.SSLCertVerificationError as e:
        check(True, "certificate does not verify for name mx.elsewhere.test", e.verify_message)
    raw.close()


def etrn(relay, ca, user, pw, nodes):
    s = smtplib.SMTP(relay, 25, local_hostname="client.test", timeout=60)
    s.ehlo()
    s.starttls(context=ctx(ca))
    s.ehlo()
    s.login(user, pw)
    for n in nodes:
        t0 = time.monotonic()
        try:
            code, text = s.docmd("ETRN", n)
            text = text.decode(errors="replace")
        except (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLError, OSError) as e:
            print("EOF %.3f %s" % (time.monotonic() - t0, e))
            return
        print("%d %.3f %s" % (code, time.monotonic() - t0, text))
        if code == 421 or code == 554:
            # the relay says it ends the session: see whether it did
            try:
                s.docmd("NOOP")
            except (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLError, OSError) as e:
                print("EOF 0 closed after %d: %s" % (code, e))
                return
    try:
        s.quit()
    except smtplib.SMTPException:
        pass


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "proto":
        proto(*sys.argv[2:7])
    elif mode == "etrn":
        etrn(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    else:
        sys.exit("usage: see the docstring")
    sys.exit(1 if fails else 0)
