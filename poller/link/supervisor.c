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
#include "conf/config.h"
#include "link/supervisor.h"
#include "poll/cycle.h"
#include "link/linkwatch.h"
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE_MS 1000        /* SIGTERM -> SIGKILL */

/* ======================================================================
 * Pure helpers
 * ====================================================================== */

enum sup_outcome sup_classify_exit(int code)
{
    switch (code) {
    case 0:
        return SUP_OK;
    case EX_USAGE:          /* 64: we called it wrongly; repeating will not help */
    case EX_UNAVAILABLE:    /* 69: a domain was refused */
    case EX_NOPERM:         /* 77: authentication failed (do not lock the account) */
    case EX_CONFIG:         /* 78: configuration error */
        return SUP_PERMANENT;
    default:                /* 75, 76, crashes, OS errors: try again later */
        return SUP_RETRY;
    }
}

int sup_backoff_next(int cur_s, int min_s, int max_s)
{
    if (min_s < 1)
        min_s = 1;
    if (max_s < min_s)
        max_s = min_s;
    if (cur_s < min_s)
        return min_s;
    if (cur_s > max_s / 2)
        return max_s;
    return cur_s * 2;
}

int64_t sup_backoff_delay_ms(int base_s, uint32_t rnd)
{
    int64_t base = (int64_t)(base_s > 0 ? base_s : 1) * 1000;
    int64_t span = base / 5;                       /* up to 20 % earlier */
    int64_t d = base - (int64_t)(((uint64_t)rnd * (uint64_t)(span + 1)) >> 32);
    return d < 1 ? 1 : d;
}

/* ======================================================================
 * systemd notification (sd_notify protocol, no libsystemd)
 * ====================================================================== */

struct notifier {
    int fd;
    struct sockaddr_un sa;
    socklen_t salen;
};

static void notify_open(struct notifier *n)
{
    n->fd = -1;
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e || !*e)
        return;
    size_t len = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || len < 2 || len >= sizeof n->sa.sun_path) {
        log_warn("NOTIFY_SOCKET=%s: unsupported address; not notifying the service manager", e);
    } else {
        memset(&n->sa, 0, sizeof n->sa);
        n->sa.sun_family = AF_UNIX;
        memcpy(n->sa.sun_path, e, len);
        if (e[0] == '@')
            n->sa.sun_path[0] = '\0';             /* abstract namespace */
        n->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (n->fd < 0)
            log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
    }
    /* Poll cycles and the hooks they run must not talk to systemd. */
    unsetenv("NOTIFY_SOCKET");
}

static void notify(struct notifier *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notify(struct notifier *n, const char *fmt, ...)
{
    if (n->fd < 0)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof buf)
        len = (int)sizeof buf - 1;
    /* Datagram: whole or nothing.  A failure is logged at debug level only
     * (the manager may be restarting); the next message tries again. */
    if (sendto(n->fd, buf, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&n->sa, n->salen) < 0)
        log_debug("sd_notify: %s", strerror(errno));
}

/* ======================================================================
 * Daemon state
 * ====================================================================== */

enum kill_reason { KILL_NONE = 0, KILL_LINK_DOWN, KILL_UPLINK_CHANGED, KILL_TIMEOUT, KILL_SHUTDOWN };

struct sup {
    const char *config_path;
    struct etp_config *cfg;
    struct linkwatch *lw;
    struct lw_snapshot *snap;
    int sfd, tfd;
    sigset_t oldmask;
    struct notifier nt;

    /* link */
    int usable;
    struct lw_verdict up;         /* current verdict (the uplink when usable) */
    int64_t down_ms;              /* when the uplink last stopped being usable (0 never) */

    /* schedule; deadlines in ms of CLOCK_BOOTTIME, 0 = none */
    int64_t settle_at;
    int64_t poll_at;
    const char *poll_trigger;     /* "timer", "retry", "signal" */
    int backoff_s;                /* current backoff base, 0 = no failure */
    int blocked;                  /* permanent failure: wait for SIGHUP or link-up */
    int64_t last_end;             /* when the last poll ended */

    /* the running poll */
    pid_t child;
    int64_t child_started;
    const char *child_trigger;
    int64_t term_at;              /* SIGTERM sent (0 = not being killed) */
    int killed_hard;
    enum kill_reason kill_reason;

    int stopping;
    unsigned long polls;
    char status[200];
};

static int64_t boot_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t random32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    return (uint32_t)(boot_ms() * 2654435761u) ^ (uint32_t)getpid();
}

/* "45 s", "2 min", "1 h 30 min": for log lines. */
static const char *fmt_delay(int64_t ms, char *buf, size_t size)
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
static const char *poll_when(int64_t ms, char *buf, size_t size)
{
    char d[32];
    if (ms <= 0)
        snprintf(buf, size, "now");
    else
        snprintf(buf, size, "in %s", fmt_delay(ms, d, sizeof d));
    return buf;
}

static void set_status(struct sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_status(struct sup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status, sizeof s->status, fmt, ap);
    va_end(ap);
    notify(&s->nt, "STATUS=%s", s->status);
}

/* The verdict for a log line: "wan0: no global address", "no default route". */
static const char *vtext(const struct lw_verdict *v, char *buf, size_t size)
{
    if (v->ifname[0] && !v->usable)
        snprintf(buf, size, "%s: %s", v->ifname, v->why);
    else
        snprintf(buf, size, "%s", v->why);
    return buf;
}

/* ======================================================================
 * The poll child
 * ====================================================================== */

static void child_on_term(int sig)
{
    (void)sig;
    etp_abort = 1;
}

static void start_poll(struct sup *s, const char *trigger)
{
    if (s->child) {
        log_notice("poll (%s) not started: poll process %ld is still running", trigger,
                   (long)s->child);
        return;
    }
    struct cycle_opts o;
    memset(&o, 0, sizeof o);
    o.trigger = trigger;
    o.lock_wait = 0;              /* someone else polling: that poll does the work */
    if (s->usable) {
        snprintf(o.up.ifname, sizeof o.up.ifname, "%s", s->up.ifname);
        snprintf(o.up.addr4, sizeof o.up.addr4, "%s", s->up.addr4);
        snprintf(o.up.addr6, sizeof o.up.addr6, "%s", s->up.addr6);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        /* Treated like a temporary failure of the poll: retried with backoff. */
        log_err("cannot start a poll: fork: %s", strerror(errno));
        s->backoff_s = sup_backoff_next(s->backoff_s, s->cfg->link.backoff_min, s->cfg->link.backoff_max);
        s->poll_at = boot_ms() + sup_backoff_delay_ms(s->backoff_s, random32());
        s->poll_trigger = "retry";
        return;
    }
    if (pid == 0) {
        /* ---- child ---- */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = child_on_term;     /* no SA_RESTART: blocking calls return EINTR */
        int bad = sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0;
        sa.sa_handler = SIG_IGN;
        bad |= sigaction(SIGHUP, &sa, NULL) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0 ||
               sigaction(SIGPIPE, &sa, NULL) < 0;
        sa.sa_handler = SIG_DFL;
        bad |= sigaction(SIGCHLD, &sa, NULL) < 0;
        if (bad) {
            /* Without its SIGTERM handler the poll could not unwind. */
            log_err("poll process: sigaction: %s", strerror(errno));
            _exit(EX_OSERR);
        }
        /* Own process group, so the supervisor's SIGKILL also reaches hook
         * programs this cycle started.  (The parent calls it too; EACCES
         * or EPERM here only mean it already happened.) */
        (void)setpgid(0, 0);
        /* If the supervisor dies, stop polling too (and if it already has,
         * do not start). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
            log_debug("poll process: PR_SET_PDEATHSIG: %s", strerror(errno));
        if (getppid() != parent)
            _exit(EX_TEMPFAIL);
        close(s->sfd);
        close(s->tfd);
        if (s->nt.fd >= 0)
            close(s->nt.fd);
        linkwatch_close_fds(s->lw);
        if (sigprocmask(SIG_SETMASK, &s->oldmask, NULL) < 0) {
            log_err("poll process: sigprocmask: %s", strerror(errno));
            _exit(EX_OSERR);
        }
        int rc = cycle_run(s->cfg, &o);
        fflush(stdout);
        fflush(stderr);
        _exit(rc & 0xff);
    }
    /* ---- parent ---- */
    /* Also here, so the group exists before we may signal it.  EACCES
     * (the child already exec'd) or ESRCH (already gone) are harmless. */
    if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
        log_debug("setpgid %ld: %s", (long)pid, strerror(errno));
    s->child = pid;
    s->child_started = boot_ms();
    s->child_trigger = trigger;
    s->term_at = 0;
    s->killed_hard = 0;
    s->kill_reason = KILL_NONE;
    s->polls++;
    log_debug("poll process %ld started (%s)", (long)pid, trigger);
    set_status(s, "polling (%s%s%s)", trigger, s->usable ? ", " : "", s->usable ? s->up.ifname : "");
}

static void kill_poll(struct sup *s, enum kill_reason why)
{
    if (!s->child)
        return;
    if (s->term_at) {
        /* Already being killed; a shutdown overrides the earlier reason so
         * that the end is reported as such. */
        if (why == KILL_SHUTDOWN)
            s->kill_reason = why;
        return;
    }
    if (kill(s->child, SIGTERM) < 0 && errno != ESRCH)
        log_err("kill %ld: %s", (long)s->child, strerror(errno));
    s->term_at = boot_ms();
    s->kill_reason = why;
}

static void schedule_after(struct sup *s, int code, const char *how)
{
    char d[32];
    const struct link_cfg *lc = &s->cfg->link;
    enum sup_outcome out = sup_classify_exit(code);
    int64_t now = boot_ms();
    if (!s->usable) {
        char t[240];
        log_notice("poll finished: %s %d %s; link not usable, nothing scheduled", how, code,
                   exit_name(code));
        set_status(s, "last poll: exit %d %s; link not usable (%s)", code, exit_name(code),
                   vtext(&s->up, t, sizeof t));
        return;
    }
    switch (out) {
    case SUP_OK:
        s->backoff_s = 0;
        s->blocked = 0;
        if (lc->interval > 0) {
            s->poll_at = now + (int64_t)lc->interval * 1000;
            s->poll_trigger = "timer";
            log_notice("poll finished: %s %d %s; next poll in %s", how, code, exit_name(code),
                       fmt_delay((int64_t)lc->interval * 1000, d, sizeof d));
            set_status(s, "link %s usable; last poll ok; next in %s", s->up.ifname, d);
        } else {
            log_notice("poll finished: %s %d %s; next poll at the next link-up (no interval)", how,
                       code, exit_name(code));
            set_status(s, "link %s usable; last poll ok", s->up.ifname);
        }
        break;
    case SUP_RETRY: {
        s->backoff_s = sup_backoff_next(s->backoff_s, lc->backoff_min, lc->backoff_max);
        int64_t delay = sup_backoff_delay_ms(s->backoff_s, random32());
        s->poll_at = now + delay;
        s->poll_trigger = "retry";
        log_notice("poll finished: %s %d %s; retry in %s", how, code, exit_name(code),
                   fmt_delay(delay, d, sizeof d));
        set_status(s, "link %s usable; last poll: exit %d %s; retry in %s", s->up.ifname, code,
                   exit_name(code), d);
        break;
    }
    case SUP_PERMANENT:
        s->blocked = 1;
        s->poll_at = 0;
        s->backoff_s = 0;
        log_err("poll finished: %s %d %s; not retrying until the configuration is reloaded "
                "(SIGHUP) or the link comes up again", how, code, exit_name(code));
        set_status(s, "last poll: exit %d %s; waiting for a reload (SIGHUP) or a new link-up",
                   code, exit_name(code));
        break;
    }
}

static void poll_ended(struct sup *s, int status)
{
    int64_t now = boot_ms();
    pid_t pid = s->child;
    int64_t ran = now - s->child_started;
    int code, sig = 0;
    if (WIFEXITED(status))
        code = WEXITSTATUS(status);
    else {
        sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        code = EX_SOFTWARE;
    }
    /* Leftovers of a killed or crashed cycle (hook programs) go too;
     * ESRCH (nothing left in the group) is the normal case. */
    if ((s->term_at || sig) && kill(-pid, SIGKILL) < 0 && errno != ESRCH)
        log_debug("kill group %ld: %s", (long)pid, strerror(errno));
    s->child = 0;
    s->last_end = now;
    enum kill_reason why = s->kill_reason;
    int64_t after_term = s->term_at ? now - s->term_at : 0;
    s->term_at = 0;
    s->kill_reason = KILL_NONE;
    char how[96];
    if (sig)
        snprintf(how, sizeof how, "killed by signal %d (%s) after %lld ms", sig, strsignal(sig),
                 (long long)after_term);
    else
        snprintf(how, sizeof how, "exited %d after %lld ms", code, (long long)after_term);

    switch (why) {
    case KILL_LINK_DOWN:
        log_notice("poll stopped (link down): process %ld %s", (long)pid, how);
        return;
    case KILL_UPLINK_CHANGED:
        log_notice("poll stopped (uplink changed): process %ld %s", (long)pid, how);
        return;
    case KILL_SHUTDOWN:
        log_notice("poll stopped (shutdown): process %ld %s", (long)pid, how);
        return;
    case KILL_TIMEOUT:
        log_warn("poll stopped (cycle-timeout): process %ld %s", (long)pid, how);
        schedule_after(s, EX_TEMPFAIL, "timed out, counted as exit");
        return;
    case KILL_NONE:
        break;
    }
    if (sig) {
        log_err("poll process %ld died of signal %d (%s) after %lld s", (long)pid, sig,
                strsignal(sig), (long long)(ran / 1000));
        schedule_after(s, EX_SOFTWARE, "crashed, counted as exit");
        return;
    }
    schedule_after(s, code, "exit");
}

static void reap(struct sup *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (pid == s->child)
            poll_ended(s, status);
    }
}

/* ======================================================================
 * Link state
 * ====================================================================== */

/* How long to wait before polling a link that just became usable.  A
 * point-to-point link (ppp, tun) that is judged usable already has its
 * address and default route in place — pppd adds them before ip-up — so
 * waiting buys nothing and costs paid line time; `settle` then applies only
 * when the link flapped recently (went down less than FLAP_MS ago).  Links
 * with a carrier (Ethernet to a DSL/cable modem) always settle. */
#define FLAP_MS 60000
static int64_t settle_for(const struct sup *s, const struct lw_verdict *v, int64_t now)
{
    int64_t settle_ms = (int64_t)s->cfg->link.settle * 1000;
    if (v->p2p && !(s->down_ms && now - s->down_ms < FLAP_MS))
        return 0;
    return settle_ms;
}

static void on_verdict(struct sup *s, const struct lw_verdict *v, int initial)
{
    char d[32], t[240];
    int64_t now = boot_ms();
    int64_t settle_ms = settle_for(s, v, now);

    if (v->usable && (!s->usable || initial)) {
        s->usable = 1;
        s->up = *v;
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
        char name[IF_NAMESIZE];
        snprintf(name, sizeof name, "%s", s->up.ifname);
        s->usable = 0;
        if (was)
            s->down_ms = now;
        s->up = *v;
        s->settle_at = 0;
        s->poll_at = 0;
        s->backoff_s = 0;
        vtext(v, t, sizeof t);
        if (!was) {
            log_notice("link not usable (%s) — waiting", t);
        } else if (s->child && !s->term_at) {
            kill_poll(s, KILL_LINK_DOWN);
            log_notice("link %s down (%s) — killed running poll", name, t);
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
        if (s->child && !s->term_at) {
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
    s->sfd = s->tfd = -1;
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
        struct pollfd p[3] = {
            { .fd = s->sfd, .events = POLLIN },
            { .fd = linkwatch_fd(s->lw), .events = POLLIN },
            { .fd = s->tfd, .events = POLLIN },
        };
        int n = poll(p, 3, -1);
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
