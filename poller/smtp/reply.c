/* SPDX-License-Identifier: ISC */
/* reply.c — SMTP reply and EHLO capability parsing (pure, bounded). */
#include "conf/config.h"
#include "smtp/reply.h"
#include "core/util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void caps_line(struct smtp_caps *c, const char *p, size_t len);

void reply_init(struct smtp_reply *r)
{
    memset(r, 0, sizeof *r);
    r->text[0] = '\0';
    r->caps.size = -1;
}

static int is_enh(const char *p, size_t len, size_t *used)
{
    /* RFC 3463: class "." subject "." detail; class 2/4/5, 1-3 / 1-3 digits */
    size_t i = 0;
    if (len < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    i = 2;
    size_t d = 0;
    while (i < len && isdigit((unsigned char)p[i]) && d < 3)
        i++, d++;
    if (d == 0 || i >= len || p[i] != '.')
        return 0;
    i++;
    d = 0;
    while (i < len && isdigit((unsigned char)p[i]) && d < 3)
        i++, d++;
    if (d == 0)
        return 0;
    if (i < len && p[i] != ' ')
        return 0;
    *used = i;
    return 1;
}

enum reply_status reply_feed(struct smtp_reply *r, const char *line, size_t len,
                             const char **reason)
{
    const char *dummy;
    if (!reason)
        reason = &dummy;
    *reason = NULL;
    if (r->complete) {
        *reason = "reply already complete";
        return REPLY_BAD;
    }
    if (len + 2 > REPLY_MAX_LINE) {
        *reason = "reply line longer than 512 octets";
        return REPLY_TOOLONG;
    }
    if (r->nlines >= REPLY_MAX_LINES) {
        *reason = "reply has more than 100 lines";
        return REPLY_TOOMANY;
    }
    if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2])) {
        *reason = "reply line does not start with a 3-digit code";
        return REPLY_BAD;
    }
    if (line[0] < '2' || line[0] > '5' || line[1] > '5') {
        *reason = "reply code out of range";
        return REPLY_BAD;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    int last;
    if (len == 3)
        last = 1;                      /* "250" alone: allowed, last line */
    else if (line[3] == ' ')
        last = 1;
    else if (line[3] == '-')
        last = 0;
    else {
        *reason = "reply code not followed by space or '-'";
        return REPLY_BAD;
    }
    if (r->nlines > 0 && code != r->code) {
        *reason = "multi-line reply with differing codes";
        return REPLY_BAD;
    }
    if (memchr(line, '\0', len)) {
        *reason = "NUL byte in reply";
        return REPLY_BAD;
    }
    r->code = code;
    const char *txt = len > 4 ? line + 4 : line + len;
    size_t tlen = len > 4 ? len - 4 : 0;
    if (r->nlines == 0) {
        size_t used;
        if (is_enh(txt, tlen, &used) && used < sizeof r->enh) {
            memcpy(r->enh, txt, used);
            r->enh[used] = '\0';
        }
    }
    if (r->nlines > 0 && code == 250)
        caps_line(&r->caps, txt, tlen);
    /* append printable text, '\n' between lines, bounded */
    if (r->nlines > 0 && r->textlen + 1 < sizeof r->text) {
        r->text[r->textlen++] = '\n';
        r->text[r->textlen] = '\0';
    }
    if (r->textlen + 1 < sizeof r->text) {
        printable(r->text + r->textlen, sizeof r->text - r->textlen, txt, tlen);
        r->textlen += strlen(r->text + r->textlen);
    }
    r->nlines++;
    if (last) {
        r->complete = 1;
        return REPLY_DONE;
    }
    return REPLY_MORE;
}

enum reply_status reply_parse_buf(struct smtp_reply *r, const char *buf, size_t len,
                                  size_t *used, const char **reason)
{
    size_t off = 0;
    enum reply_status st = REPLY_MORE;
    while (off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        if (!nl) {
            if (len - off + 2 > REPLY_MAX_LINE) {
                if (reason)
                    *reason = "reply line longer than 512 octets";
                st = REPLY_TOOLONG;
            }
            break;
        }
        size_t ll = (size_t)(nl - (buf + off));
        if (ll > 0 && buf[off + ll - 1] == '\r')
            ll--;
        st = reply_feed(r, buf + off, ll, reason);
        off = (size_t)(nl - buf) + 1;
        if (st != REPLY_MORE)
            break;
    }
    if (used)
        *used = off;
    return st;
}

const char *reply_first_line(const struct smtp_reply *r, char *out, size_t outsize)
{
    const char *nl = strchr(r->text, '\n');
    size_t n = nl ? (size_t)(nl - r->text) : r->textlen;
    if (outsize == 0)
        return out;
    if (n >= outsize)
        n = outsize - 1;
    memcpy(out, r->text, n);
    out[n] = '\0';
    return out;
}

static int kw_eq(const char *p, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    return n == k && strncasecmp(p, kw, k) == 0;
}

static void add_mechs(struct smtp_caps *c, const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '='))
            p++;
        const char *s = p;
        while (p < end && *p != ' ')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || n >= sizeof c->mechs[0] || c->nmechs >= CAPS_MAX_MECHS)
            continue;
        /* RFC 4422 mechanism names: A-Z 0-9 - _ , 1..20 chars */
        int ok = n <= 20;
        char m[sizeof c->mechs[0]];
        for (size_t i = 0; i < n && ok; i++) {
            m[i] = (char)toupper((unsigned char)s[i]);
            ok = isalnum((unsigned char)m[i]) || m[i] == '-' || m[i] == '_';
        }
        if (!ok)
            continue;
        m[n] = '\0';
        if (caps_has_mech(c, m))
            continue;
        memcpy(c->mechs[c->nmechs++], m, n + 1);
    }
}

/* One EHLO keyword line (without "250-"), raw bytes. */
static void caps_line(struct smtp_caps *c, const char *line, size_t len)
{
    const char *p = line, *le = line + len;
    const char *kw = p;
    while (p < le && *p != ' ' && *p != '=')
        p++;
    size_t kn = (size_t)(p - kw);
    if (kw_eq(kw, kn, "STARTTLS"))
        c->starttls = 1;
    else if (kw_eq(kw, kn, "ETRN"))
        c->etrn = 1;
    else if (kw_eq(kw, kn, "PIPELINING"))
        c->pipelining = 1;
    else if (kw_eq(kw, kn, "ENHANCEDSTATUSCODES"))
        c->enhanced = 1;
    else if (kw_eq(kw, kn, "8BITMIME"))
        c->eightbit = 1;
    else if (kw_eq(kw, kn, "CHUNKING"))
        c->chunking = 1;
    else if (kw_eq(kw, kn, "AUTH")) {
        c->auth = 1;
        add_mechs(c, p, le);
    } else if (kw_eq(kw, kn, "SIZE")) {
        while (p < le && *p == ' ')
            p++;
        char num[24];
        size_t n = (size_t)(le - p);
        if (n > 0 && n < sizeof num) {
            memcpy(num, p, n);
            num[n] = '\0';
            char *e;
            long v = strtol(num, &e, 10);
            if (*e == '\0' && v >= 0)
                c->size = v;
        }
    }
}

int caps_parse(const struct smtp_reply *r, struct smtp_caps *c)
{
    memset(c, 0, sizeof *c);
    c->size = -1;
    if (!r->complete || r->code != 250)
        return -1;
    *c = r->caps;
    return 0;
}

int caps_has_mech(const struct smtp_caps *c, const char *mech)
{
    for (int i = 0; i < c->nmechs; i++)
        if (strcasecmp(c->mechs[i], mech) == 0)
            return 1;
    return 0;
}
