/* SPDX-License-Identifier: ISC */
/* ddns.h — dynamic DNS update before ETRN (libcurl, json-c).
 *
 * The backup MX delivers over a NEW connection to this site's MX host name,
 * so with a dynamic address that name must point at the current address
 * before ETRN is sent.  ddns_run_all() finds the public address (uplink
 * interface or a check-IP URL), and for every `ddns` section whose address
 * changed (or whose last update is older than force-refresh-days) sends one
 * update: dyndns2, the PowerDNS Authoritative HTTP API, or a custom HTTP
 * request.  Provider answers follow the dyndns2 rules: fatal answers are
 * never repeated until the section (or its secret file) changes; temporary
 * ones are not retried within DDNS_RETRY_MIN seconds; an unchanged address
 * is never sent again (no repeated nochg).  State: STATE_DIR/ddns.json.
 *
 * The parsers and rules below the run-time interface are pure functions
 * over byte buffers (unit tests: tests/unit/test_ddns.c; fuzzing). */
#ifndef ETP_DDNS_H
#define ETP_DDNS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "conf/config.h"
#include "poll/cycle.h"

struct ddns_summary {
    int entries;                  /* ddns sections processed */
    int changed;                  /* entries whose address changed and was updated */
    int failed;                   /* entries that failed (fatal or retry) */
    int exit;                     /* worst exit code over entries (sysexits) */
    int required_failed;          /* an entry with required = yes failed: no ETRN */
};

/* Update every configured ddns entry (before the relays are polled).
 * Owns its state file under cfg->state_dir (ddns.json).  Logs one line per
 * entry.  Never sends a password/API key to the log.  Returns the worst exit
 * code: 0 ok/unchanged, EX_TEMPFAIL retry later (dnserr, 911, HTTP 5xx,
 * network, no address yet), EX_NOPERM badauth / API key refused, EX_CONFIG
 * notfqdn/nohost/numhost or a request the API rejects, EX_UNAVAILABLE
 * abuse/!donator/badagent, EX_PROTOCOL an answer that makes no sense.
 * sum->required_failed tells the cycle not to send ETRN.  flags: DDNS_FORCE
 * (`etrnpoll ddns --force`: every entry is sent once, whatever the cache,
 * retry wait or a final answer said). */
#define DDNS_FORCE   1u           /* send an update even if unchanged, waiting or final */
int ddns_run_all(const struct etp_config *cfg, const struct uplink *up, unsigned flags,
                 struct ddns_summary *sum);
/* `poll --dry-run`: for each entry print to out which address would be
 * published from where and what would be sent (update / refresh / nothing
 * and why).  Looks up addresses (interface, check-IP URL) but sends no
 * update and writes no state.  Returns the worst exit code as ddns_run_all
 * would (0 when every entry would be fine). */
int ddns_plan(const struct etp_config *cfg, const struct uplink *up, unsigned flags, FILE *out);
/* `etrnpoll check`: validate ddns secrets, URLs, templates, wait-server
 * (0 ok, else sysexits code; problems are logged). */
int ddns_check(const struct etp_config *cfg);
/* `etrnpoll status`: print the last update, address and result per entry. */
void ddns_status(FILE *out, const struct etp_config *cfg);

/* ---- providers: one table; config.c looks them up by name ------------- */
struct ddns_preset { const char *name, *url; };
#define DDNS_KEY_SERVER        1u
#define DDNS_KEY_USERNAME      2u
#define DDNS_KEY_PASSWORD_FILE 4u
#define DDNS_KEY_ZONE          8u
#define DDNS_KEY_URL          16u
struct ddns_provider;
/* NULL if no provider has that name. */
const struct ddns_provider *ddns_provider_find(const char *name);
enum ddns_proto ddns_provider_proto(const struct ddns_provider *p);
const char *ddns_provider_name(const struct ddns_provider *p);
/* The preset's URL, NULL if the provider has no such preset. */
const char *ddns_provider_preset(const struct ddns_provider *p, const char *preset);
int ddns_provider_has_presets(const struct ddns_provider *p);
/* Missing required keys: NULL if none, else the message for the admin. */
const char *ddns_provider_missing(const struct ddns_provider *p, const struct ddns_cfg *d);
/* "dyndns2, powerdns or custom" */
const char *ddns_provider_list(void);

/* Change-detection digest of an entry: its section as libconfuse prints it
 * (d->section_text, every key, defaults included) plus the identity of its
 * secret file (device, inode, size, mtime; never the secret).  16 hex. */
void ddns_entry_digest(const struct ddns_cfg *d, char out[17]);

/* ===== pure parsers and rules (unit-tested, fuzzed) ===================== */

#define DDNS_ADDR_MAX     46        /* INET6_ADDRSTRLEN */
#define DDNS_MAX_HOSTS    20        /* dyndns2: at most 20 host names per request */
#define DDNS_BODY_MAX     65536     /* HTTP response bodies larger than this are refused */
#define DDNS_RETRY_MIN    600       /* dnserr/911/5xx/network: no retry within 10 minutes */
#define DDNS_URL_MAX      16384     /* longest request URL built (dyndns2, custom, PowerDNS); longer is refused */
#define DDNS_TOKEN_MAX    64        /* longest address-like token the check-IP parser looks at */

/* dyndns2 return codes (https://help.dyn.com/remote-access-api/return-codes/). */
enum ddns_code {
    DDNS_GOOD = 0, DDNS_NOCHG, DDNS_BADAUTH, DDNS_NOTFQDN, DDNS_NOHOST, DDNS_NUMHOST,
    DDNS_ABUSE, DDNS_BADAGENT, DDNS_DNSERR, DDNS_911, DDNS_NOTDONATOR, DDNS_UNKNOWN
};

/* What an answer means for the entry. */
enum ddns_class {
    DDNS_CLASS_OK = 0,            /* good / nochg: the name has the address */
    DDNS_CLASS_RETRY,             /* temporary: retry no sooner than DDNS_RETRY_MIN */
    DDNS_CLASS_FATAL              /* never retry until the config (or secret file) changes */
};

struct ddns_line {
    enum ddns_code code;
    char addr[2 * DDNS_ADDR_MAX]; /* address(es) after good/nochg ("" if none or not an address list) */
    char text[80];                /* printable, bounded rendering of the line, for logs */
};

/* Parse a dyndns2 update answer: one line per host in request order (or a
 * single line for request-wide answers such as badauth, badagent, numhost,
 * 911).  LF or CRLF line ends; blank lines and surrounding blanks ignored.
 * A line whose first word is not a known code (or that holds control or
 * non-ASCII bytes) is DDNS_UNKNOWN.  Returns the number of lines stored in
 * out, or -1 when there is no line at all or more than max lines. */
int ddns_parse_dyndns2(const char *body, size_t len, struct ddns_line *out, int max);
const char *ddns_code_name(enum ddns_code c);        /* "good", "!donator", "unknown" */
enum ddns_class ddns_code_class(enum ddns_code c);
int ddns_code_exit(enum ddns_code c);                /* sysexits code, 0 for good/nochg */

/* The one IP address of `family` (AF_INET, AF_INET6, or AF_UNSPEC for
 * either) in a check-IP answer: a plain body ("203.0.113.7\n") or the
 * checkip.dyndns.org HTML ("...Current IP Address: 203.0.113.7</body>...").
 * Only a whole token that inet_pton accepts counts (no substrings of longer
 * numbers, no "1.2.3.4.5", no v4-mapped or unspecified IPv6).  The answer
 * must hold exactly one such address (repeating it is fine): two
 * different ones are refused, since nothing says which is ours.  Writes the
 * canonical text form to out.  0 found, -1 none (or outsz too small), -2
 * more than one. */
int ddns_parse_checkip(const char *body, size_t len, int family, char *out, size_t outsz);

/* PowerDNS API error answer {"error": "...", "errors": [...]}: copy the
 * error message (printable, bounded) to out.  0 found, -1 not (out gets a
 * printable start of the body, or ""). */
int ddns_parse_pdns_error(const char *body, size_t len, char *out, size_t outsz);

/* Walk a DNS answer message (as sent by a server; built by res_nmkquery,
 * never by hand) and collect the A (qtype 1) or AAAA (28) records owned by
 * qname (or by a CNAME target of it) as text.  Returns the number stored
 * (0 also for NXDOMAIN/NODATA/errors in the header's RCODE), -1 if the
 * message is malformed or not a response. */
int ddns_parse_dns_answer(const unsigned char *msg, size_t len, const char *qname, int qtype,
                          char (*out)[DDNS_ADDR_MAX], int max);

/* Templates of protocol "custom": {hostname} {ip} {ip4} {ip6} {type}
 * {secret} {zone} are replaced; any other text (including other braces,
 * e.g. JSON) is copied as is.  Values are escaped for where they go. */
struct ddns_vars {
    const char *hostname, *ip, *ip4, *ip6, *type, *secret, *zone;  /* NULL = "" */
};
enum ddns_esc {
    DDNS_ESC_NONE = 0,            /* as is (plain-text body) */
    DDNS_ESC_URL,                 /* percent-encoded (curl_easy_escape): URL, form body */
    DDNS_ESC_JSON,                /* inside a JSON string */
    DDNS_ESC_HEADER               /* header value: control characters refused */
};
/* Returns the length written (NUL-terminated), or -1 if it does not fit or
 * a value cannot go there (e.g. a control character in a header). */
int ddns_expand(const char *tmpl, const struct ddns_vars *v, enum ddns_esc esc,
                char *out, size_t outsz);
/* 0 if every {word} in tmpl is a known placeholder, else -1 with the first
 * unknown one copied to bad. */
int ddns_template_check(const char *tmpl, char *bad, size_t badsz);

/* Per-entry memory kept in ddns.json. */
struct ddns_entry_state {
    char cfg_hash[17];            /* hash of the section + secret file identity */
    char addr4[DDNS_ADDR_MAX];    /* addresses the provider last confirmed */
    char addr6[DDNS_ADDR_MAX];
    int64_t updated;              /* when that was (0 = never) */
    int64_t attempt;              /* last request sent */
    char result[80];              /* its result ("good 192.0.2.7", "dnserr", "HTTP 503", ...) */
    int exit;                     /* its sysexits code */
    int fatal;                    /* fatal for cfg_hash: no request until it changes */
    int64_t retry_after;          /* no request before this time */
};

enum ddns_action {
    DDNS_ACT_UPDATE = 0,          /* address changed (or never sent, or config changed) */
    DDNS_ACT_REFRESH,             /* unchanged, but last update older than force-refresh-days */
    DDNS_ACT_UNCHANGED,           /* unchanged: send nothing (no repeated nochg) */
    DDNS_ACT_FATAL,               /* a fatal answer for this very config: send nothing */
    DDNS_ACT_WAIT                 /* temporary failure less than DDNS_RETRY_MIN ago */
};
/* The dyndns2 rules as a pure function of the remembered state, the
 * current config hash and addresses ("" = family not maintained) and now. */
enum ddns_action ddns_decide(const struct ddns_entry_state *st, const char *cfg_hash,
                             const char *addr4, const char *addr6,
                             int force_refresh_days, int64_t now);
/* Remember the outcome of a request sent at `now`. */
void ddns_record(struct ddns_entry_state *st, const char *cfg_hash, enum ddns_class cls,
                 int exit, const char *result, const char *addr4, const char *addr6, int64_t now);
const char *ddns_action_name(enum ddns_action a);
#endif
