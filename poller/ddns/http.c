/* SPDX-License-Identifier: ISC */
/* http.c — the libcurl client every provider and the check-IP lookup use:
 * one request, bounded answer, redirects under a fixed rule, credentials
 * masked in -v transcripts. */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/util.h"

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================================================================
 * HTTP (libcurl)
 * ====================================================================== */

void http_resp_free(struct http_resp *r)
{
    if (r->body) {
        secure_wipe(r->body, r->len);
        free(r->body);
    }
    memset(r, 0, sizeof *r);
}

static size_t http_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct http_resp *r = user;
    size_t n = size * nmemb;
    if (r->len + n > DDNS_BODY_MAX) {
        r->too_big = 1;
        return 0;                                 /* aborts the transfer */
    }
    char *nb = realloc(r->body, r->len + n + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static int http_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)p; (void)dt; (void)dn; (void)ut; (void)un;
    return etp_abort ? 1 : 0;
}

/* -v: show the HTTP exchange.  Credentials never reach the log: header
 * values of Authorization / X-API-Key / any header built with {secret} are
 * masked here, and every line also passes the log redactor, which knows
 * the secret in plain, URL- and JSON-escaped and Basic (base64) form. */
static int header_is_secret(const char *line, size_t n, const struct dbg_ctx *c)
{
    static const char *always[] = { "authorization:", "proxy-authorization:", "x-api-key:",
                                    "cookie:", "set-cookie:", NULL };
    for (int i = 0; always[i]; i++)
        if (n >= strlen(always[i]) && strncasecmp(line, always[i], strlen(always[i])) == 0)
            return 1;
    for (int i = 0; c && c->mask && c->mask[i]; i++) {
        size_t l = strlen(c->mask[i]);
        if (n > l && strncasecmp(line, c->mask[i], l) == 0 && line[l] == ':')
            return 1;
    }
    return 0;
}

static int http_debug(CURL *h, curl_infotype type, char *data, size_t size, void *user)
{
    (void)h;
    const struct dbg_ctx *c = user;
    char dir;
    switch (type) {
    case CURLINFO_TEXT: dir = '*'; break;
    case CURLINFO_HEADER_IN: dir = '<'; break;
    case CURLINFO_HEADER_OUT: dir = '>'; break;
    case CURLINFO_DATA_IN: dir = '<'; break;
    case CURLINFO_DATA_OUT: dir = '>'; break;
    default: return 0;                       /* TLS records: never */
    }
    size_t off = 0;
    int lines = 0;
    while (off < size && lines < 64) {
        size_t e = off;
        while (e < size && data[e] != '\n')
            e++;
        size_t n = e - off;
        if (n && data[off + n - 1] == '\r')
            n--;
        if (n > 0) {
            if ((type == CURLINFO_HEADER_OUT || type == CURLINFO_HEADER_IN) &&
                header_is_secret(data + off, n, c)) {
                const char *colon = memchr(data + off, ':', n);
                size_t keep = colon ? (size_t)(colon - (data + off)) + 1 : 0;
                char m[128];
                snprintf(m, sizeof m, "%.*s ********", (int)(keep < 100 ? keep : 100), data + off);
                log_wire(dir, m, strlen(m));
            } else {
                log_wire(dir, data + off, n > 1024 ? 1024 : n);
            }
        }
        off = e + 1;
        lines++;
    }
    return 0;
}

/* The redirect rule (credentials are sent again after a redirect, so it
 * decides where they may go): the same host, and either the same scheme
 * and port, or an upgrade from http to https on port 443.  Anything else
 * (another host, another port, a downgrade, another scheme) is refused. */
int ddns_redirect_ok(const char *from, const char *to, char *why, size_t whysz)
{
    CURLU *a = curl_url(), *b = curl_url();
    int ok = 0;
    char *ha = NULL, *hb = NULL, *sa = NULL, *sb = NULL, *pa = NULL, *pb = NULL;
    if (!a || !b || curl_url_set(a, CURLUPART_URL, from, 0) || curl_url_set(b, CURLUPART_URL, to, 0) ||
        curl_url_get(a, CURLUPART_HOST, &ha, 0) || curl_url_get(b, CURLUPART_HOST, &hb, 0) ||
        curl_url_get(a, CURLUPART_SCHEME, &sa, 0) || curl_url_get(b, CURLUPART_SCHEME, &sb, 0) ||
        curl_url_get(a, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) ||
        curl_url_get(b, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT)) {
        snprintf(why, whysz, "unparsable redirect target");
    } else if (strcasecmp(ha, hb) != 0) {
        snprintf(why, whysz, "redirect to another host (%.200s) refused", hb);
    } else if (strcasecmp(sb, "https") != 0 && strcasecmp(sb, "http") != 0) {
        snprintf(why, whysz, "redirect to scheme %.20s refused", sb);
    } else if (strcasecmp(sa, "https") == 0 && strcasecmp(sb, "https") != 0) {
        snprintf(why, whysz, "redirect from https to %.20s refused", sb);
    } else if (strcasecmp(sa, sb) == 0 && strcmp(pa, pb) != 0) {
        snprintf(why, whysz, "redirect to another port (%.10s) refused", pb);
    } else if (strcasecmp(sa, sb) != 0 && strcmp(pb, "443") != 0) {
        snprintf(why, whysz, "redirect from http to https on port %.10s refused (only port 443 "
                 "is accepted for an upgrade)", pb);
    } else {
        ok = 1;
    }
    curl_free(ha); curl_free(hb); curl_free(sa); curl_free(sb); curl_free(pa); curl_free(pb);
    curl_url_cleanup(a);
    curl_url_cleanup(b);
    return ok;
}

/* One request.  0: an HTTP answer arrived (any status; body in r), -1: no
 * answer (network, TLS verification, timeout, too large, bad redirect;
 * r->err says what). */
int http_do(const struct http_req *q, struct http_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(r->err, sizeof r->err, "cannot initialise libcurl");
        return -1;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    size_t ul = q->url ? strlen(q->url) : 0;
    if (ul == 0 || ul >= DDNS_URL_MAX) {
        snprintf(r->err, sizeof r->err, "request URL of %zu bytes refused (at most %d)", ul,
                 DDNS_URL_MAX - 1);
        curl_easy_cleanup(h);
        return -1;
    }
    char *url = strdup(q->url);
    if (!url) {
        snprintf(r->err, sizeof r->err, "out of memory");
        curl_easy_cleanup(h);
        return -1;
    }
    int rc = -1;
    for (int hop = 0; hop <= DDNS_MAX_REDIRECTS; hop++) {
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_USERAGENT, DDNS_USER_AGENT);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)q->timeout);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(q->timeout < 15 ? q->timeout : 15));
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)DDNS_BODY_MAX);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_progress);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
        if (q->ca_file)
            curl_easy_setopt(h, CURLOPT_CAINFO, q->ca_file);
        if (q->family == AF_INET)
            curl_easy_setopt(h, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
        else if (q->family == AF_INET6)
            curl_easy_setopt(h, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V6);
        if (q->headers)
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, q->headers);
        if (q->user) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERNAME, q->user);
            curl_easy_setopt(h, CURLOPT_PASSWORD, q->pass ? q->pass : "");
        }
        if (strcmp(q->method, "GET") == 0 && !q->body) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else {
            if (strcmp(q->method, "POST") != 0)
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
            if (q->body || strcmp(q->method, "POST") == 0 || strcmp(q->method, "PUT") == 0 ||
                strcmp(q->method, "PATCH") == 0) {
                const char *b = q->body ? q->body : "";
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(b));
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, b);
            }
        }
        if (log_transcript_on()) {
            curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
            curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, http_debug);
            curl_easy_setopt(h, CURLOPT_DEBUGDATA, (void *)q->dbg);
        }
        if (r->body) {
            secure_wipe(r->body, r->len);
            free(r->body);
            r->body = NULL;
            r->len = 0;
        }
        errbuf[0] = '\0';
        CURLcode cc = curl_easy_perform(h);
        char *ip = NULL;
        long port = 0;
        if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip) {
            curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
            snprintf(r->peer, sizeof r->peer, "%s:%ld", ip, port);
        }
        if (cc != CURLE_OK) {
            if (r->too_big || cc == CURLE_FILESIZE_EXCEEDED)
                snprintf(r->err, sizeof r->err, "answer larger than %d bytes refused", DDNS_BODY_MAX);
            else if (etp_abort)
                snprintf(r->err, sizeof r->err, "aborted");
            else
                snprintf(r->err, sizeof r->err, "%s%s%s", curl_easy_strerror(cc),
                         errbuf[0] ? ": " : "", errbuf);
            break;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        char *loc = NULL;
        if (r->status >= 300 && r->status < 400 && r->status != 304 &&
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
            if (strcmp(q->method, "GET") != 0 || q->body) {
                snprintf(r->err, sizeof r->err, "HTTP %ld redirect for a %s request refused", r->status, q->method);
                break;
            }
            if (hop == DDNS_MAX_REDIRECTS) {
                snprintf(r->err, sizeof r->err, "more than %d redirects", DDNS_MAX_REDIRECTS);
                break;
            }
            if (!ddns_redirect_ok(url, loc, r->err, sizeof r->err))
                break;
            size_t ll = strlen(loc);
            char *nu = ll < DDNS_URL_MAX ? strdup(loc) : NULL;
            if (!nu) {
                snprintf(r->err, sizeof r->err, "redirect URL longer than %d bytes refused",
                         DDNS_URL_MAX - 1);
                break;
            }
            secure_wipe(url, strlen(url));
            free(url);
            url = nu;
            log_debug("ddns: following HTTP %ld redirect (same host)", r->status);
            continue;
        }
        rc = 0;
        break;
    }
    if (rc == 0)
        r->tls = strncasecmp(url, "https://", 8) == 0;
    secure_wipe(url, strlen(url));
    free(url);
    curl_easy_cleanup(h);
    return rc;
}

/* Register every form in which a secret could appear on the wire. */
void register_secret(const char *user, const char *secret)
{
    log_add_secret(secret);
    char *e = curl_easy_escape(NULL, secret, (int)strlen(secret));
    if (e) {
        log_add_secret(e);
        secure_wipe(e, strlen(e));
        curl_free(e);
    }
    char j[8192];
    struct sbuf b = { .p = j, .size = sizeof j };
    j[0] = '\0';
    put_escaped(&b, secret, DDNS_ESC_JSON);
    if (!b.overflow)
        log_add_secret(j);
    secure_wipe(j, sizeof j);
    if (user) {
        /* Basic credentials as they go on the wire: base64("user:secret"),
         * encoded by GnuTLS (no hand-written base64 here). */
        size_t ul = strlen(user), sl = strlen(secret);
        unsigned char *up = malloc(ul + 1 + sl);
        if (up) {
            memcpy(up, user, ul);
            up[ul] = ':';
            memcpy(up + ul + 1, secret, sl);
            gnutls_datum_t in = { up, (unsigned)(ul + 1 + sl) }, enc = { NULL, 0 };
            if (gnutls_base64_encode2(&in, &enc) == 0 && enc.data) {
                char *t = malloc(enc.size + 1);
                if (t) {
                    memcpy(t, enc.data, enc.size);
                    t[enc.size] = '\0';
                    log_add_secret(t);
                    secure_wipe(t, enc.size);
                    free(t);
                }
                secure_wipe(enc.data, enc.size);
                gnutls_free(enc.data);
            }
            secure_wipe(up, ul + 1 + sl);
            free(up);
        }
    }
}



void outcome(struct entry_run *e, enum ddns_class cls, int exit, const char *result,
                    const char *fmt, ...)
{
    e->cls = cls;
    e->exit = exit;
    snprintf(e->result, sizeof e->result, "%s", result);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
}

/* Non-answers (network, TLS, timeout, too big, refused redirect): retry later. */
void outcome_http_error(struct entry_run *e, const struct http_resp *r)
{
    outcome(e, DDNS_CLASS_RETRY, EX_TEMPFAIL, "network error",
            "%s; next attempt in %d minutes at the earliest", r->err, DDNS_RETRY_MIN / 60);
}

/* The usual meaning of an HTTP status for an API (powerdns, custom). */
void outcome_http_status(struct entry_run *e, long st, const char *msg)
{
    char res[32];
    snprintf(res, sizeof res, "HTTP %ld", st);
    if (st == 401 || st == 403)
        outcome(e, DDNS_CLASS_FATAL, EX_NOPERM, res,
                "the API refused the credentials (HTTP %ld%s%s); not retried until the "
                "ddns section or its secret file changes", st, msg[0] ? ": " : "", msg);
    else if (st == 408 || st == 425 || st == 429 || st >= 500)
        outcome(e, DDNS_CLASS_RETRY, EX_TEMPFAIL, res, "temporary failure (HTTP %ld%s%s); "
                "next attempt in %d minutes at the earliest", st, msg[0] ? ": " : "", msg,
                DDNS_RETRY_MIN / 60);
    else if (st >= 400)
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, res,
                "the API rejected the request (HTTP %ld%s%s); check the ddns section; not "
                "retried until it changes", st, msg[0] ? ": " : "", msg);
    else
        outcome(e, DDNS_CLASS_RETRY, EX_PROTOCOL, res, "unexpected HTTP %ld%s%s", st,
                msg[0] ? ": " : "", msg);
}

