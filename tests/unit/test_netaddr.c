/* SPDX-License-Identifier: ISC */
/* test_netaddr.c — core/netaddr: classification, ranking, prefixes,
 * sockaddr split, DNS names. */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include "unit.h"
#include <linux/if_addr.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

START_TEST(t_classify)
{
    struct { const char *a; enum netaddr_kind k; } t[] = {
        { "8.8.8.8", NETADDR_PUBLIC }, { "81.2.69.142", NETADDR_PUBLIC },
        { "10.9.9.9", NETADDR_PRIVATE }, { "172.16.0.1", NETADDR_PRIVATE },
        { "172.32.0.1", NETADDR_PUBLIC }, { "192.168.1.1", NETADDR_PRIVATE },
        { "100.64.0.1", NETADDR_CGNAT }, { "100.127.255.254", NETADDR_CGNAT },
        { "100.128.0.1", NETADDR_PUBLIC }, { "127.0.0.1", NETADDR_LOOPBACK },
        { "169.254.1.1", NETADDR_LINKLOCAL }, { "0.1.2.3", NETADDR_UNSPECIFIED },
        { "192.0.2.1", NETADDR_DOCUMENTATION }, { "198.51.100.7", NETADDR_DOCUMENTATION },
        { "203.0.113.9", NETADDR_DOCUMENTATION }, { "198.19.0.1", NETADDR_DOCUMENTATION },
        { "224.0.0.1", NETADDR_MULTICAST }, { "240.0.0.1", NETADDR_RESERVED },
        { "255.255.255.255", NETADDR_RESERVED }, { "192.0.0.8", NETADDR_RESERVED },
        { "2a01:4f8::1", NETADDR_PUBLIC }, { "::1", NETADDR_LOOPBACK },
        { "::", NETADDR_UNSPECIFIED }, { "fd00::5", NETADDR_PRIVATE },
        { "fec0::1", NETADDR_PRIVATE }, { "fe80::1", NETADDR_LINKLOCAL },
        { "ff02::1", NETADDR_MULTICAST }, { "2001:db8::1", NETADDR_DOCUMENTATION },
        { "::ffff:10.0.0.1", NETADDR_PRIVATE }, { "::ffff:8.8.8.8", NETADDR_PUBLIC },
        { "::ffff:100.64.1.1", NETADDR_CGNAT }, { "::1.2.3.4", NETADDR_RESERVED },
        { "4000::1", NETADDR_RESERVED }, { "not-an-ip;x", NETADDR_INVALID },
        { "", NETADDR_INVALID }, { "1.2.3.4/24", NETADDR_INVALID },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(netaddr_classify_str(t[i].a) == t[i].k, "%s: got %d want %d", t[i].a,
                      netaddr_classify_str(t[i].a), t[i].k);
    ck_assert_int_eq(netaddr_classify_str(NULL), NETADDR_INVALID);
    ck_assert(netaddr_kind_public(NETADDR_PUBLIC));
    ck_assert(!netaddr_kind_public(NETADDR_CGNAT));
}
END_TEST

static int rank(const char *s, uint32_t fl)
{
    struct netaddr a;
    ck_assert_int_eq(netaddr_parse(s, &a, 0), 0);
    return netaddr_rank(a.family, a.a, fl);
}

START_TEST(t_rank_usable)
{
    ck_assert_int_lt(rank("81.2.69.142", 0), rank("10.0.0.1", 0));
    ck_assert_int_lt(rank("10.0.0.1", 0), rank("169.254.0.1", 0));
    ck_assert_int_lt(rank("2a01:4f8::2", 0), rank("2a01:4f8::1", IFA_F_DEPRECATED));
    ck_assert_int_lt(rank("2a01:4f8::2", 0), rank("2a01:4f8::3", IFA_F_TEMPORARY));
    ck_assert_int_lt(rank("2a01:4f8::3", IFA_F_TEMPORARY), rank("2a01:4f8::1", IFA_F_DEPRECATED));
    ck_assert_int_lt(rank("2a01:4f8::1", IFA_F_DEPRECATED), rank("2a01:4f8::1", IFA_F_TENTATIVE));
    ck_assert_int_lt(rank("2a01:4f8::1", 0), rank("fd00::1", 0));
    struct netaddr a;
    const char *ok[] = { "192.0.2.1", "10.1.1.1", "100.64.0.1", "2001:db8::1", "fd00::1", "4000::1" };
    const char *no[] = { "127.0.0.1", "169.254.0.1", "0.0.0.1", "224.0.0.5", "240.0.0.1",
                         "::1", "::", "fe80::1", "ff02::1" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        netaddr_parse(ok[i], &a, 0);
        ck_assert_msg(netaddr_link_usable(a.family, a.a), "%s", ok[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        netaddr_parse(no[i], &a, 0);
        ck_assert_msg(!netaddr_link_usable(a.family, a.a), "%s", no[i]);
    }
}
END_TEST

START_TEST(t_parse_format)
{
    struct netaddr a;
    char t[NETADDR_STRLEN];
    ck_assert_int_eq(netaddr_parse("::ffff:192.0.2.1", &a, 1), 0);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_int_eq(netaddr_format(&a, t, sizeof t), 0);
    ck_assert_str_eq(t, "192.0.2.1");
    ck_assert_int_eq(netaddr_parse("::ffff:192.0.2.1", &a, 0), 0);
    ck_assert_int_eq(a.family, AF_INET6);
    ck_assert(netaddr_is_v4mapped(a.a));
    ck_assert_int_eq(netaddr_parse("2001:DB8:0::7", &a, 0), 0);
    ck_assert_int_eq(netaddr_format(&a, t, sizeof t), 0);
    ck_assert_str_eq(t, "2001:db8::7");
    ck_assert_int_eq(netaddr_format(&a, t, 5), -1);
    const char *bad[] = { "not-an-ip;x", "1.2.3.4;x", "1.2.3.4 ", "01.2.3.4", "1.2.3", "fe80::1%eth0", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(netaddr_parse(bad[i], &a, 0) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(t_prefix)
{
    struct netaddr_prefix p;
    struct netaddr a;
    ck_assert_int_eq(netaddr_prefix_parse("10.64.0.0/10", &p), 0);
    netaddr_parse("10.127.1.1", &a, 0);
    ck_assert(netaddr_prefix_match(&p, &a));
    netaddr_parse("10.128.0.1", &a, 0);
    ck_assert(!netaddr_prefix_match(&p, &a));
    netaddr_parse("::ffff:10.64.9.9", &a, 0);
    ck_assert(netaddr_prefix_match(&p, &a));          /* v4-mapped counts as IPv4 */
    ck_assert_int_eq(netaddr_prefix_parse("::ffff:198.51.100.0/120", &p), 0);
    ck_assert_int_eq(p.addr.family, AF_INET);
    ck_assert_int_eq(p.len, 24);
    ck_assert_int_eq(netaddr_prefix_parse("2001:db8::/32", &p), 0);
    netaddr_parse("2001:db8:ffff::1", &a, 0);
    ck_assert(netaddr_prefix_match(&p, &a));
    netaddr_parse("192.0.2.1", &a, 0);
    ck_assert(!netaddr_prefix_match(&p, &a));
    ck_assert_int_eq(netaddr_prefix_parse("0.0.0.0/0", &p), 0);
    ck_assert(netaddr_prefix_match(&p, &a));
    /* a short IPv6 prefix over the v4-mapped range stays IPv6 and matches
     * its own (v4-mapped) address (found by fuzz_netaddr) */
    ck_assert_int_eq(netaddr_prefix_parse("::ffff:ffff:2/3", &p), 0);
    ck_assert_int_eq(p.addr.family, AF_INET6);
    ck_assert(netaddr_prefix_match(&p, &p.addr));
    ck_assert_int_eq(netaddr_prefix_parse("192.0.2.1", &p), 0);
    ck_assert_int_eq(p.len, 32);
    const char *bad[] = { "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/1a", "/8", "x/8",
                          "10.0.0.0/0008", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(netaddr_prefix_parse(bad[i], &p) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(t_sockaddr)
{
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(2525);
    inet_pton(AF_INET6, "::ffff:198.51.100.25", &s6.sin6_addr);
    struct netaddr a;
    unsigned port = 0;
    ck_assert_int_eq(netaddr_from_sockaddr((struct sockaddr *)&s6, sizeof s6, &a, &port), 0);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_uint_eq(port, 2525);
    char t[NETADDR_STRLEN];
    netaddr_format(&a, t, sizeof t);
    ck_assert_str_eq(t, "198.51.100.25");
    struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(25) };
    ck_assert_int_eq(netaddr_from_sockaddr((struct sockaddr *)&s4, 4, &a, &port), -1);
    ck_assert_int_eq(netaddr_from_sockaddr(NULL, 0, &a, &port), -1);
}
END_TEST

START_TEST(t_dns_name)
{
    ck_assert_ptr_null(netaddr_dns_name_invalid("gw.example.test", NETADDR_DNS_NEED_DOT));
    ck_assert_ptr_null(netaddr_dns_name_invalid("*.example.test", NETADDR_DNS_NEED_DOT | NETADDR_DNS_WILDCARD));
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid("*.example.test", NETADDR_DNS_NEED_DOT));
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid("a.*.test", NETADDR_DNS_WILDCARD));
    ck_assert_ptr_null(netaddr_dns_name_invalid("localhost", 0));
    ck_assert_str_eq(netaddr_dns_name_invalid("localhost", NETADDR_DNS_NEED_DOT), "not a fully qualified name (no dot)");
    ck_assert_str_eq(netaddr_dns_name_invalid("x..org", 0), "empty label");
    ck_assert_str_eq(netaddr_dns_name_invalid("-x.org", 0), "label starts with '-'");
    ck_assert_str_eq(netaddr_dns_name_invalid("x-.org", 0), "label ends with '-'");
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid("a b.org", 0));
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid("example.org.", 0));
    ck_assert_ptr_null(netaddr_dns_name_invalid("example.org.", NETADDR_DNS_TRAILING_DOT));
    char l64[80];
    memset(l64, 'a', 64);
    strcpy(l64 + 64, ".org");
    ck_assert_str_eq(netaddr_dns_name_invalid(l64, 0), "label longer than 63 characters");
    char big[300];
    for (int i = 0; i < 299; i++)
        big[i] = i % 2 ? '.' : 'a';
    big[299] = '\0';
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid(big, 0));
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid("", 0));
    ck_assert_ptr_nonnull(netaddr_dns_name_invalid(NULL, 0));
}
END_TEST

UNIT_MAIN("netaddr",
          t_classify,
          t_rank_usable,
          t_parse_format,
          t_prefix,
          t_sockaddr,
          t_dns_name)
