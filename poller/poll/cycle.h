/* SPDX-License-Identifier: ISC */
/* cycle.h — one poll cycle: pre-poll hooks, DDNS, relays (ETRN), hold,
 * QUIT, state, post-poll hooks.  `etrnpoll poll` runs it in the
 * foreground; the daemon runs it in a child process. */
#ifndef ETP_CYCLE_H
#define ETP_CYCLE_H
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "conf/config.h"

/* What the caller knows about the uplink (ppp hook args, link watcher). */
struct uplink {
    char ifname[IF_NAMESIZE];     /* "" = unknown */
    char addr4[INET_ADDRSTRLEN];  /* "" = unknown */
    char addr6[INET6_ADDRSTRLEN];
};

struct cycle_opts {
    struct uplink up;
    const char *trigger;          /* "manual", "link-up", "timer", "retry", "hook", "signal" */
    int no_hold;                  /* --no-hold */
    int no_ddns;                  /* --no-ddns */
    int check_only;               /* check --connect: session, TLS, AUTH, ETRN advertised; no ETRN */
    int lock_wait;                /* seconds to wait for the poll lock (0 = don't wait) */
    /* Called once, after every relay session has ended (QUIT) and before the
     * hold-done hooks, which may hang up the line: what follows (hooks,
     * state) needs no line.  The daemon lets such a poll finish when the
     * line goes down.  NULL: not called. */
    void (*line_done)(void *arg);
    void *line_done_arg;
};

/* Returns the process exit code (sysexits). Takes the poll lock itself. */
int cycle_run(const struct etp_config *cfg, const struct cycle_opts *o);
#endif
