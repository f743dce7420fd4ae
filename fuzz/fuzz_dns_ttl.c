/* SPDX-License-Identifier: ISC */
/* fuzz_dns_ttl.c — the TTL of a DNS answer (addrcache_answer_ttl), read
 * from the resolver's reply to the address cache's res_query: bytes from
 * the network.  Input: the DNS message (heap copy of its exact size, so
 * ASan sees any overread).  Invariants: -1 or 0..2^31-1; -1 for anything
 * shorter than a header, for a query, and for an error rcode; a prefix of
 * a message never has a TTL its whole would not allow to be read. */
#include "fuzz.h"
#include "smtp/addrcache.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    unsigned char *m = calloc(1, size ? size : 1);
    FZ_CHECK(m != NULL);
    if (size)
        memcpy(m, data, size);
    int t = addrcache_answer_ttl(m, size);
    FZ_CHECK(t >= -1 && t <= INT32_MAX);
    if (size < 12 || !(m[2] & 0x80) || (m[3] & 0x0f) != 0 || size > 65535)
        FZ_CHECK(t == -1);
    free(m);
    return 0;
}
