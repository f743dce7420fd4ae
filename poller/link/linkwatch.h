/* SPDX-License-Identifier: ISC */
/* linkwatch.h — "is the uplink usable?" from rtnetlink (libnl-route-3).
 *
 * Two layers:
 *
 *  - a pure decision, lw_judge(), over a bounded snapshot of the kernel's
 *    link / address / default-route state (unit-tested without netlink);
 *  - the watcher, which keeps libnl caches (route/link, route/addr,
 *    route/route) up to date through a cache manager and builds the
 *    snapshot from them.  The supervisor polls its fd in its event loop.
 *
 * The decision judges the current state only, never a transition: a link
 * coming up first reports UP without RUNNING, a ppp hang-up reports DELADDR
 * then DELLINK, and the kernel drops IPv4 routes of a downed link without any
 * RTM_DELROUTE.  Whatever the sequence, the verdict is recomputed from the
 * whole state after every batch of events. */
#ifndef ETP_LINKWATCH_H
#define ETP_LINKWATCH_H
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include "conf/config.h"

#define LW_MAX_LINKS   128
#define LW_MAX_ADDRS   512
#define LW_MAX_ROUTES  128       /* default routes only, one entry per nexthop */

struct lw_link {
    int ifindex;
    char name[IF_NAMESIZE];
    unsigned flags;               /* IFF_* as reported (UP, RUNNING, LOWER_UP, LOOPBACK...) */
    unsigned char operstate;      /* IF_OPER_* (RFC 2863); ppp/tun report UNKNOWN */
};

struct lw_addr {
    int ifindex;
    unsigned char family;         /* AF_INET / AF_INET6 */
    unsigned char prefixlen;
    unsigned char scope;          /* RT_SCOPE_*; global = RT_SCOPE_UNIVERSE */
    uint32_t flags;               /* IFA_F_* (TENTATIVE, DADFAILED, DEPRECATED, ...) */
    unsigned char addr[16];       /* local address (IFA_LOCAL), network order */
};

struct lw_route {                 /* a default route (dst prefix length 0) */
    int ifindex;                  /* nexthop's output interface */
    unsigned char family;
    unsigned char type;           /* RTN_* */
    uint32_t table;               /* RT_TABLE_* */
    uint32_t priority;            /* metric */
    uint32_t nhflags;             /* RTNH_F_* */
};

struct lw_snapshot {
    struct lw_link links[LW_MAX_LINKS];
    int nlinks;
    struct lw_addr addrs[LW_MAX_ADDRS];
    int naddrs;
    struct lw_route routes[LW_MAX_ROUTES];
    int nroutes;
    int truncated;                /* some objects did not fit (logged once) */
};

struct lw_verdict {
    int usable;
    int ifindex;                  /* the chosen uplink (0 = none) */
    char ifname[IF_NAMESIZE];
    char addr4[INET_ADDRSTRLEN];  /* usable global addresses ("" = none) */
    char addr6[INET6_ADDRSTRLEN];
    int route4, route6;           /* a default route of that family through it */
    int p2p;                      /* point-to-point (IFF_POINTOPOINT: ppp, tun) */
    char why[192];                /* usable: "10.1.2.3, default route"; not usable: what is
                                   * missing, e.g. "no global address" (about ifname when
                                   * set) or "no interface matches ppp*" (ifname "") */
};

/* ---- pure decision (no I/O) -------------------------------------------- */

/* Administratively up and operationally running: IFF_UP and IFF_RUNNING,
 * operstate UP or UNKNOWN (ppp, tun and many drivers never say UP). */
int lw_link_up(const struct lw_link *l);
/* A global, usable address: scope universe, not tentative (optimistic DAD is
 * fine) or DAD-failed, not loopback / link-local / unspecified / multicast. */
int lw_addr_usable(const struct lw_addr *a);
/* A default route we would send through: main table, unicast, nexthop
 * not dead.  (The LINKDOWN nexthop flag is ignored: the kernel changes it
 * without a notification; the link's own state is judged instead.) */
int lw_route_usable(const struct lw_route *r);
/* Does the interface name match the configured names/globs (fnmatch)?
 * Returns the index of the first matching pattern, or -1. */
int lw_name_match(const struct link_cfg *cfg, const char *name);

/* Judge the snapshot against link.interfaces / link.require-default-route.
 * Always fills v (v->why explains).  Returns v->usable.
 *
 * With interfaces configured, candidates are the matching links, in the
 * order of the patterns, then by ifindex; without, the links that carry a
 * default route, by route metric.  A candidate is usable when it is up and,
 * for IPv4 or for IPv6, has a usable address of that family and (when
 * require_default_route) a usable default route of that family through it. */
int lw_judge(const struct lw_snapshot *s, const struct link_cfg *cfg, struct lw_verdict *v);

/* Same uplink (interface and addresses)?  A change of address while usable
 * is treated like a new link-up by the supervisor. */
int lw_same_uplink(const struct lw_verdict *a, const struct lw_verdict *b);

/* ---- the watcher (netlink) --------------------------------------------- */

struct linkwatch;

/* Subscribe to link/address/route notifications, then dump the current
 * state.  rcvbuf: socket receive buffer in bytes (0 = default 1 MiB; the
 * kernel caps it at net.core.rmem_max without CAP_NET_ADMIN).
 * Returns NULL on error (logged). */
struct linkwatch *linkwatch_open(int rcvbuf);
void linkwatch_close(struct linkwatch *lw);
/* In a forked child: close the sockets without touching the parent's state. */
void linkwatch_close_fds(struct linkwatch *lw);
/* The fd to poll for POLLIN. */
int linkwatch_fd(const struct linkwatch *lw);

/* Read all pending notifications.  Returns 1 if the state may have changed
 * (call linkwatch_snapshot), 0 if nothing happened, -1 on a fatal error
 * (logged).  Overflow (ENOBUFS) is handled inside by re-reading the whole
 * state; it is counted in linkwatch_stats. */
int linkwatch_process(struct linkwatch *lw);
/* Build the snapshot from the caches (and re-read the routes when a link
 * went down or an IPv4 address went away, since the kernel then drops
 * routes silently). */
void linkwatch_snapshot(struct linkwatch *lw, struct lw_snapshot *s);
/* Re-read everything (overflow, or on demand). 0 ok, -1 error (logged). */
int linkwatch_resync(struct linkwatch *lw);

struct linkwatch_stats {
    uint64_t events;              /* notifications applied */
    uint64_t overflows;           /* ENOBUFS seen (state re-read) */
    uint64_t resyncs;             /* full re-reads */
    uint64_t route_refills;       /* route-only re-reads */
};
void linkwatch_stats(const struct linkwatch *lw, struct linkwatch_stats *st);

/* For logs: "UP,RUNNING,LOWER_UP" style, bounded. */
const char *lw_flags_str(unsigned flags, char *buf, size_t size);
const char *lw_operstate_name(unsigned char op);
#endif
