/* SPDX-License-Identifier: ISC */
/* sockdiag.c — raw NETLINK_SOCK_DIAG (inet_diag v2) socket dumps.
 *
 * One dump per address family: a SOCK_DIAG_BY_FAMILY request with an
 * inet_diag_req_v2 and a bytecode port filter; the reply is a multi-part
 * netlink message stream ending in NLMSG_DONE.  Every message is length-
 * checked before use (NLMSG_OK / RTA_OK loops), the receive buffer is
 * bounded and a truncated datagram (MSG_TRUNC) is an error, not a guess. */
#include "hold/sockdiag.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The kernel fills a dump datagram up to 32 KiB (netlink_dump caps its
 * allocation there); twice that leaves room and MSG_TRUNC catches the rest. */
#define SD_RECV_BUF   65536
#define SD_DUMP_MS    2000          /* a dump must finish within this */
#define SD_BC_MAX     128           /* bytecode bytes: 4 ports need 76 */

int sd_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    /* A bigger receive buffer than the default keeps a dump of a busy
     * host from overrunning; failure here is harmless. */
    int rcv = 1 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    return fd;
}

void sd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

const char *sd_state_name(int s)
{
    static const char *const names[SD_TCP_MAX_STATES] = {
        [SD_TCP_ESTABLISHED] = "ESTABLISHED", [SD_TCP_SYN_SENT] = "SYN-SENT",
        [SD_TCP_SYN_RECV] = "SYN-RECV", [SD_TCP_FIN_WAIT1] = "FIN-WAIT-1",
        [SD_TCP_FIN_WAIT2] = "FIN-WAIT-2", [SD_TCP_TIME_WAIT] = "TIME-WAIT",
        [SD_TCP_CLOSE] = "CLOSE", [SD_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
        [SD_TCP_LAST_ACK] = "LAST-ACK", [SD_TCP_LISTEN] = "LISTEN",
        [SD_TCP_CLOSING] = "CLOSING", [SD_TCP_NEW_SYN_RECV] = "NEW-SYN-RECV",
    };
    if (s <= 0 || s >= SD_TCP_MAX_STATES || !names[s])
        return "?";
    return names[s];
}

void sd_addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)size))
        snprintf(buf, size, "?");
}

/* inet_diag bytecode: "port == p1 || port == p2 || ...".
 *
 * Each port is a group  GE p, LE p  (each comparison is two ops: the op
 * and a follow-on op whose `no` field holds the port).  The kernel runs the
 * program by following `yes` when a comparison holds and `no` otherwise;
 * reaching exactly the end accepts, jumping to end+4 rejects.  Between
 * groups sits a JMP (always takes `no`) to the end: a group that matched
 * falls through to it and accepts; a group that failed jumps over it to the
 * next group.  The kernel's audit walks the `yes` chain, so every `no`
 * target is a group start on that chain (this is also how ss(8) does OR).
 *
 *   group i at off = 20*i:  GE{yes 8, no 20} NOP{port}  LE{yes 8, no 12} NOP{port}
 *   then (not after the last group) JMP{yes 4, no = len - (off + 16)}
 * A failing comparison in the last group jumps to len + 4: reject. */
int sd_bytecode(const struct sd_query *q, void *buf, size_t size)
{
    if (q->nports < 1 || q->nports > SD_MAX_PORTS)
        return -1;
    size_t len = (size_t)q->nports * 16 + (size_t)(q->nports - 1) * 4;
    if (len > size || len > SD_BC_MAX)
        return -1;
    struct inet_diag_bc_op *op = buf;
    unsigned char ge = q->remote ? INET_DIAG_BC_D_GE : INET_DIAG_BC_S_GE;
    unsigned char le = q->remote ? INET_DIAG_BC_D_LE : INET_DIAG_BC_S_LE;
    size_t off = 0;
    for (int i = 0; i < q->nports; i++) {
        op[off / 4 + 0] = (struct inet_diag_bc_op){ ge, 8, 20 };
        op[off / 4 + 1] = (struct inet_diag_bc_op){ INET_DIAG_BC_NOP, 0, q->ports[i] };
        op[off / 4 + 2] = (struct inet_diag_bc_op){ le, 8, 12 };
        op[off / 4 + 3] = (struct inet_diag_bc_op){ INET_DIAG_BC_NOP, 0, q->ports[i] };
        off += 16;
        if (i + 1 < q->nports) {
            op[off / 4] = (struct inet_diag_bc_op){ INET_DIAG_BC_JMP, 4,
                                                    (unsigned short)(len - off) };
            off += 4;
        }
    }
    return (int)len;
}

static int send_request(int fd, uint8_t family, const struct sd_query *q, uint32_t seq)
{
    /* nlmsghdr + inet_diag_req_v2 + rtattr(INET_DIAG_REQ_BYTECODE) + bytecode */
    union {
        struct nlmsghdr h;
        unsigned char b[NLMSG_SPACE(sizeof(struct inet_diag_req_v2)) + RTA_SPACE(SD_BC_MAX)];
    } req;
    memset(&req, 0, sizeof req);
    unsigned char bc[SD_BC_MAX];
    int bclen = sd_bytecode(q, bc, sizeof bc);
    if (bclen < 0) {
        errno = EINVAL;
        return -1;
    }
    struct nlmsghdr *h = &req.h;
    h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h->nlmsg_seq = seq;
    struct inet_diag_req_v2 *r = NLMSG_DATA(h);
    r->sdiag_family = family;
    r->sdiag_protocol = IPPROTO_TCP;
    r->idiag_states = q->states;
    if (q->want_info)
        r->idiag_ext = 1u << (INET_DIAG_INFO - 1);
    struct rtattr *rta = (struct rtattr *)(req.b + NLMSG_SPACE(sizeof *r));
    rta->rta_type = INET_DIAG_REQ_BYTECODE;
    rta->rta_len = (unsigned short)RTA_LENGTH((unsigned)bclen);
    memcpy(RTA_DATA(rta), bc, (size_t)bclen);
    h->nlmsg_len = (uint32_t)(NLMSG_SPACE(sizeof *r) + RTA_SPACE((unsigned)bclen));

    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    for (;;) {
        ssize_t n = sendto(fd, &req, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if ((size_t)n != h->nlmsg_len) {
            errno = EIO;
            return -1;
        }
        return 0;
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int port_wanted(const struct sd_query *q, uint16_t port)
{
    for (int i = 0; i < q->nports && i < SD_MAX_PORTS; i++)
        if (q->ports[i] == port)
            return 1;
    return 0;
}

/* Decode one SOCK_DIAG_BY_FAMILY message; 1 stored in *s, 0 skipped.
 * q NULL: no state or port filter. */
static int decode(const struct nlmsghdr *h, const struct sd_query *q, struct sd_sock *s)
{
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        return 0;
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
        return 0;
    if (q && (m->idiag_state >= 32 || !(q->states & SD_STATE_BIT(m->idiag_state))))
        return 0;
    memset(s, 0, sizeof *s);
    s->state = m->idiag_state;
    s->lport = ntohs(m->id.idiag_sport);
    s->rport = ntohs(m->id.idiag_dport);
    if (q && !port_wanted(q, q->remote ? s->rport : s->lport))
        return 0;
    s->family = m->idiag_family;
    if (m->idiag_family == AF_INET) {
        memcpy(s->laddr, m->id.idiag_src, 4);
        memcpy(s->raddr, m->id.idiag_dst, 4);
    } else {
        memcpy(s->laddr, m->id.idiag_src, 16);
        memcpy(s->raddr, m->id.idiag_dst, 16);
        /* A dual-stack listener accepts IPv4 as ::ffff:a.b.c.d: call it IPv4. */
        struct in6_addr a6;
        memcpy(&a6, s->raddr, 16);
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            s->family = AF_INET;
            memmove(s->laddr, s->laddr + 12, 4);
            memset(s->laddr + 4, 0, 12);
            memmove(s->raddr, s->raddr + 12, 4);
            memset(s->raddr + 4, 0, 12);
        }
    }
    s->cookie = ((uint64_t)m->id.idiag_cookie[1] << 32) | m->id.idiag_cookie[0];
    s->inode = m->idiag_inode;
    s->expires_ms = m->idiag_expires;
    s->bytes_received = SD_BYTES_UNKNOWN;

    /* Attributes follow the fixed message. */
    int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
    const struct rtattr *a = (const struct rtattr *)((const unsigned char *)m +
                                                     NLMSG_ALIGN(sizeof *m));
    for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type != INET_DIAG_INFO)
            continue;
        size_t plen = RTA_PAYLOAD(a);
        size_t need = offsetof(struct tcp_info, tcpi_bytes_received) +
                      sizeof(((struct tcp_info *)0)->tcpi_bytes_received);
        if (plen >= need) {      /* older kernels send a shorter tcp_info */
            uint64_t v;
            memcpy(&v, (const unsigned char *)RTA_DATA(a) +
                           offsetof(struct tcp_info, tcpi_bytes_received), sizeof v);
            s->bytes_received = v;
        }
    }
    return 1;
}

/* One netlink datagram into buf (SD_RECV_BUF bytes), without waiting: its
 * length or -1 (errno); *trunc when it did not fit, *kernel when it came
 * from the kernel (port id 0) and not from another process. */
static ssize_t recv_dgram(int fd, unsigned char *buf, int *trunc, int *kernel)
{
    struct sockaddr_nl from;
    struct iovec iov = { .iov_base = buf, .iov_len = SD_RECV_BUF };
    struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from,
                         .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT);
    *trunc = len >= 0 && (mh.msg_flags & MSG_TRUNC) != 0;
    *kernel = len >= 0 && mh.msg_namelen == sizeof from && from.nl_pid == 0;
    return len;
}

/* One SOCK_DIAG_BY_FAMILY message: decoded and appended (or counted as
 * dropped when out is full); anything else is skipped. */
static void take(const struct nlmsghdr *h, const struct sd_query *q, struct sd_sock *out,
                 size_t max, size_t *n, size_t *dropped)
{
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return;
    struct sd_sock s;
    if (!decode(h, q, &s))
        return;
    if (*n < max)
        out[(*n)++] = s;
    else
        (*dropped)++;
}

/* One family's dump.  1 done, -1 error. */
static int dump_family(int fd, uint8_t family, const struct sd_query *q, struct sd_sock *out,
                       size_t max, size_t *n, size_t *dropped, unsigned char *buf)
{
    static uint32_t seq_counter;
    uint32_t seq = ++seq_counter;
    if (send_request(fd, family, q, seq) < 0)
        return -1;
    int64_t deadline = mono_ms() + SD_DUMP_MS;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int pr = poll(&p, 1, (int)left);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (pr == 0)
            continue;           /* re-check the deadline */
        int trunc, kernel;
        ssize_t len = recv_dgram(fd, buf, &trunc, &kernel);
        if (len < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return -1;     /* ENOBUFS: we were too slow and lost part of the dump */
        }
        if (trunc) {
            errno = EPROTO;
            return -1;
        }
        if (!kernel)
            continue;           /* not from the kernel */
        int rem = (int)len;
        for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, rem);
             h = NLMSG_NEXT(h, rem)) {
            if (h->nlmsg_seq != seq)
                continue;       /* a late reply to an earlier, abandoned dump */
            if (h->nlmsg_type == NLMSG_DONE) {
                /* Since 4.x the DONE payload carries an error code. */
                if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
                    int e;
                    memcpy(&e, NLMSG_DATA(h), sizeof e);
                    if (e < 0) {
                        errno = -e;
                        return -1;
                    }
                }
                return 1;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                    errno = EPROTO;
                    return -1;
                }
                const struct nlmsgerr *e = NLMSG_DATA(h);
                if (e->error == 0)
                    continue;   /* an ACK */
                errno = e->error < 0 ? -e->error : EPROTO;
                return -1;
            }
            take(h, q, out, max, n, dropped);
        }
        if (rem != 0) {         /* a partial header or a length that overruns */
            errno = EPROTO;
            return -1;
        }
    }
}

/* The shared receive buffer: aligned for struct nlmsghdr, on the heap
 * (64 KiB is not stack stuff), allocated once. */
static unsigned char *recv_buf(void)
{
    static union { struct nlmsghdr h; unsigned char b[SD_RECV_BUF]; } *rbuf;
    if (!rbuf)
        rbuf = calloc(1, sizeof *rbuf);
    return rbuf ? rbuf->b : NULL;
}

int sd_open_destroy(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    int rcv = 1 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    /* bind() with nl_groups, not NETLINK_ADD_MEMBERSHIP: the latter did not
     * deliver these events on the kernels tried. */
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
                              .nl_groups = (1u << (SKNLGRP_INET_TCP_DESTROY - 1)) |
                                           (1u << (SKNLGRP_INET6_TCP_DESTROY - 1)) };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

#define SD_DRAIN_MAX_DGRAMS 256

int sd_drain_destroyed(int fd, struct sd_sock *out, size_t max, size_t *n, size_t *dropped,
                       int *lost)
{
    *n = 0;
    *dropped = 0;
    *lost = 0;
    unsigned char *buf = recv_buf();
    if (!buf)
        return -1;
    for (int d = 0; d < SD_DRAIN_MAX_DGRAMS; d++) {
        int trunc, kernel;
        ssize_t len = recv_dgram(fd, buf, &trunc, &kernel);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == ENOBUFS) {  /* overrun: events lost, the socket goes on */
                *lost = 1;
                continue;
            }
            return -1;
        }
        if (trunc) {
            *lost = 1;
            continue;
        }
        if (!kernel)
            continue;
        int rem = (int)len;
        for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, rem);
             h = NLMSG_NEXT(h, rem)) {
            take(h, NULL, out, max, n, dropped);
        }
    }
    return 0;           /* more may be queued: the next call reads on */
}

int sd_dump(int fd, const struct sd_query *q, struct sd_sock *out, size_t max, size_t *n,
            size_t *dropped)
{
    *n = 0;
    *dropped = 0;
    if (q->nports < 1 || q->nports > SD_MAX_PORTS) {
        errno = EINVAL;
        return -1;
    }
    unsigned char *buf = recv_buf();
    if (!buf)
        return -1;
    if (dump_family(fd, AF_INET, q, out, max, n, dropped, buf) < 0)
        return -1;
    if (dump_family(fd, AF_INET6, q, out, max, n, dropped, buf) < 0) {
        /* A kernel without IPv6 has no IPv6 sockets: not an error. */
        if (errno != EAFNOSUPPORT && errno != ENOENT)
            return -1;
    }
    return 0;
}
