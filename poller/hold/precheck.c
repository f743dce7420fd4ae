/* SPDX-License-Identifier: ISC */
/* precheck.c — is the local MTA accepting connections on hold.port?
 * (hold.check-local-mta; run by hold_prepare() before the first ETRN.)
 * The greeting is read with smtp/reply.c's parser. */
#include "hold/internal.h"
#include "core/log.h"
#include "core/util.h"
#include "smtp/reply.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define PRECHECK_MS 5000

int hold_sa_split(const struct sockaddr_storage *ss, int *family, uint8_t *addr, uint16_t *port)
{
    memset(addr, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        *family = AF_INET;
        memcpy(addr, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        *port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            *family = AF_INET;
            memcpy(addr, s6->sin6_addr.s6_addr + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, &s6->sin6_addr, 16);
        }
        return 0;
    }
    return -1;
}

/* Read one SMTP reply (up to the deadline) with the shared parser: 0 and
 * r filled, -1 none / malformed. */
static int read_reply(int fd, int64_t deadline, struct smtp_reply *r)
{
    char buf[REPLY_MAX_LINE * 4];
    size_t len = 0;
    reply_init(r);
    for (;;) {
        if (len == sizeof buf)
            return -1;
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        size_t used = 0;
        enum reply_status st = reply_parse_buf(r, buf, len, &used, NULL);
        if (st == REPLY_DONE)
            return 0;
        if (st < 0)
            return -1;
        memmove(buf, buf + used, len - used);   /* a partial line stays */
        len -= used;
    }
}

int hold_precheck_mta(struct hold *h)
{
    const struct hold_cfg *hc = &h->cfg->hold;
    const char *addr = hc->local_address ? hc->local_address : "127.0.0.1";
    struct hold_prefix a;
    if (hold_prefix_parse(addr, &a) < 0)
        return EX_CONFIG;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (a.family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)hc->port);
        memcpy(&s4->sin_addr, a.addr, 4);
        sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)hc->port);
        memcpy(&s6->sin6_addr, a.addr, 16);
        sl = sizeof *s6;
    }
    char where[INET6_ADDRSTRLEN + 16];
    snprintf(where, sizeof where, a.family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr, hc->port);

    int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_err("hold: local MTA check: socket: %s", strerror(errno));
        return EX_TEMPFAIL;
    }
    int64_t deadline = now_ms() + PRECHECK_MS;
    int ok = 0, e = 0;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        int w = wait_fd(fd, POLLOUT, deadline);
        socklen_t el = sizeof e;
        if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
            ok = 1;
        else if (w == 0)
            e = ETIMEDOUT;
        else if (w < 0)
            e = errno;
    } else {
        e = errno;
    }
    if (!ok) {
        close(fd);
        log_err("hold: nothing accepts connections on the local MTA at %s (%s); the relay "
                "could not deliver — not sending ETRN. Start the MTA or fix hold.port / "
                "hold.local-address", where, strerror(e));
        return EX_TEMPFAIL;
    }
    /* Remember this connection so the hold does not take it for a delivery. */
    struct sockaddr_storage l, r;
    socklen_t ll = sizeof l, rl = sizeof r;
    if (getsockname(fd, (struct sockaddr *)&l, &ll) == 0 &&
        getpeername(fd, (struct sockaddr *)&r, &rl) == 0) {
        int f2;
        if (hold_sa_split(&l, &h->precheck.family, h->precheck.laddr, &h->precheck.lport) == 0 &&
            hold_sa_split(&r, &f2, h->precheck.raddr, &h->precheck.rport) == 0)
            h->have_precheck = 1;
    }
    /* Be polite: read the greeting, say QUIT, wait for the server to close. */
    struct smtp_reply rep;
    int got = read_reply(fd, deadline, &rep) == 0;
    if (got && rep.code >= 400) {
        char fl[200];
        log_warn("hold: the local MTA at %s greets with \"%d %s\"; the relay may be refused too",
                 where, rep.code, reply_first_line(&rep, fl, sizeof fl));
    } else if (!got) {
        log_debug("hold: no SMTP greeting from %s within %d ms (it does accept connections)",
                  where, PRECHECK_MS);
    }
    if (got && write_all(fd, "QUIT\r\n", 6) == 0) {
        char buf[256];
        int64_t dl = now_ms() + 2000;
        while (wait_fd(fd, POLLIN, dl) > 0) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0)
                break;
        }
    }
    close(fd);
    log_debug("hold: local MTA at %s accepts connections", where);
    return 0;
}
