/* ddns.h — dynamic DNS update before ETRN (libcurl). */
#ifndef ETP_DDNS_H
#define ETP_DDNS_H
#include <stdio.h>
#include "config.h"
#include "cycle.h"

struct ddns_summary {
    int entries;                  /* ddns sections processed */
    int changed;                  /* entries whose address changed and was updated */
    int failed;                   /* entries that failed (fatal or retry) */
    int exit;                     /* worst exit code over entries (sysexits) */
};

/* Update every configured ddns entry (before the relays are polled).
 * Owns its state file(s) under cfg->state_dir.  Logs one line per entry.
 * Never sends a password/API key to the log. */
int ddns_run_all(const struct etp_config *cfg, const struct uplink *up, struct ddns_summary *sum);
/* `etrnpoll check`: validate ddns secrets etc. (0 ok, else sysexits code). */
int ddns_check(const struct etp_config *cfg);
/* `etrnpoll status`: print the last update per entry. */
void ddns_status(FILE *out, const struct etp_config *cfg);
#endif
