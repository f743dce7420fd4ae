/* SPDX-License-Identifier: ISC */
/* cycle.c — one poll cycle. */
#include "conf/config.h"
#include "poll/cycle.h"
#include "ddns/ddns.h"
#include "hold/hold.h"
#include "core/hooks.h"
#include "core/lock.h"
#include "core/priv.h"
#include "core/log.h"
#include "poll/poll.h"
#include "core/state.h"
#include "core/util.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* No NOOP during the hold (doc/design.md, "The session during the hold"):
 * the tick only notices relays that closed their idle session. */
static void hold_tick(void *arg)
{
    poll_hold_tick(arg);
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
    if (r->smtp.tls_version[0])
        json_object_object_add(o, "tls", json_object_new_string(r->smtp.tls_version));
    json_object_object_add(o, "tls_resumed", json_object_new_boolean(r->smtp.tls_resumed));
    if (r->smtp.mech[0])
        json_object_object_add(o, "auth", json_object_new_string(r->smtp.mech));
    json_object_object_add(o, "sessions", json_object_new_int(r->smtp.sessions));
    if (r->budget)
        json_object_object_add(o, "etrn_per_session", json_object_new_int(r->budget));
    if (r->learned)
        json_object_object_add(o, "learned_limit", json_object_new_int(r->learned));
    if (r->confirms)
        json_object_object_add(o, "confirms", json_object_new_int(r->confirms));
    json_object_object_add(o, "bytes_sent", json_object_new_int64((int64_t)r->smtp.bytes_out));
    json_object_object_add(o, "bytes_received", json_object_new_int64((int64_t)r->smtp.bytes_in));
    json_object_object_add(o, "duration_ms", json_object_new_int64(r->end_ms - r->start_ms));
    json_object *nodes = json_object_new_array();
    for (int i = 0; i < r->nnodes; i++) {
        const struct node_result *n = &r->nodes[i];
        json_object *no = json_object_new_object();
        json_object_object_add(no, "node", json_object_new_string(n->node));
        json_object_object_add(no, "attempted", json_object_new_boolean(n->attempted));
        json_object_object_add(no, "result", json_object_new_string(poll_outcome_name(n->outcome)));
        if (n->tries > 1)
            json_object_object_add(no, "tries", json_object_new_int(n->tries));
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
    char e_exit[32], e_res[64], e_trig[64], e_if[64];
    int ok = 0, fail = 0, total = 0;
    for (int i = 0; i < x->n; i++)
        total += x->results[i].nnodes;
    const char **okl = calloc((size_t)total + 1, sizeof *okl);
    const char **faill = calloc((size_t)total + 1, sizeof *faill);
    if (!okl || !faill) {
        free(okl);
        free(faill);
        log_err("out of memory: post-poll hooks not run");
        return;
    }
    for (int i = 0; i < x->n; i++)
        for (int j = 0; j < x->results[i].nnodes; j++) {
            const struct node_result *n = &x->results[i].nodes[j];
            if (n->attempted && poll_outcome_good(n->outcome))
                okl[ok++] = n->node;
            else
                faill[fail++] = n->node;
        }
    /* whole node names only: cut at a node boundary with a marker and count */
    char *okv = poll_env_list("ETRNPOLL_NODES_OK", okl, ok, POLL_ENV_LIST_CAP);
    char *failv = poll_env_list("ETRNPOLL_NODES_FAILED", faill, fail, POLL_ENV_LIST_CAP);
    char nok[48], nfail[48];
    snprintf(e_exit, sizeof e_exit, "ETRNPOLL_EXIT=%d", exitcode);
    snprintf(e_res, sizeof e_res, "ETRNPOLL_RESULT=%s", exit_name(exitcode));
    snprintf(e_trig, sizeof e_trig, "ETRNPOLL_TRIGGER=%s", o->trigger ? o->trigger : "manual");
    snprintf(e_if, sizeof e_if, "ETRNPOLL_INTERFACE=%s", o->up.ifname);
    snprintf(nok, sizeof nok, "ETRNPOLL_NODES_OK_COUNT=%d", ok);
    snprintf(nfail, sizeof nfail, "ETRNPOLL_NODES_FAILED_COUNT=%d", fail);
    if (okv && failv) {
        char *env[] = { e_exit, e_res, e_trig, e_if, okv, failv, nok, nfail, NULL };
        hooks_run(cfg, "post-poll", env);
    } else {
        log_err("out of memory: post-poll hooks not run");
    }
    free(okv);
    free(failv);
    free(okl);
    free(faill);
}

/* One relay's thread: its poll, and with hold.keepalive = no (or no hold)
 * QUIT right after its last ETRN; else the session stays open, idle, for
 * the hold's confirming ETRN (run from the main thread after the join). */
struct relay_worker {
    struct cycle_ctx *x;
    int i, check_only, end_at_once, started;
    int64_t deadline_ms;
    struct poll_gate *gate;
    pthread_t thread;
};

static void *relay_worker_main(void *arg)
{
    struct relay_worker *w = arg;
    const struct etp_config *cfg = w->x->cfg;
    relay_poll_run(&w->x->polls[w->i], cfg, &cfg->relays[w->i], &w->x->results[w->i], w->deadline_ms,
                   w->check_only, w->gate);
    if (w->end_at_once)
        relay_poll_end(&w->x->polls[w->i]);
    return NULL;
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

    struct cycle_ctx x = { .cfg = cfg, .n = cfg->nrelays };
    x.polls = calloc((size_t)cfg->nrelays + 1, sizeof *x.polls);
    x.results = calloc((size_t)cfg->nrelays + 1, sizeof *x.results);
    struct relay_worker *w = calloc((size_t)cfg->nrelays + 1, sizeof *w);
    if (!x.polls || !x.results || !w) {
        log_err("out of memory");
        free(x.polls);
        free(x.results);
        free(w);
        lock_release(lockfd);
        return EX_OSERR;
    }
    /* Every relay in a thread of its own: it connects, verifies TLS,
     * authenticates and reads the capabilities while the DDNS update below
     * runs; its first ETRN waits for the gate (doc/design.md, "One poll").
     * poll-timeout bounds each relay's dialogue from the gate's opening. */
    int end_at_once = o->check_only || o->no_hold || !cfg->hold.enabled || !cfg->hold.keepalive;
    struct poll_gate gate;
    poll_gate_init(&gate);
    int64_t open_deadline = now_ms() + (int64_t)cfg->poll_timeout * 1000;
    for (int i = 0; i < cfg->nrelays; i++) {
        w[i] = (struct relay_worker){ .x = &x, .i = i, .check_only = o->check_only,
                                      .end_at_once = end_at_once, .deadline_ms = open_deadline,
                                      .gate = &gate };
        w[i].started = pthread_create(&w[i].thread, NULL, relay_worker_main, &w[i]) == 0;
        if (!w[i].started)
            log_warn("relay %s: no thread of its own (%s); polled after the others", cfg->relays[i].name,
                     "pthread_create failed");
    }

    int stop = 0;
    const char *stop_why = NULL;
    if (!o->check_only && !o->no_ddns && cfg->nddns > 0) {
        struct ddns_summary ds;
        memset(&ds, 0, sizeof ds);
        int dr = ddns_run_all(cfg, &o->up, 0, &ds);
        if (ds.required_failed) {
            log_err("a ddns entry with required = yes failed: not sending ETRN");
            stop = 1;
            stop_why = "not polled: a ddns entry with required = yes failed";
            exitcode = exit_worst(exitcode, dr);
        }
    }
    struct hold *hold = NULL;
    if (!stop && !o->check_only && !o->no_hold && cfg->hold.enabled) {
        int pr = hold_prepare(cfg, &hold);
        if (pr != 0) {
            exitcode = exit_worst(exitcode, pr);
            stop = 1;
            stop_why = "not polled: the hold could not be prepared";
        }
    }
    if (etp_abort && !stop_why)
        stop_why = "aborted";
    poll_gate_open(&gate, !stop && !etp_abort, now_ms() + (int64_t)cfg->poll_timeout * 1000, stop_why);
    for (int i = 0; i < cfg->nrelays; i++) {
        if (w[i].started)
            pthread_join(w[i].thread, NULL);
        else
            relay_worker_main(&w[i]);       /* the gate is open: no waiting */
    }
    poll_gate_destroy(&gate);
    free(w);

    /* the results, merged */
    int any_ok = 0, nothing_queued = 1;
    for (int i = 0; i < cfg->nrelays; i++) {
        exitcode = exit_worst(exitcode, x.results[i].exit);
        for (int j = 0; j < x.results[i].nnodes; j++) {
            const struct node_result *n = &x.results[i].nodes[j];
            if (n->attempted && poll_outcome_good(n->outcome)) {
                any_ok = 1;
                if (n->outcome != PO_NOTHING_QUEUED)
                    nothing_queued = 0;
            }
        }
    }
    x.hold_deadline_ms = now_ms() + (int64_t)cfg->hold.max_hold * 1000;

    struct hold_summary hs;
    memset(&hs, 0, sizeof hs);
    if (hold && !stop && any_ok && !etp_abort) {
        for (int i = 0; i < cfg->nrelays; i++) {
            int mail = 0;
            for (int j = 0; j < x.results[i].nnodes; j++) {
                const struct node_result *n = &x.results[i].nodes[j];
                mail |= n->attempted && poll_outcome_delivers(n->outcome);
            }
            hold_add_relay(hold, &cfg->relays[i], x.results[i].peer, mail);
        }
        /* the hold asks poll_confirm() to send a confirming ETRN before it
         * ends by its quiet rule (poller/poll/poll.h) */
        exitcode = exit_worst(exitcode, hold_run(hold, nothing_queued, hold_tick, poll_confirm, &x, &hs));
    }
    hold_free(hold);
    for (int i = 0; i < cfg->nrelays; i++)
        relay_poll_end(&x.polls[i]);
    /* after QUIT: a hold-done hook may hang up the line */
    if (o->line_done)
        o->line_done(o->line_done_arg);
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
            nok += x.results[i].nodes[j].attempted && poll_outcome_good(x.results[i].nodes[j].outcome);
        }
    if (o->check_only)
        log_notice("check finished: %s (exit %d)", exit_name(exitcode), exitcode);
    else
        log_notice("poll finished: %d of %d nodes accepted; %s (exit %d)", nok, nnodes,
                   exit_name(exitcode), exitcode);
    free(x.polls);
    free(x.results);
    lock_release(lockfd);
    return exitcode;
}
