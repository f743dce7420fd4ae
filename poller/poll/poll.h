/* SPDX-License-Identifier: ISC */
/* poll.h — the poll layer between the cycle and the SMTP session.
 *
 * A poll method (ETRN, RFC 1985, is the only one today; ODMR/ATRN would be
 * a second) owns the node loop and the session policy: how many commands
 * one session may take, when to reconnect, what a lost reply means.  It
 * reports method-neutral outcomes (poll/result.h); cycle.c asks those,
 * never the method's reply codes. */
#ifndef ETP_POLL_H
#define ETP_POLL_H
#include <pthread.h>
#include <stdint.h>
#include "conf/config.h"
#include "smtp/session.h"
#include "poll/result.h"
#include "poll/learn.h"

/* The cycle's go/stop for the poll commands.  Relays are polled in
 * threads of their own; each opens its session (TCP, TLS, AUTH, EHLO)
 * while the cycle runs the DDNS update and waits until the new address is
 * served, and sends its first command only when the gate opens.  The gate
 * closes for good ("stop") when a required DDNS entry failed, the hold
 * could not be prepared, or the poll was aborted. */
struct poll_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;                    /* 0 closed, 1 go, -1 stop */
    int64_t deadline_ms;          /* with go: poll-timeout from the opening */
    char why[200];                /* with stop */
};
void poll_gate_init(struct poll_gate *g);
void poll_gate_open(struct poll_gate *g, int go, int64_t deadline_ms, const char *why);
void poll_gate_destroy(struct poll_gate *g);

/* One relay's poll. */
struct relay_poll {
    const struct etp_config *cfg;
    const struct relay_cfg *rc;
    struct relay_result *res;
    struct session s;
    struct learned lr;
    int64_t deadline_ms;          /* poll-timeout: every wait ends by it */
    struct poll_gate *gate;       /* NULL: send at once */
    int pipe_off;                 /* ETRN method: pipelining stopped for this poll */
    int pipe_said;                /* ETRN method: why it does not pipeline, logged once */
};
/* For a method: wait until the gate opens (or the poll is aborted).
 * Returns 1 go (rp->deadline_ms is then the gate's), 0 stop (*why set). */
int poll_gate_wait(struct relay_poll *rp, const char **why);

struct poll_method {
    const char *name;
    /* Send every node (check_only: connect, TLS, AUTH; say whether the
     * method is offered; send nothing). */
    void (*poll)(struct relay_poll *rp, int check_only);
    /* Send the command again for the nodes that had mail, on the open
     * session if it is still usable, else a fresh one; every wait ends by
     * deadline_ms.  Returns 1 if a node was accepted again (delivery may
     * follow), 0 otherwise. */
    int (*confirm)(struct relay_poll *rp, int64_t deadline_ms);
};
extern const struct poll_method etrn_method;
const struct poll_method *poll_method_for(const struct relay_cfg *rc);

/* Poll one relay with its method; deadline_ms bounds every wait until the
 * gate opens (gate NULL: no waiting).  Safe to run for several relays at
 * once, one thread each (every relay has its own rp and res). */
void relay_poll_run(struct relay_poll *rp, const struct etp_config *cfg, const struct relay_cfg *rc,
                    struct relay_result *res, int64_t deadline_ms, int check_only,
                    struct poll_gate *gate);
/* QUIT (short wait), store learned behaviour and the TLS cache, free. */
void relay_poll_end(struct relay_poll *rp);

/* The cycle's context, handed to the hold's callbacks. */
struct cycle_ctx {
    const struct etp_config *cfg;
    struct relay_poll *polls;
    struct relay_result *results;
    int n;
    int64_t hold_deadline_ms;     /* the hold's max-hold bound (monotonic ms) */
};

/* The hold's "confirm before hanging up" callback (arg: struct cycle_ctx *).
 * Sends ETRN again for every relay's nodes that had mail (accepted or in
 * progress), on the open session if it is still usable, else on a fresh
 * one; ETRN is idempotent.  Every wait ends by the hold's max-hold bound.
 * Returns 1 if a confirmation ETRN was accepted (keep watching for the
 * connect-back), 0 otherwise. */
int poll_confirm(void *arg);
/* The hold's tick (arg: struct cycle_ctx *): sends nothing; notices relays
 * that closed an idle session (so that confirm reconnects).  Never blocks. */
void poll_hold_tick(void *arg);

/* Hook variable "NAME=a b c" listing nodes, never cut inside a node: when
 * the list exceeds cap bytes it ends with " ...(+N more)" at a node boundary.
 * Returns a malloc'd string (NULL: out of memory). */
char *poll_env_list(const char *name, const char *const *nodes, int n, size_t cap);
#define POLL_ENV_LIST_CAP 65536   /* below the kernel's 128 KiB per-string limit */
#endif
