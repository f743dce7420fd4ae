/* SPDX-License-Identifier: ISC */
/* internal.h — what the files of poller/ddns/ share (not for other rooms).
 *
 * Map:  engine.c   run every entry (ddns_run_all, ddns_plan)
 *       provider.c the provider table (name, presets, required keys, hooks)
 *       dyndns2.c pdns.c custom.c   one file per provider
 *       addr.c     where the address comes from (uplink, interface, check-IP)
 *       http.c     libcurl client, outcome helpers, secret registration
 *       wait.c     wait until the authoritative server serves the change
 *       state.c    dyndns2 rules, ddns.json, the section digest
 *       parse.c    pure parsers (fuzzed)     template.c  custom templates
 *       check.c    `check` and `status` */
#ifndef ETP_DDNS_INTERNAL_H
#define ETP_DDNS_INTERNAL_H
#include "conf/config.h"
#include "ddns/ddns.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"

#include <arpa/nameser.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <sys/socket.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif
#define DDNS_USER_AGENT "etrnpoll/" PACKAGE_VERSION
#define DDNS_STATE_FILE "ddns.json"
#define DDNS_MAX_REDIRECTS 3

/* ---- bounded string builder (template.c) -------------------------------
 * Fixed buffer (heap = 0): overflow sets the flag.  Heap buffer (heap = 1,
 * p from malloc or NULL): grows as needed up to max bytes, then overflow. */
struct sbuf {
    char *p;
    size_t size, len;
    int overflow;
    int heap;
    size_t max;
};
void sb_addn(struct sbuf *b, const char *s, size_t n);
void sb_add(struct sbuf *b, const char *s);
int put_escaped(struct sbuf *b, const char *val, enum ddns_esc esc);
/* A heap builder capped at max bytes (including the NUL). */
static inline struct sbuf sb_heap(size_t max) { struct sbuf b = { 0, 0, 0, 0, 1, max }; return b; }
void sb_free(struct sbuf *b);                     /* wipes and frees a heap builder */

/* ---- one entry in flight ---------------------------------------------- */
struct entry_run {
    const struct ddns_cfg *d;
    const struct link_cfg *link;      /* link.interfaces: the uplink of a manual poll */
    char hosts[DDNS_MAX_HOSTS][NS_MAXDNAME];
    int nhosts;
    char addr4[DDNS_ADDR_MAX], addr6[DDNS_ADDR_MAX];
    char *secret;
    /* outcome */
    enum ddns_class cls;
    int exit;
    char result[80];
    char detail[512];
};

void outcome(struct entry_run *e, enum ddns_class cls, int exit, const char *result,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- HTTP (http.c) ----------------------------------------------------- */
struct http_resp {
    long status;
    char *body;
    size_t len;
    int too_big;
    char err[CURL_ERROR_SIZE + 128];
    char peer[INET6_ADDRSTRLEN + 8];
    int tls;                          /* the final answer came over https */
};
struct dbg_ctx {
    const char *const *mask;          /* extra header names to mask, NULL-terminated */
};
struct http_req {
    const char *method;               /* GET POST PUT PATCH DELETE */
    const char *url;
    struct curl_slist *headers;
    const char *body;                 /* NULL = none */
    const char *user, *pass;          /* Basic auth, NULL = none */
    const char *ca_file;
    int timeout;
    int family;                       /* AF_INET / AF_INET6 / AF_UNSPEC */
    const struct dbg_ctx *dbg;
};
/* 0: an HTTP answer arrived (any status), -1: none (r->err says why). */
int http_do(const struct http_req *q, struct http_resp *r);
void http_resp_free(struct http_resp *r);
/* The redirect rule (see http.c): 1 allowed, 0 refused with why. */
int ddns_redirect_ok(const char *from, const char *to, char *why, size_t whysz);
void register_secret(const char *user, const char *secret);
void outcome_http_error(struct entry_run *e, const struct http_resp *r);
void outcome_http_status(struct entry_run *e, long st, const char *msg);

/* ---- providers (provider.c) -------------------------------------------- */
struct ddns_provider {
    const char *name;                 /* protocol = NAME */
    enum ddns_proto proto;
    const struct ddns_preset *presets;   /* NULL-name terminated, or NULL */
    unsigned required;                /* DDNS_KEY_* bits the section must set */
    const char *required_msg;         /* what to tell the admin when one is missing */
    int basic_user;                   /* the secret also travels as Basic user:secret */
    /* `check`: provider-specific validation (0 ok or sysexits code);
     * *uses_secret: does the secret go over the wire? */
    int (*check)(const struct ddns_cfg *d, int *uses_secret);
    void (*update)(struct entry_run *e);
};
void dyndns2_update(struct entry_run *e);
void pdns_update(struct entry_run *e);
int pdns_check(const struct ddns_cfg *d, int *uses_secret);
void custom_update(struct entry_run *e);
int custom_check(const struct ddns_cfg *d, int *uses_secret);
const struct ddns_provider *ddns_provider_of(const struct ddns_cfg *d);

/* ---- addresses (addr.c) ------------------------------------------------ */
/* Fill e->addr4/addr6 under the section's rules; 0 ok (at least one family
 * found and allowed), else a sysexits code.  *withheld: addresses found
 * but not publishable (on-private-address = skip, or not trusted). */
int entry_addresses(struct entry_run *e, const struct uplink *up, int quiet, int *withheld);

/* ---- wait (wait.c) ----------------------------------------------------- */
int parse_server(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, char *err, size_t errsz);
int wait_served(const struct entry_run *e);
int sleep_until(int64_t deadline);

/* ---- state (state.c) --------------------------------------------------- */
void fmt_time(int64_t t, char *out, size_t outsz);
void entry_digest(const struct ddns_cfg *d, char out[17]);
void state_from_json(json_object *e, struct ddns_entry_state *st);
json_object *state_to_json(const struct ddns_entry_state *st, const struct ddns_cfg *d);
json_object *state_entries(json_object *root);
json_object *state_entry(json_object *root, const char *name);

/* ---- host names (engine.c) --------------------------------------------- */
int split_hosts(const char *list, char hosts[][NS_MAXDNAME], int max);
const char *hostname_invalid(const char *h);
int host_in_zone(const char *host, const char *zone);
/* `check`: a URL (template) is valid; http:// warnings (has_secret 1: a
 * secret travels; -1: a check-IP URL). */
int ddns_check_url(const struct ddns_cfg *d, const char *what, const char *url, int is_template,
                   int has_secret);
/* The one check of a secret's bytes (check and poll): NULL ok, else why. */
const char *secret_invalid(const char *s);
#endif
