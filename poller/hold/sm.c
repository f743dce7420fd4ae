/* SPDX-License-Identifier: ISC */
/* sm.c — the hold's completion state machine: pure (no I/O, no clock).
 * Fed socket snapshots and times, it says when -- and why -- the hold ends.
 * Rules and their reasons: doc/hold.md "When it ends". */
#include "hold/hold.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static void peer_list(const struct hold_sm *sm, struct hold_summary *out);

const char *hold_end_name(enum hold_end e)
{
    switch (e) {
    case HOLD_NOT_RUN: return "not-run";
    case HOLD_QUIET: return "quiet";
    case HOLD_NOTHING_QUEUED: return "nothing-queued";
    case HOLD_NO_CONTACT: return "no-contact";
    case HOLD_MAX: return "max-hold";
    case HOLD_ABORTED: return "aborted";
    case HOLD_EMPTY: return "empty";
    }
    return "?";
}

#define INDEX_SIZE (2 * HOLD_SM_MAX_TRACK)   /* power of two, load <= 1/2 */

void hold_sm_init(struct hold_sm *sm, const struct hold_params *p, hold_event_fn ev, void *arg)
{
    memset(sm, 0, sizeof *sm);
    sm->p = *p;
    sm->event = ev;
    sm->event_arg = arg;
    sm->last_in_ms = HOLD_T_NONE;
    sm->last_in_close_ms = HOLD_T_NONE;
    sm->first_in_ms = HOLD_T_NONE;
    sm->confirm_until = HOLD_T_NONE;
    sm->max_gap_ms = p->learned_gap_ms > 0 ? p->learned_gap_ms : 0;
    sm->quiet_ms = p->quiet_ms;
    sm->last_out_ms = 0;        /* outbound quiet is counted from the hold's start */
    sm->end = HOLD_NOT_RUN;
}

/* FNV-1a over the identity: direction, 4-tuple and (with_cookie) cookie. */
static uint32_t conn_hash(const struct hold_conn *c, int with_cookie)
{
    uint64_t h = 1469598103934665603ULL;
#define MIX(ptr, len)                                           \
    do {                                                        \
        const uint8_t *b_ = (const uint8_t *)(ptr);             \
        for (size_t i_ = 0; i_ < (len); i_++) {                 \
            h ^= b_[i_];                                        \
            h *= 1099511628211ULL;                              \
        }                                                       \
    } while (0)
    uint8_t dir = (uint8_t)(c->outbound != 0), fam = (uint8_t)c->family;
    MIX(&dir, 1);
    MIX(&fam, 1);
    MIX(c->laddr, 16);
    MIX(c->raddr, 16);
    MIX(&c->lport, sizeof c->lport);
    MIX(&c->rport, sizeof c->rport);
    if (with_cookie)
        MIX(&c->cookie, sizeof c->cookie);
#undef MIX
    return (uint32_t)(h ^ (h >> 32));
}

static int tuple_same(const struct hold_conn *a, const struct hold_conn *b)
{
    return (a->outbound != 0) == (b->outbound != 0) && a->family == b->family &&
           a->lport == b->lport && a->rport == b->rport &&
           memcmp(a->laddr, b->laddr, 16) == 0 && memcmp(a->raddr, b->raddr, 16) == 0;
}

static int conn_same(const struct hold_conn *a, const struct hold_conn *b)
{
    return tuple_same(a, b) && a->cookie == b->cookie;
}

static void insert_into(uint32_t *idx, uint32_t h, size_t ti)
{
    for (size_t probe = 0; probe < INDEX_SIZE; probe++) {
        uint32_t slot = (h + (uint32_t)probe) & (INDEX_SIZE - 1);
        if (idx[slot] == 0) {
            idx[slot] = (uint32_t)ti + 1;
            return;
        }
    }
    /* Unreachable: at most HOLD_SM_MAX_TRACK entries in 2x as many slots. */
}

static void index_insert(struct hold_sm *sm, size_t ti)
{
    insert_into(sm->index, conn_hash(&sm->track[ti].c, 1) & (INDEX_SIZE - 1), ti);
    insert_into(sm->tindex, conn_hash(&sm->track[ti].c, 0) & (INDEX_SIZE - 1), ti);
}

/* Which tracks a probe of one of the two indexes accepts. */
enum probe_want { WANT_SAME, WANT_CLOSED_TUPLE, WANT_SYN_TUPLE };

static int probe_hit(const struct hold_track *tr, const struct hold_conn *c, enum probe_want w)
{
    switch (w) {
    case WANT_SAME:
        return conn_same(&tr->c, c);
    case WANT_CLOSED_TUPLE:
        return !tr->c.open && tuple_same(&tr->c, c);
    case WANT_SYN_TUPLE:
        return tr->c.open && tr->c.syn && tuple_same(&tr->c, c);
    }
    return 0;
}

/* Linear probe of idx from c's hash (with or without the cookie) for the
 * first track w accepts: its number, or -1. */
static long index_probe(const struct hold_sm *sm, const uint32_t *idx, const struct hold_conn *c,
                        enum probe_want w)
{
    uint32_t h = conn_hash(c, w == WANT_SAME) & (INDEX_SIZE - 1);
    for (size_t probe = 0; probe < INDEX_SIZE; probe++) {
        uint32_t v = idx[(h + (uint32_t)probe) & (INDEX_SIZE - 1)];
        if (v == 0)
            return -1;
        if (probe_hit(&sm->track[v - 1], c, w))
            return (long)v - 1;
    }
    return -1;
}

/* Track number of c (same 4-tuple and cookie), or -1. */
static long index_find(const struct hold_sm *sm, const struct hold_conn *c)
{
    return index_probe(sm, sm->index, c, WANT_SAME);
}

/* A track with c's 4-tuple (any cookie) that is closed (want_syn 0) or an
 * open SYN-RECV one (want_syn 1), or -1.  A socket nobody dumped while it was
 * open gets its cookie only when first reported: its close event and its
 * TIME-WAIT entry then carry different cookies; and the kernel reports a
 * connection being set up as a request socket, whose established successor
 * has another cookie but is the same connection. */
static long index_find_tuple(const struct hold_sm *sm, const struct hold_conn *c, int want_syn)
{
    return index_probe(sm, sm->tindex, c, want_syn ? WANT_SYN_TUPLE : WANT_CLOSED_TUPLE);
}

static struct hold_peer *peer_of(struct hold_sm *sm, int family, const uint8_t *addr)
{
    size_t alen = family == AF_INET6 ? 16 : 4;
    for (int i = 0; i < sm->npeers; i++)
        if (sm->peers[i].family == family && memcmp(sm->peers[i].addr, addr, alen) == 0)
            return &sm->peers[i];
    return NULL;
}

static void add_peer(struct hold_sm *sm, const struct hold_conn *c, int64_t t)
{
    size_t alen = c->family == AF_INET6 ? 16 : 4;
    struct hold_peer *p = peer_of(sm, c->family, c->raddr);
    if (p) {
        if (p->nconn < INT32_MAX)
            p->nconn++;
        if (t < p->first_ms)
            p->first_ms = t;
        return;
    }
    if (sm->npeers >= HOLD_SM_MAX_PEERS) {
        sm->peers_overflow = 1;
        return;
    }
    p = &sm->peers[sm->npeers++];
    memset(p, 0, sizeof *p);
    p->family = c->family;
    memcpy(p->addr, c->raddr, alen);
    p->nconn = 1;
    p->first_ms = t;
}

/* A new inbound (relay) connection seen at ct: counted, its peer noted, and
 * the earliest-contact times moved back if it is earlier. */
static void note_inbound(struct hold_sm *sm, const struct hold_conn *c, int64_t ct, int64_t *new_in)
{
    if (sm->seen_in < INT32_MAX)
        sm->seen_in++;
    add_peer(sm, c, ct);
    if (sm->first_in_ms == HOLD_T_NONE || ct < sm->first_in_ms)
        sm->first_in_ms = ct;
    if (*new_in == HOLD_T_NONE || ct < *new_in)
        *new_in = ct;
}

/* A track leaves the table: its bytes go to its peer's account. */
static void peer_add_bytes(struct hold_sm *sm, const struct hold_conn *c)
{
    if (c->outbound || c->bytes == HOLD_BYTES_UNKNOWN)
        return;
    struct hold_peer *p = peer_of(sm, c->family, c->raddr);
    if (p) {
        p->bytes += c->bytes;
        p->bytes_known = 1;
    }
}

static void emit(struct hold_sm *sm, enum hold_event ev, const struct hold_conn *c, int64_t t)
{
    if (sm->event)
        sm->event(sm->event_arg, ev, c, t);
}

static uint64_t track_bytes(const struct hold_track *tr)
{
    return tr->c.bytes == HOLD_BYTES_UNKNOWN ? 0 : tr->c.bytes;
}

void hold_sm_confirming(struct hold_sm *sm, int64_t window_ms)
{
    if (sm->end != HOLD_QUIET)
        return;
    if (window_ms < 0)
        window_ms = 0;
    sm->end = HOLD_NOT_RUN;
    sm->confirmed = 0;
    if (sm->confirms < INT32_MAX)
        sm->confirms++;
    sm->confirm_until = sm->end_ms > INT64_MAX - window_ms ? INT64_MAX : sm->end_ms + window_ms;
    sm->confirm_seen = sm->seen_in;
}

void hold_sm_abort(struct hold_sm *sm, int64_t t_ms)
{
    if (sm->end != HOLD_NOT_RUN)
        return;
    if (t_ms < sm->last_t)
        t_ms = sm->last_t;
    sm->end = HOLD_ABORTED;
    sm->end_ms = t_ms;
}

/* Latest activity time so far (HOLD_T_NONE = none). */
static void note(int64_t *acc, int64_t t)
{
    if (*acc == HOLD_T_NONE || t > *acc)
        *acc = t;
}

/* When did a connection that is closed now close?  Known to lie in
 * [lo, hi]; its TIME-WAIT age (if known) says exactly. */
static int64_t close_time(const struct hold_conn *c, int64_t lo, int64_t hi)
{
    if (c->closed_ago_ms < 0)
        return hi;
    int64_t at = hi - c->closed_ago_ms;
    return at < lo ? lo : at > hi ? hi : at;
}

enum hold_end hold_sm_step(struct hold_sm *sm, int64_t t, const struct hold_conn *snap, size_t n)
{
    if (sm->end != HOLD_NOT_RUN)
        return sm->end;
    if (t < sm->last_t)
        t = sm->last_t;
    if (t < 0)
        t = 0;
    int first = sm->steps == 0;
    /* A connection absent from the previous snapshot opened after it. */
    int64_t prev = first ? -(sm->p.recent_ms > 0 ? sm->p.recent_ms : 0) : sm->last_t;
    sm->last_t = t;
    if (sm->steps < INT32_MAX)
        sm->steps++;

    /* Index the connections known so far. */
    memset(sm->index, 0, sizeof sm->index);
    memset(sm->tindex, 0, sizeof sm->tindex);
    for (size_t i = 0; i < sm->ntrack; i++) {
        sm->track[i].present = 0;
        index_insert(sm, i);
    }
    size_t nold = sm->ntrack;
    int64_t act_in = HOLD_T_NONE, act_out = HOLD_T_NONE;   /* latest activity */
    int untracked_open_in = 0, untracked_open_out = 0;
    int64_t new_in = HOLD_T_NONE;             /* earliest new inbound connection */
    int prev_open_in = sm->open_in;
    int64_t prev_close = sm->last_in_close_ms;

    for (size_t k = 0; k < n; k++) {
        const struct hold_conn *c = &snap[k];
        int out = c->outbound != 0;
        int64_t *act = out ? &act_out : &act_in;
        long ti = index_find(sm, c);
        if (ti < 0 && !c->open)
            ti = index_find_tuple(sm, c, 0);
        if (ti < 0 && !c->syn) {
            /* the connection whose handshake we saw: now established (or
             * already closed), under the full socket's cookie */
            ti = index_find_tuple(sm, c, 1);
            if (ti >= 0) {
                struct hold_track *tr = &sm->track[ti];
                tr->c.syn = 0;
                tr->c.cookie = c->cookie;
                insert_into(sm->index, conn_hash(&tr->c, 1) & (INDEX_SIZE - 1), (size_t)ti);
                if (!tr->baseline)
                    emit(sm, HOLD_EV_ESTABLISHED, &tr->c, t);
            }
        }
        if (ti >= 0) {
            struct hold_track *tr = &sm->track[ti];
            /* Listed twice in one snapshot (a dump entry and a close event):
             * merge; a close wins. */
            int again = tr->present;
            tr->present = 1;
            int was_open = tr->c.open;
            int seen_open = c->open != 0;
            if (c->bytes != HOLD_BYTES_UNKNOWN &&
                (tr->c.bytes == HOLD_BYTES_UNKNOWN || c->bytes > tr->c.bytes))
                tr->c.bytes = c->bytes;       /* bytes only grow */
            tr->c.open = again ? (was_open && seen_open) : seen_open;
            if (!again || !c->syn)
                tr->c.syn = c->syn && tr->c.open;
            if (!again || c->closed_ago_ms >= 0)
                tr->c.closed_ago_ms = c->closed_ago_ms;
            if (tr->baseline)
                continue;
            if (!out && tr->c.bytes != HOLD_BYTES_UNKNOWN)
                sm->bytes_known = 1;
            if (seen_open || tr->c.open)
                note(act, t);                 /* open at (about) t */
            if (was_open && !tr->c.open) {
                /* Closed since the previous sample -- or, when this snapshot
                 * also lists it open (a dump entry, then its close event),
                 * just now. */
                int64_t ct = (again || seen_open) ? t : close_time(c, prev, t);
                emit(sm, HOLD_EV_CLOSED, &tr->c, ct);
                note(act, ct);
                if (!out)
                    note(&sm->last_in_close_ms, ct);
            } else if (again && seen_open && !tr->c.open && !out) {
                note(&sm->last_in_close_ms, t);   /* its close event came first */
            }
            continue;
        }
        /* A connection not seen before.  Closed already in the first
         * snapshot: a left-over from before, unless it closed recently. */
        int64_t ct = c->open ? t : close_time(c, prev, t);
        int baseline = first && !c->open &&
                       !(sm->p.recent_ms > 0 &&
                         (c->closed_ago_ms < 0 || c->closed_ago_ms <= sm->p.recent_ms));
        if (sm->ntrack >= HOLD_SM_MAX_TRACK) {
            /* No room to remember it: count it as activity every time it is
             * seen (the hold can only last longer, never end early). */
            if (baseline)
                continue;
            note(act, t);
            if (out) {
                untracked_open_out += c->open != 0;
            } else {
                untracked_open_in += c->open != 0;
                sm->untracked++;
                note_inbound(sm, c, ct, &new_in);
            }
            continue;
        }
        size_t ni = sm->ntrack++;
        struct hold_track *tr = &sm->track[ni];
        tr->c = *c;
        tr->c.outbound = out;
        tr->c.open = c->open != 0;
        tr->c.syn = c->syn && tr->c.open;
        tr->first_ms = t;
        tr->baseline = baseline;
        tr->present = 1;
        index_insert(sm, ni);
        if (baseline)
            continue;
        emit(sm, HOLD_EV_NEW, &tr->c, t);
        note(act, ct);
        if (!out) {
            note_inbound(sm, c, ct, &new_in);
            if (tr->c.bytes != HOLD_BYTES_UNKNOWN)
                sm->bytes_known = 1;
        }
        if (!tr->c.open) {                    /* opened and closed between samples */
            emit(sm, HOLD_EV_CLOSED, &tr->c, ct);
            if (!out)
                note(&sm->last_in_close_ms, ct);
        }
    }

    /* Connections that vanished: closed (if they were open) after the
     * previous sample; we learn it now. */
    size_t j = 0;
    for (size_t i = 0; i < sm->ntrack; i++) {
        struct hold_track *tr = &sm->track[i];
        if (i < nold && !tr->present) {
            if (!tr->baseline) {
                if (tr->c.open) {
                    tr->c.open = 0;
                    emit(sm, HOLD_EV_CLOSED, &tr->c, t);
                    note(tr->c.outbound ? &act_out : &act_in, t);
                    if (!tr->c.outbound)
                        note(&sm->last_in_close_ms, t);
                }
                if (!tr->c.outbound) {
                    sm->bytes_done += track_bytes(tr);
                    peer_add_bytes(sm, &tr->c);
                }
            }
            continue;                         /* forget it */
        }
        if (j != i)
            sm->track[j] = *tr;
        j++;
    }
    sm->ntrack = j;

    sm->open_in = untracked_open_in;
    sm->open_out = untracked_open_out;
    for (size_t i = 0; i < sm->ntrack; i++) {
        const struct hold_track *tr = &sm->track[i];
        if (tr->baseline || !tr->c.open)
            continue;
        if (tr->c.outbound)
            sm->open_out++;
        else
            sm->open_in++;
    }
    if (act_in != HOLD_T_NONE)
        note(&sm->last_in_ms, act_in);
    if (act_out != HOLD_T_NONE)
        note(&sm->last_out_ms, act_out);

    /* The quiet period follows the line: a relay that left a gap of g
     * between two delivery connections (nothing open in between) may leave
     * one as long again, so wait HOLD_GAP_FACTOR x the longest gap seen
     * (here or in the relays' earlier polls), never less than hold.quiet,
     * never more than quiet_max_ms.  A gap ended by our confirming ETRN
     * is not the relay's own pause: it lasted the quiet period plus the
     * confirmation because we waited that long, and counting it would
     * double the quiet period after every confirmed poll (issue 13: 10 s,
     * 21.9 s, 45.9 s, then the 60 s cap in three GSM polls in a row). */
    const struct hold_params *p = &sm->p;
    if (new_in != HOLD_T_NONE && prev_open_in == 0 && prev_close != HOLD_T_NONE &&
        sm->confirm_until == HOLD_T_NONE &&
        new_in > prev_close && new_in - prev_close > sm->max_gap_ms)
        sm->max_gap_ms = new_in - prev_close;
    sm->quiet_ms = p->quiet_ms;
    if (p->quiet_max_ms > p->quiet_ms && sm->max_gap_ms > 0) {
        int64_t want = sm->max_gap_ms > INT64_MAX / HOLD_GAP_FACTOR
                           ? p->quiet_max_ms : sm->max_gap_ms * HOLD_GAP_FACTOR;
        if (want > p->quiet_max_ms)
            want = p->quiet_max_ms;
        if (want > sm->quiet_ms)
            sm->quiet_ms = want;
    }

    /* A confirmation window: new connections put the hold back under the
     * normal rules; one that passes with nothing ends it. */
    int confirming = 0;
    if (sm->confirm_until != HOLD_T_NONE) {
        if (sm->seen_in > sm->confirm_seen)
            sm->confirm_until = HOLD_T_NONE;
        else
            confirming = 1;
    }

    /* The end rules, natural ends first. */
    int out_quiet = !p->wait_outbound ||
                    (sm->open_out == 0 && t - sm->last_out_ms >= p->quiet_ms);
    enum hold_end end = HOLD_NOT_RUN;
    if (p->nothing_queued && out_quiet)
        end = HOLD_NOTHING_QUEUED;
    else if (confirming) {
        if (sm->open_in == 0 && t >= sm->confirm_until && out_quiet) {
            end = HOLD_QUIET;
            sm->confirmed = 1;
        }
    } else if (sm->seen_in > 0 && sm->open_in == 0 && sm->last_in_ms != HOLD_T_NONE &&
               t - sm->last_in_ms >= sm->quiet_ms && out_quiet)
        end = HOLD_QUIET;
    else if (sm->seen_in == 0 && p->contact_bound_ms > 0 && t >= p->contact_bound_ms &&
             t < p->first_contact_ms && out_quiet)
        end = HOLD_EMPTY;
    else if (sm->seen_in == 0 && t >= p->first_contact_ms && out_quiet)
        end = HOLD_NO_CONTACT;
    if (end == HOLD_NOT_RUN && t >= p->max_hold_ms)
        end = HOLD_MAX;
    if (end != HOLD_NOT_RUN) {
        sm->end = end;
        sm->end_ms = t;
    }
    return end;
}

void hold_sm_summary(const struct hold_sm *sm, struct hold_summary *out)
{
    memset(out, 0, sizeof *out);
    peer_list(sm, out);
    out->end = sm->end;
    out->connections = sm->seen_in;
    uint64_t bytes = sm->bytes_done;
    for (size_t i = 0; i < sm->ntrack; i++)
        if (!sm->track[i].baseline && !sm->track[i].c.outbound)
            bytes += track_bytes(&sm->track[i]);
    out->bytes_received = bytes;
    out->bytes_known = sm->bytes_known;
    int64_t end = sm->end != HOLD_NOT_RUN ? sm->end_ms : sm->last_t;
    out->duration_ms = end;
    out->overshoot_ms = (sm->seen_in > 0 && sm->open_in == 0 && sm->last_in_close_ms != HOLD_T_NONE)
                            ? end - sm->last_in_close_ms : -1;
    out->first_contact_ms = sm->first_in_ms != HOLD_T_NONE ? sm->first_in_ms : -1;
    out->quiet_ms = sm->quiet_ms;
    out->max_gap_ms = sm->max_gap_ms;
    out->confirms = sm->confirms;
    out->confirmed = sm->confirmed;
    size_t len = 0;
    out->peers[0] = '\0';
    for (int i = 0; i < sm->npeers; i++) {
        char a[INET6_ADDRSTRLEN];
        if (!inet_ntop(sm->peers[i].family == AF_INET6 ? AF_INET6 : AF_INET, sm->peers[i].addr, a,
                       sizeof a))
            strcpy(a, "?");
        size_t al = strlen(a);
        if (len + al + 2 + 4 > sizeof out->peers) {   /* keep room for ",..." */
            memcpy(out->peers + len, len ? ",..." : "...", len ? 5 : 4);
            return;
        }
        if (len)
            out->peers[len++] = ',';
        memcpy(out->peers + len, a, al + 1);
        len += al;
    }
    if (sm->peers_overflow && len + 5 <= sizeof out->peers)
        memcpy(out->peers + len, len ? ",..." : "...", len ? 5 : 4);
}

static void peer_list(const struct hold_sm *sm, struct hold_summary *out)
{
    out->npeers = 0;
    for (int i = 0; i < sm->npeers && i < HOLD_SM_MAX_PEERS; i++) {
        const struct hold_peer *p = &sm->peers[i];
        struct hold_peer_sum *q = &out->plist[out->npeers++];
        q->family = p->family;
        memcpy(q->addr, p->addr, 16);
        q->nconn = p->nconn;
        q->first_ms = p->first_ms;
        q->bytes = p->bytes;
        q->bytes_known = p->bytes_known;
        size_t alen = p->family == AF_INET6 ? 16 : 4;
        for (size_t k = 0; k < sm->ntrack; k++) {
            const struct hold_track *tr = &sm->track[k];
            if (tr->baseline || tr->c.outbound || tr->c.family != p->family ||
                memcmp(tr->c.raddr, p->addr, alen) != 0 || tr->c.bytes == HOLD_BYTES_UNKNOWN)
                continue;
            q->bytes += tr->c.bytes;
            q->bytes_known = 1;
        }
    }
}

