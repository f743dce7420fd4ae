/* SPDX-License-Identifier: ISC */
/* dyndns2.c — the dyndns2 protocol (members.dyndns.org and the many
 * providers that copy it). */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

/* ---- dyndns2 ---------------------------------------------------------- */

void dyndns2_update(struct entry_run *e)
{
    const struct ddns_cfg *d = e->d;
    /* Built to the size it needs (20 names of 253 characters fit), never
     * cut: above DDNS_URL_MAX the request is refused. */
    struct sbuf u = sb_heap(DDNS_URL_MAX);
    sb_add(&u, d->server);
    sb_add(&u, strchr(d->server, '?') ? "&" : "?");
    sb_add(&u, "hostname=");
    for (int i = 0; i < e->nhosts; i++) {
        if (i)
            sb_add(&u, ",");
        put_escaped(&u, e->hosts[i], DDNS_ESC_URL);
    }
    if (e->addr4[0] && e->addr6[0]) {
        sb_add(&u, "&myip=");
        put_escaped(&u, e->addr4, DDNS_ESC_URL);
        sb_add(&u, "&myipv6=");
        put_escaped(&u, e->addr6, DDNS_ESC_URL);
    } else {
        sb_add(&u, "&myip=");
        put_escaped(&u, e->addr4[0] ? e->addr4 : e->addr6, DDNS_ESC_URL);
    }
    if (u.overflow || !u.p) {
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, "config",
                "the update URL would be longer than %d bytes (%d host names); nothing was "
                "sent; split the host names over several ddns sections", DDNS_URL_MAX, e->nhosts);
        sb_free(&u);
        return;
    }
    const char *url = u.p;
    struct curl_slist *hd = curl_slist_append(NULL, "Accept: text/plain");
    struct dbg_ctx dbg = { NULL };
    struct http_req q = { .method = "GET", .url = url, .headers = hd, .user = d->username,
                          .pass = e->secret, .ca_file = d->ca_file, .timeout = d->timeout,
                          .family = AF_UNSPEC, .dbg = &dbg };
    log_debug("ddns %s: GET %s", d->name, url);
    struct http_resp r;
    int rc = http_do(&q, &r);
    curl_slist_free_all(hd);
    sb_free(&u);
    if (rc < 0) {
        outcome_http_error(e, &r);
        http_resp_free(&r);
        return;
    }
    /* The body counts whatever the HTTP status (401 badauth, 200 for all
     * else by the specification; some servers use 4xx/5xx too). */
    struct ddns_line lines[DDNS_MAX_HOSTS];
    int n = ddns_parse_dyndns2(r.body, r.len, lines, DDNS_MAX_HOSTS);
    if (n < 0) {
        char pr[160];
        printable(pr, sizeof pr, r.body ? r.body : "", r.len > 120 ? 120 : r.len);
        if (r.status >= 500)
            outcome(e, DDNS_CLASS_RETRY, EX_TEMPFAIL, "HTTP error",
                    "HTTP %ld \"%s\"; next attempt in %d minutes at the earliest", r.status, pr,
                    DDNS_RETRY_MIN / 60);
        else
            outcome(e, DDNS_CLASS_RETRY, EX_PROTOCOL, "bad answer",
                    "HTTP %ld, no dyndns2 result in the answer \"%s\"", r.status, pr);
        http_resp_free(&r);
        return;
    }
    /* Per host: line i answers host i; one line answers them all when the
     * server rejected the whole request. */
    enum ddns_class cls = DDNS_CLASS_OK;
    int ex = 0;
    char summary[400] = "", first[80] = "";
    struct sbuf sm = { .p = summary, .size = sizeof summary };
    for (int i = 0; i < e->nhosts; i++) {
        struct ddns_line unk = { .code = DDNS_UNKNOWN, .text = "(no line for this host)" };
        const struct ddns_line *l = i < n ? &lines[i] : n == 1 ? &lines[0] : &unk;
        enum ddns_class c = ddns_code_class(l->code);
        if (c > cls)
            cls = c;
        ex = exit_worst(ex, ddns_code_exit(l->code));
        if (i)
            sb_add(&sm, "; ");
        sb_add(&sm, e->hosts[i]);
        sb_add(&sm, ": ");
        sb_add(&sm, l->text);
        if ((l->code == DDNS_GOOD || l->code == DDNS_NOCHG) && l->addr[0]) {
            const char *want = e->addr4[0] ? e->addr4 : e->addr6;
            if (!strstr(l->addr, want))
                log_warn("ddns %s: %s: the server says it set %s, not %s as asked", d->name,
                         e->hosts[i], l->addr, want);
        }
        if (!first[0] || (c != DDNS_CLASS_OK && ddns_code_class(lines[0].code) == DDNS_CLASS_OK))
            snprintf(first, sizeof first, "%s", l->text);
    }
    if (n > e->nhosts) {
        cls = cls < DDNS_CLASS_RETRY ? DDNS_CLASS_RETRY : cls;
        ex = exit_worst(ex, EX_PROTOCOL);
        sb_add(&sm, "; more answer lines than host names");
    }
    http_resp_free(&r);
    switch (cls) {
    case DDNS_CLASS_OK:
        outcome(e, cls, 0, first, "%s", summary);
        break;
    case DDNS_CLASS_FATAL:
        outcome(e, cls, ex, first, "%s; this answer is final: no further update is sent until "
                "the ddns section or its password file changes", summary);
        break;
    case DDNS_CLASS_RETRY:
        outcome(e, cls, ex, first, "%s; next attempt in %d minutes at the earliest", summary,
                DDNS_RETRY_MIN / 60);
        break;
    }
}

