/* SPDX-License-Identifier: ISC */
/* netaddr.c — address classification, ranking, prefixes, DNS names.
 * See netaddr.h. */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <linux/if_addr.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const unsigned char v4mapped_head[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int netaddr_is_v4mapped(const unsigned char a16[16])
{
    return memcmp(a16, v4mapped_head, 12) == 0;
}

int netaddr_parse(const char *s, struct netaddr *out, int unmap)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return -1;
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out->a) != 1)
        return -1;
    out->family = AF_INET6;
    if (unmap && netaddr_is_v4mapped(out->a)) {
        memmove(out->a, out->a + 12, 4);
        memset(out->a + 4, 0, 12);
        out->family = AF_INET;
    }
    return 0;
}

int netaddr_format(const struct netaddr *a, char *out, size_t outsz)
{
    char t[NETADDR_STRLEN];
    if (!inet_ntop(a->family, a->a, t, sizeof t) || strlen(t) >= outsz)
        return -1;
    strcpy(out, t);
    return 0;
}

static int in4(const unsigned char *a, unsigned n0, unsigned n1, unsigned n2, int bits)
{
    uint32_t addr = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    uint32_t net = (uint32_t)n0 << 24 | (uint32_t)n1 << 16 | (uint32_t)n2 << 8;
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (addr & mask) == (net & mask);
}

static enum netaddr_kind classify4(const unsigned char *a)
{
    if (in4(a, 10, 0, 0, 8) || in4(a, 172, 16, 0, 12) || in4(a, 192, 168, 0, 16))
        return NETADDR_PRIVATE;
    if (in4(a, 100, 64, 0, 10))
        return NETADDR_CGNAT;
    if (in4(a, 127, 0, 0, 8))
        return NETADDR_LOOPBACK;
    if (in4(a, 169, 254, 0, 16))
        return NETADDR_LINKLOCAL;
    if (in4(a, 0, 0, 0, 8))
        return NETADDR_UNSPECIFIED;
    if (in4(a, 192, 0, 2, 24) || in4(a, 198, 51, 100, 24) || in4(a, 203, 0, 113, 24) ||
        in4(a, 198, 18, 0, 15))
        return NETADDR_DOCUMENTATION;
    if (in4(a, 224, 0, 0, 4))
        return NETADDR_MULTICAST;
    if (in4(a, 240, 0, 0, 4) || in4(a, 192, 0, 0, 24))
        return NETADDR_RESERVED;
    return NETADDR_PUBLIC;
}

static enum netaddr_kind classify6(const unsigned char *a)
{
    static const unsigned char zero[16];
    if (netaddr_is_v4mapped(a))
        return classify4(a + 12);
    if (memcmp(a, zero, 15) == 0)
        return a[15] == 1 ? NETADDR_LOOPBACK : a[15] == 0 ? NETADDR_UNSPECIFIED : NETADDR_RESERVED;
    if ((a[0] & 0xfe) == 0xfc)
        return NETADDR_PRIVATE;                         /* fc00::/7 ULA */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return NETADDR_PRIVATE;                         /* fec0::/10 site-local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return NETADDR_LINKLOCAL;                       /* fe80::/10 */
    if (a[0] == 0xff)
        return NETADDR_MULTICAST;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return NETADDR_DOCUMENTATION;                   /* 2001:db8::/32 */
    if (memcmp(a, zero, 12) == 0)
        return NETADDR_RESERVED;                        /* ::/96 (v4-compatible) */
    if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0)
        return NETADDR_RESERVED;                        /* 100::/64 discard */
    if ((a[0] & 0xe0) != 0x20)
        return NETADDR_RESERVED;                        /* outside 2000::/3 */
    return NETADDR_PUBLIC;
}

enum netaddr_kind netaddr_classify(int family, const unsigned char *bytes)
{
    if (!bytes)
        return NETADDR_INVALID;
    if (family == AF_INET)
        return classify4(bytes);
    if (family == AF_INET6)
        return classify6(bytes);
    return NETADDR_INVALID;
}

enum netaddr_kind netaddr_classify_str(const char *addr)
{
    struct netaddr a;
    if (netaddr_parse(addr, &a, 0) < 0)
        return NETADDR_INVALID;
    return netaddr_classify(a.family, a.a);
}

const char *netaddr_kind_name(enum netaddr_kind k)
{
    switch (k) {
    case NETADDR_PUBLIC: return "public";
    case NETADDR_PRIVATE: return "private (RFC 1918 / ULA)";
    case NETADDR_CGNAT: return "carrier-grade NAT (100.64.0.0/10)";
    case NETADDR_LOOPBACK: return "loopback";
    case NETADDR_LINKLOCAL: return "link-local";
    case NETADDR_DOCUMENTATION: return "reserved for documentation or benchmarking";
    case NETADDR_MULTICAST: return "multicast";
    case NETADDR_UNSPECIFIED: return "unspecified (this network)";
    case NETADDR_RESERVED: return "reserved (special use)";
    default: return "not an address";
    }
}

int netaddr_link_usable(int family, const unsigned char *bytes)
{
    switch (netaddr_classify(family, bytes)) {
    case NETADDR_LOOPBACK:
    case NETADDR_LINKLOCAL:
    case NETADDR_MULTICAST:
    case NETADDR_UNSPECIFIED:
    case NETADDR_INVALID:
        return 0;
    case NETADDR_RESERVED:
        /* 240.0.0.0/4 and broadcast are unusable; IPv6 outside 2000::/3
         * may still be an operator's assignment. */
        return family == AF_INET6 || bytes[0] < 240;
    default:
        return 1;
    }
}

int netaddr_rank(int family, const unsigned char *bytes, uint32_t ifa_flags)
{
    enum netaddr_kind k = netaddr_classify(family, bytes);
    int r;
    switch (k) {
    case NETADDR_PUBLIC: r = 0; break;
    case NETADDR_PRIVATE: case NETADDR_CGNAT: case NETADDR_DOCUMENTATION: case NETADDR_RESERVED:
        r = 16; break;
    case NETADDR_LINKLOCAL: r = 32; break;
    default: r = 48; break;
    }
    if (ifa_flags & IFA_F_SECONDARY)            /* == IFA_F_TEMPORARY for IPv6 */
        r += 1;
    if (ifa_flags & IFA_F_DEPRECATED)
        r += 4;
    if (ifa_flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
        r += 8;
    return r;
}

int netaddr_prefix_parse(const char *s, struct netaddr_prefix *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return -1;
    char buf[NETADDR_STRLEN + 8];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (al == 0 || al >= NETADDR_STRLEN)
        return -1;
    memcpy(buf, s, al);
    buf[al] = '\0';
    struct netaddr a;
    if (netaddr_parse(buf, &a, 0) < 0)
        return -1;
    int max = a.family == AF_INET ? 32 : 128, len = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return -1;
        len = 0;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return -1;
            len = len * 10 + (*p - '0');
        }
        if (len > max)
            return -1;
    }
    if (a.family == AF_INET6 && netaddr_is_v4mapped(a.a) && len >= 96) {
        memmove(a.a, a.a + 12, 4);
        memset(a.a + 4, 0, 12);
        a.family = AF_INET;
        len -= 96;
    }
    out->addr = a;
    out->len = len;
    return 0;
}

int netaddr_prefix_match(const struct netaddr_prefix *p, const struct netaddr *a)
{
    struct netaddr x = *a;
    /* a v4-mapped address counts as IPv4 for an IPv4 prefix; an IPv6
     * prefix (e.g. ::ffff:0:0/96 itself, or shorter) sees the raw bytes */
    if (p->addr.family == AF_INET && x.family == AF_INET6 && netaddr_is_v4mapped(x.a)) {
        memmove(x.a, x.a + 12, 4);
        memset(x.a + 4, 0, 12);
        x.family = AF_INET;
    }
    if (x.family != p->addr.family)
        return 0;
    int full = p->len / 8, rest = p->len % 8;
    if (memcmp(x.a, p->addr.a, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char m = (unsigned char)(0xff << (8 - rest));
        if ((x.a[full] & m) != (p->addr.a[full] & m))
            return 0;
    }
    return 1;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out,
                          unsigned *port)
{
    memset(out, 0, sizeof *out);
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        out->family = AF_INET;
        memcpy(out->a, &s4->sin_addr, 4);
        if (port)
            *port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        out->family = AF_INET6;
        memcpy(out->a, &s6->sin6_addr, 16);
        if (netaddr_is_v4mapped(out->a)) {
            memmove(out->a, out->a + 12, 4);
            memset(out->a + 4, 0, 12);
            out->family = AF_INET;
        }
        if (port)
            *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -1;
}

const char *netaddr_dns_name_invalid(const char *name, unsigned flags)
{
    if (!name)
        return "empty name";
    size_t n = strlen(name);
    if ((flags & NETADDR_DNS_TRAILING_DOT) && n > 1 && name[n - 1] == '.')
        n--;
    if (n == 0)
        return "empty name";
    if (n > 253)
        return "name longer than 253 characters";
    if ((flags & NETADDR_DNS_NEED_DOT) && !memchr(name, '.', n))
        return "not a fully qualified name (no dot)";
    size_t lab = 0;
    for (size_t i = 0; ; i++) {
        char c = i < n ? name[i] : '\0';
        if (c == '.' || c == '\0') {
            if (lab == 0)
                return "empty label";
            if (lab > 63)
                return "label longer than 63 characters";
            if (name[i - 1] == '-')
                return "label ends with '-'";
            if (c == '\0')
                break;
            lab = 0;
            continue;
        }
        if (lab == 0 && c == '-')
            return "label starts with '-'";
        if (c == '*' && lab == 0 && i == 0 && (flags & NETADDR_DNS_WILDCARD) &&
            (i + 1 == n || name[i + 1] == '.')) {
            lab++;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return "bad character (letters, digits, '-' and '_' only)";
        lab++;
    }
    return NULL;
}

int netaddr_dns_name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}
