/* SPDX-License-Identifier: ISC */
/* child.c — the daemon's poll child: start it (fork, cycle_run), kill it
 * (SIGTERM, then SIGKILL to its process group), reap it, and schedule what
 * follows from its exit code (interval, back-off, permanent failure). */
#include "link/sup.h"
#include "poll/cycle.h"
#include "core/log.h"
#include "core/util.h"
#include "core/priv.h"
#include <errno.h>
#include <fcntl.h>
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
 * The poll child
 * ====================================================================== */

static void child_on_term(int sig)
{
    (void)sig;
    etp_abort_now();
}

/* In the poll process: the write end of the "done with the line" pipe. */
static int child_line_wfd = -1;

/* cycle_run() calls this once every relay session has ended, before the
 * hold-done hooks (which may hang up): tell the supervisor, so that the
 * line going down from now on does not stop this poll. */
static void child_line_done(void *arg)
{
    (void)arg;
    if (child_line_wfd < 0)
        return;
    char c = 'L';
    if (write(child_line_wfd, &c, 1) != 1)
        log_debug("poll process: line-done pipe: %s", strerror(errno));
    close(child_line_wfd);
    child_line_wfd = -1;
}

/* The supervisor: read the child's line-done byte (or EOF: it is gone or
 * closed its end); closes the pipe at EOF. */
void line_fd_read(struct sup *s)
{
    while (s->line_fd >= 0) {
        char c;
        ssize_t n = read(s->line_fd, &c, 1);
        if (n == 1) {
            if (!s->child_line_done)
                log_debug("poll process %ld is done with the line", (long)s->child);
            s->child_line_done = 1;
            s->line_done = 1;
            continue;
        }
        if (n < 0 && (errno == EINTR))
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        close(s->line_fd);        /* EOF or an error: nothing more will come */
        s->line_fd = -1;
    }
}

void start_poll(struct sup *s, const char *trigger)
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
    int lp[2] = { -1, -1 };
    if (pipe2(lp, O_CLOEXEC | O_NONBLOCK) < 0) {
        /* Only the hang-up case suffers: a link-down then stops the poll. */
        log_debug("line-done pipe: %s", strerror(errno));
        lp[0] = lp[1] = -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        if (lp[0] >= 0) {
            close(lp[0]);
            close(lp[1]);
        }
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
        if (etp_abort_init() < 0)
            log_warn("no abort wake-up (eventfd: %s): a stop may wait for a relay's time-out", strerror(errno));
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
        if (lp[0] >= 0)
            close(lp[0]);
        child_line_wfd = lp[1];
        o.line_done = child_line_done;
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
    if (lp[1] >= 0)
        close(lp[1]);
    s->line_fd = lp[0];
    s->child_line_done = 0;
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

void kill_poll(struct sup *s, enum kill_reason why)
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

void schedule_after(struct sup *s, int code, const char *how)
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

void poll_ended(struct sup *s, int status)
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
    line_fd_read(s);              /* a line-done byte not yet seen */
    if (s->line_fd >= 0) {
        close(s->line_fd);
        s->line_fd = -1;
    }
    s->child_line_done = 0;
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

void reap(struct sup *s)
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

