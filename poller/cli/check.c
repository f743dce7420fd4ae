/* SPDX-License-Identifier: ISC */
/* check.c — `etrnpoll check [--connect]`: validate the configuration and
 * secrets, warn about common mistakes, optionally connect to each relay.
 *
 * Each module contributes one entry to `checks[]` below: a function that
 * logs what is wrong (with what to do) and returns 0 or a sysexits code.
 * Warnings are logged and do not change the exit code. */
#include "core/priv.h"
#include "cli/cli.h"
#include "ddns/ddns.h"
#include "hold/hold.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Warnings about relay settings that parse but rarely work (issue 11, 12). */
static void relay_warnings(const struct etp_config *cfg, const struct relay_cfg *r)
{
    int port = relay_port(r);
    if (port == 465 && r->tls == TLS_STARTTLS)
        log_warn("%s:%d: relay %s: port 465 is the implicit-TLS (submissions) port, but tls = starttls: "
                 "the relay will wait for a TLS handshake and never greet; set tls = implicit",
                 cfg->path, r->line, r->name);
    if ((port == 25 || port == 587) && r->tls == TLS_IMPLICIT)
        log_warn("%s:%d: relay %s: port %d speaks plain SMTP first, but tls = implicit: the TLS "
                 "handshake will fail on the relay's greeting; set tls = starttls (or port = 465)",
                 cfg->path, r->line, r->name, port);
    for (int i = 0; i < r->nnodes; i++)
        for (int j = 0; j < i; j++)
            if (strcasecmp(r->nodes[i], r->nodes[j]) == 0) {
                char b[300];
                printable(b, sizeof b, r->nodes[i], strlen(r->nodes[i]));
                log_warn("%s:%d: relay %s: domain \"%s\" is listed twice (entries %d and %d); "
                         "it is sent once; remove the duplicate",
                         cfg->path, r->line, r->name, b, j + 1, i + 1);
                break;
            }
}

static int check_top(const struct etp_config *cfg)
{
    if (cfg->ehlo_name && !strchr(cfg->ehlo_name, '.') && cfg->ehlo_name[0] != '[') {
        char b[300];
        printable(b, sizeof b, cfg->ehlo_name, strlen(cfg->ehlo_name));
        log_warn("%s: the EHLO name \"%s\" has no dot: relays may refuse or distrust an unqualified "
                 "name (RFC 5321 4.1.1.1 wants the FQDN); set ehlo-name = \"gw.example.org\"",
                 cfg->path, b);
    }
    return 0;
}

static int check_relays(const struct etp_config *cfg)
{
    int rc = 0;
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *r = &cfg->relays[i];
        if (r->password_file) {
            char *pw = NULL, err[400];
            if (secret_read(r->password_file, &pw, err, sizeof err) < 0) {
                log_err("relay %s: %s", r->name, err);
                rc = EX_CONFIG;
            }
            secret_free(pw);
        }
        relay_warnings(cfg, r);
        char n[300], h[300], u[300];
        printf("relay %s: %s port %d, tls %s%s%s, %d domain%s\n", printable_str(n, sizeof n, r->name, "?"),
               printable_str(h, sizeof h, r->host, "?"), relay_port(r), tls_mode_name(r->tls),
               r->username ? ", auth as " : "", printable_str(u, sizeof u, r->username, ""),
               r->nnodes, r->nnodes == 1 ? "" : "s");
    }
    return rc;
}

static int check_ddns(const struct etp_config *cfg)
{
    return cfg->nddns > 0 ? ddns_check(cfg) : 0;
}

static int check_hold(const struct etp_config *cfg)
{
    char err[300];
    if (cfg->hold.enabled && hold_check_config(&cfg->hold, err, sizeof err) < 0) {
        log_err("%s", err);
        return EX_CONFIG;
    }
    return 0;
}

/* One line per module; keep the order (messages read top to bottom). */
static int (*const checks[])(const struct etp_config *) = {
    priv_check_as_service,        /* as root: also what the service user will meet */
    check_top,
    check_relays,
    check_ddns,
    check_hold,
};

int cmd_check(const struct etp_config *cfg, const struct cli *c)
{
    int rc = 0, nodes = 0;
    for (size_t i = 0; i < ETP_ARRAY_LEN(checks); i++)
        rc = exit_worst(rc, checks[i](cfg));
    for (int i = 0; i < cfg->nrelays; i++)
        nodes += cfg->relays[i].nnodes;
    if (rc != 0) {
        printf("configuration %s: errors found (exit %d)\n", cfg->path, rc);
        return rc;
    }
    printf("configuration %s: OK (%d relay%s, %d domain%s, %d ddns)\n", cfg->path, cfg->nrelays,
           cfg->nrelays == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s", cfg->nddns);
    if (!c->connect)
        return 0;
    struct etp_config sub;
    rc = cli_filter_config(cfg, c, &sub);
    if (rc)
        return rc;
    struct cycle_opts o = c->co;
    o.check_only = 1;
    return cycle_run(&sub, &o);
}
