/* SPDX-License-Identifier: ISC */
/* hold.h — hold the line until inbound delivery completes (sock_diag).
 *
 * After the relays accepted ETRN, the backup MX connects to the local MTA
 * and delivers.  The hold watches those inbound TCP connections (to
 * hold.port, optionally only at hold.local-address), counting only those
 * from the relay (the addresses etrnpoll connected to, hold.source, and
 * delivery sources learned in earlier polls), from SYN-RECV on, by
 * sampling the kernel's socket table every hold.sample-ms (plus the
 * kernel's socket-close events, which catch sessions shorter than that),
 * and ends when delivery is complete:
 *   quiet          at least one inbound connection was seen, and none has
 *                  been open for the quiet period (hold.quiet, longer when
 *                  the relay leaves longer gaps); confirmed by a second ETRN
 *                  when the cycle can send one;
 *   nothing-queued every relay answered 251 (ends at once);
 *   empty          no connection within the relays' learned connect-back time;
 *   no-contact     no inbound connection within hold.first-contact seconds;
 *   max-hold       hold.max-hold seconds passed;
 *   aborted        a signal (etp_abort) or the socket table could not be read.
 * With hold.wait-outbound, the natural ends also need outbound SMTP
 * connections (to remote port 25, 465, 587) from this host to have been
 * closed for the quiet period.
 *
 * Use: hold_prepare() before the relay sessions (precheck, close-event
 * subscription) -> hold_add_relay() per polled relay -> hold_run() ->
 * hold_free().  The decision logic is the pure state machine of sm.h. */
#ifndef ETP_HOLD_H
#define ETP_HOLD_H
#include <stdio.h>
#include <stdint.h>
#include "conf/config.h"
#include "hold/sm.h"

struct hold_peer_sum {
    int family;
    uint8_t addr[16];
    int nconn;
    int64_t first_ms;
    uint64_t bytes;
    int bytes_known;
};

struct hold_summary {
    enum hold_end end;
    int connections;              /* distinct inbound connections seen (from the relay) */
    char peers[512];              /* "addr,addr" distinct peers, bounded */
    uint64_t bytes_received;      /* if the kernel reported it (tcp_info) */
    int bytes_known;              /* bytes_received is meaningful */
    int64_t duration_ms;
    int64_t overshoot_ms;         /* hold end - last inbound close seen; -1 if none
                                     closed (or one was still open at the end) */
    int64_t end_wall_ms;          /* wall clock (ms since the epoch) at the end */
    int64_t first_contact_ms;     /* first inbound connection after the start; -1 none */
    int64_t quiet_ms;             /* the quiet period in force at the end */
    int64_t max_gap_ms;           /* longest gap between delivery connections */
    int64_t contact_bound_ms;     /* the learned connect-back bound used; 0 none */
    int confirms;                 /* confirming ETRNs accepted */
    int confirmed;                /* 1: the last confirming ETRN brought nothing */
    int confirm_unavailable;      /* the quiet end could not be confirmed */
    int ignored;                  /* connections ignored: not from the relay */
    char ignored_peers[256];      /* their sources, bounded */
    int npeers;
    struct hold_peer_sum plist[HOLD_SM_MAX_PEERS];
};

/* Called every sample interval while holding (relay keepalive etc.). */
typedef void (*hold_tick_fn)(void *arg);
/* Called when the quiet period says "done": send a confirming ETRN to the
 * relays that had mail.  Returns 1 if one was accepted (the hold then waits
 * the learned connect-back time for a new connection), 0 if no confirmation
 * is possible (the hold ends as without one). */
typedef int (*hold_confirm_fn)(void *arg);

struct hold;
/* Before the relay sessions (before ETRN), whenever hold_run() may follow:
 * subscribes to socket-close events (so a delivery that is over before
 * hold_run() samples is still seen), loads what was learned about the
 * relays, and with hold.check-local-mta checks that the local MTA accepts
 * connections on hold.port.  *out receives the handle (also on failure;
 * NULL only when out of memory).  Returns 0, EX_TEMPFAIL (the MTA does not
 * accept; logged), EX_CONFIG (bad hold.local-address / source). */
int hold_prepare(const struct etp_config *cfg, struct hold **out);
/* A relay of this poll: rc its config, peer the numeric address etrnpoll
 * connected to ("" if unknown), mail_expected 1 if it accepted ETRN with
 * something other than 251. */
void hold_add_relay(struct hold *h, const struct relay_cfg *rc, const char *peer,
                    int mail_expected);
/* Wait per cfg->hold. nothing_queued: every relay said 251. Runs the
 * flush command; writes hold.json and the learned state.  tick, confirm:
 * optional (NULL).  Returns 0 (quiet, nothing-queued, empty, no-contact, or
 * the hold is disabled), EX_TEMPFAIL (max-hold: delivery may be
 * unfinished; aborted; the socket table could not be read), EX_CONFIG
 * (bad hold.local-address/source). */
int hold_run(struct hold *h, int nothing_queued, hold_tick_fn tick, hold_confirm_fn confirm,
             void *arg, struct hold_summary *out);
void hold_free(struct hold *h);

/* Run the hold-done hooks with the summary in ETRNPOLL_HOLD_* variables.
 * The cycle calls this after the relay sessions got their QUIT, so that a
 * hook that hangs up the line (poff) does not cut them off.  Nothing is
 * run for a hold that did not run or was aborted by a signal. */
void hold_done_hooks(const struct etp_config *cfg, const struct hold_summary *s);
void hold_status(FILE *out, const struct etp_config *cfg);

/* Validate hold.local-address and hold.source (for `etrnpoll check`, and
 * before every hold): syntax, and hold.local-address must be an address
 * of this host.  0 ok, -1 with a message in err. */
int hold_check_config(const struct hold_cfg *h, char *err, size_t errsize);
#endif
