/* main.c — etrnpoll command line. */
#include "conf/config.h"
#include "smtp/conn.h"
#include "poll/cycle.h"
#include "poll/poll.h"
#include "ddns/ddns.h"
#include "hold/hold.h"
#include "core/log.h"
#include "core/state.h"
#include "link/supervisor.h"
#include "core/util.h"
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
"Usage: etrnpoll [OPTIONS] COMMAND\n"
"Ask the ISP's backup MX to deliver the mail it holds for this site (SMTP ETRN,\n"
"RFC 1985): update dynamic DNS, connect with verified TLS, authenticate, send\n"
"ETRN for every configured domain, and hold the line until delivery is done.\n"
"\n"
"Commands:\n"
"  poll             run one poll cycle now, in the foreground (cron, ppp hooks)\n"
"  check            validate the configuration and secrets\n"
"  check --connect  also connect to each relay: TLS, AUTH, ETRN advertised (no ETRN sent)\n"
"  status           show the results of the last poll, DNS update and hold\n"
"  run              run as a daemon: poll when the link comes up and on schedule\n"
"\n"
"Options:\n"
"  -c, --config FILE      configuration file (default " ETP_DEFAULT_CONFIG ")\n"
"  -v, --verbose          show the SMTP transcript (AUTH payloads redacted)\n"
"  -q, --quiet            only warnings and errors on stderr\n"
"      --debug            debug logging\n"
"      --syslog           also log to syslog (facility mail)\n"
"  -i, --interface IF     the uplink interface that just came up (ppp0, wwan0...)\n"
"  -a, --local-address A  its address (IPv4 or IPv6), e.g. from pppd's $4\n"
"  -t, --trigger NAME     why this poll runs (logged, passed to hooks)\n"
"      --no-hold          send ETRN and quit; do not wait for the delivery\n"
"      --no-ddns          do not update dynamic DNS\n"
"  -w, --wait SECONDS     wait this long for a running poll to finish (default 0:\n"
"                         exit 0 at once, since that poll does the work)\n"
"      --connect          with check: connect to each relay\n"
"      --json             with status: print the raw JSON state\n"
"  -h, --help             this help\n"
"  -V, --version          version and library versions\n"
"\n"
"Exit status (sysexits): 0 all domains accepted; 75 temporary failure (retry\n"
"later); 69 a domain was refused; 76 protocol/TLS error; 77 authentication\n"
"failed; 78 configuration error; 64 usage.  See etrnpoll(8), etrnpoll.conf(5).\n");
}

static void version(void)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    printf("etrnpoll %s\n", PACKAGE_VERSION);
    printf("GnuTLS %s, libcurl %s (%s)\n", gnutls_check_version(NULL), cv->version,
           cv->ssl_version ? cv->ssl_version : "no TLS");
}

static void on_signal(int sig)
{
    (void)sig;
    etp_abort = 1;
}

static int load_config(const char *path, struct etp_config *cfg)
{
    char err[8192];
    if (config_load(path, cfg, err, sizeof err) < 0) {
        fprintf(stderr, "%s", err);
        fprintf(stderr, "etrnpoll: configuration %s has errors; nothing done\n", path);
        config_free(cfg);      /* config_load() leaves what it parsed (its contract) */
        return EX_CONFIG;
    }
    return 0;
}

static int cmd_check(const struct etp_config *cfg, int connect, struct cycle_opts *o)
{
    int rc = 0;
    int nodes = 0;
    for (int i = 0; i < cfg->nrelays; i++) {
        const struct relay_cfg *r = &cfg->relays[i];
        nodes += r->nnodes;
        poll_check_nodes(r);
        if (r->password_file) {
            char *pw = NULL, err[400];
            if (secret_read(r->password_file, &pw, err, sizeof err) < 0) {
                log_err("relay %s: %s", r->name, err);
                rc = EX_CONFIG;
            }
            secret_free(pw);
        }
        printf("relay %s: %s port %d, tls %s%s%s, %d domain%s\n", r->name, r->host, relay_port(r),
               tls_mode_name(r->tls), r->username ? ", auth as " : "", r->username ? r->username : "",
               r->nnodes, r->nnodes == 1 ? "" : "s");
    }
    if (cfg->nddns > 0)
        rc = exit_worst(rc, ddns_check(cfg));
    if (cfg->hold.enabled) {
        char err[300];
        if (hold_check_config(&cfg->hold, err, sizeof err) < 0) {
            log_err("%s", err);
            rc = exit_worst(rc, EX_CONFIG);
        }
    }
    if (rc != 0) {
        printf("configuration %s: errors found (exit %d)\n", cfg->path, rc);
        return rc;
    }
    printf("configuration %s: OK (%d relay%s, %d domain%s, %d ddns)\n", cfg->path, cfg->nrelays,
           cfg->nrelays == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s", cfg->nddns);
    if (!connect)
        return 0;
    o->check_only = 1;
    return cycle_run(cfg, o);
}

static void fmt_time(long long t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S %z", &tm))
        snprintf(out, n, "never");
}

/* last-poll.json may come from another version or be damaged: never trust
 * its shape (json-c asserts on array calls on non-arrays; NULL is no %s). */
static const char *jstr(json_object *o, const char *key)
{
    const char *s = js_str(o, key);
    return s ? s : "?";
}

static int cmd_status(const struct etp_config *cfg, int json)
{
    json_object *root = state_read_json(cfg->state_dir, "last-poll.json");
    if (json) {
        printf("%s\n", root ? json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY) : "{}");
        json_object_put(root);
        return 0;
    }
    if (!root) {
        printf("last poll: none recorded in %s\n", cfg->state_dir);
    } else {
        char t[64];
        fmt_time(js_int(root, "finished"), t, sizeof t);
        printf("last poll: %s, %s (exit %lld), trigger %s\n", t,
               js_str(root, "result") ? js_str(root, "result") : "?", js_int(root, "exit"),
               js_str(root, "trigger") ? js_str(root, "trigger") : "?");
        json_object *rel;
        if (json_object_object_get_ex(root, "relays", &rel) && json_object_is_type(rel, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(rel); i++) {
                json_object *r = json_object_array_get_idx(rel, i);
                printf("  relay %s (%s): %s", jstr(r, "name"), jstr(r, "host"), jstr(r, "result"));
                if (js_str(r, "tls"))
                    printf(", %s%s", js_str(r, "tls"), js_int(r, "tls_resumed") ? " (resumed)" : "");
                if (js_str(r, "auth"))
                    printf(", AUTH %s", js_str(r, "auth"));
                printf("\n");
                if (js_str(r, "error"))
                    printf("    %s: %s\n", jstr(r, "stage"), jstr(r, "error"));
                json_object *nodes;
                if (json_object_object_get_ex(r, "nodes", &nodes) && json_object_is_type(nodes, json_type_array))
                    for (size_t j = 0; j < json_object_array_length(nodes); j++) {
                        json_object *n = json_object_array_get_idx(nodes, j);
                        long long code = js_int(n, "code");
                        printf("    %-30s %-14s", jstr(n, "node"), jstr(n, "result"));
                        if (code)
                            printf(" %lld %s", code, js_str(n, "reply") ? js_str(n, "reply") : "");
                        else
                            printf(" %s", js_str(n, "reply") ? js_str(n, "reply") : "(no reason recorded)");
                        printf("\n");
                    }
            }
        }
        json_object_put(root);
    }
    learn_status(stdout, cfg);
    if (cfg->nddns > 0)
        ddns_status(stdout, cfg);
    if (cfg->hold.enabled)
        hold_status(stdout, cfg);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "debug", no_argument, NULL, 'D' },
        { "syslog", no_argument, NULL, 'S' },
        { "interface", required_argument, NULL, 'i' },
        { "local-address", required_argument, NULL, 'a' },
        { "trigger", required_argument, NULL, 't' },
        { "no-hold", no_argument, NULL, 'H' },
        { "no-ddns", no_argument, NULL, 'N' },
        { "wait", required_argument, NULL, 'w' },
        { "connect", no_argument, NULL, 'C' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = ETP_DEFAULT_CONFIG;
    int level = LOG_INFO, transcript = 0, use_syslog = 0, connect = 0, json = 0;
    struct cycle_opts co;
    memset(&co, 0, sizeof co);
    co.trigger = "manual";

    /* We hold passwords in memory: no core dumps, no ptrace by others. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    umask(077);

    int c;
    while ((c = getopt_long(argc, argv, "+c:vqi:a:t:w:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'v': transcript = 1; break;
        case 'q': level = LOG_WARNING; break;
        case 'D': level = LOG_DEBUG; break;
        case 'S': use_syslog = 1; break;
        case 'i':
            if (strlen(optarg) >= sizeof co.up.ifname) {
                fprintf(stderr, "etrnpoll: interface name too long: %s\n", optarg);
                return EX_USAGE;
            }
            strcpy(co.up.ifname, optarg);
            break;
        case 'a': {
            struct in6_addr a6;
            struct in_addr a4;
            if (inet_pton(AF_INET, optarg, &a4) == 1)
                snprintf(co.up.addr4, sizeof co.up.addr4, "%s", optarg);
            else if (inet_pton(AF_INET6, optarg, &a6) == 1)
                snprintf(co.up.addr6, sizeof co.up.addr6, "%s", optarg);
            else {
                fprintf(stderr, "etrnpoll: --local-address: not an IPv4 or IPv6 address: %s\n", optarg);
                return EX_USAGE;
            }
            break;
        }
        case 't': co.trigger = optarg; break;
        case 'H': co.no_hold = 1; break;
        case 'N': co.no_ddns = 1; break;
        case 'w': {
            char *e;
            long w = strtol(optarg, &e, 10);
            if (*e || w < 0 || w > 86400) {
                fprintf(stderr, "etrnpoll: --wait: 0..86400 seconds\n");
                return EX_USAGE;
            }
            co.lock_wait = (int)w;
            break;
        }
        case 'C': connect = 1; break;
        case 'J': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': version(); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EX_USAGE;
    }
    const char *cmd = argv[optind++];
    /* options may follow the command too */
    while ((c = getopt_long(argc, argv, "c:vqi:a:t:w:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'v': transcript = 1; break;
        case 'q': level = LOG_WARNING; break;
        case 'D': level = LOG_DEBUG; break;
        case 'S': use_syslog = 1; break;
        case 'C': connect = 1; break;
        case 'J': json = 1; break;
        case 'H': co.no_hold = 1; break;
        case 'N': co.no_ddns = 1; break;
        case 't': co.trigger = optarg; break;
        case 'i':
            if (strlen(optarg) >= sizeof co.up.ifname)
                return EX_USAGE;
            strcpy(co.up.ifname, optarg);
            break;
        case 'a':
            if (strchr(optarg, ':'))
                snprintf(co.up.addr6, sizeof co.up.addr6, "%s", optarg);
            else
                snprintf(co.up.addr4, sizeof co.up.addr4, "%s", optarg);
            break;
        case 'w': co.lock_wait = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "etrnpoll: unexpected argument: %s\n", argv[optind]);
        return EX_USAGE;
    }

    log_init("etrnpoll", LOG_TO_STDERR | (use_syslog ? LOG_TO_SYSLOG : 0), level);
    log_set_transcript(transcript);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gnutls_global_init();

    if (strcmp(cmd, "run") == 0) {
        struct run_opts ro = { .config_path = config_path, .foreground = 1, .verbose = transcript };
        return supervisor_run(&ro);
    }

    if (strcmp(cmd, "poll") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "status") != 0) {
        fprintf(stderr, "etrnpoll: unknown command \"%s\" (try --help)\n", cmd);
        return EX_USAGE;
    }
    struct etp_config cfg;
    int rc = load_config(config_path, &cfg);
    if (rc)
        return rc;
    if (strcmp(cmd, "poll") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;     /* no SA_RESTART: let poll() return EINTR */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = cycle_run(&cfg, &co);
    } else if (strcmp(cmd, "check") == 0) {
        signal(SIGPIPE, SIG_IGN);
        rc = cmd_check(&cfg, connect, &co);
    } else {
        rc = cmd_status(&cfg, json);
    }
    config_free(&cfg);
    log_forget_secrets();
    return rc;
}
