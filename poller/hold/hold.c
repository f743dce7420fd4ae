/* hold.c — hold the line until inbound delivery completes.
 *
 * Three layers:
 *   1. hold_prefix_*: the address / prefix filter (hold.source, hold.local-address);
 *   2. hold_sm_*:     the completion state machine — pure: it is fed socket
 *                     snapshots and times and says when (and why) to stop;
 *   3. hold_run():    the driver: samples the kernel's socket table
 *                     (sockdiag.c) every hold.sample-ms, adds the socket-close
 *                     events received since the last sample (sessions that
 *                     began and ended in between), filters, feeds the state
 *                     machine, calls the cycle's tick, runs the flush command,
 *                     logs, writes hold.json, runs the hold-done hook.
 * plus hold_precheck() (is the local MTA listening?  It also subscribes to
 * the close events, before the first ETRN) and hold_status().
 * Design notes and limits: doc/hold.md. */
#include "hold/hold.h"
#include "core/hooks.h"
#include "core/log.h"
#include "hold/sockdiag.h"
#include "core/state.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOLD_STATE_FILE "hold.json"
#define HOLD_SNAP_MAX   HOLD_SM_MAX_TRACK  /* sockets read per dump / drain */
#define HOLD_SNAP_TOTAL (3 * (size_t)HOLD_SNAP_MAX) /* in, out, close events */
#define HOLD_OWN_MAX    64                 /* own sockets excluded from the watch */
#define HOLD_DIAG_FAILS 10                 /* consecutive failed samples before giving up */
#define PRECHECK_MS     5000

/* ====================================================================== */
/* 1. address / prefix filter                                             */
/* ====================================================================== */

int hold_prefix_parse(const char *s, struct hold_prefix *p)
{
    memset(p, 0, sizeof *p);
    if (!s || !*s)
        return -1;
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlcpy_chk(buf, s, sizeof buf) < 0)
        return -1;
    int bits = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        const char *b = slash + 1;
        if (!*b || strlen(b) > 3)
            return -1;
        bits = 0;
        for (; *b; b++) {
            if (*b < '0' || *b > '9')
                return -1;
            bits = bits * 10 + (*b - '0');
        }
    }
    /* "[addr6]" is accepted too, as people write it in mail configs. */
    char *a = buf;
    size_t al = strlen(a);
    if (al >= 2 && a[0] == '[' && a[al - 1] == ']') {
        a[al - 1] = '\0';
        a++;
    }
    if (inet_pton(AF_INET, a, p->addr) == 1) {
        p->family = AF_INET;
        if (bits < 0)
            bits = 32;
        if (bits > 32)
            return -1;
    } else if (inet_pton(AF_INET6, a, p->addr) == 1) {
        p->family = AF_INET6;
        if (bits < 0)
            bits = 128;
        if (bits > 128)
            return -1;
        struct in6_addr a6;
        memcpy(&a6, p->addr, 16);
        if (IN6_IS_ADDR_V4MAPPED(&a6) && bits >= 96) {   /* ::ffff:a.b.c.d[/n] */
            p->family = AF_INET;
            memmove(p->addr, p->addr + 12, 4);
            memset(p->addr + 4, 0, 12);
            bits -= 96;
        }
    } else {
        return -1;
    }
    p->bits = bits;
    return 0;
}

int hold_prefix_match(const struct hold_prefix *p, int family, const uint8_t *addr)
{
    if (p->family == 0)
        return 1;
    if (family != p->family)
        return 0;
    int bits = p->bits;
    int maxbits = family == AF_INET ? 32 : 128;
    if (bits > maxbits)
        bits = maxbits;
    int full = bits / 8, rest = bits % 8;
    if (memcmp(p->addr, addr, (size_t)full) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff00u >> rest);
        if ((p->addr[full] & mask) != (addr[full] & mask))
            return 0;
    }
    return 1;
}

int hold_check_config(const struct hold_cfg *h, char *err, size_t errsize)
{
    struct hold_prefix p;
    if (h->local_address &&
        (strchr(h->local_address, '/') || hold_prefix_parse(h->local_address, &p) < 0)) {
        snprintf(err, errsize, "hold: local-address = \"%s\" is not an IPv4 or IPv6 address",
                 h->local_address);
        return -1;
    }
    if (h->source && hold_prefix_parse(h->source, &p) < 0) {
        snprintf(err, errsize, "hold: source = \"%s\" is not an address or address/prefix "
                 "(e.g. 192.0.2.10 or 2001:db8::/32)", h->source);
        return -1;
    }
    return 0;
}

const char *hold_end_name(enum hold_end e)
{
    switch (e) {
    case HOLD_NOT_RUN: return "not-run";
    case HOLD_QUIET: return "quiet";
    case HOLD_NOTHING_QUEUED: return "nothing-queued";
    case HOLD_NO_CONTACT: return "no-contact";
    case HOLD_MAX: return "max-hold";
    case HOLD_ABORTED: return "aborted";
    }
    return "?";
}

/* ====================================================================== */
/* 2. the completion state machine                                        */
/* ====================================================================== */

#define INDEX_SIZE (2 * HOLD_SM_MAX_TRACK)   /* power of two, load <= 1/2 */

void hold_sm_init(struct hold_sm *sm, const struct hold_params *p, hold_event_fn ev, void *arg)
{
    memset(sm, 0, sizeof *sm);
    sm->p = *p;
    sm->event = ev;
    sm->event_arg = arg;
    sm->last_in_ms = HOLD_T_NONE;
    sm->last_in_close_ms = HOLD_T_NONE;
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

/* Track number of c (same 4-tuple and cookie), or -1. */
static long index_find(const struct hold_sm *sm, const struct hold_conn *c)
{
    uint32_t h = conn_hash(c, 1) & (INDEX_SIZE - 1);
    for (size_t probe = 0; probe < INDEX_SIZE; probe++) {
        uint32_t slot = (h + (uint32_t)probe) & (INDEX_SIZE - 1);
        uint32_t v = sm->index[slot];
        if (v == 0)
            return -1;
        if (conn_same(&sm->track[v - 1].c, c))
            return (long)v - 1;
    }
    return -1;
}

/* A closed track with c's 4-tuple (any cookie), or -1.  A socket nobody
 * dumped while it was open gets its cookie only when first reported: its
 * close event and its TIME-WAIT entry then carry different cookies. */
static long index_find_closed_tuple(const struct hold_sm *sm, const struct hold_conn *c)
{
    uint32_t h = conn_hash(c, 0) & (INDEX_SIZE - 1);
    for (size_t probe = 0; probe < INDEX_SIZE; probe++) {
        uint32_t slot = (h + (uint32_t)probe) & (INDEX_SIZE - 1);
        uint32_t v = sm->tindex[slot];
        if (v == 0)
            return -1;
        const struct hold_track *tr = &sm->track[v - 1];
        if (!tr->c.open && tuple_same(&tr->c, c))
            return (long)v - 1;
    }
    return -1;
}

static void add_peer(struct hold_sm *sm, const struct hold_conn *c)
{
    size_t alen = c->family == AF_INET6 ? 16 : 4;
    for (int i = 0; i < sm->npeers; i++)
        if (sm->peers[i].family == c->family && memcmp(sm->peers[i].addr, c->raddr, alen) == 0)
            return;
    if (sm->npeers >= HOLD_SM_MAX_PEERS) {
        sm->peers_overflow = 1;
        return;
    }
    sm->peers[sm->npeers].family = c->family;
    memset(sm->peers[sm->npeers].addr, 0, 16);
    memcpy(sm->peers[sm->npeers].addr, c->raddr, alen);
    sm->npeers++;
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

    for (size_t k = 0; k < n; k++) {
        const struct hold_conn *c = &snap[k];
        int out = c->outbound != 0;
        int64_t *act = out ? &act_out : &act_in;
        long ti = index_find(sm, c);
        if (ti < 0 && !c->open)
            ti = index_find_closed_tuple(sm, c);
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
                if (sm->seen_in < INT32_MAX)
                    sm->seen_in++;
                sm->untracked++;
                add_peer(sm, c);
            }
            continue;
        }
        size_t ni = sm->ntrack++;
        struct hold_track *tr = &sm->track[ni];
        tr->c = *c;
        tr->c.outbound = out;
        tr->c.open = c->open != 0;
        tr->first_ms = t;
        tr->baseline = baseline;
        tr->present = 1;
        index_insert(sm, ni);
        if (baseline)
            continue;
        emit(sm, HOLD_EV_NEW, &tr->c, t);
        note(act, ct);
        if (!out) {
            if (sm->seen_in < INT32_MAX)
                sm->seen_in++;
            add_peer(sm, c);
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
                if (!tr->c.outbound)
                    sm->bytes_done += track_bytes(tr);
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

    /* The end rules, natural ends first. */
    const struct hold_params *p = &sm->p;
    int out_quiet = !p->wait_outbound ||
                    (sm->open_out == 0 && t - sm->last_out_ms >= p->quiet_ms);
    enum hold_end end = HOLD_NOT_RUN;
    if (p->nothing_queued && out_quiet)
        end = HOLD_NOTHING_QUEUED;
    else if (sm->seen_in > 0 && sm->open_in == 0 && sm->last_in_ms != HOLD_T_NONE &&
             t - sm->last_in_ms >= p->quiet_ms && out_quiet)
        end = HOLD_QUIET;
    else if (sm->seen_in == 0 && t >= p->first_contact_ms && out_quiet)
        end = HOLD_NO_CONTACT;
    else if (t >= p->max_hold_ms)
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
    size_t len = 0;
    out->peers[0] = '\0';
    for (int i = 0; i < sm->npeers; i++) {
        char a[INET6_ADDRSTRLEN];
        sd_addr_str((uint8_t)sm->peers[i].family, sm->peers[i].addr, a, sizeof a);
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

/* ====================================================================== */
/* 3. the driver                                                          */
/* ====================================================================== */

/* One of our own TCP connections (relay sessions): its mirror image is the
 * relay's side, which must not count as an inbound delivery when the relay
 * is on this host; and it is not "outbound SMTP from the MTA". */
struct own_sock {
    int family;
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport;
};

static int sa_split(const struct sockaddr_storage *ss, int *family, uint8_t *addr, uint16_t *port)
{
    memset(addr, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        *family = AF_INET;
        memcpy(addr, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        *port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            *family = AF_INET;
            memcpy(addr, s6->sin6_addr.s6_addr + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, &s6->sin6_addr, 16);
        }
        return 0;
    }
    return -1;
}

/* Our own connected TCP sockets, from /proc/self/fd. */
static size_t own_sockets(struct own_sock *own, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || fd < 0 || fd == dfd)
            continue;
        int type = 0;
        socklen_t tl = sizeof type;
        if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
            continue;
        struct sockaddr_storage l, r;
        socklen_t ll = sizeof l, rl = sizeof r;
        if (getsockname((int)fd, (struct sockaddr *)&l, &ll) < 0 ||
            getpeername((int)fd, (struct sockaddr *)&r, &rl) < 0)
            continue;
        struct own_sock *o = &own[n];
        int f2;
        if (sa_split(&l, &o->family, o->laddr, &o->lport) < 0 ||
            sa_split(&r, &f2, o->raddr, &o->rport) < 0 || f2 != o->family)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

/* The precheck's own connection to the local MTA (closed before the hold,
 * but the MTA's end may linger in CLOSE-WAIT): excluded from the watch. */
static struct own_sock g_precheck;
static int g_have_precheck;
/* When hold_precheck() ran (monotonic ms; 0 = not in this poll): the cycle
 * calls it just before the relay sessions, so a connection that closed
 * after it may be a delivery that was over before the first sample. */
static int64_t g_precheck_ms;
/* Socket-close event subscription, opened by hold_precheck() (so closes
 * between ETRN and the first sample are queued too) or by hold_run(). */
static int g_destroy_fd = -1;

static void destroy_close(void)
{
    sd_close(g_destroy_fd);
    g_destroy_fd = -1;
}

static void destroy_open(void)
{
    sd_close(g_destroy_fd);
    g_destroy_fd = sd_open_destroy();
    if (g_destroy_fd < 0)
        log_info("hold: no socket-close events (%s); relying on sampling alone",
                 strerror(errno));
}

struct driver {
    const struct etp_config *cfg;
    struct hold_prefix local, source;
    int have_local, have_source;
    struct own_sock own[HOLD_OWN_MAX];
    size_t nown;
    int diag_fd;
    struct sd_sock *raw;                      /* HOLD_SNAP_MAX */
    struct hold_conn *snap;                   /* HOLD_SNAP_TOTAL */
    int warned_overflow;
    int warned_lost;
};

static int is_own(const struct own_sock *o, const struct sd_sock *s, int mirror)
{
    if (o->family != s->family)
        return 0;
    size_t al = o->family == AF_INET6 ? 16 : 4;
    if (!mirror)
        return o->lport == s->lport && o->rport == s->rport &&
               memcmp(o->laddr, s->laddr, al) == 0 && memcmp(o->raddr, s->raddr, al) == 0;
    return o->lport == s->rport && o->rport == s->lport &&
           memcmp(o->laddr, s->raddr, al) == 0 && memcmp(o->raddr, s->laddr, al) == 0;
}

static int excluded(const struct driver *d, const struct sd_sock *s, int outbound)
{
    for (size_t i = 0; i < d->nown; i++)
        if (is_own(&d->own[i], s, !outbound))
            return 1;
    if (g_have_precheck && is_own(&g_precheck, s, !outbound))
        return 1;
    return 0;
}

static int smtp_port(uint16_t p)
{
    return p == 25 || p == 465 || p == 587;
}

/* Does s count?  Inbound: to hold.port, at hold.local-address, from
 * hold.source.  Outbound: to an SMTP port, not from hold.port. */
static int wanted(const struct driver *d, const struct sd_sock *s, int outbound)
{
    const struct hold_cfg *h = &d->cfg->hold;
    if (!outbound) {
        if (s->lport != h->port)
            return 0;
        if (d->have_local && !hold_prefix_match(&d->local, s->family, s->laddr))
            return 0;
        if (d->have_source && !hold_prefix_match(&d->source, s->family, s->raddr))
            return 0;
    } else if (!smtp_port(s->rport) || s->lport == h->port) {
        return 0;     /* (a peer's port 25 connecting to our hold.port is inbound) */
    }
    return !excluded(d, s, outbound);
}

static void to_conn(const struct sd_sock *s, int outbound, struct hold_conn *c)
{
    memset(c, 0, sizeof *c);
    c->outbound = outbound;
    c->open = s->state == SD_TCP_ESTABLISHED || s->state == SD_TCP_CLOSE_WAIT;
    c->family = s->family;
    memcpy(c->laddr, s->laddr, 16);
    memcpy(c->raddr, s->raddr, 16);
    c->lport = s->lport;
    c->rport = s->rport;
    c->cookie = s->cookie;
    c->bytes = s->bytes_received == SD_BYTES_UNKNOWN ? HOLD_BYTES_UNKNOWN : s->bytes_received;
    c->closed_ago_ms = -1;
    if (s->state == SD_TCP_TIME_WAIT && s->expires_ms <= SD_TIMEWAIT_MS)
        c->closed_ago_ms = SD_TIMEWAIT_MS - (int64_t)s->expires_ms;
}

/* Take one snapshot (inbound, and outbound if configured) into d->snap.
 * Returns the number of connections, or -1 (errno) if the table could not
 * be read. */
static long sample(struct driver *d)
{
    const struct hold_cfg *h = &d->cfg->hold;
    size_t total = 0;
    for (int outbound = 0; outbound <= (h->wait_outbound ? 1 : 0); outbound++) {
        struct sd_query q = { .remote = outbound, .states = SD_STATES_CONNECTED,
                              .want_info = !outbound };
        if (outbound) {
            q.ports[0] = 25;
            q.ports[1] = 465;
            q.ports[2] = 587;
            q.nports = 3;
        } else {
            q.ports[0] = (uint16_t)h->port;
            q.nports = 1;
        }
        size_t n = 0, dropped = 0;
        if (sd_dump(d->diag_fd, &q, d->raw, HOLD_SNAP_MAX, &n, &dropped) < 0)
            return -1;
        if (dropped && !d->warned_overflow) {
            log_warn("hold: more than %d %s SMTP sockets; %zu not examined",
                     HOLD_SNAP_MAX, outbound ? "outbound" : "inbound", dropped);
            d->warned_overflow = 1;
        }
        for (size_t i = 0; i < n && total < HOLD_SNAP_TOTAL; i++)
            if (wanted(d, &d->raw[i], outbound))
                to_conn(&d->raw[i], outbound, &d->snap[total++]);
    }
    /* Then the connections freed since the last sample (close events):
     * they catch sessions that began and ended between two dumps. */
    if (g_destroy_fd >= 0) {
        size_t n = 0, dropped = 0;
        int lost = 0;
        if (sd_drain_destroyed(g_destroy_fd, d->raw, HOLD_SNAP_MAX, &n, &dropped, &lost) < 0) {
            log_warn("hold: reading socket-close events failed: %s; sampling only",
                     strerror(errno));
            sd_close(g_destroy_fd);
            g_destroy_fd = -1;
        }
        if ((lost || dropped) && !d->warned_lost) {
            log_warn("hold: socket-close events were lost (busy host); a connection "
                     "shorter than %d ms may go unseen", h->sample_ms);
            d->warned_lost = 1;
        }
        for (size_t i = 0; i < n && total < HOLD_SNAP_TOTAL; i++) {
            const struct sd_sock *s = &d->raw[i];
            if (wanted(d, s, 0))
                to_conn(s, 0, &d->snap[total++]);
            else if (h->wait_outbound && wanted(d, s, 1))
                to_conn(s, 1, &d->snap[total++]);
        }
    }
    return (long)total;
}

static void conn_str(const struct hold_conn *c, int remote, char *buf, size_t size)
{
    char a[INET6_ADDRSTRLEN];
    sd_addr_str((uint8_t)c->family, remote ? c->raddr : c->laddr, a, sizeof a);
    snprintf(buf, size, c->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
             (unsigned)(remote ? c->rport : c->lport));
}

static void on_event(void *arg, enum hold_event ev, const struct hold_conn *c, int64_t t)
{
    (void)arg;
    char peer[INET6_ADDRSTRLEN + 10];
    conn_str(c, 1, peer, sizeof peer);
    if (ev == HOLD_EV_NEW) {
        if (c->outbound)
            log_info("hold: +%.1f s: outbound SMTP connection to %s", (double)t / 1000, peer);
        else
            log_info("hold: +%.1f s: inbound connection from %s", (double)t / 1000, peer);
    } else {
        char bytes[40] = "";
        if (!c->outbound && c->bytes != HOLD_BYTES_UNKNOWN)
            snprintf(bytes, sizeof bytes, " (%" PRIu64 " bytes received)", c->bytes);
        log_info("hold: +%.1f s: %s connection %s %s closed%s", (double)t / 1000,
                 c->outbound ? "outbound" : "inbound", c->outbound ? "to" : "from", peer, bytes);
    }
}

/* Sleep until the monotonic deadline; 0, or -1 if etp_abort was set. */
static int sleep_until(int64_t deadline)
{
    for (;;) {
        if (etp_abort)
            return -1;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        if (poll(NULL, 0, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
            return 0;
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_state(const struct etp_config *cfg, const struct hold_summary *s,
                        int64_t start_wall_ms, int nothing_queued)
{
    if (!cfg->state_dir)
        return;
    json_object *o = json_object_new_object();
    if (!o)
        return;
    json_object_object_add(o, "end", json_object_new_string(hold_end_name(s->end)));
    json_object_object_add(o, "started_ms", json_object_new_int64(start_wall_ms));
    json_object_object_add(o, "ended_ms", json_object_new_int64(s->end_wall_ms));
    json_object_object_add(o, "duration_ms", json_object_new_int64(s->duration_ms));
    json_object_object_add(o, "connections", json_object_new_int(s->connections));
    json_object_object_add(o, "peers", json_object_new_string(s->peers));
    json_object_object_add(o, "bytes_received",
                           s->bytes_known ? json_object_new_int64((int64_t)s->bytes_received)
                                          : NULL);
    json_object_object_add(o, "overshoot_ms", json_object_new_int64(s->overshoot_ms));
    json_object_object_add(o, "nothing_queued", json_object_new_boolean(nothing_queued));
    (void)state_write_json(cfg->state_dir, HOLD_STATE_FILE, o);   /* logs its own errors */
    json_object_put(o);
}

static char *const flush_env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };

void hold_done_hooks(const struct etp_config *cfg, const struct hold_summary *s)
{
    if (s->end == HOLD_NOT_RUN || (s->end == HOLD_ABORTED && etp_abort))
        return;
    char e_end[64], e_conn[64], e_sec[64], e_peers[600], e_bytes[64], e_over[64];
    snprintf(e_end, sizeof e_end, "ETRNPOLL_HOLD_END=%s", hold_end_name(s->end));
    snprintf(e_conn, sizeof e_conn, "ETRNPOLL_HOLD_CONNECTIONS=%d", s->connections);
    snprintf(e_sec, sizeof e_sec, "ETRNPOLL_HOLD_SECONDS=%" PRId64, (s->duration_ms + 500) / 1000);
    snprintf(e_peers, sizeof e_peers, "ETRNPOLL_HOLD_PEERS=%s", s->peers);
    if (s->bytes_known)
        snprintf(e_bytes, sizeof e_bytes, "ETRNPOLL_HOLD_BYTES=%" PRIu64, s->bytes_received);
    else
        snprintf(e_bytes, sizeof e_bytes, "ETRNPOLL_HOLD_BYTES=");
    if (s->overshoot_ms >= 0)
        snprintf(e_over, sizeof e_over, "ETRNPOLL_HOLD_OVERSHOOT_MS=%" PRId64, s->overshoot_ms);
    else
        snprintf(e_over, sizeof e_over, "ETRNPOLL_HOLD_OVERSHOOT_MS=");
    char *env[] = { e_end, e_conn, e_sec, e_peers, e_bytes, e_over, NULL };
    int failed = hooks_run(cfg, "hold-done", env);
    if (failed > 0)
        log_warn("hold: %d hold-done hook(s) failed", failed);
}

static void log_end(const struct etp_config *cfg, const struct hold_sm *sm,
                    const struct hold_summary *s)
{
    const struct hold_cfg *h = &cfg->hold;
    char bytes[48] = "";
    if (s->bytes_known)
        snprintf(bytes, sizeof bytes, ", %" PRIu64 " bytes received", s->bytes_received);
    char over[64] = "";
    if (s->overshoot_ms >= 0)
        snprintf(over, sizeof over, "; line held %.1f s after the last one closed",
                 (double)s->overshoot_ms / 1000);
    const char *why = "";
    switch (s->end) {
    case HOLD_QUIET: why = "delivery complete (quiet period)"; break;
    case HOLD_NOTHING_QUEUED: why = "nothing queued (every relay answered 251)"; break;
    case HOLD_NO_CONTACT: why = "no inbound connection"; break;
    case HOLD_MAX: why = "max-hold reached"; break;
    case HOLD_ABORTED: why = "aborted"; break;
    case HOLD_NOT_RUN: why = "not run"; break;
    }
    int prio = s->end == HOLD_QUIET || s->end == HOLD_NOTHING_QUEUED ? LOG_NOTICE : LOG_WARNING;
    log_msg(prio, "hold: ended after %.1f s by %s: %s; %d inbound connection(s)%s%s%s%s",
            (double)s->duration_ms / 1000, hold_end_name(s->end), why, s->connections,
            s->peers[0] ? " from " : "", s->peers, bytes, over);
    if (s->end == HOLD_NO_CONTACT)
        log_warn("hold: the relay did not connect back within %d s — check DNS, firewall, "
                 "port %d reachability", h->first_contact, h->port);
    else if (s->end == HOLD_MAX && sm->open_in > 0)
        log_warn("hold: max-hold (%d s) reached with %d inbound connection(s) still open; "
                 "delivery is probably incomplete", h->max_hold, sm->open_in);
    else if (s->end == HOLD_MAX)
        log_warn("hold: max-hold (%d s) reached; inbound connections kept coming", h->max_hold);
}

int hold_run(const struct etp_config *cfg, int nothing_queued, hold_tick_fn tick, void *arg,
             struct hold_summary *out)
{
    const struct hold_cfg *h = &cfg->hold;
    struct hold_summary dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    out->end = HOLD_NOT_RUN;
    out->overshoot_ms = -1;
    int64_t since_precheck = g_precheck_ms > 0 ? now_ms() - g_precheck_ms : 0;
    g_precheck_ms = 0;
    if (!h->enabled) {
        log_debug("hold: disabled");
        destroy_close();
        return 0;
    }

    struct driver d;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    d.diag_fd = -1;
    char err[256];
    if (hold_check_config(h, err, sizeof err) < 0) {
        log_err("%s", err);
        destroy_close();
        return EX_CONFIG;
    }
    d.have_local = h->local_address && hold_prefix_parse(h->local_address, &d.local) == 0;
    d.have_source = h->source && hold_prefix_parse(h->source, &d.source) == 0;
    d.nown = own_sockets(d.own, HOLD_OWN_MAX);

    struct hold_params p = {
        .quiet_ms = (int64_t)h->quiet * 1000,
        .first_contact_ms = (int64_t)h->first_contact * 1000,
        .max_hold_ms = (int64_t)h->max_hold * 1000,
        .wait_outbound = h->wait_outbound,
        .nothing_queued = nothing_queued,
        .recent_ms = since_precheck,
    };
    struct hold_sm *sm = malloc(sizeof *sm);
    d.raw = calloc(HOLD_SNAP_MAX, sizeof *d.raw);
    d.snap = calloc(HOLD_SNAP_TOTAL, sizeof *d.snap);
    int rc = 0;
    if (!sm || !d.raw || !d.snap) {
        log_err("hold: out of memory");
        free(sm);
        free(d.raw);
        free(d.snap);
        destroy_close();
        out->end = HOLD_ABORTED;
        return EX_TEMPFAIL;
    }
    hold_sm_init(sm, &p, on_event, NULL);
    if (g_destroy_fd < 0)
        destroy_open();

    int64_t start_wall = wall_ms();
    int64_t t0 = now_ms();
    d.diag_fd = sd_open();
    if (d.diag_fd < 0)
        log_err("hold: cannot open NETLINK_SOCK_DIAG: %s", strerror(errno));
    else
        log_info("hold: watching inbound SMTP connections to %s port %d%s%s "
                 "(quiet %d s, first contact %d s, max %d s%s)",
                 h->local_address ? h->local_address : "any address", h->port,
                 h->source ? " from " : "", h->source ? h->source : "",
                 h->quiet, h->first_contact, h->max_hold,
                 h->wait_outbound ? ", and outbound SMTP" : "");

    int fails = 0, flushed = 0;
    int64_t next = t0;
    while (d.diag_fd >= 0) {
        if (etp_abort) {
            hold_sm_abort(sm, now_ms() - t0);
            break;
        }
        long n = sample(&d);
        int64_t t = now_ms() - t0;
        int serr = errno;
        /* Right after the baseline snapshot: flush the local outbound queue
         * once (also when the hold is about to end at once: nothing queued). */
        if (!flushed && h->nflush > 0) {
            flushed = 1;
            int st = run_program(h->flush_argv, flush_env, cfg->hooks.timeout, "flush");
            if (st != 0)
                log_warn("hold: flush command %s %s %d", h->flush_argv[0],
                         st < 0 ? "could not run or timed out" : "exited with", st);
        }
        errno = serr;
        if (n < 0) {
            int e = errno;
            if (++fails >= HOLD_DIAG_FAILS) {
                log_err("hold: cannot read the socket table: %s; giving up", strerror(e));
                hold_sm_abort(sm, t);
                break;
            }
            log_warn("hold: reading the socket table failed: %s", strerror(e));
            /* A lost dump (ENOBUFS) leaves the socket unusable for sequencing: reopen. */
            sd_close(d.diag_fd);
            d.diag_fd = sd_open();
            if (d.diag_fd < 0) {
                log_err("hold: cannot reopen NETLINK_SOCK_DIAG: %s", strerror(errno));
                hold_sm_abort(sm, t);
                break;
            }
        } else {
            fails = 0;
            if (hold_sm_step(sm, t, d.snap, (size_t)n) != HOLD_NOT_RUN)
                break;
        }
        if (tick)
            tick(arg);
        next += h->sample_ms;
        int64_t now = now_ms();
        if (next < now)
            next = now;         /* fell behind (slow tick): do not burst */
        if (sleep_until(next) < 0) {
            hold_sm_abort(sm, now_ms() - t0);
            break;
        }
    }
    if (d.diag_fd < 0 && sm->end == HOLD_NOT_RUN)
        hold_sm_abort(sm, now_ms() - t0);
    sd_close(d.diag_fd);
    destroy_close();

    hold_sm_summary(sm, out);
    out->end_wall_ms = wall_ms();
    log_end(cfg, sm, out);
    write_state(cfg, out, start_wall, nothing_queued);
    if (out->end == HOLD_MAX || out->end == HOLD_ABORTED)
        rc = EX_TEMPFAIL;
    free(sm);
    free(d.raw);
    free(d.snap);
    return rc;
}

/* ====================================================================== */
/* precheck and status                                                    */
/* ====================================================================== */

/* Read an SMTP reply's first line (up to the deadline); -1 none. */
static int read_code(int fd, int64_t deadline, char *line, size_t size)
{
    size_t len = 0;
    line[0] = '\0';
    while (len + 1 < size) {
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            return -1;
        ssize_t n = read(fd, line + len, size - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        line[len] = '\0';
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            break;
        }
    }
    if (len < 3 || line[0] < '2' || line[0] > '5')
        return -1;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

int hold_precheck(const struct etp_config *cfg)
{
    const struct hold_cfg *h = &cfg->hold;
    g_have_precheck = 0;
    g_precheck_ms = now_ms();
    if (!h->enabled)
        return 0;
    destroy_open();
    if (!h->check_local_mta)
        return 0;
    char err[256];
    if (hold_check_config(h, err, sizeof err) < 0) {
        log_err("%s", err);
        return EX_CONFIG;
    }
    const char *addr = h->local_address ? h->local_address : "127.0.0.1";
    struct hold_prefix a;
    if (hold_prefix_parse(addr, &a) < 0)
        return EX_CONFIG;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (a.family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)h->port);
        memcpy(&s4->sin_addr, a.addr, 4);
        sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)h->port);
        memcpy(&s6->sin6_addr, a.addr, 16);
        sl = sizeof *s6;
    }
    char where[INET6_ADDRSTRLEN + 16];
    snprintf(where, sizeof where, a.family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr, h->port);

    int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_err("hold: local MTA check: socket: %s", strerror(errno));
        return EX_TEMPFAIL;
    }
    int64_t deadline = now_ms() + PRECHECK_MS;
    int ok = 0, e = 0;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        int w = wait_fd(fd, POLLOUT, deadline);
        socklen_t el = sizeof e;
        if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
            ok = 1;
        else if (w == 0)
            e = ETIMEDOUT;
        else if (w < 0)
            e = errno;
    } else {
        e = errno;
    }
    if (!ok) {
        close(fd);
        log_err("hold: nothing accepts connections on the local MTA at %s (%s); the relay "
                "could not deliver — not sending ETRN. Start the MTA or fix hold.port / "
                "hold.local-address", where, strerror(e));
        return EX_TEMPFAIL;
    }
    /* Remember this connection so the hold does not take it for a delivery. */
    struct sockaddr_storage l, r;
    socklen_t ll = sizeof l, rl = sizeof r;
    if (getsockname(fd, (struct sockaddr *)&l, &ll) == 0 &&
        getpeername(fd, (struct sockaddr *)&r, &rl) == 0) {
        int f2;
        if (sa_split(&l, &g_precheck.family, g_precheck.laddr, &g_precheck.lport) == 0 &&
            sa_split(&r, &f2, g_precheck.raddr, &g_precheck.rport) == 0)
            g_have_precheck = 1;
    }
    /* Be polite: read the greeting, say QUIT, wait for the server to close. */
    char line[512];
    int code = read_code(fd, deadline, line, sizeof line);
    if (code >= 400) {
        char pr[200];
        printable(pr, sizeof pr, line, strlen(line));
        log_warn("hold: the local MTA at %s greets with \"%s\"; the relay may be refused too",
                 where, pr);
    } else if (code < 0) {
        log_debug("hold: no SMTP greeting from %s within %d ms (it does accept connections)",
                  where, PRECHECK_MS);
    }
    if (code > 0 && write_all(fd, "QUIT\r\n", 6) == 0) {
        char buf[256];
        int64_t dl = now_ms() + 2000;
        while (wait_fd(fd, POLLIN, dl) > 0) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0)
                break;
        }
    }
    close(fd);
    log_debug("hold: local MTA at %s accepts connections", where);
    return 0;
}

void hold_status(FILE *out, const struct etp_config *cfg)
{
    if (!cfg->state_dir) {
        fprintf(out, "hold: no state directory\n");
        return;
    }
    json_object *o = state_read_json(cfg->state_dir, HOLD_STATE_FILE);
    if (!o) {
        fprintf(out, "hold: no hold recorded yet\n");
        return;
    }
    const char *end = js_str(o, "end");
    long long ended = js_int(o, "ended_ms");
    char when[64] = "?";
    time_t tt = (time_t)(ended / 1000);
    struct tm tm;
    if (ended > 0 && localtime_r(&tt, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    char peers[300];
    const char *pp = js_str(o, "peers");
    printable(peers, sizeof peers, pp ? pp : "", pp ? strlen(pp) : 0);
    fprintf(out, "hold: last ended %s after %.1f s by %s; %lld inbound connection(s)%s%s",
            when, (double)js_int(o, "duration_ms") / 1000, end ? end : "?",
            js_int(o, "connections"), peers[0] ? " from " : "", peers);
    json_object *b = NULL;
    if (json_object_object_get_ex(o, "bytes_received", &b) && b &&
        json_object_is_type(b, json_type_int))
        fprintf(out, ", %lld bytes", (long long)json_object_get_int64(b));
    long long over = js_int(o, "overshoot_ms");
    if (over >= 0 && js_int(o, "connections") > 0)
        fprintf(out, "; line released %.1f s after the last delivery", (double)over / 1000);
    fprintf(out, "\n");
    json_object_put(o);
}
