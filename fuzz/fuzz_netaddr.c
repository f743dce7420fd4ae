/* SPDX-License-Identifier: ISC */
/* fuzz_netaddr.c — core/netaddr: address and prefix parsing, the
 * classifier, ranking and the DNS-name check on arbitrary text.  First byte:
 * selects the flags of the DNS-name check; the rest is the text.
 * Invariants: a parsed address formats back to text that parses to the
 * same bytes; a parsed prefix has a length within its family and matches
 * its own address; the classifier and ranker never fail on parsed input;
 * the DNS-name check returns NULL or a message, and NULL only for names
 * of at most 253 characters (plus a trailing dot) made of allowed bytes. */
#include "fuzz.h"
#include "core/netaddr.h"
#include <ctype.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    unsigned flags = data[0] & 7u;
    char *s = fz_strdup(data + 1, size - 1);
    struct netaddr a, b;
    if (netaddr_parse(s, &a, data[0] & 8) == 0) {
        char t[NETADDR_STRLEN];
        FZ_CHECK(a.family == AF_INET || a.family == AF_INET6);
        FZ_CHECK(netaddr_format(&a, t, sizeof t) == 0);
        FZ_CHECK(netaddr_parse(t, &b, 0) == 0);
        FZ_CHECK(b.family == a.family && memcmp(a.a, b.a, 16) == 0);
        enum netaddr_kind k = netaddr_classify(a.family, a.a);
        FZ_CHECK(k != NETADDR_INVALID);
        FZ_CHECK(netaddr_kind_name(k) != NULL);
        FZ_CHECK(netaddr_rank(a.family, a.a, (uint32_t)data[0] << 4) >= 0);
        (void)netaddr_link_usable(a.family, a.a);
    } else {
        FZ_CHECK(netaddr_classify_str(s) == NETADDR_INVALID);
    }
    struct netaddr_prefix p;
    if (netaddr_prefix_parse(s, &p) == 0) {
        FZ_CHECK(p.len >= 0 && p.len <= (p.addr.family == AF_INET ? 32 : 128));
        FZ_CHECK(netaddr_prefix_match(&p, &p.addr));
    }
    const char *why = netaddr_dns_name_invalid(s, flags);
    if (!why) {
        size_t n = strlen(s);
        FZ_CHECK(n >= 1 && n <= 254);
        for (size_t i = 0; i < n; i++)
            FZ_CHECK(isalnum((unsigned char)s[i]) || strchr("-_.*", s[i]));
    } else {
        FZ_CHECK(why[0] != '\0');
    }
    free(s);
    return 0;
}
