/* SPDX-License-Identifier: ISC */
/* session.h — one SMTP session with a relay, up to the point where a poll
 * method can speak: connected, TLS verified, authenticated, capabilities
 * known; and QUIT.  What is sent after that (ETRN, ...) belongs to the poll
 * method (poller/poll/).  Every wait is bounded by the step's time-out and
 * by the caller's deadline. */
#ifndef ETP_SESSION_H
#define ETP_SESSION_H
#include <stdint.h>
#include "conf/config.h"
#include "smtp/conn.h"
#include "smtp/reply.h"

/* What the SMTP layer found, over all sessions with one relay in a poll. */
struct session_report {
    int exit;                     /* sysexits of a relay-level failure, 0 if none */
    char stage[16];               /* where it happened: connect greeting ehlo starttls tls ehlo-tls auth */
    char error[300];
    char tls_version[32];
    char tls_cipher[96];
    int tls_resumed;              /* any session of this poll resumed */
    char mech[24];                /* SASL mechanism used */
    int sessions;                 /* connections opened */
    int etrn_advertised;          /* the last EHLO (inside TLS) listed ETRN */
    int first_ehlo_etrn;          /* the first EHLO (before TLS) listed ETRN; -1 not seen */
    uint64_t bytes_in, bytes_out;
    char peer[46];                /* numeric address of the last connection (INET6_ADDRSTRLEN) */
};

struct session {
    const struct etp_config *cfg;
    const struct relay_cfg *rc;
    struct session_report *rep;
    struct conn c;
    struct smtp_caps caps;        /* of the last EHLO */
    int open;                     /* authenticated and ready for commands */
    int commands;                 /* method commands sent on this connection */
    int64_t opened_ms, last_cmd_ms;
    int64_t deadline_ms;          /* of session_open's steps */
    void *tls_resume; size_t tls_resume_len;   /* in-memory across reconnects */
    struct addrcache_pending *addr_pending;    /* lookup past the address cache's TTL */
};

/* Prepare (no I/O except reading the TLS resumption cache). */
void session_init(struct session *s, const struct etp_config *cfg, const struct relay_cfg *rc,
                  struct session_report *rep);
/* Connect and get ready for commands.  0 ok; -1 failed (rep->stage/error/exit
 * set, connection closed).  deadline_ms: absolute monotonic bound (0 = none). */
int session_open(struct session *s, int64_t deadline_ms);
/* Send a command and read its reply within min(timeout_ms, deadline).
 * 0 ok; -1 no reply (s->c.err says why; the connection is dead). */
int session_cmd(struct session *s, const char *cmd, struct smtp_reply *r, int64_t timeout_ms,
                int64_t deadline_ms);
/* The same, for commands a relay may tarpit: if no reply has come after
 * patience_ms although the relay's TCP acknowledged the command, give up
 * and return -2 (the connection is dead).  A command not yet acknowledged
 * (slow line) is waited for up to the normal bound. */
int session_cmd_patient(struct session *s, const char *cmd, struct smtp_reply *r, int64_t timeout_ms,
                        int64_t deadline_ms, int64_t patience_ms);
/* A pipelined group (RFC 2920): the commands in one write (conn_send_lines,
 * bounded by CONN_SEND_MAX), counted in s->commands.  0 ok; -1 not sent
 * (s->c.err; the connection is dead). */
int session_send_group(struct session *s, const char *const *cmds, int n, int64_t timeout_ms,
                       int64_t deadline_ms);
/* The next reply of a group, within min(now + timeout_ms, deadline); from
 * now + patience_ms on (0: never) a relay whose TCP acknowledged every
 * command sent is taken to sit on it: -2 (the connection is dead).  0 ok;
 * -1 no reply (s->c.err; the connection is dead). */
int session_reply_patient(struct session *s, struct smtp_reply *r, int64_t timeout_ms, int64_t deadline_ms,
                          int64_t patience_ms);
/* QUIT, wait at most wait_ms for the 221 (never more than to.quit), close. */
void session_quit(struct session *s, int64_t wait_ms);
/* Close without QUIT (the connection is lost or must be abandoned). */
void session_drop(struct session *s);
/* Open, and the relay has not closed its side (non-blocking; a relay that
 * timed the idle session out is dropped here). */
int session_usable(struct session *s);
/* End: close if still open (QUIT, short wait), store the TLS cache, free. */
void session_free(struct session *s);

/* The short QUIT wait once the work is done: the 221 is courtesy, and on a
 * slow line it may queue behind delivery traffic (issue: dial-up). */
#define SESSION_QUIT_SHORT_MS 1000
#endif
