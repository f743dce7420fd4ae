/* SPDX-License-Identifier: ISC */
/* conn.c — TCP + GnuTLS transport with deadlines and bounded line reads. */
#include "conf/config.h"
#include "smtp/conn.h"
#include "core/log.h"
#include "core/util.h"
#include <ctype.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void seterr(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

static int connect_one(const struct sockaddr *sa, socklen_t salen, int timeout_s)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    if (connect(fd, sa, salen) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w <= 0) {
            int e = w == 0 ? ETIMEDOUT : errno;
            close(fd);
            errno = e;
            return -1;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            close(fd);
            errno = soerr ? soerr : EIO;
            return -1;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int conn_open_addrs(struct conn *c, const char *host, const struct relay_addrs *ra, int port,
                    int timeout_s)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    char tried[200] = "";
    for (int i = 0; i < ra->n && i < ADDRCACHE_MAX; i++) {
        struct sockaddr_storage ss = ra->ss[i];
        socklen_t sl = ra->len[i];
        char addr[INET6_ADDRSTRLEN] = "?";
        if (ss.ss_family == AF_INET6 && sl >= sizeof(struct sockaddr_in6)) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_port = htons((uint16_t)port);
            inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
        } else if (ss.ss_family == AF_INET && sl >= sizeof(struct sockaddr_in)) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_port = htons((uint16_t)port);
            inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
        } else {
            continue;
        }
        int fd = connect_one((const struct sockaddr *)&ss, sl, timeout_s);
        if (etp_abort) {
            if (fd >= 0)
                close(fd);
            seterr(c, "aborted");
            return -1;
        }
        if (fd >= 0) {
            c->fd = fd;
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", addr, port);
            return 0;
        }
        log_info("connect to [%s]:%d failed: %s", addr, port, strerror(errno));
        size_t tl = strlen(tried);
        snprintf(tried + tl, sizeof tried - tl, "%s[%s]:%d: %s", tl ? "; " : "", addr, port,
                 strerror(errno));
    }
    seterr(c, "cannot connect to %s: %s", host, tried[0] ? tried : "no address");
    return -1;
}

void conn_close(struct conn *c)
{
    if (c->tls) {
        if (!c->dead && c->fd >= 0) {
            /* close_notify, without waiting for the peer's */
            gnutls_record_set_timeout(c->tls, 1000);
            gnutls_bye(c->tls, GNUTLS_SHUT_WR);
        }
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
    if (c->cred) {
        gnutls_certificate_free_credentials(c->cred);
        c->cred = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->dead = 1;
    c->rlen = 0;
}

size_t conn_pending(const struct conn *c)
{
    return c->rlen;
}

/* ---- raw I/O ---------------------------------------------------------- */

static ssize_t io_read(struct conn *c, void *buf, size_t len, int64_t deadline)
{
    for (;;) {
        if (!c->tls || gnutls_record_check_pending(c->tls) == 0) {
            int w = wait_fd(c->fd, POLLIN, deadline);
            if (w == 0) {
                seterr(c, "timed out waiting for %s", c->peer);
                return -1;
            }
            if (w < 0) {
                seterr(c, "%s", etp_abort ? "aborted" : strerror(errno));
                return -1;
            }
        }
        if (c->tls) {
            ssize_t n = gnutls_record_recv(c->tls, buf, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                continue;
            if (n < 0) {
                seterr(c, "TLS receive from %s: %s", c->peer, gnutls_strerror((int)n));
                return -1;
            }
            if (n == 0) {
                seterr(c, "%s closed the connection", c->peer);
                return -1;
            }
            return n;
        }
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            seterr(c, "receive from %s: %s", c->peer, strerror(errno));
            return -1;
        }
        if (n == 0) {
            seterr(c, "%s closed the connection", c->peer);
            return -1;
        }
        return n;
    }
}

static int io_write(struct conn *c, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n;
        if (c->tls) {
            n = gnutls_record_send(c->tls, buf, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (wait_fd(c->fd, POLLOUT, deadline) <= 0) {
                    seterr(c, "timed out sending to %s", c->peer);
                    return -1;
                }
                continue;
            }
            if (n < 0) {
                seterr(c, "TLS send to %s: %s", c->peer, gnutls_strerror((int)n));
                return -1;
            }
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    if (wait_fd(c->fd, POLLOUT, deadline) <= 0) {
                        seterr(c, "timed out sending to %s", c->peer);
                        return -1;
                    }
                    continue;
                }
                seterr(c, "send to %s: %s", c->peer, strerror(errno));
                return -1;
            }
        }
        c->bytes_out += (uint64_t)n;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- lines and replies ------------------------------------------------ */

int conn_send_line_redacted(struct conn *c, const char *line, const char *shown, int timeout_s)
{
    if (c->dead || c->fd < 0) {
        seterr(c, "connection is closed");
        return -1;
    }
    char buf[1024];
    size_t n = strlen(line);
    if (n + 2 > sizeof buf || memchr(line, '\r', n) || memchr(line, '\n', n)) {
        seterr(c, "refusing to send an overlong or multi-line command");
        return -1;
    }
    memcpy(buf, line, n);
    memcpy(buf + n, "\r\n", 2);
    log_wire('>', shown ? shown : line, strlen(shown ? shown : line));
    int r = io_write(c, buf, n + 2, now_ms() + (int64_t)timeout_s * 1000);
    secure_wipe(buf, sizeof buf);
    if (r < 0)
        c->dead = 1;
    return r;
}

int conn_send_line(struct conn *c, const char *line, int timeout_s)
{
    return conn_send_line_redacted(c, line, NULL, timeout_s);
}

int conn_send_lines(struct conn *c, const char *const *lines, int n, int timeout_s)
{
    if (c->dead || c->fd < 0) {
        seterr(c, "connection is closed");
        return -1;
    }
    char buf[CONN_SEND_MAX];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        if (l + 2 > sizeof buf - len || memchr(lines[i], '\r', l) || memchr(lines[i], '\n', l)) {
            seterr(c, "refusing to send an overlong group or a multi-line command");
            return -1;
        }
        memcpy(buf + len, lines[i], l);
        memcpy(buf + len + l, "\r\n", 2);
        len += l + 2;
    }
    for (int i = 0; i < n; i++)
        log_wire('>', lines[i], strlen(lines[i]));
    int r = io_write(c, buf, len, now_ms() + (int64_t)timeout_s * 1000);
    if (r < 0)
        c->dead = 1;
    return r;
}

/* Get one line (without CR LF) into out; -1 on error/too long. */
static int read_line(struct conn *c, char *out, size_t outsize, size_t *outlen, int64_t deadline)
{
    for (;;) {
        char *nl = memchr(c->rbuf, '\n', c->rlen);
        if (nl) {
            size_t ll = (size_t)(nl - c->rbuf);
            size_t keep = ll;
            if (keep > 0 && c->rbuf[keep - 1] == '\r')
                keep--;
            if (keep + 2 > REPLY_MAX_LINE || keep >= outsize) {
                seterr(c, "%s sent a reply line longer than %d octets", c->peer, REPLY_MAX_LINE);
                return -1;
            }
            memcpy(out, c->rbuf, keep);
            out[keep] = '\0';
            *outlen = keep;
            memmove(c->rbuf, nl + 1, c->rlen - ll - 1);
            c->rlen -= ll + 1;
            return 0;
        }
        if (c->rlen + 2 > REPLY_MAX_LINE) {
            seterr(c, "%s sent a reply line longer than %d octets", c->peer, REPLY_MAX_LINE);
            return -1;
        }
        ssize_t n = io_read(c, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, deadline);
        if (n < 0)
            return -1;
        c->bytes_in += (uint64_t)n;
        c->rlen += (size_t)n;
    }
}

int conn_read_reply(struct conn *c, struct smtp_reply *r, int timeout_s)
{
    reply_init(r);
    if (c->dead || c->fd < 0) {
        seterr(c, "connection is closed");
        return -1;
    }
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    char line[REPLY_MAX_LINE + 1];
    for (;;) {
        size_t len;
        if (read_line(c, line, sizeof line, &len, deadline) < 0) {
            c->dead = 1;
            return -1;
        }
        /* a relay echoing a secret (an impostor that got the password)
         * must not get it into the transcript, the reply text, error
         * messages or the state files: mask it in the raw line, before it
         * is escaped or cut anywhere */
        log_redact_mem(line, len);
        log_wire('<', line, len);
        const char *why = NULL;
        enum reply_status st = reply_feed(r, line, len, &why);
        if (st == REPLY_DONE)
            return 0;
        if (st != REPLY_MORE) {
            char pr[80];
            printable(pr, sizeof pr, line, len);
            seterr(c, "%s: protocol error: %s: \"%s\"", c->peer, why, pr);
            c->dead = 1;
            return -1;
        }
    }
}

int conn_cmd(struct conn *c, const char *cmd, struct smtp_reply *r, int timeout_s)
{
    if (conn_send_line(c, cmd, timeout_s) < 0)
        return -1;
    return conn_read_reply(c, r, timeout_s);
}

/* ---- TLS ------------------------------------------------------------- */

const char *tls_pin_invalid(const char *pin)
{
    if (strncmp(pin, "sha256//", 8) != 0)
        return "must be sha256//BASE64 (the base64 SHA-256 of the certificate's public key)";
    gnutls_datum_t in = { (unsigned char *)(pin + 8), (unsigned)strlen(pin + 8) }, out = { 0 };
    if (gnutls_base64_decode2(&in, &out) < 0)
        return "not valid base64";
    unsigned sz = out.size;
    gnutls_free(out.data);
    if (sz != 32)
        return "does not decode to 32 bytes (SHA-256)";
    return NULL;
}

static int spki_pin_of_peer(gnutls_session_t s, char *out, size_t outsize)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || n == 0)
        return -1;
    gnutls_x509_crt_t crt;
    gnutls_pubkey_t pub;
    int rc = -1;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    if (gnutls_pubkey_init(&pub) < 0) {
        gnutls_x509_crt_deinit(crt);
        return -1;
    }
    gnutls_datum_t der = { 0 }, b64 = { 0 };
    unsigned char dig[32];
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_pubkey_import_x509(pub, crt, 0) >= 0 &&
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) >= 0 &&
        gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, dig) >= 0) {
        gnutls_datum_t d = { dig, sizeof dig };
        if (gnutls_base64_encode2(&d, &b64) >= 0) {
            snprintf(out, outsize, "sha256//%.*s", (int)b64.size, b64.data);
            rc = 0;
        }
    }
    gnutls_free(der.data);
    gnutls_free(b64.data);
    gnutls_pubkey_deinit(pub);
    gnutls_x509_crt_deinit(crt);
    return rc;
}

/* GnuTLS transport: plain recv()/send() on c->fd, and the first bytes the
 * peer sends during the handshake are kept (c->hs_first) so that a plain
 * SMTP server met with implicit TLS ("220 ...") is explained in words. */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    struct conn *c = ptr;
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n > 0 && c->hs_first_len < sizeof c->hs_first) {
        size_t k = sizeof c->hs_first - c->hs_first_len;
        if (k > (size_t)n)
            k = (size_t)n;
        memcpy(c->hs_first + c->hs_first_len, buf, k);
        c->hs_first_len += k;
    }
    return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    struct conn *c = ptr;
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    struct conn *c = ptr;
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int r;
    do
        r = etp_poll_abortable(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
    while (r < 0 && errno == EINTR && !etp_abort);
    return r;
}

/* The peer answered the ClientHello with what looks like an SMTP reply. */
static int hs_looks_like_smtp(const struct conn *c)
{
    const unsigned char *b = c->hs_first;
    return c->hs_first_len >= 4 && b[0] >= '2' && b[0] <= '5' && isdigit(b[1]) && isdigit(b[2]) &&
           (b[3] == ' ' || b[3] == '-' || b[3] == '\r');
}

int conn_check_pins(gnutls_session_t s, char *const *pins, int npins, char *err, size_t errsize,
                    const char *peer)
{
    char have[80] = "";
    if (spki_pin_of_peer(s, have, sizeof have) < 0) {
        snprintf(err, errsize, "cannot read the public key of %s's certificate to compare it with "
                 "pin-sha256: refusing (no pin can match)", peer);
        return -1;
    }
    for (int i = 0; i < npins; i++)
        if (strcmp(have, pins[i]) == 0)
            return 0;
    snprintf(err, errsize, "certificate of %s does not match any pin-sha256 (its key is %s)", peer, have);
    return -1;
}

static int is_ip_literal(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

int conn_starttls(struct conn *c, const struct tls_params *p, struct tls_info *info)
{
    int ret;
    memset(info, 0, sizeof *info);
    /* RFC 3207: bytes after the 220 and before the handshake are an attack
     * (response injection); also peek at the socket for bytes in flight. */
    char peek;
    if (c->rlen > 0 || recv(c->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
        if (p->implicit)
            seterr(c, "%s spoke before the TLS handshake: it is not an implicit-TLS "
                   "(port 465 style) server; use tls = starttls (ports 25/587) or the "
                   "relay's implicit-TLS port", c->peer);
        else
            seterr(c, "%s sent data after the STARTTLS reply and before the TLS handshake "
                   "(STARTTLS response injection?) — aborting", c->peer);
        c->dead = 1;
        return -1;
    }
    if ((ret = gnutls_certificate_allocate_credentials(&c->cred)) < 0)
        goto tlserr;
    if (p->ca_file) {
        ret = gnutls_certificate_set_x509_trust_file(c->cred, p->ca_file, GNUTLS_X509_FMT_PEM);
        if (ret <= 0) {
            seterr(c, "cannot load CA file %s: %s", p->ca_file,
                   ret == 0 ? "no certificates in it" : gnutls_strerror(ret));
            c->dead = 1;
            return -1;
        }
    } else {
        ret = gnutls_certificate_set_x509_system_trust(c->cred);
        if (ret <= 0) {
            seterr(c, "cannot load the system trust store: %s",
                   ret == 0 ? "no certificates" : gnutls_strerror(ret));
            c->dead = 1;
            return -1;
        }
    }
    if ((ret = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0)
        goto tlserr;
    /* TLS 1.2 and 1.3 only.  Verification profile MEDIUM (112-bit security:
     * RSA/DSA keys of at least 2048 bits, no SHA-1 signatures in the chain);
     * tls-allow-weak-keys drops to LOW (80 bits: 1024-bit RSA) for legacy
     * relays only. */
    if ((ret = gnutls_priority_set_direct(c->tls, p->allow_weak_keys ? TLS_PRIORITY_WEAK : TLS_PRIORITY,
                                          NULL)) < 0)
        goto tlserr;
    if ((ret = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred)) < 0)
        goto tlserr;
    if (!is_ip_literal(p->verify_name))
        gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, p->verify_name, strlen(p->verify_name));
    /* chain, host name and the key purpose: the certificate must be meant
     * for a TLS server (extended key usage serverAuth, when it has an EKU
     * extension at all): a clientAuth- or emailProtection-only certificate
     * of the same CA is refused. */
    gnutls_typed_vdata_st vdata[2] = {
        { .type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)p->verify_name },
        { .type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER },
    };
    gnutls_session_set_verify_cert2(c->tls, vdata, 2, 0);
    if (p->resume && p->resume_len)
        gnutls_session_set_data(c->tls, p->resume, p->resume_len);
    c->hs_first_len = 0;
    gnutls_transport_set_ptr(c->tls, c);
    gnutls_transport_set_pull_function(c->tls, tls_pull);
    gnutls_transport_set_push_function(c->tls, tls_push);
    gnutls_transport_set_pull_timeout_function(c->tls, tls_pull_timeout);

    int64_t deadline = now_ms() + (int64_t)p->timeout_s * 1000;
    do {
        ret = gnutls_handshake(c->tls);
        if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
            short ev = gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
            int w = wait_fd(c->fd, ev, deadline);
            if (w <= 0) {
                seterr(c, "TLS handshake with %s %s", c->peer, w == 0 ? "timed out" : "aborted");
                c->dead = 1;
                return -2;
            }
        }
    } while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
    if (ret < 0) {
        if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            unsigned status = gnutls_session_get_verify_cert_status(c->tls);
            gnutls_datum_t out = { 0 };
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
            seterr(c, "certificate of %s is not valid for %s: %s%s%s", c->peer, p->verify_name,
                   out.data ? (char *)out.data : "verification failed",
                   status & GNUTLS_CERT_PURPOSE_MISMATCH
                       ? " (its extended key usage does not include serverAuth: it is not a TLS "
                         "server certificate)" : "",
                   status & GNUTLS_CERT_INSECURE_ALGORITHM
                       ? (p->allow_weak_keys ? " (a broken algorithm even for tls-allow-weak-keys)"
                          : " (key too weak or broken signature hash: RSA/DSA keys need at least "
                            "2048 bits; for a legacy relay you trust: tls-allow-weak-keys = yes)") : "");
            gnutls_free(out.data);
        } else if (ret == GNUTLS_E_PULL_ERROR || ret == GNUTLS_E_PUSH_ERROR ||
                   ret == GNUTLS_E_PREMATURE_TERMINATION) {
            /* the connection broke (reset, EOF): temporary, like any lost connection */
            int e = ret == GNUTLS_E_PREMATURE_TERMINATION ? 0 : errno;
            seterr(c, "TLS handshake with %s failed: %s (%s)", c->peer, gnutls_strerror(ret),
                   e ? strerror(e) : "connection closed");
            c->dead = 1;
            return -2;
        } else if (hs_looks_like_smtp(c)) {
            char pr[64];
            /* GnuTLS read only a record header: the rest of the line, if here */
            ssize_t more = recv(c->fd, c->hs_first + c->hs_first_len,
                                sizeof c->hs_first - c->hs_first_len, MSG_DONTWAIT);
            if (more > 0)
                c->hs_first_len += (size_t)more;
            size_t n = c->hs_first_len;
            const char *eol = memchr(c->hs_first, '\r', n);
            if (eol)
                n = (size_t)(eol - (const char *)c->hs_first);
            printable(pr, sizeof pr, (const char *)c->hs_first, n);
            if (p->implicit)
                seterr(c, "%s answered the TLS handshake in plain SMTP (\"%s\"): it is not an "
                       "implicit-TLS (port 465 style) server; use tls = starttls (ports 25/587) "
                       "or the relay's implicit-TLS port", c->peer, pr);
            else
                seterr(c, "%s sent plain SMTP (\"%s\") instead of the TLS handshake after "
                       "STARTTLS (STARTTLS response injection?) — aborting", c->peer, pr);
        } else {
            seterr(c, "TLS handshake with %s failed: %s", c->peer, gnutls_strerror(ret));
        }
        c->dead = 1;
        return -1;
    }
    if (p->npins > 0 && conn_check_pins(c->tls, p->pins, p->npins, c->err, sizeof c->err, c->peer) < 0) {
        c->dead = 1;
        return -1;
    }
    const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls));
    snprintf(info->version, sizeof info->version, "%s", v ? v : "?");
    char *desc = gnutls_session_get_desc(c->tls);
    snprintf(info->cipher, sizeof info->cipher, "%s", desc ? desc : "?");
    gnutls_free(desc);
    info->resumed = gnutls_session_is_resumed(c->tls) != 0;
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(c->tls, &n);
    gnutls_x509_crt_t crt;
    if (certs && n > 0 && gnutls_x509_crt_init(&crt) >= 0) {
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0) {
            size_t sz = sizeof info->peer_dn;
            if (gnutls_x509_crt_get_dn(crt, info->peer_dn, &sz) < 0)
                info->peer_dn[0] = '\0';
        }
        gnutls_x509_crt_deinit(crt);
    }
    return 0;
tlserr:
    seterr(c, "TLS setup failed: %s", gnutls_strerror(ret));
    c->dead = 1;
    return -1;
}

void *conn_tls_session_data(struct conn *c, size_t *len)
{
    if (!c->tls)
        return NULL;
    /* TLS 1.3: only a NewSessionTicket makes the data resumable; without
     * one GnuTLS still returns a few bytes that cannot resume anything. */
    if (gnutls_protocol_get_version(c->tls) == GNUTLS_TLS1_3 &&
        !(gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_SESSION_TICKET))
        return NULL;
    gnutls_datum_t d = { 0 };
    if (gnutls_session_get_data2(c->tls, &d) < 0 || d.size == 0)
        return NULL;
    void *copy = malloc(d.size);
    if (copy) {
        memcpy(copy, d.data, d.size);
        *len = d.size;
    }
    secure_wipe(d.data, d.size);       /* the resumption secret */
    gnutls_free(d.data);
    return copy;
}

int conn_read_greeting(struct conn *c, struct smtp_reply *r, int timeout_s, int port, int implicit)
{
    if (port == 465 && !implicit && timeout_s > GREETING_465_S && !c->dead && c->fd >= 0 &&
        c->rlen == 0) {
        int w = wait_fd(c->fd, POLLIN, now_ms() + GREETING_465_S * 1000);
        if (w == 0) {
            reply_init(r);
            seterr(c, "no greeting from %s within %d s on port 465: this port probably expects "
                   "implicit TLS (tls = implicit)", c->peer, GREETING_465_S);
            c->dead = 1;
            return -1;
        }
    }
    return conn_read_reply(c, r, timeout_s);
}

int conn_state_file_name(const char *prefix, const char *relay, const char *host,
                         const char *suffix, char *out, size_t outsize)
{
    unsigned char dig[32];
    gnutls_datum_t parts[2] = { { (unsigned char *)relay, (unsigned)strlen(relay) },
                                { (unsigned char *)(host ? host : ""), (unsigned)strlen(host ? host : "") } };
    gnutls_hash_hd_t h;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return -1;
    gnutls_hash(h, parts[0].data, parts[0].size);
    gnutls_hash(h, "", 1);              /* separator: ("ab","c") != ("a","bc") */
    gnutls_hash(h, parts[1].data, parts[1].size);
    gnutls_hash_deinit(h, dig);
    char readable[65];
    size_t n = 0;
    for (const char *p = relay; *p && n < sizeof readable - 1; p++)
        readable[n++] = (isalnum((unsigned char)*p) || *p == '.' || *p == '-') ? *p : '_';
    readable[n] = '\0';
    int w = snprintf(out, outsize, "%s%s-%02x%02x%02x%02x%02x%02x%02x%02x%s", prefix, readable,
                     dig[0], dig[1], dig[2], dig[3], dig[4], dig[5], dig[6], dig[7], suffix);
    return w > 0 && (size_t)w < outsize ? 0 : -1;
}

int conn_tls_cache_name(const char *relay, const char *host, char *out, size_t outsize)
{
    return conn_state_file_name("tls-", relay, host, ".session", out, outsize);
}
