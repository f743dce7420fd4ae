/* SPDX-License-Identifier: ISC */
/* check.c — `etrnpoll check` and `etrnpoll status` for the ddns sections. */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/state.h"
#include "core/util.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- check -------------------------------------------------------------- */

int ddns_check_url(const struct ddns_cfg *d, const char *what, const char *url, int is_template,
                     int has_secret)
{
    int rc = 0;
    char buf[8192];
    const char *u = url;
    if (is_template) {
        char bad[40];
        if (ddns_template_check(url, bad, sizeof bad) < 0) {
            log_err("ddns %s: %s: unknown placeholder %s (known: {hostname} {ip} {ip4} {ip6} "
                    "{type} {secret} {zone})", d->name, what, bad);
            rc = EX_CONFIG;
        }
        struct ddns_vars v = { "host.example", "192.0.2.1", "192.0.2.1", "2001:db8::1", "A",
                               "secret", "example" };
        if (ddns_expand(url, &v, DDNS_ESC_URL, buf, sizeof buf) < 0) {
            log_err("ddns %s: %s: too long", d->name, what);
            return EX_CONFIG;
        }
        u = buf;
    }
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!h || curl_url_set(h, CURLUPART_URL, u, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        log_err("ddns %s: %s \"%s\" is not a valid URL", d->name, what, url);
        rc = EX_CONFIG;
    } else if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
        log_err("ddns %s: %s \"%s\": only http:// and https:// are allowed", d->name, what, url);
        rc = EX_CONFIG;
    } else if (strcasecmp(scheme, "http") == 0 && has_secret) {
        char h6[300];
        snprintf(h6, sizeof h6, "%s", host);
        size_t hl = strlen(h6);
        if (h6[0] == '[' && hl > 2 && h6[hl - 1] == ']') {
            memmove(h6, h6 + 1, hl - 2);
            h6[hl - 2] = '\0';
        }
        /* a secret to a local API over loopback is fine; a check-IP answer
         * from anywhere over plain http is not (it picks where mail goes) */
        if (has_secret < 0 ||
            (netaddr_classify_str(h6) != NETADDR_LOOPBACK && strcasecmp(h6, "localhost") != 0)) {
            if (has_secret > 0)
                log_warn("ddns %s: %s uses http://: the secret travels in clear text; use https://",
                         d->name, what);
            else
                log_warn("ddns %s: %s uses http://: anyone on the path can change the answer, "
                         "and it decides where the backup MX delivers; use https:// (an http "
                         "answer is only published when the interface address confirms it, or "
                         "with trust-http-check-ip = yes)", d->name, what);
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(h);
    return rc;
}

int ddns_check(const struct etp_config *cfg)
{
    int worst = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < cfg->nddns; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        int rc = 0;
        char hosts[DDNS_MAX_HOSTS][NS_MAXDNAME];
        int nh = split_hosts(d->hostname, hosts, DDNS_MAX_HOSTS);
        if (nh <= 0) {
            log_err("ddns %s: hostname: %s", d->name, nh < 0 ? "more than 20 names or a name too long" : "empty");
            rc = EX_CONFIG;
        }
        for (int k = 0; k < nh; k++) {
            const char *why = hostname_invalid(hosts[k]);
            if (why) {
                log_err("ddns %s: hostname \"%s\": %s", d->name, hosts[k], why);
                rc = EX_CONFIG;
            }
        }
        const struct ddns_provider *prov = ddns_provider_of(d);
        int uses_secret = d->password_file != NULL;
        if (prov->check)
            rc = exit_worst(rc, prov->check(d, &uses_secret));
        if (d->server && d->proto != DDNS_CUSTOM)
            rc = exit_worst(rc, ddns_check_url(d, "server", d->server, 0, uses_secret));
        if (d->source == ADDR_URL) {
            /* the check-IP answer decides where the relay delivers: plain
             * http lets anyone on the path choose it */
            if (d->ipv4 && d->checkip_url)
                rc = exit_worst(rc, ddns_check_url(d, "check-ip-url", d->checkip_url, 0, -1));
            if (d->ipv6 && d->checkip_url6)
                rc = exit_worst(rc, ddns_check_url(d, "check-ip-url6", d->checkip_url6, 0, -1));
            if (d->ipv4 && d->checkip_confirm_url)
                rc = exit_worst(rc, ddns_check_url(d, "check-ip-confirm-url", d->checkip_confirm_url, 0, -1));
            if (d->ipv6 && d->checkip_confirm_url6)
                rc = exit_worst(rc, ddns_check_url(d, "check-ip-confirm-url6", d->checkip_confirm_url6, 0, -1));
        }
        if (d->password_file) {
            char *s = NULL, err[600];
            if (secret_read(d->password_file, &s, err, sizeof err) < 0) {
                log_err("ddns %s: %s", d->name, err);
                rc = EX_CONFIG;
            } else {
                log_add_secret(s);
                const char *why = secret_invalid(s);
                if (why) {
                    log_err("ddns %s: %s: %s; rewrite the file with the secret alone on one line",
                            d->name, d->password_file, why);
                    rc = EX_CONFIG;
                }
                secret_free(s);
            }
        }
        if (d->wait_server) {
            struct sockaddr_storage ss;
            socklen_t sl;
            char err[300];
            if (parse_server(d->wait_server, &ss, &sl, err, sizeof err) < 0) {
                log_err("ddns %s: %s", d->name, err);
                rc = EX_CONFIG;
            }
        }
        if (d->interface && if_nametoindex(d->interface) == 0)
            log_warn("ddns %s: interface %s does not exist (yet?)", d->name, d->interface);
        if (rc == 0)
            log_info("ddns %s: OK (%s, %s)", d->name, prov->name, d->hostname);
        if (d->on_private != PRIV_SKIP)
            log_notice("ddns %s: on-private-address = %s: a private, CGNAT or otherwise "
                       "unreachable address is published; the backup MX cannot deliver there",
                       d->name, d->on_private == PRIV_WARN ? "warn" : "publish");
        worst = exit_worst(worst, rc);
    }
    curl_global_cleanup();
    return worst;
}

/* ---- status ------------------------------------------------------------ */

static void ago(int64_t t, int64_t now, char *out, size_t outsz)
{
    int64_t s = now - t;
    if (t <= 0)
        snprintf(out, outsz, "%s", "");
    else if (s < 0)
        snprintf(out, outsz, " (in the future: clock changed?)");
    else if (s < 120)
        snprintf(out, outsz, " (%lld s ago)", (long long)s);
    else if (s < 7200)
        snprintf(out, outsz, " (%lld min ago)", (long long)(s / 60));
    else if (s < 172800)
        snprintf(out, outsz, " (%lld h ago)", (long long)(s / 3600));
    else
        snprintf(out, outsz, " (%lld days ago)", (long long)(s / 86400));
}

void ddns_status(FILE *out, const struct etp_config *cfg)
{
    json_object *root = state_read_json(cfg->state_dir, DDNS_STATE_FILE);
    int64_t now = now_wall();
    for (int i = 0; i < cfg->nddns; i++) {
        const struct ddns_cfg *d = &cfg->ddns[i];
        struct ddns_entry_state st;
        json_object *je = state_entry(root, d->name);
        state_from_json(je, &st);
        fprintf(out, "ddns %s (%s, %s):\n", d->name, ddns_provider_of(d)->name,
                d->hostname ? d->hostname : "?");
        if (!je) {
            fprintf(out, "  no update sent yet\n");
            continue;
        }
        char t[40], a[64];
        fmt_time(st.updated, t, sizeof t);
        ago(st.updated, now, a, sizeof a);
        if (st.updated > 0)
            fprintf(out, "  last update:  %s%s, address %s%s%s\n", t, a, st.addr4,
                    st.addr4[0] && st.addr6[0] ? " " : "", st.addr6);
        else
            fprintf(out, "  last update:  never succeeded\n");
        fmt_time(st.attempt, t, sizeof t);
        ago(st.attempt, now, a, sizeof a);
        fprintf(out, "  last attempt: %s%s: %s (%s)\n", t, a, st.result[0] ? st.result : "-",
                exit_name(st.exit));
        char h[17];
        entry_digest(d, h);
        if (st.fatal && strcmp(h, st.cfg_hash) == 0)
            fprintf(out, "  FAILED for good: no update is sent until the ddns section or its secret "
                    "file changes\n");
        else if (st.fatal)
            fprintf(out, "  the last answer was final, but the configuration changed since: the next "
                    "poll sends an update\n");
        else if (st.retry_after > now) {
            fmt_time(st.retry_after, t, sizeof t);
            fprintf(out, "  next attempt not before %s\n", t);
        }
        if (strcmp(h, st.cfg_hash) != 0 && !st.fatal)
            fprintf(out, "  configuration changed since: the next poll sends an update\n");
        else if (st.updated > 0 && d->force_refresh_days > 0 && !st.fatal) {
            fmt_time(st.updated + (int64_t)d->force_refresh_days * 86400, t, sizeof t);
            fprintf(out, "  refresh due:  %s (unless the address changes first)\n", t);
        }
    }
    if (root)
        json_object_put(root);
}
