/* lock.c — the poll lock. */
#include "conf/config.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int lock_acquire(const char *state_dir, int wait_s, pid_t *holder)
{
    char path[4096];
    if (holder)
        *holder = 0;
    snprintf(path, sizeof path, "%s/poll.lock", state_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_err("cannot open lock %s: %s", path, strerror(errno));
        return -2;
    }
    int64_t deadline = now_ms() + (int64_t)wait_s * 1000;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            log_err("cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return -2;
        }
        if (now_ms() >= deadline || etp_abort) {
            char buf[32] = "";
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            if (n > 0 && holder) {
                buf[n] = '\0';
                *holder = (pid_t)atol(buf);
            }
            close(fd);
            return -1;
        }
        usleep(100 * 1000);
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0)
        (void)pwrite(fd, buf, (size_t)n, 0);
    return fd;
}

void lock_release(int fd)
{
    if (fd < 0)
        return;
    if (ftruncate(fd, 0) < 0) { /* best effort: the pid is only informative */ }
    flock(fd, LOCK_UN);
    close(fd);
}
