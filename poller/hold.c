/* TEMPORARY placeholder written by the lead so the tree links while the
 * hold module is being written. The hold owner replaces this whole file. */
#include "config.h"
#include "hold.h"
#include "log.h"
#include <string.h>
int hold_precheck(const struct etp_config *cfg) { (void)cfg; return 0; }
int hold_run(const struct etp_config *cfg, int nothing_queued, hold_tick_fn tick, void *arg,
             struct hold_summary *out)
{
    (void)cfg; (void)nothing_queued; (void)tick; (void)arg;
    memset(out, 0, sizeof *out);
    log_warn("hold: not built yet; not holding");
    return 0;
}
const char *hold_end_name(enum hold_end e) { (void)e; return "not-run"; }
void hold_status(FILE *out, const struct etp_config *cfg) { (void)cfg; (void)out; }
