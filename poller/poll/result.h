/* SPDX-License-Identifier: ISC */
/* result.h — what a poll method found, per relay and per node, in terms
 * every method shares (cycle.c, state, hooks and the hold read only these;
 * the method's own reply code is kept beside the outcome). */
#ifndef ETP_RESULT_H
#define ETP_RESULT_H
#include <stdint.h>
#include "conf/config.h"
#include "smtp/session.h"

enum poll_outcome {
    PO_NOT_ATTEMPTED = 0,  /* never sent (text says why) */
    PO_ACCEPTED,           /* the relay starts delivering (ETRN 250/252/253 n>0) */
    PO_IN_PROGRESS,        /* a delivery run for the node is already going on (Exim 458 Already processing) */
    PO_NOTHING_QUEUED,     /* nothing waiting (ETRN 251, 253 with 0) */
    PO_TEMPORARY,          /* try again later */
    PO_REFUSED,            /* the relay refuses this node (459, 5xx) */
    PO_CONFIG,             /* our node is wrong (500/501): fix the configuration */
    PO_NOT_OFFERED,        /* the relay does not offer the method at all */
};
const char *poll_outcome_name(enum poll_outcome o);
/* sysexits meaning of an outcome (0 for accepted / in progress / nothing queued). */
int poll_outcome_exit(enum poll_outcome o);
/* Delivery may follow (the hold should run). */
static inline int poll_outcome_delivers(enum poll_outcome o)
{
    return o == PO_ACCEPTED || o == PO_IN_PROGRESS;
}
static inline int poll_outcome_good(enum poll_outcome o)
{
    return o == PO_ACCEPTED || o == PO_IN_PROGRESS || o == PO_NOTHING_QUEUED;
}

struct node_result {
    const char *node;
    int attempted;                /* a command was sent for it (final state) */
    enum poll_outcome outcome;
    int code;                     /* the method's reply code; 0 = no reply */
    char enh[16];
    char text[240];               /* first reply line, or why there is none; never empty */
    long count;                   /* ETRN 253 count, -1 unknown */
    int tries;                    /* commands sent for it (a lost reply is sent again) */
    int exit;                     /* sysexits meaning of this node's result */
};

struct relay_result {
    const struct relay_cfg *rc;
    int exit;                     /* worst over the relay */
    char stage[16];               /* where a relay-level failure happened */
    char error[300];              /* relay-level failure, "" if none */
    struct session_report smtp;   /* TLS, AUTH, sessions, bytes (smtp/session.h) */
    int64_t start_ms, end_ms;
    int budget;                   /* commands per session used (0 = unlimited) */
    int learned;                  /* limit learned in this poll (0 = none) */
    int confirms;                 /* confirmation rounds (hold) */
    char peer[46];                /* = smtp.peer: the relay address connected to (the hold trusts it) */
    int nnodes;
    struct node_result nodes[CFG_MAX_NODES];
};

void relay_result_init(struct relay_result *res, const struct relay_cfg *rc);
#endif
