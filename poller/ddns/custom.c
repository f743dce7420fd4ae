/* SPDX-License-Identifier: ISC */
/* custom.c — protocol "custom": one HTTP request per host name and
 * record type, built from the section's templates. */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- custom ------------------------------------------------------------ */

static int has_header(const struct ddns_cfg *d, const char *name)
{
    size_t l = strlen(name);
    for (int i = 0; i < d->nheaders; i++)
        if (strncasecmp(d->headers[i], name, l) == 0 && d->headers[i][l] == ':')
            return i;
    return -1;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static enum ddns_esc body_escaping(const struct ddns_cfg *d, int *add_json_ct)
{
    *add_json_ct = 0;
    int ct = has_header(d, "Content-Type");
    if (ct >= 0) {
        const char *v = d->headers[ct];
        if (ci_contains(v, "json"))
            return DDNS_ESC_JSON;
        if (ci_contains(v, "x-www-form-urlencoded"))
            return DDNS_ESC_URL;
        return DDNS_ESC_NONE;
    }
    const char *b = d->body;
    while (b && isspace((unsigned char)*b))
        b++;
    if (b && (*b == '{' || *b == '[')) {
        *add_json_ct = 1;
        return DDNS_ESC_JSON;
    }
    return DDNS_ESC_URL;                    /* curl's default: a form */
}

static void do_custom_one(struct entry_run *e, const char *host, const char *type, const char *ip,
                          struct entry_run *acc)
{
    const struct ddns_cfg *d = e->d;
    struct ddns_vars v = { .hostname = host, .ip = ip, .ip4 = e->addr4, .ip6 = e->addr6,
                           .type = type, .secret = e->secret, .zone = d->zone };
    char *url = malloc(DDNS_URL_MAX), body[16384];
    char *hdrbuf = NULL;
    struct curl_slist *hd = NULL;
    const char *mask[CFG_MAX_HEADERS + 1] = { NULL };
    char masknames[CFG_MAX_HEADERS][64];
    int nmask = 0;
    if (!url) {
        outcome(acc, DDNS_CLASS_RETRY, EX_OSERR, "out of memory", "out of memory");
        return;
    }
    if (ddns_expand(d->url, &v, DDNS_ESC_URL, url, DDNS_URL_MAX) < 0) {
        outcome(acc, DDNS_CLASS_FATAL, EX_CONFIG, "config", "url template: the URL would be "
                "longer than %d bytes; nothing was sent", DDNS_URL_MAX);
        free(url);
        return;
    }
    int add_json = 0;
    enum ddns_esc besc = body_escaping(d, &add_json);
    if (d->body && ddns_expand(d->body, &v, besc, body, sizeof body) < 0) {
        outcome(acc, DDNS_CLASS_FATAL, EX_CONFIG, "config", "body template: result too long");
        secure_wipe(url, DDNS_URL_MAX);
        free(url);
        return;
    }
    hdrbuf = malloc(8192);
    for (int i = 0; hdrbuf && i < d->nheaders; i++) {
        if (ddns_expand(d->headers[i], &v, DDNS_ESC_HEADER, hdrbuf, 8192) < 0) {
            outcome(acc, DDNS_CLASS_FATAL, EX_CONFIG, "config",
                    "header template %d: too long or a value with a control character", i + 1);
            goto out;
        }
        hd = curl_slist_append(hd, hdrbuf);
        secure_wipe(hdrbuf, 8192);
        if (strstr(d->headers[i], "{secret}")) {
            const char *c = strchr(d->headers[i], ':');
            size_t l = c ? (size_t)(c - d->headers[i]) : 0;
            if (l > 0 && l < sizeof masknames[0]) {
                memcpy(masknames[nmask], d->headers[i], l);
                masknames[nmask][l] = '\0';
                mask[nmask] = masknames[nmask];
                nmask++;
            }
        }
    }
    if (add_json)
        hd = curl_slist_append(hd, "Content-Type: application/json");
    struct dbg_ctx dbg = { mask };
    struct http_req q = { .method = d->method ? d->method : "GET", .url = url, .headers = hd,
                          .body = d->body ? body : NULL, .ca_file = d->ca_file,
                          .timeout = d->timeout, .family = AF_UNSPEC, .dbg = &dbg };
    log_debug("ddns %s: %s %s (%s %s)", d->name, q.method, url, host, type);
    struct http_resp r;
    int rc = http_do(&q, &r);
    struct entry_run one = *acc;
    if (rc < 0) {
        outcome_http_error(&one, &r);
    } else if (r.status >= d->success_min && r.status <= d->success_max) {
        char res[32];
        snprintf(res, sizeof res, "HTTP %ld", r.status);
        outcome(&one, DDNS_CLASS_OK, 0, res, "%s set, HTTP %ld", ip, r.status);
    } else {
        char msg[200];
        printable(msg, sizeof msg, r.body ? r.body : "", r.len > 150 ? 150 : r.len);
        outcome_http_status(&one, r.status, msg);
    }
    http_resp_free(&r);
    /* accumulate the worst */
    if (one.cls > acc->cls || (one.cls == acc->cls && exit_worst(acc->exit, one.exit) != acc->exit) ||
        !acc->result[0]) {
        acc->cls = one.cls;
        acc->exit = exit_worst(acc->exit, one.exit);
        snprintf(acc->result, sizeof acc->result, "%s", one.result);
        snprintf(acc->detail, sizeof acc->detail, "%.200s %s: %.280s", host, type, one.detail);
    }
out:
    for (struct curl_slist *p = hd; p; p = p->next)
        secure_wipe(p->data, strlen(p->data));
    curl_slist_free_all(hd);
    if (hdrbuf) {
        secure_wipe(hdrbuf, 8192);
        free(hdrbuf);
    }
    secure_wipe(url, DDNS_URL_MAX);
    free(url);
    secure_wipe(body, sizeof body);
}

void custom_update(struct entry_run *e)
{
    e->cls = DDNS_CLASS_OK;
    e->exit = 0;
    e->result[0] = '\0';
    e->detail[0] = '\0';
    for (int i = 0; i < e->nhosts && e->cls != DDNS_CLASS_FATAL; i++) {
        if (e->addr4[0])
            do_custom_one(e, e->hosts[i], "A", e->addr4, e);
        if (e->addr6[0] && e->cls != DDNS_CLASS_FATAL)
            do_custom_one(e, e->hosts[i], "AAAA", e->addr6, e);
    }
}


/* `check`: templates, headers, and whether {secret} goes anywhere. */
int custom_check(const struct ddns_cfg *d, int *uses_secret)
{
    int rc = 0;
    int in_tmpl = (d->url && strstr(d->url, "{secret}")) || (d->body && strstr(d->body, "{secret}"));
    for (int k = 0; k < d->nheaders; k++) {
        char bad[40];
        in_tmpl |= strstr(d->headers[k], "{secret}") != NULL;
        if (!strchr(d->headers[k], ':') || d->headers[k][0] == ':') {
            log_err("ddns %s: header \"%s\" is not \"Name: value\"", d->name, d->headers[k]);
            rc = EX_CONFIG;
        }
        if (ddns_template_check(d->headers[k], bad, sizeof bad) < 0) {
            log_err("ddns %s: header \"%s\": unknown placeholder %s", d->name, d->headers[k], bad);
            rc = EX_CONFIG;
        }
        char tmp[8192];
        struct ddns_vars v = { "h", "1", "1", "1", "A", "s", "z" };
        if (ddns_expand(d->headers[k], &v, DDNS_ESC_HEADER, tmp, sizeof tmp) < 0) {
            log_err("ddns %s: header %d has control characters or is too long", d->name, k + 1);
            rc = EX_CONFIG;
        }
    }
    if (d->body) {
        char bad[40];
        if (ddns_template_check(d->body, bad, sizeof bad) < 0) {
            log_err("ddns %s: body: unknown placeholder %s", d->name, bad);
            rc = EX_CONFIG;
        }
    }
    if (in_tmpl && !d->password_file) {
        log_err("ddns %s: the templates use {secret} but there is no password-file", d->name);
        rc = EX_CONFIG;
    }
    if (d->password_file && !in_tmpl)
        log_warn("ddns %s: password-file is set but no template uses {secret}", d->name);
    *uses_secret = in_tmpl;
    if (d->url)
        rc = exit_worst(rc, ddns_check_url(d, "url", d->url, 1, in_tmpl));
    return rc;
}
