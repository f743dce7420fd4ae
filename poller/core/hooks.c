/* SPDX-License-Identifier: ISC */
/* hooks.c — run hook programs without a shell. */
#include "conf/config.h"
#include "core/hooks.h"
#include "core/log.h"
#include "core/util.h"
#include "core/priv.h"
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOOK_ENV_MAX 64
#define HOOK_OUT_LINE 512
#define HOOK_DIR_MAX 1024          /* entries run from one POINT.d directory */

/* Close every descriptor from lo up (in the child, between fork and exec:
 * no allocation).  close_range(2) where the kernel and headers have it
 * (glibc and musl alike, through syscall(2)); else a bounded loop. */
static void close_from(int lo)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lo; fd < max; fd++)
        close(fd);
}

/* Children we had before the program started (e.g. a shell's process
 * substitution that reads our stderr became our child when the shell
 * exec'd us): never the program's, never killed. */
static pid_t g_keep[64];
static int g_nkeep;

static int kept(pid_t p)
{
    for (int i = 0; i < g_nkeep; i++)
        if (g_keep[i] == p)
            return 1;
    return 0;
}

/* Our children, as found in /proc (after the hook's leader is gone its
 * descendants are re-parented to us: we are a child subreaper), except
 * those we had before the program started. */
static int list_children_all(pid_t *out, int max, int all);
static int list_children(pid_t *out, int max)
{
    return list_children_all(out, max, 0);
}

static int list_children_all(pid_t *out, int max, int all)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t me = getpid();
    int n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char p[300], buf[512];
        snprintf(p, sizeof p, "/proc/%s/stat", de->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0)
            continue;
        buf[r] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        long ppid;
        if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
            continue;
        if (ppid == (long)me && (all || !kept((pid_t)atol(de->d_name))))
            out[n++] = (pid_t)atol(de->d_name);
    }
    closedir(d);
    return n;
}

/* Reap the program's exited descendants (not the children we keep). */
static void reap_listed(void)
{
    pid_t kids[256];
    int n = list_children(kids, (int)ETP_ARRAY_LEN(kids));
    for (int i = 0; i < n; i++)
        waitpid(kids[i], NULL, WNOHANG);
}

/* Kill the program `leader` (already reaped or not) and everything it forked:
 * its process group, then, round by round, every child left to us (each
 * round's kills re-parent the next generation to us).  grace_ms between
 * SIGTERM and SIGKILL.  Returns how many processes were left over. */
static int kill_tree(pid_t leader, int grace_ms)
{
    pid_t kids[256];
    int left = 0;
    kill(-leader, SIGTERM);
    int n = list_children(kids, (int)ETP_ARRAY_LEN(kids));
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGTERM);
    int64_t until = now_ms() + grace_ms;
    while (now_ms() < until) {
        reap_listed();
        if (list_children(kids, (int)ETP_ARRAY_LEN(kids)) == 0 && kill(-leader, 0) < 0)
            return n;
        usleep(20 * 1000);
    }
    for (int round = 0; round < 50; round++) {
        kill(-leader, SIGKILL);
        n = list_children(kids, (int)ETP_ARRAY_LEN(kids));
        for (int i = 0; i < n; i++) {
            kill(-kids[i], SIGKILL);  /* a group it may lead (setsid) */
            kill(kids[i], SIGKILL);
        }
        left += n;
        reap_listed();
        if (n == 0 && kill(-leader, 0) < 0)
            break;
        usleep(10 * 1000);
    }
    reap_listed();
    return left;
}

static void log_output(const char *tag, char *buf, size_t *len, int flush)
{
    for (;;) {
        char *nl = memchr(buf, '\n', *len);
        size_t ll;
        if (nl)
            ll = (size_t)(nl - buf);
        else if (flush || *len >= HOOK_OUT_LINE - 1)
            ll = *len;
        else
            return;
        if (ll > 0 || nl) {
            char pr[HOOK_OUT_LINE * 4];
            printable(pr, sizeof pr, buf, ll);
            log_info("%s: %s", tag, pr);
        }
        size_t drop = nl ? ll + 1 : ll;
        memmove(buf, buf + drop, *len - drop);
        *len -= drop;
        if (*len == 0)
            return;
    }
}

int run_program(char *const argv[], char *const env[], int timeout_s, const char *tag)
{
    int pfd[2];
    if (!argv || !argv[0] || argv[0][0] != '/') {
        log_err("%s: program must be an absolute path", tag);
        return -1;
    }
    /* a program (or its directory) someone else can write is their code
     * running as us: refuse it */
    char err[3 * 4096], dir[4096];
    snprintf(dir, sizeof dir, "%s", argv[0]);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    struct stat pst;
    if (stat(argv[0], &pst) < 0) {
        log_err("%s: cannot execute %s: %s", tag, argv[0], strerror(errno));
        return -1;
    }
    if (priv_check_stat(argv[0], -1, &pst, PRIV_CODE, err, sizeof err) < 0 ||
        priv_check_path(dir, PRIV_CODE, err, sizeof err) < 0) {
        log_err("%s: not run: %s", tag, err);
        return -1;
    }
    /* Descendants of the program that outlive it are re-parented to us, so
     * that kill_tree() finds them (double forks and setsid included). */
    static int subreaper;
    if (!subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
        subreaper = 1;
    g_nkeep = 0;
    g_nkeep = list_children_all(g_keep, (int)ETP_ARRAY_LEN(g_keep), 1);
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        log_err("%s: pipe: %s", tag, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_err("%s: fork: %s", tag, strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        /* nothing else: not the descriptors etrnpoll itself inherited
         * without close-on-exec (from a ppp script, a shell, a service manager) */
        close_from(3);
        setpgid(0, 0);
        if (chdir("/") < 0)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execve(argv[0], argv, env);
        dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    set_nonblock(pfd[0], 1);
    char buf[HOOK_OUT_LINE];
    size_t len = 0;
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    int timed_out = 0, open_pipe = 1, reaped = 0;
    int64_t drain_until = 0;
    int status = 0;
    for (;;) {
        if (open_pipe) {
            int64_t left = deadline - now_ms();
            if (left <= 0 || etp_abort) {
                timed_out = 1;
                break;
            }
            /* the program itself is done but something it started still
             * holds the pipe: read what is there, then end the rest */
            if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
                reaped = 1;
                drain_until = now_ms() + 200;
            }
            if (reaped && now_ms() >= drain_until)
                break;
            struct pollfd p = { .fd = pfd[0], .events = POLLIN };
            int n = poll(&p, 1, left > 100 ? 100 : (int)left);
            if (n > 0) {
                ssize_t r = read(pfd[0], buf + len, sizeof buf - len);
                if (r > 0) {
                    len += (size_t)r;
                    log_output(tag, buf, &len, 0);
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    open_pipe = 0;
                }
            }
            continue;
        }
        /* pipe closed: wait for exit, bounded */
        if (reaped || waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (now_ms() >= deadline || etp_abort) {
            timed_out = 1;
            break;
        }
        usleep(20 * 1000);
    }
    if (timed_out) {
        int aborted = etp_abort != 0;
        /* stop/link-down (etp_abort): the supervisor allows the cycle 1 s in
         * all, so a short grace; a time-out: 1 s */
        int left = kill_tree(pid, aborted ? 300 : 1000);
        waitpid(pid, &status, WNOHANG);
        log_output(tag, buf, &len, 1);
        close(pfd[0]);
        if (aborted)
            log_err("%s: killed (the poll is stopping) with %d process%s it started", tag, left,
                    left == 1 ? "" : "es");
        else
            log_err("%s: killed after %d s timeout with %d process%s it started", tag, timeout_s,
                    left, left == 1 ? "" : "es");
        return -1;
    }
    /* the program is done: nothing it started may run on */
    {
        pid_t kids[4];
        if (list_children(kids, 4) > 0 || kill(-pid, 0) == 0) {
            int left = kill_tree(pid, 200);
            log_warn("%s: exited but left process%s running: killed (%d)", tag, left == 1 ? "" : "es", left);
        }
    }
    log_output(tag, buf, &len, 1);
    close(pfd[0]);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

static int run_one(const char *point, char *const argv[], char *const env[], int timeout)
{
    char tag[300];
    snprintf(tag, sizeof tag, "hook %s %s", point, argv[0]);
    int st = run_program(argv, env, timeout, tag);
    if (st != 0) {
        log_warn("%s: %s", tag, st < 0 ? "failed to run or timed out" : "exited non-zero");
        return 1;
    }
    log_info("%s: ok", tag);
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hooks_run(const struct etp_config *cfg, const char *point, char *const extra[])
{
    char *env[HOOK_ENV_MAX];
    char hookvar[64];
    int n = 0;
    env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    snprintf(hookvar, sizeof hookvar, "ETRNPOLL_HOOK=%s", point);
    env[n++] = hookvar;
    for (int i = 0; extra && extra[i] && n < HOOK_ENV_MAX - 1; i++)
        env[n++] = extra[i];
    env[n] = NULL;

    int failed = 0;
    char *const *argv = NULL;
    if (strcmp(point, "pre-poll") == 0 && cfg->hooks.npre)
        argv = cfg->hooks.pre_poll;
    else if (strcmp(point, "post-poll") == 0 && cfg->hooks.npost)
        argv = cfg->hooks.post_poll;
    else if (strcmp(point, "hold-done") == 0 && cfg->hooks.nhold)
        argv = cfg->hooks.hold_done;
    if (argv)
        failed += run_one(point, argv, env, cfg->hooks.timeout);

    if (!cfg->hooks.dir)
        return failed;
    char dpath[4096], err[3 * 4096];
    snprintf(dpath, sizeof dpath, "%s/%s.d", cfg->hooks.dir, point);
    struct stat dst;
    if (stat(dpath, &dst) < 0)
        return failed;
    if (priv_check_path(cfg->hooks.dir, PRIV_CODE, err, sizeof err) < 0 ||
        priv_check_stat(dpath, -1, &dst, PRIV_CODE, err, sizeof err) < 0) {
        log_err("hook %s: nothing in %s run: %s", point, dpath, err);
        return failed + 1;
    }
    DIR *d = opendir(dpath);
    if (!d)
        return failed;
    char **names = NULL;
    int nn = 0, cap = 0, skipped = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *s = de->d_name;
        /* run-parts rules: only [A-Za-z0-9_-] names, skips *.dpkg-old etc. */
        if (!*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s))
            continue;
        if (nn >= HOOK_DIR_MAX) {
            skipped++;
            continue;
        }
        if (nn == cap) {
            int nc = cap ? cap * 2 : 16;
            char **nv = realloc(names, (size_t)nc * sizeof *nv);
            if (!nv) {
                skipped++;
                continue;
            }
            names = nv;
            cap = nc;
        }
        if ((names[nn] = strdup(s)) != NULL)
            nn++;
        else
            skipped++;
    }
    closedir(d);
    if (skipped)
        log_err("hook %s: %s holds more than %d hooks: %d not run", point, dpath, HOOK_DIR_MAX, skipped);
    if (nn > 0)
        qsort(names, (size_t)nn, sizeof names[0], cmpstr);
    for (int i = 0; i < nn; i++) {
        char path[4096 + 256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dpath, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
            char *argv1[] = { path, NULL };
            failed += run_one(point, argv1, env, cfg->hooks.timeout);
        }
        free(names[i]);
    }
    free(names);
    if (skipped)
        failed += skipped;
    return failed;
}
