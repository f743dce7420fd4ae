/* SPDX-License-Identifier: ISC */
/* fuzz_etchosts.c — the /etc/hosts reader (etchosts_lookup) and the
 * default EHLO choice over it (ehlo_choose).  /etc/hosts is a system file,
 * but images, DHCP hooks and ad-block lists write it.  Input: the first
 * line is the name to look up (also the host name given to ehlo_choose
 * and, after a '|', the ddns hostname), the rest the hosts(5) text (not
 * NUL-terminated: exactly its bytes).  Invariants: the canonical name is
 * terminated, empty when nothing was found, else a DNS name without a
 * trailing dot; the EHLO name is terminated, non-empty, printable ASCII
 * without spaces or a '|', and comes from the source ehlo_choose names. */
#include "fuzz.h"
#include "conf/ehlo.h"
#include "core/etchosts.h"
#include "core/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - data) : size;
    if (hl > 300)
        return 0;
    char head[301];
    memcpy(head, data, hl);
    head[hl] = '\0';
    if (strlen(head) != hl)
        return 0;                       /* a NUL in the name line */
    char *ddns = strchr(head, '|');
    if (ddns)
        *ddns++ = '\0';
    const char *text = nl ? (const char *)nl + 1 : "";
    size_t tl = nl ? size - hl - 1 : 0;
    /* the text on the heap at its exact size: ASan sees any overread */
    char *copy = malloc(tl ? tl : 1);
    FZ_CHECK(copy != NULL);
    if (tl)
        memcpy(copy, text, tl);

    char canon[256];
    memset(canon, 0xa5, sizeof canon);
    int r = etchosts_lookup(copy, tl, head, canon, sizeof canon);
    FZ_CHECK(r == 0 || r == 1);
    FZ_CHECK(memchr(canon, '\0', sizeof canon) != NULL);
    if (!r)
        FZ_CHECK(canon[0] == '\0');
    if (canon[0]) {
        FZ_CHECK(netaddr_dns_name_invalid(canon, 0) == NULL);
        FZ_CHECK(canon[strlen(canon) - 1] != '.');
    }
    char small[8];
    (void)etchosts_lookup(copy, tl, head, small, sizeof small);
    FZ_CHECK(memchr(small, '\0', sizeof small) != NULL);

    char out[256];
    memset(out, 0xa5, sizeof out);
    enum ehlo_source src = ehlo_choose(head, copy, tl, ddns, out, sizeof out);
    FZ_CHECK(memchr(out, '\0', sizeof out) != NULL);
    FZ_CHECK(out[0] != '\0');
    if (src == EHLO_FROM_HOSTNAME)
        FZ_CHECK(strcmp(out, head) == 0 && strchr(out, '.'));
    else if (src == EHLO_FROM_HOSTS || src == EHLO_FROM_DDNS)
        FZ_CHECK(strchr(out, '.') && netaddr_dns_name_invalid(out, 0) == NULL);
    else
        FZ_CHECK(src == EHLO_FROM_BARE && (strcmp(out, head) == 0 || strcmp(out, "localhost") == 0));
    if (src != EHLO_FROM_HOSTNAME && src != EHLO_FROM_BARE)
        for (const char *p = out; *p; p++)
            FZ_CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && *p != '|');
    free(copy);
    return 0;
}
