/* SPDX-License-Identifier: ISC */
/* fuzz_ddns_dyndns2.c — dyndns2 update answers (ddns_parse_dyndns2) and
 * the code tables.  The first byte picks `max` (1..DDNS_MAX_HOSTS); the
 * rest is the HTTP body.  Invariants: the count is -1 or 1..max, texts are
 * printable and terminated, addresses only hex/./:/, characters, every
 * code has a name, class and exit code that agree. */
#include "fuzz.h"
#include "ddns/ddns.h"
#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > DDNS_BODY_MAX)
        return 0;
    int max = 1 + data[0] % DDNS_MAX_HOSTS;
    size_t len = size - 1;
    /* exact-size copy of the body (not NUL-terminated: the parser must not
     * read past len) */
    char *body = malloc(len ? len : 1);
    if (!body)
        abort();
    memcpy(body, data + 1, len);
    struct ddns_line *out = malloc((size_t)max * sizeof *out);
    if (!out)
        abort();
    int n = ddns_parse_dyndns2(body, len, out, max);
    FZ_CHECK(n == -1 || (n >= 1 && n <= max));
    for (int i = 0; i < n; i++) {
        const struct ddns_line *l = &out[i];
        FZ_CHECK(l->code >= DDNS_GOOD && l->code <= DDNS_UNKNOWN);
        FZ_CHECK(strnlen(l->text, sizeof l->text) < sizeof l->text);
        FZ_CHECK(fz_is_printable_text(l->text, strlen(l->text)) && !strchr(l->text, '\n'));
        FZ_CHECK(strnlen(l->addr, sizeof l->addr) < sizeof l->addr);
        if (l->addr[0])
            FZ_CHECK(l->code == DDNS_GOOD || l->code == DDNS_NOCHG);
        for (const char *p = l->addr; *p; p++)
            FZ_CHECK(isxdigit((unsigned char)*p) || *p == '.' || *p == ':' || *p == ',');
        const char *name = ddns_code_name(l->code);
        FZ_CHECK(name && *name);
        enum ddns_class cls = ddns_code_class(l->code);
        int ex = ddns_code_exit(l->code);
        FZ_CHECK((cls == DDNS_CLASS_OK) == (ex == 0));
        FZ_CHECK((l->code == DDNS_GOOD || l->code == DDNS_NOCHG) == (cls == DDNS_CLASS_OK));
    }
    free(out);
    free(body);
    return 0;
}
