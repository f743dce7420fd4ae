/* SPDX-License-Identifier: ISC */
/* addrcache.c — the relay address cache (see addrcache.h). */
#include "conf/config.h"
#include "smtp/addrcache.h"
#include "smtp/conn.h"
#include "core/etchosts.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int addrcache_parse(const char *buf, size_t len, const char *host, struct addrcache_entry *e)
{
    memset(e, 0, sizeof *e);
    if (!buf || !host)
        return 0;
    /* object > array > string */
    json_object *root = js_parse_bounded(buf, len, ADDRCACHE_FILE_MAX, 4);
    int ok = 0;
    json_object *v, *list;
    if (!root || !json_object_is_type(root, json_type_object))
        goto out;
    const char *h = js_str(root, "host");
    if (!h || strlen(h) >= sizeof e->host || strcasecmp(h, host) != 0)
        goto out;
    if (!json_object_object_get_ex(root, "looked_up", &v) || !json_object_is_type(v, json_type_int))
        goto out;
    int64_t t = json_object_get_int64(v);
    if (t <= 0 || t > ADDRCACHE_TIME_MAX)
        goto out;
    if (!json_object_object_get_ex(root, "ttl", &v) || !json_object_is_type(v, json_type_int))
        goto out;
    int64_t ttl = json_object_get_int64(v);
    if (ttl < 0 || ttl > ADDRCACHE_LIMIT)
        goto out;
    if (!json_object_object_get_ex(root, "addresses", &list) ||
        !json_object_is_type(list, json_type_array))
        goto out;
    size_t na = json_object_array_length(list);
    for (size_t i = 0; i < na && e->n < ADDRCACHE_MAX; i++) {
        json_object *a = json_object_array_get_idx(list, i);
        if (!a || !json_object_is_type(a, json_type_string))
            continue;
        const char *s = json_object_get_string(a);
        if (!s || (size_t)json_object_get_string_len(a) != strlen(s))
            continue;                   /* an embedded NUL */
        struct netaddr n;
        if (netaddr_parse(s, &n, 1) < 0)
            continue;
        e->addr[e->n++] = n;
    }
    if (e->n == 0)
        goto out;
    memcpy(e->host, h, strlen(h) + 1);
    e->looked_up = t;
    e->ttl = (int)ttl;
    ok = 1;
out:
    json_object_put(root);
    if (!ok)
        memset(e, 0, sizeof *e);
    return ok;
}

char *addrcache_format(const struct addrcache_entry *e)
{
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    char *text = NULL;
    if (!root || !list) {
        json_object_put(root);
        json_object_put(list);
        return NULL;
    }
    json_object_object_add(root, "host", json_object_new_string(e->host));
    json_object_object_add(root, "looked_up", json_object_new_int64(e->looked_up));
    json_object_object_add(root, "ttl", json_object_new_int(e->ttl));
    for (int i = 0; i < e->n && i < ADDRCACHE_MAX; i++) {
        char a[INET6_ADDRSTRLEN];
        if (netaddr_format(&e->addr[i], a, sizeof a) == 0)
            json_object_array_add(list, json_object_new_string(a));
    }
    json_object_object_add(root, "addresses", list);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s) {
        size_t n = strlen(s);
        text = malloc(n + 2);
        if (text) {
            memcpy(text, s, n);
            text[n] = '\n';
            text[n + 1] = '\0';
        }
    }
    json_object_put(root);
    return text;
}

int addrcache_answer_ttl(const unsigned char *msg, size_t len)
{
    if (!msg || len < NS_HFIXEDSZ || len > 65535)
        return -1;
    const unsigned char *end = msg + len, *p = msg + NS_HFIXEDSZ;
    if (!(msg[2] & 0x80) || (msg[3] & 0x0f) != 0)   /* not a response, or an error */
        return -1;
    unsigned qd = (unsigned)(msg[4] << 8 | msg[5]);
    unsigned an = (unsigned)(msg[6] << 8 | msg[7]);
    for (unsigned i = 0; i < qd; i++) {
        int n = dn_skipname(p, end);
        if (n < 0 || end - (p + n) < NS_QFIXEDSZ)
            return -1;
        p += n + NS_QFIXEDSZ;
    }
    long long min = -1;
    for (unsigned i = 0; i < an; i++) {
        int n = dn_skipname(p, end);
        if (n < 0 || end - (p + n) < NS_RRFIXEDSZ)
            return -1;
        p += n;
        unsigned type = (unsigned)(p[0] << 8 | p[1]);
        unsigned cls = (unsigned)(p[2] << 8 | p[3]);
        uint32_t ttl = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
        unsigned rdlen = (unsigned)(p[8] << 8 | p[9]);
        p += NS_RRFIXEDSZ;
        if ((size_t)(end - p) < rdlen)
            return -1;
        p += rdlen;
        if (cls != ns_c_in || (type != ns_t_a && type != ns_t_aaaa && type != ns_t_cname))
            continue;
        long long t = ttl > 0x7fffffffu ? 0 : (long long)ttl;
        if (min < 0 || t < min)
            min = t;
    }
    return min > INT32_MAX ? INT32_MAX : (int)min;
}

int addrcache_fresh(const struct addrcache_entry *e, int64_t now, int ttl_max)
{
    if (!e || e->n <= 0 || ttl_max <= 0 || e->looked_up <= 0 || now < e->looked_up)
        return 0;
    int64_t ttl = e->ttl < ttl_max ? e->ttl : ttl_max;
    return now - e->looked_up < ttl;
}

int addrcache_file_name(const char *relay, const char *host, char *out, size_t outsize)
{
    return conn_state_file_name("addrs-", relay, host, ".json", out, outsize);
}

int addrcache_same(const struct relay_addrs *a, const struct relay_addrs *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->len[i] != b->len[i] || memcmp(&a->ss[i], &b->ss[i], a->len[i]) != 0)
            return 0;
    return 1;
}

static void add_netaddr(struct relay_addrs *out, const struct netaddr *a)
{
    if (out->n >= ADDRCACHE_MAX)
        return;
    struct sockaddr_storage *ss = &out->ss[out->n];
    memset(ss, 0, sizeof *ss);
    if (a->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->a, 4);
        out->len[out->n++] = sizeof *s4;
    } else if (a->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->a, 16);
        out->len[out->n++] = sizeof *s6;
    }
}

/* getaddrinfo() into out (deduplicated, its order kept). */
static int lookup(const char *host, int flags, struct relay_addrs *out, char *err, size_t errsz)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = flags };
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        snprintf(err, errsz, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    out->n = 0;
    for (struct addrinfo *ai = res; ai && out->n < ADDRCACHE_MAX; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof out->ss[0])
            continue;
        int dup = 0;
        for (int i = 0; i < out->n && !dup; i++)
            dup = out->len[i] == ai->ai_addrlen && memcmp(&out->ss[i], ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup)
            continue;
        memcpy(&out->ss[out->n], ai->ai_addr, ai->ai_addrlen);
        out->len[out->n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (out->n == 0) {
        snprintf(err, errsz, "cannot resolve %s: no IPv4 or IPv6 address", host);
        return -1;
    }
    return 0;
}

static void from_entry(struct relay_addrs *out, const struct addrcache_entry *e, int64_t now)
{
    out->n = 0;
    for (int i = 0; i < e->n; i++)
        add_netaddr(out, &e->addr[i]);
    out->age = now >= e->looked_up ? now - e->looked_up : 0;
}

static void store(const char *dir, const char *file, const char *host, int ttl,
                  const struct relay_addrs *ra, int64_t now)
{
    struct addrcache_entry e;
    memset(&e, 0, sizeof e);
    if (strlen(host) >= sizeof e.host)
        return;
    memcpy(e.host, host, strlen(host) + 1);
    e.looked_up = now;
    e.ttl = ttl;
    for (int i = 0; i < ra->n && e.n < ADDRCACHE_MAX; i++)
        if (netaddr_from_sockaddr((const struct sockaddr *)&ra->ss[i], ra->len[i], &e.addr[e.n], NULL) == 0)
            e.n++;
    char *text = addrcache_format(&e);
    if (text) {
        (void)state_write_raw(dir, file, text, strlen(text));
        free(text);
    }
}

void addrcache_forget(const char *state_dir, const char *relay, const char *host)
{
    char file[160], path[4400];
    if (!state_dir || !host || addrcache_file_name(relay ? relay : "", host, file, sizeof file) < 0 ||
        snprintf(path, sizeof path, "%s/%s", state_dir, file) >= (int)sizeof path)
        return;
    if (unlink(path) == 0)       /* never follows a link */
        log_info("the certificate was refused on a cached address of %s: its address cache is "
                 "removed, the next connection looks it up", host);
}

/* ---- the lookup past the TTL, in a thread ---------------------------------- */

struct addrcache_pending {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int refs;                     /* the lookup thread and the caller */
    char host[256];
    char dir[4096], file[160];
    int ttl;
    int64_t started;              /* wall clock */
    int64_t stale_age;
    int stale_n;
    int rc;
    int rec_ttl;                  /* the A (else AAAA) record's TTL, -1 unknown */                       /* of lookup() */
    struct relay_addrs res;
    char err[256];
};

static void pending_unref(struct addrcache_pending *p)
{
    pthread_mutex_lock(&p->mu);
    int left = --p->refs;
    pthread_mutex_unlock(&p->mu);
    if (left == 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
    }
}

static void *lookup_thread(void *arg)
{
    struct addrcache_pending *p = arg;
    struct relay_addrs res;
    char err[256];
    memset(&res, 0, sizeof res);
    int rc = lookup(p->host, 0, &res, err, sizeof err);   /* no log, no state here */
    int rec_ttl = -1;
    if (rc == 0) {
        /* the record's TTL: one more query, but off the path (the stale
         * addresses are in use); getaddrinfo() gives none.  res_query
         * uses a per-thread resolver state (glibc, musl). */
        unsigned char ans[4096];
        int n = res_query(p->host, ns_c_in, ns_t_a, ans, sizeof ans);
        rec_ttl = n > 0 ? addrcache_answer_ttl(ans, (size_t)n) : -1;
        if (rec_ttl < 0) {
            n = res_query(p->host, ns_c_in, ns_t_aaaa, ans, sizeof ans);
            rec_ttl = n > 0 ? addrcache_answer_ttl(ans, (size_t)n) : -1;
        }
    }
    pthread_mutex_lock(&p->mu);
    p->rc = rc;
    p->rec_ttl = rec_ttl;
    p->res = res;
    memcpy(p->err, err, sizeof err);
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pending_unref(p);
    return NULL;
}

/* Start the lookup; NULL when a thread cannot be had (then the caller looks up itself). */
static struct addrcache_pending *pending_start(const char *dir, const char *file, const char *host,
                                               int ttl, int64_t now, int64_t stale_age,
                                               int stale_n)
{
    struct addrcache_pending *p = calloc(1, sizeof *p);
    if (!p || strlen(host) >= sizeof p->host || strlen(dir) >= sizeof p->dir ||
        strlen(file) >= sizeof p->file) {
        free(p);
        return NULL;
    }
    memcpy(p->host, host, strlen(host) + 1);
    memcpy(p->dir, dir, strlen(dir) + 1);
    memcpy(p->file, file, strlen(file) + 1);
    p->ttl = ttl;
    p->started = now;
    p->stale_age = stale_age;
    p->stale_n = stale_n;
    p->refs = 2;
    pthread_condattr_t ca;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->cv, &ca) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    /* signals (SIGTERM: etp_abort) stay with the main thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t ta;
    int ok = pthread_attr_init(&ta) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&t, &ta, lookup_thread, p) == 0;
        pthread_attr_destroy(&ta);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    return p;
}

int addrcache_collect(struct addrcache_pending **pending, int wait_ms, struct relay_addrs *fresh)
{
    struct addrcache_pending *p = pending ? *pending : NULL;
    if (!p)
        return -1;
    *pending = NULL;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (wait_ms < 0)
        wait_ms = 0;
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->done && !etp_abort)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) != 0)
            break;
    int done = p->done, rc = p->rc, rec_ttl = p->rec_ttl;
    struct relay_addrs res = p->res;
    char err[256];
    memcpy(err, p->err, sizeof err);
    pthread_mutex_unlock(&p->mu);
    int r;
    if (!done) {
        log_info("the lookup of %s did not finish: the address cache keeps the old entry", p->host);
        r = -1;
    } else if (rc == 0) {
        int ttl = rec_ttl >= 0 && rec_ttl < p->ttl ? rec_ttl : p->ttl;
        store(p->dir, p->file, p->host, ttl, &res, p->started);
        log_info("looked up %s: %d address%s, cached for %d s%s", p->host, res.n,
                 res.n == 1 ? "" : "es", ttl, ttl < p->ttl ? " (the record's TTL)" : "");
        if (fresh)
            *fresh = res;
        r = 1;
    } else {
        log_info("%s; kept the stale cached address%s (looked up %" PRId64 " s ago)", err,
                 p->stale_n == 1 ? "" : "es", p->stale_age);
        r = 0;
    }
    pending_unref(p);
    return r;
}

int addrcache_resolve(const char *state_dir, const char *relay, const char *host, int ttl_max,
                      int refresh, struct relay_addrs *out, char *err, size_t errsz,
                      struct addrcache_pending **pending)
{
    memset(out, 0, sizeof *out);
    if (pending)
        *pending = NULL;
    if (!host || !host[0]) {
        snprintf(err, errsz, "no relay host");
        return -1;
    }
    /* an address (a scoped fe80::1%eth0 too): no lookup, nothing cached */
    if (lookup(host, AI_NUMERICHOST, out, err, errsz) == 0) {
        out->origin = ADDR_LITERAL;
        return 0;
    }
    /* /etc/hosts is local: getaddrinfo() answers from it without a query,
     * and a cache would only hide an edit of it */
    int cacheable = ttl_max > 0 && state_dir && !etchosts_lookup_file(etchosts_file, host, NULL, 0);
    char file[160];
    struct addrcache_entry e;
    int have = 0;
    int64_t now = now_wall();
    if (cacheable && addrcache_file_name(relay ? relay : "", host, file, sizeof file) < 0)
        cacheable = 0;
    if (cacheable) {
        size_t len = 0;
        char *buf = state_read_raw(state_dir, file, ADDRCACHE_FILE_MAX, &len);
        if (buf) {
            have = addrcache_parse(buf, len, host, &e);
            free(buf);
        }
        if (have && !refresh && addrcache_fresh(&e, now, ttl_max)) {
            from_entry(out, &e, now);
            out->origin = ADDR_CACHED;
            log_info("%d address%s of %s from the address cache (looked up %" PRId64
                     " s ago, kept %d s): no DNS query", out->n, out->n == 1 ? "" : "es",
                     host, out->age, e.ttl < ttl_max ? e.ttl : ttl_max);
            return 0;
        }
    }
    if (have && !refresh && pending) {
        /* past the TTL: try the stale addresses while DNS answers */
        *pending = pending_start(state_dir, file, host, ttl_max, now,
                                 now >= e.looked_up ? now - e.looked_up : 0, e.n);
        if (*pending) {
            from_entry(out, &e, now);
            out->origin = ADDR_REFRESHING;
            log_info("the address cache of %s expired (looked up %" PRId64 " s ago): connecting to "
                     "its cached address%s while it is looked up again", host, out->age,
                     out->n == 1 ? "" : "es");
            return 0;
        }
    }
    if (lookup(host, 0, out, err, errsz) == 0) {
        out->origin = ADDR_LOOKUP;
        if (cacheable) {
            store(state_dir, file, host, ttl_max, out, now);
            log_info("looked up %s: %d address%s, cached for %d s", host, out->n,
                     out->n == 1 ? "" : "es", ttl_max);
        }
        return 0;
    }
    if (have && !refresh) {
        from_entry(out, &e, now);
        out->origin = ADDR_STALE;
        char when[64];
        if (now >= e.looked_up)
            snprintf(when, sizeof when, "%" PRId64 " s ago", out->age);
        else
            snprintf(when, sizeof when, "at a later clock time (the clock went back)");
        log_info("%s; using the stale cached address%s (looked up %s)", err,
                 out->n == 1 ? "" : "es", when);
        return 0;
    }
    return -1;
}

/* The usable entry of relay rc (1), 0 when none. */
static int status_entry(const struct etp_config *cfg, const struct relay_cfg *rc,
                        struct addrcache_entry *e)
{
    char file[160];
    struct netaddr na;
    memset(e, 0, sizeof *e);
    if (!rc->host || netaddr_parse(rc->host, &na, 0) == 0 ||
        addrcache_file_name(rc->name, rc->host, file, sizeof file) < 0)
        return 0;
    size_t len = 0;
    char *buf = state_read_raw(cfg->state_dir, file, ADDRCACHE_FILE_MAX, &len);
    int r = buf ? addrcache_parse(buf, len, rc->host, e) : 0;
    free(buf);
    return r;
}

void addrcache_status(FILE *out, const struct etp_config *cfg)
{
    int64_t now = now_wall();
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *rc = &cfg->relays[i];
        struct addrcache_entry e;
        char name[80], host[300];
        if (!rc->host || !status_entry(cfg, rc, &e))
            continue;
        printable(name, sizeof name, rc->name, strlen(rc->name));
        printable(host, sizeof host, rc->host, strlen(rc->host));
        fprintf(out, "  relay %s: %s is", name, host);
        for (int k = 0; k < e.n; k++) {
            char a[INET6_ADDRSTRLEN] = "?";
            netaddr_format(&e.addr[k], a, sizeof a);
            fprintf(out, "%s %s", k ? "," : "", a);
        }
        int ttl = e.ttl < rc->address_cache ? e.ttl : rc->address_cache;
        if (addrcache_fresh(&e, now, rc->address_cache))
            fprintf(out, " (address cache: looked up %" PRId64 " s ago, no lookup for %" PRId64 " s more)\n",
                    now - e.looked_up, e.looked_up + ttl - now);
        else if (rc->address_cache)
            fprintf(out, " (address cache, stale: the next poll looks it up)\n");
        else
            fprintf(out, " (address cache not used: address-cache = 0)\n");
    }
}

json_object *addrcache_status_json(const struct etp_config *cfg)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *rc = &cfg->relays[i];
        struct addrcache_entry e;
        json_object *v = NULL;
        if (status_entry(cfg, rc, &e)) {
            char *t = addrcache_format(&e);
            v = t ? json_tokener_parse(t) : NULL;
            free(t);
        }
        json_object_object_add(o, rc->name, v);
    }
    return o;
}
