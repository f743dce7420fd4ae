/* ddns.c — dynamic DNS update before ETRN.
 *
 * Layout: pure parsers and rules first (no I/O: unit tests, fuzzing), then
 * the address sources (uplink, interface, check-IP URL), the HTTP layer
 * (libcurl), the three protocols, the wait for the authoritative server,
 * state, and the public entry points. */
#include "conf/config.h"
#include "ddns/ddns.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <linux/if_addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif
#define DDNS_USER_AGENT "etrnpoll/" PACKAGE_VERSION
#define DDNS_STATE_FILE "ddns.json"
#define DDNS_MAX_REDIRECTS 3

/* ======================================================================
 * Pure parsers and rules
 * ====================================================================== */

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
        if (strlen(txt) >= outsz)
            return -1;
        strcpy(out, txt);
        return 0;
    }
    return -1;
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

static int name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
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
            if (cls != ns_c_in || !name_eq(owner, want))
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

static int in4(const unsigned char *a, unsigned net0, unsigned net1, unsigned net2, unsigned net3, int bits)
{
    uint32_t addr = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    uint32_t net = (uint32_t)net0 << 24 | (uint32_t)net1 << 16 | (uint32_t)net2 << 8 | net3;
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (addr & mask) == (net & mask);
}

static enum ddns_addr_kind classify4(const unsigned char *a)
{
    if (in4(a, 10, 0, 0, 0, 8) || in4(a, 172, 16, 0, 0, 12) || in4(a, 192, 168, 0, 0, 16))
        return DDNS_ADDR_PRIVATE;
    if (in4(a, 100, 64, 0, 0, 10))
        return DDNS_ADDR_CGNAT;
    if (in4(a, 127, 0, 0, 0, 8))
        return DDNS_ADDR_LOOPBACK;
    if (in4(a, 169, 254, 0, 0, 16))
        return DDNS_ADDR_LINKLOCAL;
    if (in4(a, 0, 0, 0, 0, 8) ||          /* "this network" */
        in4(a, 192, 0, 0, 0, 24) ||       /* IETF protocol assignments */
        in4(a, 192, 0, 2, 0, 24) || in4(a, 198, 51, 100, 0, 24) ||
        in4(a, 203, 0, 113, 0, 24) ||     /* documentation */
        in4(a, 198, 18, 0, 0, 15) ||      /* benchmarking */
        in4(a, 224, 0, 0, 0, 4) ||        /* multicast */
        in4(a, 240, 0, 0, 0, 4))          /* reserved, broadcast */
        return DDNS_ADDR_RESERVED;
    return DDNS_ADDR_PUBLIC;
}

enum ddns_addr_kind ddns_classify_addr(const char *addr)
{
    unsigned char a[16];
    if (!addr)
        return DDNS_ADDR_INVALID;
    if (inet_pton(AF_INET, addr, a) == 1)
        return classify4(a);
    if (inet_pton(AF_INET6, addr, a) != 1)
        return DDNS_ADDR_INVALID;
    static const unsigned char zero[16];
    static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
    if (memcmp(a, mapped, 12) == 0)
        return classify4(a + 12);
    if (memcmp(a, zero, 15) == 0)
        return a[15] == 1 ? DDNS_ADDR_LOOPBACK : DDNS_ADDR_RESERVED;   /* ::1, :: */
    if ((a[0] & 0xfe) == 0xfc)
        return DDNS_ADDR_PRIVATE;                                      /* fc00::/7 ULA */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return DDNS_ADDR_PRIVATE;                                      /* fec0::/10 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return DDNS_ADDR_LINKLOCAL;                                    /* fe80::/10 */
    if (a[0] == 0xff)
        return DDNS_ADDR_RESERVED;                                     /* multicast */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return DDNS_ADDR_RESERVED;                                     /* 2001:db8::/32 */
    if (memcmp(a, zero, 12) == 0)
        return DDNS_ADDR_RESERVED;                                     /* ::/96 (v4-compatible) */
    if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0)
        return DDNS_ADDR_RESERVED;                                     /* 100::/64 discard */
    if ((a[0] & 0xe0) != 0x20)
        return DDNS_ADDR_RESERVED;                                     /* outside 2000::/3 */
    return DDNS_ADDR_PUBLIC;
}

const char *ddns_addr_kind_name(enum ddns_addr_kind k)
{
    switch (k) {
    case DDNS_ADDR_PUBLIC: return "public";
    case DDNS_ADDR_PRIVATE: return "private (RFC 1918 / ULA)";
    case DDNS_ADDR_CGNAT: return "carrier-grade NAT (100.64.0.0/10)";
    case DDNS_ADDR_LOOPBACK: return "loopback";
    case DDNS_ADDR_LINKLOCAL: return "link-local";
    case DDNS_ADDR_RESERVED: return "reserved (documentation, multicast or special use)";
    default: return "not an address";
    }
}

/* ---- templates ------------------------------------------------------- */

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

struct sbuf {
    char *p;
    size_t size, len;
    int overflow;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
    if (b->overflow || b->len + n >= b->size) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_add(struct sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static int put_escaped(struct sbuf *b, const char *val, enum ddns_esc esc)
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
    struct sbuf b = { out, outsz, 0, 0 };
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

/* ---- the dyndns2 rules ------------------------------------------------- */

const char *ddns_action_name(enum ddns_action a)
{
    switch (a) {
    case DDNS_ACT_UPDATE: return "update";
    case DDNS_ACT_REFRESH: return "refresh";
    case DDNS_ACT_UNCHANGED: return "unchanged";
    case DDNS_ACT_FATAL: return "fatal";
    case DDNS_ACT_WAIT: return "wait";
    }
    return "?";
}

enum ddns_action ddns_decide(const struct ddns_entry_state *st, const char *cfg_hash,
                             const char *addr4, const char *addr6,
                             int force_refresh_days, int64_t now)
{
    if (!addr4)
        addr4 = "";
    if (!addr6)
        addr6 = "";
    int same_cfg = st && cfg_hash && strcmp(st->cfg_hash, cfg_hash) == 0;
    if (!same_cfg)
        return DDNS_ACT_UPDATE;            /* new entry, or config changed: clears fatal + cache */
    if (st->fatal)
        return DDNS_ACT_FATAL;
    /* retry_after is at most DDNS_RETRY_MIN ahead; one further away means
     * the clock went back: do not let that block updates for long. */
    if (st->retry_after > now && st->retry_after - now <= DDNS_RETRY_MIN)
        return DDNS_ACT_WAIT;
    if (st->updated <= 0 || strcmp(st->addr4, addr4) != 0 || strcmp(st->addr6, addr6) != 0)
        return DDNS_ACT_UPDATE;
    int64_t age = now - st->updated;
    if (force_refresh_days > 0 && age >= (int64_t)force_refresh_days * 86400)
        return DDNS_ACT_REFRESH;
    return DDNS_ACT_UNCHANGED;
}

void ddns_record(struct ddns_entry_state *st, const char *cfg_hash, enum ddns_class cls,
                 int exit, const char *result, const char *addr4, const char *addr6, int64_t now)
{
    if (cfg_hash && st->cfg_hash != cfg_hash)
        snprintf(st->cfg_hash, sizeof st->cfg_hash, "%s", cfg_hash);
    st->attempt = now;
    snprintf(st->result, sizeof st->result, "%s", result ? result : "");
    st->exit = exit;
    switch (cls) {
    case DDNS_CLASS_OK:
        snprintf(st->addr4, sizeof st->addr4, "%s", addr4 ? addr4 : "");
        snprintf(st->addr6, sizeof st->addr6, "%s", addr6 ? addr6 : "");
        st->updated = now;
        st->fatal = 0;
        st->retry_after = 0;
        break;
    case DDNS_CLASS_FATAL:
        st->fatal = 1;
        st->retry_after = 0;
        break;
    case DDNS_CLASS_RETRY:
        st->fatal = 0;
        st->retry_after = now + DDNS_RETRY_MIN;
        break;
    }
}

/* ======================================================================
 * Helpers
 * ====================================================================== */

static void fmt_time(int64_t t, char *out, size_t outsz)
{
    if (t <= 0) {
        snprintf(out, outsz, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, outsz, "%lld", (long long)t);
}

/* Split "a, b c" into host names; returns count, -1 if too many or too long. */
static int split_hosts(const char *list, char hosts[][NS_MAXDNAME], int max)
{
    int n = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t l = (size_t)(p - s);
        if (n >= max || l >= NS_MAXDNAME)
            return -1;
        memcpy(hosts[n], s, l);
        hosts[n][l] = '\0';
        if (l > 1 && hosts[n][l - 1] == '.')
            hosts[n][l - 1] = '\0';
        n++;
    }
    return n;
}

static const char *hostname_invalid(const char *h)
{
    size_t n = strlen(h);
    if (n == 0)
        return "empty host name";
    if (n > 253)
        return "host name longer than 253 characters";
    if (!strchr(h, '.'))
        return "not a fully qualified name (no dot)";
    size_t lab = 0;
    for (const char *q = h; ; q++) {
        if (*q == '.' || *q == '\0') {
            if (lab == 0)
                return "empty label";
            if (lab > 63)
                return "label longer than 63 characters";
            if (*q == '\0')
                break;
            lab = 0;
            continue;
        }
        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && !(lab == 0 && *q == '*'))
            return "bad character (letters, digits, '-' and '_' only)";
        lab++;
    }
    return NULL;
}

static int host_in_zone(const char *host, const char *zone)
{
    size_t hl = strlen(host), zl = strlen(zone);
    if (zl && zone[zl - 1] == '.')
        zl--;
    if (hl == zl)
        return strncasecmp(host, zone, zl) == 0;
    return hl > zl && host[hl - zl - 1] == '.' && strncasecmp(host + hl - zl, zone, zl) == 0;
}

/* FNV-1a 64: a change detector, not a security function. */
static void fnv_add(uint64_t *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        *h ^= p[i];
        *h *= 1099511628211ULL;
    }
}

static void fnv_str(uint64_t *h, const char *s)
{
    if (s)
        fnv_add(h, s, strlen(s) + 1);
    else
        fnv_add(h, "\xff", 1);
}

static void fnv_int(uint64_t *h, long long v)
{
    fnv_add(h, &v, sizeof v);
}

/* Hash of the whole ddns section and the identity of the secret file
 * (device, inode, size, mtime: a rewritten password file clears a fatal
 * badauth; the secret itself is never hashed into the state file).  Any
 * change of the section clears a final answer and sends one update. */
static void entry_hash(const struct ddns_cfg *d, char out[17])
{
    uint64_t h = 14695981039346656037ULL;
    fnv_int(&h, d->proto);
    fnv_str(&h, d->hostname);
    fnv_str(&h, d->server);
    fnv_str(&h, d->username);
    fnv_str(&h, d->password_file);
    fnv_str(&h, d->zone);
    fnv_int(&h, d->ttl);
    fnv_int(&h, d->ipv4);
    fnv_int(&h, d->ipv6);
    fnv_str(&h, d->method);
    fnv_str(&h, d->url);
    for (int i = 0; i < d->nheaders; i++)
        fnv_str(&h, d->headers[i]);
    fnv_str(&h, d->body);
    fnv_int(&h, d->success_min);
    fnv_int(&h, d->success_max);
    fnv_str(&h, d->ca_file);
    fnv_int(&h, d->source);
    fnv_str(&h, d->interface);
    fnv_str(&h, d->checkip_url);
    fnv_str(&h, d->checkip_url6);
    fnv_int(&h, d->on_private);
    fnv_str(&h, d->wait_server);
    fnv_int(&h, d->wait_timeout);
    fnv_int(&h, d->delay_after_change);
    fnv_int(&h, d->force_refresh_days);
    fnv_int(&h, d->timeout);
    fnv_int(&h, d->required);
    struct stat st;
    if (d->password_file && stat(d->password_file, &st) == 0) {
        fnv_int(&h, (long long)st.st_dev);
        fnv_int(&h, (long long)st.st_ino);
        fnv_int(&h, (long long)st.st_size);
        fnv_int(&h, (long long)st.st_mtim.tv_sec);
        fnv_int(&h, (long long)st.st_mtim.tv_nsec);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ======================================================================
 * State (ddns.json): { "version": 1, "entries": { NAME: {...} } }
 * ====================================================================== */

static void state_from_json(json_object *e, struct ddns_entry_state *st)
{
    memset(st, 0, sizeof *st);
    if (!e)
        return;
    const char *s;
    if ((s = js_str(e, "config")))
        snprintf(st->cfg_hash, sizeof st->cfg_hash, "%s", s);
    if ((s = js_str(e, "addr4")))
        snprintf(st->addr4, sizeof st->addr4, "%s", s);
    if ((s = js_str(e, "addr6")))
        snprintf(st->addr6, sizeof st->addr6, "%s", s);
    if ((s = js_str(e, "result")))
        snprintf(st->result, sizeof st->result, "%s", s);
    st->updated = js_int(e, "updated");
    st->attempt = js_int(e, "attempt");
    st->exit = (int)js_int(e, "exit");
    st->retry_after = js_int(e, "retry_after");
    json_object *f;
    st->fatal = json_object_object_get_ex(e, "fatal", &f) && json_object_get_boolean(f);
}

static json_object *state_to_json(const struct ddns_entry_state *st, const struct ddns_cfg *d)
{
    json_object *e = json_object_new_object();
    char t[40];
    json_object_object_add(e, "config", json_object_new_string(st->cfg_hash));
    json_object_object_add(e, "hostname", json_object_new_string(d->hostname ? d->hostname : ""));
    json_object_object_add(e, "addr4", json_object_new_string(st->addr4));
    json_object_object_add(e, "addr6", json_object_new_string(st->addr6));
    json_object_object_add(e, "updated", json_object_new_int64(st->updated));
    fmt_time(st->updated, t, sizeof t);
    json_object_object_add(e, "updated_utc", json_object_new_string(t));
    json_object_object_add(e, "attempt", json_object_new_int64(st->attempt));
    fmt_time(st->attempt, t, sizeof t);
    json_object_object_add(e, "attempt_utc", json_object_new_string(t));
    json_object_object_add(e, "result", json_object_new_string(st->result));
    json_object_object_add(e, "exit", json_object_new_int(st->exit));
    json_object_object_add(e, "fatal", json_object_new_boolean(st->fatal));
    json_object_object_add(e, "retry_after", json_object_new_int64(st->retry_after));
    return e;
}

static json_object *state_entries(json_object *root)
{
    json_object *e;
    if (root && json_object_object_get_ex(root, "entries", &e) && json_object_is_type(e, json_type_object))
        return e;
    return NULL;
}

static json_object *state_entry(json_object *root, const char *name)
{
    json_object *ents = state_entries(root), *e;
    if (ents && json_object_object_get_ex(ents, name, &e) && json_object_is_type(e, json_type_object))
        return e;
    return NULL;
}

/* ======================================================================
 * Addresses
 * ====================================================================== */

/* Interface with the default route of a family, from /proc (lowest metric). */
static int default_route_ifname(int family, char *out, size_t outsz)
{
    FILE *f = fopen(family == AF_INET ? "/proc/net/route" : "/proc/net/ipv6_route", "re");
    if (!f)
        return -1;
    char line[512];
    unsigned long best = (unsigned long)-1;
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        char ifn[IF_NAMESIZE + 1];
        if (family == AF_INET) {
            char dst[16], gw[16], mask[16];
            unsigned flags, refcnt, use, metric;
            if (sscanf(line, "%16s %15s %15s %x %u %u %u %15s", ifn, dst, gw, &flags, &refcnt,
                       &use, &metric, mask) != 8)
                continue;
            if (strcmp(dst, "00000000") != 0 || strcmp(mask, "00000000") != 0 || !(flags & 1))
                continue;
            if (metric < best) {
                best = metric;
                found = snprintf(out, outsz, "%s", ifn) < (int)outsz ? 0 : -1;
            }
        } else {
            char dst[40], dlen[4], src[40], slen[4], nh[40];
            unsigned long metric, refcnt, use, flags;
            if (sscanf(line, "%39s %3s %39s %3s %39s %lx %lx %lx %lx %16s", dst, dlen, src, slen, nh,
                       &metric, &refcnt, &use, &flags, ifn) != 10)
                continue;
            if (strcmp(dlen, "00") != 0 || strspn(dst, "0") != 32 || strcmp(ifn, "lo") == 0 ||
                !(flags & 1))
                continue;
            if (metric < best) {
                best = metric;
                found = snprintf(out, outsz, "%s", ifn) < (int)outsz ? 0 : -1;
            }
        }
    }
    fclose(f);
    return found;
}

/* Rank of an interface address: lower is better.  Public before private
 * before link-local; on IPv6 a stable address before a temporary (privacy)
 * one, which would change the published name every day, and nothing
 * deprecated, tentative or failed DAD unless there is nothing else. */
static int addr_rank(const char *txt, unsigned flags)
{
    enum ddns_addr_kind k = ddns_classify_addr(txt);
    int rank = k == DDNS_ADDR_PUBLIC ? 0 : k == DDNS_ADDR_LINKLOCAL ? 20 : 10;
    if (flags & IFA_F_TEMPORARY)
        rank += 1;
    if (flags & (IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED))
        rank += 5;
    return rank;
}

/* Best address via rtnetlink (libnl-route), which knows the IPv6 address
 * flags.  0 ok, 1 interface has none of this family, -1 netlink unusable. */
static int iface_addr_nl(int ifindex, int family, char *out, size_t outsz)
{
    struct nl_sock *sk = nl_socket_alloc();
    struct nl_cache *cache = NULL;
    int rc = -1;
    if (!sk)
        return -1;
    if (nl_connect(sk, NETLINK_ROUTE) < 0 || rtnl_addr_alloc_cache(sk, &cache) < 0)
        goto out;
    int best = 1000;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != family)
            continue;
        struct nl_addr *local = rtnl_addr_get_local(a);
        char txt[INET6_ADDRSTRLEN];
        if (!local || nl_addr_get_len(local) != (family == AF_INET ? 4u : 16u) ||
            !inet_ntop(family, nl_addr_get_binary_addr(local), txt, sizeof txt))
            continue;
        int rank = addr_rank(txt, (unsigned)rtnl_addr_get_flags(a));
        if (rank < best && strlen(txt) < outsz) {
            best = rank;
            strcpy(out, txt);
        }
    }
    rc = best == 1000 ? 1 : 0;
out:
    if (cache)
        nl_cache_free(cache);
    nl_socket_free(sk);
    return rc;
}

/* Best address of a family on an interface (netlink; getifaddrs if
 * netlink is unusable).  0 ok, -1 none (errno ENODEV: no such interface,
 * EADDRNOTAVAIL: no address of this family). */
static int iface_addr(const char *ifname, int family, char *out, size_t outsz)
{
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) {
        errno = ENODEV;
        return -1;
    }
    int r = iface_addr_nl((int)idx, family, out, outsz);
    if (r == 0)
        return 0;
    if (r == 1) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) < 0)
        return -1;
    int best = 1000;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_name || strcmp(i->ifa_name, ifname) != 0)
            continue;
        if (!i->ifa_addr || i->ifa_addr->sa_family != family)
            continue;
        char txt[INET6_ADDRSTRLEN];
        const void *src = family == AF_INET
            ? (const void *)&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr
            : (const void *)&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
        if (!inet_ntop(family, src, txt, sizeof txt))
            continue;
        int rank = addr_rank(txt, 0);
        if (rank < best && strlen(txt) < outsz) {
            best = rank;
            strcpy(out, txt);
        }
    }
    freeifaddrs(ifa);
    if (best == 1000) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    return 0;
}

/* The uplink's address of a family (see ddns.h / etrnpoll.conf(5)):
 * 1. a configured `interface` that is not the uplink the caller named:
 *    that interface's address;
 * 2. the caller's address (ppp local address, link watcher);
 * 3. the address of the caller's interface, else of the configured one,
 *    else of the interface holding the default route.
 * `how` says where it came from. */
static int uplink_addr(const struct ddns_cfg *d, const struct uplink *up, int family,
                       char *out, size_t outsz, char *how, size_t howsz)
{
    const char *given = up ? (family == AF_INET ? up->addr4 : up->addr6) : "";
    const char *upif = up ? up->ifname : "";
    char ifn[IF_NAMESIZE + 1] = "";
    if (d->interface && (!upif[0] || strcmp(upif, d->interface) != 0)) {
        snprintf(ifn, sizeof ifn, "%s", d->interface);
    } else if (given[0]) {
        snprintf(how, howsz, "uplink%s%s", upif[0] ? " " : "", upif);
        return snprintf(out, outsz, "%s", given) < (int)outsz ? 0 : -1;
    } else if (upif[0]) {
        snprintf(ifn, sizeof ifn, "%s", upif);
    } else if (default_route_ifname(family, ifn, sizeof ifn) < 0) {
        snprintf(how, howsz, "no uplink interface known (no default route; set 'interface')");
        errno = ENODEV;
        return -1;
    }
    if (iface_addr(ifn, family, out, outsz) < 0) {
        snprintf(how, howsz, "interface %s: %s", ifn,
                 errno == ENODEV ? "no such interface" : "no address of this family");
        return -1;
    }
    snprintf(how, howsz, "interface %s", ifn);
    return 0;
}

/* ======================================================================
 * HTTP (libcurl)
 * ====================================================================== */

struct http_resp {
    long status;
    char *body;
    size_t len;
    int too_big;
    char err[CURL_ERROR_SIZE + 128];
    char peer[INET6_ADDRSTRLEN + 8];
};

static void http_resp_free(struct http_resp *r)
{
    if (r->body) {
        secure_wipe(r->body, r->len);
        free(r->body);
    }
    memset(r, 0, sizeof *r);
}

static size_t http_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct http_resp *r = user;
    size_t n = size * nmemb;
    if (r->len + n > DDNS_BODY_MAX) {
        r->too_big = 1;
        return 0;                                 /* aborts the transfer */
    }
    char *nb = realloc(r->body, r->len + n + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static int http_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)p; (void)dt; (void)dn; (void)ut; (void)un;
    return etp_abort ? 1 : 0;
}

/* -v: show the HTTP exchange.  Credentials never reach the log: header
 * values of Authorization / X-API-Key / any header built with {secret} are
 * masked here, and every line also passes the log redactor, which knows
 * the secret in plain, URL- and JSON-escaped and Basic (base64) form. */
struct dbg_ctx {
    const char *const *mask;          /* extra header names to mask, NULL-terminated */
};

static int header_is_secret(const char *line, size_t n, const struct dbg_ctx *c)
{
    static const char *always[] = { "authorization:", "proxy-authorization:", "x-api-key:",
                                    "cookie:", "set-cookie:", NULL };
    for (int i = 0; always[i]; i++)
        if (n >= strlen(always[i]) && strncasecmp(line, always[i], strlen(always[i])) == 0)
            return 1;
    for (int i = 0; c && c->mask && c->mask[i]; i++) {
        size_t l = strlen(c->mask[i]);
        if (n > l && strncasecmp(line, c->mask[i], l) == 0 && line[l] == ':')
            return 1;
    }
    return 0;
}

static int http_debug(CURL *h, curl_infotype type, char *data, size_t size, void *user)
{
    (void)h;
    const struct dbg_ctx *c = user;
    char dir;
    switch (type) {
    case CURLINFO_TEXT: dir = '*'; break;
    case CURLINFO_HEADER_IN: dir = '<'; break;
    case CURLINFO_HEADER_OUT: dir = '>'; break;
    case CURLINFO_DATA_IN: dir = '<'; break;
    case CURLINFO_DATA_OUT: dir = '>'; break;
    default: return 0;                       /* TLS records: never */
    }
    size_t off = 0;
    int lines = 0;
    while (off < size && lines < 64) {
        size_t e = off;
        while (e < size && data[e] != '\n')
            e++;
        size_t n = e - off;
        if (n && data[off + n - 1] == '\r')
            n--;
        if (n > 0) {
            if ((type == CURLINFO_HEADER_OUT || type == CURLINFO_HEADER_IN) &&
                header_is_secret(data + off, n, c)) {
                const char *colon = memchr(data + off, ':', n);
                size_t keep = colon ? (size_t)(colon - (data + off)) + 1 : 0;
                char m[128];
                snprintf(m, sizeof m, "%.*s ********", (int)(keep < 100 ? keep : 100), data + off);
                log_wire(dir, m, strlen(m));
            } else {
                log_wire(dir, data + off, n > 1024 ? 1024 : n);
            }
        }
        off = e + 1;
        lines++;
    }
    return 0;
}

/* Same host (and port), and no downgrade from https to http. */
static int redirect_ok(const char *from, const char *to, char *why, size_t whysz)
{
    CURLU *a = curl_url(), *b = curl_url();
    int ok = 0;
    char *ha = NULL, *hb = NULL, *sa = NULL, *sb = NULL, *pa = NULL, *pb = NULL;
    if (!a || !b || curl_url_set(a, CURLUPART_URL, from, 0) || curl_url_set(b, CURLUPART_URL, to, 0) ||
        curl_url_get(a, CURLUPART_HOST, &ha, 0) || curl_url_get(b, CURLUPART_HOST, &hb, 0) ||
        curl_url_get(a, CURLUPART_SCHEME, &sa, 0) || curl_url_get(b, CURLUPART_SCHEME, &sb, 0) ||
        curl_url_get(a, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) ||
        curl_url_get(b, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT)) {
        snprintf(why, whysz, "unparsable redirect target");
    } else if (strcasecmp(ha, hb) != 0) {
        snprintf(why, whysz, "redirect to another host (%s) refused", hb);
    } else if (strcasecmp(sb, "https") != 0 && strcasecmp(sa, "https") == 0) {
        snprintf(why, whysz, "redirect from https to %s refused", sb);
    } else if (strcasecmp(sb, "https") != 0 && strcasecmp(sb, "http") != 0) {
        snprintf(why, whysz, "redirect to scheme %s refused", sb);
    } else if (strcasecmp(sa, sb) == 0 && strcmp(pa, pb) != 0) {
        snprintf(why, whysz, "redirect to another port (%s) refused", pb);
    } else {
        ok = 1;
    }
    curl_free(ha); curl_free(hb); curl_free(sa); curl_free(sb); curl_free(pa); curl_free(pb);
    curl_url_cleanup(a);
    curl_url_cleanup(b);
    return ok;
}

struct http_req {
    const char *method;               /* GET POST PUT PATCH DELETE */
    const char *url;
    struct curl_slist *headers;
    const char *body;                 /* NULL = none */
    const char *user, *pass;          /* Basic auth, NULL = none */
    const char *ca_file;
    int timeout;
    int family;                       /* AF_INET / AF_INET6 / AF_UNSPEC: address family to connect with */
    const struct dbg_ctx *dbg;
};

/* One request.  0: an HTTP answer arrived (any status; body in r), -1: no
 * answer (network, TLS verification, timeout, too large, bad redirect;
 * r->err says what). */
static int http_do(const struct http_req *q, struct http_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(r->err, sizeof r->err, "cannot initialise libcurl");
        return -1;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    char url[4096];
    snprintf(url, sizeof url, "%s", q->url);
    int rc = -1;
    for (int hop = 0; hop <= DDNS_MAX_REDIRECTS; hop++) {
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_USERAGENT, DDNS_USER_AGENT);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)q->timeout);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(q->timeout < 15 ? q->timeout : 15));
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)DDNS_BODY_MAX);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_progress);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
        if (q->ca_file)
            curl_easy_setopt(h, CURLOPT_CAINFO, q->ca_file);
        if (q->family == AF_INET)
            curl_easy_setopt(h, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
        else if (q->family == AF_INET6)
            curl_easy_setopt(h, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V6);
        if (q->headers)
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, q->headers);
        if (q->user) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERNAME, q->user);
            curl_easy_setopt(h, CURLOPT_PASSWORD, q->pass ? q->pass : "");
        }
        if (strcmp(q->method, "GET") == 0 && !q->body) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else {
            if (strcmp(q->method, "POST") != 0)
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
            if (q->body || strcmp(q->method, "POST") == 0 || strcmp(q->method, "PUT") == 0 ||
                strcmp(q->method, "PATCH") == 0) {
                const char *b = q->body ? q->body : "";
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(b));
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, b);
            }
        }
        if (log_transcript_on()) {
            curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
            curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, http_debug);
            curl_easy_setopt(h, CURLOPT_DEBUGDATA, (void *)q->dbg);
        }
        if (r->body) {
            secure_wipe(r->body, r->len);
            free(r->body);
            r->body = NULL;
            r->len = 0;
        }
        errbuf[0] = '\0';
        CURLcode cc = curl_easy_perform(h);
        char *ip = NULL;
        long port = 0;
        if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip) {
            curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
            snprintf(r->peer, sizeof r->peer, "%s:%ld", ip, port);
        }
        if (cc != CURLE_OK) {
            if (r->too_big || cc == CURLE_FILESIZE_EXCEEDED)
                snprintf(r->err, sizeof r->err, "answer larger than %d bytes refused", DDNS_BODY_MAX);
            else if (etp_abort)
                snprintf(r->err, sizeof r->err, "aborted");
            else
                snprintf(r->err, sizeof r->err, "%s%s%s", curl_easy_strerror(cc),
                         errbuf[0] ? ": " : "", errbuf);
            break;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        char *loc = NULL;
        if (r->status >= 300 && r->status < 400 && r->status != 304 &&
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
            if (strcmp(q->method, "GET") != 0 || q->body) {
                snprintf(r->err, sizeof r->err, "HTTP %ld redirect for a %s request refused", r->status, q->method);
                break;
            }
            if (hop == DDNS_MAX_REDIRECTS) {
                snprintf(r->err, sizeof r->err, "more than %d redirects", DDNS_MAX_REDIRECTS);
                break;
            }
            if (!redirect_ok(url, loc, r->err, sizeof r->err))
                break;
            if (snprintf(url, sizeof url, "%s", loc) >= (int)sizeof url) {
                snprintf(r->err, sizeof r->err, "redirect URL too long");
                break;
            }
            log_debug("ddns: following HTTP %ld redirect (same host)", r->status);
            continue;
        }
        rc = 0;
        break;
    }
    secure_wipe(url, sizeof url);
    curl_easy_cleanup(h);
    return rc;
}

/* Base64 (for registering the Basic credentials as a log secret). */
static void b64(const unsigned char *in, size_t n, char *out, size_t outsz)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outsz; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Register every form in which a secret could appear on the wire. */
static void register_secret(const char *user, const char *secret)
{
    log_add_secret(secret);
    char *e = curl_easy_escape(NULL, secret, (int)strlen(secret));
    if (e) {
        log_add_secret(e);
        secure_wipe(e, strlen(e));
        curl_free(e);
    }
    char j[8192];
    struct sbuf b = { j, sizeof j, 0, 0 };
    j[0] = '\0';
    put_escaped(&b, secret, DDNS_ESC_JSON);
    if (!b.overflow)
        log_add_secret(j);
    secure_wipe(j, sizeof j);
    if (user) {
        char up[4200], enc[5700];
        int n = snprintf(up, sizeof up, "%s:%s", user, secret);
        if (n > 0 && n < (int)sizeof up) {
            b64((const unsigned char *)up, (size_t)n, enc, sizeof enc);
            log_add_secret(enc);
        }
        secure_wipe(up, sizeof up);
        secure_wipe(enc, sizeof enc);
    }
}

/* ======================================================================
 * Check-IP
 * ====================================================================== */

static int checkip(const struct ddns_cfg *d, int family, char *out, size_t outsz, char *err, size_t errsz)
{
    const char *url = family == AF_INET ? d->checkip_url : d->checkip_url6;
    struct http_req q = { .method = "GET", .url = url, .ca_file = d->ca_file,
                          .timeout = d->timeout, .family = family };
    struct http_resp r;
    if (http_do(&q, &r) < 0) {
        snprintf(err, errsz, "check-IP %s: %s", url, r.err);
        http_resp_free(&r);
        return -1;
    }
    if (r.status < 200 || r.status > 299) {
        snprintf(err, errsz, "check-IP %s: HTTP %ld", url, r.status);
        http_resp_free(&r);
        return -1;
    }
    if (ddns_parse_checkip(r.body, r.len, family, out, outsz) < 0) {
        char pr[120];
        printable(pr, sizeof pr, r.body ? r.body : "", r.len > 100 ? 100 : r.len);
        snprintf(err, errsz, "check-IP %s: no IPv%d address in the answer \"%s\"", url,
                 family == AF_INET ? 4 : 6, pr);
        http_resp_free(&r);
        return -1;
    }
    http_resp_free(&r);
    return 0;
}

/* ======================================================================
 * One entry
 * ====================================================================== */

struct entry_run {
    const struct ddns_cfg *d;
    char hosts[DDNS_MAX_HOSTS][NS_MAXDNAME];
    int nhosts;
    char addr4[DDNS_ADDR_MAX], addr6[DDNS_ADDR_MAX];
    char *secret;
    /* outcome */
    enum ddns_class cls;
    int exit;
    char result[80];
    char detail[512];
};

static void outcome(struct entry_run *e, enum ddns_class cls, int exit, const char *result,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void outcome(struct entry_run *e, enum ddns_class cls, int exit, const char *result,
                    const char *fmt, ...)
{
    e->cls = cls;
    e->exit = exit;
    snprintf(e->result, sizeof e->result, "%s", result);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
}

/* Non-answers (network, TLS, timeout, too big, refused redirect): retry later. */
static void outcome_http_error(struct entry_run *e, const struct http_resp *r)
{
    outcome(e, DDNS_CLASS_RETRY, EX_TEMPFAIL, "network error",
            "%s; next attempt in %d minutes at the earliest", r->err, DDNS_RETRY_MIN / 60);
}

/* The usual meaning of an HTTP status for an API (powerdns, custom). */
static void outcome_http_status(struct entry_run *e, long st, const char *msg)
{
    char res[32];
    snprintf(res, sizeof res, "HTTP %ld", st);
    if (st == 401 || st == 403)
        outcome(e, DDNS_CLASS_FATAL, EX_NOPERM, res,
                "the API refused the credentials (HTTP %ld%s%s); not retried until the "
                "ddns section or its secret file changes", st, msg[0] ? ": " : "", msg);
    else if (st == 408 || st == 425 || st == 429 || st >= 500)
        outcome(e, DDNS_CLASS_RETRY, EX_TEMPFAIL, res, "temporary failure (HTTP %ld%s%s); "
                "next attempt in %d minutes at the earliest", st, msg[0] ? ": " : "", msg,
                DDNS_RETRY_MIN / 60);
    else if (st >= 400)
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, res,
                "the API rejected the request (HTTP %ld%s%s); check the ddns section; not "
                "retried until it changes", st, msg[0] ? ": " : "", msg);
    else
        outcome(e, DDNS_CLASS_RETRY, EX_PROTOCOL, res, "unexpected HTTP %ld%s%s", st,
                msg[0] ? ": " : "", msg);
}

static void join_hosts(const struct entry_run *e, char *out, size_t outsz, int escape)
{
    struct sbuf b = { out, outsz, 0, 0 };
    out[0] = '\0';
    for (int i = 0; i < e->nhosts; i++) {
        if (i)
            sb_add(&b, ",");
        if (escape)
            put_escaped(&b, e->hosts[i], DDNS_ESC_URL);
        else
            sb_add(&b, e->hosts[i]);
    }
}

/* ---- dyndns2 ---------------------------------------------------------- */

static void do_dyndns2(struct entry_run *e)
{
    const struct ddns_cfg *d = e->d;
    char hosts[8192], url[8192];
    join_hosts(e, hosts, sizeof hosts, 1);
    struct sbuf u = { url, sizeof url, 0, 0 };
    url[0] = '\0';
    sb_add(&u, d->server);
    sb_add(&u, strchr(d->server, '?') ? "&" : "?");
    sb_add(&u, "hostname=");
    sb_add(&u, hosts);
    if (e->addr4[0] && e->addr6[0]) {
        sb_add(&u, "&myip=");
        put_escaped(&u, e->addr4, DDNS_ESC_URL);
        sb_add(&u, "&myipv6=");
        put_escaped(&u, e->addr6, DDNS_ESC_URL);
    } else {
        sb_add(&u, "&myip=");
        put_escaped(&u, e->addr4[0] ? e->addr4 : e->addr6, DDNS_ESC_URL);
    }
    if (u.overflow) {
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, "config", "update URL too long");
        return;
    }
    struct curl_slist *hd = curl_slist_append(NULL, "Accept: text/plain");
    struct dbg_ctx dbg = { NULL };
    struct http_req q = { .method = "GET", .url = url, .headers = hd, .user = d->username,
                          .pass = e->secret, .ca_file = d->ca_file, .timeout = d->timeout,
                          .family = AF_UNSPEC, .dbg = &dbg };
    log_debug("ddns %s: GET %s", d->name, url);
    struct http_resp r;
    int rc = http_do(&q, &r);
    curl_slist_free_all(hd);
    if (rc < 0) {
        outcome_http_error(e, &r);
        http_resp_free(&r);
        return;
    }
    /* The body counts whatever the HTTP status (401 badauth, 200 for all
     * else by the specification; some servers use 4xx/5xx too). */
    struct ddns_line lines[DDNS_MAX_HOSTS];
    int n = ddns_parse_dyndns2(r.body, r.len, lines, DDNS_MAX_HOSTS);
    if (n < 0) {
        char pr[160];
        printable(pr, sizeof pr, r.body ? r.body : "", r.len > 120 ? 120 : r.len);
        if (r.status >= 500)
            outcome(e, DDNS_CLASS_RETRY, EX_TEMPFAIL, "HTTP error",
                    "HTTP %ld \"%s\"; next attempt in %d minutes at the earliest", r.status, pr,
                    DDNS_RETRY_MIN / 60);
        else
            outcome(e, DDNS_CLASS_RETRY, EX_PROTOCOL, "bad answer",
                    "HTTP %ld, no dyndns2 result in the answer \"%s\"", r.status, pr);
        http_resp_free(&r);
        return;
    }
    /* Per host: line i answers host i; one line answers them all when the
     * server rejected the whole request. */
    enum ddns_class cls = DDNS_CLASS_OK;
    int ex = 0;
    char summary[400] = "", first[80] = "";
    struct sbuf sm = { summary, sizeof summary, 0, 0 };
    for (int i = 0; i < e->nhosts; i++) {
        struct ddns_line unk = { .code = DDNS_UNKNOWN, .text = "(no line for this host)" };
        const struct ddns_line *l = i < n ? &lines[i] : n == 1 ? &lines[0] : &unk;
        enum ddns_class c = ddns_code_class(l->code);
        if (c > cls)
            cls = c;
        ex = exit_worst(ex, ddns_code_exit(l->code));
        if (i)
            sb_add(&sm, "; ");
        sb_add(&sm, e->hosts[i]);
        sb_add(&sm, ": ");
        sb_add(&sm, l->text);
        if ((l->code == DDNS_GOOD || l->code == DDNS_NOCHG) && l->addr[0]) {
            const char *want = e->addr4[0] ? e->addr4 : e->addr6;
            if (!strstr(l->addr, want))
                log_warn("ddns %s: %s: the server says it set %s, not %s as asked", d->name,
                         e->hosts[i], l->addr, want);
        }
        if (!first[0] || (c != DDNS_CLASS_OK && ddns_code_class(lines[0].code) == DDNS_CLASS_OK))
            snprintf(first, sizeof first, "%s", l->text);
    }
    if (n > e->nhosts) {
        cls = cls < DDNS_CLASS_RETRY ? DDNS_CLASS_RETRY : cls;
        ex = exit_worst(ex, EX_PROTOCOL);
        sb_add(&sm, "; more answer lines than host names");
    }
    http_resp_free(&r);
    switch (cls) {
    case DDNS_CLASS_OK:
        outcome(e, cls, 0, first, "%s", summary);
        break;
    case DDNS_CLASS_FATAL:
        outcome(e, cls, ex, first, "%s; this answer is final: no further update is sent until "
                "the ddns section or its password file changes", summary);
        break;
    case DDNS_CLASS_RETRY:
        outcome(e, cls, ex, first, "%s; next attempt in %d minutes at the earliest", summary,
                DDNS_RETRY_MIN / 60);
        break;
    }
}

/* ---- PowerDNS Authoritative HTTP API ---------------------------------- */

static int pdns_zone_url(const struct ddns_cfg *d, char *out, size_t outsz)
{
    char zone[NS_MAXDNAME + 2];
    snprintf(zone, sizeof zone, "%s", d->zone);
    size_t zl = strlen(zone);
    if (zl == 0 || zone[zl - 1] != '.') {
        if (zl + 1 >= sizeof zone)
            return -1;
        zone[zl] = '.';
        zone[zl + 1] = '\0';
    }
    struct sbuf b = { out, outsz, 0, 0 };
    out[0] = '\0';
    char base[2048];
    snprintf(base, sizeof base, "%s", d->server);
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        base[--bl] = '\0';
    sb_add(&b, base);
    if (!strstr(base, "/api/v1/servers/"))
        sb_add(&b, strstr(base, "/api/v1") ? "/servers/localhost" : "/api/v1/servers/localhost");
    sb_add(&b, "/zones/");
    put_escaped(&b, zone, DDNS_ESC_URL);
    return b.overflow ? -1 : 0;
}

/* Build the PATCH body with json-c (REPLACE every maintained rrset). */
static char *pdns_body(const struct entry_run *e)
{
    json_object *root = json_object_new_object();
    json_object *rrsets = json_object_new_array();
    for (int i = 0; i < e->nhosts; i++) {
        for (int fam = 0; fam < 2; fam++) {
            const char *a = fam == 0 ? e->addr4 : e->addr6;
            if (!a[0])
                continue;
            char name[NS_MAXDNAME + 2];
            snprintf(name, sizeof name, "%s.", e->hosts[i]);
            json_object *rr = json_object_new_object();
            json_object_object_add(rr, "name", json_object_new_string(name));
            json_object_object_add(rr, "type", json_object_new_string(fam == 0 ? "A" : "AAAA"));
            json_object_object_add(rr, "ttl", json_object_new_int(e->d->ttl));
            json_object_object_add(rr, "changetype", json_object_new_string("REPLACE"));
            json_object *recs = json_object_new_array();
            json_object *rec = json_object_new_object();
            json_object_object_add(rec, "content", json_object_new_string(a));
            json_object_object_add(rec, "disabled", json_object_new_boolean(0));
            json_object_array_add(recs, rec);
            json_object_object_add(rr, "records", recs);
            json_object_array_add(rrsets, rr);
        }
    }
    json_object_object_add(root, "rrsets", rrsets);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = s ? strdup(s) : NULL;
    json_object_put(root);
    return copy;
}

static void do_powerdns(struct entry_run *e)
{
    const struct ddns_cfg *d = e->d;
    char url[4096];
    if (pdns_zone_url(d, url, sizeof url) < 0) {
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, "config", "API URL too long");
        return;
    }
    char *body = pdns_body(e);
    if (!body) {
        outcome(e, DDNS_CLASS_RETRY, EX_OSERR, "out of memory", "out of memory");
        return;
    }
    char keyhdr[4200];
    snprintf(keyhdr, sizeof keyhdr, "X-API-Key: %s", e->secret);
    struct curl_slist *hd = curl_slist_append(NULL, keyhdr);
    secure_wipe(keyhdr, sizeof keyhdr);
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Accept: application/json");
    struct dbg_ctx dbg = { NULL };
    struct http_req q = { .method = "PATCH", .url = url, .headers = hd, .body = body,
                          .ca_file = d->ca_file, .timeout = d->timeout, .family = AF_UNSPEC,
                          .dbg = &dbg };
    log_debug("ddns %s: PATCH %s %s", d->name, url, body);
    struct http_resp r;
    int rc = http_do(&q, &r);
    for (struct curl_slist *p = hd; p; p = p->next)
        secure_wipe(p->data, strlen(p->data));
    curl_slist_free_all(hd);
    free(body);
    if (rc < 0) {
        outcome_http_error(e, &r);
    } else if (r.status == 204 || r.status == 200) {
        char res[80];
        snprintf(res, sizeof res, "HTTP %ld", r.status);
        outcome(e, DDNS_CLASS_OK, 0, res, "PowerDNS API answered %ld (%s%s%s set)", r.status,
                e->addr4, e->addr4[0] && e->addr6[0] ? ", " : "", e->addr6);
    } else {
        char msg[256];
        ddns_parse_pdns_error(r.body, r.len, msg, sizeof msg);
        outcome_http_status(e, r.status, msg);
    }
    http_resp_free(&r);
}

/* ---- custom ------------------------------------------------------------ */

static int has_header(const struct ddns_cfg *d, const char *name)
{
    size_t l = strlen(name);
    for (int i = 0; i < d->nheaders; i++)
        if (strncasecmp(d->headers[i], name, l) == 0 && d->headers[i][l] == ':')
            return i;
    return -1;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static enum ddns_esc body_escaping(const struct ddns_cfg *d, int *add_json_ct)
{
    *add_json_ct = 0;
    int ct = has_header(d, "Content-Type");
    if (ct >= 0) {
        const char *v = d->headers[ct];
        if (ci_contains(v, "json"))
            return DDNS_ESC_JSON;
        if (ci_contains(v, "x-www-form-urlencoded"))
            return DDNS_ESC_URL;
        return DDNS_ESC_NONE;
    }
    const char *b = d->body;
    while (b && isspace((unsigned char)*b))
        b++;
    if (b && (*b == '{' || *b == '[')) {
        *add_json_ct = 1;
        return DDNS_ESC_JSON;
    }
    return DDNS_ESC_URL;                    /* curl's default: a form */
}

static void do_custom_one(struct entry_run *e, const char *host, const char *type, const char *ip,
                          struct entry_run *acc)
{
    const struct ddns_cfg *d = e->d;
    struct ddns_vars v = { .hostname = host, .ip = ip, .ip4 = e->addr4, .ip6 = e->addr6,
                           .type = type, .secret = e->secret, .zone = d->zone };
    char url[8192], body[16384];
    char *hdrbuf = NULL;
    struct curl_slist *hd = NULL;
    const char *mask[CFG_MAX_HEADERS + 1] = { NULL };
    char masknames[CFG_MAX_HEADERS][64];
    int nmask = 0;
    if (ddns_expand(d->url, &v, DDNS_ESC_URL, url, sizeof url) < 0) {
        outcome(acc, DDNS_CLASS_FATAL, EX_CONFIG, "config", "url template: result too long");
        return;
    }
    int add_json = 0;
    enum ddns_esc besc = body_escaping(d, &add_json);
    if (d->body && ddns_expand(d->body, &v, besc, body, sizeof body) < 0) {
        outcome(acc, DDNS_CLASS_FATAL, EX_CONFIG, "config", "body template: result too long");
        secure_wipe(url, sizeof url);
        return;
    }
    hdrbuf = malloc(8192);
    for (int i = 0; hdrbuf && i < d->nheaders; i++) {
        if (ddns_expand(d->headers[i], &v, DDNS_ESC_HEADER, hdrbuf, 8192) < 0) {
            outcome(acc, DDNS_CLASS_FATAL, EX_CONFIG, "config",
                    "header template %d: too long or a value with a control character", i + 1);
            goto out;
        }
        hd = curl_slist_append(hd, hdrbuf);
        secure_wipe(hdrbuf, 8192);
        if (strstr(d->headers[i], "{secret}")) {
            const char *c = strchr(d->headers[i], ':');
            size_t l = c ? (size_t)(c - d->headers[i]) : 0;
            if (l > 0 && l < sizeof masknames[0]) {
                memcpy(masknames[nmask], d->headers[i], l);
                masknames[nmask][l] = '\0';
                mask[nmask] = masknames[nmask];
                nmask++;
            }
        }
    }
    if (add_json)
        hd = curl_slist_append(hd, "Content-Type: application/json");
    struct dbg_ctx dbg = { mask };
    struct http_req q = { .method = d->method ? d->method : "GET", .url = url, .headers = hd,
                          .body = d->body ? body : NULL, .ca_file = d->ca_file,
                          .timeout = d->timeout, .family = AF_UNSPEC, .dbg = &dbg };
    log_debug("ddns %s: %s %s (%s %s)", d->name, q.method, url, host, type);
    struct http_resp r;
    int rc = http_do(&q, &r);
    struct entry_run one = *acc;
    if (rc < 0) {
        outcome_http_error(&one, &r);
    } else if (r.status >= d->success_min && r.status <= d->success_max) {
        char res[32];
        snprintf(res, sizeof res, "HTTP %ld", r.status);
        outcome(&one, DDNS_CLASS_OK, 0, res, "%s set, HTTP %ld", ip, r.status);
    } else {
        char msg[200];
        printable(msg, sizeof msg, r.body ? r.body : "", r.len > 150 ? 150 : r.len);
        outcome_http_status(&one, r.status, msg);
    }
    http_resp_free(&r);
    /* accumulate the worst */
    if (one.cls > acc->cls || (one.cls == acc->cls && exit_worst(acc->exit, one.exit) != acc->exit) ||
        !acc->result[0]) {
        acc->cls = one.cls;
        acc->exit = exit_worst(acc->exit, one.exit);
        snprintf(acc->result, sizeof acc->result, "%s", one.result);
        snprintf(acc->detail, sizeof acc->detail, "%.200s %s: %.280s", host, type, one.detail);
    }
out:
    for (struct curl_slist *p = hd; p; p = p->next)
        secure_wipe(p->data, strlen(p->data));
    curl_slist_free_all(hd);
    if (hdrbuf) {
        secure_wipe(hdrbuf, 8192);
        free(hdrbuf);
    }
    secure_wipe(url, sizeof url);
    secure_wipe(body, sizeof body);
}

static void do_custom(struct entry_run *e)
{
    e->cls = DDNS_CLASS_OK;
    e->exit = 0;
    e->result[0] = '\0';
    e->detail[0] = '\0';
    for (int i = 0; i < e->nhosts && e->cls != DDNS_CLASS_FATAL; i++) {
        if (e->addr4[0])
            do_custom_one(e, e->hosts[i], "A", e->addr4, e);
        if (e->addr6[0] && e->cls != DDNS_CLASS_FATAL)
            do_custom_one(e, e->hosts[i], "AAAA", e->addr6, e);
    }
}

/* ======================================================================
 * Waiting for the authoritative server
 * ====================================================================== */

/* "addr", "addr:port", "[v6]:port", "v6", "name[:port]" -> sockaddr. */
static int parse_server(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, char *err, size_t errsz)
{
    char host[256], port[16] = "53";
    const char *colon = strrchr(spec, ':');
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || (size_t)(rb - spec - 1) >= sizeof host || (rb[1] && rb[1] != ':')) {
            snprintf(err, errsz, "wait-server \"%s\": expected [ADDR]:PORT", spec);
            return -1;
        }
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        host[rb - spec - 1] = '\0';
        if (rb[1] == ':')
            snprintf(port, sizeof port, "%s", rb + 2);
    } else if (colon && strchr(spec, ':') == colon) {
        if ((size_t)(colon - spec) >= sizeof host) {
            snprintf(err, errsz, "wait-server \"%s\": host too long", spec);
            return -1;
        }
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        snprintf(port, sizeof port, "%s", colon + 1);
    } else {
        if (strlen(spec) >= sizeof host) {
            snprintf(err, errsz, "wait-server \"%s\": host too long", spec);
            return -1;
        }
        strcpy(host, spec);                     /* bare IPv6 or name, port 53 */
    }
    char *endp;
    long pn = strtol(port, &endp, 10);
    if (!port[0] || *endp || pn < 1 || pn > 65535) {
        snprintf(err, errsz, "wait-server \"%s\": bad port", spec);
        return -1;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0 || !res) {
        snprintf(err, errsz, "wait-server \"%s\": %s", spec, gai_strerror(g));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* One query (RD off: we ask the authoritative server itself).  Returns the
 * number of addresses, -1 on timeout/error. */
static int dns_query(const struct sockaddr_storage *ss, socklen_t sl, const char *name, int qtype,
                     char (*out)[DDNS_ADDR_MAX], int max, int64_t deadline)
{
    struct __res_state rs;
    memset(&rs, 0, sizeof rs);
    if (res_ninit(&rs) < 0)
        return -1;
    rs.options &= ~(unsigned long)RES_RECURSE;
    unsigned char q[NS_PACKETSZ];
    int qlen = res_nmkquery(&rs, ns_o_query, name, ns_c_in, qtype, NULL, 0, NULL, q, sizeof q);
    res_nclose(&rs);
    if (qlen < NS_HFIXEDSZ)
        return -1;
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int n = -1;
    if (connect(fd, (const struct sockaddr *)ss, sl) < 0 || send(fd, q, (size_t)qlen, 0) != qlen)
        goto out;
    for (;;) {
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0)
            goto out;
        unsigned char a[4096];
        ssize_t got = recv(fd, a, sizeof a, 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            goto out;                           /* e.g. ECONNREFUSED */
        }
        if (got < NS_HFIXEDSZ || a[0] != q[0] || a[1] != q[1])
            continue;                           /* not our answer */
        n = ddns_parse_dns_answer(a, (size_t)got, name, qtype, out, max);
        goto out;
    }
out:
    close(fd);
    return n;
}

static int sleep_until(int64_t deadline)
{
    while (!etp_abort) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = { .tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000L };
        if (left > 250) {
            ts.tv_sec = 0;
            ts.tv_nsec = 250 * 1000000L;
        }
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* Wait until wait-server serves the new addresses for every host.  0 ok,
 * -1 timed out / unusable (a warning; the update itself succeeded). */
static int wait_served(const struct entry_run *e)
{
    const struct ddns_cfg *d = e->d;
    struct sockaddr_storage ss;
    socklen_t sl;
    char err[300];
    if (parse_server(d->wait_server, &ss, &sl, err, sizeof err) < 0) {
        log_warn("ddns %s: %s; not waiting", d->name, err);
        return -1;
    }
    int64_t start = now_ms(), deadline = start + (int64_t)d->wait_timeout * 1000;
    int done[DDNS_MAX_HOSTS][2] = { { 0 } };
    char last[DDNS_ADDR_MAX] = "";
    for (;;) {
        int pending = 0;
        for (int i = 0; i < e->nhosts; i++) {
            for (int f = 0; f < 2; f++) {
                const char *want = f == 0 ? e->addr4 : e->addr6;
                if (!want[0] || done[i][f])
                    continue;
                char got[8][DDNS_ADDR_MAX];
                int64_t qd = now_ms() + 1000;
                int n = dns_query(&ss, sl, e->hosts[i], f == 0 ? ns_t_a : ns_t_aaaa, got, 8,
                                  qd < deadline ? qd : deadline);
                int ok = 0;
                last[0] = '\0';
                for (int k = 0; k < n; k++) {
                    if (strcmp(got[k], want) == 0)
                        ok = 1;
                    else
                        snprintf(last, sizeof last, "%.45s", got[k]);
                }
                if (ok) {
                    done[i][f] = 1;
                    log_info("ddns %s: %s serves %s %s %s (after %lld ms)", d->name, d->wait_server,
                             e->hosts[i], f == 0 ? "A" : "AAAA", want, (long long)(now_ms() - start));
                } else {
                    pending++;
                }
            }
        }
        if (!pending)
            return 0;
        if (now_ms() >= deadline || etp_abort)
            break;
        int64_t next = now_ms() + 1000;
        if (sleep_until(next < deadline ? next : deadline) < 0)
            break;
    }
    log_warn("ddns %s: %s does not serve the new address yet after %d s%s%s; sending ETRN anyway",
             d->name, d->wait_server, d->wait_timeout, last[0] ? " (still " : "", last[0] ? last : "");
    if (last[0])
        log_warn("ddns %s: (the last answer was %s)", d->name, last);
    return -1;
}

/* ======================================================================
 * Entry points
 * ====================================================================== */

static void warn_addr(const struct ddns_cfg *d, const char *addr, const char *how)
{
    enum ddns_addr_kind k = ddns_classify_addr(addr);
    if (k == DDNS_ADDR_PUBLIC)
        return;
    log_warn("ddns %s: the address %s (from %s) is %s: the relay cannot connect back to this "
             "address; ETRN will not deliver%s", d->name, addr, how, ddns_addr_kind_name(k),
             d->on_private == PRIV_SKIP ? " (on-private-address = skip: not updating)"
                                        : " (on-private-address = warn: updating anyway)");
}

/* Find the addresses of the entry: 0 ok (at least one family), else exit code. */
static int entry_addresses(struct entry_run *e, const struct uplink *up, int *nonpublic)
{
    const struct ddns_cfg *d = e->d;
    int fams[2] = { AF_INET, AF_INET6 };
    int want[2] = { d->ipv4, d->ipv6 };
    char *dst[2] = { e->addr4, e->addr6 };
    int found = 0;
    *nonpublic = 0;
    for (int f = 0; f < 2; f++) {
        if (!want[f])
            continue;
        char how[160] = "", err[600] = "";
        char ifaddr[DDNS_ADDR_MAX] = "", ifhow[160] = "";
        int have_if = uplink_addr(d, up, fams[f], ifaddr, sizeof ifaddr, ifhow, sizeof ifhow) == 0;
        if (d->source == ADDR_URL) {
            if (checkip(d, fams[f], dst[f], DDNS_ADDR_MAX, err, sizeof err) < 0) {
                log_warn("ddns %s: %s", d->name, err);
                dst[f][0] = '\0';
                continue;
            }
            snprintf(how, sizeof how, "%s", fams[f] == AF_INET ? d->checkip_url : d->checkip_url6);
            if (have_if && strcmp(ifaddr, dst[f]) != 0)
                log_warn("ddns %s: the check-IP address %s differs from the local address %s "
                         "(from %s): NAT; unless the NAT forwards port 25 here, the relay "
                         "cannot connect back to this address; ETRN will not deliver",
                         d->name, dst[f], ifaddr, ifhow);
        } else {
            if (!have_if) {
                log_warn("ddns %s: no IPv%d address: %s", d->name, fams[f] == AF_INET ? 4 : 6, ifhow);
                dst[f][0] = '\0';
                continue;
            }
            snprintf(dst[f], DDNS_ADDR_MAX, "%s", ifaddr);
            snprintf(how, sizeof how, "%s", ifhow);
        }
        log_debug("ddns %s: IPv%d address %s (from %s)", d->name, fams[f] == AF_INET ? 4 : 6, dst[f], how);
        if (ddns_classify_addr(dst[f]) != DDNS_ADDR_PUBLIC) {
            warn_addr(d, dst[f], how);
            (*nonpublic)++;
        }
        found++;
    }
    return found ? 0 : EX_TEMPFAIL;
}

static int read_entry_secret(const struct ddns_cfg *d, char **secret, char *err, size_t errsz)
{
    *secret = NULL;
    if (!d->password_file)
        return 0;
    if (secret_read(d->password_file, secret, err, errsz) < 0)
        return -1;
    register_secret(d->proto == DDNS_DYNDNS2 ? d->username : NULL, *secret);
    return 0;
}

/* Run one entry; returns its exit code, sets *changed. */
static int run_entry(const struct ddns_cfg *d, const struct uplink *up, json_object *root,
                     const char *state_dir, struct entry_run *e, int *changed)
{
    memset(e, 0, sizeof *e);
    e->d = d;
    *changed = 0;
    e->nhosts = split_hosts(d->hostname, e->hosts, DDNS_MAX_HOSTS);
    if (e->nhosts <= 0) {
        log_err("ddns %s: hostname: %s", d->name, e->nhosts < 0 ? "more than 20 names or a name too long" : "empty");
        return EX_CONFIG;
    }
    for (int i = 0; i < e->nhosts; i++) {
        const char *why = hostname_invalid(e->hosts[i]);
        if (why) {
            log_err("ddns %s: hostname \"%s\": %s", d->name, e->hosts[i], why);
            return EX_CONFIG;
        }
    }
    int nonpublic = 0;
    int rc = entry_addresses(e, up, &nonpublic);
    if (rc != 0) {
        log_err("ddns %s: no address to publish for %s (tried IPv4%s); not updated, will try "
                "on the next poll", d->name, d->hostname, d->ipv6 ? " and IPv6" : "");
        return rc;
    }
    if (nonpublic && d->on_private == PRIV_SKIP) {
        log_notice("ddns %s: not updating %s: the address is not public (on-private-address = skip)",
                   d->name, d->hostname);
        return 0;
    }

    char hash[17];
    entry_hash(d, hash);
    struct ddns_entry_state st;
    state_from_json(state_entry(root, d->name), &st);
    int64_t now = now_wall();
    enum ddns_action act = ddns_decide(&st, hash, e->addr4, e->addr6, d->force_refresh_days, now);
    char when[40], next[40];
    fmt_time(st.updated, when, sizeof when);
    char addrs[2 * DDNS_ADDR_MAX + 2];
    snprintf(addrs, sizeof addrs, "%s%s%s", e->addr4, e->addr4[0] && e->addr6[0] ? "," : "", e->addr6);
    switch (act) {
    case DDNS_ACT_FATAL:
        fmt_time(st.attempt, next, sizeof next);
        log_err("ddns %s: not sending an update for %s: the provider answered \"%s\" at %s and "
                "that answer is final; fix the ddns section (or rewrite its secret file) to "
                "clear it", d->name, d->hostname, st.result, next);
        return st.exit ? st.exit : EX_CONFIG;
    case DDNS_ACT_WAIT:
        fmt_time(st.retry_after, next, sizeof next);
        log_warn("ddns %s: not updating %s to %s yet: the last attempt failed temporarily (%s); "
                 "next attempt not before %s", d->name, d->hostname, addrs, st.result, next);
        return EX_TEMPFAIL;
    case DDNS_ACT_UNCHANGED:
        log_info("ddns %s: %s unchanged (%s, last update %s): nothing sent", d->name, d->hostname,
                 addrs, when);
        return 0;
    case DDNS_ACT_REFRESH:
        log_info("ddns %s: %s unchanged (%s) but last updated %s: refreshing (force-refresh-days = %d)",
                 d->name, d->hostname, addrs, when, d->force_refresh_days);
        break;
    case DDNS_ACT_UPDATE:
        if (st.addr4[0] || st.addr6[0])
            log_info("ddns %s: address of %s changed (%s%s%s -> %s): updating", d->name, d->hostname,
                     st.addr4, st.addr4[0] && st.addr6[0] ? "," : "", st.addr6, addrs);
        else
            log_info("ddns %s: updating %s to %s", d->name, d->hostname, addrs);
        break;
    }

    char err[600];
    if (read_entry_secret(d, &e->secret, err, sizeof err) < 0) {
        log_err("ddns %s: %s", d->name, err);
        return EX_CONFIG;
    }
    switch (d->proto) {
    case DDNS_DYNDNS2: do_dyndns2(e); break;
    case DDNS_POWERDNS: do_powerdns(e); break;
    case DDNS_CUSTOM: do_custom(e); break;
    }
    secret_free(e->secret);
    e->secret = NULL;

    if (etp_abort && e->cls != DDNS_CLASS_OK) {
        log_warn("ddns %s: aborted", d->name);
        return EX_TEMPFAIL;
    }
    ddns_record(&st, hash, e->cls, e->exit, e->result, e->addr4, e->addr6, now_wall());
    json_object *ents = state_entries(root);
    if (ents) {
        json_object_object_add(ents, d->name, state_to_json(&st, d));
        state_write_json(state_dir, DDNS_STATE_FILE, root);
    }
    switch (e->cls) {
    case DDNS_CLASS_OK:
        log_notice("ddns %s: %s -> %s: %s (%s)", d->name, d->hostname, addrs, e->result, e->detail);
        *changed = 1;
        return 0;
    case DDNS_CLASS_FATAL:
        log_err("ddns %s: update of %s failed: %s", d->name, d->hostname, e->detail);
        return e->exit;
    case DDNS_CLASS_RETRY:
    default:
        log_err("ddns %s: update of %s failed: %s", d->name, d->hostname, e->detail);
        return e->exit ? e->exit : EX_TEMPFAIL;
    }
}

static json_object *load_state(const char *dir)
{
    json_object *root = state_read_json(dir, DDNS_STATE_FILE);
    if (root && !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = NULL;
    }
    if (!root) {
        if (errno != ENOENT)
            log_warn("ddns: %s/%s is unreadable; starting afresh", dir, DDNS_STATE_FILE);
        root = json_object_new_object();
    }
    if (!state_entries(root))
        json_object_object_add(root, "entries", json_object_new_object());
    json_object_object_add(root, "version", json_object_new_int(1));
    return root;
}

int ddns_run_all(const struct etp_config *cfg, const struct uplink *up, struct ddns_summary *sum)
{
    struct ddns_summary dummy;
    if (!sum)
        sum = &dummy;
    memset(sum, 0, sizeof *sum);
    if (cfg->nddns == 0)
        return 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object *root = load_state(cfg->state_dir);
    /* forget entries that are no longer configured */
    json_object *ents = state_entries(root);
    if (ents) {
        const char *drop[64];
        int ndrop = 0;
        json_object_object_foreach(ents, key, val) {
            (void)val;
            int known = 0;
            for (int i = 0; i < cfg->nddns; i++)
                known |= strcmp(cfg->ddns[i].name, key) == 0;
            if (!known && ndrop < 64)
                drop[ndrop++] = key;
        }
        for (int i = 0; i < ndrop; i++)
            json_object_object_del(ents, drop[i]);
    }
    struct entry_run *runs = calloc((size_t)cfg->nddns, sizeof *runs);
    int *changed = calloc((size_t)cfg->nddns, sizeof *changed);
    if (!runs || !changed) {
        free(runs);
        free(changed);
        json_object_put(root);
        log_err("ddns: out of memory");
        sum->exit = EX_OSERR;
        return EX_OSERR;
    }
    int worst = 0;
    for (int i = 0; i < cfg->nddns && !etp_abort; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        int rc = run_entry(d, up, root, cfg->state_dir, &runs[i], &changed[i]);
        sum->entries++;
        if (changed[i])
            sum->changed++;
        if (rc != 0) {
            sum->failed++;
            if (d->required)
                sum->required_failed = 1;
        }
        worst = exit_worst(worst, rc);
    }
    /* After a change: wait until the name is served, or a fixed delay. */
    int64_t t0 = now_ms();
    int delay = 0;
    for (int i = 0; i < cfg->nddns && !etp_abort; i++) {
        if (!changed[i])
            continue;
        const struct ddns_cfg *d = &cfg->ddns[i];
        if (d->wait_server)
            wait_served(&runs[i]);
        else if (d->delay_after_change > delay)
            delay = d->delay_after_change;
    }
    if (delay > 0 && !etp_abort) {
        int64_t until = t0 + (int64_t)delay * 1000;
        if (until > now_ms()) {
            log_info("ddns: waiting %d s after the change (delay-after-change)", delay);
            sleep_until(until);
        }
    }
    free(runs);
    free(changed);
    json_object_put(root);
    curl_global_cleanup();
    sum->exit = worst;
    return worst;
}

/* ---- check -------------------------------------------------------------- */

static int check_url(const struct ddns_cfg *d, const char *what, const char *url, int is_template,
                     int has_secret)
{
    int rc = 0;
    char buf[8192];
    const char *u = url;
    if (is_template) {
        char bad[40];
        if (ddns_template_check(url, bad, sizeof bad) < 0) {
            log_err("ddns %s: %s: unknown placeholder %s (known: {hostname} {ip} {ip4} {ip6} "
                    "{type} {secret} {zone})", d->name, what, bad);
            rc = EX_CONFIG;
        }
        struct ddns_vars v = { "host.example", "192.0.2.1", "192.0.2.1", "2001:db8::1", "A",
                               "secret", "example" };
        if (ddns_expand(url, &v, DDNS_ESC_URL, buf, sizeof buf) < 0) {
            log_err("ddns %s: %s: too long", d->name, what);
            return EX_CONFIG;
        }
        u = buf;
    }
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!h || curl_url_set(h, CURLUPART_URL, u, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        log_err("ddns %s: %s \"%s\" is not a valid URL", d->name, what, url);
        rc = EX_CONFIG;
    } else if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
        log_err("ddns %s: %s \"%s\": only http:// and https:// are allowed", d->name, what, url);
        rc = EX_CONFIG;
    } else if (strcasecmp(scheme, "http") == 0 && has_secret) {
        char h6[300];
        snprintf(h6, sizeof h6, "%s", host);
        enum ddns_addr_kind k = ddns_classify_addr(h6[0] == '[' ? "" : h6);
        if (k != DDNS_ADDR_LOOPBACK)
            log_warn("ddns %s: %s uses http://: the secret travels in clear text; use https://",
                     d->name, what);
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(h);
    return rc;
}

int ddns_check(const struct etp_config *cfg)
{
    int worst = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < cfg->nddns; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        int rc = 0;
        char hosts[DDNS_MAX_HOSTS][NS_MAXDNAME];
        int nh = split_hosts(d->hostname, hosts, DDNS_MAX_HOSTS);
        if (nh <= 0) {
            log_err("ddns %s: hostname: %s", d->name, nh < 0 ? "more than 20 names or a name too long" : "empty");
            rc = EX_CONFIG;
        }
        for (int k = 0; k < nh; k++) {
            const char *why = hostname_invalid(hosts[k]);
            if (why) {
                log_err("ddns %s: hostname \"%s\": %s", d->name, hosts[k], why);
                rc = EX_CONFIG;
            }
            if (d->proto == DDNS_POWERDNS && d->zone && !host_in_zone(hosts[k], d->zone)) {
                log_err("ddns %s: hostname \"%s\" is not in zone %s", d->name, hosts[k], d->zone);
                rc = EX_CONFIG;
            }
        }
        int uses_secret = d->password_file != NULL;
        if (d->proto == DDNS_CUSTOM) {
            int in_tmpl = (d->url && strstr(d->url, "{secret}")) || (d->body && strstr(d->body, "{secret}"));
            for (int k = 0; k < d->nheaders; k++) {
                char bad[40];
                in_tmpl |= strstr(d->headers[k], "{secret}") != NULL;
                if (!strchr(d->headers[k], ':') || d->headers[k][0] == ':') {
                    log_err("ddns %s: header \"%s\" is not \"Name: value\"", d->name, d->headers[k]);
                    rc = EX_CONFIG;
                }
                if (ddns_template_check(d->headers[k], bad, sizeof bad) < 0) {
                    log_err("ddns %s: header \"%s\": unknown placeholder %s", d->name, d->headers[k], bad);
                    rc = EX_CONFIG;
                }
                char tmp[8192];
                struct ddns_vars v = { "h", "1", "1", "1", "A", "s", "z" };
                if (ddns_expand(d->headers[k], &v, DDNS_ESC_HEADER, tmp, sizeof tmp) < 0) {
                    log_err("ddns %s: header %d has control characters or is too long", d->name, k + 1);
                    rc = EX_CONFIG;
                }
            }
            if (d->body) {
                char bad[40];
                if (ddns_template_check(d->body, bad, sizeof bad) < 0) {
                    log_err("ddns %s: body: unknown placeholder %s", d->name, bad);
                    rc = EX_CONFIG;
                }
            }
            if (in_tmpl && !d->password_file) {
                log_err("ddns %s: the templates use {secret} but there is no password-file", d->name);
                rc = EX_CONFIG;
            }
            if (d->password_file && !in_tmpl)
                log_warn("ddns %s: password-file is set but no template uses {secret}", d->name);
            uses_secret = in_tmpl;
            if (d->url)
                rc = exit_worst(rc, check_url(d, "url", d->url, 1, uses_secret));
        }
        if (d->server && d->proto != DDNS_CUSTOM)
            rc = exit_worst(rc, check_url(d, "server", d->server, 0, uses_secret));
        if (d->source == ADDR_URL) {
            if (d->ipv4 && d->checkip_url)
                rc = exit_worst(rc, check_url(d, "check-ip-url", d->checkip_url, 0, 0));
            if (d->ipv6 && d->checkip_url6)
                rc = exit_worst(rc, check_url(d, "check-ip-url6", d->checkip_url6, 0, 0));
        }
        if (d->password_file) {
            char *s = NULL, err[600];
            if (secret_read(d->password_file, &s, err, sizeof err) < 0) {
                log_err("ddns %s: %s", d->name, err);
                rc = EX_CONFIG;
            } else {
                log_add_secret(s);
                for (const char *p = s; *p; p++)
                    if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
                        log_err("ddns %s: %s: the secret contains a control character",
                                d->name, d->password_file);
                        rc = EX_CONFIG;
                        break;
                    }
                secret_free(s);
            }
        }
        if (d->wait_server) {
            struct sockaddr_storage ss;
            socklen_t sl;
            char err[300];
            if (parse_server(d->wait_server, &ss, &sl, err, sizeof err) < 0) {
                log_err("ddns %s: %s", d->name, err);
                rc = EX_CONFIG;
            }
        }
        if (d->interface && if_nametoindex(d->interface) == 0)
            log_warn("ddns %s: interface %s does not exist (yet?)", d->name, d->interface);
        if (rc == 0)
            log_info("ddns %s: OK (%s, %s)", d->name,
                     d->proto == DDNS_DYNDNS2 ? "dyndns2" : d->proto == DDNS_POWERDNS ? "powerdns" : "custom",
                     d->hostname);
        worst = exit_worst(worst, rc);
    }
    curl_global_cleanup();
    return worst;
}

/* ---- status ------------------------------------------------------------ */

static void ago(int64_t t, int64_t now, char *out, size_t outsz)
{
    int64_t s = now - t;
    if (t <= 0)
        snprintf(out, outsz, "%s", "");
    else if (s < 0)
        snprintf(out, outsz, " (in the future: clock changed?)");
    else if (s < 120)
        snprintf(out, outsz, " (%lld s ago)", (long long)s);
    else if (s < 7200)
        snprintf(out, outsz, " (%lld min ago)", (long long)(s / 60));
    else if (s < 172800)
        snprintf(out, outsz, " (%lld h ago)", (long long)(s / 3600));
    else
        snprintf(out, outsz, " (%lld days ago)", (long long)(s / 86400));
}

void ddns_status(FILE *out, const struct etp_config *cfg)
{
    json_object *root = state_read_json(cfg->state_dir, DDNS_STATE_FILE);
    int64_t now = now_wall();
    for (int i = 0; i < cfg->nddns; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        struct ddns_entry_state st;
        json_object *je = state_entry(root, d->name);
        state_from_json(je, &st);
        fprintf(out, "ddns %s (%s, %s):\n", d->name,
                d->proto == DDNS_DYNDNS2 ? "dyndns2" : d->proto == DDNS_POWERDNS ? "powerdns" : "custom",
                d->hostname ? d->hostname : "?");
        if (!je) {
            fprintf(out, "  no update sent yet\n");
            continue;
        }
        char t[40], a[64];
        fmt_time(st.updated, t, sizeof t);
        ago(st.updated, now, a, sizeof a);
        if (st.updated > 0)
            fprintf(out, "  last update:  %s%s, address %s%s%s\n", t, a, st.addr4,
                    st.addr4[0] && st.addr6[0] ? " " : "", st.addr6);
        else
            fprintf(out, "  last update:  never succeeded\n");
        fmt_time(st.attempt, t, sizeof t);
        ago(st.attempt, now, a, sizeof a);
        fprintf(out, "  last attempt: %s%s: %s (%s)\n", t, a, st.result[0] ? st.result : "-",
                exit_name(st.exit));
        char h[17];
        entry_hash(d, h);
        if (st.fatal && strcmp(h, st.cfg_hash) == 0)
            fprintf(out, "  FAILED for good: no update is sent until the ddns section or its secret "
                    "file changes\n");
        else if (st.fatal)
            fprintf(out, "  the last answer was final, but the configuration changed since: the next "
                    "poll sends an update\n");
        else if (st.retry_after > now) {
            fmt_time(st.retry_after, t, sizeof t);
            fprintf(out, "  next attempt not before %s\n", t);
        }
        if (strcmp(h, st.cfg_hash) != 0 && !st.fatal)
            fprintf(out, "  configuration changed since: the next poll sends an update\n");
        else if (st.updated > 0 && d->force_refresh_days > 0 && !st.fatal) {
            fmt_time(st.updated + (int64_t)d->force_refresh_days * 86400, t, sizeof t);
            fprintf(out, "  refresh due:  %s (unless the address changes first)\n", t);
        }
    }
    if (root)
        json_object_put(root);
}
