/* SPDX-License-Identifier: ISC */
/* poll.c — one relay's poll through its method; the hold's callbacks;
 * hook lists. */
#include "conf/config.h"
#include "poll/poll.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void relay_result_init(struct relay_result *res, const struct relay_cfg *rc)
{
    memset(res, 0, sizeof *res);
    res->rc = rc;
    res->nnodes = rc->nnodes;
    res->smtp.first_ehlo_etrn = -1;
    for (int i = 0; i < rc->nnodes; i++) {
        res->nodes[i].node = rc->nodes[i];
        res->nodes[i].count = -1;
        res->nodes[i].outcome = PO_NOT_ATTEMPTED;
        res->nodes[i].exit = EX_TEMPFAIL;
        snprintf(res->nodes[i].text, sizeof res->nodes[i].text, "not attempted: not polled");
    }
}

void poll_gate_init(struct poll_gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

void poll_gate_open(struct poll_gate *g, int go, int64_t deadline_ms, const char *why)
{
    pthread_mutex_lock(&g->mu);
    if (g->state == 0) {
        g->state = go ? 1 : -1;
        g->deadline_ms = deadline_ms;
        snprintf(g->why, sizeof g->why, "%s", why ? why : "stopped");
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void poll_gate_destroy(struct poll_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

int poll_gate_wait(struct relay_poll *rp, const char **why)
{
    struct poll_gate *g = rp->gate;
    if (!g)
        return 1;
    int64_t t0 = now_ms();
    pthread_mutex_lock(&g->mu);
    /* woken by the cycle; every 100 ms a look at etp_abort (a signal may
     * have reached another thread) */
    while (g->state == 0 && !etp_abort) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    int go = g->state == 1 && !etp_abort;
    if (go)
        rp->deadline_ms = g->deadline_ms;
    else
        *why = etp_abort ? "aborted" : g->why;
    pthread_mutex_unlock(&g->mu);
    int64_t waited = now_ms() - t0;
    if (waited >= 50)
        log_info("session ready; waited %lld ms for the DDNS update and the hold; %s", (long long)waited,
                 go ? "sending ETRN" : "not sending ETRN");
    return go;
}

void relay_poll_run(struct relay_poll *rp, const struct etp_config *cfg, const struct relay_cfg *rc,
                    struct relay_result *res, int64_t deadline_ms, int check_only,
                    struct poll_gate *gate)
{
    memset(rp, 0, sizeof *rp);
    rp->cfg = cfg;
    rp->rc = rc;
    rp->res = res;
    rp->deadline_ms = deadline_ms;
    rp->gate = gate;
    relay_result_init(res, rc);
    res->start_ms = now_ms();
    log_set_prefix(rc->name);
    learn_load(cfg, rc, &rp->lr);
    session_init(&rp->s, cfg, rc, &res->smtp);
    const struct poll_method *m = poll_method_for(rc);
    m->poll(rp, check_only);
    /* Nodes that got a reply (or lost it) count with their own meaning;
     * nodes never attempted are covered by the relay-level failure already
     * in res->exit (a permanent refusal of the whole relay must not read as
     * "temporary" because nodes were left over). */
    if (!check_only)
        for (int i = 0; i < res->nnodes; i++)
            if (res->nodes[i].attempted || res->nodes[i].outcome == PO_NOT_OFFERED)
                res->exit = exit_worst(res->exit, res->nodes[i].exit);
    if (!check_only && etp_abort)
        res->exit = exit_worst(res->exit, EX_TEMPFAIL);
    if (!check_only)
        learn_save(cfg, rc, &rp->lr);
    memcpy(res->peer, res->smtp.peer, sizeof res->peer);
    res->end_ms = now_ms();
    log_set_prefix(NULL);
}

void relay_poll_end(struct relay_poll *rp)
{
    if (!rp->rc)
        return;
    log_set_prefix(rp->rc->name);
    session_free(&rp->s);
    log_set_prefix(NULL);
    rp->rc = NULL;
}

int poll_confirm(void *arg)
{
    struct cycle_ctx *x = arg;
    int any = 0;
    for (int i = 0; i < x->n; i++) {
        struct relay_poll *rp = &x->polls[i];
        if (!rp->rc || etp_abort)
            continue;
        int64_t dl = x->hold_deadline_ms;
        if (dl > 0 && now_ms() >= dl)
            break;
        any |= poll_method_for(rp->rc)->confirm(rp, dl);
    }
    return any;
}

void poll_hold_tick(void *arg)
{
    struct cycle_ctx *x = arg;
    for (int i = 0; i < x->n; i++) {
        struct relay_poll *rp = &x->polls[i];
        if (rp->rc && rp->s.open) {
            log_set_prefix(rp->rc->name);
            session_usable(&rp->s);     /* drops a session the relay closed */
            log_set_prefix(NULL);
        }
    }
}

char *poll_env_list(const char *name, const char *const *nodes, int n, size_t cap)
{
    size_t nl = strlen(name);
    size_t need = nl + 2;
    for (int i = 0; i < n; i++)
        need += strlen(nodes[i]) + 1;
    if (need > cap + nl + 64)
        need = cap + nl + 64;
    char *out = malloc(need);
    if (!out)
        return NULL;
    size_t len = (size_t)snprintf(out, need, "%s=", name);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(nodes[i]);
        char more[40];
        int rest = n - i;
        snprintf(more, sizeof more, " ...(+%d more)", rest);
        /* room for this node, and for the marker if it is not the last */
        size_t after = i + 1 < n ? strlen(more) : 0;
        if (len - nl - 1 + (i ? 1 : 0) + l + after > cap) {
            memcpy(out + len, i ? more : more + 1, strlen(i ? more : more + 1) + 1);
            return out;
        }
        if (i)
            out[len++] = ' ';
        memcpy(out + len, nodes[i], l);
        len += l;
        out[len] = '\0';
    }
    return out;
}
