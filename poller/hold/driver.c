/* SPDX-License-Identifier: ISC */
/* driver.c — the hold as a handle: hold_prepare() -> hold_add_relay() ->
 * hold_run() -> hold_free().  hold_run() samples the kernel's socket table
 * (sockdiag.c) every hold.sample-ms, adds the socket-close events read
 * while sleeping (stamped on arrival), keeps only the relay's connections
 * (trust rules: doc/hold.md), feeds the state machine (sm.c), asks for a
 * confirming ETRN when it says "quiet", calls the cycle's tick, runs the
 * flush command, then reports (report.c) and learns (trust.c). */
#include "hold/internal.h"
#include "core/hooks.h"
#include "core/log.h"
#include "core/util.h"
#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOLD_SNAP_MAX   HOLD_SM_MAX_TRACK  /* sockets read per dump / drain */
#define HOLD_SNAP_TOTAL (3 * (size_t)HOLD_SNAP_MAX) /* in, out, close events */
#define HOLD_OWN_MAX    64                 /* own sockets excluded from the watch */
#define HOLD_DIAG_FAILS 10                 /* consecutive failed samples before giving up */

static char *const flush_env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };

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
        if (hold_sa_split(&l, &o->family, o->laddr, &o->lport) < 0 ||
            hold_sa_split(&r, &f2, o->raddr, &o->rport) < 0 || f2 != o->family)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

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
static int smtp_port(uint16_t p)
{
    return p == 25 || p == 465 || p == 587;
}
static void conn_str(const struct hold_conn *c, int remote, char *buf, size_t size)
{
    char a[INET6_ADDRSTRLEN];
    sd_addr_str((uint8_t)c->family, remote ? c->raddr : c->laddr, a, sizeof a);
    snprintf(buf, size, c->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
             (unsigned)(remote ? c->rport : c->lport));
}


struct driver {
    struct hold *h;
    const struct etp_config *cfg;
    struct hold_prefix local;
    int have_local;
    struct hold_prefix src[HOLD_MAX_SOURCES];
    int nsrc, any, tofu;
    struct own_sock own[HOLD_OWN_MAX];
    size_t nown;
    int diag_fd;
    struct sd_sock *raw;                      /* HOLD_SNAP_MAX */
    struct hold_conn *snap;                   /* HOLD_SNAP_TOTAL */
    int warned_overflow;
    int warned_lost;
    /* connections ignored as not from the relay */
    uint64_t ign_cookie[HOLD_IGNORED_MAX];   /* ign_key() of each */
    size_t nign_cookie;
    int ignored;
    struct { int family; uint8_t addr[16]; } ign_peer[HOLD_SM_MAX_PEERS];
    int nign_peer;
};

static void destroy_close(struct hold *h)
{
    sd_close(h->destroy_fd);
    h->destroy_fd = -1;
}

static void destroy_open(struct hold *h)
{
    sd_close(h->destroy_fd);
    h->destroy_fd = sd_open_destroy();
    if (h->destroy_fd < 0)
        log_info("hold: no socket-close events (%s); relying on sampling alone",
                 strerror(errno));
}

/* Read the queued close events into h->pend, stamped with the time now. */
static void drain_events(struct hold *h)
{
    if (h->destroy_fd < 0 || !h->pend)
        return;
    size_t room = HOLD_PEND_MAX - h->npend, n = 0, dropped = 0;
    int lost = 0;
    if (room == 0) {
        h->pend_lost = 1;
        return;
    }
    if (sd_drain_destroyed(h->destroy_fd, h->pend + h->npend, room, &n, &dropped, &lost) < 0) {
        log_warn("hold: reading socket-close events failed: %s; sampling only", strerror(errno));
        destroy_close(h);
        return;
    }
    /* keep only what the hold may watch: the MTA's port, SMTP ports */
    int64_t now = now_ms();
    size_t k = h->npend;
    for (size_t i = 0; i < n; i++) {
        const struct sd_sock *s = &h->pend[h->npend + i];
        if (s->lport != h->cfg->hold.port && !smtp_port(s->rport))
            continue;
        h->pend[k] = *s;
        h->pend_at[k++] = now;
    }
    h->npend = k;
    if (lost || dropped)
        h->pend_lost = 1;
}

int hold_prepare(const struct etp_config *cfg, struct hold **out)
{
    struct hold *h = calloc(1, sizeof *h);
    *out = h;
    if (!h) {
        log_err("hold: out of memory");
        return EX_TEMPFAIL;
    }
    h->cfg = cfg;
    h->destroy_fd = -1;
    h->prepared_ms = now_ms();
    if (!cfg->hold.enabled)
        return 0;
    char err[512];
    if (hold_check_config(&cfg->hold, err, sizeof err) < 0) {
        log_err("%s", err);
        return EX_CONFIG;
    }
    h->pend = calloc(HOLD_PEND_MAX, sizeof *h->pend);
    h->pend_at = calloc(HOLD_PEND_MAX, sizeof *h->pend_at);
    if (!h->pend || !h->pend_at) {
        log_err("hold: out of memory");
        return EX_TEMPFAIL;
    }
    destroy_open(h);
    hold_learn_load(h);
    if (!cfg->hold.check_local_mta)
        return 0;
    return hold_precheck_mta(h);
}

void hold_add_relay(struct hold *h, const struct relay_cfg *rc, const char *peer,
                    int mail_expected)
{
    if (!h || !rc || h->nrelays >= CFG_MAX_RELAYS)
        return;
    struct hold_relay *r = &h->relays[h->nrelays++];
    memset(r, 0, sizeof *r);
    r->rc = rc;
    r->mail_expected = mail_expected;
    struct hold_prefix p;
    if (peer && *peer && !strchr(peer, '/') && hold_prefix_parse(peer, &p) == 0) {
        r->has_peer = 1;
        r->family = p.family;
        memcpy(r->addr, p.addr, 16);
    }
    r->learned = hold_learned_for(h, rc);
}

void hold_free(struct hold *h)
{
    if (!h)
        return;
    destroy_close(h);
    free(h->pend);
    free(h->pend_at);
    free(h);
}

static int excluded(const struct driver *d, const struct sd_sock *s, int outbound)
{
    for (size_t i = 0; i < d->nown; i++)
        if (is_own(&d->own[i], s, !outbound))
            return 1;
    if (d->h->have_precheck && is_own(&d->h->precheck, s, !outbound))
        return 1;
    return 0;
}

/* Is an inbound connection from the relay?  (hold.source, the addresses
 * etrnpoll connected to, learned delivery sources; everything while
 * trusting on first use or with hold.source = any.) */
static int from_relay(const struct driver *d, int family, const uint8_t *addr)
{
    if (d->any || d->tofu)
        return 1;
    for (int i = 0; i < d->nsrc; i++)
        if (hold_prefix_match(&d->src[i], family, addr))
            return 1;
    size_t alen = family == AF_INET6 ? 16 : 4;
    const struct hold *h = d->h;
    for (int i = 0; i < h->nrelays; i++) {
        const struct hold_relay *r = &h->relays[i];
        if (r->has_peer && r->family == family && memcmp(r->addr, addr, alen) == 0)
            return 1;
        if (r->learned >= 0 && hold_learn_has_source(&h->learned[r->learned], family, addr))
            return 1;
    }
    return 0;
}

/* One ignored connection, by its remote end (a SYN-RECV sighting and the
 * established socket have different cookies). */
static uint64_t ign_key(const struct sd_sock *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < 16; i++) {
        h ^= s->raddr[i];
        h *= 1099511628211ULL;
    }
    h ^= s->rport;
    h *= 1099511628211ULL;
    return h ^ s->family;
}

static void ignore(struct driver *d, const struct sd_sock *s)
{
    uint64_t key = ign_key(s);
    for (size_t i = 0; i < d->nign_cookie; i++)
        if (d->ign_cookie[i] == key)
            return;
    if (d->nign_cookie < HOLD_IGNORED_MAX)
        d->ign_cookie[d->nign_cookie++] = key;
    if (d->ignored < INT32_MAX)
        d->ignored++;
    size_t alen = s->family == AF_INET6 ? 16 : 4;
    for (int i = 0; i < d->nign_peer; i++)
        if (d->ign_peer[i].family == s->family && memcmp(d->ign_peer[i].addr, s->raddr, alen) == 0)
            return;
    char a[INET6_ADDRSTRLEN];
    sd_addr_str(s->family, s->raddr, a, sizeof a);
    log_notice("hold: ignored: connection from %s is not from the relay (not an address "
               "etrnpoll connected to, not in hold.source, not a learned delivery source)", a);
    if (d->nign_peer < HOLD_SM_MAX_PEERS) {
        d->ign_peer[d->nign_peer].family = s->family;
        memcpy(d->ign_peer[d->nign_peer].addr, s->raddr, 16);
        d->nign_peer++;
    }
}

/* Does s count?  Inbound: to hold.port, at hold.local-address, from the
 * relay.  Outbound: to an SMTP port, not from hold.port. */
static int wanted(struct driver *d, const struct sd_sock *s, int outbound)
{
    const struct hold_cfg *h = &d->cfg->hold;
    if (!outbound) {
        if (s->lport != h->port)
            return 0;
        if (d->have_local && !hold_prefix_match(&d->local, s->family, s->laddr))
            return 0;
        if (excluded(d, s, 0))
            return 0;
        if (!from_relay(d, s->family, s->raddr)) {
            ignore(d, s);
            return 0;
        }
        return 1;
    }
    if (!smtp_port(s->rport) || s->lport == h->port)
        return 0;     /* (a peer's port 25 connecting to our hold.port is inbound) */
    return !excluded(d, s, outbound);
}

static void to_conn(const struct sd_sock *s, int outbound, struct hold_conn *c)
{
    memset(c, 0, sizeof *c);
    c->outbound = outbound;
    c->syn = s->state == SD_TCP_SYN_RECV || s->state == SD_TCP_NEW_SYN_RECV;
    /* Open until the relay's side is done too: in FIN-WAIT-1/2 our MTA has
     * closed (after its 221) but the relay's FIN has not arrived — on a slow
     * line it waits in the modem's queue behind other deliveries' data, and
     * the relay's next connection can come only after it.  (The kernel ends
     * an orphaned FIN-WAIT-2 after tcp_fin_timeout, 60 s.) */
    c->open = s->state == SD_TCP_ESTABLISHED || s->state == SD_TCP_CLOSE_WAIT ||
              s->state == SD_TCP_FIN_WAIT1 || s->state == SD_TCP_FIN_WAIT2 || c->syn;
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
        struct sd_query q = { .remote = outbound,
                              .states = outbound ? SD_STATES_CONNECTED : SD_STATES_INBOUND,
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
    /* Then the connections freed since the last sample (close events,
     * stamped when they arrived): they catch sessions that began and ended
     * between two dumps, and date their close. */
    struct hold *hd = d->h;
    drain_events(hd);
    if (hd->pend_lost && !d->warned_lost) {
        log_warn("hold: socket-close events were lost (busy host); a connection "
                 "shorter than %d ms may go unseen", h->sample_ms);
        d->warned_lost = 1;
    }
    int64_t now = now_ms();
    for (size_t i = 0; i < hd->npend && total < HOLD_SNAP_TOTAL; i++) {
        const struct sd_sock *s = &hd->pend[i];
        struct hold_conn *c = &d->snap[total];
        if (wanted(d, s, 0))
            to_conn(s, 0, c);
        else if (h->wait_outbound && wanted(d, s, 1))
            to_conn(s, 1, c);
        else
            continue;
        c->open = 0;
        c->syn = 0;
        c->closed_ago_ms = now - hd->pend_at[i] > 0 ? now - hd->pend_at[i] : 0;
        total++;
    }
    hd->npend = 0;
    hd->pend_lost = 0;
    return (long)total;
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
            log_info("hold: +%.1f s: inbound connection from %s%s", (double)t / 1000, peer,
                     c->syn ? " (handshake under way)" : "");
    } else if (ev == HOLD_EV_ESTABLISHED) {
        log_debug("hold: +%.1f s: inbound connection from %s established", (double)t / 1000,
                  peer);
    } else {
        char bytes[40] = "";
        if (!c->outbound && c->bytes != HOLD_BYTES_UNKNOWN)
            snprintf(bytes, sizeof bytes, " (%" PRIu64 " bytes received)", c->bytes);
        log_info("hold: +%.1f s: %s connection %s %s closed%s", (double)t / 1000,
                 c->outbound ? "outbound" : "inbound", c->outbound ? "to" : "from", peer, bytes);
    }
}

/* Sleep until the monotonic deadline, reading close events as they come;
 * 0, or -1 if etp_abort was set. */
static int sleep_until(struct hold *h, int64_t deadline)
{
    for (;;) {
        if (etp_abort)
            return -1;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        int watch = h->destroy_fd >= 0 && h->npend < HOLD_PEND_MAX;
        struct pollfd p = { .fd = h->destroy_fd, .events = POLLIN };
        int r = poll(watch ? &p : NULL, watch ? 1 : 0, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return 0;
        if (r > 0)
            drain_events(h);
    }
}

/* The trust rule of this hold (logged once). */
static void set_trust(struct driver *d)
{
    const struct hold *h = d->h;
    const struct hold_cfg *hc = &d->cfg->hold;
    int bad;
    d->nsrc = hold_source_parse(hc->source, d->src, HOLD_MAX_SOURCES, &d->any, &bad);
    if (d->nsrc < 0)
        d->nsrc = 0;              /* (hold_check_config() refused it already) */
    if (d->any || d->nsrc > 0)
        return;
    /* Nothing configured: trust on first use while a relay that may deliver
     * has no learned delivery source yet (or the cycle named no relay). */
    const char *fresh = NULL;
    int any_relay = 0;
    for (int i = 0; i < h->nrelays; i++) {
        const struct hold_relay *r = &h->relays[i];
        if (!r->mail_expected)
            continue;
        any_relay = 1;
        if (r->learned < 0 || h->learned[r->learned].nsources == 0)
            fresh = r->rc->name;
    }
    if (!any_relay || fresh) {
        d->tofu = 1;
        if (fresh)
            log_notice("hold: nothing learned yet about where %s delivers from: counting "
                       "connections from any source this time (trust on first use; set "
                       "hold.source to pin the relay's addresses)", fresh);
    }
}

/* The learned connect-back bound for this hold: the largest of the relays
 * that may deliver; 0 unless every one of them has one. */
static int64_t contact_bound(const struct hold *h, int64_t first_contact_ms, int64_t *gap)
{
    int64_t b = 0;
    int n = 0;
    *gap = 0;
    for (int i = 0; i < h->nrelays; i++) {
        const struct hold_relay *r = &h->relays[i];
        if (!r->mail_expected)
            continue;
        n++;
        int64_t rb = r->learned >= 0 ? hold_learn_bound(&h->learned[r->learned],
                                                        first_contact_ms) : 0;
        if (rb <= 0)
            return 0;
        if (rb > b)
            b = rb;
        int64_t g = hold_learn_gap(&h->learned[r->learned]);
        if (g > *gap)
            *gap = g;
    }
    return n ? b : 0;
}

/* How long to wait after a confirming ETRN: the learned bound, counting
 * this hold's first contact as one more sample. */
static int64_t confirm_window(const struct hold *h, const struct hold_sm *sm,
                              int64_t first_contact_ms)
{
    struct hold_learned tmp;
    memset(&tmp, 0, sizeof tmp);
    int64_t slow = sm->first_in_ms > 0 ? sm->first_in_ms : 0;
    for (int i = 0; i < h->nrelays; i++) {
        const struct hold_relay *r = &h->relays[i];
        if (r->mail_expected && r->learned >= 0) {
            int64_t s = hold_learn_slowest(&h->learned[r->learned]);
            if (s > slow)
                slow = s;
        }
    }
    tmp.ncontacts = 1;
    tmp.contact_ms[0] = slow;
    return hold_learn_bound(&tmp, first_contact_ms);
}

static void summary_ignored(const struct driver *d, struct hold_summary *out)
{
    out->ignored = d->ignored;
    size_t len = 0;
    out->ignored_peers[0] = '\0';
    for (int i = 0; i < d->nign_peer; i++) {
        char a[INET6_ADDRSTRLEN];
        sd_addr_str((uint8_t)d->ign_peer[i].family, d->ign_peer[i].addr, a, sizeof a);
        int w = snprintf(out->ignored_peers + len, sizeof out->ignored_peers - len, "%s%s",
                         len ? "," : "", a);
        if (w < 0 || (size_t)w >= sizeof out->ignored_peers - len) {
            out->ignored_peers[len] = '\0';
            break;
        }
        len += (size_t)w;
    }
}

int hold_run(struct hold *hd, int nothing_queued, hold_tick_fn tick, hold_confirm_fn confirm,
             void *arg, struct hold_summary *out)
{
    struct hold_summary dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    out->end = HOLD_NOT_RUN;
    out->overshoot_ms = -1;
    out->first_contact_ms = -1;
    if (!hd)
        return EX_TEMPFAIL;
    const struct etp_config *cfg = hd->cfg;
    const struct hold_cfg *h = &cfg->hold;
    int64_t since_prepare = now_ms() - hd->prepared_ms;
    if (!h->enabled) {
        log_debug("hold: disabled");
        destroy_close(hd);
        return 0;
    }
    char err[512];
    if (hold_check_config(h, err, sizeof err) < 0) {
        log_err("%s", err);
        destroy_close(hd);
        return EX_CONFIG;
    }
    struct driver *d = calloc(1, sizeof *d);
    struct hold_sm *sm = malloc(sizeof *sm);
    if (d) {
        d->raw = calloc(HOLD_SNAP_MAX, sizeof *d->raw);
        d->snap = calloc(HOLD_SNAP_TOTAL, sizeof *d->snap);
    }
    if (!d || !sm || !d->raw || !d->snap) {
        log_err("hold: out of memory");
        if (d) {
            free(d->raw);
            free(d->snap);
        }
        free(d);
        free(sm);
        destroy_close(hd);
        out->end = HOLD_ABORTED;
        return EX_TEMPFAIL;
    }
    d->h = hd;
    d->cfg = cfg;
    d->diag_fd = -1;
    d->have_local = h->local_address && hold_prefix_parse(h->local_address, &d->local) == 0;
    d->nown = own_sockets(d->own, HOLD_OWN_MAX);
    set_trust(d);

    int64_t fc_ms = (int64_t)h->first_contact * 1000, learned_gap = 0;
    struct hold_params p = {
        .quiet_ms = (int64_t)h->quiet * 1000,
        .quiet_max_ms = HOLD_QUIET_MAX_MS,
        .first_contact_ms = fc_ms,
        .max_hold_ms = (int64_t)h->max_hold * 1000,
        .wait_outbound = h->wait_outbound,
        .nothing_queued = nothing_queued,
        .recent_ms = since_prepare,
    };
    p.contact_bound_ms = nothing_queued ? 0 : contact_bound(hd, fc_ms, &learned_gap);
    p.learned_gap_ms = learned_gap;
    if (p.quiet_max_ms > p.max_hold_ms)
        p.quiet_max_ms = p.max_hold_ms;
    hold_sm_init(sm, &p, on_event, NULL);
    if (hd->destroy_fd < 0)
        destroy_open(hd);
    if (!hd->pend) {
        hd->pend = calloc(HOLD_PEND_MAX, sizeof *hd->pend);
        hd->pend_at = calloc(HOLD_PEND_MAX, sizeof *hd->pend_at);
        if (!hd->pend || !hd->pend_at)
            destroy_close(hd);    /* no buffer: sampling only */
    }

    int64_t start_wall = hold_wall_ms();
    int64_t t0 = now_ms();
    d->diag_fd = sd_open();
    char bound[64] = "";
    if (p.contact_bound_ms > 0)
        snprintf(bound, sizeof bound, ", learned connect-back %.1f s",
                 (double)p.contact_bound_ms / 1000);
    if (d->diag_fd < 0)
        log_err("hold: cannot open NETLINK_SOCK_DIAG: %s", strerror(errno));
    else
        log_info("hold: watching inbound SMTP connections to %s port %d from %s "
                 "(quiet %d s, first contact %d s%s, max %d s%s)",
                 h->local_address ? h->local_address : "any address", h->port,
                 d->any || d->tofu ? "any source" : "the relay", h->quiet, h->first_contact,
                 bound, h->max_hold, h->wait_outbound ? ", and outbound SMTP" : "");

    int fails = 0, flushed = 0, unconfirmable = 0;
    int64_t next = t0;
    while (d->diag_fd >= 0) {
        if (etp_abort) {
            hold_sm_abort(sm, now_ms() - t0);
            break;
        }
        long n = sample(d);
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
            sd_close(d->diag_fd);
            d->diag_fd = sd_open();
            if (d->diag_fd < 0) {
                log_err("hold: cannot reopen NETLINK_SOCK_DIAG: %s", strerror(errno));
                hold_sm_abort(sm, t);
                break;
            }
        } else {
            fails = 0;
            enum hold_end e = hold_sm_step(sm, t, d->snap, (size_t)n);
            if (e == HOLD_QUIET && !sm->confirmed && !unconfirmable &&
                sm->confirms < HOLD_MAX_CONFIRMS) {
                /* The quiet period says done: ask the relay once more. */
                if (confirm && confirm(arg) == 1) {
                    int64_t w = confirm_window(hd, sm, fc_ms);
                    log_info("hold: +%.1f s: quiet for %.1f s; a confirming ETRN was accepted, "
                             "waiting up to %.1f s for the relay to connect back",
                             (double)t / 1000, (double)sm->quiet_ms / 1000, (double)w / 1000);
                    hold_sm_confirming(sm, w);
                    e = HOLD_NOT_RUN;
                } else {
                    unconfirmable = confirm ? 1 : 2;   /* 2: nobody to ask */
                }
            }
            if (e != HOLD_NOT_RUN)
                break;
        }
        if (tick)
            tick(arg);
        next += h->sample_ms;
        int64_t now = now_ms();
        if (next < now)
            next = now;         /* fell behind (slow tick): do not burst */
        if (sleep_until(hd, next) < 0) {
            hold_sm_abort(sm, now_ms() - t0);
            break;
        }
    }
    if (d->diag_fd < 0 && sm->end == HOLD_NOT_RUN)
        hold_sm_abort(sm, now_ms() - t0);
    sd_close(d->diag_fd);
    destroy_close(hd);

    hold_sm_summary(sm, out);
    out->end_wall_ms = hold_wall_ms();
    out->contact_bound_ms = p.contact_bound_ms;
    out->confirm_unavailable = unconfirmable == 1;
    summary_ignored(d, out);
    hold_log_end(hd, sm, out);
    hold_write_state(cfg, out, start_wall, nothing_queued);
    if (!(out->end == HOLD_ABORTED && etp_abort) && out->end != HOLD_NOTHING_QUEUED) {
        hold_learn_update(hd, out);
        hold_learn_save(hd);
    }
    int rc = out->end == HOLD_MAX || out->end == HOLD_ABORTED ? EX_TEMPFAIL : 0;
    free(sm);
    free(d->raw);
    free(d->snap);
    free(d);
    return rc;
}
