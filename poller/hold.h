/* hold.h — hold the line until inbound delivery completes (sock_diag). */
#ifndef ETP_HOLD_H
#define ETP_HOLD_H
#include <stdio.h>
#include <stdint.h>
#include "config.h"

enum hold_end {
    HOLD_NOT_RUN = 0,
    HOLD_QUIET,             /* connections seen, none open for `quiet` s */
    HOLD_NOTHING_QUEUED,    /* every relay answered 251 */
    HOLD_NO_CONTACT,        /* no inbound connection within first-contact */
    HOLD_MAX,               /* max-hold reached */
    HOLD_ABORTED,           /* signal / error */
};

struct hold_summary {
    enum hold_end end;
    int connections;              /* distinct inbound connections seen */
    char peers[512];              /* "addr,addr" distinct peers, bounded */
    uint64_t bytes_received;      /* if the kernel reported it (tcp_info) */
    int64_t duration_ms;
    int64_t overshoot_ms;         /* hold end - last inbound close */
};

/* Called every sample interval while holding (relay keepalive etc.). */
typedef void (*hold_tick_fn)(void *arg);

/* Wait per cfg->hold. nothing_queued: every relay said 251. Runs the
 * flush command and the hold-done hook; writes its state file. */
int hold_run(const struct etp_config *cfg, int nothing_queued, hold_tick_fn tick, void *arg,
             struct hold_summary *out);
/* Before ETRN (hold.check-local-mta): is the local MTA accepting on
 * hold.port?  0 yes (or check disabled), EX_TEMPFAIL no (logged). */
int hold_precheck(const struct etp_config *cfg);
const char *hold_end_name(enum hold_end e);
void hold_status(FILE *out, const struct etp_config *cfg);
#endif
