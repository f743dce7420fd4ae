/* session.h — one relay's poll: SMTP dialogue, TLS, AUTH, ETRN per node,
 * reconnects, results. */
#ifndef ETP_SESSION_H
#define ETP_SESSION_H
#include <stdint.h>
#include "conf/config.h"
#include "smtp/conn.h"
#include "poll/etrn.h"

struct node_result {
    const char *node;
    int attempted;                /* an ETRN was sent */
    enum etrn_class cls;
    int code;                     /* reply code; 0 = no reply */
    char enh[16];
    char text[200];               /* first reply line, printable */
    long count;                   /* 253 count, -1 unknown */
    int exit;                     /* sysexits meaning of this node's result */
};

struct relay_result {
    const struct relay_cfg *rc;
    int exit;                     /* worst over the relay */
    char stage[16];               /* where a relay-level failure happened */
    char error[300];              /* relay-level failure, "" if none */
    char tls_version[32];
    char tls_cipher[96];
    int tls_resumed;              /* any session of this poll resumed */
    char mech[24];                /* SASL mechanism used */
    int sessions;                 /* connections opened */
    int etrn_advertised;
    uint64_t bytes_in, bytes_out;
    int64_t start_ms, end_ms;
    char peer[46];                /* numeric address of the last connection (INET6_ADDRSTRLEN) */
    int nnodes;
    struct node_result nodes[CFG_MAX_NODES];
};

/* An open relay session (kept open after ETRN for the hold). */
struct session {
    const struct etp_config *cfg;
    const struct relay_cfg *rc;
    struct relay_result *res;
    struct conn c;
    int open;                     /* authenticated and ready for commands */
    int etrn_in_session;          /* ETRNs sent on this connection */
    int64_t last_cmd_ms;
    void *tls_resume; size_t tls_resume_len;   /* in-memory across reconnects */
};

void relay_result_init(struct relay_result *res, const struct relay_cfg *rc);

/* Poll one relay: connect (and reconnect as needed), ETRN every node.
 * check_only: stop after AUTH and report whether ETRN is advertised.
 * On return the session may still be open (s->open) for the hold. */
void relay_poll(struct session *s, const struct etp_config *cfg, const struct relay_cfg *rc,
                struct relay_result *res, int check_only);
/* NOOP if the session is open and idle for at least `idle_s`. */
void session_keepalive(struct session *s, int idle_s);
/* QUIT (bounded) and close; frees resumption data. */
void session_end(struct session *s);
#endif
