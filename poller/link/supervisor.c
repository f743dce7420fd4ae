/* SPDX-License-Identifier: ISC */
/* supervisor.c — `etrnpoll run`: the daemon.
 *
 * One single-threaded event loop owns everything that happens over time:
 *
 *   signalfd   SIGTERM/SIGINT (stop), SIGHUP (reload), SIGUSR1 (poll now),
 *              SIGCHLD (a poll cycle ended)
 *   netlink    the link watcher (linkwatch.c): "is the uplink usable?"
 *   timerfd    one timer (CLOCK_BOOTTIME, so time asleep counts), armed for
 *              the earliest deadline: settle, next poll, cycle timeout, SIGKILL
 *
 * Each poll cycle runs in a forked child calling cycle_run(), so a hung
 * relay or a link that drops mid-cycle is dealt with by killing one process:
 * SIGTERM first (the child's handler sets etp_abort, its I/O unwinds and it
 * QUITs where it can), SIGKILL to its whole process group 1 s later.  At most
 * one child exists at any time.  Nothing wakes the daemon while the link is
 * stable and no poll is due: no periodic ticks. */
#include "link/sup.h"
#include "poll/cycle.h"
#include "core/log.h"
#include "core/util.h"
#include "core/priv.h"
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * Daemon state
 * ====================================================================== */

int64_t boot_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t random32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    return (uint32_t)(boot_ms() * 2654435761u) ^ (uint32_t)getpid();
}

/* "45 s", "2 min", "1 h 30 min": for log lines. */
const char *fmt_delay(int64_t ms, char *buf, size_t size)
{
    int64_t s = (ms + 500) / 1000;
    if (s < 120)
        snprintf(buf, size, "%lld s", (long long)s);
    else if (s < 7200)
        snprintf(buf, size, "%lld min", (long long)((s + 30) / 60));
    else
        snprintf(buf, size, "%lld h %lld min", (long long)(s / 3600), (long long)((s % 3600) / 60));
    return buf;
}

/* "now" or "in 2 s", for "polling ..." */
const char *poll_when(int64_t ms, char *buf, size_t size)
{
    char d[32];
    if (ms <= 0)
        snprintf(buf, size, "now");
    else
        snprintf(buf, size, "in %s", fmt_delay(ms, d, sizeof d));
    return buf;
}

void set_status(struct sup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status, sizeof s->status, fmt, ap);
    va_end(ap);
    notify(&s->nt, "STATUS=%s", s->status);
}

/* The verdict for a log line: "wan0: no global address", "no default route". */
const char *vtext(const struct lw_verdict *v, char *buf, size_t size)
{
    if (v->ifname[0] && !v->usable)
        snprintf(buf, size, "%s: %s", v->ifname, v->why);
    else
        snprintf(buf, size, "%s", v->why);
    return buf;
}

/* ======================================================================
 * Link state
 * ====================================================================== */

/* How long to wait before polling a link that just became usable.  A
 * point-to-point link (ppp, tun) that is judged usable already has its
 * address and default route in place — pppd adds them before ip-up — so
 * waiting buys nothing and costs paid line time; `settle` then applies only
 * when the link flapped recently (sup_settle_ms, schedule.c).  A hang-up
 * after a poll was done with the line (the hold-done hook's) is no flap:
 * down_ms is not set for it.  Links with a carrier (Ethernet to a DSL/cable
 * modem) always settle. */
static int64_t settle_for(const struct sup *s, const struct lw_verdict *v, int64_t now)
{
    return sup_settle_ms(v->p2p, s->down_ms, now, s->cfg->link.settle);
}

static void on_verdict(struct sup *s, const struct lw_verdict *v, int initial)
{
    char d[32], t[240];
    int64_t now = boot_ms();
    int64_t settle_ms = settle_for(s, v, now);

    if (v->usable && (!s->usable || initial)) {
        s->usable = 1;
        s->up = *v;
        s->line_done = 0;         /* this link-up's poll has not happened yet */
        s->blocked = 0;           /* a new link-up clears a permanent failure */
        s->backoff_s = 0;
        s->poll_at = 0;
        s->settle_at = now + settle_ms;
        log_notice("link %s usable (%s) — polling %s", v->ifname, v->why,
                   poll_when(settle_ms, d, sizeof d));
        set_status(s, "link %s usable (%s); polling %s", v->ifname, v->why, d);
        return;
    }
    if (!v->usable && (s->usable || initial)) {
        int was = s->usable;
        line_fd_read(s);          /* did the poll say it is done with the line? */
        char name[IF_NAMESIZE];
        snprintf(name, sizeof name, "%s", s->up.ifname);
        s->usable = 0;
        if (was)
            s->down_ms = s->line_done ? 0 : now;
        s->up = *v;
        s->settle_at = 0;
        s->poll_at = 0;
        s->backoff_s = 0;
        vtext(v, t, sizeof t);
        if (!was) {
            log_notice("link not usable (%s) — waiting", t);
        } else if (s->child && !s->term_at && !s->child_line_done) {
            kill_poll(s, KILL_LINK_DOWN);
            log_notice("link %s down (%s) — killed running poll", name, t);
        } else if (s->child && !s->term_at) {
            log_notice("link %s down (%s) — the running poll is done with the line; "
                       "letting it finish", name, t);
        } else {
            log_notice("link %s down (%s)", name, t);
        }
        set_status(s, "link not usable (%s); waiting", t);
        return;
    }
    if (v->usable && s->usable && !lw_same_uplink(v, &s->up)) {
        /* A new address (or another interface) is as good as a new
         * link-up: DNS must be updated and a running session is bound to
         * the old address. */
        int killed = 0;
        s->line_done = 0;
        if (s->child && !s->term_at && !s->child_line_done) {
            kill_poll(s, KILL_UPLINK_CHANGED);
            killed = 1;
        }
        log_notice("uplink changed: %s (%s) -> %s (%s)%s — polling %s", s->up.ifname, s->up.why,
                   v->ifname, v->why, killed ? "; killed running poll" : "",
                   poll_when(settle_ms, d, sizeof d));
        s->up = *v;
        s->blocked = 0;
        s->backoff_s = 0;
        s->poll_at = 0;
        s->settle_at = now + settle_ms;
        set_status(s, "link %s usable (%s); polling %s", v->ifname, v->why, d);
        return;
    }
    if (!v->usable && strcmp(v->why, s->up.why) != 0) {
        log_debug("link still not usable: %s", vtext(v, t, sizeof t));
        s->up = *v;
    } else if (v->usable) {
        s->up = *v;               /* same uplink; keep route flags etc. current */
    }
}

static void judge(struct sup *s, int initial)
{
    struct lw_verdict v;
    lw_judge(s->snap, &s->cfg->link, &v);
    on_verdict(s, &v, initial);
}

static int on_netlink(struct sup *s)
{
    int r = linkwatch_process(s->lw);
    if (r < 0)
        return -1;
    if (r > 0) {
        linkwatch_snapshot(s->lw, s->snap);
        judge(s, 0);
    }
    return 0;
}

/* ======================================================================
 * Privileges
 * ====================================================================== */

/* drop to the service user: core/priv.c priv_drop() */

/* ======================================================================
 * Signals
 * ====================================================================== */

static void reload(struct sup *s)
{
    notify(&s->nt, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)now_ms() * 1000);
    char *err = malloc(8192);
    struct etp_config *nc = calloc(1, sizeof *nc);
    if (!err || !nc) {
        log_err("reload: out of memory; keeping the old configuration");
        free(err);
        free(nc);
        notify(&s->nt, "READY=1");
        return;
    }
    if (config_load(s->config_path, nc, err, 8192) < 0) {
        log_err("reload: %s has errors; keeping the old configuration:", s->config_path);
        /* One log line per "file:line: problem". */
        for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
            if (*line)
                log_err("  %s", line);
        config_free(nc);
        free(nc);
        free(err);
        notify(&s->nt, "READY=1\nSTATUS=%s (reload failed: old configuration kept)", s->status);
        return;
    }
    free(err);
    if ((s->cfg->user == NULL) != (nc->user == NULL) ||
        (s->cfg->user && strcmp(s->cfg->user, nc->user) != 0))
        log_warn("reload: a changed \"user\" takes effect only after a restart");
    int timer_pending = s->poll_at && s->poll_trigger && strcmp(s->poll_trigger, "timer") == 0;
    config_free(s->cfg);
    free(s->cfg);
    s->cfg = nc;
    log_notice("configuration %s reloaded", s->config_path);

    /* The poll interval may have changed: re-plan a pending timer poll. */
    if (timer_pending) {
        if (s->cfg->link.interval > 0)
            s->poll_at = s->last_end + (int64_t)s->cfg->link.interval * 1000;
        else
            s->poll_at = 0;
    }
    /* link.interfaces may have changed: judge the current state again. */
    judge(s, 0);
    if (s->blocked) {
        s->blocked = 0;
        if (s->usable && !s->child) {
            log_notice("previous poll failed permanently; polling with the new configuration now");
            s->poll_at = boot_ms();
            s->poll_trigger = "signal";
        }
    }
    notify(&s->nt, "READY=1\nSTATUS=%s", s->status);
}

static void on_signal(struct sup *s, const struct signalfd_siginfo *si)
{
    switch (si->ssi_signo) {
    case SIGCHLD:
        reap(s);
        break;
    case SIGHUP:
        log_notice("SIGHUP: reloading %s", s->config_path);
        reload(s);
        break;
    case SIGUSR1:
        if (s->stopping)
            break;
        if (s->child) {
            log_notice("SIGUSR1: a poll is already running (process %ld) — ignored", (long)s->child);
            break;
        }
        if (s->usable) {
            log_notice("SIGUSR1: polling now");
        } else {
            char t[240];
            log_notice("SIGUSR1: link not usable (%s) — polling anyway, as asked",
                       vtext(&s->up, t, sizeof t));
        }
        s->settle_at = 0;         /* this poll replaces a pending one */
        s->poll_at = 0;
        s->blocked = 0;
        start_poll(s, "signal");
        break;
    case SIGTERM:
    case SIGINT:
        if (!s->stopping) {
            s->stopping = 1;
            notify(&s->nt, "STOPPING=1");
            s->settle_at = s->poll_at = 0;
            if (s->child) {
                log_notice("%s: stopping; ending the running poll", strsignal((int)si->ssi_signo));
                kill_poll(s, KILL_SHUTDOWN);
            } else {
                log_notice("%s: stopping", strsignal((int)si->ssi_signo));
            }
        }
        break;
    default:
        break;
    }
}

static int on_signalfd(struct sup *s)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(s->sfd, &si, sizeof si);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            log_err("signalfd: %s", strerror(errno));
            return -1;
        }
        if (n != (ssize_t)sizeof si)
            return 0;
        on_signal(s, &si);
    }
}

/* ======================================================================
 * Timers
 * ====================================================================== */

static void run_timers(struct sup *s)
{
    int64_t now = boot_ms();
    if (s->child) {
        if (s->term_at && !s->killed_hard && now >= s->term_at + KILL_GRACE_MS) {
            log_warn("poll process %ld still running %d ms after SIGTERM — SIGKILL", (long)s->child,
                     KILL_GRACE_MS);
            kill(-s->child, SIGKILL);
            kill(s->child, SIGKILL);
            s->killed_hard = 1;
        } else if (!s->term_at && now >= s->child_started + (int64_t)s->cfg->link.cycle_timeout * 1000) {
            log_warn("poll running for %d s (link.cycle-timeout) — stopping it",
                     s->cfg->link.cycle_timeout);
            kill_poll(s, KILL_TIMEOUT);
        }
        return;                   /* nothing new starts while a poll runs */
    }
    if (s->stopping)
        return;
    if (s->settle_at && now >= s->settle_at) {
        s->settle_at = 0;
        if (s->usable)
            start_poll(s, "link-up");
        return;
    }
    if (s->poll_at && now >= s->poll_at) {
        const char *trig = s->poll_trigger ? s->poll_trigger : "timer";
        s->poll_at = 0;
        if (s->usable && !s->blocked)
            start_poll(s, trig);
    }
}

static void arm_timer(struct sup *s)
{
    int64_t next = INT64_MAX;
    if (s->child) {
        if (s->term_at) {
            if (!s->killed_hard)
                next = s->term_at + KILL_GRACE_MS;
        } else {
            next = s->child_started + (int64_t)s->cfg->link.cycle_timeout * 1000;
        }
    } else if (!s->stopping) {
        if (s->settle_at && s->settle_at < next)
            next = s->settle_at;
        if (s->poll_at && s->poll_at < next)
            next = s->poll_at;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (next != INT64_MAX) {
        if (next < 1)
            next = 1;
        its.it_value.tv_sec = next / 1000;
        its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
    }
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        log_err("timerfd_settime: %s", strerror(errno));
}

/* ======================================================================
 * Main loop
 * ====================================================================== */

int supervisor_run(const struct run_opts *o)
{
    struct sup sv;
    struct sup *s = &sv;
    memset(s, 0, sizeof *s);
    s->config_path = o->config_path;
    s->sfd = s->tfd = s->line_fd = -1;
    s->nt.fd = -1;
    int rc = 0;

    s->cfg = calloc(1, sizeof *s->cfg);
    s->snap = calloc(1, sizeof *s->snap);
    char *err = malloc(8192);
    if (!s->cfg || !s->snap || !err) {
        log_err("out of memory");
        free(s->cfg);
        free(s->snap);
        free(err);
        return EX_OSERR;
    }
    if (config_load(s->config_path, s->cfg, err, 8192) < 0) {
        fprintf(stderr, "%s", err);
        log_err("configuration %s has errors; not starting", s->config_path);
        free(err);
        config_free(s->cfg);
        free(s->cfg);
        free(s->snap);
        return EX_CONFIG;
    }
    free(err);

    notify_open(&s->nt);

    /* Signals arrive through the signalfd only. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &mask, &s->oldmask) < 0 ||
        (s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        log_err("signalfd: %s", strerror(errno));
        rc = EX_OSERR;
        goto out;
    }
    s->tfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->tfd < 0)
        s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->tfd < 0) {
        log_err("timerfd: %s", strerror(errno));
        rc = EX_OSERR;
        goto out;
    }

    /* Subscribe, then dump: nothing is missed between the two. */
    s->lw = linkwatch_open(0);
    if (!s->lw) {
        rc = EX_OSERR;
        goto out;
    }
    /* Everything that might need root is open: become the configured user. */
    if ((rc = priv_drop(s->cfg)) != 0)
        goto out;

    {
        char pats[256] = "";
        size_t off = 0;
        for (int i = 0; i < s->cfg->link.ninterfaces && off < sizeof pats; i++)
            off += (size_t)snprintf(pats + off, sizeof pats - off, "%s%s", i ? " " : "",
                                    s->cfg->link.interfaces[i]);
        log_notice("daemon started (pid %ld, config %s); watching %s%s; settle %d s, "
                   "interval %d s, backoff %d..%d s, cycle-timeout %d s",
                   (long)getpid(), s->config_path, pats[0] ? "interfaces " : "the default-route interface",
                   pats, s->cfg->link.settle, s->cfg->link.interval, s->cfg->link.backoff_min,
                   s->cfg->link.backoff_max, s->cfg->link.cycle_timeout);
    }
    linkwatch_snapshot(s->lw, s->snap);
    judge(s, 1);
    notify(&s->nt, "READY=1\nSTATUS=%s\nMAINPID=%ld", s->status, (long)getpid());

    while (!(s->stopping && !s->child)) {
        run_timers(s);
        if (s->stopping && !s->child)
            break;
        arm_timer(s);
        struct pollfd p[4] = {
            { .fd = s->sfd, .events = POLLIN },
            { .fd = linkwatch_fd(s->lw), .events = POLLIN },
            { .fd = s->tfd, .events = POLLIN },
            { .fd = s->line_fd, .events = POLLIN },     /* -1: ignored by poll() */
        };
        int n = poll(p, 4, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("poll: %s", strerror(errno));
            rc = EX_OSERR;
            break;
        }
        if (p[2].revents & POLLIN) {
            uint64_t ticks;
            if (read(s->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
                log_debug("timerfd read: %s", strerror(errno));
        }
        /* before the signals and netlink: a child that is done with the line
         * and then hangs it up is not stopped for it */
        if (p[3].revents & (POLLIN | POLLHUP | POLLERR))
            line_fd_read(s);
        if (p[0].revents & POLLIN) {
            if (on_signalfd(s) < 0) {
                rc = EX_OSERR;
                break;
            }
        }
        if (p[1].revents & (POLLIN | POLLERR)) {
            if (on_netlink(s) < 0) {
                log_err("link watcher failed; exiting (the service manager restarts us)");
                rc = EX_OSERR;
                break;
            }
        }
    }
    if (s->child) {
        /* Leaving on an error: do not leave a poll behind. */
        kill(-s->child, SIGKILL);
        kill(s->child, SIGKILL);
        waitpid(s->child, NULL, 0);
        s->child = 0;
    }
    if (s->line_fd >= 0)
        close(s->line_fd);
    log_notice("daemon stopped");
out:
    if (!s->stopping)
        notify(&s->nt, "STOPPING=1");
    linkwatch_close(s->lw);
    if (s->sfd >= 0)
        close(s->sfd);
    if (s->tfd >= 0)
        close(s->tfd);
    if (s->nt.fd >= 0)
        close(s->nt.fd);
    sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
    config_free(s->cfg);
    free(s->cfg);
    free(s->snap);
    log_forget_secrets();
    return rc;
}
