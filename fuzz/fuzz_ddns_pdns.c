/* SPDX-License-Identifier: ISC */
/* fuzz_ddns_pdns.c — PowerDNS API error bodies (ddns_parse_pdns_error,
 * json-c).  First byte: output size 1..256; the rest is the body.
 * Invariant: output terminated within outsz and printable. */
#include "fuzz.h"
#include "ddns/ddns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > DDNS_BODY_MAX + 16)
        return 0;
    size_t outsz = 1 + data[0];
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    char *out = malloc(outsz);
    if (!body || !out)
        abort();
    memcpy(body, data + 1, len);
    int r = ddns_parse_pdns_error(body, len, out, outsz);
    FZ_CHECK(r == 0 || r == -1);
    FZ_CHECK(strnlen(out, outsz) < outsz);
    FZ_CHECK(fz_is_printable_text(out, strlen(out)) && !strchr(out, '\n'));
    free(out);
    free(body);
    return 0;
}
