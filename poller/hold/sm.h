/* SPDX-License-Identifier: ISC */
/* sm.h — the hold's pure parts: the address/prefix filter (prefix.c) and
 * the completion state machine (sm.c).  No I/O, no clock, no globals:
 * what the unit tests and the fuzz targets link.  Design: doc/hold.md. */
#ifndef ETP_HOLD_SM_H
#define ETP_HOLD_SM_H
#include <stddef.h>
#include <stdint.h>

enum hold_end {
    HOLD_NOT_RUN = 0,
    HOLD_QUIET,             /* connections seen, none open for the quiet period */
    HOLD_NOTHING_QUEUED,    /* every relay answered 251 */
    HOLD_NO_CONTACT,        /* no inbound connection within first-contact */
    HOLD_MAX,               /* max-hold reached */
    HOLD_ABORTED,           /* signal / error */
    HOLD_EMPTY,             /* no connection within the relays' learned
                               connect-back time: nothing was queued */
};
const char *hold_end_name(enum hold_end e);

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
/* hold.source: "any", or a list of addresses/prefixes separated by commas
 * or blanks.  Returns the number parsed (0..max), or -1 (*bad = the bad
 * item's index) if an item is invalid; *any = 1 for "any". */
#define HOLD_MAX_SOURCES 16
int hold_source_parse(const char *s, struct hold_prefix *out, int max, int *any, int *bad);

/* ---- the completion state machine ------------------------------------- */

/* One connection in one snapshot. */
struct hold_conn {
    int outbound;                 /* 0: inbound to the local MTA; 1: outbound SMTP */
    int open;                     /* local side still open (ESTABLISHED, CLOSE-WAIT,
                                     or SYN-RECV: a handshake under way) */
    int syn;                      /* SYN-RECV: the handshake is not complete yet (the
                                     established socket gets another cookie) */
    int family;                   /* AF_INET / AF_INET6 */
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport;
    uint64_t cookie;              /* with the 4-tuple: the connection's identity.
                                     (A socket that closed unseen may show two
                                     cookies: its close event's and its TIME-WAIT
                                     entry's; closed sightings of one 4-tuple are
                                     therefore merged with a closed track.) */
    uint64_t bytes;               /* received so far; HOLD_BYTES_UNKNOWN if not known */
    int64_t closed_ago_ms;        /* closed: how long ago (TIME-WAIT age, or the
                                     close event's arrival); -1 unknown */
};
#define HOLD_BYTES_UNKNOWN UINT64_MAX

struct hold_params {
    int64_t quiet_ms;             /* the configured quiet period: the floor */
    int64_t quiet_max_ms;         /* adaptive quiet: up to this (<= quiet_ms: fixed) */
    int64_t learned_gap_ms;       /* longest gap between delivery connections seen
                                     in earlier polls of these relays (0: none) */
    int64_t first_contact_ms;
    int64_t contact_bound_ms;     /* learned connect-back bound: no inbound
                                     connection by then ends the hold as
                                     HOLD_EMPTY; 0 = none learned */
    int64_t max_hold_ms;
    int wait_outbound;
    int nothing_queued;
    /* Connections already closed in the first snapshot are left-overs of
     * earlier polls and ignored -- unless they closed less than recent_ms
     * before the hold started (a delivery so fast that it was over before
     * the first sample, e.g. on loopback).  The driver sets it to the time
     * since hold_prepare(), i.e. since just before the first ETRN. */
    int64_t recent_ms;
};

/* Events reported while stepping (for logging); may be NULL. */
enum hold_event { HOLD_EV_NEW = 1, HOLD_EV_CLOSED, HOLD_EV_ESTABLISHED };
struct hold_conn;
typedef void (*hold_event_fn)(void *arg, enum hold_event ev, const struct hold_conn *c,
                              int64_t t_ms);

#define HOLD_SM_MAX_TRACK 4096    /* connections tracked at once */
#define HOLD_SM_MAX_PEERS 16      /* distinct peers remembered for the summary */
#define HOLD_GAP_FACTOR   2       /* adaptive quiet = this x the longest gap */

#define HOLD_T_NONE INT64_MIN

struct hold_track {
    struct hold_conn c;
    int64_t first_ms;             /* first seen */
    int baseline;                 /* already closed in the first snapshot: ignored */
    int present;                  /* seen in the current snapshot (scratch) */
};

struct hold_peer {
    int family;
    uint8_t addr[16];
    int nconn;                    /* connections from it */
    int64_t first_ms;             /* its first connection (ms since the start) */
    uint64_t bytes;               /* received from it (of tracked connections) */
    int bytes_known;
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
    int64_t first_in_ms;          /* first inbound connection; HOLD_T_NONE if none */
    int64_t last_in_ms;           /* last time an inbound connection was open/closed;
                                     HOLD_T_NONE if none (may be < 0: before the start) */
    int64_t last_in_close_ms;     /* last inbound close; HOLD_T_NONE if none */
    int64_t last_out_ms;          /* last outbound activity (0 = hold start) */
    int64_t max_gap_ms;           /* longest time with no inbound connection open
                                     between two delivery connections */
    int64_t quiet_ms;             /* the quiet period in force (adaptive) */
    uint64_t bytes_done;          /* bytes of inbound connections no longer tracked */
    int bytes_known;
    int npeers;
    int peers_overflow;
    struct hold_peer peers[HOLD_SM_MAX_PEERS];
    /* confirmation (hold_sm_confirming) */
    int confirms;                 /* confirming ETRNs accepted so far */
    int64_t confirm_until;        /* a confirmation window ends then; HOLD_T_NONE: none */
    int confirm_seen;             /* seen_in when it was opened */
    int confirmed;                /* the end came after a window that brought nothing */
    enum hold_end end;
    int64_t end_ms;
};

void hold_sm_init(struct hold_sm *sm, const struct hold_params *p, hold_event_fn ev, void *arg);
/* Feed one snapshot taken at t_ms (ms since the hold started; a time that
 * goes backwards is treated as the previous one).  Returns HOLD_NOT_RUN
 * while the hold goes on, else the end reason (sticky: later calls return
 * it again, until hold_sm_confirming()).  The first snapshot is the
 * baseline: connections already closed in it predate the hold and are
 * ignored. */
enum hold_end hold_sm_step(struct hold_sm *sm, int64_t t_ms, const struct hold_conn *snap,
                           size_t n);
/* After a HOLD_QUIET end: a confirming ETRN was accepted; hold on for
 * window_ms.  A new inbound connection in the window puts the hold back
 * under the normal rules (the next quiet end may be confirmed again); a
 * window that passes with none (and nothing open) ends it as HOLD_QUIET
 * with sm->confirmed = 1.  Ignored unless the machine ended by HOLD_QUIET. */
void hold_sm_confirming(struct hold_sm *sm, int64_t window_ms);
/* End the hold from outside (signal, error) at t_ms. */
void hold_sm_abort(struct hold_sm *sm, int64_t t_ms);

struct hold_summary;
/* Fill connections, peers, bytes, duration, overshoot, first contact,
 * quiet, confirmation (not end_wall_ms, not the driver's fields). */
void hold_sm_summary(const struct hold_sm *sm, struct hold_summary *out);
#endif
