/* SPDX-License-Identifier: ISC */
/* supervisor.h — `etrnpoll run`: the daemon. */
#ifndef ETP_SUPERVISOR_H
#define ETP_SUPERVISOR_H
#include <stdint.h>

struct run_opts {
    const char *config_path;
    int foreground;               /* always true for now (systemd) */
    int verbose;
};
/* Returns a process exit code. */
int supervisor_run(const struct run_opts *o);

/* ---- pure scheduling helpers (unit-tested) ------------------------------ */

enum sup_outcome {
    SUP_OK = 0,                   /* exit 0: next poll on the interval (if any) */
    SUP_RETRY,                    /* 75, 76 and anything unexpected: retry with backoff */
    SUP_PERMANENT,                /* 64, 69, 77, 78: no retry until SIGHUP or a new link-up */
};
/* Classify a cycle's exit code (sysexits). */
enum sup_outcome sup_classify_exit(int code);

/* Next backoff base after a temporary failure: min_s the first time
 * (cur_s <= 0), then doubling, capped at max_s. */
int sup_backoff_next(int cur_s, int min_s, int max_s);

/* The delay actually waited for a base: base minus up to 20 % jitter
 * (rnd is a uniform 32-bit random value), so retries from many sites do not
 * synchronise and the delay never exceeds link.backoff-max.  Milliseconds,
 * at least 1. */
int64_t sup_backoff_delay_ms(int base_s, uint32_t rnd);

/* Milliseconds to wait before polling a link that just became usable
 * (link.settle = settle_s).  A point-to-point link (ppp, tun) judged usable
 * already has its address and default route, so it is polled at once
 * unless it flapped: went down (down_ms, 0 = never or not counted) less than
 * SUP_FLAP_MS before now.  Other links always settle. */
#define SUP_FLAP_MS 60000
int64_t sup_settle_ms(int p2p, int64_t down_ms, int64_t now, int settle_s);
#endif
