/* SPDX-License-Identifier: ISC */
/* prefix.c — the hold's address filter: hold.source / hold.local-address
 * parsing and matching (pure), and the config check. */
#include "hold/hold.h"
#include "core/netaddr.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* hold_prefix <-> core/netaddr's prefix (one parser and matcher for all) */
static struct netaddr_prefix to_netaddr(const struct hold_prefix *p)
{
    struct netaddr_prefix n = { .addr.family = p->family, .len = p->bits };
    memcpy(n.addr.a, p->addr, sizeof n.addr.a);
    return n;
}

int hold_prefix_parse(const char *s, struct hold_prefix *p)
{
    memset(p, 0, sizeof *p);
    if (!s || !*s)
        return -1;
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlcpy_chk(buf, s, sizeof buf) < 0)
        return -1;
    /* "[addr6]" and "[addr6]/len" are accepted too, as people write them
     * in mail configs. */
    char *a = buf;
    if (a[0] == '[') {
        char *close = strchr(a, ']');
        if (!close || (close[1] && close[1] != '/'))
            return -1;
        memmove(close, close + 1, strlen(close + 1) + 1);
        a++;
    }
    struct netaddr_prefix n;
    if (netaddr_prefix_parse(a, &n) < 0)
        return -1;
    p->family = n.addr.family;
    memcpy(p->addr, n.addr.a, sizeof p->addr);
    p->bits = n.len;
    return 0;
}

int hold_prefix_match(const struct hold_prefix *p, int family, const uint8_t *addr)
{
    if (p->family == 0)
        return 1;
    if (family != AF_INET && family != AF_INET6)
        return 0;
    struct netaddr_prefix n = to_netaddr(p);
    struct netaddr a = { .family = family };
    memcpy(a.a, addr, family == AF_INET ? 4 : 16);
    return netaddr_prefix_match(&n, &a);
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
