/* SPDX-License-Identifier: ISC */
/* main.c — etrnpoll: parse the command line (opts.c), load the
 * configuration, run one command (check.c, status.c, poll.c, version.c, or
 * the daemon in link/supervisor.c). */
#include "cli/cli.h"
#include "conf/config.h"
#include "core/log.h"
#include "core/util.h"
#include "link/supervisor.h"
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

static void on_signal(int sig)
{
    (void)sig;
    etp_abort_now();
}

static int load_config(const char *path, struct etp_config *cfg)
{
    char err[8192];
    if (config_load(path, cfg, err, sizeof err) < 0) {
        fprintf(stderr, "%s", err);
        fprintf(stderr, "etrnpoll: configuration %s has errors; nothing done\n", path);
        config_free(cfg);      /* config_load() leaves what it parsed (its contract) */
        return EX_CONFIG;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* We hold passwords in memory: no core dumps, no ptrace by others. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    umask(077);

    struct cli c;
    char err[512];
    if (cli_parse(argc, argv, &c, err, sizeof err) != 0) {
        fprintf(stderr, "etrnpoll: %s\n", err);
        return EX_USAGE;
    }
    if (c.help) {
        cli_usage(stdout);
        return 0;
    }
    if (c.version) {
        cmd_version(stdout, &c);
        return 0;
    }

    log_init("etrnpoll", LOG_TO_STDERR | (c.use_syslog ? LOG_TO_SYSLOG : 0), c.level);
    log_set_transcript(c.transcript);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gnutls_global_init();

    if (c.cmd == CMD_RUN) {
        struct run_opts ro = { .config_path = c.config_path, .foreground = 1, .verbose = c.transcript };
        return supervisor_run(&ro);
    }

    struct etp_config cfg;
    int rc = load_config(c.config_path, &cfg);
    if (rc)
        return rc;
    if (c.cmd == CMD_POLL || c.cmd == CMD_DDNS) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        if (etp_abort_init() < 0)
            log_warn("no abort wake-up (eventfd: %s): a stop may wait for a relay's time-out", strerror(errno));
        sa.sa_handler = on_signal;     /* no SA_RESTART: let poll() return EINTR */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    switch (c.cmd) {
    case CMD_POLL:   rc = cmd_poll(&cfg, &c); break;
    case CMD_DDNS:   rc = cmd_ddns(&cfg, &c); break;
    case CMD_CHECK:  rc = cmd_check(&cfg, &c); break;
    case CMD_STATUS: rc = cmd_status(&cfg, &c); break;
    default:         rc = EX_SOFTWARE; break;
    }
    config_free(&cfg);
    log_forget_secrets();
    return rc;
}
