/* SPDX-License-Identifier: ISC */
/* util.h — small shared helpers: time, fds, strings, exit-code ranking. */
#ifndef ETP_UTIL_H
#define ETP_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#define ETP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic clock in milliseconds. */
int64_t now_ms(void);
/* Wall clock, seconds since the epoch. */
int64_t now_wall(void);

#include <signal.h>
#include <stdatomic.h>
/* Set by a signal handler (SIGTERM/SIGINT in a cycle): every wait_fd()
 * returns -1 with errno EINTR at once, so I/O loops unwind promptly.
 * Atomic: read by the relays' threads, written in whichever thread the
 * signal reached (a lock-free atomic is async-signal-safe, C11 7.14.1.1). */
extern volatile atomic_int etp_abort;
/* Call from a signal handler (async-signal-safe): sets etp_abort and wakes
 * every thread blocked in wait_fd() or etp_poll_abortable(), not only the
 * one the signal was delivered to (relays are polled in threads).
 * etp_abort_init() creates the wake-up (an eventfd) once, before threads. */
void etp_abort_now(void);
int etp_abort_init(void);
/* poll(2) on fds[0..n) plus the abort wake-up; returns what poll returns,
 * or -1 with errno EINTR once etp_abort is set. */
struct pollfd;
int etp_poll_abortable(struct pollfd *fds, int n, int timeout_ms);

/* Wait until fd is readable (events=POLLIN) or writable (POLLOUT), at most
 * until the absolute monotonic deadline (ms).  Returns 1 ready, 0 timed
 * out, -1 error (errno set).  Restarts on EINTR. */
int wait_fd(int fd, short events, int64_t deadline_ms);

int set_nonblock(int fd, int on);
int set_cloexec(int fd);

/* Overwrite memory in a way the compiler may not elide. */
void secure_wipe(void *p, size_t n);

/* Bounded copy that always terminates; returns 0, or -1 if truncated. */
int strlcpy_chk(char *dst, const char *src, size_t size);

/* Printable, bounded rendering of untrusted bytes for logs: control and
 * non-ASCII bytes become \xNN; at most outsize-1 chars; "..." when cut. */
void printable(char *out, size_t outsize, const char *in, size_t inlen);
/* printable() of a C string that may be NULL (then dflt, printed as is):
 * for showing strings that came from a file or a server (status output);
 * ESC, OSC and CR/LF become \xNN, so nothing can move the terminal.
 * Returns out. */
const char *printable_str(char *out, size_t outsize, const char *s, const char *dflt);

/* Exit codes (sysexits.h) ordered by severity, for combining the outcomes
 * of several relays and nodes into one process exit code.  See etrnpoll(8):
 * CONFIG > NOPERM > PROTOCOL > TEMPFAIL > UNAVAILABLE > OK. */
int exit_worst(int a, int b);
const char *exit_name(int code);

/* Write a whole buffer (restart on EINTR/short writes). */
int write_all(int fd, const void *buf, size_t len);

/* Read a small regular file entirely (at most max bytes; more is an error).
 * Never follows a symbolic link (ELOOP) and refuses anything but a regular
 * file (EINVAL) without blocking on a FIFO.
 * Returns malloc'd NUL-terminated buffer or NULL (errno set; EFBIG if too big). */
char *read_small_file(const char *path, size_t max, size_t *lenp);
/* The same from an open descriptor (read to the end); closes fd, errno kept. */
char *read_small_fd(int fd, size_t max, size_t *lenp);

/* mkdir -p with mode for the last component. */
int mkdir_p(const char *path, unsigned mode);

#endif
