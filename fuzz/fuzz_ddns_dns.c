/* SPDX-License-Identifier: ISC */
/* fuzz_ddns_dns.c — DNS answers from the wait-server (ddns_parse_dns_answer:
 * header, question skip, CNAME chains, A/AAAA records).  Input: byte 0 bit 0
 * picks A or AAAA, bits 1-4 `max` (1..16); byte 1 = qname length L, then L
 * bytes of qname, then the message.  Invariants: count -1..max; every
 * stored record is an address of the asked type. */
#include "fuzz.h"
#include "ddns/ddns.h"
#include <arpa/inet.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 70000)
        return 0;
    int qtype = (data[0] & 1) ? 28 : 1;
    int max = 1 + ((data[0] >> 1) & 15);
    size_t ql = data[1];
    if (size - 2 < ql)
        return 0;
    char *qname = fz_strdup(data + 2, ql);
    size_t len = size - 2 - ql;
    unsigned char *msg = malloc(len ? len : 1);
    char (*out)[DDNS_ADDR_MAX] = malloc((size_t)max * sizeof *out);
    if (!msg || !out)
        abort();
    memcpy(msg, data + 2 + ql, len);
    int n = ddns_parse_dns_answer(msg, len, qname, qtype, out, max);
    FZ_CHECK(n >= -1 && n <= max);
    for (int i = 0; i < n; i++) {
        unsigned char a[16];
        FZ_CHECK(strnlen(out[i], DDNS_ADDR_MAX) < DDNS_ADDR_MAX);
        FZ_CHECK(inet_pton(qtype == 1 ? AF_INET : AF_INET6, out[i], a) == 1);
    }
    free(out);
    free(msg);
    free(qname);
    return 0;
}
