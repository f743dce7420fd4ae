/* SPDX-License-Identifier: ISC */
/* fuzz_caps.c — EHLO capability parser (caps_parse, caps_has_mech).
 * Input: first byte = mode, the rest = lines separated by LF.  Mode bit 0
 * set: lines are fed as they are (the reply reader's checks first); clear:
 * each line gets a "250-" prefix ("250 " for the last), so the fuzzer
 * spends its time on the keywords.  Invariants: mechanisms bounded,
 * upper-case, RFC 4422 syntax, no duplicates; SIZE never negative except -1. */
#include "fuzz.h"
#include "smtp/reply.h"
#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int raw = data[0] & 1;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    struct smtp_reply r;
    reply_init(&r);
    char line[REPLY_MAX_LINE + 8];
    enum reply_status st = REPLY_MORE;
    while (p < end && st == REPLY_MORE) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (raw) {
            st = reply_feed(&r, p, n, NULL);
        } else {
            if (n > REPLY_MAX_LINE - 6)
                n = REPLY_MAX_LINE - 6;
            memcpy(line, nl ? "250-" : "250 ", 4);
            memcpy(line + 4, p, n);
            st = reply_feed(&r, line, n + 4, NULL);
        }
        p = nl ? nl + 1 : end;
    }
    struct smtp_caps c;
    memset(&c, 0xa5, sizeof c);
    int rc = caps_parse(&r, &c);
    if (!r.complete || r.code != 250) {
        FZ_CHECK(rc == -1);
        FZ_CHECK(c.nmechs == 0 && c.size == -1 && !c.starttls && !c.etrn && !c.auth);
        return 0;
    }
    FZ_CHECK(rc == 0);
    FZ_CHECK(c.nmechs >= 0 && c.nmechs <= CAPS_MAX_MECHS);
    FZ_CHECK(c.size >= -1);
    if (c.nmechs > 0)
        FZ_CHECK(c.auth);
    for (int i = 0; i < c.nmechs; i++) {
        size_t l = strnlen(c.mechs[i], sizeof c.mechs[i]);
        FZ_CHECK(l > 0 && l <= 20);
        for (size_t k = 0; k < l; k++) {
            char ch = c.mechs[i][k];
            FZ_CHECK(isupper((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '-' || ch == '_');
        }
        FZ_CHECK(caps_has_mech(&c, c.mechs[i]));
        for (int j = 0; j < i; j++)
            FZ_CHECK(strcmp(c.mechs[i], c.mechs[j]) != 0);
    }
    FZ_CHECK(!caps_has_mech(&c, ""));
    /* a second parse of the same reply gives the same answer */
    struct smtp_caps c2;
    caps_parse(&r, &c2);
    FZ_CHECK(c2.nmechs == c.nmechs && c2.size == c.size && c2.starttls == c.starttls &&
             c2.etrn == c.etrn && c2.auth == c.auth);
    return 0;
}
