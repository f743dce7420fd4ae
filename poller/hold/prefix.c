/* SPDX-License-Identifier: ISC */
/* prefix.c — the hold's address filter: hold.source / hold.local-address
 * parsing and matching (pure), and the config check. */
#include "hold/hold.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int hold_source_parse(const char *s, struct hold_prefix *out, int max, int *any, int *bad)
{
    *any = 0;
    *bad = -1;
    if (!s)
        return 0;
    int n = 0, item = 0;
    const char *p = s;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ", \t");
        char tok[INET6_ADDRSTRLEN + 8];
        if (len >= sizeof tok) {
            *bad = item;
            return -1;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        p += len;
        if (strcmp(tok, "any") == 0) {
            *any = 1;
        } else {
            struct hold_prefix pf;
            if (hold_prefix_parse(tok, &pf) < 0) {
                *bad = item;
                return -1;
            }
            if (n < max)
                out[n++] = pf;
            else {
                *bad = item;      /* more than we keep: refuse, do not drop silently */
                return -1;
            }
        }
        item++;
    }
    if (*any && n > 0) {          /* "any" with addresses: ambiguous */
        *bad = 0;
        return -1;
    }
    return n;
}

/* Is a an address of this host?  bind() to it (port 0) says so without
 * sending anything: EADDRNOTAVAIL means no interface has it. */
static int is_local_address(const struct hold_prefix *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;                 /* cannot tell: do not refuse */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (a->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->addr, 4);
        sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->addr, 16);
        sl = sizeof *s6;
    }
    int r = bind(fd, (struct sockaddr *)&ss, sl);
    int e = errno;
    close(fd);
    return r == 0 || e != EADDRNOTAVAIL;
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
    if (h->local_address && !is_local_address(&p)) {
        snprintf(err, errsize, "hold: local-address = \"%s\" is not an address of this host, "
                 "so no delivery to it could ever be seen; set it to the address the local "
                 "MTA listens on (see `ip addr`), or remove it to watch every address",
                 h->local_address);
        return -1;
    }
    struct hold_prefix src[HOLD_MAX_SOURCES];
    int any, bad;
    if (h->source && hold_source_parse(h->source, src, HOLD_MAX_SOURCES, &any, &bad) < 0) {
        snprintf(err, errsize, "hold: source = \"%s\": item %d is not an address or "
                 "address/prefix (e.g. \"192.0.2.10, 2001:db8::/32\", at most %d), or \"any\" "
                 "mixed with addresses", h->source, bad + 1, HOLD_MAX_SOURCES);
        return -1;
    }
    return 0;
}
