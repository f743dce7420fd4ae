/* SPDX-License-Identifier: ISC */
/* ddns_section.c — the `ddns NAME { ... }` sections of etrnpoll.conf:
 * reading, validation, and the section text the change digest is computed
 * from (their keys: ddns_section_opts in conf/schema.tab).  Providers are looked up by name in the ddns provider table. */
#include "conf/internal.h"
#include "core/util.h"
#include "ddns/ddns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const source_names[] = { "interface", "url", NULL };
static const enum addr_source source_values[] = { ADDR_INTERFACE, ADDR_URL };
static const char *const private_names[] = { "skip", "warn", "publish", NULL };
static const enum private_policy private_values[] = { PRIV_SKIP, PRIV_WARN, PRIV_PUBLISH };

/* The text of a section as libconfuse prints it (every key, defaults
 * included): what the ddns change digest is computed from. */
static char *section_text(cfg_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    cfg_print(s, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void ddns_section_read(cfg_t *s, struct ddns_cfg *d, struct errbuf *eb, const char *file)
{
    d->name = sdup(cfg_title(s));
    d->line = s->line;
    const char *p = cfg_getstr(s, "protocol");
    const struct ddns_provider *prov = ddns_provider_find(p);
    if (prov)
        d->proto = ddns_provider_proto(prov);
    else
        eb_add(eb, "%s:%d: ddns %s: protocol = \"%s\": must be %s",
               file, d->line, d->name, p, ddns_provider_list());
    d->section_text = section_text(s);
    if (!d->section_text)
        eb_add(eb, "%s:%d: ddns %s: out of memory", file, d->line, d->name);
    d->hostname = dupopt(s, "hostname");
    if (!d->hostname)
        eb_add(eb, "%s:%d: ddns %s: 'hostname' is required", file, d->line, d->name);
    d->server = dupopt(s, "server");
    const char *preset = cfg_getstr(s, "preset");
    if (preset && prov) {
        const char *url = ddns_provider_preset(prov, preset);
        if (!ddns_provider_has_presets(prov))
            eb_add(eb, "%s:%d: ddns %s: protocol %s has no presets", file, d->line, d->name, p);
        else if (!url)
            eb_add(eb, "%s:%d: ddns %s: unknown preset \"%s\"", file, d->line, d->name, preset);
        else if (!d->server)
            d->server = sdup(url);
    }
    d->username = dupopt(s, "username");
    d->password_file = dupopt(s, "password-file");
    d->zone = dupopt(s, "zone");
    d->ttl = getint(s, "ttl", 1, 86400, eb, file, d->line);
    d->ipv4 = cfg_getbool(s, "ipv4");
    d->ipv6 = cfg_getbool(s, "ipv6");
    if (!d->ipv4 && !d->ipv6)
        eb_add(eb, "%s:%d: ddns %s: ipv4 and ipv6 are both off", file, d->line, d->name);
    d->source = source_values[conf_keyword(s, "address-source", source_names)];
    d->interface = dupopt(s, "interface");
    d->checkip_url = dupopt(s, "check-ip-url");
    d->checkip_url6 = dupopt(s, "check-ip-url6");
    d->checkip_confirm_url = dupopt(s, "check-ip-confirm-url");
    d->checkip_confirm_url6 = dupopt(s, "check-ip-confirm-url6");
    if (d->source == ADDR_URL && d->ipv4 && !d->checkip_url)
        eb_add(eb, "%s:%d: ddns %s: address-source = url needs check-ip-url", file, d->line, d->name);
    if (d->source == ADDR_URL && d->ipv6 && !d->checkip_url6)
        eb_add(eb, "%s:%d: ddns %s: address-source = url with ipv6 needs check-ip-url6", file, d->line, d->name);
    d->on_private = private_values[conf_keyword(s, "on-private-address", private_names)];
    d->trust_http_checkip = cfg_getbool(s, "trust-http-check-ip");
    d->method = dupopt(s, "method");
    d->url = dupopt(s, "url");
    getlist(s, "headers", d->headers, CFG_MAX_HEADERS, &d->nheaders, eb, file, d->line);
    d->body = dupopt(s, "body");
    if (cfg_size(s, "success-status") != 2) {
        eb_add(eb, "%s:%d: ddns %s: success-status must be {low, high}", file, d->line, d->name);
        d->success_min = 200, d->success_max = 299;
    } else {
        long lo = cfg_getnint(s, "success-status", 0), hi = cfg_getnint(s, "success-status", 1);
        d->success_min = lo >= 100 && lo <= 599 ? (int)lo : 200;
        d->success_max = hi >= 100 && hi <= 599 ? (int)hi : 299;
        if (lo < 100 || hi > 599 || lo > hi)
            eb_add(eb, "%s:%d: ddns %s: success-status range is not within 100..599", file, d->line, d->name);
    }
    d->wait_server = dupopt(s, "wait-server");
    d->wait_timeout = getint(s, "wait-timeout", 1, 3600, eb, file, d->line);
    d->delay_after_change = getint(s, "delay-after-change", 0, 3600, eb, file, d->line);
    d->force_refresh_days = getint(s, "force-refresh-days", 1, 365, eb, file, d->line);
    d->timeout = getint(s, "timeout", 1, 600, eb, file, d->line);
    d->required = cfg_getbool(s, "required");
    d->ca_file = dupopt(s, "ca-file");
    if (d->ca_file && access(d->ca_file, R_OK) < 0)
        eb_add(eb, "%s:%d: ddns %s: ca-file %s: %s", file, d->line, d->name, d->ca_file,
               strerror(errno));

    const char *missing = prov ? ddns_provider_missing(prov, d) : NULL;
    if (missing)
        eb_add(eb, "%s:%d: ddns %s: %s", file, d->line, d->name, missing);
    if (d->proto == DDNS_CUSTOM && d->method) {
        static const char *m[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
        int ok = 0;
        for (size_t i = 0; i < ETP_ARRAY_LEN(m); i++)
            ok |= strcmp(d->method, m[i]) == 0;
        if (!ok)
            eb_add(eb, "%s:%d: ddns %s: method \"%s\" is not GET, POST, PUT, PATCH or DELETE",
                   file, d->line, d->name, d->method);
    }
    const char *urls[] = { d->server, d->url, d->checkip_url, d->checkip_url6,
                           d->checkip_confirm_url, d->checkip_confirm_url6 };
    for (size_t i = 0; i < ETP_ARRAY_LEN(urls); i++)
        if (urls[i] && strncmp(urls[i], "https://", 8) != 0 && strncmp(urls[i], "http://", 7) != 0)
            eb_add(eb, "%s:%d: ddns %s: \"%s\" is not an http:// or https:// URL", file, d->line, d->name, urls[i]);
}

static int v_proto(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *v = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
    if (v && ddns_provider_find(v))
        return 0;
    cfg_error(cfg, "%s = \"%s\": must be %s", opt->name, v ? v : "", ddns_provider_list());
    return -1;
}

static int v_source(cfg_t *cfg, cfg_opt_t *opt)
{
    return v_oneof(cfg, opt, source_names);
}

static int v_private(cfg_t *cfg, cfg_opt_t *opt)
{
    return v_oneof(cfg, opt, private_names);
}

void ddns_section_validators(cfg_t *cfg)
{
    cfg_set_validate_func(cfg, "ddns|protocol", v_proto);
    cfg_set_validate_func(cfg, "ddns|address-source", v_source);
    cfg_set_validate_func(cfg, "ddns|on-private-address", v_private);
}

void ddns_section_free(struct ddns_cfg *d)
{
    free(d->name); free(d->hostname); free(d->server); free(d->username);
    free(d->password_file); free(d->zone); free(d->interface); free(d->checkip_url);
    free(d->checkip_url6); free(d->checkip_confirm_url); free(d->checkip_confirm_url6);
    free(d->method); free(d->url); free(d->body);
    free(d->wait_server); free(d->ca_file); free(d->section_text);
    for (int i = 0; i < d->nheaders; i++)
        free(d->headers[i]);
}
