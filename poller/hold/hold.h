/* hold.h — hold the line until inbound delivery completes (sock_diag).
 *
 * After the relays accepted ETRN, the backup MX connects to the local MTA
 * and delivers.  The hold watches those inbound TCP connections (to
 * hold.port, optionally only at hold.local-address and from hold.source)
 * by sampling the kernel's socket table every hold.sample-ms (plus the
 * kernel's socket-close events, which catch sessions shorter than that),
 * and ends
 * when delivery is complete:
 *   quiet          at least one inbound connection was seen, and none has
 *                  been open for hold.quiet seconds;
 *   nothing-queued every relay answered 251 (ends at once);
 *   no-contact     no inbound connection within hold.first-contact seconds;
 *   max-hold       hold.max-hold seconds passed;
 *   aborted        a signal (etp_abort) or the socket table could not be read.
 * With hold.wait-outbound, the quiet / nothing-queued / no-contact ends also
 * need outbound SMTP connections (to remote port 25, 465, 587) from this
 * host to have been closed for hold.quiet seconds.
 *
 * "Open" means the local side still holds the connection: ESTABLISHED or
 * CLOSE-WAIT.  Once the local MTA has closed its end (FIN-WAIT, CLOSING,
 * LAST-ACK, TIME-WAIT) nothing more can be delivered over it.
 *
 * The decision logic is a pure state machine (hold_sm_*) fed with socket
 * snapshots and times; hold_run() is the thin driver around it. */
#ifndef ETP_HOLD_H
#define ETP_HOLD_H
#include <stdio.h>
#include <stdint.h>
#include "conf/config.h"

enum hold_end {
    HOLD_NOT_RUN = 0,
    HOLD_QUIET,             /* connections seen, none open for `quiet` s */
    HOLD_NOTHING_QUEUED,    /* every relay answered 251 */
    HOLD_NO_CONTACT,        /* no inbound connection within first-contact */
    HOLD_MAX,               /* max-hold reached */
    HOLD_ABORTED,           /* signal / error */
};

struct hold_summary {
    enum hold_end end;
    int connections;              /* distinct inbound connections seen */
    char peers[512];              /* "addr,addr" distinct peers, bounded */
    uint64_t bytes_received;      /* if the kernel reported it (tcp_info) */
    int bytes_known;              /* bytes_received is meaningful */
    int64_t duration_ms;
    int64_t overshoot_ms;         /* hold end - last inbound close; -1 if none
                                     closed (or one was still open at the end) */
    int64_t end_wall_ms;          /* wall clock (ms since the epoch) at the end */
};

/* Called every sample interval while holding (relay keepalive etc.). */
typedef void (*hold_tick_fn)(void *arg);

/* Wait per cfg->hold. nothing_queued: every relay said 251. Runs the
 * flush command and the hold-done hook; writes its state file.
 * Returns 0 (quiet, nothing-queued, no-contact, or the hold is disabled),
 * EX_TEMPFAIL (max-hold: delivery may be unfinished; aborted; the socket
 * table could not be read), EX_CONFIG (bad hold.local-address/source). */
int hold_run(const struct etp_config *cfg, int nothing_queued, hold_tick_fn tick, void *arg,
             struct hold_summary *out);
/* Call before the relay sessions (before ETRN), whenever hold_run() may
 * follow: it subscribes to socket-close events (so a delivery that is over
 * before hold_run() samples is still seen), and with hold.check-local-mta
 * checks that the local MTA accepts connections on hold.port.
 * 0 yes (or check disabled), EX_TEMPFAIL no (logged), EX_CONFIG bad
 * hold.local-address. */
int hold_precheck(const struct etp_config *cfg);
/* Run the hold-done hooks with the summary in ETRNPOLL_HOLD_* variables.
 * The cycle calls this after the relay sessions got their QUIT, so that a
 * hook that hangs up the line (poff) does not cut them off.  Nothing is
 * run for a hold that did not run or was aborted by a signal. */
void hold_done_hooks(const struct etp_config *cfg, const struct hold_summary *s);
const char *hold_end_name(enum hold_end e);
void hold_status(FILE *out, const struct etp_config *cfg);

/* Validate hold.local-address and hold.source (for `etrnpoll check`).
 * 0 ok, -1 with a message in err. */
int hold_check_config(const struct hold_cfg *h, char *err, size_t errsize);

/* ---- address / prefix filter ------------------------------------------ */

struct hold_prefix {
    int family;                   /* AF_INET or AF_INET6; 0 = match anything */
    uint8_t addr[16];
    int bits;                     /* 0..32 / 0..128 */
};
/* Parse "addr" or "addr/prefix" (IPv4 or IPv6; an IPv4-mapped IPv6
 * address is taken as IPv4).  Host bits beyond the prefix are ignored.
 * 0 ok, -1 invalid. */
int hold_prefix_parse(const char *s, struct hold_prefix *p);
/* Does addr (family AF_INET: 4 bytes, AF_INET6: 16) lie in p? */
int hold_prefix_match(const struct hold_prefix *p, int family, const uint8_t *addr);

/* ---- the completion state machine (pure; exposed for tests/fuzzing) ---- */

/* One connection in one snapshot. */
struct hold_conn {
    int outbound;                 /* 0: inbound to the local MTA; 1: outbound SMTP */
    int open;                     /* local side still open (ESTABLISHED, CLOSE-WAIT) */
    int family;                   /* AF_INET / AF_INET6 */
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport;
    uint64_t cookie;              /* with the 4-tuple: the connection's identity.
                                     (A socket that closed unseen may show two
                                     cookies: its close event's and its TIME-WAIT
                                     entry's; closed sightings of one 4-tuple are
                                     therefore merged with a closed track.) */
    uint64_t bytes;               /* received so far; HOLD_BYTES_UNKNOWN if not known */
    int64_t closed_ago_ms;        /* closed: how long ago (TIME-WAIT age); -1 unknown */
};
#define HOLD_BYTES_UNKNOWN UINT64_MAX

struct hold_params {
    int64_t quiet_ms;
    int64_t first_contact_ms;
    int64_t max_hold_ms;
    int wait_outbound;
    int nothing_queued;
    /* Connections already closed in the first snapshot are left-overs of
     * earlier polls and ignored -- unless they closed less than recent_ms
     * before the hold started (a delivery so fast that it was over before
     * the first sample, e.g. on loopback).  The driver sets it to the time
     * since hold_precheck(), i.e. since just before the first ETRN. */
    int64_t recent_ms;
};

/* Events reported while stepping (for logging); may be NULL. */
enum hold_event { HOLD_EV_NEW = 1, HOLD_EV_CLOSED };
typedef void (*hold_event_fn)(void *arg, enum hold_event ev, const struct hold_conn *c,
                              int64_t t_ms);

#define HOLD_SM_MAX_TRACK 4096    /* connections tracked at once */
#define HOLD_SM_MAX_PEERS 16      /* distinct peers remembered for the summary */

#define HOLD_T_NONE INT64_MIN

struct hold_track {
    struct hold_conn c;
    int64_t first_ms;             /* first seen */
    int baseline;                 /* already closed in the first snapshot: ignored */
    int present;                  /* seen in the current snapshot (scratch) */
};

struct hold_sm {
    struct hold_params p;
    hold_event_fn event;
    void *event_arg;
    struct hold_track track[HOLD_SM_MAX_TRACK];
    size_t ntrack;
    uint32_t index[2 * HOLD_SM_MAX_TRACK];  /* open-addressing hash of the identity
                                               (4-tuple + cookie): track no.+1, 0 = empty */
    uint32_t tindex[2 * HOLD_SM_MAX_TRACK]; /* the same, of the 4-tuple alone */
    int steps;
    int64_t last_t;
    int seen_in;                  /* distinct inbound connections (incl. untracked) */
    int untracked;                /* connections that did not fit in track[] */
    int open_in, open_out;        /* open in the last snapshot */
    int64_t last_in_ms;           /* last time an inbound connection was open/closed;
                                     HOLD_T_NONE if none (may be < 0: before the start) */
    int64_t last_in_close_ms;     /* last inbound close; HOLD_T_NONE if none */
    int64_t last_out_ms;          /* last outbound activity (0 = hold start) */
    uint64_t bytes_done;          /* bytes of inbound connections no longer tracked */
    int bytes_known;
    int npeers;
    int peers_overflow;
    struct { int family; uint8_t addr[16]; } peers[HOLD_SM_MAX_PEERS];
    enum hold_end end;
    int64_t end_ms;
};

void hold_sm_init(struct hold_sm *sm, const struct hold_params *p, hold_event_fn ev, void *arg);
/* Feed one snapshot taken at t_ms (ms since the hold started; a time that
 * goes backwards is treated as the previous one).  Returns HOLD_NOT_RUN
 * while the hold goes on, else the end reason (sticky: later calls return
 * it again).  The first snapshot is the baseline: connections already
 * closed in it predate the hold and are ignored. */
enum hold_end hold_sm_step(struct hold_sm *sm, int64_t t_ms, const struct hold_conn *snap,
                           size_t n);
/* End the hold from outside (signal, error) at t_ms. */
void hold_sm_abort(struct hold_sm *sm, int64_t t_ms);
/* Fill connections, peers, bytes, duration, overshoot (not end_wall_ms). */
void hold_sm_summary(const struct hold_sm *sm, struct hold_summary *out);
#endif
