/* opts.c — the one option table and parser of the etrnpoll command line.
 *
 * Options may come before or after the command; every value goes through
 * the same validator wherever it stands (hooks pass -a after the command).
 * Each option names the commands it belongs to; an option given to a
 * command that does not use it is refused, so a typo cannot be ignored. */
#include "cli/cli.h"
#include "core/log.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#define B(c) (1u << (c))
#define ALL  (B(CMD_POLL) | B(CMD_CHECK) | B(CMD_STATUS) | B(CMD_RUN) | B(CMD_DDNS) | B(CMD_NONE))
#define UPLINK (B(CMD_POLL) | B(CMD_CHECK) | B(CMD_DDNS))

static const struct {
    const char *name;
    enum cli_cmd cmd;
    const char *help;
} commands[] = {
    { "poll", CMD_POLL, "run one poll cycle now, in the foreground (cron, ppp hooks)" },
    { "check", CMD_CHECK, "validate the configuration and secrets (--connect: also each relay)" },
    { "status", CMD_STATUS, "show the last poll, DNS update and hold (--json: as JSON)" },
    { "ddns", CMD_DDNS, "update dynamic DNS only, no SMTP (--force: even if unchanged)" },
    { "run", CMD_RUN, "run as a daemon: poll when the link comes up and on schedule" },
};

static int ferr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ferr(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Untrusted argv text inside a message: escaped, bounded. */
static const char *shown(const char *s, char *buf, size_t n)
{
    printable(buf, n, s, strlen(s));
    return buf;
}

int cli_valid_ifname(const char *s, char *err, size_t errsize)
{
    char b[80];
    size_t n = strlen(s);
    if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return ferr(err, errsize, "\"%s\" is not an interface name (1..%d characters)",
                    shown(s, b, sizeof b), IF_NAMESIZE - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '/')
            return ferr(err, errsize, "\"%s\" is not an interface name (printable ASCII, "
                        "no space or '/')", shown(s, b, sizeof b));
    }
    return 0;
}

int cli_valid_trigger(const char *s, char *err, size_t errsize)
{
    char b[80];
    size_t n = strlen(s);
    int ok = n >= 1 && n <= CLI_TRIGGER_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '_' || ch == '-';
    }
    if (!ok)
        return ferr(err, errsize, "\"%s\" is not a trigger name (1..%d letters, digits, '.', '_', '-'; "
                    "e.g. hook, timer, manual)", shown(s, b, sizeof b), CLI_TRIGGER_MAX);
    return 0;
}

int cli_valid_seconds(const char *s, long max, long *out, char *err, size_t errsize)
{
    char b[80];
    long v = 0;
    size_t n = strlen(s);
    int ok = n >= 1 && n <= 9;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (s[i] - '0');
    }
    if (!ok || v > max)
        return ferr(err, errsize, "\"%s\" is not a number of seconds (0..%ld)", shown(s, b, sizeof b), max);
    *out = v;
    return 0;
}

/* ---- setters: one per option ------------------------------------------ */

typedef int (*setter)(struct cli *c, const char *v, char *err, size_t n);

static int s_config(struct cli *c, const char *v, char *err, size_t n)
{
    if (!*v || strlen(v) >= CLI_PATH_MAX)
        return ferr(err, n, "needs a file name (under %d characters)", CLI_PATH_MAX);
    c->config_path = v;
    return 0;
}
static int s_verbose(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->transcript = 1; return 0; }
static int s_quiet(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->level = LOG_WARNING; return 0; }
static int s_debug(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->level = LOG_DEBUG; return 0; }
static int s_syslog(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->use_syslog = 1; return 0; }
static int s_nohold(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->co.no_hold = 1; return 0; }
static int s_noddns(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->co.no_ddns = 1; return 0; }
static int s_connect(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->connect = 1; return 0; }
static int s_json(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->json = 1; return 0; }
static int s_dry(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->dry_run = 1; return 0; }
static int s_force(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->force = 1; return 0; }
static int s_help(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->help = 1; return 0; }
static int s_version(struct cli *c, const char *v, char *e, size_t n) { (void)v, (void)e, (void)n; c->version = 1; return 0; }

static int s_iface(struct cli *c, const char *v, char *err, size_t n)
{
    if (cli_valid_ifname(v, err, n) < 0)
        return -1;
    snprintf(c->co.up.ifname, sizeof c->co.up.ifname, "%s", v);
    return 0;
}

static int s_addr(struct cli *c, const char *v, char *err, size_t n)
{
    struct in_addr a4;
    struct in6_addr a6;
    char b[80];
    /* store the canonical form: what DDNS and hooks publish is what
     * inet_pton understood, never the raw argument */
    if (inet_pton(AF_INET, v, &a4) == 1)
        inet_ntop(AF_INET, &a4, c->co.up.addr4, sizeof c->co.up.addr4);
    else if (inet_pton(AF_INET6, v, &a6) == 1)
        inet_ntop(AF_INET6, &a6, c->co.up.addr6, sizeof c->co.up.addr6);
    else
        return ferr(err, n, "not an IPv4 or IPv6 address: \"%s\"", shown(v, b, sizeof b));
    return 0;
}

static int s_trigger(struct cli *c, const char *v, char *err, size_t n)
{
    if (cli_valid_trigger(v, err, n) < 0)
        return -1;
    c->co.trigger = v;
    return 0;
}

static int s_wait(struct cli *c, const char *v, char *err, size_t n)
{
    long w;
    if (cli_valid_seconds(v, 86400, &w, err, n) < 0)
        return -1;
    c->co.lock_wait = (int)w;
    return 0;
}

static int printable_name(const char *v, size_t max)
{
    size_t l = strlen(v);
    if (l == 0 || l > max)
        return 0;
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
            return 0;
    return 1;
}

static int s_relay(struct cli *c, const char *v, char *err, size_t n)
{
    char b[80];
    if (!printable_name(v, 255))
        return ferr(err, n, "\"%s\" is not a relay name (a section title of the configuration)",
                    shown(v, b, sizeof b));
    if (c->nrelays >= CLI_MAX_RELAYS)
        return ferr(err, n, "at most %d relays", CLI_MAX_RELAYS);
    c->relays[c->nrelays++] = v;
    return 0;
}

static int s_node(struct cli *c, const char *v, char *err, size_t n)
{
    char b[80];
    const char *why = node_invalid(v);
    if (why)
        return ferr(err, n, "\"%s\": %s", shown(v, b, sizeof b), why);
    if (c->nnodes >= CLI_MAX_NODES)
        return ferr(err, n, "at most %d nodes", CLI_MAX_NODES);
    c->nodes[c->nnodes++] = v;
    return 0;
}

static const struct opt {
    const char *name;
    char shortc;
    const char *arg;              /* NULL: a flag */
    unsigned cmds;                /* commands it belongs to */
    setter set;
    const char *help;
} opts[] = {
    { "config", 'c', "FILE", ALL, s_config, "configuration file (default " ETP_DEFAULT_CONFIG ")" },
    { "verbose", 'v', NULL, ALL, s_verbose, "show the SMTP transcript (AUTH payloads redacted)" },
    { "quiet", 'q', NULL, ALL, s_quiet, "only warnings and errors on stderr" },
    { "debug", 0, NULL, ALL, s_debug, "debug logging" },
    { "syslog", 0, NULL, ALL, s_syslog, "also log to syslog (facility mail)" },
    { "interface", 'i', "IF", UPLINK, s_iface, "the uplink interface that just came up (ppp0, wwan0...)" },
    { "local-address", 'a', "ADDR", UPLINK, s_addr, "its address (IPv4 or IPv6; repeat for both), e.g. pppd's $4" },
    { "trigger", 't', "NAME", UPLINK, s_trigger, "why this poll runs (logged, passed to hooks): [A-Za-z0-9._-]" },
    { "wait", 'w', "SECONDS", B(CMD_POLL) | B(CMD_DDNS), s_wait,
      "wait this long for a running poll to finish (0..86400; default 0:\n"
      "                           exit 0 at once, since that poll does the work)" },
    { "no-hold", 0, NULL, B(CMD_POLL) | B(CMD_CHECK), s_nohold, "poll: send ETRN and quit; do not wait for the delivery" },
    { "no-ddns", 0, NULL, B(CMD_POLL) | B(CMD_CHECK), s_noddns, "poll: do not update dynamic DNS" },
    { "relay", 'r', "NAME", B(CMD_POLL) | B(CMD_CHECK), s_relay, "poll, check --connect: only this relay (repeatable)" },
    { "node", 'n', "NODE", B(CMD_POLL) | B(CMD_CHECK), s_node, "poll, check --connect: only this domain/node (repeatable)" },
    { "dry-run", 0, NULL, B(CMD_POLL) | B(CMD_DDNS), s_dry,
      "poll, ddns: print the plan (DDNS, relays, nodes, hold); send nothing" },
    { "force", 0, NULL, B(CMD_DDNS), s_force, "ddns: update even if the address is unchanged" },
    { "connect", 0, NULL, B(CMD_CHECK), s_connect, "check: connect to each relay: TLS, AUTH, ETRN (no ETRN sent)" },
    { "json", 0, NULL, B(CMD_STATUS), s_json, "status: last poll, DDNS and hold as one JSON object" },
    { "help", 'h', NULL, ALL, s_help, "this help" },
    { "version", 'V', NULL, ALL, s_version, "version, paths, TLS/SASL/curl libraries, SASL mechanisms" },
};

void cli_usage(FILE *f)
{
    fprintf(f,
"Usage: etrnpoll [OPTIONS] COMMAND [OPTIONS]\n"
"Ask the ISP's backup MX to deliver the mail it holds for this site (SMTP ETRN,\n"
"RFC 1985): update dynamic DNS, connect with verified TLS, authenticate, send\n"
"ETRN for every configured domain, and hold the line until delivery is done.\n"
"\n"
"Commands:\n");
    for (size_t i = 0; i < ETP_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-15s  %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nOptions (before or after the command):\n");
    for (size_t i = 0; i < ETP_ARRAY_LEN(opts); i++) {
        char head[64];
        const struct opt *o = &opts[i];
        snprintf(head, sizeof head, "%c%c%s--%s%s%s", o->shortc ? '-' : ' ', o->shortc ? o->shortc : ' ',
                 o->shortc ? ", " : "  ", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-24s %s\n", head, o->help);
    }
    fprintf(f,
"\n"
"Exit status (sysexits): 0 all domains accepted; 75 temporary failure (retry\n"
"later); 69 a domain was refused; 76 protocol/TLS error; 77 authentication\n"
"failed; 78 configuration error; 64 usage.  See etrnpoll(8), etrnpoll.conf(5).\n");
}

static const struct opt *find_long(const char *name, size_t len, char *err, size_t n)
{
    const struct opt *hit = NULL;
    int nhit = 0;
    char b[80];
    for (size_t i = 0; i < ETP_ARRAY_LEN(opts); i++) {
        if (strncmp(opts[i].name, name, len) != 0)
            continue;
        if (strlen(opts[i].name) == len)
            return &opts[i];          /* exact */
        hit = &opts[i];               /* unique prefix, as getopt_long allowed */
        nhit++;
    }
    if (nhit == 1)
        return hit;
    char nm[300];
    snprintf(nm, sizeof nm, "%.*s", (int)(len < 200 ? len : 200), name);
    ferr(err, n, nhit ? "option --%s is ambiguous (try --help)" : "unknown option --%s (try --help)",
         shown(nm, b, sizeof b));
    return NULL;
}

static const struct opt *find_short(char ch, char *err, size_t n)
{
    for (size_t i = 0; i < ETP_ARRAY_LEN(opts); i++)
        if (opts[i].shortc && opts[i].shortc == ch)
            return &opts[i];
    char s[2] = { ch, 0 }, b[16];
    ferr(err, n, "unknown option -%s (try --help)", shown(s, b, sizeof b));
    return NULL;
}

static int apply(struct cli *c, const struct opt *o, const char *v, unsigned char *seen,
                 char *err, size_t n)
{
    char why[300] = "";
    seen[o - opts] = 1;
    if (o->set(c, v, why, sizeof why) < 0)
        return ferr(err, n, "--%s: %s", o->name, why);
    return 0;
}

int cli_parse(int argc, char *const *argv, struct cli *c, char *err, size_t n)
{
    unsigned char seen[ETP_ARRAY_LEN(opts)];
    memset(seen, 0, sizeof seen);
    memset(c, 0, sizeof *c);
    c->config_path = ETP_DEFAULT_CONFIG;
    c->level = LOG_INFO;
    c->co.trigger = "manual";
    if (err && n)
        err[0] = '\0';
    int endopts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!a)
            break;
        if (!endopts && a[0] == '-' && a[1] == '-' && a[2] == '\0') {
            endopts = 1;
            continue;
        }
        if (!endopts && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct opt *o = find_long(name, len, err, n);
            if (!o)
                return EX_USAGE;
            const char *v = "";
            if (o->arg) {
                if (eq)
                    v = eq + 1;
                else if (i + 1 < argc && argv[i + 1])
                    v = argv[++i];
                else
                    return ferr(err, n, "--%s needs a value (%s)", o->name, o->arg), EX_USAGE;
            } else if (eq) {
                return ferr(err, n, "--%s takes no value", o->name), EX_USAGE;
            }
            if (apply(c, o, v, seen, err, n) < 0)
                return EX_USAGE;
            continue;
        }
        if (!endopts && a[0] == '-' && a[1]) {
            for (const char *p = a + 1; *p; p++) {
                const struct opt *o = find_short(*p, err, n);
                if (!o)
                    return EX_USAGE;
                const char *v = "";
                if (o->arg) {
                    if (p[1])
                        v = p + 1;
                    else if (i + 1 < argc && argv[i + 1])
                        v = argv[++i];
                    else
                        return ferr(err, n, "-%c (--%s) needs a value (%s)", o->shortc, o->name, o->arg),
                               EX_USAGE;
                }
                if (apply(c, o, v, seen, err, n) < 0)
                    return EX_USAGE;
                if (o->arg)
                    break;
            }
            continue;
        }
        /* a word: the command, once */
        char b[80];
        if (c->cmd != CMD_NONE)
            return ferr(err, n, "unexpected argument \"%s\" after the command %s",
                        shown(a, b, sizeof b), c->cmd_name), EX_USAGE;
        for (size_t k = 0; k < ETP_ARRAY_LEN(commands); k++)
            if (strcmp(a, commands[k].name) == 0) {
                c->cmd = commands[k].cmd;
                c->cmd_name = commands[k].name;
            }
        if (c->cmd == CMD_NONE)
            return ferr(err, n, "unknown command \"%s\" (commands: poll, check, status, ddns, run; "
                        "try --help)", shown(a, b, sizeof b)), EX_USAGE;
    }
    if (c->help || c->version)
        return 0;
    if (c->cmd == CMD_NONE)
        return ferr(err, n, "no command given (poll, check, status, ddns or run; try --help)"), EX_USAGE;
    for (size_t i = 0; i < ETP_ARRAY_LEN(opts); i++) {
        if (!seen[i] || (opts[i].cmds & B(c->cmd)))
            continue;
        char list[120] = "";
        for (size_t k = 0; k < ETP_ARRAY_LEN(commands); k++)
            if (opts[i].cmds & B(commands[k].cmd)) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", commands[k].name);
            }
        return ferr(err, n, "--%s is an option of %s, not of %s", opts[i].name, list, c->cmd_name),
               EX_USAGE;
    }
    if (c->cmd == CMD_CHECK && (c->nrelays || c->nnodes) && !c->connect)
        return ferr(err, n, "--relay/--node with check need --connect (check validates the whole file)"),
               EX_USAGE;
    return 0;
}
