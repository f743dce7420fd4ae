/* SPDX-License-Identifier: ISC */
/* pdns.c — the PowerDNS Authoritative HTTP API (PATCH of the zone's rrsets). */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/util.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PowerDNS Authoritative HTTP API ---------------------------------- */

/* SERVER[/api/v1[/servers/ID]]/zones/ZONE. (URL-escaped), built to the
 * size needed up to DDNS_URL_MAX.  Caller sb_free()s. */
static int pdns_zone_url(const struct ddns_cfg *d, struct sbuf *b)
{
    size_t bl = strlen(d->server);
    while (bl && d->server[bl - 1] == '/')
        bl--;
    sb_addn(b, d->server, bl);
    if (!b->p)
        return -1;
    if (!strstr(b->p, "/api/v1/servers/"))
        sb_add(b, strstr(b->p, "/api/v1") ? "/servers/localhost" : "/api/v1/servers/localhost");
    sb_add(b, "/zones/");
    put_escaped(b, d->zone, DDNS_ESC_URL);
    size_t zl = strlen(d->zone);
    if (zl == 0 || d->zone[zl - 1] != '.')
        sb_add(b, ".");
    return b->overflow ? -1 : 0;
}

/* `check`: every host name must be in the zone. */
int pdns_check(const struct ddns_cfg *d, int *uses_secret)
{
    int rc = 0;
    char hosts[DDNS_MAX_HOSTS][NS_MAXDNAME];
    int nh = split_hosts(d->hostname, hosts, DDNS_MAX_HOSTS);
    for (int k = 0; k < nh; k++)
        if (d->zone && !host_in_zone(hosts[k], d->zone)) {
            log_err("ddns %s: hostname \"%s\" is not in zone %s", d->name, hosts[k], d->zone);
            rc = EX_CONFIG;
        }
    *uses_secret = 1;
    return rc;
}

/* Build the PATCH body with json-c (REPLACE every maintained rrset). */
static char *pdns_body(const struct entry_run *e)
{
    json_object *root = json_object_new_object();
    json_object *rrsets = json_object_new_array();
    for (int i = 0; i < e->nhosts; i++) {
        for (int fam = 0; fam < 2; fam++) {
            const char *a = fam == 0 ? e->addr4 : e->addr6;
            if (!a[0])
                continue;
            char name[NS_MAXDNAME + 2];
            snprintf(name, sizeof name, "%s.", e->hosts[i]);
            json_object *rr = json_object_new_object();
            json_object_object_add(rr, "name", json_object_new_string(name));
            json_object_object_add(rr, "type", json_object_new_string(fam == 0 ? "A" : "AAAA"));
            json_object_object_add(rr, "ttl", json_object_new_int(e->d->ttl));
            json_object_object_add(rr, "changetype", json_object_new_string("REPLACE"));
            json_object *recs = json_object_new_array();
            json_object *rec = json_object_new_object();
            json_object_object_add(rec, "content", json_object_new_string(a));
            json_object_object_add(rec, "disabled", json_object_new_boolean(0));
            json_object_array_add(recs, rec);
            json_object_object_add(rr, "records", recs);
            json_object_array_add(rrsets, rr);
        }
    }
    json_object_object_add(root, "rrsets", rrsets);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = s ? strdup(s) : NULL;
    json_object_put(root);
    return copy;
}

void pdns_update(struct entry_run *e)
{
    const struct ddns_cfg *d = e->d;
    struct sbuf ub = sb_heap(DDNS_URL_MAX);
    if (pdns_zone_url(d, &ub) < 0) {
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, "config", "the API URL would be longer than %d "
                "bytes; nothing was sent", DDNS_URL_MAX);
        sb_free(&ub);
        return;
    }
    const char *url = ub.p;
    char *body = pdns_body(e);
    if (!body) {
        outcome(e, DDNS_CLASS_RETRY, EX_OSERR, "out of memory", "out of memory");
        sb_free(&ub);
        return;
    }
    /* the key was checked by secret_invalid() when it was read */
    struct sbuf kh = sb_heap(8192);
    sb_add(&kh, "X-API-Key: ");
    sb_add(&kh, e->secret ? e->secret : "");
    struct curl_slist *hd = kh.overflow ? NULL : curl_slist_append(NULL, kh.p);
    sb_free(&kh);
    if (!hd) {
        outcome(e, DDNS_CLASS_FATAL, EX_CONFIG, "config", "the API key is too long");
        free(body);
        sb_free(&ub);
        return;
    }
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Accept: application/json");
    struct dbg_ctx dbg = { NULL };
    struct http_req q = { .method = "PATCH", .url = url, .headers = hd, .body = body,
                          .ca_file = d->ca_file, .timeout = d->timeout, .family = AF_UNSPEC,
                          .dbg = &dbg };
    log_debug("ddns %s: PATCH %s %s", d->name, url, body);
    struct http_resp r;
    int rc = http_do(&q, &r);
    for (struct curl_slist *p = hd; p; p = p->next)
        secure_wipe(p->data, strlen(p->data));
    curl_slist_free_all(hd);
    free(body);
    sb_free(&ub);
    if (rc < 0) {
        outcome_http_error(e, &r);
    } else if (r.status == 204 || r.status == 200) {
        char res[80];
        snprintf(res, sizeof res, "HTTP %ld", r.status);
        outcome(e, DDNS_CLASS_OK, 0, res, "PowerDNS API answered %ld (%s%s%s set)", r.status,
                e->addr4, e->addr4[0] && e->addr6[0] ? ", " : "", e->addr6);
    } else {
        char msg[256];
        ddns_parse_pdns_error(r.body, r.len, msg, sizeof msg);
        outcome_http_status(e, r.status, msg);
    }
    http_resp_free(&r);
}

