/* SPDX-License-Identifier: ISC */
/* sup.h — the daemon's shared state, inside poller/link/ only:
 * supervisor.c (event loop, link state, signals, timers), child.c (the poll
 * child: start, kill, reap, what to schedule after it), sdnotify.c. */
#ifndef ETP_SUP_H
#define ETP_SUP_H
#include "conf/config.h"
#include "link/linkwatch.h"
#include "link/supervisor.h"
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#define KILL_GRACE_MS 1000        /* SIGTERM -> SIGKILL */

/* systemd notification (sd_notify protocol, no libsystemd): sdnotify.c */
struct notifier {
    int fd;
    struct sockaddr_un sa;
    socklen_t salen;
};
void notify_open(struct notifier *n);
void notify(struct notifier *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum kill_reason { KILL_NONE = 0, KILL_LINK_DOWN, KILL_UPLINK_CHANGED, KILL_TIMEOUT, KILL_SHUTDOWN };

struct sup {
    const char *config_path;
    struct etp_config *cfg;
    struct linkwatch *lw;
    struct lw_snapshot *snap;
    int sfd, tfd;
    sigset_t oldmask;
    struct notifier nt;

    /* link */
    int usable;
    struct lw_verdict up;         /* current verdict (the uplink when usable) */
    int64_t down_ms;              /* when the uplink last went down unexpectedly (a flap:
                                   * settle applies to a redial; 0 = never) */
    int line_done;                /* a poll on this link-up is done with the line: a
                                   * hang-up now is the end of the mission, no flap */

    /* schedule; deadlines in ms of CLOCK_BOOTTIME, 0 = none */
    int64_t settle_at;
    int64_t poll_at;
    const char *poll_trigger;     /* "timer", "retry", "signal" */
    int backoff_s;                /* current backoff base, 0 = no failure */
    int blocked;                  /* permanent failure: wait for SIGHUP or link-up */
    int64_t last_end;             /* when the last poll ended */

    /* the running poll */
    pid_t child;
    int64_t child_started;
    const char *child_trigger;
    int64_t term_at;              /* SIGTERM sent (0 = not being killed) */
    int killed_hard;
    enum kill_reason kill_reason;
    int line_fd;                  /* read end of the child's "done with the line" pipe, -1 */
    int child_line_done;          /* it said so: a link-down lets it finish (hooks, state) */

    int stopping;
    unsigned long polls;
    char status[200];
};

/* supervisor.c */
int64_t boot_ms(void);
uint32_t random32(void);
const char *fmt_delay(int64_t ms, char *buf, size_t size);   /* "45 s", "2 min" */
const char *poll_when(int64_t ms, char *buf, size_t size);   /* "now", "in 2 s" */
void set_status(struct sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *vtext(const struct lw_verdict *v, char *buf, size_t size);

/* child.c */
void start_poll(struct sup *s, const char *trigger);
void kill_poll(struct sup *s, enum kill_reason why);
void schedule_after(struct sup *s, int code, const char *how);
void poll_ended(struct sup *s, int status);
void reap(struct sup *s);
void line_fd_read(struct sup *s);

#endif
