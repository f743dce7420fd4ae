/* SPDX-License-Identifier: ISC */
/* parse.c — pure parsers of what DDNS servers answer: dyndns2 result
 * lines, check-IP bodies, PowerDNS API errors, DNS answers.  No I/O (unit
 * tests: tests/unit/test_ddns.c; fuzz/fuzz_ddns_*.c). */
#include "ddns/internal.h"
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <json-c/json.h>
#include <resolv.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *word;
    enum ddns_code code;
} d2codes[] = {
    { "good", DDNS_GOOD }, { "nochg", DDNS_NOCHG }, { "badauth", DDNS_BADAUTH },
    { "notfqdn", DDNS_NOTFQDN }, { "nohost", DDNS_NOHOST }, { "numhost", DDNS_NUMHOST },
    { "abuse", DDNS_ABUSE }, { "badagent", DDNS_BADAGENT }, { "dnserr", DDNS_DNSERR },
    { "911", DDNS_911 }, { "!donator", DDNS_NOTDONATOR },
};

const char *ddns_code_name(enum ddns_code c)
{
    for (size_t i = 0; i < ETP_ARRAY_LEN(d2codes); i++)
        if (d2codes[i].code == c)
            return d2codes[i].word;
    return "unknown";
}

enum ddns_class ddns_code_class(enum ddns_code c)
{
    switch (c) {
    case DDNS_GOOD:
    case DDNS_NOCHG:
        return DDNS_CLASS_OK;
    case DDNS_BADAUTH:
    case DDNS_NOTFQDN:
    case DDNS_NOHOST:
    case DDNS_NUMHOST:
    case DDNS_ABUSE:
    case DDNS_BADAGENT:
    case DDNS_NOTDONATOR:
        return DDNS_CLASS_FATAL;
    case DDNS_DNSERR:
    case DDNS_911:
    case DDNS_UNKNOWN:
    default:
        return DDNS_CLASS_RETRY;
    }
}

int ddns_code_exit(enum ddns_code c)
{
    switch (c) {
    case DDNS_GOOD:
    case DDNS_NOCHG:
        return 0;
    case DDNS_BADAUTH:
        return EX_NOPERM;
    case DDNS_NOTFQDN:
    case DDNS_NOHOST:
    case DDNS_NUMHOST:
        return EX_CONFIG;
    case DDNS_ABUSE:
    case DDNS_BADAGENT:
    case DDNS_NOTDONATOR:
        return EX_UNAVAILABLE;
    case DDNS_DNSERR:
    case DDNS_911:
        return EX_TEMPFAIL;
    case DDNS_UNKNOWN:
    default:
        return EX_PROTOCOL;
    }
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void parse_d2_line(const char *s, size_t n, struct ddns_line *l)
{
    memset(l, 0, sizeof *l);
    l->code = DDNS_UNKNOWN;
    printable(l->text, sizeof l->text, s, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return;                     /* binary garbage: unknown */
    }
    size_t w = 0;
    while (w < n && !is_blank(s[w]))
        w++;
    for (size_t i = 0; i < ETP_ARRAY_LEN(d2codes); i++) {
        if (strlen(d2codes[i].word) == w && memcmp(d2codes[i].word, s, w) == 0) {
            l->code = d2codes[i].code;
            break;
        }
    }
    if (l->code != DDNS_GOOD && l->code != DDNS_NOCHG)
        return;
    size_t a = w;
    while (a < n && is_blank(s[a]))
        a++;
    size_t alen = n - a;
    if (alen == 0 || alen >= sizeof l->addr)
        return;
    for (size_t i = a; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) && s[i] != '.' && s[i] != ':' && s[i] != ',')
            return;
    memcpy(l->addr, s + a, alen);
    l->addr[alen] = '\0';
}

int ddns_parse_dyndns2(const char *body, size_t len, struct ddns_line *out, int max)
{
    int n = 0;
    size_t i = 0;
    if (!body)
        return -1;
    while (i < len) {
        size_t s = i;
        while (i < len && body[i] != '\n')
            i++;
        size_t e = i;
        if (i < len)
            i++;
        while (s < e && is_blank(body[s]))
            s++;
        while (e > s && is_blank(body[e - 1]))
            e--;
        if (s == e)
            continue;
        if (n >= max)
            return -1;
        parse_d2_line(body + s, e - s, &out[n]);
        n++;
    }
    return n > 0 ? n : -1;
}

/* characters an address token is made of */
static int addr_char(unsigned char c)
{
    return isxdigit(c) || c == '.' || c == ':';
}

int ddns_parse_checkip(const char *body, size_t len, int family, char *out, size_t outsz)
{
    if (!body || !out || outsz == 0)
        return -1;
    out[0] = '\0';
    char first[INET6_ADDRSTRLEN] = "";
    size_t i = 0;
    while (i < len) {
        if (!addr_char((unsigned char)body[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && addr_char((unsigned char)body[i]))
            i++;
        size_t e = i;                       /* run [s, e) */
        /* a letter, digit or '_' right after the run: part of a word */
        if (e < len && (isalnum((unsigned char)body[e]) || body[e] == '_'))
            continue;
        /* trim sentence punctuation: leading/trailing '.', one leading ':' */
        while (s < e && body[s] == '.')
            s++;
        while (e > s && body[e - 1] == '.')
            e--;
        if (e - s >= 2 && body[s] == ':' && body[s + 1] != ':')
            s++;
        if (e <= s || e - s >= DDNS_TOKEN_MAX)
            continue;
        /* the character before the token must not make it part of a word */
        if (s > 0 && (isalpha((unsigned char)body[s - 1]) || body[s - 1] == '_') &&
            !isxdigit((unsigned char)body[s - 1]))
            continue;
        char tok[DDNS_TOKEN_MAX];
        memcpy(tok, body + s, e - s);
        tok[e - s] = '\0';
        unsigned char buf[16];
        char txt[INET6_ADDRSTRLEN];
        if ((family == AF_INET || family == AF_UNSPEC) && inet_pton(AF_INET, tok, buf) == 1) {
            if (!inet_ntop(AF_INET, buf, txt, sizeof txt))
                continue;
        } else if ((family == AF_INET6 || family == AF_UNSPEC) && strchr(tok, ':') &&
                   inet_pton(AF_INET6, tok, buf) == 1) {
            static const unsigned char zero[16];
            static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
            if (memcmp(buf, zero, 16) == 0 || memcmp(buf, mapped, 12) == 0)
                continue;
            if (!inet_ntop(AF_INET6, buf, txt, sizeof txt))
                continue;
        } else {
            continue;
        }
        if (!first[0]) {
            snprintf(first, sizeof first, "%s", txt);
        } else if (strcmp(first, txt) != 0) {
            out[0] = '\0';
            return -2;                          /* two different addresses: which one? */
        }
    }
    if (!first[0] || strlen(first) >= outsz)
        return -1;
    strcpy(out, first);
    return 0;
}

int ddns_parse_pdns_error(const char *body, size_t len, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return -1;
    out[0] = '\0';
    if (!body || len == 0)
        return -1;
    if (len > DDNS_BODY_MAX)
        len = DDNS_BODY_MAX;
    json_tokener *tok = json_tokener_new_ex(16);
    if (!tok)
        return -1;
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    int found = -1;
    if (o && json_tokener_get_error(tok) == json_tokener_success &&
        json_object_is_type(o, json_type_object)) {
        json_object *e;
        if (json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string)) {
            const char *m = json_object_get_string(e);
            printable(out, outsz, m, (size_t)json_object_get_string_len(e));
            found = 0;
        }
    }
    if (o)
        json_object_put(o);
    json_tokener_free(tok);
    if (found < 0)
        printable(out, outsz, body, len > 200 ? 200 : len);
    return found;
}

int ddns_parse_dns_answer(const unsigned char *msg, size_t len, const char *qname, int qtype,
                          char (*out)[DDNS_ADDR_MAX], int max)
{
    if (!msg || len < NS_HFIXEDSZ || len > 65535 || !qname)
        return -1;
    const unsigned char *end = msg + len;
    if (!(msg[2] & 0x80))                   /* QR: not a response */
        return -1;
    int rcode = msg[3] & 0x0f;
    unsigned qd = (unsigned)(msg[4] << 8 | msg[5]);
    unsigned an = (unsigned)(msg[6] << 8 | msg[7]);
    const unsigned char *p = msg + NS_HFIXEDSZ;
    for (unsigned i = 0; i < qd; i++) {
        int n = dn_skipname(p, end);
        if (n < 0 || end - (p + n) < NS_QFIXEDSZ)
            return -1;
        p += n + NS_QFIXEDSZ;
    }
    if (rcode != 0)
        return 0;
    /* Records: remember where the answers are, then follow CNAMEs from
     * qname (bounded), collecting the records of the final owner name. */
    char want[NS_MAXDNAME];
    if (strlen(qname) >= sizeof want)
        return -1;
    strcpy(want, qname);
    const unsigned char *ans = p;
    int count = 0;
    for (int hop = 0; hop < 8; hop++) {
        int followed = 0;
        p = ans;
        for (unsigned i = 0; i < an; i++) {
            char owner[NS_MAXDNAME];
            int n = dn_expand(msg, end, p, owner, sizeof owner);
            if (n < 0 || end - (p + n) < NS_RRFIXEDSZ)
                return -1;
            p += n;
            unsigned type = (unsigned)(p[0] << 8 | p[1]);
            unsigned cls = (unsigned)(p[2] << 8 | p[3]);
            unsigned rdlen = (unsigned)(p[8] << 8 | p[9]);
            p += NS_RRFIXEDSZ;
            if ((size_t)(end - p) < rdlen)
                return -1;
            const unsigned char *rd = p;
            p += rdlen;
            if (cls != ns_c_in || !netaddr_dns_name_eq(owner, want))
                continue;
            if (type == ns_t_cname && !followed) {
                char target[NS_MAXDNAME];
                if (dn_expand(msg, end, rd, target, sizeof target) < 0)
                    return -1;
                strcpy(want, target);
                followed = 1;
                continue;
            }
            if ((int)type != qtype || count >= max)
                continue;
            if (type == ns_t_a && rdlen == 4)
                inet_ntop(AF_INET, rd, out[count++], DDNS_ADDR_MAX);
            else if (type == ns_t_aaaa && rdlen == 16)
                inet_ntop(AF_INET6, rd, out[count++], DDNS_ADDR_MAX);
        }
        if (count > 0 || !followed)
            break;
    }
    return count;
}
