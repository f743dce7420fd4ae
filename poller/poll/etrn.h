/* SPDX-License-Identifier: ISC */
/* etrn.h — RFC 1985 ETRN reply meaning (pure functions, fuzzed).
 *
 * etrn_judge() turns one ETRN reply into a method-neutral outcome
 * (poll/result.h) plus what the session policy needs to know: whether the
 * reply was a per-session limit (reconnect and send the node again),
 * whether the session ends, and which node form the relay wants. */
#ifndef ETP_ETRN_H
#define ETP_ETRN_H
#include "smtp/reply.h"
#include "poll/result.h"

struct etrn_verdict {
    enum poll_outcome outcome;
    int code;
    long count;            /* 253: pending messages started; -1 unknown */
    int limit;             /* a per-session limit ("458 4.7.1 ETRN session limit reached",
                              "550 5.7.1 ...", "554 Too many nonmail commands"):
                              the node was not judged; send it on a new session */
    int retry;             /* the reply did not judge the node (limit, 421) */
    int session_ends;      /* the relay ends the session after this reply
                              (421, "Too many syntax or protocol errors") */
    const char *hint;      /* static advice on the node form, or NULL */
};

/* advertised: the EHLO (inside TLS) listed ETRN.  node: what was sent. */
void etrn_judge(const struct smtp_reply *r, int advertised, const char *node,
                struct etrn_verdict *v);
/* Text speaks of a per-session limit (4xx and 5xx; not syntax-error counts). */
int etrn_is_session_limit(const struct smtp_reply *r);
/* "458 Already processing NODE" and other "in progress" texts (4xx/2xx). */
int etrn_is_in_progress(const struct smtp_reply *r);
/* The RFC 1985 count of "253 OK, <n> pending messages for node <x> started",
 * only from that place; -1 if the text has another shape. */
long etrn_253_count(const struct smtp_reply *r);
/* Pipelined ETRN (RFC 2920), an explicit per-relay choice (etrn-pipelining):
 * RFC 2920 section 3.1 lets an extension command only end a group unless its
 * RFC says otherwise, and RFC 1985 says nothing, so a relay may misread a
 * group.  etrn_pipe_group() decides how many of the next nodes go out in
 * one write. */
#define ETRN_PIPE_MAX       32      /* commands per group */
#define ETRN_PIPE_MAX_BYTES 4096    /* bytes per group, CRLFs included (= CONN_SEND_MAX) */
struct etrn_pipe_ctx {
    int enabled;            /* etrn-pipelining = yes */
    int advertised;         /* the EHLO (after STARTTLS) listed PIPELINING */
    int learned;            /* the relay showed a limit (learned per-session value, 0 = none) */
    int refused;            /* a group of an earlier poll got a reply out of shape (learned.json) */
    int off;                /* something odd happened earlier in this poll */
    int budget;             /* commands per session (learn_budget: 0 = unlimited) */
    int sent;               /* commands already sent on this session */
    int left;               /* nodes still to send; nodes[0..left-1] */
    const char *const *nodes;
};
/* The group size for the next nodes: 1 = send one ETRN and wait (the
 * lock-step path), n >= 2 = n ETRNs in one write (at most ETRN_PIPE_MAX,
 * ETRN_PIPE_MAX_BYTES and what the session budget leaves).  *why (may be
 * NULL) gets a static reason when pipelining is enabled but ruled out for
 * the rest of the poll (not advertised, a limit learned, stopped), NULL for
 * passing reasons (one node left, the budget's last command). */
int etrn_pipe_group(const struct etrn_pipe_ctx *c, const char **why);
/* A reply that fits its place in a pipelined group: an ETRN reply
 * (250-253, 4xx, 5xx) that does not speak of pipelining or command
 * synchronisation (Postfix: "554 5.5.0 Error: SMTP protocol
 * synchronization").  Anything else means the replies may no longer be in
 * step with the commands: the rest of the group is unknown. */
int etrn_pipe_reply_ok(const struct smtp_reply *r);
#endif
