/* lock.h — one poll at a time across cron, ppp hooks and the daemon:
 * flock(2) on STATE_DIR/poll.lock, which holds the owner's pid. */
#ifndef ETP_LOCK_H
#define ETP_LOCK_H
#include <sys/types.h>
/* Returns an fd (>= 0) holding the lock; -1 if another process holds it
 * after waiting wait_s seconds (*holder = its pid, or 0); -2 on error (logged). */
int lock_acquire(const char *state_dir, int wait_s, pid_t *holder);
void lock_release(int fd);
#endif
