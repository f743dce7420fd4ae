/* SPDX-License-Identifier: ISC */
/* hold_fixture.h — what the hold unit tests share (hold_fixture.c):
 *   - scripted socket snapshots for the completion state machine
 *     (test_hold_sm, test_hold_sm_adaptive; S() also test_hold_filter);
 *   - a loopback listener and a "relay" client for the live tests
 *     (test_hold_sockdiag, test_hold_live). */
#ifndef ETP_TESTS_HOLD_FIXTURE_H
#define ETP_TESTS_HOLD_FIXTURE_H

#include "hold/sm.h"
#include <stddef.h>
#include <stdint.h>

#define S(x) ((int64_t)(x) * 1000)

/* ---- scripted sequences for the state machine ---------------------------- */

/* An inbound connection from 10.0.0.<peer>:<rport> to 127.0.0.41:25. */
struct hold_conn in_conn(int peer, uint16_t rport, uint64_t cookie, int open);
/* An outbound one from local port <lport> to 10.0.0.99:25. */
struct hold_conn out_conn(uint16_t lport, uint64_t cookie, int open);
/* quiet, first-contact and max-hold in seconds */
struct hold_params params(int quiet, int first, int max);
/* A state machine on the heap (free() it), initialized with *p. */
struct hold_sm *new_sm(const struct hold_params *p);

/* A scripted connection: open during [from, to) ms; if tw, it then lingers
 * in TIME-WAIT (closed) for 60 s, else it vanishes at once. */
struct script {
    struct hold_conn c;
    int64_t from, to;
    int tw;
};

/* Sample every step_ms from 0 until the state machine ends (or until
 * limit); returns the end and stores its time. */
enum hold_end run_script(struct hold_sm *sm, const struct script *sc, size_t nsc,
                         int64_t step_ms, int64_t limit, int64_t *end_t);

/* ---- live sockets -------------------------------------------------------- */

/* The hold tests' sink address, or 127.0.0.1 where 127.0.0.41 cannot be
 * bound (set by hold_fixture_addrs()). */
extern const char *g_addr;
/* The "relay" side of test connections binds here (127.0.0.40 with .41). */
extern const char *g_peer;

/* Before the run (main()): fall back to 127.0.0.1 for both where
 * 127.0.0.41 cannot be bound. */
void hold_fixture_addrs(void);
/* Bind fd to g_peer (in a child: _exit(90) if that fails). */
void bind_peer(int fd);
/* A listener on addr (the kernel picks the port); -1 if it cannot bind. */
int listen_on(const char *addr, uint16_t *port);
/* A client bound to g_peer, connected to addr:port; its port in *cport. */
int connect_to(const char *addr, uint16_t port, uint16_t *cport);
/* A listener with TCP_DEFER_ACCEPT keeps a connected client that has sent
 * nothing yet as a request socket (SYN-RECV): the state the second wave of
 * a delivery is in while its handshake is under way on a full line. */
int listen_deferred(const char *addr, uint16_t *port, int secs);

#endif
