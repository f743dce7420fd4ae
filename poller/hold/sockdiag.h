/* SPDX-License-Identifier: ISC */
/* sockdiag.h — list TCP sockets with raw NETLINK_SOCK_DIAG (inet_diag).
 *
 * Used by the hold module to see inbound SMTP connections to the local MTA
 * (and, optionally, outbound SMTP connections from this host).  Raw
 * sock_diag rather than libnl-idiag: libnl-idiag 3.7 only speaks the legacy
 * TCPDIAG request, without the v2 protocol field and with ports in network
 * order; the raw protocol is a few dozen lines.
 *
 * Works unprivileged: dumping sockets and their tcp_info needs no
 * capability (it is what `ss -ti` does). */
#ifndef ETP_SOCKDIAG_H
#define ETP_SOCKDIAG_H
#include <stddef.h>
#include <stdint.h>

/* Kernel TCP states (include/net/tcp_states.h; the same numbers as
 * glibc's <netinet/tcp.h>, which we do not include because it clashes
 * with <linux/tcp.h>, where struct tcp_info has tcpi_bytes_received). */
enum sd_tcp_state {
    SD_TCP_ESTABLISHED = 1,
    SD_TCP_SYN_SENT,
    SD_TCP_SYN_RECV,
    SD_TCP_FIN_WAIT1,
    SD_TCP_FIN_WAIT2,
    SD_TCP_TIME_WAIT,
    SD_TCP_CLOSE,
    SD_TCP_CLOSE_WAIT,
    SD_TCP_LAST_ACK,
    SD_TCP_LISTEN,
    SD_TCP_CLOSING,
    SD_TCP_NEW_SYN_RECV,
    SD_TCP_MAX_STATES
};
#define SD_STATE_BIT(s) (1u << (s))
/* ESTABLISHED and every later state: what the hold watches. */
#define SD_STATES_CONNECTED                                                     \
    (SD_STATE_BIT(SD_TCP_ESTABLISHED) | SD_STATE_BIT(SD_TCP_FIN_WAIT1) |        \
     SD_STATE_BIT(SD_TCP_FIN_WAIT2) | SD_STATE_BIT(SD_TCP_TIME_WAIT) |          \
     SD_STATE_BIT(SD_TCP_CLOSE) | SD_STATE_BIT(SD_TCP_CLOSE_WAIT) |             \
     SD_STATE_BIT(SD_TCP_LAST_ACK) | SD_STATE_BIT(SD_TCP_CLOSING))
/* ...and connections being set up: request sockets.  The kernel selects
 * them by TCP_NEW_SYN_RECV and reports them as SYN-RECV (without tcp_info,
 * under a cookie of their own: the established socket gets another). */
#define SD_STATES_INBOUND                                                       \
    (SD_STATES_CONNECTED | SD_STATE_BIT(SD_TCP_SYN_RECV) |                      \
     SD_STATE_BIT(SD_TCP_NEW_SYN_RECV))

#define SD_BYTES_UNKNOWN UINT64_MAX
/* TCP_TIMEWAIT_LEN: a TIME-WAIT socket lives this long, so its age is
 * SD_TIMEWAIT_MS - expires_ms. */
#define SD_TIMEWAIT_MS 60000

/* One socket as the kernel reported it. */
struct sd_sock {
    uint8_t family;              /* AF_INET or AF_INET6; an IPv4-mapped IPv6
                                    socket (::ffff:a.b.c.d) is reported as AF_INET */
    uint8_t state;               /* enum sd_tcp_state */
    uint16_t lport, rport;       /* host byte order */
    uint8_t laddr[16], raddr[16];/* network order; AF_INET uses the first 4 bytes */
    uint64_t cookie;             /* socket cookie (kept across TIME_WAIT) */
    uint32_t inode;              /* 0 for TIME_WAIT / orphaned sockets */
    uint32_t expires_ms;         /* time left on the socket's timer (for a
                                    TIME-WAIT socket: until it disappears) */
    uint64_t bytes_received;     /* tcp_info, SD_BYTES_UNKNOWN if not reported */
};

#define SD_MAX_PORTS 4

/* What to dump: sockets whose LOCAL port (inbound: connections to our
 * server) or REMOTE port (outbound: our connections to servers) is one of
 * ports[], in one of the states in the mask.  The port test runs in the
 * kernel (inet_diag bytecode); sd_dump() checks it again in user space. */
struct sd_query {
    int remote;                  /* 0: match local port, 1: match remote port */
    uint16_t ports[SD_MAX_PORTS];
    int nports;                  /* 1..SD_MAX_PORTS */
    uint32_t states;             /* SD_STATE_BIT() mask */
    int want_info;               /* request INET_DIAG_INFO (tcp_info) */
};

/* Open a NETLINK_SOCK_DIAG socket (close-on-exec).  -1 with errno. */
int sd_open(void);
void sd_close(int fd);

/* Dump the TCP sockets of both address families matching q.  Up to max
 * sockets are stored in out; *n receives the number stored and *dropped
 * the number that matched but did not fit.  Returns 0, or -1 with errno
 * (EPROTO for a malformed or unexpected reply, ETIMEDOUT if the kernel
 * did not finish a dump within 2 s). */
int sd_dump(int fd, const struct sd_query *q, struct sd_sock *out, size_t max,
            size_t *n, size_t *dropped);

/* Socket-close events: a NETLINK_SOCK_DIAG socket subscribed to the
 * SKNLGRP_INET_TCP_DESTROY and SKNLGRP_INET6_TCP_DESTROY groups (Linux
 * >= 4.10; no privilege needed).  The kernel sends one SOCK_DIAG_BY_FAMILY
 * message, with the final tcp_info, whenever a TCP socket is freed -- also
 * for connections that opened and closed between two dumps and left no
 * TIME-WAIT behind on this side.  Non-blocking.  -1 with errno. */
int sd_open_destroy(void);
/* Read the queued close events (at most max_msgs messages per call, so a
 * storm cannot keep us here).  Sockets of any port and state are stored
 * (state is CLOSE); up to max in out, *n stored, *dropped beyond max.
 * *lost is set to 1 if the kernel dropped events (receive buffer full).
 * Returns 0, or -1 with errno. */
int sd_drain_destroyed(int fd, struct sd_sock *out, size_t max, size_t *n, size_t *dropped,
                       int *lost);

/* Build the inet_diag bytecode for q into buf (size bytes, 4-aligned).
 * Returns its length, or -1 if it does not fit.  Exposed for tests. */
int sd_bytecode(const struct sd_query *q, void *buf, size_t size);

/* "addr" or "[addr6]" of the local (remote=0) or remote address. */
void sd_addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t size);
const char *sd_state_name(int state);
#endif
