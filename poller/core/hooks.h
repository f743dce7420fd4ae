/* SPDX-License-Identifier: ISC */
/* hooks.h — run user hook programs: no shell, fixed environment, timeout,
 * output captured to the log. */
#ifndef ETP_HOOKS_H
#define ETP_HOOKS_H
#include "conf/config.h"

/* Run the hooks of one point ("pre-poll", "post-poll", "hold-done"): the
 * configured argv (if any), then every executable in hooks.dir/POINT.d/
 * in lexical order.  env: NULL-terminated "NAME=value" list added to a
 * fixed minimal environment (PATH, ETRNPOLL_HOOK=point).  Returns the
 * number of hooks that failed (non-zero exit, signal or timeout). */
int hooks_run(const struct etp_config *cfg, const char *point, char *const env[]);

/* Run one program without a shell (argv[0] absolute), with env, timeout;
 * stdout/stderr lines go to the log prefixed with `tag`.  Returns the exit
 * status (0..255), 128+signal, or -1 if it could not start / timed out. */
int run_program(char *const argv[], char *const env[], int timeout_s, const char *tag);
#endif
