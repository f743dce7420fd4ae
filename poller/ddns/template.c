/* SPDX-License-Identifier: ISC */
/* template.c — the templates of protocol "custom" and the bounded string
 * builder the providers use for URLs and bodies. */
#include "ddns/internal.h"
#include "core/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static const char *tmpl_names[] = { "hostname", "ip", "ip4", "ip6", "type", "secret", "zone" };

static const char *var_value(const struct ddns_vars *v, size_t idx)
{
    const char *s = NULL;
    switch (idx) {
    case 0: s = v->hostname; break;
    case 1: s = v->ip; break;
    case 2: s = v->ip4; break;
    case 3: s = v->ip6; break;
    case 4: s = v->type; break;
    case 5: s = v->secret; break;
    case 6: s = v->zone; break;
    }
    return s ? s : "";
}

/* At tmpl (a '{'): length of a "{word}" (word: [a-z0-9_]{1,31}), 0 if none. */
static size_t placeholder_len(const char *t)
{
    size_t i = 1;
    while (i < 33 && (islower((unsigned char)t[i]) || isdigit((unsigned char)t[i]) || t[i] == '_'))
        i++;
    if (i == 1 || t[i] != '}')
        return 0;
    return i + 1;
}

static int placeholder_index(const char *t, size_t plen)
{
    for (size_t k = 0; k < ETP_ARRAY_LEN(tmpl_names); k++)
        if (strlen(tmpl_names[k]) == plen - 2 && memcmp(tmpl_names[k], t + 1, plen - 2) == 0)
            return (int)k;
    return -1;
}

void sb_addn(struct sbuf *b, const char *s, size_t n)
{
    if (b->overflow)
        return;
    if (b->len + n >= b->size) {
        if (!b->heap || b->len + n >= b->max) {
            b->overflow = 1;
            return;
        }
        size_t ns = b->size ? b->size : 256;
        while (ns <= b->len + n)
            ns *= 2;
        if (ns > b->max)
            ns = b->max;
        char *np = malloc(ns);
        if (!np) {
            b->overflow = 1;
            return;
        }
        if (b->p) {
            memcpy(np, b->p, b->len + 1);
            secure_wipe(b->p, b->size);
            free(b->p);
        } else {
            np[0] = '\0';
        }
        b->p = np;
        b->size = ns;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_add(struct sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

void sb_free(struct sbuf *b)
{
    if (b->heap && b->p) {
        secure_wipe(b->p, b->size);
        free(b->p);
    }
    b->p = NULL;
    b->size = b->len = 0;
}

int put_escaped(struct sbuf *b, const char *val, enum ddns_esc esc)
{
    switch (esc) {
    case DDNS_ESC_URL: {
        char *e = curl_easy_escape(NULL, val, (int)strlen(val));
        if (!e)
            return -1;
        sb_add(b, e);
        secure_wipe(e, strlen(e));
        curl_free(e);
        return 0;
    }
    case DDNS_ESC_JSON:
        for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
            char tmp[8];
            if (*p == '"' || *p == '\\') {
                tmp[0] = '\\';
                tmp[1] = (char)*p;
                sb_addn(b, tmp, 2);
            } else if (*p < 0x20 || *p == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\u%04x", *p);
                sb_add(b, tmp);
            } else {
                sb_addn(b, (const char *)p, 1);
            }
        }
        return 0;
    case DDNS_ESC_HEADER:
        for (const unsigned char *p = (const unsigned char *)val; *p; p++)
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                return -1;
        sb_add(b, val);
        return 0;
    case DDNS_ESC_NONE:
    default:
        sb_add(b, val);
        return 0;
    }
}

int ddns_expand(const char *tmpl, const struct ddns_vars *v, enum ddns_esc esc,
                char *out, size_t outsz)
{
    if (!tmpl || !out || outsz == 0)
        return -1;
    static const struct ddns_vars none;
    if (!v)
        v = &none;
    struct sbuf b = { .p = out, .size = outsz };
    out[0] = '\0';
    for (const char *t = tmpl; *t; ) {
        if (*t == '{') {
            size_t pl = placeholder_len(t);
            int idx = pl ? placeholder_index(t, pl) : -1;
            if (idx >= 0) {
                if (put_escaped(&b, var_value(v, (size_t)idx), esc) < 0) {
                    secure_wipe(out, outsz);
                    out[0] = '\0';
                    return -1;
                }
                t += pl;
                continue;
            }
        }
        if (esc == DDNS_ESC_HEADER && (((unsigned char)*t < 0x20 && *t != '\t') || *t == 0x7f)) {
            secure_wipe(out, outsz);
            out[0] = '\0';
            return -1;
        }
        sb_addn(&b, t, 1);
        t++;
    }
    if (b.overflow) {
        secure_wipe(out, outsz);
        out[0] = '\0';
        return -1;
    }
    return (int)b.len;
}

int ddns_template_check(const char *tmpl, char *bad, size_t badsz)
{
    if (bad && badsz)
        bad[0] = '\0';
    if (!tmpl)
        return 0;
    for (const char *t = tmpl; *t; t++) {
        if (*t != '{')
            continue;
        size_t pl = placeholder_len(t);
        if (pl && placeholder_index(t, pl) < 0) {
            if (bad && badsz)
                snprintf(bad, badsz, "%.*s", (int)pl, t);
            return -1;
        }
    }
    return 0;
}

