/* SPDX-License-Identifier: ISC */
/* util.c — small shared helpers. */
#include "conf/config.h"
#include "core/util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile atomic_int etp_abort;
static int g_abort_fd = -1;

int etp_abort_init(void)
{
    if (g_abort_fd < 0)
        g_abort_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return g_abort_fd < 0 ? -1 : 0;
}

void etp_abort_now(void)
{
    int e = errno;
    etp_abort = 1;
    if (g_abort_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(g_abort_fd, &one, sizeof one);   /* stays readable: never read */
        (void)w;
    }
    errno = e;
}

int etp_poll_abortable(struct pollfd *fds, int n, int timeout_ms)
{
    struct pollfd p[8];
    if (n < 0 || n > 7) {
        errno = EINVAL;
        return -1;
    }
    if (etp_abort) {
        errno = EINTR;
        return -1;
    }
    for (int i = 0; i < n; i++)
        p[i] = fds[i];
    int k = n;
    if (g_abort_fd >= 0)
        p[k++] = (struct pollfd){ .fd = g_abort_fd, .events = POLLIN };
    int r = poll(p, (nfds_t)k, timeout_ms);
    for (int i = 0; i < n; i++)
        fds[i].revents = p[i].revents;
    if (etp_abort || (k > n && (p[n].revents & POLLIN))) {
        errno = EINTR;
        return -1;
    }
    return r;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_wall(void)
{
    return (int64_t)time(NULL);
}

int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (etp_abort) {
            errno = EINTR;
            return -1;
        }
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int n = etp_poll_abortable(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n < 0) {
            if (errno == EINTR && !etp_abort)
                continue;
            return -1;
        }
        if (n > 0)
            return 1;   /* readable, writable, or error/hup: caller's I/O tells */
    }
}

int set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl);
}

int set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void secure_wipe(void *p, size_t n)
{
    if (!p)
        return;
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

int strlcpy_chk(char *dst, const char *src, size_t size)
{
    if (size == 0)
        return -1;
    size_t n = strlen(src);
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

void printable(char *out, size_t outsize, const char *in, size_t inlen)
{
    size_t o = 0;
    if (outsize == 0)
        return;
    for (size_t i = 0; i < inlen; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            if (o + 1 >= outsize)
                goto cut;
            out[o++] = (char)ch;
        } else {
            if (o + 4 >= outsize)
                goto cut;
            o += (size_t)snprintf(out + o, outsize - o, "\\x%02x", ch);
        }
    }
    out[o] = '\0';
    return;
cut:
    if (outsize >= 4) {
        size_t p = outsize - 4 < o ? outsize - 4 : o;
        memcpy(out + p, "...", 4);
    } else {
        out[0] = '\0';
    }
}

const char *printable_str(char *out, size_t outsize, const char *s, const char *dflt)
{
    if (!s) {
        snprintf(out, outsize, "%s", dflt ? dflt : "");
        return out;
    }
    printable(out, outsize, s, strlen(s));
    return out;
}

static int exit_rank(int code)
{
    switch (code) {
    case 0:              return 0;
    case EX_UNAVAILABLE: return 1;
    case EX_TEMPFAIL:    return 2;
    case EX_PROTOCOL:    return 3;
    case EX_NOPERM:      return 4;
    case EX_CONFIG:      return 5;
    default:             return 3;   /* EX_SOFTWARE, EX_OSERR...: treat like a protocol error */
    }
}

int exit_worst(int a, int b)
{
    return exit_rank(b) > exit_rank(a) ? b : a;
}

const char *exit_name(int code)
{
    switch (code) {
    case 0:              return "ok";
    case EX_USAGE:       return "usage";
    case EX_UNAVAILABLE: return "refused";
    case EX_SOFTWARE:    return "internal-error";
    case EX_OSERR:       return "os-error";
    case EX_CANTCREAT:   return "cannot-create";
    case EX_IOERR:       return "io-error";
    case EX_TEMPFAIL:    return "temporary-failure";
    case EX_PROTOCOL:    return "protocol-error";
    case EX_NOPERM:      return "auth-failed";
    case EX_CONFIG:      return "config-error";
    default:             return "error";
    }
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static char *read_fd_bounded(int fd, size_t max, size_t *lenp)
{
    char *buf = malloc(max + 1);
    size_t len = 0;
    if (!buf)
        return NULL;
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            secure_wipe(buf, len);
            free(buf);
            errno = EFBIG;
            return NULL;
        }
    }
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

char *read_small_fd(int fd, size_t max, size_t *lenp)
{
    char *buf = read_fd_bounded(fd, max, lenp);
    int e = errno;
    close(fd);
    errno = e;
    return buf;
}

char *read_small_file(const char *path, size_t max, size_t *lenp)
{
    /* O_NOFOLLOW: never through a planted link; O_NONBLOCK: a FIFO does not
     * wait for a writer (and is refused below). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    return read_small_fd(fd, max, lenp);
}

int mkdir_p(const char *path, unsigned mode)
{
    char tmp[4096];
    if (strlcpy_chk(tmp, path, sizeof tmp) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}
