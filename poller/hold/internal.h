/* SPDX-License-Identifier: ISC */
/* internal.h — the hold handle and helpers shared by the hold's files
 * (driver.c, precheck.c, trust.c, report.c); not for use outside poller/hold/. */
#ifndef ETP_HOLD_INTERNAL_H
#define ETP_HOLD_INTERNAL_H
#include "hold/hold.h"
#include "hold/learn.h"
#include "hold/sockdiag.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define HOLD_STATE_FILE   "hold.json"
#define HOLD_MAX_CONFIRMS 8        /* confirming ETRNs per hold */
#define HOLD_QUIET_MAX_MS 60000    /* adaptive quiet: at most this (or max-hold) */
#define HOLD_IGNORED_MAX  256      /* ignored connections remembered (for counting) */
#define HOLD_PEND_MAX     4096     /* close events buffered between samples */

/* One TCP connection of ours (relay sessions, the precheck): its mirror
 * image is the relay's side, which must not count as an inbound delivery
 * when the relay is on this host. */
struct own_sock {
    int family;
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport;
};

struct hold_relay {
    const struct relay_cfg *rc;
    int has_peer;
    int family;
    uint8_t addr[16];             /* the address etrnpoll connected to */
    int mail_expected;
    int learned;                  /* index into hold->learned, -1 none */
};

struct hold {
    const struct etp_config *cfg;
    struct own_sock precheck;
    int have_precheck;
    int64_t prepared_ms;          /* monotonic; when hold_prepare() ran */
    int destroy_fd;               /* socket-close events, -1 none */
    struct hold_relay relays[CFG_MAX_RELAYS];
    int nrelays;
    struct hold_learned learned[HOLD_LEARN_MAX_RELAYS];
    int nlearned;
    /* close events read while sleeping, with their arrival times */
    struct sd_sock *pend;
    int64_t *pend_at;
    size_t npend;
    int pend_lost;
};

int hold_sa_split(const struct sockaddr_storage *ss, int *family, uint8_t *addr, uint16_t *port);
/* precheck.c: connect to the local MTA (hold.check-local-mta). */
int hold_precheck_mta(struct hold *h);
/* trust.c: load / save the learned state; learn from a finished hold. */
void hold_learn_load(struct hold *h);
int hold_learned_for(struct hold *h, const struct relay_cfg *rc);
void hold_learn_update(struct hold *h, const struct hold_summary *s);
void hold_learn_save(struct hold *h);
/* report.c */
void hold_log_end(const struct hold *h, const struct hold_sm *sm, const struct hold_summary *s);
void hold_write_state(const struct etp_config *cfg, const struct hold_summary *s,
                      int64_t start_wall_ms, int nothing_queued);
int64_t hold_wall_ms(void);
#endif
