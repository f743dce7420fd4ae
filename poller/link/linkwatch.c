/* SPDX-License-Identifier: ISC */
/* linkwatch.c — uplink state from rtnetlink (libnl-route-3 cache manager)
 * and the pure "is it usable?" decision.  See linkwatch.h. */
#include "conf/config.h"
#include "link/linkwatch.h"
#include "core/log.h"
#include "core/util.h"
#include "core/netaddr.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>

/* ======================================================================
 * Pure decision
 * ====================================================================== */

int lw_link_up(const struct lw_link *l)
{
    if (!(l->flags & IFF_UP) || !(l->flags & IFF_RUNNING))
        return 0;
    /* IFF_RUNNING already means "operationally up or unknown"; checking the
     * operstate too rejects DORMANT/TESTING if a driver reports them along
     * with a stale RUNNING bit. */
    return l->operstate == IF_OPER_UP || l->operstate == IF_OPER_UNKNOWN;
}

int lw_addr_usable(const struct lw_addr *a)
{
    if (a->scope != RT_SCOPE_UNIVERSE)
        return 0;
    if (a->flags & IFA_F_DADFAILED)
        return 0;
    /* Optimistic DAD (RFC 4429) addresses carry TENTATIVE too but may be used. */
    if ((a->flags & IFA_F_TENTATIVE) && !(a->flags & IFA_F_OPTIMISTIC))
        return 0;
    if (a->family != AF_INET && a->family != AF_INET6)
        return 0;
    return netaddr_link_usable(a->family, a->addr);
}

int lw_route_usable(const struct lw_route *r)
{
    return r->table == RT_TABLE_MAIN && r->type == RTN_UNICAST && !(r->nhflags & RTNH_F_DEAD);
}

int lw_name_match(const struct link_cfg *cfg, const char *name)
{
    for (int i = 0; i < cfg->ninterfaces; i++)
        if (cfg->interfaces[i] && fnmatch(cfg->interfaces[i], name, 0) == 0)
            return i;
    return -1;
}

static const struct lw_link *find_link(const struct lw_snapshot *s, int ifindex)
{
    for (int i = 0; i < s->nlinks; i++)
        if (s->links[i].ifindex == ifindex)
            return &s->links[i];
    return NULL;
}

/* Preference among several usable addresses of one family: the shared
 * ranking of core/netaddr (public first; IPv4 primary before secondary;
 * IPv6 not deprecated before deprecated, stable before temporary), then
 * the lowest address, so the choice does not depend on cache order. */
static int addr_rank(const struct lw_addr *a)
{
    return netaddr_rank(a->family, a->addr, a->flags);
}

static const struct lw_addr *best_addr(const struct lw_snapshot *s, int ifindex, int family)
{
    const struct lw_addr *best = NULL;
    for (int i = 0; i < s->naddrs; i++) {
        const struct lw_addr *a = &s->addrs[i];
        if (a->ifindex != ifindex || a->family != family || !lw_addr_usable(a))
            continue;
        size_t len = family == AF_INET ? 4 : 16;
        if (!best || addr_rank(a) < addr_rank(best) ||
            (addr_rank(a) == addr_rank(best) && memcmp(a->addr, best->addr, len) < 0))
            best = a;
    }
    return best;
}

/* Does a tentative (DAD in progress) address of this family exist?  Only
 * used to explain a verdict. */
static int has_tentative(const struct lw_snapshot *s, int ifindex, int family)
{
    for (int i = 0; i < s->naddrs; i++) {
        const struct lw_addr *a = &s->addrs[i];
        if (a->ifindex == ifindex && a->family == family && a->scope == RT_SCOPE_UNIVERSE &&
            (a->flags & IFA_F_TENTATIVE))
            return 1;
    }
    return 0;
}

static int has_default(const struct lw_snapshot *s, int ifindex, int family)
{
    for (int i = 0; i < s->nroutes; i++) {
        const struct lw_route *r = &s->routes[i];
        if (r->ifindex == ifindex && r->family == family && lw_route_usable(r))
            return 1;
    }
    return 0;
}

/* Evaluate one candidate link; fills v (usable or the reason it is not). */
static int judge_link(const struct lw_snapshot *s, const struct link_cfg *cfg,
                      const struct lw_link *l, struct lw_verdict *v)
{
    char fl[96];
    memset(v, 0, sizeof *v);
    v->ifindex = l->ifindex;
    snprintf(v->ifname, sizeof v->ifname, "%s", l->name);
    v->p2p = (l->flags & IFF_POINTOPOINT) != 0;
    if (!lw_link_up(l)) {
        snprintf(v->why, sizeof v->why, "not running, flags %s, operstate %s",
                 lw_flags_str(l->flags, fl, sizeof fl), lw_operstate_name(l->operstate));
        return 0;
    }
    const struct lw_addr *a4 = best_addr(s, l->ifindex, AF_INET);
    const struct lw_addr *a6 = best_addr(s, l->ifindex, AF_INET6);
    int d4 = has_default(s, l->ifindex, AF_INET);
    int d6 = has_default(s, l->ifindex, AF_INET6);
    int need = cfg->require_default_route;
    int ok4 = a4 && (!need || d4);
    int ok6 = a6 && (!need || d6);
    if (ok4)
        inet_ntop(AF_INET, a4->addr, v->addr4, sizeof v->addr4);
    if (ok6)
        inet_ntop(AF_INET6, a6->addr, v->addr6, sizeof v->addr6);
    v->route4 = d4;
    v->route6 = d6;
    if (ok4 || ok6) {
        v->usable = 1;
        snprintf(v->why, sizeof v->why, "%s%s%s%s", v->addr4, v->addr4[0] && v->addr6[0] ? ", " : "",
                 v->addr6, (ok4 && d4) || (ok6 && d6) ? ", default route" : "");
        return 1;
    }
    if (!a4 && !a6) {
        int tent = has_tentative(s, l->ifindex, AF_INET6) || has_tentative(s, l->ifindex, AF_INET);
        snprintf(v->why, sizeof v->why, "no global address%s",
                 tent ? " (only tentative ones: duplicate address detection running)" : "");
    } else {
        snprintf(v->why, sizeof v->why, "no default route through it");
    }
    return 0;
}

/* Judge one candidate link, in order of preference: 1 (and *v set) if it
 * is usable; otherwise remember the first verdict, which explains "why not"
 * when no candidate is usable. */
static int candidate(const struct lw_snapshot *s, const struct link_cfg *cfg,
                     const struct lw_link *l, struct lw_verdict *v,
                     struct lw_verdict *first, int *have_first)
{
    struct lw_verdict cur;
    if (judge_link(s, cfg, l, &cur)) {
        *v = cur;
        return 1;
    }
    if (!*have_first) {
        *first = cur;
        *have_first = 1;
    }
    return 0;
}

int lw_judge(const struct lw_snapshot *s, const struct link_cfg *cfg, struct lw_verdict *v)
{
    struct lw_verdict first;
    int have_first = 0;
    memset(v, 0, sizeof *v);
    memset(&first, 0, sizeof first);

    if (cfg->ninterfaces > 0) {
        /* Configured names/globs: pattern order, then ifindex order. */
        for (int p = 0; p < cfg->ninterfaces; p++) {
            for (int i = 0; i < s->nlinks; i++) {
                const struct lw_link *l = &s->links[i];
                if (lw_name_match(cfg, l->name) != p)
                    continue;
                if (candidate(s, cfg, l, v, &first, &have_first))
                    return 1;
            }
        }
        if (have_first) {
            *v = first;
            return 0;
        }
        size_t off = (size_t)snprintf(v->why, sizeof v->why, "no interface matches");
        for (int p = 0; p < cfg->ninterfaces && off < sizeof v->why; p++)
            off += (size_t)snprintf(v->why + off, sizeof v->why - off, "%s %s", p ? "," : "",
                                    cfg->interfaces[p]);
        return 0;
    }

    /* No interfaces configured: whichever carries a default route, lowest
     * metric first.  Loopback and unknown links never qualify. */
    int done[LW_MAX_ROUTES];
    int ndone = 0;
    for (;;) {
        const struct lw_route *best = NULL;
        for (int i = 0; i < s->nroutes; i++) {
            const struct lw_route *r = &s->routes[i];
            if (!lw_route_usable(r))
                continue;
            int seen = 0;
            for (int k = 0; k < ndone; k++)
                seen |= done[k] == r->ifindex;
            if (seen)
                continue;
            if (!best || r->priority < best->priority ||
                (r->priority == best->priority && r->ifindex < best->ifindex))
                best = r;
        }
        if (!best || ndone >= LW_MAX_ROUTES)
            break;
        done[ndone++] = best->ifindex;
        const struct lw_link *l = find_link(s, best->ifindex);
        if (!l || (l->flags & IFF_LOOPBACK))
            continue;
        if (candidate(s, cfg, l, v, &first, &have_first))
            return 1;
    }
    if (have_first) {
        *v = first;
        return 0;
    }
    snprintf(v->why, sizeof v->why, "no default route");
    return 0;
}

int lw_same_uplink(const struct lw_verdict *a, const struct lw_verdict *b)
{
    return a->ifindex == b->ifindex && strcmp(a->ifname, b->ifname) == 0 &&
           strcmp(a->addr4, b->addr4) == 0 && strcmp(a->addr6, b->addr6) == 0;
}

const char *lw_flags_str(unsigned flags, char *buf, size_t size)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        { IFF_UP, "UP" }, { IFF_RUNNING, "RUNNING" }, { IFF_LOWER_UP, "LOWER_UP" },
        { IFF_DORMANT, "DORMANT" }, { IFF_POINTOPOINT, "POINTOPOINT" },
        { IFF_LOOPBACK, "LOOPBACK" }, { IFF_NOARP, "NOARP" },
    };
    size_t off = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < ETP_ARRAY_LEN(names) && off < size; i++)
        if (flags & names[i].bit)
            off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? "," : "", names[i].name);
    if (!buf[0])
        snprintf(buf, size, "-");
    return buf;
}

const char *lw_operstate_name(unsigned char op)
{
    switch (op) {
    case IF_OPER_UNKNOWN: return "UNKNOWN";
    case IF_OPER_NOTPRESENT: return "NOTPRESENT";
    case IF_OPER_DOWN: return "DOWN";
    case IF_OPER_LOWERLAYERDOWN: return "LOWERLAYERDOWN";
    case IF_OPER_TESTING: return "TESTING";
    case IF_OPER_DORMANT: return "DORMANT";
    case IF_OPER_UP: return "UP";
    default: return "?";
    }
}

/* ======================================================================
 * The watcher
 * ====================================================================== */

struct linkwatch {
    struct nl_sock *evsock;       /* notifications (owned by the manager) */
    struct nl_sock *sync;         /* our own socket for re-reads */
    struct nl_cache_mngr *mngr;
    struct nl_cache *links, *addrs, *routes;
    struct lw_snapshot prev;      /* last snapshot, to spot silent route flushes */
    int have_prev;
    int warned_truncated;
    struct linkwatch_stats st;
};

static void on_change(struct nl_cache *cache, struct nl_object *obj, int action, void *arg)
{
    struct linkwatch *lw = arg;
    (void)cache;
    lw->st.events++;
    if (log_get_level() < LOG_DEBUG)
        return;
    /* Debug trace of every notification applied to a cache. */
    const char *act = action == NL_ACT_NEW ? "new" : action == NL_ACT_DEL ? "del" :
                      action == NL_ACT_CHANGE ? "change" : "?";
    const char *type = nl_object_get_type(obj);
    char buf[160], fl[96];
    if (type && strcmp(type, "route/link") == 0) {
        struct rtnl_link *l = (struct rtnl_link *)obj;
        log_debug("netlink: link %s %s: %s, operstate %s", act,
                  rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "?",
                  lw_flags_str(rtnl_link_get_flags(l), fl, sizeof fl),
                  lw_operstate_name(rtnl_link_get_operstate(l)));
    } else if (type && strcmp(type, "route/addr") == 0) {
        struct rtnl_addr *a = (struct rtnl_addr *)obj;
        struct nl_addr *loc = rtnl_addr_get_local(a);
        log_debug("netlink: addr %s: %s ifindex %d flags 0x%x", act,
                  loc ? nl_addr2str(loc, buf, sizeof buf) : "?", rtnl_addr_get_ifindex(a),
                  rtnl_addr_get_flags(a));
    } else if (type && strcmp(type, "route/route") == 0) {
        struct rtnl_route *r = (struct rtnl_route *)obj;
        struct nl_addr *dst = rtnl_route_get_dst(r);
        log_debug("netlink: route %s: %s table %u", act,
                  dst ? nl_addr2str(dst, buf, sizeof buf) : "?", rtnl_route_get_table(r));
    }
}

struct fill_ctx {
    struct lw_snapshot *s;
};

static void fill_link(struct nl_object *obj, void *arg)
{
    struct lw_snapshot *s = ((struct fill_ctx *)arg)->s;
    struct rtnl_link *l = (struct rtnl_link *)obj;
    /* addrconf announces IPv6 per-link data as RTM_NEWLINK with family
     * AF_INET6; libnl keeps that as a second object for the same ifindex,
     * which is never updated when the link goes down and survives its
     * deletion.  Only the AF_UNSPEC object is the link itself. */
    if (rtnl_link_get_family(l) != AF_UNSPEC)
        return;
    if (s->nlinks >= LW_MAX_LINKS) {
        s->truncated = 1;
        return;
    }
    struct lw_link *o = &s->links[s->nlinks++];
    memset(o, 0, sizeof *o);
    o->ifindex = rtnl_link_get_ifindex(l);
    const char *name = rtnl_link_get_name(l);
    snprintf(o->name, sizeof o->name, "%s", name ? name : "?");
    o->flags = rtnl_link_get_flags(l);
    o->operstate = rtnl_link_get_operstate(l);
}

/* The next free, zeroed entry of a bounded snapshot array, or NULL (and
 * *truncated set) when it is full. */
static void *lw_slot(void *arr, int *n, int max, size_t size, int *truncated)
{
    if (*n >= max) {
        *truncated = 1;
        return NULL;
    }
    void *o = (char *)arr + (size_t)(*n)++ * size;
    memset(o, 0, size);
    return o;
}

/* The snapshot the address and route callbacks fill, or NULL when their
 * object is to be skipped: not IPv4 or IPv6, or its address does not
 * qualify (ok = 0). */
static struct lw_snapshot *ip_target(void *arg, int fam, int ok)
{
    if (!ok || (fam != AF_INET && fam != AF_INET6))
        return NULL;
    return ((struct fill_ctx *)arg)->s;
}

static void fill_addr(struct nl_object *obj, void *arg)
{
    struct rtnl_addr *a = (struct rtnl_addr *)obj;
    int fam = rtnl_addr_get_family(a);
    struct nl_addr *loc = rtnl_addr_get_local(a);
    unsigned len = loc ? nl_addr_get_len(loc) : 0;
    struct lw_snapshot *s = ip_target(arg, fam, len == (fam == AF_INET ? 4u : 16u));
    struct lw_addr *o =
        s ? lw_slot(s->addrs, &s->naddrs, LW_MAX_ADDRS, sizeof *o, &s->truncated) : NULL;
    if (!o)
        return;
    o->ifindex = rtnl_addr_get_ifindex(a);
    o->family = (unsigned char)fam;
    o->prefixlen = (unsigned char)rtnl_addr_get_prefixlen(a);
    o->scope = (unsigned char)rtnl_addr_get_scope(a);
    o->flags = rtnl_addr_get_flags(a);
    memcpy(o->addr, nl_addr_get_binary_addr(loc), len);
}

static void fill_route(struct nl_object *obj, void *arg)
{
    struct rtnl_route *r = (struct rtnl_route *)obj;
    int fam = rtnl_route_get_family(r);
    struct nl_addr *dst = rtnl_route_get_dst(r);
    /* only default routes matter */
    struct lw_snapshot *s = ip_target(arg, fam, !dst || nl_addr_get_prefixlen(dst) == 0);
    if (!s)
        return;
    int n = rtnl_route_get_nnexthops(r);
    for (int i = 0; i < n; i++) {
        struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);
        if (!nh)
            continue;
        struct lw_route *o =
            lw_slot(s->routes, &s->nroutes, LW_MAX_ROUTES, sizeof *o, &s->truncated);
        if (!o)
            return;
        o->ifindex = rtnl_route_nh_get_ifindex(nh);
        o->family = (unsigned char)fam;
        o->type = rtnl_route_get_type(r);
        o->table = rtnl_route_get_table(r);
        o->priority = rtnl_route_get_priority(r);
        o->nhflags = rtnl_route_nh_get_flags(nh);
    }
}

/* Drop addresses and routes of links that no longer exist: the kernel may
 * flush them without telling (IPv4 routes of a deleted link). */
static void prune_orphans(struct lw_snapshot *s)
{
    int j = 0;
    for (int i = 0; i < s->naddrs; i++)
        if (find_link(s, s->addrs[i].ifindex))
            s->addrs[j++] = s->addrs[i];
    s->naddrs = j;
    j = 0;
    for (int i = 0; i < s->nroutes; i++)
        if (find_link(s, s->routes[i].ifindex))
            s->routes[j++] = s->routes[i];
    s->nroutes = j;
}

#define LINK_STATE_MASK (IFF_UP | IFF_RUNNING | IFF_LOWER_UP)

/* Did something happen after which the kernel removes IPv4 routes without
 * RTM_DELROUTE: a link went down or away, or an IPv4 address went away? */
static int routes_may_be_stale(const struct lw_snapshot *prev, const struct lw_snapshot *cur)
{
    for (int i = 0; i < prev->nlinks; i++) {
        const struct lw_link *p = &prev->links[i];
        const struct lw_link *c = find_link(cur, p->ifindex);
        if (!c || (c->flags & LINK_STATE_MASK) != (p->flags & LINK_STATE_MASK) ||
            c->operstate != p->operstate)
            return 1;
    }
    for (int i = 0; i < prev->naddrs; i++) {
        const struct lw_addr *p = &prev->addrs[i];
        if (p->family != AF_INET)
            continue;
        int found = 0;
        for (int k = 0; k < cur->naddrs && !found; k++) {
            const struct lw_addr *c = &cur->addrs[k];
            found = c->ifindex == p->ifindex && c->family == AF_INET &&
                    c->prefixlen == p->prefixlen && memcmp(c->addr, p->addr, 4) == 0;
        }
        if (!found)
            return 1;
    }
    return 0;
}

static void build(struct linkwatch *lw, struct lw_snapshot *s, int routes_only)
{
    struct fill_ctx fc = { .s = s };
    if (!routes_only) {
        s->nlinks = s->naddrs = 0;
        s->truncated = 0;
        nl_cache_foreach(lw->links, fill_link, &fc);
        nl_cache_foreach(lw->addrs, fill_addr, &fc);
    }
    s->nroutes = 0;
    nl_cache_foreach(lw->routes, fill_route, &fc);
    prune_orphans(s);
}

void linkwatch_snapshot(struct linkwatch *lw, struct lw_snapshot *s)
{
    build(lw, s, 0);
    if (lw->have_prev && routes_may_be_stale(&lw->prev, s)) {
        int err = nl_cache_refill(lw->sync, lw->routes);
        if (err < 0)
            log_warn("link watcher: cannot re-read the routing table: %s", nl_geterror(err));
        else {
            lw->st.route_refills++;
            build(lw, s, 1);
        }
    }
    if (s->truncated && !lw->warned_truncated) {
        log_warn("link watcher: more than %d links, %d addresses or %d default routes; "
                 "some are ignored", LW_MAX_LINKS, LW_MAX_ADDRS, LW_MAX_ROUTES);
        lw->warned_truncated = 1;
    }
    memcpy(&lw->prev, s, sizeof *s);
    lw->have_prev = 1;
}

int linkwatch_resync(struct linkwatch *lw)
{
    struct nl_cache *caches[3] = { lw->links, lw->addrs, lw->routes };
    static const char *const names[3] = { "links", "addresses", "routes" };
    int rc = 0;
    for (size_t i = 0; i < ETP_ARRAY_LEN(caches); i++) {
        int err = nl_cache_refill(lw->sync, caches[i]);
        if (err < 0) {
            log_err("link watcher: cannot re-read the %s: %s", names[i], nl_geterror(err));
            rc = -1;
        }
    }
    lw->st.resyncs++;
    return rc;
}

int linkwatch_process(struct linkwatch *lw)
{
    uint64_t before = lw->st.events;
    int overflow = 0, fatal = 0;
    /* Bounded: under a continuous flood we stop draining and re-read. */
    for (int round = 0; round < 64; round++) {
        int err = nl_cache_mngr_data_ready(lw->mngr);
        if (err >= 0)
            break;
        if (err == -NLE_NOMEM) {
            /* ENOBUFS: the kernel dropped notifications.  Keep reading
             * what is still queued (it is older than a re-read), then
             * re-read the whole state below. */
            overflow = 1;
            lw->st.overflows++;
            continue;
        }
        if (err == -NLE_AGAIN || err == -NLE_INTR)
            break;
        /* Anything else (a message libnl could not parse, a dump
         * interrupted...): the caches may be wrong, re-read them. */
        log_warn("link watcher: netlink: %s; re-reading the state", nl_geterror(err));
        overflow = 1;
        if (++fatal > 8) {
            log_err("link watcher: netlink keeps failing: %s", nl_geterror(err));
            return -1;
        }
    }
    if (overflow) {
        log_notice("link watcher: netlink notifications were lost (socket buffer overflow); "
                   "re-reading the link, address and route state");
        if (linkwatch_resync(lw) < 0)
            return -1;
        return 1;
    }
    return lw->st.events != before;
}

struct linkwatch *linkwatch_open(int rcvbuf)
{
    struct linkwatch *lw = calloc(1, sizeof *lw);
    if (!lw) {
        log_err("link watcher: out of memory");
        return NULL;
    }
    int err;
    lw->evsock = nl_socket_alloc();
    lw->sync = nl_socket_alloc();
    if (!lw->evsock || !lw->sync) {
        log_err("link watcher: out of memory");
        goto fail;
    }
    if ((err = nl_connect(lw->sync, NETLINK_ROUTE)) < 0) {
        log_err("link watcher: cannot open a netlink socket: %s", nl_geterror(err));
        goto fail;
    }
    /* The manager connects evsock, makes it non-blocking and, for each
     * cache, joins the notification groups first and then dumps the
     * current state (through its own sync socket), so nothing that happens
     * in between is missed. */
    if ((err = nl_cache_mngr_alloc(lw->evsock, NETLINK_ROUTE, 0, &lw->mngr)) < 0) {
        log_err("link watcher: cannot start the netlink cache manager: %s", nl_geterror(err));
        goto fail;
    }
    int fd = nl_socket_get_fd(lw->evsock);
    int sz = rcvbuf > 0 ? rcvbuf : 1 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) < 0)
        log_warn("link watcher: SO_RCVBUF %d: %s", sz, strerror(errno));
    if ((err = nl_cache_mngr_add(lw->mngr, "route/link", on_change, lw, &lw->links)) < 0 ||
        (err = nl_cache_mngr_add(lw->mngr, "route/addr", on_change, lw, &lw->addrs)) < 0 ||
        (err = nl_cache_mngr_add(lw->mngr, "route/route", on_change, lw, &lw->routes)) < 0) {
        log_err("link watcher: cannot read the link/address/route state: %s", nl_geterror(err));
        goto fail;
    }
    return lw;
fail:
    linkwatch_close(lw);
    return NULL;
}

void linkwatch_close(struct linkwatch *lw)
{
    if (!lw)
        return;
    if (lw->mngr)
        nl_cache_mngr_free(lw->mngr);     /* frees the caches; closes evsock */
    if (lw->evsock)
        nl_socket_free(lw->evsock);       /* we allocated it: the manager does not free it */
    if (lw->sync)
        nl_socket_free(lw->sync);
    free(lw);
}

void linkwatch_close_fds(struct linkwatch *lw)
{
    if (!lw)
        return;
    int fd = nl_socket_get_fd(lw->evsock);
    if (fd >= 0)
        close(fd);
    fd = nl_socket_get_fd(lw->sync);
    if (fd >= 0)
        close(fd);
}

int linkwatch_fd(const struct linkwatch *lw)
{
    return nl_socket_get_fd(lw->evsock);
}

void linkwatch_stats(const struct linkwatch *lw, struct linkwatch_stats *st)
{
    *st = lw->st;
}
