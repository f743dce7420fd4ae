/* SPDX-License-Identifier: ISC */
/* fuzz_ddns_checkip.c — check-IP answers (ddns_parse_checkip) and address
 * classification (netaddr_classify_str).  First byte: family (bits 0-1: 0
 * any, 1 IPv4, 2 IPv6) and output size (bits 2-7); the rest is the body.
 * Invariants: a found address is canonical text of the asked family, fits
 * outsz, an IPv4 result occurs verbatim in the body, no unspecified or
 * v4-mapped IPv6 result; classification never says "invalid" for it. */
#include "fuzz.h"
#include "ddns/ddns.h"
#include "core/netaddr.h"
#include <arpa/inet.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > DDNS_BODY_MAX)
        return 0;
    static const int fams[4] = { AF_UNSPEC, AF_INET, AF_INET6, AF_UNSPEC };
    int fam = fams[data[0] & 3];
    size_t outsz = (data[0] >> 2) ? (size_t)(data[0] >> 2) : 64;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    char *out = malloc(outsz);
    if (!body || !out)
        abort();
    memcpy(body, data + 1, len);
    int r = ddns_parse_checkip(body, len, fam, out, outsz);
    FZ_CHECK(r == 0 || r == -1 || r == -2);
    FZ_CHECK(strnlen(out, outsz) < outsz);
    if (r == 0) {
        unsigned char a[16];
        char canon[INET6_ADDRSTRLEN];
        int is4 = inet_pton(AF_INET, out, a) == 1;
        int is6 = !is4 && inet_pton(AF_INET6, out, a) == 1;
        FZ_CHECK(is4 || is6);
        if (fam == AF_INET)
            FZ_CHECK(is4);
        if (fam == AF_INET6)
            FZ_CHECK(is6);
        FZ_CHECK(inet_ntop(is4 ? AF_INET : AF_INET6, a, canon, sizeof canon));
        FZ_CHECK(strcmp(canon, out) == 0);
        if (is4)
            FZ_CHECK(memmem(body, len, out, strlen(out)) != NULL);
        if (is6) {
            static const unsigned char zero[16];
            static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
            FZ_CHECK(memcmp(a, zero, 16) != 0 && memcmp(a, mapped, 12) != 0);
        }
        enum netaddr_kind k = netaddr_classify_str(out);
        FZ_CHECK(k != NETADDR_INVALID);
        FZ_CHECK(netaddr_kind_name(k) != NULL);
    }
    /* the classifier on the raw body as a string */
    char *s = fz_strdup(data + 1, len > 100 ? 100 : len);
    enum netaddr_kind k = netaddr_classify_str(s);
    FZ_CHECK(k >= NETADDR_PUBLIC && k <= NETADDR_INVALID);
    free(s);
    free(out);
    free(body);
    return 0;
}
