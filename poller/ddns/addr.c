/* SPDX-License-Identifier: ISC */
/* addr.c — where the address to publish comes from: the uplink the link
 * watcher or hook names, an interface (libnl), or a check-IP URL. */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "link/linkwatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <string.h>

/* ---- the uplink from the link watcher's view ---------------------------
 * No second netlink dump here: one snapshot through the link watcher's
 * own code (linkwatch_open + linkwatch_snapshot), judged with lw_judge()
 * against link.interfaces, exactly as the daemon judges the uplink. */

struct lw_view {
    struct lw_snapshot *s;
};

static int view_open(struct lw_view *v)
{
    v->s = calloc(1, sizeof *v->s);
    if (!v->s)
        return -1;
    struct linkwatch *lw = linkwatch_open(0);
    if (!lw) {
        free(v->s);
        v->s = NULL;
        return -1;
    }
    linkwatch_snapshot(lw, v->s);
    linkwatch_close(lw);
    return 0;
}

static void view_close(struct lw_view *v)
{
    free(v->s);
    v->s = NULL;
}

/* Best-ranked address of a family on a named interface (netaddr_rank).
 * 0 ok, -1 (errno ENODEV no such interface, EADDRNOTAVAIL none). */
static int view_iface_addr(const struct lw_view *v, const char *ifname, int family,
                           char *out, size_t outsz)
{
    int idx = 0;
    for (int i = 0; i < v->s->nlinks; i++)
        if (strcmp(v->s->links[i].name, ifname) == 0)
            idx = v->s->links[i].ifindex;
    if (idx == 0) {
        errno = ENODEV;
        return -1;
    }
    const struct lw_addr *best = NULL;
    for (int i = 0; i < v->s->naddrs; i++) {
        const struct lw_addr *a = &v->s->addrs[i];
        /* every address counts (a loopback one too, for a test or a
         * deliberate `publish`); the rank puts public, stable ones first */
        if (a->ifindex != idx || a->family != family)
            continue;
        if (!best || netaddr_rank(a->family, a->addr, a->flags) <
                         netaddr_rank(best->family, best->addr, best->flags))
            best = a;
    }
    struct netaddr na = { .family = family };
    if (!best) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    memcpy(na.a, best->addr, family == AF_INET ? 4 : 16);
    return netaddr_format(&na, out, outsz);
}

/* The uplink's address of a family (see etrnpoll.conf(5), "interface"):
 * 1. a configured `interface` that is not the uplink the caller named:
 *    that interface's address;
 * 2. the caller's address (ppp local address, link watcher);
 * 3. the address of the caller's interface (hook --interface);
 * 4. else the uplink lw_judge() picks under link.interfaces (a manual
 *    poll): never another default-route interface when link.interfaces
 *    names the uplink.
 * `how` says where it came from. */
static int uplink_addr(const struct entry_run *e, const struct uplink *up, int family,
                       char *out, size_t outsz, char *how, size_t howsz)
{
    const struct ddns_cfg *d = e->d;
    const char *given = up ? (family == AF_INET ? up->addr4 : up->addr6) : "";
    const char *upif = up ? up->ifname : "";
    char ifn[IF_NAMESIZE + 1] = "";
    if (d->interface && (!upif[0] || strcmp(upif, d->interface) != 0)) {
        snprintf(ifn, sizeof ifn, "%s", d->interface);
    } else if (given[0]) {
        struct netaddr na;
        if (netaddr_parse(given, &na, 0) < 0 || na.family != family) {
            snprintf(how, howsz, "the uplink address given by the caller (\"%.60s\") is not an "
                     "IPv%d address", given, family == AF_INET ? 4 : 6);
            errno = EINVAL;
            return -1;
        }
        snprintf(how, howsz, "uplink%s%s", upif[0] ? " " : "", upif);
        return netaddr_format(&na, out, outsz);
    } else if (upif[0]) {
        snprintf(ifn, sizeof ifn, "%s", upif);
    }
    struct lw_view v;
    if (view_open(&v) < 0) {
        snprintf(how, howsz, "cannot read the interfaces (netlink)");
        return -1;
    }
    int rc = 0;
    if (!ifn[0]) {
        struct lw_verdict vd;
        lw_judge(v.s, e->link, &vd);
        if (!vd.ifname[0]) {
            snprintf(how, howsz, "no uplink interface (%s); set link.interfaces or 'interface'",
                     vd.why);
            errno = ENODEV;
            rc = -1;
            goto out;
        }
        snprintf(ifn, sizeof ifn, "%s", vd.ifname);
    }
    if (view_iface_addr(&v, ifn, family, out, outsz) < 0) {
        snprintf(how, howsz, "interface %s: %s", ifn,
                 errno == ENODEV ? "no such interface" : "no usable address of this family");
        rc = -1;
        goto out;
    }
    snprintf(how, howsz, "interface %s", ifn);
out:
    view_close(&v);
    return rc;
}

/* ---- check-IP ---------------------------------------------------------- */

static int checkip(const struct ddns_cfg *d, const char *url, int family, char *out, size_t outsz,
                   int *tls, char *err, size_t errsz)
{
    struct http_req q = { .method = "GET", .url = url, .ca_file = d->ca_file,
                          .timeout = d->timeout, .family = family };
    struct http_resp r;
    if (http_do(&q, &r) < 0) {
        snprintf(err, errsz, "check-IP %s: %s", url, r.err);
        http_resp_free(&r);
        return -1;
    }
    if (r.status < 200 || r.status > 299) {
        snprintf(err, errsz, "check-IP %s: HTTP %ld", url, r.status);
        http_resp_free(&r);
        return -1;
    }
    *tls = r.tls;
    int pr_rc = ddns_parse_checkip(r.body, r.len, family, out, outsz);
    if (pr_rc < 0) {
        char pr[120];
        printable(pr, sizeof pr, r.body ? r.body : "", r.len > 100 ? 100 : r.len);
        snprintf(err, errsz, "check-IP %s: %s in the answer \"%s\"; nothing is published "
                 "from it (the answer must be exactly one address)", url,
                 pr_rc == -2 ? "more than one address" : family == AF_INET ? "no IPv4 address"
                                                                           : "no IPv6 address", pr);
        http_resp_free(&r);
        return -1;
    }
    http_resp_free(&r);
    return 0;
}



/* What the admin must hear about an address that cannot receive mail. */
static void explain_nonpublic(const struct ddns_cfg *d, const char *addr, const char *how,
                              enum netaddr_kind k)
{
    const char *what = d->on_private == PRIV_SKIP ? "not published (on-private-address = skip)"
                     : d->on_private == PRIV_WARN ? "published anyway (on-private-address = warn)"
                                                  : "published (on-private-address = publish)";
    if (k == NETADDR_CGNAT || k == NETADDR_PRIVATE)
        log_msg(d->on_private == PRIV_PUBLISH ? LOG_NOTICE : LOG_WARNING,
                "ddns %s: the address %s (from %s) is %s: this site is behind NAT, so the backup "
                "MX cannot deliver to it and ETRN is pointless until the line has a public "
                "address (ask the provider for one, or forward port 25 and use a check-IP URL); "
                "%s", d->name, addr, how, netaddr_kind_name(k), what);
    else
        log_msg(d->on_private == PRIV_PUBLISH ? LOG_NOTICE : LOG_WARNING,
                "ddns %s: the address %s (from %s) is %s: the relay cannot connect back to it; "
                "ETRN will not deliver; %s", d->name, addr, how, netaddr_kind_name(k), what);
}

int entry_addresses(struct entry_run *e, const struct uplink *up, int quiet, int *withheld)
{
    const struct ddns_cfg *d = e->d;
    int fams[2] = { AF_INET, AF_INET6 };
    int want[2] = { d->ipv4, d->ipv6 };
    char *dst[2] = { e->addr4, e->addr6 };
    int found = 0;
    *withheld = 0;
    for (int f = 0; f < 2; f++) {
        dst[f][0] = '\0';
        if (!want[f])
            continue;
        char how[300] = "", err[700] = "";
        char ifaddr[DDNS_ADDR_MAX] = "", ifhow[300] = "";
        int have_if = uplink_addr(e, up, fams[f], ifaddr, sizeof ifaddr, ifhow, sizeof ifhow) == 0;
        if (d->source == ADDR_URL) {
            int tls = 0;
            const char *cu = fams[f] == AF_INET ? d->checkip_url : d->checkip_url6;
            const char *confirm = fams[f] == AF_INET ? d->checkip_confirm_url : d->checkip_confirm_url6;
            if (checkip(d, cu, fams[f], dst[f], DDNS_ADDR_MAX, &tls, err, sizeof err) < 0) {
                log_warn("ddns %s: %s", d->name, err);
                dst[f][0] = '\0';
                continue;
            }
            snprintf(how, sizeof how, "%s", cu);
            int confirmed = tls || d->trust_http_checkip || (have_if && strcmp(ifaddr, dst[f]) == 0);
            if (!confirmed && confirm) {
                /* a second source: trusted when it gives the same address */
                char second[DDNS_ADDR_MAX] = "";
                int tls2 = 0;
                if (checkip(d, confirm, fams[f], second, sizeof second, &tls2, err, sizeof err) < 0) {
                    log_warn("ddns %s: %s", d->name, err);
                } else if (strcmp(second, dst[f]) == 0) {
                    log_info("ddns %s: %s confirms the check-IP answer %s", d->name, confirm, dst[f]);
                    confirmed = 1;
                } else {
                    log_err("ddns %s: the check-IP answers disagree: %s says %s, %s says %s; "
                            "neither is published", d->name, cu, dst[f], confirm, second);
                }
            }
            if (!confirmed) {
                log_err("ddns %s: the check-IP answer %s came over plain http and %s; anyone "
                        "on the path could have sent it, so it is not published (use an https:// "
                        "check-ip-url, a check-ip-confirm-url, or set trust-http-check-ip = yes "
                        "if you accept that)", d->name, dst[f],
                        have_if ? "differs from the interface address"
                                : "no interface address or second source confirms it");
                if (have_if)
                    log_info("ddns %s: (the interface address is %s, from %s)", d->name, ifaddr, ifhow);
                dst[f][0] = '\0';
                (*withheld)++;
                continue;
            }
            if (have_if && strcmp(ifaddr, dst[f]) != 0 && !quiet)
                log_warn("ddns %s: the check-IP address %s differs from the local address %s "
                         "(from %s): NAT; unless the NAT forwards port 25 here, the relay "
                         "cannot connect back to this address; ETRN will not deliver",
                         d->name, dst[f], ifaddr, ifhow);
        } else {
            if (!have_if) {
                log_warn("ddns %s: no IPv%d address: %s", d->name, fams[f] == AF_INET ? 4 : 6, ifhow);
                dst[f][0] = '\0';
                continue;
            }
            snprintf(dst[f], DDNS_ADDR_MAX, "%s", ifaddr);
            snprintf(how, sizeof how, "%s", ifhow);
        }
        log_debug("ddns %s: IPv%d address %s (from %s)", d->name, fams[f] == AF_INET ? 4 : 6, dst[f], how);
        enum netaddr_kind k = netaddr_classify_str(dst[f]);
        if (k == NETADDR_INVALID) {                /* cannot happen: parsed above */
            dst[f][0] = '\0';
            continue;
        }
        if (!netaddr_kind_public(k)) {
            if (!quiet)
                explain_nonpublic(d, dst[f], how, k);
            if (d->on_private == PRIV_SKIP) {
                dst[f][0] = '\0';
                (*withheld)++;
                continue;
            }
        }
        found++;
    }
    if (found)
        return 0;
    return *withheld ? EX_UNAVAILABLE : EX_TEMPFAIL;
}
