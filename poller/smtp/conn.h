/* SPDX-License-Identifier: ISC */
/* conn.h — one SMTP connection: TCP (IPv4/IPv6) + optional GnuTLS, line
 * I/O with deadlines, reply reading with the limits of reply.h. */
#ifndef ETP_CONN_H
#define ETP_CONN_H
#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include "smtp/reply.h"
#include "smtp/addrcache.h"
#include "conf/config.h"

#define CONN_BUF 4096

struct tls_info {
    char version[32];
    char cipher[96];
    char peer_dn[256];
    int resumed;
};

struct conn {
    int fd;
    gnutls_session_t tls;         /* NULL while in clear */
    gnutls_certificate_credentials_t cred;
    char peer[80];                /* "[addr]:port" */
    char rbuf[CONN_BUF];
    size_t rlen;
    uint64_t bytes_in, bytes_out;
    int dead;                     /* I/O error or EOF seen */
    char err[256];                /* last error, human readable */
    unsigned char hs_first[48];   /* first bytes received in the TLS handshake */
    size_t hs_first_len;
};

/* GnuTLS priority strings: TLS 1.2/1.3 only; certificate verification
 * profile MEDIUM (>= 2048-bit RSA, 112-bit security) or, with the relay's
 * tls-allow-weak-keys, LOW (1024-bit RSA accepted). */
#define TLS_PRIORITY      "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%PROFILE_MEDIUM"
#define TLS_PRIORITY_WEAK "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%PROFILE_LOW"

/* Connect to port on the addresses of host (smtp/addrcache.h: looked up,
 * cached or a literal) in their order until one works, each attempt
 * bounded by timeout_s.  0 ok, -1 error (c->err names host and every
 * address tried). */
int conn_open_addrs(struct conn *c, const char *host, const struct relay_addrs *ra, int port,
                    int timeout_s);
void conn_close(struct conn *c);   /* closes TLS (bye, bounded) and socket */

/* Start TLS on the connection (after STARTTLS 220, or at once for implicit
 * TLS).  Verifies the chain (ca_file or system store) and host name
 * (verify_name), TLS >= 1.2, optional SPKI pins; resumes a session when
 * `resume` (from tls_session_save) is given.  0 ok, -1 error (c->err),
 * -2 the connection broke or timed out during the handshake (temporary). */
struct tls_params {
    const char *verify_name;
    const char *ca_file;
    char *const *pins; int npins;
    const void *resume; size_t resume_len;
    int timeout_s;
    int implicit;                 /* TLS from the first byte (no STARTTLS) */
    int allow_weak_keys;          /* verification profile LOW instead of MEDIUM */
};
int conn_starttls(struct conn *c, const struct tls_params *p, struct tls_info *info);
/* Session data for resumption (malloc'd, caller frees), or NULL when this
 * session brought nothing resumable: a TLS 1.3 session without a
 * NewSessionTicket (Postfix sends none after a resumption) — then the
 * caller keeps the data it already has.  Call it after the last read of
 * the session (after the QUIT reply): a TLS 1.3 ticket arrives after the
 * handshake. */
void *conn_tls_session_data(struct conn *c, size_t *len);

/* Read the server greeting (after conn_open_addrs, or after the implicit-TLS
 * handshake).  On port 465 without implicit TLS, a server that says nothing
 * for GREETING_465_S seconds is almost surely an implicit-TLS server waiting
 * for our ClientHello: fail then, and say so, instead of waiting the whole
 * greeting time-out.  Same return as conn_read_reply. */
#define GREETING_465_S 5
int conn_read_greeting(struct conn *c, struct smtp_reply *r, int timeout_s, int port, int implicit);

/* File name (in the state dir) of the TLS session cache of a relay:
 * "tls-" + the relay name with every byte outside [A-Za-z0-9.-] as '_'
 * (readable, at most 64 of them) + "-" + 16 hex digits of the SHA-256 of
 * the full relay name and host, so relays "a/b" and "a_b" (or two long
 * names sharing a prefix) never share a file.  0 ok, -1 (out too small). */
int conn_tls_cache_name(const char *relay, const char *host, char *out, size_t outsize);
/* The same scheme with another prefix and suffix ("addrs-", ".json"). */
int conn_state_file_name(const char *prefix, const char *relay, const char *host,
                         const char *suffix, char *out, size_t outsize);

/* Bytes received in clear but not yet consumed (STARTTLS injection check). */
size_t conn_pending(const struct conn *c);

int conn_send_line(struct conn *c, const char *line, int timeout_s);      /* adds CRLF */
/* Several command lines (each without CRLF) in one write: a pipelined group
 * (RFC 2920).  At most CONN_SEND_MAX bytes with the CRLFs; -1 (c->err) if
 * more, if a line holds CR or LF, or on an I/O error.  Not for secrets. */
#define CONN_SEND_MAX 4096
int conn_send_lines(struct conn *c, const char *const *lines, int n, int timeout_s);
/* Same, but the transcript shows `shown` instead of the line (AUTH data). */
int conn_send_line_redacted(struct conn *c, const char *line, const char *shown, int timeout_s);
/* Read one complete reply. 0 ok, -1 I/O/timeout/protocol error (c->err). */
int conn_read_reply(struct conn *c, struct smtp_reply *r, int timeout_s);
/* Send a command and read its reply. */
int conn_cmd(struct conn *c, const char *cmd, struct smtp_reply *r, int timeout_s);

/* Compare the SPKI of the session's peer certificate with the pins: 0 if
 * one matches, else -1 with a message in err (the key found, or that it
 * could not be read — never an uninitialised buffer). */
int conn_check_pins(gnutls_session_t s, char *const *pins, int npins, char *err, size_t errsize,
                    const char *peer);

/* Validate the SPKI pin syntax "sha256//BASE64"; NULL if ok. */
const char *tls_pin_invalid(const char *pin);
#endif
