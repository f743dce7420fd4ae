/* cli.h — the etrnpoll command line: one option table (opts.c), one parser,
 * and one file per command (check.c, status.c, version.c, poll.c).
 *
 * cli_parse() is pure (no exit, no output, no globals): main.c prints its
 * message, tests/fuzz (fuzz/fuzz_opts.c) replay argv vectors through it. */
#ifndef ETP_CLI_H
#define ETP_CLI_H
#include <stddef.h>
#include <stdio.h>
#include "conf/config.h"
#include "poll/cycle.h"

enum cli_cmd { CMD_NONE = 0, CMD_POLL, CMD_CHECK, CMD_STATUS, CMD_RUN, CMD_DDNS };

#define CLI_MAX_RELAYS CFG_MAX_RELAYS   /* --relay NAME, repeatable */
#define CLI_MAX_NODES  64               /* --node NODE, repeatable */
#define CLI_TRIGGER_MAX 32              /* --trigger: [A-Za-z0-9._-], 1..32 */
#define CLI_PATH_MAX   4096             /* --config */

struct cli {
    enum cli_cmd cmd;
    const char *cmd_name;
    const char *config_path;
    int level;                    /* LOG_INFO, LOG_WARNING (-q), LOG_DEBUG (--debug) */
    int transcript;               /* -v */
    int use_syslog;
    int connect;                  /* check --connect */
    int json;                     /* status --json */
    int dry_run;                  /* poll/ddns --dry-run */
    int force;                    /* ddns --force */
    int help, version;
    const char *relays[CLI_MAX_RELAYS];
    int nrelays;
    const char *nodes[CLI_MAX_NODES];
    int nnodes;
    struct cycle_opts co;         /* uplink (-i, -a), trigger, --no-hold, --no-ddns, --wait */
};

/* Parse argv (options before or after the command, one table, every value
 * validated).  0: ok (see c->help / c->version); EX_USAGE: err holds one
 * line saying what is wrong and what to do.  argv is not modified; c points
 * into it. */
int cli_parse(int argc, char *const *argv, struct cli *c, char *err, size_t errsize);
void cli_usage(FILE *f);

/* Value validators shared by the table (0 ok, -1 with a message in err). */
int cli_valid_ifname(const char *s, char *err, size_t errsize);
int cli_valid_trigger(const char *s, char *err, size_t errsize);
int cli_valid_seconds(const char *s, long max, long *out, char *err, size_t errsize);

/* Commands (return the exit code, sysexits). */
int cmd_check(const struct etp_config *cfg, const struct cli *c);
int cmd_status(const struct etp_config *cfg, const struct cli *c);
int cmd_poll(const struct etp_config *cfg, const struct cli *c);
int cmd_ddns(const struct etp_config *cfg, const struct cli *c);
void cmd_version(FILE *out, const struct cli *c);

/* poll.c: the configuration restricted to --relay/--node (a shallow copy:
 * its strings belong to cfg; do not config_free() it).  0 ok, EX_USAGE with
 * the configured names printed to stderr. */
int cli_filter_config(const struct etp_config *cfg, const struct cli *c, struct etp_config *out);
/* poll.c: print what a poll would do (--dry-run); the DDNS plan's exit code. */
int cli_print_plan(FILE *out, const struct etp_config *cfg, const struct cli *c);
#endif
