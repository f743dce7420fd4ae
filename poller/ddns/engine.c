/* SPDX-License-Identifier: ISC */
/* engine.c — run every ddns entry: addresses, decision, the provider's
 * update, state, the wait; and the dry-run plan. */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/state.h"
#include "core/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Split "a, b c" into host names; returns count, -1 if too many or too long. */
int split_hosts(const char *list, char hosts[][NS_MAXDNAME], int max)
{
    int n = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t l = (size_t)(p - s);
        if (n >= max || l >= NS_MAXDNAME)
            return -1;
        memcpy(hosts[n], s, l);
        hosts[n][l] = '\0';
        if (l > 1 && hosts[n][l - 1] == '.')
            hosts[n][l - 1] = '\0';
        n++;
    }
    return n;
}

/* A host name to publish: a DNS name with a dot (core/netaddr); a
 * leading "*" label is allowed (wildcard records). */
const char *hostname_invalid(const char *h)
{
    return netaddr_dns_name_invalid(h, NETADDR_DNS_NEED_DOT | NETADDR_DNS_WILDCARD);
}

int host_in_zone(const char *host, const char *zone)
{
    size_t hl = strlen(host), zl = strlen(zone);
    if (zl && zone[zl - 1] == '.')
        zl--;
    if (hl == zl)
        return strncasecmp(host, zone, zl) == 0;
    return hl > zl && host[hl - zl - 1] == '.' && strncasecmp(host + hl - zl, zone, zl) == 0;
}


/* A secret goes into a header (X-API-Key, a custom header), a URL or
 * Basic credentials: a CR, LF or other control byte there would end the
 * header or split the request.  `check` and every poll use this one rule. */
const char *secret_invalid(const char *s)
{
    if (!s || !*s)
        return "the secret is empty";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\r')
            return "the secret contains a carriage return (CR; a file saved with CRLF line ends?)";
        if (*p < 0x20 || *p == 0x7f)
            return "the secret contains a control character";
    }
    return NULL;
}

static int read_entry_secret(const struct ddns_cfg *d, char **secret, char *err, size_t errsz)
{
    *secret = NULL;
    if (!d->password_file)
        return 0;
    if (secret_read(d->password_file, secret, err, errsz) < 0)
        return -1;
    register_secret(ddns_provider_of(d)->basic_user ? d->username : NULL, *secret);
    const char *why = secret_invalid(*secret);
    if (why) {
        snprintf(err, errsz, "%s: %s; nothing was sent; rewrite the file with the secret alone "
                 "on one line", d->password_file, why);
        secret_free(*secret);
        *secret = NULL;
        return -1;
    }
    return 0;
}

/* Host names and addresses of an entry.  0: e is ready to send; 1:
 * nothing to send and that is fine (*rc 0) or not (*rc exit code). */
static int prepare(const struct ddns_cfg *d, const struct etp_config *cfg,
                   const struct uplink *up, struct entry_run *e, int quiet, int *rc)
{
    memset(e, 0, sizeof *e);
    e->d = d;
    e->link = &cfg->link;
    *rc = 0;
    e->nhosts = split_hosts(d->hostname, e->hosts, DDNS_MAX_HOSTS);
    if (e->nhosts <= 0) {
        log_err("ddns %s: hostname: %s", d->name, e->nhosts < 0 ? "more than 20 names or a name too long" : "empty");
        *rc = EX_CONFIG;
        return 1;
    }
    for (int i = 0; i < e->nhosts; i++) {
        const char *why = hostname_invalid(e->hosts[i]);
        if (why) {
            log_err("ddns %s: hostname \"%s\": %s", d->name, e->hosts[i], why);
            *rc = EX_CONFIG;
            return 1;
        }
    }
    int withheld = 0;
    int r = entry_addresses(e, up, quiet, &withheld);
    if (r != 0 && withheld) {
        log_err("ddns %s: %s not updated: no address that can receive mail%s", d->name,
                d->hostname, d->required ? " (required = yes: no ETRN this poll)" : "");
        *rc = d->required ? r : 0;
        return 1;
    }
    if (r != 0) {
        log_err("ddns %s: no address to publish for %s (tried IPv4%s); not updated, will try "
                "on the next poll", d->name, d->hostname, d->ipv6 ? " and IPv6" : "");
        *rc = r;
        return 1;
    }
    return 0;
}

static enum ddns_action decide(const struct entry_run *e, json_object *root, unsigned flags,
                               struct ddns_entry_state *st, char hash[17])
{
    entry_digest(e->d, hash);
    state_from_json(state_entry(root, e->d->name), st);
    enum ddns_action act = ddns_decide(st, hash, e->addr4, e->addr6, e->d->force_refresh_days,
                                       now_wall());
    if ((flags & DDNS_FORCE) && act != DDNS_ACT_UPDATE)
        act = DDNS_ACT_REFRESH;
    return act;
}

/* Run one entry; returns its exit code, sets *changed. */
static int run_entry(const struct ddns_cfg *d, const struct etp_config *cfg, const struct uplink *up,
                     json_object *root, unsigned flags, struct entry_run *e, int *changed)
{
    const char *state_dir = cfg->state_dir;
    *changed = 0;
    int rc;
    if (prepare(d, cfg, up, e, 0, &rc))
        return rc;
    char hash[17];
    struct ddns_entry_state st;
    enum ddns_action act = decide(e, root, flags, &st, hash);
    char when[40], next[40];
    fmt_time(st.updated, when, sizeof when);
    char addrs[2 * DDNS_ADDR_MAX + 2];
    snprintf(addrs, sizeof addrs, "%s%s%s", e->addr4, e->addr4[0] && e->addr6[0] ? "," : "", e->addr6);
    if (flags & DDNS_FORCE)
        log_info("ddns %s: --force: sending %s for %s whatever the cache says", d->name, addrs,
                 d->hostname);
    switch (act) {
    case DDNS_ACT_FATAL:
        fmt_time(st.attempt, next, sizeof next);
        log_err("ddns %s: not sending an update for %s: the provider answered \"%s\" at %s and "
                "that answer is final; fix the ddns section (or rewrite its secret file) to "
                "clear it", d->name, d->hostname, st.result, next);
        return st.exit ? st.exit : EX_CONFIG;
    case DDNS_ACT_WAIT:
        fmt_time(st.retry_after, next, sizeof next);
        log_warn("ddns %s: not updating %s to %s yet: the last attempt failed temporarily (%s); "
                 "next attempt not before %s", d->name, d->hostname, addrs, st.result, next);
        return EX_TEMPFAIL;
    case DDNS_ACT_UNCHANGED:
        log_info("ddns %s: %s unchanged (%s, last update %s): nothing sent", d->name, d->hostname,
                 addrs, when);
        return 0;
    case DDNS_ACT_REFRESH:
        if (!(flags & DDNS_FORCE))
            log_info("ddns %s: %s unchanged (%s) but last updated %s: refreshing (force-refresh-days = %d)",
                     d->name, d->hostname, addrs, when, d->force_refresh_days);
        break;
    case DDNS_ACT_UPDATE:
        if (st.addr4[0] || st.addr6[0])
            log_info("ddns %s: address of %s changed (%s%s%s -> %s): updating", d->name, d->hostname,
                     st.addr4, st.addr4[0] && st.addr6[0] ? "," : "", st.addr6, addrs);
        else
            log_info("ddns %s: updating %s to %s", d->name, d->hostname, addrs);
        break;
    }

    char err[600];
    if (read_entry_secret(d, &e->secret, err, sizeof err) < 0) {
        log_err("ddns %s: %s", d->name, err);
        return EX_CONFIG;
    }
    ddns_provider_of(d)->update(e);
    secret_free(e->secret);
    e->secret = NULL;

    if (etp_abort && e->cls != DDNS_CLASS_OK) {
        log_warn("ddns %s: aborted", d->name);
        return EX_TEMPFAIL;
    }
    ddns_record(&st, hash, e->cls, e->exit, e->result, e->addr4, e->addr6, now_wall());
    json_object *ents = state_entries(root);
    if (ents) {
        json_object_object_add(ents, d->name, state_to_json(&st, d));
        state_write_json(state_dir, DDNS_STATE_FILE, root);
    }
    switch (e->cls) {
    case DDNS_CLASS_OK:
        log_notice("ddns %s: %s -> %s: %s (%s)", d->name, d->hostname, addrs, e->result, e->detail);
        *changed = 1;
        return 0;
    case DDNS_CLASS_FATAL:
        log_err("ddns %s: update of %s failed: %s", d->name, d->hostname, e->detail);
        return e->exit;
    case DDNS_CLASS_RETRY:
    default:
        log_err("ddns %s: update of %s failed: %s", d->name, d->hostname, e->detail);
        return e->exit ? e->exit : EX_TEMPFAIL;
    }
}

static json_object *load_state(const char *dir)
{
    json_object *root = state_read_json(dir, DDNS_STATE_FILE);
    if (root && !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = NULL;
    }
    if (!root) {
        if (errno != ENOENT)
            log_warn("ddns: %s/%s is unreadable; starting afresh", dir, DDNS_STATE_FILE);
        root = json_object_new_object();
    }
    if (!state_entries(root))
        json_object_object_add(root, "entries", json_object_new_object());
    json_object_object_add(root, "version", json_object_new_int(1));
    return root;
}

int ddns_run_all(const struct etp_config *cfg, const struct uplink *up, unsigned flags,
                 struct ddns_summary *sum)
{
    struct ddns_summary dummy;
    if (!sum)
        sum = &dummy;
    memset(sum, 0, sizeof *sum);
    if (cfg->nddns == 0)
        return 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object *root = load_state(cfg->state_dir);
    /* forget entries that are no longer configured */
    json_object *ents = state_entries(root);
    if (ents) {
        const char *drop[64];
        int ndrop = 0;
        json_object_object_foreach(ents, key, val) {
            (void)val;
            int known = 0;
            for (int i = 0; i < cfg->nddns; i++)
                known |= strcmp(cfg->ddns[i].name, key) == 0;
            if (!known && ndrop < 64)
                drop[ndrop++] = key;
        }
        for (int i = 0; i < ndrop; i++)
            json_object_object_del(ents, drop[i]);
    }
    struct entry_run *runs = calloc((size_t)cfg->nddns, sizeof *runs);
    int *changed = calloc((size_t)cfg->nddns, sizeof *changed);
    if (!runs || !changed) {
        free(runs);
        free(changed);
        json_object_put(root);
        log_err("ddns: out of memory");
        sum->exit = EX_OSERR;
        return EX_OSERR;
    }
    int worst = 0;
    for (int i = 0; i < cfg->nddns && !etp_abort; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        int rc = run_entry(d, cfg, up, root, flags, &runs[i], &changed[i]);
        sum->entries++;
        if (changed[i])
            sum->changed++;
        if (rc != 0) {
            sum->failed++;
            if (d->required)
                sum->required_failed = 1;
        }
        worst = exit_worst(worst, rc);
    }
    /* After a change: wait until the name is served, or a fixed delay. */
    int64_t t0 = now_ms();
    int delay = 0;
    for (int i = 0; i < cfg->nddns && !etp_abort; i++) {
        if (!changed[i])
            continue;
        const struct ddns_cfg *d = &cfg->ddns[i];
        if (d->wait_server)
            wait_served(&runs[i]);
        else if (d->delay_after_change > delay)
            delay = d->delay_after_change;
    }
    if (delay > 0 && !etp_abort) {
        int64_t until = t0 + (int64_t)delay * 1000;
        if (until > now_ms()) {
            log_info("ddns: waiting %d s after the change (delay-after-change)", delay);
            sleep_until(until);
        }
    }
    free(runs);
    free(changed);
    json_object_put(root);
    curl_global_cleanup();
    sum->exit = worst;
    return worst;
}

/* ---- dry run --------------------------------------------------------- */

int ddns_plan(const struct etp_config *cfg, const struct uplink *up, unsigned flags, FILE *out)
{
    int worst = 0;
    if (cfg->nddns == 0) {
        fprintf(out, "ddns: no ddns section: nothing to update\n");
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object *root = state_read_json(cfg->state_dir, DDNS_STATE_FILE);
    struct entry_run *e = calloc(1, sizeof *e);
    if (!e) {
        if (root)
            json_object_put(root);
        curl_global_cleanup();
        return EX_OSERR;
    }
    for (int i = 0; i < cfg->nddns; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        const char *pname = ddns_provider_of(d)->name;
        int rc;
        if (prepare(d, cfg, up, e, 1, &rc)) {
            fprintf(out, "ddns %s (%s, %s): nothing would be sent: %s\n", d->name, pname,
                    d->hostname ? d->hostname : "?",
                    rc == 0 ? "no address that can receive mail (see the log)"
                            : "no usable address or a configuration error (see the log)");
            worst = exit_worst(worst, rc);
            continue;
        }
        char hash[17];
        struct ddns_entry_state st;
        enum ddns_action act = decide(e, root, flags, &st, hash);
        char addrs[2 * DDNS_ADDR_MAX + 2];
        snprintf(addrs, sizeof addrs, "%s%s%s", e->addr4, e->addr4[0] && e->addr6[0] ? " " : "",
                 e->addr6);
        const char *what;
        switch (act) {
        case DDNS_ACT_UPDATE: what = "would update"; break;
        case DDNS_ACT_REFRESH: what = flags & DDNS_FORCE ? "would update (--force)"
                                                         : "would refresh (force-refresh-days)"; break;
        case DDNS_ACT_UNCHANGED: what = "unchanged, would send nothing"; break;
        case DDNS_ACT_FATAL: what = "would send nothing: the last answer was final"; break;
        default: what = "would send nothing yet: waiting after a temporary failure"; break;
        }
        fprintf(out, "ddns %s (%s): %s %s -> %s\n", d->name, pname, what, d->hostname, addrs);
        if (act == DDNS_ACT_FATAL)
            worst = exit_worst(worst, st.exit ? st.exit : EX_CONFIG);
        else if (act == DDNS_ACT_WAIT)
            worst = exit_worst(worst, EX_TEMPFAIL);
    }
    free(e);
    if (root)
        json_object_put(root);
    curl_global_cleanup();
    return worst;
}
