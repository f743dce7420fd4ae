/* SPDX-License-Identifier: ISC */
/* learn.c — learned relay behaviour (see learn.h). */
#include "conf/config.h"
#include "poll/learn.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <pthread.h>
#include <string.h>
#include <time.h>

static void copy_str(char *dst, size_t n, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    printable(dst, n, src, strlen(src));
}

int learn_from_json(json_object *root, const char *name, const char *digest, struct learned *out)
{
    memset(out, 0, sizeof *out);
    json_object *rel, *e, *v;
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "relays", &rel) || !json_object_is_type(rel, json_type_object) ||
        !json_object_object_get_ex(rel, name, &e) || !json_object_is_type(e, json_type_object))
        return 0;
    const char *d = js_str(e, "digest");
    if (!d || !digest || strcmp(d, digest) != 0)
        return 0;                   /* the relay's configuration changed: start afresh */
    if (json_object_object_get_ex(e, "per_session", &v) && json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n >= 1 && n <= 10000)
            out->per_session = (int)n;
    }
    if (json_object_object_get_ex(e, "next_start", &v) && json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n >= 0 && n < CFG_MAX_NODES)
            out->next_start = (int)n;
    }
    if (json_object_object_get_ex(e, "seen", &v) && json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n > 0)
            out->seen = n;
    }
    if (out->per_session) {
        copy_str(out->why, sizeof out->why, js_str(e, "why"));
        copy_str(out->detail, sizeof out->detail, js_str(e, "detail"));
    }
    const char *np = js_str(e, "no_pipelining");
    if (np && np[0])
        copy_str(out->no_pipelining, sizeof out->no_pipelining, np);
    return 1;
}

int learn_parse(const char *buf, size_t len, const char *name, const char *digest, struct learned *out)
{
    memset(out, 0, sizeof *out);
    json_object *root = js_parse_bounded(buf, len, 1u << 20, 32);
    int r = learn_from_json(root, name, digest, out);
    json_object_put(root);
    return r;
}

void learn_load(const struct etp_config *cfg, const struct relay_cfg *rc, struct learned *out)
{
    json_object *root = state_read_json(cfg->state_dir, LEARN_FILE);
    learn_from_json(root, rc->name, rc->digest, out);
    json_object_put(root);
    if (out->next_start >= rc->nnodes)
        out->next_start = 0;
}

void learn_note(struct learned *lr, int per_session, const char *why, const char *detail)
{
    if (per_session < 1)
        return;
    if (lr->per_session && lr->per_session <= per_session)
        return;
    lr->per_session = per_session;
    copy_str(lr->why, sizeof lr->why, why);
    copy_str(lr->detail, sizeof lr->detail, detail);
    lr->seen = now_wall();
    log_notice("learned: this relay takes %d ETRN%s per session (%s: %s); later polls reconnect before that",
               per_session, per_session == 1 ? "" : "s", lr->why, lr->detail);
}

void learn_no_pipelining(struct learned *lr, const char *detail)
{
    if (lr->no_pipelining[0])
        return;
    copy_str(lr->no_pipelining, sizeof lr->no_pipelining, detail && detail[0] ? detail : "?");
    log_notice("learned: this relay does not take pipelined ETRNs (%s); later polls send one at a time",
               lr->no_pipelining);
}

int learn_budget(const struct relay_cfg *rc, const struct learned *lr)
{
    int a = rc->max_etrn_per_session, l = lr ? lr->per_session : 0;
    if (a > 0 && (l == 0 || a < l))
        return a;
    return l;
}

/* learned.json holds every relay: its read-modify-write is serialised
 * (relays are polled in threads; the poll lock keeps other processes out) */
static pthread_mutex_t g_save_mu = PTHREAD_MUTEX_INITIALIZER;
static int learn_save_locked(const struct etp_config *cfg, const struct relay_cfg *rc,
                             const struct learned *lr);

int learn_save(const struct etp_config *cfg, const struct relay_cfg *rc, const struct learned *lr)
{
    pthread_mutex_lock(&g_save_mu);
    int r = learn_save_locked(cfg, rc, lr);
    pthread_mutex_unlock(&g_save_mu);
    return r;
}

static int learn_save_locked(const struct etp_config *cfg, const struct relay_cfg *rc,
                             const struct learned *lr)
{
    json_object *old = state_read_json(cfg->state_dir, LEARN_FILE), *orel = NULL;
    if (old && json_object_is_type(old, json_type_object))
        json_object_object_get_ex(old, "relays", &orel);
    json_object *root = json_object_new_object(), *rel = json_object_new_object();
    json_object_object_add(root, "version", json_object_new_int(1));
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *r = &cfg->relays[i];
        json_object *e = NULL;
        if (r == rc || strcmp(r->name, rc->name) == 0) {
            if (!lr->per_session && !lr->next_start && !lr->no_pipelining[0])
                continue;
            e = json_object_new_object();
            json_object_object_add(e, "digest", json_object_new_string(rc->digest));
            if (lr->per_session) {
                json_object_object_add(e, "per_session", json_object_new_int(lr->per_session));
                json_object_object_add(e, "why", json_object_new_string(lr->why));
                json_object_object_add(e, "detail", json_object_new_string(lr->detail));
                json_object_object_add(e, "seen", json_object_new_int64(lr->seen));
            }
            json_object_object_add(e, "next_start", json_object_new_int(lr->next_start));
            if (lr->no_pipelining[0])
                json_object_object_add(e, "no_pipelining", json_object_new_string(lr->no_pipelining));
        } else if (orel && json_object_is_type(orel, json_type_object)) {
            json_object *oe;
            if (json_object_object_get_ex(orel, r->name, &oe) && json_object_is_type(oe, json_type_object))
                e = json_object_get(oe);
        }
        if (e)
            json_object_object_add(rel, r->name, e);
    }
    json_object_object_add(root, "relays", rel);
    int ret = state_write_json(cfg->state_dir, LEARN_FILE, root);
    json_object_put(root);
    json_object_put(old);
    return ret;
}

void learn_status(FILE *out, const struct etp_config *cfg)
{
    json_object *root = state_read_json(cfg->state_dir, LEARN_FILE);
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *rc = &cfg->relays[i];
        struct learned lr;
        learn_from_json(root, rc->name, rc->digest, &lr);
        char name[80];
        printable(name, sizeof name, rc->name, strlen(rc->name));
        int b = learn_budget(rc, &lr);
        if (!lr.per_session) {
            fprintf(out, "  relay %s: no ETRN session limit seen%s", name,
                    rc->max_etrn_per_session ? "" : "\n");
            if (rc->max_etrn_per_session)
                fprintf(out, "; max-etrn-per-session = %d\n", rc->max_etrn_per_session);
        } else {
            char t[40] = "?";
            time_t tt = (time_t)lr.seen;
            struct tm tm;
            if (lr.seen > 0 && localtime_r(&tt, &tm))
                strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S %z", &tm);
            fprintf(out, "  relay %s: learned %d ETRN%s per session (%s seen %s: %s); using %d%s\n",
                    name, lr.per_session, lr.per_session == 1 ? "" : "s", lr.why, t, lr.detail, b,
                    b != lr.per_session ? " (max-etrn-per-session)" : "");
        }
        if (lr.no_pipelining[0] && rc->etrn_pipelining)
            fprintf(out, "    etrn-pipelining: not used, a pipelined group got a reply out of shape (%s)\n",
                    lr.no_pipelining);
        if (lr.next_start > 0 && lr.next_start < rc->nnodes) {
            char node[80];
            printable(node, sizeof node, rc->nodes[lr.next_start], strlen(rc->nodes[lr.next_start]));
            fprintf(out, "    the last poll's deadline cut it short: the next poll starts with %s\n", node);
        }
    }
    json_object_put(root);
}
