/* TEMPORARY placeholder written by the lead so the tree links while the
 * daemon is being written. The daemon owner replaces this whole file. */
#include "config.h"
#include "supervisor.h"
#include "log.h"
#include "util.h"
int supervisor_run(const struct run_opts *o) { (void)o; log_err("run: daemon not built yet"); return EX_SOFTWARE; }
