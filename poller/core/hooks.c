/* hooks.c — run hook programs without a shell. */
#include "conf/config.h"
#include "core/hooks.h"
#include "core/log.h"
#include "core/util.h"
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
        if (close_range(3, ~0U, 0) < 0)
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
        setpgid(0, 0);
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
    int timed_out = 0, open_pipe = 1;
    int status = 0;
    for (;;) {
        if (open_pipe) {
            int64_t left = deadline - now_ms();
            if (left <= 0 || etp_abort) {
                timed_out = 1;
                break;
            }
            struct pollfd p = { .fd = pfd[0], .events = POLLIN };
            int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
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
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (now_ms() >= deadline || etp_abort) {
            timed_out = 1;
            break;
        }
        usleep(20 * 1000);
    }
    if (timed_out) {
        kill(-pid, SIGTERM);
        kill(pid, SIGTERM);
        int64_t grace = now_ms() + 1000;
        while (waitpid(pid, &status, WNOHANG) == 0 && now_ms() < grace)
            usleep(20 * 1000);
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        log_output(tag, buf, &len, 1);
        close(pfd[0]);
        log_err("%s: killed after %d s timeout", tag, timeout_s);
        return -1;
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
    char dpath[4096];
    snprintf(dpath, sizeof dpath, "%s/%s.d", cfg->hooks.dir, point);
    DIR *d = opendir(dpath);
    if (!d)
        return failed;
    char *names[128];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < (int)ETP_ARRAY_LEN(names)) {
        const char *s = de->d_name;
        /* run-parts rules: only [A-Za-z0-9_-] names, skips *.dpkg-old etc. */
        if (!*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s))
            continue;
        names[nn++] = strdup(s);
    }
    closedir(d);
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
    return failed;
}
