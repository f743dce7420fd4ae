/* SPDX-License-Identifier: ISC */
/* poll.c — `etrnpoll poll` (with --relay/--node filters and --dry-run) and
 * `etrnpoll ddns [--force] [--dry-run]`.
 *
 * The filters build a restricted shallow copy of the configuration and hand
 * it to cycle_run(), so the cycle itself knows nothing about them. */
#include "cli/cli.h"
#include "ddns/ddns.h"
#include "hold/hold.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void list_names(const struct etp_config *cfg, int nodes)
{
    char b[300];
    fprintf(stderr, "etrnpoll: configured %s:", nodes ? "nodes" : "relays");
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *r = &cfg->relays[i];
        if (!nodes) {
            fprintf(stderr, " %s", printable_str(b, sizeof b, r->name, "?"));
            continue;
        }
        fprintf(stderr, "%s %s:", i ? ";" : "", printable_str(b, sizeof b, r->name, "?"));
        for (int j = 0; j < r->nnodes; j++)
            fprintf(stderr, " %s", r->nodes[j]);
    }
    fprintf(stderr, "\n");
}

int cli_filter_config(const struct etp_config *cfg, const struct cli *c, struct etp_config *out)
{
    *out = *cfg;                       /* shallow: strings stay cfg's */
    if (c->nrelays == 0 && c->nnodes == 0)
        return 0;
    char b[300];
    for (int k = 0; k < c->nrelays; k++) {
        int found = 0;
        for (int i = 0; i < cfg->nrelays; i++)
            found |= strcmp(cfg->relays[i].name, c->relays[k]) == 0;
        if (!found) {
            fprintf(stderr, "etrnpoll: --relay %s: no such relay in %s\n",
                    printable_str(b, sizeof b, c->relays[k], ""), cfg->path);
            list_names(cfg, 0);
            return EX_USAGE;
        }
    }
    int used[CLI_MAX_NODES] = { 0 };
    out->nrelays = 0;
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *r = &cfg->relays[i];
        int want = c->nrelays == 0;
        for (int k = 0; k < c->nrelays; k++)
            want |= strcmp(r->name, c->relays[k]) == 0;
        if (!want)
            continue;
        struct relay_cfg nr = *r;
        if (c->nnodes > 0) {
            nr.nnodes = 0;
            for (int j = 0; j < r->nnodes; j++)
                for (int k = 0; k < c->nnodes; k++)
                    if (strcasecmp(r->nodes[j], c->nodes[k]) == 0) {
                        nr.nodes[nr.nnodes++] = r->nodes[j];
                        used[k] = 1;
                        break;
                    }
            if (nr.nnodes == 0)
                continue;                  /* this relay has none of them */
        }
        out->relays[out->nrelays++] = nr;
    }
    for (int k = 0; k < c->nnodes; k++)
        if (!used[k]) {
            fprintf(stderr, "etrnpoll: --node %s: not configured%s\n",
                    printable_str(b, sizeof b, c->nodes[k], ""),
                    c->nrelays ? " for the chosen relay(s)" : " for any relay");
            list_names(cfg, 1);
            return EX_USAGE;
        }
    return 0;
}

/* The ddns module's run and plan, with --force as DDNS_FORCE. */
static int cli_ddns_run(const struct etp_config *cfg, const struct uplink *up, int force,
                        struct ddns_summary *sum)
{
    return ddns_run_all(cfg, up, force ? DDNS_FORCE : 0, sum);
}

static int cli_ddns_plan(FILE *out, const struct etp_config *cfg, const struct uplink *up, int force)
{
    return ddns_plan(cfg, up, force ? DDNS_FORCE : 0, out);
}

int cli_print_plan(FILE *out, const struct etp_config *cfg, const struct cli *c)
{
    int rc = 0;
    const struct cycle_opts *o = &c->co;
    fprintf(out, "dry run: nothing is sent, no state is written, no hook runs\n");
    fprintf(out, "trigger %s%s%s%s%s\n", o->trigger, o->up.ifname[0] ? ", interface " : "", o->up.ifname,
            o->up.addr4[0] || o->up.addr6[0] ? ", address " : "", o->up.addr4[0] ? o->up.addr4 : o->up.addr6);
    if (c->cmd == CMD_DDNS || (!o->no_ddns && cfg->nddns > 0)) {
        if (cfg->nddns)
            rc = cli_ddns_plan(out, cfg, &o->up, c->force);
        else
            fprintf(out, "DDNS: none configured\n");
    } else {
        fprintf(out, "DDNS: %s\n", o->no_ddns ? "skipped (--no-ddns)" : "none configured");
    }
    if (c->cmd == CMD_DDNS)
        return rc;
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *r = &cfg->relays[i];
        char n[300], hs[300], u[300];
        fprintf(out, "relay %s: %s port %d, tls %s%s%s, ETRN for %d node%s",
                printable_str(n, sizeof n, r->name, "?"), printable_str(hs, sizeof hs, r->host, "?"),
                relay_port(r), tls_mode_name(r->tls), r->username ? ", AUTH as " : "",
                printable_str(u, sizeof u, r->username, ""), r->nnodes, r->nnodes == 1 ? "" : "s");
        if (r->max_etrn_per_session)
            fprintf(out, " (at most %d per session)", r->max_etrn_per_session);
        if (r->etrn_pipelining)
            fprintf(out, " (pipelined where the relay allows: etrn-pipelining)");
        fprintf(out, ":\n");
        for (int j = 0; j < r->nnodes; j++)
            fprintf(out, "  ETRN %s\n", r->nodes[j]);
    }
    const struct hold_cfg *h = &cfg->hold;
    char la[300], src[300], fl[300];
    if (o->no_hold || !h->enabled) {
        fprintf(out, "hold: %s\n", o->no_hold ? "skipped (--no-hold)" : "disabled (hold { enabled = no })");
        return rc;
    }
    fprintf(out, "hold: inbound connections to port %d%s%s%s%s; ends %d s after the last one closed, "
            "after %d s without first contact, at most after %d s%s%s\n", h->port,
            h->local_address ? " at " : "", printable_str(la, sizeof la, h->local_address, ""),
            h->source ? " from " : "", printable_str(src, sizeof src, h->source, ""), h->quiet, h->first_contact,
            h->max_hold, h->wait_outbound ? "; waits for outbound SMTP too" : "",
            h->keepalive ? "; NOOP keepalive" : "");
    if (h->nflush)
        fprintf(out, "  flush command: %s\n", printable_str(fl, sizeof fl, h->flush_argv[0], ""));
    return rc;
}

int cmd_poll(const struct etp_config *cfg, const struct cli *c)
{
    struct etp_config sub;
    int rc = cli_filter_config(cfg, c, &sub);
    if (rc)
        return rc;
    if (c->dry_run)
        return cli_print_plan(stdout, &sub, c);
    return cycle_run(&sub, &c->co);
}

int cmd_ddns(const struct etp_config *cfg, const struct cli *c)
{
    if (cfg->nddns == 0) {
        log_err("%s has no ddns section: nothing to update (see etrnpoll.conf(5), DDNS)", cfg->path);
        return EX_CONFIG;
    }
    if (c->dry_run)
        return cli_print_plan(stdout, cfg, c);
    if (state_dir_ready(cfg->state_dir) < 0)
        return EX_CANTCREAT;
    pid_t holder = 0;
    int lockfd = lock_acquire(cfg->state_dir, c->co.lock_wait, &holder);
    if (lockfd == -1) {
        log_notice("a poll is running (pid %ld) and updates DNS itself; not updating again", (long)holder);
        return 0;
    }
    if (lockfd == -2)
        log_err("updating without the lock: the state dir %s is not usable", cfg->state_dir);
    struct ddns_summary sum;
    memset(&sum, 0, sizeof sum);
    int rc = cli_ddns_run(cfg, &c->co.up, c->force, &sum);
    log_notice("ddns finished: %d entr%s, %d changed, %d failed; %s (exit %d)", sum.entries,
               sum.entries == 1 ? "y" : "ies", sum.changed, sum.failed, exit_name(rc), rc);
    if (lockfd >= 0)
        lock_release(lockfd);
    return rc;
}
