/* SPDX-License-Identifier: ISC */
/* hold_fixture.c — the hold unit tests' shared helpers (hold_fixture.h). */
#include "hold_fixture.h"
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- helpers for scripted sequences ----------------------------------- */

/* An inbound connection from 10.0.0.<peer>:<rport> to 127.0.0.41:25. */
struct hold_conn in_conn(int peer, uint16_t rport, uint64_t cookie, int open)
{
    struct hold_conn c;
    memset(&c, 0, sizeof c);
    c.family = AF_INET;
    c.laddr[0] = 127; c.laddr[3] = 41;
    c.raddr[0] = 10; c.raddr[3] = (uint8_t)peer;
    c.lport = 25;
    c.rport = rport;
    c.cookie = cookie;
    c.open = open;
    c.bytes = HOLD_BYTES_UNKNOWN;
    c.closed_ago_ms = -1;
    return c;
}

struct hold_conn out_conn(uint16_t lport, uint64_t cookie, int open)
{
    struct hold_conn c = in_conn(99, 25, cookie, open);
    c.outbound = 1;
    c.lport = lport;
    return c;
}

struct hold_params params(int quiet, int first, int max)
{
    struct hold_params p = { .quiet_ms = S(quiet), .first_contact_ms = S(first),
                             .max_hold_ms = S(max) };
    return p;
}

struct hold_sm *new_sm(const struct hold_params *p)
{
    struct hold_sm *sm = malloc(sizeof *sm);
    ck_assert_ptr_nonnull(sm);
    hold_sm_init(sm, p, NULL, NULL);
    return sm;
}

/* Sample every step_ms from 0 until the state machine ends (or until
 * limit); returns the end and stores its time. */
enum hold_end run_script(struct hold_sm *sm, const struct script *sc, size_t nsc,
                         int64_t step_ms, int64_t limit, int64_t *end_t)
{
    struct hold_conn snap[64];
    for (int64_t t = 0; t <= limit; t += step_ms) {
        size_t n = 0;
        for (size_t i = 0; i < nsc && n < 64; i++) {
            if (t >= sc[i].from && t < sc[i].to) {
                snap[n] = sc[i].c;
                snap[n++].open = 1;
            } else if (sc[i].tw && t >= sc[i].to && t < sc[i].to + S(60)) {
                snap[n] = sc[i].c;
                snap[n].open = 0;
                snap[n++].closed_ago_ms = t - sc[i].to;   /* the TIME-WAIT age */
            }
        }
        enum hold_end e = hold_sm_step(sm, t, snap, n);
        if (e != HOLD_NOT_RUN) {
            *end_t = t;
            return e;
        }
    }
    *end_t = -1;
    return HOLD_NOT_RUN;
}

/* ---- live sockets -------------------------------------------------------- */

/* The hold tests' sink address, or 127.0.0.1 where 127.0.0.41 cannot be
 * bound (set by hold_fixture_addrs()). */
const char *g_addr = "127.0.0.41";
/* The "relay" side of test connections binds here (127.0.0.40 with .41). */
const char *g_peer = "127.0.0.40";

void bind_peer(int fd)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, g_peer, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        _exit(90);
}

/* A listener on 127.0.0.41 (the hold tests' sink address; the kernel picks
 * the port), or 127.0.0.1 if that fails. */
int listen_on(const char *addr, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

int connect_to(const char *addr, uint16_t port, uint16_t *cport)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    bind_peer(fd);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, addr, &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *cport = ntohs(sa.sin_port);
    return fd;
}

/* A listener with TCP_DEFER_ACCEPT keeps a connected client that has sent
 * nothing yet as a request socket (SYN-RECV): the state the second wave of
 * a delivery is in while its handshake is under way on a full line. */
int listen_deferred(const char *addr, uint16_t *port, int secs)
{
    int fd = listen_on(addr, port);
    if (fd >= 0)
        ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs), 0);
    return fd;
}

void hold_fixture_addrs(void)
{
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, g_addr, &sa.sin_addr);
    if (probe < 0 || bind(probe, (struct sockaddr *)&sa, sizeof sa) < 0) {
        g_addr = "127.0.0.1";
        g_peer = "127.0.0.1";
    }
    if (probe >= 0)
        close(probe);
}
