/* conn.h — one SMTP connection: TCP (IPv4/IPv6) + optional GnuTLS, line
 * I/O with deadlines, reply reading with the limits of reply.h. */
#ifndef ETP_CONN_H
#define ETP_CONN_H
#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include "smtp/reply.h"
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
};

/* Connect to host:port trying every getaddrinfo address (v6 and v4) until
 * one works, each attempt bounded by timeout_s.  0 ok, -1 error (c->err). */
int conn_open(struct conn *c, const char *host, int port, int timeout_s);
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
};
int conn_starttls(struct conn *c, const struct tls_params *p, struct tls_info *info);
/* Session data for resumption (malloc'd, caller frees), or NULL. */
void *conn_tls_session_data(struct conn *c, size_t *len);

/* Bytes received in clear but not yet consumed (STARTTLS injection check). */
size_t conn_pending(const struct conn *c);

int conn_send_line(struct conn *c, const char *line, int timeout_s);      /* adds CRLF */
/* Same, but the transcript shows `shown` instead of the line (AUTH data). */
int conn_send_line_redacted(struct conn *c, const char *line, const char *shown, int timeout_s);
/* Read one complete reply. 0 ok, -1 I/O/timeout/protocol error (c->err). */
int conn_read_reply(struct conn *c, struct smtp_reply *r, int timeout_s);
/* Send a command and read its reply. */
int conn_cmd(struct conn *c, const char *cmd, struct smtp_reply *r, int timeout_s);

/* Validate the SPKI pin syntax "sha256//BASE64"; NULL if ok. */
const char *tls_pin_invalid(const char *pin);
#endif
