/* SPDX-License-Identifier: ISC */
/* learn.c — the learned per-relay state: parser, writer, arithmetic (pure).
 *
 * Document:
 *   { "version": 1,
 *     "relays": [ { "relay": "isp", "config": "0123456789abcdef",
 *                   "sources": [ { "addr": "10.64.0.1", "last_ms": 1700000000000 } ],
 *                   "contact_ms": [ 420, 380 ], "gap_ms": [ 0, 1200 ],
 *                   "polls_with_mail": 2, "empty_streak": 0,
 *                   "last_mail_ms": 1700000000000 } ] }
 * Every field is checked for type and range; unknown fields are ignored. */
#include "hold/learn.h"
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_MS ((int64_t)366 * 24 * 3600 * 1000)   /* a sample over a year is nonsense */
#define MAX_WALL ((int64_t)1 << 50)

static int get_int(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
        return -1;
    int64_t n = json_object_get_int64(x);
    if (n < lo || n > hi)
        return -1;
    *v = n;
    return 0;
}

static int get_samples(json_object *o, const char *key, int64_t *out, int *n)
{
    *n = 0;
    json_object *a;
    if (!json_object_object_get_ex(o, key, &a))
        return 0;                 /* absent: none */
    if (!json_object_is_type(a, json_type_array))
        return -1;
    size_t len = json_object_array_length(a);
    if (len > HOLD_LEARN_MAX_SAMPLES)
        return -1;
    for (size_t i = 0; i < len; i++) {
        json_object *x = json_object_array_get_idx(a, i);
        if (!x || !json_object_is_type(x, json_type_int))
            return -1;
        int64_t v = json_object_get_int64(x);
        if (v < 0 || v > MAX_MS)
            return -1;
        out[(*n)++] = v;
    }
    return 0;
}

static int printable_name(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static int parse_entry(json_object *e, struct hold_learned *l)
{
    memset(l, 0, sizeof *l);
    if (!json_object_is_type(e, json_type_object))
        return -1;
    json_object *x;
    if (!json_object_object_get_ex(e, "relay", &x) || !json_object_is_type(x, json_type_string))
        return -1;
    const char *name = json_object_get_string(x);
    size_t nl = strlen(name);
    if (nl == 0 || nl >= sizeof l->relay || nl != (size_t)json_object_get_string_len(x) ||
        !printable_name(name))
        return -1;
    memcpy(l->relay, name, nl + 1);
    if (!json_object_object_get_ex(e, "config", &x) || !json_object_is_type(x, json_type_string))
        return -1;
    const char *id = json_object_get_string(x);
    if (strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
        return -1;
    memcpy(l->config, id, 17);
    if (json_object_object_get_ex(e, "sources", &x)) {
        if (!json_object_is_type(x, json_type_array) ||
            json_object_array_length(x) > HOLD_LEARN_MAX_SOURCES)
            return -1;
        for (size_t i = 0; i < json_object_array_length(x); i++) {
            json_object *s = json_object_array_get_idx(x, i), *a;
            if (!s || !json_object_is_type(s, json_type_object) ||
                !json_object_object_get_ex(s, "addr", &a) ||
                !json_object_is_type(a, json_type_string))
                return -1;
            struct hold_prefix p;
            const char *as = json_object_get_string(a);
            if (strchr(as, '/') || hold_prefix_parse(as, &p) < 0)
                return -1;
            int64_t last = 0;
            if (get_int(s, "last_ms", 0, MAX_WALL, &last) < 0)
                return -1;
            struct hold_source *src = &l->sources[l->nsources++];
            src->family = p.family;
            memcpy(src->addr, p.addr, 16);
            src->last_ms = last;
        }
    }
    if (get_samples(e, "contact_ms", l->contact_ms, &l->ncontacts) < 0 ||
        get_samples(e, "gap_ms", l->gap_ms, &l->ngaps) < 0)
        return -1;
    if (get_int(e, "polls_with_mail", 0, INT32_MAX, &l->polls_with_mail) < 0 ||
        get_int(e, "empty_streak", 0, INT32_MAX, &l->empty_streak) < 0 ||
        get_int(e, "last_mail_ms", 0, MAX_WALL, &l->last_mail_ms) < 0)
        return -1;
    return 0;
}

int hold_learn_parse(const char *text, size_t len, struct hold_learned *out, size_t max,
                     int *skipped, char *err, size_t errsize)
{
    *skipped = 0;
    if (len > HOLD_LEARN_MAX_BYTES) {
        snprintf(err, errsize, "larger than %d bytes", HOLD_LEARN_MAX_BYTES);
        return -1;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errsize, "contains a NUL byte");
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(16);
    if (!tok) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || je != json_tokener_success) {
        json_object_put(root);
        snprintf(err, errsize, "not JSON (%s)", json_tokener_error_desc(je));
        return -1;
    }
    for (; used < len; used++)
        if (text[used] != ' ' && text[used] != '\n' && text[used] != '\t' && text[used] != '\r') {
            json_object_put(root);
            snprintf(err, errsize, "text after the JSON document");
            return -1;
        }
    json_object *v, *relays;
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) != 1 || !json_object_object_get_ex(root, "relays", &relays) ||
        !json_object_is_type(relays, json_type_array)) {
        json_object_put(root);
        snprintf(err, errsize, "not a version 1 learned-state document");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(relays); i++) {
        struct hold_learned l;
        if (n >= max || parse_entry(json_object_array_get_idx(relays, i), &l) < 0) {
            (*skipped)++;
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= strcmp(out[k].relay, l.relay) == 0;
        if (dup) {
            (*skipped)++;
            continue;
        }
        out[n++] = l;
    }
    json_object_put(root);
    return (int)n;
}

static json_object *samples_json(const int64_t *v, int n)
{
    json_object *a = json_object_new_array();
    for (int i = 0; a && i < n; i++)
        json_object_array_add(a, json_object_new_int64(v[i]));
    return a;
}

char *hold_learn_format(const struct hold_learned *l, size_t n)
{
    json_object *root = json_object_new_object();
    if (!root)
        return NULL;
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object *arr = json_object_new_array();
    json_object_object_add(root, "relays", arr);
    for (size_t i = 0; arr && i < n; i++) {
        json_object *e = json_object_new_object();
        if (!e)
            break;
        json_object_object_add(e, "relay", json_object_new_string(l[i].relay));
        json_object_object_add(e, "config", json_object_new_string(l[i].config));
        json_object *src = json_object_new_array();
        for (int k = 0; src && k < l[i].nsources; k++) {
            char a[INET6_ADDRSTRLEN];
            const struct hold_source *s = &l[i].sources[k];
            if (!inet_ntop(s->family == AF_INET6 ? AF_INET6 : AF_INET, s->addr, a, sizeof a))
                continue;
            json_object *so = json_object_new_object();
            json_object_object_add(so, "addr", json_object_new_string(a));
            json_object_object_add(so, "last_ms", json_object_new_int64(s->last_ms));
            json_object_array_add(src, so);
        }
        json_object_object_add(e, "sources", src);
        json_object_object_add(e, "contact_ms", samples_json(l[i].contact_ms, l[i].ncontacts));
        json_object_object_add(e, "gap_ms", samples_json(l[i].gap_ms, l[i].ngaps));
        json_object_object_add(e, "polls_with_mail", json_object_new_int64(l[i].polls_with_mail));
        json_object_object_add(e, "empty_streak", json_object_new_int64(l[i].empty_streak));
        json_object_object_add(e, "last_mail_ms", json_object_new_int64(l[i].last_mail_ms));
        json_object_array_add(arr, e);
    }
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
    char *r = s ? strdup(s) : NULL;
    json_object_put(root);
    return r;
}

void hold_learn_id(const char *host, int port, int hold_port, const char *local_address,
                   const char *source, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    char buf[64];
    const char *parts[5];
    snprintf(buf, sizeof buf, "%d/%d", port, hold_port);
    parts[0] = host ? host : "";
    parts[1] = buf;
    parts[2] = local_address ? local_address : "";
    parts[3] = source ? source : "";
    parts[4] = NULL;
    for (int i = 0; parts[i]; i++) {
        for (const char *p = parts[i]; *p; p++) {
            h ^= (uint8_t)*p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;                /* separator: ("ab","c") != ("a","bc") */
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int64_t hold_learn_slowest(const struct hold_learned *l)
{
    int64_t m = -1;
    for (int i = 0; i < l->ncontacts && i < HOLD_LEARN_MAX_SAMPLES; i++)
        if (l->contact_ms[i] > m)
            m = l->contact_ms[i];
    return m;
}

int64_t hold_learn_gap(const struct hold_learned *l)
{
    int64_t m = 0;
    for (int i = 0; i < l->ngaps && i < HOLD_LEARN_MAX_SAMPLES; i++)
        if (l->gap_ms[i] > m)
            m = l->gap_ms[i];
    return m;
}

int64_t hold_learn_bound(const struct hold_learned *l, int64_t first_contact_ms)
{
    int64_t slow = hold_learn_slowest(l);
    if (slow < 0)
        return 0;
    int64_t b = slow * HOLD_LEARN_FACTOR + HOLD_LEARN_SLACK_MS;
    if (b < HOLD_LEARN_FLOOR_MS)
        b = HOLD_LEARN_FLOOR_MS;
    if (b > first_contact_ms)
        b = first_contact_ms;
    return b;
}

int hold_learn_has_source(const struct hold_learned *l, int family, const uint8_t *addr)
{
    size_t alen = family == AF_INET6 ? 16 : 4;
    for (int i = 0; i < l->nsources && i < HOLD_LEARN_MAX_SOURCES; i++)
        if (l->sources[i].family == family && memcmp(l->sources[i].addr, addr, alen) == 0)
            return 1;
    return 0;
}

void hold_learn_add_source(struct hold_learned *l, int family, const uint8_t *addr,
                           int64_t wall_ms)
{
    size_t alen = family == AF_INET6 ? 16 : 4;
    for (int i = 0; i < l->nsources; i++)
        if (l->sources[i].family == family && memcmp(l->sources[i].addr, addr, alen) == 0) {
            l->sources[i].last_ms = wall_ms;
            return;
        }
    int slot = l->nsources;
    if (slot >= HOLD_LEARN_MAX_SOURCES) {       /* replace the least recently seen */
        slot = 0;
        for (int i = 1; i < l->nsources; i++)
            if (l->sources[i].last_ms < l->sources[slot].last_ms)
                slot = i;
    } else {
        l->nsources++;
    }
    memset(&l->sources[slot], 0, sizeof l->sources[slot]);
    l->sources[slot].family = family;
    memcpy(l->sources[slot].addr, addr, alen);
    l->sources[slot].last_ms = wall_ms;
}

static void push(int64_t *v, int *n, int64_t x)
{
    if (*n >= HOLD_LEARN_MAX_SAMPLES) {
        memmove(v, v + 1, (HOLD_LEARN_MAX_SAMPLES - 1) * sizeof *v);
        *n = HOLD_LEARN_MAX_SAMPLES - 1;
    }
    v[(*n)++] = x;
}

void hold_learn_record(struct hold_learned *l, int64_t first_contact_ms, int64_t gap_ms,
                       int64_t wall_ms)
{
    if (first_contact_ms < 0) {
        if (l->empty_streak < INT32_MAX)
            l->empty_streak++;
        return;
    }
    push(l->contact_ms, &l->ncontacts, first_contact_ms > MAX_MS ? MAX_MS : first_contact_ms);
    push(l->gap_ms, &l->ngaps, gap_ms < 0 ? 0 : gap_ms > MAX_MS ? MAX_MS : gap_ms);
    if (l->polls_with_mail < INT32_MAX)
        l->polls_with_mail++;
    l->empty_streak = 0;
    l->last_mail_ms = wall_ms;
}
