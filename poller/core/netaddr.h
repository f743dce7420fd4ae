/* SPDX-License-Identifier: ISC */
/* netaddr.h — one place for what an IP address is and how good it is.
 *
 * Used by ddns (what may be published), link (which uplink address to
 * report) and conf (DNS names).  Pure functions, no I/O (unit tests:
 * tests/unit/test_netaddr.c). */
#ifndef ETP_NETADDR_H
#define ETP_NETADDR_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETADDR_STRLEN 46             /* INET6_ADDRSTRLEN */

/* Where an address can be reached from. */
enum netaddr_kind {
    NETADDR_PUBLIC = 0,
    NETADDR_PRIVATE,                  /* RFC 1918, IPv6 ULA fc00::/7, site-local fec0::/10 */
    NETADDR_CGNAT,                    /* 100.64.0.0/10 (RFC 6598) */
    NETADDR_LOOPBACK,                 /* 127.0.0.0/8, ::1 */
    NETADDR_LINKLOCAL,                /* 169.254.0.0/16, fe80::/10 */
    NETADDR_DOCUMENTATION,            /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 198.18/15, 2001:db8::/32 */
    NETADDR_MULTICAST,                /* 224.0.0.0/4, ff00::/8 */
    NETADDR_UNSPECIFIED,              /* 0.0.0.0/8 ("this network"), :: */
    NETADDR_RESERVED,                 /* 240/4, 192.0.0/24, ::/96, 100::/64, outside 2000::/3 */
    NETADDR_INVALID                   /* not an address */
};

/* An address in binary form: family AF_INET (4 bytes) or AF_INET6 (16). */
struct netaddr {
    int family;
    unsigned char a[16];
};

/* Parse a numeric address (no scope, no brackets, no prefix).  A
 * v4-mapped IPv6 address (::ffff:a.b.c.d) is stored as AF_INET when
 * unmap is set.  0 ok, -1 not an address. */
int netaddr_parse(const char *s, struct netaddr *out, int unmap);
/* Canonical text (inet_ntop).  0 ok, -1 outsz too small. */
int netaddr_format(const struct netaddr *a, char *out, size_t outsz);
/* Is this IPv6 address v4-mapped (::ffff:0:0/96)? */
int netaddr_is_v4mapped(const unsigned char a16[16]);

enum netaddr_kind netaddr_classify(int family, const unsigned char *bytes);
enum netaddr_kind netaddr_classify_str(const char *addr);   /* INVALID if not an address */
const char *netaddr_kind_name(enum netaddr_kind k);
/* Can mail from the internet reach this address?  (PUBLIC only.) */
static inline int netaddr_kind_public(enum netaddr_kind k) { return k == NETADDR_PUBLIC; }

/* An address a link may use as its own global address (the link watcher's
 * rule): not unspecified, loopback, link-local, multicast or reserved. */
int netaddr_link_usable(int family, const unsigned char *bytes);

/* Rank of an interface address; lower is better.  Public before
 * private/CGNAT/documentation before link-local before anything else;
 * then a primary/stable address before a secondary/temporary (privacy)
 * one, nothing deprecated, tentative or DAD-failed unless there is nothing
 * else.  ifa_flags: IFA_F_* from <linux/if_addr.h> (0 if unknown). */
int netaddr_rank(int family, const unsigned char *bytes, uint32_t ifa_flags);

/* Prefixes: "addr" or "addr/len" (len 0..32 / 0..128).  A v4-mapped
 * prefix is turned into its IPv4 form.  0 ok, -1 malformed. */
struct netaddr_prefix {
    struct netaddr addr;
    int len;
};
int netaddr_prefix_parse(const char *s, struct netaddr_prefix *out);
/* Does a (v4-mapped addresses count as IPv4) fall inside p? */
int netaddr_prefix_match(const struct netaddr_prefix *p, const struct netaddr *a);

/* Split a sockaddr (AF_INET / AF_INET6; v4-mapped IPv6 unmapped) into an
 * address and a port.  0 ok, -1 other family or short length. */
int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out,
                          unsigned *port);

/* A DNS host name: labels of letters, digits, '-' and '_' (and a leading
 * "*" label when allow_wildcard), 1..63 octets each, 253 in all, no label
 * starting or ending with '-'; NEED_DOT: at least two labels.  Returns
 * NULL if valid, else a static explanation starting with what is wrong
 * ("empty label", "label longer than 63 characters", ...). */
#define NETADDR_DNS_WILDCARD 1
#define NETADDR_DNS_NEED_DOT 2
#define NETADDR_DNS_TRAILING_DOT 4    /* accept one trailing dot (absolute name) */
const char *netaddr_dns_name_invalid(const char *name, unsigned flags);
/* Do two DNS names name the same node?  Case-insensitive (ASCII), one
 * trailing dot on either side ignored ("GW.example.test." = "gw.example.test"). */
int netaddr_dns_name_eq(const char *a, const char *b);
#endif
