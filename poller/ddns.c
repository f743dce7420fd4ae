/* TEMPORARY placeholder written by the lead so the tree links while the
 * ddns module is being written. The ddns owner replaces this whole file. */
#include "config.h"
#include "ddns.h"
#include "log.h"
#include "util.h"
#include <string.h>
int ddns_run_all(const struct etp_config *cfg, const struct uplink *up, struct ddns_summary *sum)
{
    (void)up;
    memset(sum, 0, sizeof *sum);
    log_err("ddns: not built yet; %d entries skipped", cfg->nddns);
    return EX_SOFTWARE;
}
int ddns_check(const struct etp_config *cfg) { (void)cfg; return EX_SOFTWARE; }
void ddns_status(FILE *out, const struct etp_config *cfg) { (void)cfg; fprintf(out, "ddns: not built\n"); }
