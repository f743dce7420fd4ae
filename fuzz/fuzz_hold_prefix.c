/* SPDX-License-Identifier: ISC */
/* fuzz_hold_prefix.c — hold.source / hold.local-address values
 * (hold_prefix_parse, hold_prefix_match).  Invariants: accepted prefixes
 * have a family and bits in range; an address always matches its own
 * prefix; a /0 matches everything of its family. */
#include "fuzz.h"
#include "hold/hold.h"
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char *s = fz_strdup(data, size);
    struct hold_prefix p;
    memset(&p, 0xa5, sizeof p);
    if (hold_prefix_parse(s, &p) == 0) {
        FZ_CHECK(p.family == AF_INET || p.family == AF_INET6);
        FZ_CHECK(p.bits >= 0 && p.bits <= (p.family == AF_INET ? 32 : 128));
        FZ_CHECK(hold_prefix_match(&p, p.family, p.addr));
        FZ_CHECK(!hold_prefix_match(&p, p.family == AF_INET ? AF_INET6 : AF_INET, p.addr));
        struct hold_prefix all = p;
        all.bits = 0;
        uint8_t other[16];
        memset(other, 0x5a, sizeof other);
        FZ_CHECK(hold_prefix_match(&all, p.family, other));
    }
    struct hold_prefix any = { 0 };
    FZ_CHECK(hold_prefix_match(&any, AF_INET, (const uint8_t *)"\1\2\3\4"));
    free(s);
    return 0;
}
