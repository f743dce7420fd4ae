/* SPDX-License-Identifier: ISC */
/* lock.c — the poll lock. */
#include "conf/config.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/priv.h"
#include "core/state.h"
#include "core/util.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PID_WIDTH 20            /* the pid is written padded: no truncation needed */

/* Open poll.lock without following a link and judge it.  fd, or -1 with err. */
static int lock_open(const char *state_dir, char *path, size_t pathsize, char *err, size_t errsize)
{
    if (snprintf(path, pathsize, "%s/poll.lock", state_dir) >= (int)pathsize) {
        snprintf(err, errsize, "lock %s/poll.lock: name too long", state_dir);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
    if (fd < 0 && errno == EROFS)     /* flock() needs no write access: lock, poll, exit 73 */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        struct stat lst;
        if (e == ELOOP)
            snprintf(err, errsize, "lock %s is a symbolic link; run: rm %s", path, path);
        else if ((e == EACCES || e == EPERM) && lstat(path, &lst) == 0 && lst.st_nlink > 1)
            snprintf(err, errsize, "lock %s has more than one hard link; run: rm %s", path, path);
        else if (e == EACCES || e == EPERM)
            snprintf(err, errsize, "cannot open lock %s as %s: %s; run: chown %s %s", path,
                     priv_user_name(), strerror(e), priv_user_name(), path);
        else
            snprintf(err, errsize, "cannot open lock %s: %s", path, strerror(e));
        return -1;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if (st.st_nlink != 1)
        why = "has more than one hard link";
    else if (st.st_uid != 0 && st.st_uid != geteuid())
        why = "is owned by someone else";
    if (why) {
        snprintf(err, errsize, "lock %s %s; run: rm %s", path, why, path);
        close(fd);
        return -1;
    }
    return fd;
}

int lock_check(const char *state_dir, char *err, size_t errsize)
{
    char path[4096];
    int fd = lock_open(state_dir, path, sizeof path, err, errsize);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Is pid a running etrnpoll?  1 yes or cannot tell (hidden /proc), 0 no. */
static int is_etrnpoll(pid_t pid)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0;
    char p[64], comm[32] = "";
    snprintf(p, sizeof p, "/proc/%ld/comm", (long)pid);
    size_t n = 0;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t r = read(fd, comm, sizeof comm - 1);
    close(fd);
    if (r <= 0)
        return 1;
    n = (size_t)r;
    comm[n] = '\0';
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, "etrnpoll") == 0 || strncmp(comm, "lt-etrnpoll", 11) == 0;
}

int lock_acquire(const char *state_dir, int wait_s, pid_t *holder)
{
    char path[4096], err[4096 * 3];
    if (holder)
        *holder = 0;
    int fd = lock_open(state_dir, path, sizeof path, err, sizeof err);
    if (fd < 0) {
        log_err("%s; not polling without the lock", err);
        return -2;
    }
    int64_t deadline = now_ms() + (int64_t)wait_s * 1000;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            log_err("cannot lock %s: %s; not polling without the lock", path, strerror(errno));
            close(fd);
            return -2;
        }
        if (now_ms() >= deadline || etp_abort) {
            char buf[PID_WIDTH + 2] = "";
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            pid_t pid = 0;
            if (n > 0) {
                buf[n] = '\0';
                pid = (pid_t)atol(buf);
            }
            close(fd);
            if (holder)
                *holder = pid;
            if (!is_etrnpoll(pid)) {
                log_err("lock %s is held, but not by a running etrnpoll (pid %ld); not polling. "
                        "Find the holder: fuser -v %s", path, (long)pid, path);
                return -3;
            }
            return -1;
        }
        usleep(100 * 1000);
    }
    /* Fixed width, written in place: never truncated, so nothing is ever
     * cut through a link or a file someone else swapped in. */
    char buf[PID_WIDTH + 2];
    snprintf(buf, sizeof buf, "%-*ld\n", PID_WIDTH, (long)getpid());
    ssize_t w = pwrite(fd, buf, PID_WIDTH + 1, 0);
    if (w != PID_WIDTH + 1)
        log_debug("lock %s: pid not recorded: %s", path, w < 0 ? strerror(errno) : "short write");
    state_remove_stale_temps(state_dir);       /* under the lock: no writer is running */
    return fd;
}

void lock_release(int fd)
{
    if (fd < 0)
        return;
    static const char blank[PID_WIDTH + 1] = "                    \n";
    if (pwrite(fd, blank, sizeof blank, 0) < 0) { /* best effort: the pid is only informative */ }
    flock(fd, LOCK_UN);
    close(fd);
}
