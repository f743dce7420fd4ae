/* SPDX-License-Identifier: ISC */
/* Unit tests: the hold's raw NETLINK_SOCK_DIAG, live: a listener and a
 * client in this process (unprivileged) on 127.0.0.41 (hold_fixture.h):
 * the dump and its filter, tcp_info bytes, TIME-WAIT, IPv6, close events,
 * SYN-RECV request sockets. */
#include "hold/sockdiag.h"
#include "core/util.h"
#include "hold_fixture.h"
#include "unit.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- live sock_diag ------------------------------------------------------ */

START_TEST(live_sockdiag_sees_connection)
{
    uint16_t port, other, cport;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    int lfd2 = listen_on(g_addr, &other);        /* must not be reported */
    ck_assert_int_ge(lfd2, 0);
    uint16_t cport2;
    int c2 = connect_to(g_addr, other, &cport2);
    int cfd = connect_to(g_addr, port, &cport);
    int sfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(sfd, 0);
    char data[1000];
    memset(data, 'x', sizeof data);
    ck_assert_int_eq(write_all(cfd, data, sizeof data), 0);
    char rbuf[1000];
    size_t got = 0;
    while (got < sizeof rbuf) {
        ssize_t r = read(sfd, rbuf + got, sizeof rbuf - got);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }

    int fd = sd_open();
    ck_assert_msg(fd >= 0, "sd_open: %s", strerror(errno));
    struct sd_sock socks[64];
    size_t n, dropped;
    struct sd_query q = { .remote = 0, .ports = { port }, .nports = 1,
                          .states = SD_STATES_CONNECTED, .want_info = 1 };
    ck_assert_msg(sd_dump(fd, &q, socks, 64, &n, &dropped) == 0, "sd_dump: %s", strerror(errno));
    ck_assert_int_eq(dropped, 0);
    ck_assert_int_eq(n, 1);     /* the server side only: not the listener, not the other port */
    ck_assert_int_eq(socks[0].state, SD_TCP_ESTABLISHED);
    ck_assert_int_eq(socks[0].family, AF_INET);
    ck_assert_int_eq(socks[0].lport, port);
    ck_assert_int_eq(socks[0].rport, cport);
    char a[64];
    sd_addr_str(socks[0].family, socks[0].raddr, a, sizeof a);
    ck_assert_str_eq(a, g_peer);
    ck_assert_uint_ne(socks[0].inode, 0);
    ck_assert_uint_ne(socks[0].cookie, 0);
    ck_assert_msg(socks[0].bytes_received != SD_BYTES_UNKNOWN, "no tcp_info bytes_received");
    ck_assert_uint_ge(socks[0].bytes_received, 1000);
    uint64_t cookie = socks[0].cookie;

    /* the client side, seen as "outbound" to the port */
    struct sd_query qo = { .remote = 1, .ports = { 1, port, 3 }, .nports = 3,
                           .states = SD_STATES_CONNECTED };
    ck_assert_int_eq(sd_dump(fd, &qo, socks, 64, &n, &dropped), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(socks[0].lport, cport);
    ck_assert_uint_eq(socks[0].bytes_received, SD_BYTES_UNKNOWN);   /* not requested */

    /* the server closes first: its side goes FIN-WAIT/TIME-WAIT, same cookie */
    close(sfd);
    char c;
    ck_assert_int_eq(read(cfd, &c, 1), 0);
    close(cfd);
    usleep(50 * 1000);
    ck_assert_int_eq(sd_dump(fd, &q, socks, 64, &n, &dropped), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(socks[0].state, SD_TCP_TIME_WAIT);
    ck_assert_uint_eq(socks[0].cookie, cookie);
    ck_assert_uint_eq(socks[0].inode, 0);

    /* bounded output */
    ck_assert_int_eq(sd_dump(fd, &q, socks, 0, &n, &dropped), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(dropped, 1);
    sd_close(fd);
    close(c2);
    close(lfd);
    close(lfd2);
}
END_TEST

START_TEST(live_close_events)
{
    /* A connection that opens and closes between two dumps, the client
     * closing first (so the server side leaves no TIME-WAIT): only the
     * close event shows it, with its final byte count. */
    int dfd = sd_open_destroy();
    ck_assert_msg(dfd >= 0, "sd_open_destroy: %s", strerror(errno));
    uint16_t port, cport;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    int cfd = connect_to(g_addr, port, &cport);
    int sfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(sfd, 0);
    ck_assert_int_eq(write_all(cfd, "QUIT\r\n", 6), 0);
    char b[8];
    ck_assert_int_eq(read(sfd, b, 6), 6);
    close(cfd);                        /* client first: server side CLOSE-WAIT */
    ck_assert_int_eq(read(sfd, b, 1), 0);
    close(sfd);                        /* LAST-ACK, then freed */
    struct sd_sock socks[256];
    size_t n = 0, dropped;
    int lost, found = -1;
    int64_t until = now_ms() + 2000;
    while (found < 0 && now_ms() < until) {
        usleep(20 * 1000);
        ck_assert_int_eq(sd_drain_destroyed(dfd, socks, 256, &n, &dropped, &lost), 0);
        for (size_t i = 0; i < n; i++)
            if (socks[i].lport == port && socks[i].rport == cport)
                found = (int)i;
    }
    ck_assert_msg(found >= 0, "no close event for the server side");
    ck_assert_int_eq(socks[found].state, SD_TCP_CLOSE);
    ck_assert_uint_ne(socks[found].cookie, 0);
    ck_assert_uint_eq(socks[found].bytes_received, 6 + 1);     /* data + FIN */
    /* and the dump has nothing left of it */
    int fd = sd_open();
    struct sd_query q = { .ports = { port }, .nports = 1, .states = SD_STATES_CONNECTED };
    ck_assert_int_eq(sd_dump(fd, &q, socks, 256, &n, &dropped), 0);
    ck_assert_int_eq(n, 0);
    sd_close(fd);
    sd_close(dfd);
    close(lfd);
}
END_TEST

START_TEST(live_sockdiag_ipv6)
{
    int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4) < 0) {
        if (lfd >= 0)
            close(lfd);
        fprintf(stderr, "test_hold_sockdiag: no IPv6 loopback here; IPv6 sock_diag test skipped\n");
        return;
    }
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    uint16_t port = ntohs(sa.sin6_port);
    int cfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sa, sizeof sa), 0);
    int fd = sd_open();
    ck_assert_int_ge(fd, 0);
    struct sd_sock socks[8];
    size_t n, dropped;
    struct sd_query q = { .ports = { port }, .nports = 1, .states = SD_STATES_CONNECTED };
    ck_assert_int_eq(sd_dump(fd, &q, socks, 8, &n, &dropped), 0);
    ck_assert_int_eq(n, 1);      /* still in the accept queue: ESTABLISHED all the same */
    ck_assert_int_eq(socks[0].family, AF_INET6);
    char a[64];
    sd_addr_str(socks[0].family, socks[0].raddr, a, sizeof a);
    ck_assert_str_eq(a, "::1");
    sd_close(fd);
    close(cfd);
    close(lfd);
}
END_TEST

START_TEST(live_sockdiag_syn_recv)
{
    uint16_t port, cport;
    int lfd = listen_deferred(g_addr, &port, 10);
    ck_assert_int_ge(lfd, 0);
    int cfd = connect_to(g_addr, port, &cport);
    usleep(50 * 1000);
    int fd = sd_open();
    ck_assert_int_ge(fd, 0);
    struct sd_sock socks[16];
    size_t n, dropped;
    struct sd_query q = { .ports = { port }, .nports = 1, .states = SD_STATES_CONNECTED };
    ck_assert_int_eq(sd_dump(fd, &q, socks, 16, &n, &dropped), 0);
    ck_assert_int_eq(n, 0);                  /* what the hold saw before */
    q.states = SD_STATES_INBOUND;
    ck_assert_int_eq(sd_dump(fd, &q, socks, 16, &n, &dropped), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(socks[0].state, SD_TCP_SYN_RECV);
    ck_assert_int_eq(socks[0].lport, port);
    ck_assert_int_eq(socks[0].rport, cport);
    sd_close(fd);
    close(cfd);
    close(lfd);
}
END_TEST


int main(void)
{
    hold_fixture_addrs();
    Suite *s = suite_create("hold-sockdiag");
    TCase *tc = UNIT_CASE(s, "live", live_sockdiag_sees_connection, live_sockdiag_ipv6,
                          live_close_events, live_sockdiag_syn_recv);
    tcase_set_timeout(tc, 60);
    return unit_run(s, UNIT_FORK);
}
