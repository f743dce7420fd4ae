/* SPDX-License-Identifier: ISC */
/* Unit tests: the link watcher's "is the uplink usable?" decision over
 * snapshots, and the supervisor's exit classification and backoff. */
#include "conf/config.h"
#include "link/linkwatch.h"
#include "link/supervisor.h"
#include "core/util.h"
#include <arpa/inet.h>
#include "unit.h"
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPFLAGS (IFF_UP | IFF_RUNNING | IFF_LOWER_UP)

static struct lw_snapshot snap;
static struct link_cfg lc;
static char *pats[CFG_MAX_IFACES];

static void reset(void)
{
    memset(&snap, 0, sizeof snap);
    memset(&lc, 0, sizeof lc);
    lc.require_default_route = 1;
}

static void patterns(const char *a, const char *b)
{
    pats[0] = (char *)a;
    pats[1] = (char *)b;
    lc.ninterfaces = 0;
    for (int i = 0; i < 2; i++)
        if (pats[i])
            lc.interfaces[lc.ninterfaces++] = pats[i];
}

static struct lw_link *link_(int idx, const char *name, unsigned flags, unsigned char oper)
{
    struct lw_link *l = &snap.links[snap.nlinks++];
    l->ifindex = idx;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->flags = flags;
    l->operstate = oper;
    return l;
}

static struct lw_addr *addr_(int idx, const char *text, unsigned char scope, uint32_t flags)
{
    struct lw_addr *a = &snap.addrs[snap.naddrs++];
    a->ifindex = idx;
    a->scope = scope;
    a->flags = flags;
    if (strchr(text, ':')) {
        a->family = AF_INET6;
        a->prefixlen = 64;
        ck_assert_int_eq(inet_pton(AF_INET6, text, a->addr), 1);
    } else {
        a->family = AF_INET;
        a->prefixlen = 32;
        ck_assert_int_eq(inet_pton(AF_INET, text, a->addr), 1);
    }
    return a;
}

static struct lw_route *route_(int idx, int family, uint32_t prio)
{
    struct lw_route *r = &snap.routes[snap.nroutes++];
    r->ifindex = idx;
    r->family = (unsigned char)family;
    r->type = RTN_UNICAST;
    r->table = RT_TABLE_MAIN;
    r->priority = prio;
    return r;
}

static struct lw_verdict judge(void)
{
    struct lw_verdict v;
    int r = lw_judge(&snap, &lc, &v);
    ck_assert_int_eq(r, v.usable);
    return v;
}

/* A ppp link: operstate UNKNOWN (never UP), POINTOPOINT, the peer address
 * route and a "default dev ppp0" route. */
START_TEST(ppp_operstate_unknown_is_usable)
{
    reset();
    patterns("ppp*", NULL);
    link_(1, "lo", IFF_UP | IFF_RUNNING | IFF_LOOPBACK, IF_OPER_UNKNOWN);
    link_(7, "ppp0", UPFLAGS | IFF_POINTOPOINT | IFF_NOARP, IF_OPER_UNKNOWN);
    addr_(7, "10.1.2.3", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
    route_(7, AF_INET, 0);
    struct lw_verdict v = judge();
    ck_assert_int_eq(v.usable, 1);
    ck_assert_str_eq(v.ifname, "ppp0");
    ck_assert_str_eq(v.addr4, "10.1.2.3");
    ck_assert_str_eq(v.addr6, "");
    ck_assert_int_eq(v.route4, 1);
    ck_assert_msg(strstr(v.why, "10.1.2.3") && strstr(v.why, "default route"), "%s", v.why);
}
END_TEST

/* The first NEWLINK of a link coming up has UP without RUNNING. */
START_TEST(up_without_running_is_not_usable)
{
    reset();
    patterns("ppp*", NULL);
    link_(7, "ppp0", IFF_UP | IFF_POINTOPOINT, IF_OPER_DOWN);
    addr_(7, "10.1.2.3", RT_SCOPE_UNIVERSE, 0);
    route_(7, AF_INET, 0);
    struct lw_verdict v = judge();
    ck_assert_int_eq(v.usable, 0);
    ck_assert_str_eq(v.ifname, "ppp0");
    ck_assert_msg(strstr(v.why, "not running"), "%s", v.why);
    /* RUNNING but dormant (e.g. 802.1X not done): not usable either */
    snap.links[0].flags = UPFLAGS;
    snap.links[0].operstate = IF_OPER_DORMANT;
    ck_assert_int_eq(judge().usable, 0);
    snap.links[0].operstate = IF_OPER_UP;
    ck_assert_int_eq(judge().usable, 1);
    /* administratively down */
    snap.links[0].flags = IFF_RUNNING | IFF_LOWER_UP;
    ck_assert_int_eq(judge().usable, 0);
}
END_TEST

START_TEST(tentative_v6_is_not_usable)
{
    reset();
    patterns("eth0", NULL);
    link_(2, "eth0", UPFLAGS, IF_OPER_UP);
    addr_(2, "fe80::1", RT_SCOPE_LINK, IFA_F_PERMANENT);
    addr_(2, "2001:db8::10", RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE);
    route_(2, AF_INET6, 1024);
    struct lw_verdict v = judge();
    ck_assert_int_eq(v.usable, 0);
    ck_assert_msg(strstr(v.why, "tentative"), "%s", v.why);
    /* DAD done: the kernel clears TENTATIVE (RTM_NEWADDR) */
    snap.addrs[1].flags = 0;
    v = judge();
    ck_assert_int_eq(v.usable, 1);
    ck_assert_str_eq(v.addr6, "2001:db8::10");
    ck_assert_str_eq(v.addr4, "");
    /* optimistic DAD may be used */
    snap.addrs[1].flags = IFA_F_TENTATIVE | IFA_F_OPTIMISTIC;
    ck_assert_int_eq(judge().usable, 1);
    /* DAD failed */
    snap.addrs[1].flags = IFA_F_DADFAILED | IFA_F_TENTATIVE;
    ck_assert_int_eq(judge().usable, 0);
}
END_TEST

START_TEST(link_local_and_special_addresses_do_not_count)
{
    reset();
    patterns("wan0", NULL);
    link_(3, "wan0", UPFLAGS, IF_OPER_UP);
    route_(3, AF_INET, 0);
    route_(3, AF_INET6, 0);
    const char *useless[] = { "169.254.7.7", "127.0.0.2", "0.0.0.0", "fe80::2", "::1", "ff02::1" };
    for (size_t i = 0; i < ETP_ARRAY_LEN(useless); i++) {
        snap.naddrs = 0;
        addr_(3, useless[i], RT_SCOPE_UNIVERSE, 0);
        ck_assert_msg(judge().usable == 0, "%s counted as global", useless[i]);
    }
    /* a global address with a non-universe scope (e.g. "scope host") */
    snap.naddrs = 0;
    addr_(3, "192.0.2.9", RT_SCOPE_HOST, 0);
    ck_assert_int_eq(judge().usable, 0);
    /* private and CGNAT addresses are fine (cellular uplinks) */
    snap.naddrs = 0;
    addr_(3, "100.64.1.2", RT_SCOPE_UNIVERSE, 0);
    ck_assert_int_eq(judge().usable, 1);
}
END_TEST

START_TEST(default_route_required)
{
    reset();
    patterns("ppp0", NULL);
    link_(7, "ppp0", UPFLAGS | IFF_POINTOPOINT, IF_OPER_UNKNOWN);
    addr_(7, "10.1.2.3", RT_SCOPE_UNIVERSE, 0);
    struct lw_verdict v = judge();
    ck_assert_int_eq(v.usable, 0);
    ck_assert_msg(strstr(v.why, "no default route"), "%s", v.why);
    /* not required: an address is enough */
    lc.require_default_route = 0;
    v = judge();
    ck_assert_int_eq(v.usable, 1);
    ck_assert_int_eq(v.route4, 0);
    lc.require_default_route = 1;
    /* a default route through ANOTHER interface does not count */
    link_(2, "eth0", UPFLAGS, IF_OPER_UP);
    addr_(2, "192.168.1.2", RT_SCOPE_UNIVERSE, 0);
    route_(2, AF_INET, 0);
    ck_assert_int_eq(judge().usable, 0);
    /* nor one in another table, or an unreachable/blackhole one, or a dead nexthop */
    struct lw_route *r = route_(7, AF_INET, 0);
    r->table = 100;
    ck_assert_int_eq(judge().usable, 0);
    r->table = RT_TABLE_MAIN;
    r->type = RTN_UNREACHABLE;
    ck_assert_int_eq(judge().usable, 0);
    r->type = RTN_UNICAST;
    r->nhflags = RTNH_F_DEAD;
    ck_assert_int_eq(judge().usable, 0);
    /* LINKDOWN is ignored (the link's own state is judged) */
    r->nhflags = RTNH_F_LINKDOWN;
    ck_assert_int_eq(judge().usable, 1);
    /* the family must match: IPv6 default route + IPv4-only address */
    r->nhflags = 0;
    r->family = AF_INET6;
    ck_assert_int_eq(judge().usable, 0);
}
END_TEST

START_TEST(glob_match_and_order)
{
    reset();
    patterns("wwan*", "ppp*");
    ck_assert_int_eq(lw_name_match(&lc, "ppp0"), 1);
    ck_assert_int_eq(lw_name_match(&lc, "wwan12"), 0);
    ck_assert_int_eq(lw_name_match(&lc, "eth0"), -1);
    ck_assert_int_eq(lw_name_match(&lc, "xppp0"), -1);
    link_(4, "ppp0", UPFLAGS | IFF_POINTOPOINT, IF_OPER_UNKNOWN);
    addr_(4, "10.1.2.3", RT_SCOPE_UNIVERSE, 0);
    route_(4, AF_INET, 0);
    link_(5, "wwan0", UPFLAGS, IF_OPER_UP);
    addr_(5, "10.9.9.9", RT_SCOPE_UNIVERSE, 0);
    route_(5, AF_INET, 10);
    /* both usable: the first pattern wins */
    struct lw_verdict v = judge();
    ck_assert_str_eq(v.ifname, "wwan0");
    /* wwan0 loses carrier: ppp0 takes over */
    snap.links[1].flags = IFF_UP;
    snap.links[1].operstate = IF_OPER_DOWN;
    v = judge();
    ck_assert_int_eq(v.usable, 1);
    ck_assert_str_eq(v.ifname, "ppp0");
    /* no match at all */
    patterns("tun*", NULL);
    v = judge();
    ck_assert_int_eq(v.usable, 0);
    ck_assert_str_eq(v.ifname, "");
    ck_assert_msg(strstr(v.why, "no interface matches") && strstr(v.why, "tun*"), "%s", v.why);
    /* bracket globs */
    patterns("eth[0-3]", NULL);
    ck_assert_int_eq(lw_name_match(&lc, "eth2"), 0);
    ck_assert_int_eq(lw_name_match(&lc, "eth4"), -1);
}
END_TEST

START_TEST(no_interfaces_means_default_route_interface)
{
    reset();
    link_(1, "lo", IFF_UP | IFF_RUNNING | IFF_LOOPBACK, IF_OPER_UNKNOWN);
    addr_(1, "127.0.0.1", RT_SCOPE_HOST, 0);
    struct lw_verdict v = judge();
    ck_assert_int_eq(v.usable, 0);
    ck_assert_str_eq(v.why, "no default route");
    link_(2, "eth0", UPFLAGS, IF_OPER_UP);
    addr_(2, "192.0.2.7", RT_SCOPE_UNIVERSE, 0);
    link_(3, "wwan0", UPFLAGS, IF_OPER_UP);
    addr_(3, "10.20.30.40", RT_SCOPE_UNIVERSE, 0);
    route_(3, AF_INET, 700);
    route_(2, AF_INET, 100);
    v = judge();
    ck_assert_int_eq(v.usable, 1);
    ck_assert_str_eq(v.ifname, "eth0");       /* lowest metric */
    /* eth0's carrier goes: the other default route's interface is used */
    snap.links[1].flags = IFF_UP;
    v = judge();
    ck_assert_str_eq(v.ifname, "wwan0");
    /* a default route through loopback never counts */
    snap.nroutes = 0;
    route_(1, AF_INET, 0);
    ck_assert_int_eq(judge().usable, 0);
}
END_TEST

START_TEST(address_choice_is_stable)
{
    reset();
    patterns("eth0", NULL);
    link_(2, "eth0", UPFLAGS, IF_OPER_UP);
    route_(2, AF_INET, 0);
    route_(2, AF_INET6, 0);
    addr_(2, "2001:db8::99", RT_SCOPE_UNIVERSE, IFA_F_TEMPORARY);
    addr_(2, "2001:db8::50", RT_SCOPE_UNIVERSE, IFA_F_DEPRECATED);
    addr_(2, "2001:db8::70", RT_SCOPE_UNIVERSE, IFA_F_MANAGETEMPADDR);
    addr_(2, "192.0.2.20", RT_SCOPE_UNIVERSE, IFA_F_SECONDARY);
    addr_(2, "192.0.2.30", RT_SCOPE_UNIVERSE, 0);
    struct lw_verdict a = judge();
    ck_assert_str_eq(a.addr6, "2001:db8::70");  /* stable, not temporary/deprecated */
    ck_assert_str_eq(a.addr4, "192.0.2.30");    /* primary */
    /* a new temporary address does not change the uplink identity */
    addr_(2, "2001:db8::1", RT_SCOPE_UNIVERSE, IFA_F_TEMPORARY);
    struct lw_verdict b = judge();
    ck_assert_int_eq(lw_same_uplink(&a, &b), 1);
    /* a new primary IPv4 address does */
    snap.addrs[4].addr[3] = 31;
    b = judge();
    ck_assert_int_eq(lw_same_uplink(&a, &b), 0);
}
END_TEST

START_TEST(flags_text)
{
    char buf[96];
    ck_assert_str_eq(lw_flags_str(IFF_UP | IFF_RUNNING | IFF_LOWER_UP, buf, sizeof buf), "UP,RUNNING,LOWER_UP");
    ck_assert_str_eq(lw_flags_str(0, buf, sizeof buf), "-");
    char tiny[6];
    lw_flags_str(IFF_UP | IFF_RUNNING, tiny, sizeof tiny);
    ck_assert_int_lt(strlen(tiny), sizeof tiny);
    ck_assert_str_eq(lw_operstate_name(IF_OPER_UNKNOWN), "UNKNOWN");
}
END_TEST

/* ---- supervisor scheduling ------------------------------------------------ */

START_TEST(exit_classes)
{
    ck_assert_int_eq(sup_classify_exit(0), SUP_OK);
    ck_assert_int_eq(sup_classify_exit(EX_TEMPFAIL), SUP_RETRY);
    ck_assert_int_eq(sup_classify_exit(EX_PROTOCOL), SUP_RETRY);
    ck_assert_int_eq(sup_classify_exit(EX_SOFTWARE), SUP_RETRY);
    ck_assert_int_eq(sup_classify_exit(EX_CANTCREAT), SUP_RETRY);
    ck_assert_int_eq(sup_classify_exit(EX_UNAVAILABLE), SUP_PERMANENT);
    ck_assert_int_eq(sup_classify_exit(EX_NOPERM), SUP_PERMANENT);
    ck_assert_int_eq(sup_classify_exit(EX_CONFIG), SUP_PERMANENT);
    ck_assert_int_eq(sup_classify_exit(EX_USAGE), SUP_PERMANENT);
}
END_TEST

START_TEST(backoff_doubles_and_caps)
{
    int b = 0;
    int want[] = { 30, 60, 120, 240, 480, 960, 1800, 1800, 1800 };
    for (size_t i = 0; i < ETP_ARRAY_LEN(want); i++) {
        b = sup_backoff_next(b, 30, 1800);
        ck_assert_int_eq(b, want[i]);
    }
    /* a max that is not a power-of-two multiple of min */
    ck_assert_int_eq(sup_backoff_next(40, 30, 70), 70);
    /* bad bounds are clamped, never 0 or negative */
    ck_assert_int_eq(sup_backoff_next(0, 0, 0), 1);
    ck_assert_int_eq(sup_backoff_next(5, 10, 5), 10);
    /* no overflow near INT_MAX */
    ck_assert_int_eq(sup_backoff_next(2000000000, 30, 2100000000), 2100000000);
}
END_TEST

START_TEST(backoff_jitter_bounds)
{
    uint32_t rnds[] = { 0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    for (size_t i = 0; i < ETP_ARRAY_LEN(rnds); i++) {
        int64_t d = sup_backoff_delay_ms(60, rnds[i]);
        ck_assert_msg(d >= 48000 && d <= 60000, "rnd %u: %lld", rnds[i], (long long)d);
        d = sup_backoff_delay_ms(1800, rnds[i]);
        ck_assert_msg(d >= 1440000 && d <= 1800000, "rnd %u: %lld", rnds[i], (long long)d);
    }
    ck_assert_int_eq(sup_backoff_delay_ms(60, 0), 60000);
    ck_assert_int_eq(sup_backoff_delay_ms(60, 0xffffffffu), 48000);
    ck_assert_int_ge(sup_backoff_delay_ms(0, 0xffffffffu), 1);
    /* the spread is real: different random values give different delays */
    ck_assert_int_ne(sup_backoff_delay_ms(60, 0x40000000u), sup_backoff_delay_ms(60, 0xc0000000u));
}
END_TEST

START_TEST(settle_point_to_point)
{
    int64_t now = 10 * 60 * 1000;
    /* ppp/tun: polled at once, unless it went down less than a minute ago */
    ck_assert_int_eq(sup_settle_ms(1, 0, now, 2), 0);
    ck_assert_int_eq(sup_settle_ms(1, now - SUP_FLAP_MS, now, 2), 0);
    ck_assert_int_eq(sup_settle_ms(1, now - SUP_FLAP_MS + 1, now, 2), 2000);
    ck_assert_int_eq(sup_settle_ms(1, now - 1000, now, 5), 5000);
    /* carrier links always settle; settle 0 is 0; a bad value is no wait */
    ck_assert_int_eq(sup_settle_ms(0, 0, now, 2), 2000);
    ck_assert_int_eq(sup_settle_ms(0, now - 1000, now, 0), 0);
    ck_assert_int_eq(sup_settle_ms(0, 0, now, -1), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linkwatch");
    UNIT_CASE(s, "usable", ppp_operstate_unknown_is_usable,
              up_without_running_is_not_usable,
              tentative_v6_is_not_usable,
              link_local_and_special_addresses_do_not_count,
              default_route_required,
              glob_match_and_order,
              no_interfaces_means_default_route_interface,
              address_choice_is_stable,
              flags_text);
    UNIT_CASE(s, "schedule", exit_classes, backoff_doubles_and_caps, backoff_jitter_bounds,
              settle_point_to_point);
    return unit_run(s, UNIT_FORK);
}
