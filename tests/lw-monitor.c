/* SPDX-License-Identifier: ISC */
/* lw-monitor — test helper: run the link watcher alone and print every
 * change of verdict, one line each, flushed:
 *
 *   <ms since start> usable <ifname> <addr4|-> <addr6|-> (<why>)
 *   <ms since start> unusable (<why>)
 *   <ms> stats events=N overflows=N resyncs=N route_refills=N   (on SIGUSR1)
 *
 * Usage: lw-monitor [-i GLOB]... [-R] [-s SETTLE] [-b RCVBUF] [-d]
 *   -i  link.interfaces pattern (repeatable); none = default-route interface
 *   -R  link.require-default-route = no
 *   -b  netlink socket receive buffer (bytes), to provoke overflows in tests
 *   -d  debug log (every netlink notification) on stderr
 * Exits 0 on SIGTERM/SIGINT. */
#include "conf/config.h"
#include "link/linkwatch.h"
#include "core/log.h"
#include "core/util.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop, g_stats;

static void on_sig(int sig)
{
    if (sig == SIGUSR1)
        g_stats = 1;
    else
        g_stop = 1;
}

static void print_verdict(int64_t t0, const struct lw_verdict *v)
{
    if (v->usable)
        printf("%lld usable %s %s %s (%s)\n", (long long)(now_ms() - t0), v->ifname,
               v->addr4[0] ? v->addr4 : "-", v->addr6[0] ? v->addr6 : "-", v->why);
    else
        printf("%lld unusable %s (%s)\n", (long long)(now_ms() - t0), v->ifname[0] ? v->ifname : "-",
               v->why);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct link_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.require_default_route = 1;
    int rcvbuf = 0, level = LOG_NOTICE, c;
    while ((c = getopt(argc, argv, "i:Rb:d")) != -1) {
        switch (c) {
        case 'i':
            if (cfg.ninterfaces >= CFG_MAX_IFACES) {
                fprintf(stderr, "lw-monitor: too many -i\n");
                return 64;
            }
            cfg.interfaces[cfg.ninterfaces++] = optarg;
            break;
        case 'R': cfg.require_default_route = 0; break;
        case 'b': rcvbuf = atoi(optarg); break;
        case 'd': level = LOG_DEBUG; break;
        default:
            fprintf(stderr, "usage: lw-monitor [-i GLOB]... [-R] [-b RCVBUF] [-d]\n");
            return 64;
        }
    }
    log_init("lw-monitor", LOG_TO_STDERR, level);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    int64_t t0 = now_ms();
    struct linkwatch *lw = linkwatch_open(rcvbuf);
    if (!lw)
        return 71;
    struct lw_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return 71;
    struct lw_verdict cur, last;
    linkwatch_snapshot(lw, snap);
    lw_judge(snap, &cfg, &cur);
    print_verdict(t0, &cur);
    last = cur;
    printf("ready\n");
    fflush(stdout);

    while (!g_stop) {
        struct pollfd p = { .fd = linkwatch_fd(lw), .events = POLLIN };
        int n = poll(&p, 1, -1);
        if (g_stats) {
            struct linkwatch_stats st;
            linkwatch_stats(lw, &st);
            printf("%lld stats events=%llu overflows=%llu resyncs=%llu route_refills=%llu\n",
                   (long long)(now_ms() - t0), (unsigned long long)st.events,
                   (unsigned long long)st.overflows, (unsigned long long)st.resyncs,
                   (unsigned long long)st.route_refills);
            fflush(stdout);
            g_stats = 0;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            break;
        }
        if (n == 0)
            continue;
        int r = linkwatch_process(lw);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        linkwatch_snapshot(lw, snap);
        lw_judge(snap, &cfg, &cur);
        if (cur.usable != last.usable || !lw_same_uplink(&cur, &last) ||
            strcmp(cur.why, last.why) != 0) {
            print_verdict(t0, &cur);
            last = cur;
        }
    }
    free(snap);
    linkwatch_close(lw);
    return 0;
}
