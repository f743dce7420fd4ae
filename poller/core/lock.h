/* SPDX-License-Identifier: ISC */
/* lock.h — one poll at a time across cron, ppp hooks and the daemon:
 * flock(2) on STATE_DIR/poll.lock, which holds the owner's pid.  Every
 * entry point takes it as the service user (core/priv.h), so root and the
 * daemon share one lock file that the service user owns. */
#ifndef ETP_LOCK_H
#define ETP_LOCK_H
#include <stddef.h>
#include <sys/types.h>
/* Returns an fd (>= 0) holding the lock; -1 if a running poll holds it
 * after waiting wait_s seconds (*holder = its pid); -2 if the lock file is
 * unusable, -3 if it is held by something that is not a running etrnpoll
 * (both logged, with what to do: the poll must not run). */
int lock_acquire(const char *state_dir, int wait_s, pid_t *holder);
void lock_release(int fd);
/* Would lock_acquire() be able to open the lock?  0 yes, -1 no (err says why
 * and what to run).  Does not take the lock. */
int lock_check(const char *state_dir, char *err, size_t errsize);
#endif
