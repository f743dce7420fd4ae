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
#endif
