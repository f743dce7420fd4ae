/* cycle.c — one poll cycle. */
#include "conf/config.h"
#include "poll/cycle.h"
#include "ddns/ddns.h"
#include "hold/hold.h"
#include "core/hooks.h"
#include "core/lock.h"
#include "core/priv.h"
#include "core/log.h"
#include "smtp/session.h"
#include "core/state.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cycle_ctx {
    const struct etp_config *cfg;
    struct session *sessions;
    struct relay_result *results;
    int n;
};

static void hold_tick(void *arg)
{
    struct cycle_ctx *x = arg;
    if (!x->cfg->hold.keepalive)
        return;
    for (int i = 0; i < x->n; i++)
        session_keepalive(&x->sessions[i], x->cfg->hold.keepalive_interval);
}

static json_object *relay_json(const struct relay_result *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(r->rc->name));
    json_object_object_add(o, "host", json_object_new_string(r->rc->host));
    json_object_object_add(o, "exit", json_object_new_int(r->exit));
    json_object_object_add(o, "result", json_object_new_string(exit_name(r->exit)));
    if (r->error[0]) {
        json_object_object_add(o, "stage", json_object_new_string(r->stage));
        json_object_object_add(o, "error", json_object_new_string(r->error));
    }
    if (r->tls_version[0])
        json_object_object_add(o, "tls", json_object_new_string(r->tls_version));
    json_object_object_add(o, "tls_resumed", json_object_new_boolean(r->tls_resumed));
    if (r->mech[0])
        json_object_object_add(o, "auth", json_object_new_string(r->mech));
    json_object_object_add(o, "sessions", json_object_new_int(r->sessions));
    json_object_object_add(o, "bytes_sent", json_object_new_int64((int64_t)r->bytes_out));
    json_object_object_add(o, "bytes_received", json_object_new_int64((int64_t)r->bytes_in));
    json_object_object_add(o, "duration_ms", json_object_new_int64(r->end_ms - r->start_ms));
    json_object *nodes = json_object_new_array();
    for (int i = 0; i < r->nnodes; i++) {
        const struct node_result *n = &r->nodes[i];
        json_object *no = json_object_new_object();
        json_object_object_add(no, "node", json_object_new_string(n->node));
        json_object_object_add(no, "attempted", json_object_new_boolean(n->attempted));
        json_object_object_add(no, "result", json_object_new_string(
            n->attempted ? etrn_class_name(n->cls) : "not-attempted"));
        json_object_object_add(no, "code", json_object_new_int(n->code));
        if (n->enh[0])
            json_object_object_add(no, "enhanced", json_object_new_string(n->enh));
        json_object_object_add(no, "reply", json_object_new_string(n->text));
        if (n->count >= 0)
            json_object_object_add(no, "count", json_object_new_int64(n->count));
        json_object_array_add(nodes, no);
    }
    json_object_object_add(o, "nodes", nodes);
    return o;
}

static int save_state(const struct etp_config *cfg, const struct cycle_opts *o,
                      const struct cycle_ctx *x, int64_t started, int exitcode,
                      const struct hold_summary *hs)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "started", json_object_new_int64(started));
    json_object_object_add(root, "finished", json_object_new_int64(now_wall()));
    json_object_object_add(root, "trigger", json_object_new_string(o->trigger ? o->trigger : "manual"));
    if (o->up.ifname[0])
        json_object_object_add(root, "interface", json_object_new_string(o->up.ifname));
    json_object_object_add(root, "exit", json_object_new_int(exitcode));
    json_object_object_add(root, "result", json_object_new_string(exit_name(exitcode)));
    if (hs && hs->end != HOLD_NOT_RUN)
        json_object_object_add(root, "hold", json_object_new_string(hold_end_name(hs->end)));
    json_object *rel = json_object_new_array();
    for (int i = 0; i < x->n; i++)
        json_object_array_add(rel, relay_json(&x->results[i]));
    json_object_object_add(root, "relays", rel);
    int r = state_write_json(cfg->state_dir, "last-poll.json", root);
    if (r < 0)
        log_err("could not record the results in %s/last-poll.json", cfg->state_dir);
    json_object_put(root);
    return r;
}

static void post_poll_hooks(const struct etp_config *cfg, const struct cycle_opts *o,
                            const struct cycle_ctx *x, int exitcode)
{
    char e_exit[32], e_res[64], e_trig[64], e_if[64], e_ok[600], e_fail[600];
    int ok = 0, fail = 0;
    size_t lo = 0, lf = 0;
    e_ok[0] = e_fail[0] = '\0';
    for (int i = 0; i < x->n; i++)
        for (int j = 0; j < x->results[i].nnodes; j++) {
            const struct node_result *n = &x->results[i].nodes[j];
            int good = n->attempted && n->cls == ETRN_OK;
            char *buf = good ? e_ok : e_fail;
            size_t *l = good ? &lo : &lf;
            if (*l < 500)
                *l += (size_t)snprintf(buf + *l, 600 - *l, "%s%s", *l ? " " : "", n->node);
            if (good)
                ok++;
            else
                fail++;
        }
    char okv[620], failv[620], nok[48], nfail[48];
    snprintf(e_exit, sizeof e_exit, "ETRNPOLL_EXIT=%d", exitcode);
    snprintf(e_res, sizeof e_res, "ETRNPOLL_RESULT=%s", exit_name(exitcode));
    snprintf(e_trig, sizeof e_trig, "ETRNPOLL_TRIGGER=%s", o->trigger ? o->trigger : "manual");
    snprintf(e_if, sizeof e_if, "ETRNPOLL_INTERFACE=%s", o->up.ifname);
    snprintf(okv, sizeof okv, "ETRNPOLL_NODES_OK=%s", e_ok);
    snprintf(failv, sizeof failv, "ETRNPOLL_NODES_FAILED=%s", e_fail);
    snprintf(nok, sizeof nok, "ETRNPOLL_NODES_OK_COUNT=%d", ok);
    snprintf(nfail, sizeof nfail, "ETRNPOLL_NODES_FAILED_COUNT=%d", fail);
    char *env[] = { e_exit, e_res, e_trig, e_if, okv, failv, nok, nfail, NULL };
    hooks_run(cfg, "post-poll", env);
}

int cycle_run(const struct etp_config *cfg, const struct cycle_opts *o)
{
    int64_t started = now_wall();
    int exitcode = 0;
    /* as root: read the secrets, then become the service user (core/priv.h) */
    int privrc = priv_enter_poll(cfg);
    if (privrc)
        return privrc;
    if (state_dir_ready(cfg->state_dir) < 0) {
        log_err("not polling: the state dir %s is not usable (exit %d)", cfg->state_dir, EX_CANTCREAT);
        return EX_CANTCREAT;
    }
    pid_t holder = 0;
    int lockfd = lock_acquire(cfg->state_dir, o->lock_wait, &holder);
    if (lockfd == -1) {
        log_notice("another poll is running (pid %ld); not polling again", (long)holder);
        return 0;
    }
    if (lockfd == -2)
        return EX_CANTCREAT;           /* never without the lock (logged) */
    if (lockfd == -3)
        return EX_TEMPFAIL;

    log_info("poll started (%s%s%s)", o->trigger ? o->trigger : "manual",
             o->up.ifname[0] ? ", interface " : "", o->up.ifname);

    if (!o->check_only) {
        char e_trig[64], e_if[64], e_addr[80];
        snprintf(e_trig, sizeof e_trig, "ETRNPOLL_TRIGGER=%s", o->trigger ? o->trigger : "manual");
        snprintf(e_if, sizeof e_if, "ETRNPOLL_INTERFACE=%s", o->up.ifname);
        snprintf(e_addr, sizeof e_addr, "ETRNPOLL_LOCAL_ADDRESS=%s", o->up.addr4[0] ? o->up.addr4 : o->up.addr6);
        char *env[] = { e_trig, e_if, e_addr, NULL };
        hooks_run(cfg, "pre-poll", env);
    }

    int stop = 0;
    if (!o->check_only && !o->no_ddns && cfg->nddns > 0) {
        struct ddns_summary ds;
        memset(&ds, 0, sizeof ds);
        int dr = ddns_run_all(cfg, &o->up, 0, &ds);
        if (ds.required_failed) {
            log_err("a ddns entry with required = yes failed: not sending ETRN");
            stop = 1;
            exitcode = exit_worst(exitcode, dr);
        }
    }
    struct hold *hold = NULL;
    if (!stop && !o->check_only && !o->no_hold && cfg->hold.enabled) {
        int pr = hold_prepare(cfg, &hold);
        if (pr != 0) {
            exitcode = exit_worst(exitcode, pr);
            stop = 1;
        }
    }

    struct cycle_ctx x = { .cfg = cfg, .n = cfg->nrelays };
    x.sessions = calloc((size_t)cfg->nrelays, sizeof *x.sessions);
    x.results = calloc((size_t)cfg->nrelays, sizeof *x.results);
    if (!x.sessions || !x.results) {
        log_err("out of memory");
        free(x.sessions);
        free(x.results);
        hold_free(hold);
        lock_release(lockfd);
        return EX_OSERR;
    }
    int any_ok = 0, all_251 = 1;
    for (int i = 0; i < cfg->nrelays; i++) {
        if (stop || etp_abort) {
            relay_result_init(&x.results[i], &cfg->relays[i]);
            x.results[i].exit = EX_TEMPFAIL;
            snprintf(x.results[i].error, sizeof x.results[i].error, "%s",
                     etp_abort ? "aborted" : "not polled");
            exitcode = exit_worst(exitcode, EX_TEMPFAIL);
            continue;
        }
        relay_poll(&x.sessions[i], cfg, &cfg->relays[i], &x.results[i], o->check_only);
        exitcode = exit_worst(exitcode, x.results[i].exit);
        for (int j = 0; j < x.results[i].nnodes; j++) {
            const struct node_result *n = &x.results[i].nodes[j];
            if (n->attempted && n->cls == ETRN_OK) {
                any_ok = 1;
                if (n->code != 251)
                    all_251 = 0;
            }
        }
        if (!o->check_only && (o->no_hold || !cfg->hold.enabled || !cfg->hold.keepalive))
            session_end(&x.sessions[i]);
    }

    struct hold_summary hs;
    memset(&hs, 0, sizeof hs);
    if (hold && !stop && any_ok && !etp_abort) {
        for (int i = 0; i < cfg->nrelays; i++) {
            int mail = 0;
            for (int j = 0; j < x.results[i].nnodes; j++) {
                const struct node_result *n = &x.results[i].nodes[j];
                mail |= n->attempted && n->cls == ETRN_OK && n->code != 251;
            }
            hold_add_relay(hold, &cfg->relays[i], x.results[i].peer, mail);
        }
        /* confirming ETRN: pass the poll side's function here once it
         * exists, e.g. hold_run(hold, all_251, hold_tick, poll_confirm, &x, &hs)
         * with int poll_confirm(void *arg) taking the same struct cycle_ctx. */
        exitcode = exit_worst(exitcode, hold_run(hold, all_251, hold_tick, NULL, &x, &hs));
    }
    hold_free(hold);
    for (int i = 0; i < cfg->nrelays; i++)
        session_end(&x.sessions[i]);
    /* after QUIT: a hold-done hook may hang up the line */
    hold_done_hooks(cfg, &hs);

    if (etp_abort)
        exitcode = exit_worst(exitcode, EX_TEMPFAIL);
    if (!o->check_only) {
        /* a full (or otherwise failing) state dir: etrnpoll(8) exit 73 */
        if (save_state(cfg, o, &x, started, exitcode, &hs) < 0)
            exitcode = exit_worst(exitcode, EX_CANTCREAT);
        post_poll_hooks(cfg, o, &x, exitcode);
    }
    int nok = 0, nnodes = 0;
    for (int i = 0; i < cfg->nrelays; i++)
        for (int j = 0; j < x.results[i].nnodes; j++) {
            nnodes++;
            nok += x.results[i].nodes[j].attempted && x.results[i].nodes[j].cls == ETRN_OK;
        }
    if (o->check_only)
        log_notice("check finished: %s (exit %d)", exit_name(exitcode), exitcode);
    else
        log_notice("poll finished: %d of %d nodes accepted; %s (exit %d)", nok, nnodes,
                   exit_name(exitcode), exitcode);
    free(x.sessions);
    free(x.results);
    lock_release(lockfd);
    return exitcode;
}
