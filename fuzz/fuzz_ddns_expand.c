/* SPDX-License-Identifier: ISC */
/* fuzz_ddns_expand.c — "custom" protocol templates (ddns_expand,
 * ddns_template_check): the template is a config value, the values include
 * addresses from the outside (check-IP answers) and the secret.
 * Input: byte 0 = escaping (bits 0-1) and output size (bits 2-7, *16);
 * then NUL-separated: template, hostname, ip, ip4, ip6, type, secret, zone.
 * Invariants: -1 or the exact length of a terminated output within outsz;
 * header output has no control character but TAB; a failed expansion
 * leaves "" (no half-written secret); template_check names the bad
 * placeholder, bounded. */
#include "fuzz.h"
#include "ddns/ddns.h"

static const char *field(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *s = *p;
    const char *z = memchr(s, '\0', (size_t)(end - s));
    *p = z ? z + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    enum ddns_esc esc = (enum ddns_esc)(data[0] & 3);
    size_t outsz = (size_t)(data[0] >> 2) * 16 + 1;
    char *buf = fz_strdup(data + 1, size - 1);   /* every field NUL-terminated */
    const char *p = buf, *end = buf + size - 1;
    const char *tmpl = field(&p, end);
    if (!tmpl)
        tmpl = "";
    struct ddns_vars v = { 0 };
    v.hostname = field(&p, end);
    v.ip = field(&p, end);
    v.ip4 = field(&p, end);
    v.ip6 = field(&p, end);
    v.type = field(&p, end);
    v.secret = field(&p, end);
    v.zone = field(&p, end);
    char *out = malloc(outsz);
    if (!out)
        abort();
    int n = ddns_expand(tmpl, &v, esc, out, outsz);
    FZ_CHECK(n >= -1);
    FZ_CHECK(strnlen(out, outsz) < outsz);
    if (n < 0) {
        FZ_CHECK(out[0] == '\0');
    } else {
        FZ_CHECK((size_t)n == strlen(out));
        if (esc == DDNS_ESC_HEADER)
            for (const char *q = out; *q; q++)
                FZ_CHECK(!(((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f));
    }
    char bad[16];
    int tc = ddns_template_check(tmpl, bad, sizeof bad);
    FZ_CHECK(tc == 0 || tc == -1);
    FZ_CHECK(strnlen(bad, sizeof bad) < sizeof bad);
    if (tc == 0)
        FZ_CHECK(bad[0] == '\0');
    else
        FZ_CHECK(bad[0] == '{');
    /* NULL vars are "" */
    char small[8];
    int n2 = ddns_expand(tmpl, NULL, esc, small, sizeof small);
    FZ_CHECK(n2 >= -1 && strnlen(small, sizeof small) < sizeof small);
    free(out);
    free(buf);
    return 0;
}
