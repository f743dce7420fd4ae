/* SPDX-License-Identifier: ISC */
/* config.c — loading, defaults and validation (the libconfuse schema is
 * generated from conf/schema.tab). */
#include "conf/config.h"
#include "conf/quote.h"
#include "conf/ehlo.h"
#include "core/priv.h"
#include "smtp/conn.h"
#include "smtp/addrcache.h"
#include <gnutls/crypto.h>
#include "core/log.h"
#include "core/util.h"
#include "core/netaddr.h"
#include "conf/internal.h"
#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The option tables (top_opts and the sections' tables) are generated from
 * conf/schema.tab into schema.c at build time (conf/internal.h). */

/* ---- error collection ----------------------------------------------- */

static struct errbuf *g_eb;   /* libconfuse's error callback has no user pointer */
static cfg_t *g_top;          /* the top-level cfg being parsed */

void eb_add(struct errbuf *eb, const char *fmt, ...)
{
    eb->count++;
    if (!eb->buf || eb->len + 2 >= eb->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(eb->buf + eb->len, eb->size - eb->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    eb->len += (size_t)n;
    if (eb->len >= eb->size - 1)
        eb->len = eb->size - 2;
    eb->buf[eb->len++] = '\n';
    eb->buf[eb->len] = '\0';
}

static void confuse_err(cfg_t *cfg, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!g_eb)
        return;
    /* Untitled sections (link {}, hold {}) have no filename of their own;
     * take the file name from the top-level cfg (the line is the section's). */
    const char *file = cfg && cfg->filename ? cfg->filename : g_top ? g_top->filename : NULL;
    if (file && cfg)
        eb_add(g_eb, "%s:%d: %s", file, cfg->line, msg);
    else
        eb_add(g_eb, "%s", msg);
}

static const char *const tls_names[] = { "starttls", "implicit", "none", NULL };
static const enum tls_mode tls_values[] = { TLS_STARTTLS, TLS_IMPLICIT, TLS_NONE };

/* ---- helpers --------------------------------------------------------- */

/* strdup() that remembers a failure: load() then fails with a clear "out of
 * memory" instead of leaving a NULL for later code (start or reload). */
int g_oom;
char *sdup(const char *s)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        g_oom = 1;
    return d;
}

char *dupopt(cfg_t *sec, const char *name)
{
    const char *s = cfg_getstr(sec, name);
    return (s && *s) ? sdup(s) : NULL;
}

int getlist(cfg_t *sec, const char *name, char **out, int max, int *n,
                   struct errbuf *eb, const char *file, int line)
{
    int size = (int)cfg_size(sec, name);
    *n = 0;
    if (size > max) {
        eb_add(eb, "%s:%d: %s: at most %d entries", file, line, name, max);
        size = max;
    }
    for (int i = 0; i < size; i++) {
        const char *v = cfg_getnstr(sec, name, (unsigned)i);
        if (!v || !*v) {
            eb_add(eb, "%s:%d: %s: empty entry", file, line, name);
            continue;
        }
        char *d = sdup(v);
        if (d)
            out[(*n)++] = d;
    }
    return 0;
}

static int range(struct errbuf *eb, const char *file, int line, const char *what,
                 long v, long lo, long hi)
{
    if (v < lo || v > hi) {
        eb_add(eb, "%s:%d: %s = %ld is out of range (%ld..%ld)", file, line, what, v, lo, hi);
        return -1;
    }
    return 0;
}

int getint(cfg_t *sec, const char *name, long lo, long hi, struct errbuf *eb,
                  const char *file, int line)
{
    long v = cfg_getint(sec, name);
    if (range(eb, file, line, name, v, lo, hi) < 0)
        return (int)lo;
    return (int)v;
}

const char *node_invalid(const char *node)
{
    size_t n = strlen(node);
    if (n == 0)
        return "empty node";
    if (n > CFG_NODE_MAX)
        return "longer than 255 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)node[i];
        if (c <= 0x20 || c >= 0x7f)
            return "contains a space, control or non-ASCII character";
    }
    const char *p = node;
    if (*p == '#') {          /* RFC 1985: "#" queue name, any printable */
        if (n == 1)
            return "empty queue name after '#'";
        return NULL;
    }
    if (*p == '@')
        p++;
    if (*p == '[') {          /* address literal [1.2.3.4] or [IPv6:...] */
        if (node[n - 1] != ']' || strlen(p) < 3)   /* p, not node: "@[]" is empty too */
            return "address literal must be [address]";
        for (const char *q = p + 1; q < node + n - 1; q++)
            if (!isalnum((unsigned char)*q) && !strchr(".:-", *q))
                return "bad character in address literal";
        return NULL;
    }
    if (!*p)
        return "empty domain after '@'";
    /* domain: labels of letters, digits, hyphens (core/netaddr) */
    return netaddr_dns_name_invalid(p, 0);
}

int relay_port(const struct relay_cfg *r)
{
    if (r->port)
        return r->port;
    return r->tls == TLS_IMPLICIT ? 465 : 25;
}

const char *tls_mode_name(enum tls_mode m)
{
    switch (m) {
    case TLS_STARTTLS: return "starttls";
    case TLS_IMPLICIT: return "implicit";
    default: return "none";
    }
}

static void timeouts_read(cfg_t *sec, struct timeouts *t, const struct timeouts *dflt,
                          struct errbuf *eb, const char *file)
{
    cfg_t *ts = cfg_getsec(sec, "timeouts");
    struct { const char *name; int *dst; int dv; } f[] = {
        { "connect", &t->connect, dflt->connect },
        { "greeting", &t->greeting, dflt->greeting },
        { "command", &t->command, dflt->command },
        { "etrn", &t->etrn, dflt->etrn },
        { "quit", &t->quit, dflt->quit },
        { "tls", &t->tls, dflt->tls },
    };
    for (size_t i = 0; i < ETP_ARRAY_LEN(f); i++) {
        long v = ts ? cfg_getint(ts, f[i].name) : -1;
        if (v < 0)
            *f[i].dst = f[i].dv;
        else if (range(eb, file, ts->line, f[i].name, v, 1, 3600) == 0)
            *f[i].dst = (int)v;
        else
            *f[i].dst = f[i].dv;
    }
}

/* The default EHLO name from local data only (conf/ehlo.c): never a DNS
 * query, which would be a round trip over the line on every config load. */
static char *default_ehlo_name(cfg_t *cfg)
{
    cfg_t *d = cfg_size(cfg, "ddns") > 0 ? cfg_getnsec(cfg, "ddns", 0) : NULL;
    return ehlo_default(d ? cfg_getstr(d, "hostname") : NULL);
}

/* ---- sections -------------------------------------------------------- */

/* Digest of the relay section as libconfuse prints it (every key, set or
 * default): learned relay behaviour (poll/learn.c) is forgotten when it
 * changes, without a hand-written list of fields. */
static void relay_digest(cfg_t *s, struct relay_cfg *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    r->digest[0] = '\0';
    if (!f)
        return;
    fprintf(f, "relay %s\n", cfg_title(s));
    cfg_print(s, f);
    if (fclose(f) == 0 && text) {
        unsigned char h[32];
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, text, len, h) == 0)
            for (int i = 0; i < 16; i++)
                snprintf(r->digest + 2 * i, 3, "%02x", h[i]);
    }
    free(text);
}

static void relay_read(cfg_t *s, struct relay_cfg *r, const struct timeouts *dto,
                       struct errbuf *eb, const char *file)
{
    r->name = sdup(cfg_title(s));
    r->line = s->line;
    r->host = dupopt(s, "host");
    if (!r->host)
        eb_add(eb, "%s:%d: relay %s: 'host' is required", file, r->line, r->name);
    r->port = getint(s, "port", 0, 65535, eb, file, r->line);
    r->tls = tls_values[conf_keyword(s, "tls", tls_names)];
    r->ca_file = dupopt(s, "ca-file");
    if (r->ca_file && access(r->ca_file, R_OK) < 0)
        eb_add(eb, "%s:%d: relay %s: ca-file %s: %s", file, r->line, r->name, r->ca_file,
               strerror(errno));
    r->tls_name = dupopt(s, "tls-name");
    getlist(s, "pin-sha256", r->pins, CFG_MAX_PINS, &r->npins, eb, file, r->line);
    for (int i = 0; i < r->npins; i++) {
        const char *why = tls_pin_invalid(r->pins[i]);
        if (why)
            eb_add(eb, "%s:%d: relay %s: pin-sha256 \"%s\": %s", file, r->line, r->name,
                   r->pins[i], why);
    }
    r->tls_allow_weak_keys = cfg_getbool(s, "tls-allow-weak-keys");
    {
        cfg_opt_t *mo = cfg_getopt(s, "auth-mechanisms");
        r->mechs_default = mo && !(mo->flags & CFGF_MODIFIED);
    }
    getlist(s, "auth-mechanisms", r->mechs, CFG_MAX_MECHS, &r->nmechs, eb, file, r->line);
    for (int i = 0; i < r->nmechs; i++) {
        for (char *p = r->mechs[i]; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        static const char *known[] = { "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN" };
        int ok = 0;
        for (size_t k = 0; k < ETP_ARRAY_LEN(known); k++)
            ok |= strcmp(r->mechs[i], known[k]) == 0;
        if (!ok)
            eb_add(eb, "%s:%d: relay %s: auth-mechanisms: unsupported \"%s\" (use SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN)",
                   file, r->line, r->name, r->mechs[i]);
    }
    r->username = dupopt(s, "username");
    r->password_file = dupopt(s, "password-file");
    if (r->username && !r->password_file)
        eb_add(eb, "%s:%d: relay %s: 'username' needs 'password-file'", file, r->line, r->name);
    if (!r->username && r->password_file)
        eb_add(eb, "%s:%d: relay %s: 'password-file' needs 'username'", file, r->line, r->name);
    r->allow_plaintext_auth = cfg_getbool(s, "allow-plaintext-auth");
    if (r->allow_plaintext_auth && r->tls != TLS_NONE)
        eb_add(eb, "%s:%d: relay %s: allow-plaintext-auth only makes sense with tls = none",
               file, r->line, r->name);
    if (r->tls == TLS_NONE && r->username && !r->allow_plaintext_auth)
        eb_add(eb, "%s:%d: relay %s: tls = none with a username would send the password in clear; "
               "set allow-plaintext-auth = yes if you really mean it", file, r->line, r->name);
    getlist(s, "domains", r->nodes, CFG_MAX_NODES, &r->nnodes, eb, file, r->line);
    if (r->nnodes == 0)
        eb_add(eb, "%s:%d: relay %s: 'domains' must list at least one node", file, r->line, r->name);
    for (int i = 0; i < r->nnodes; i++) {
        const char *why = node_invalid(r->nodes[i]);
        if (why)
            eb_add(eb, "%s:%d: relay %s: domain \"%s\": %s", file, r->line, r->name,
                   r->nodes[i], why);
    }
    r->max_etrn_per_session = getint(s, "max-etrn-per-session", 0, 10000, eb, file, r->line);
    r->address_cache = getint(s, "address-cache", 0, ADDRCACHE_LIMIT, eb, file, r->line);
    r->etrn_pipelining = cfg_getbool(s, "etrn-pipelining");
    timeouts_read(s, &r->to, dto, eb, file);
    relay_digest(s, r);
}

static void argv_read(cfg_t *s, const char *name, char **out, int *n, struct errbuf *eb,
                      const char *file)
{
    getlist(s, name, out, CFG_MAX_ARGV - 1, n, eb, file, s->line);
    if (*n > 0 && out[0][0] != '/')
        eb_add(eb, "%s:%d: %s: the program must be an absolute path (no shell, no PATH search): \"%s\"",
               file, s->line, name, out[0]);
    out[*n] = NULL;
}

static int load(cfg_t *cfg, int rc, const char *name, struct etp_config *c, char *err, size_t errsize,
                int have_msgs)
{
    struct errbuf eb = { .buf = err, .size = errsize };
    if (err && errsize)
        err[0] = '\0';
    memset(c, 0, sizeof *c);
    g_oom = 0;
    c->path = sdup(name);
    if (rc == CFG_FILE_ERROR) {
        eb_add(&eb, "%s: %s", name, strerror(errno));
        cfg_free(cfg);
        return -1;
    }
    if (rc != CFG_SUCCESS) {
        if (!have_msgs && err && errsize)
            snprintf(err, errsize, "%s: parse error\n", name);
        cfg_free(cfg);
        return -1;
    }

    const char *e = cfg_getstr(cfg, "ehlo-name");
    c->ehlo_name = (e && *e) ? sdup(e) : default_ehlo_name(cfg);
    for (const char *p = c->ehlo_name; p && *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            char pr[300];
            printable(pr, sizeof pr, c->ehlo_name, strlen(c->ehlo_name));
            eb_add(&eb, "%s: ehlo-name \"%s\" has spaces or control characters", name, pr);
            break;
        }
    c->state_dir = sdup(cfg_getstr(cfg, "state-dir"));
    if (c->state_dir && c->state_dir[0] != '/')
        eb_add(&eb, "%s: state-dir must be an absolute path", name);
    c->user = dupopt(cfg, "user");
    c->poll_timeout = getint(cfg, "poll-timeout", 10, 3600, &eb, name, cfg->line);

    struct timeouts dto = { 30, 300, 300, 300, 30, 60 };
    struct timeouts top;
    timeouts_read(cfg, &top, &dto, &eb, name);

    int nr = (int)cfg_size(cfg, "relay");
    if (nr == 0)
        eb_add(&eb, "%s: no relay configured (add a relay NAME { host = ... domains = {...} } section)", name);
    if (nr > CFG_MAX_RELAYS) {
        eb_add(&eb, "%s: at most %d relays", name, CFG_MAX_RELAYS);
        nr = CFG_MAX_RELAYS;
    }
    for (int i = 0; i < nr; i++)
        relay_read(cfg_getnsec(cfg, "relay", (unsigned)i), &c->relays[c->nrelays++], &top, &eb, name);

    int nd = (int)cfg_size(cfg, "ddns");
    if (nd > CFG_MAX_DDNS) {
        eb_add(&eb, "%s: at most %d ddns sections", name, CFG_MAX_DDNS);
        nd = CFG_MAX_DDNS;
    }
    for (int i = 0; i < nd; i++)
        ddns_section_read(cfg_getnsec(cfg, "ddns", (unsigned)i), &c->ddns[c->nddns++], &eb, name);

    cfg_t *l = cfg_getsec(cfg, "link");
    getlist(l, "interfaces", c->link.interfaces, CFG_MAX_IFACES, &c->link.ninterfaces, &eb, name, l->line);
    for (int i = 0; i < c->link.ninterfaces; i++) {
        const char *n = c->link.interfaces[i];
        int bad = strlen(n) >= 64;
        for (const char *q = n; *q && !bad; q++)
            bad = (unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '/';
        if (bad)
            eb_add(&eb, "%s:%d: link: interfaces: \"%s\" is not an interface name or glob "
                   "(printable ASCII, no space or '/', under 64 characters)", name, l->line, n);
    }
    c->link.require_default_route = cfg_getbool(l, "require-default-route");
    c->link.settle = getint(l, "settle", 0, 600, &eb, name, l->line);
    c->link.interval = getint(l, "interval", 0, 7 * 86400, &eb, name, l->line);
    c->link.backoff_min = getint(l, "backoff-min", 1, 86400, &eb, name, l->line);
    c->link.backoff_max = getint(l, "backoff-max", 1, 7 * 86400, &eb, name, l->line);
    if (c->link.backoff_max < c->link.backoff_min)
        eb_add(&eb, "%s:%d: backoff-max is smaller than backoff-min", name, l->line);
    c->link.cycle_timeout = getint(l, "cycle-timeout", 10, 86400, &eb, name, l->line);

    cfg_t *h = cfg_getsec(cfg, "hold");
    c->hold.enabled = cfg_getbool(h, "enabled");
    c->hold.port = getint(h, "port", 1, 65535, &eb, name, h->line);
    c->hold.local_address = dupopt(h, "local-address");
    c->hold.source = dupopt(h, "source");
    c->hold.quiet = getint(h, "quiet", 1, 3600, &eb, name, h->line);
    c->hold.first_contact = getint(h, "first-contact", 1, 3600, &eb, name, h->line);
    c->hold.max_hold = getint(h, "max-hold", 1, 86400, &eb, name, h->line);
    c->hold.sample_ms = getint(h, "sample-ms", 20, 10000, &eb, name, h->line);
    c->hold.keepalive = cfg_getbool(h, "keepalive");
    c->hold.keepalive_interval = getint(h, "keepalive-interval", 10, 290, &eb, name, h->line);
    argv_read(h, "flush-command", c->hold.flush_argv, &c->hold.nflush, &eb, name);
    c->hold.wait_outbound = cfg_getbool(h, "wait-outbound");
    c->hold.check_local_mta = cfg_getbool(h, "check-local-mta");

    cfg_t *k = cfg_getsec(cfg, "hooks");
    c->hooks.dir = dupopt(k, "dir");
    argv_read(k, "pre-poll", c->hooks.pre_poll, &c->hooks.npre, &eb, name);
    argv_read(k, "post-poll", c->hooks.post_poll, &c->hooks.npost, &eb, name);
    argv_read(k, "hold-done", c->hooks.hold_done, &c->hooks.nhold, &eb, name);
    c->hooks.timeout = getint(k, "timeout", 1, 3600, &eb, name, k->line);

    cfg_free(cfg);
    if (g_oom) {
        eb_add(&eb, "%s: out of memory while loading the configuration; nothing was changed "
               "(free some memory, then start or reload again)", name);
        g_oom = 0;
        return -1;
    }
    if (eb.count > 0)
        return -1;
    return 0;
}

/* ---- parse-time validators: libconfuse knows the current line only
 * while parsing, so value checks that can be made per option live here and
 * report "file:line: ...". Cross-option checks run after parsing. ---- */

/* The index of v in a NULL-terminated list of names, -1 if absent. */
static int conf_pick(const char *v, const char *const *names)
{
    for (int i = 0; v && names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

int conf_keyword(cfg_t *sec, const char *key, const char *const *names)
{
    int k = conf_pick(cfg_getstr(sec, key), names);
    if (k < 0) {                      /* not reached: v_oneof refused it */
        cfg_opt_t *o = cfg_getopt(sec, key);
        k = o ? conf_pick(o->def.string, names) : -1;
    }
    return k < 0 ? 0 : k;
}

int v_oneof(cfg_t *cfg, cfg_opt_t *opt, const char *const *allowed)
{
    const char *v = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
    if (conf_pick(v, allowed) >= 0)
        return 0;
    char list[200] = "";
    for (int i = 0; allowed[i]; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? (allowed[i + 1] ? ", " : " or ") : "", allowed[i]);
    }
    cfg_error(cfg, "%s = \"%s\": must be %s", opt->name, v ? v : "", list);
    return -1;
}

static int v_tls(cfg_t *cfg, cfg_opt_t *opt)
{
    return v_oneof(cfg, opt, tls_names);
}

static int v_port(cfg_t *cfg, cfg_opt_t *opt)
{
    long v = cfg_opt_getnint(opt, 0);
    if (v < 0 || v > 65535) {
        cfg_error(cfg, "%s = %ld is out of range (1..65535)", opt->name, v);
        return -1;
    }
    return 0;
}

/* Every item of a list option through one check (NULL = fine, else why). */
static int v_each(cfg_t *cfg, cfg_opt_t *opt, const char *what, const char *(*invalid)(const char *))
{
    int bad = 0;
    for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
        const char *v = cfg_opt_getnstr(opt, i);
        const char *why = v ? invalid(v) : "empty";
        if (why) {
            cfg_error(cfg, "%s \"%s\": %s", what, v ? v : "", why);
            bad = -1;
        }
    }
    return bad;
}

static int v_domains(cfg_t *cfg, cfg_opt_t *opt) { return v_each(cfg, opt, "domain", node_invalid); }
static int v_pins(cfg_t *cfg, cfg_opt_t *opt) { return v_each(cfg, opt, "pin-sha256", tls_pin_invalid); }

static cfg_t *mkcfg(struct errbuf *eb)
{
    cfg_t *cfg = cfg_init(top_opts, CFGF_NONE);
    g_eb = eb;
    g_top = cfg;
    cfg_set_error_function(cfg, confuse_err);
    cfg_set_validate_func(cfg, "relay|tls", v_tls);
    cfg_set_validate_func(cfg, "relay|port", v_port);
    cfg_set_validate_func(cfg, "relay|domains", v_domains);
    cfg_set_validate_func(cfg, "relay|pin-sha256", v_pins);
    ddns_section_validators(cfg);
    cfg_set_validate_func(cfg, "hold|port", v_port);
    return cfg;
}

static void quote_hint(struct errbuf *eb, const char *file, const char *text, size_t len)
{
    if (eb->buf && conf_quote_hint(eb->buf, &eb->len, eb->size, file, text, len))
        eb->count++;
}

int config_load(const char *path, struct etp_config *c, char *err, size_t errsize)
{
    struct errbuf eb = { .buf = err, .size = errsize };
    if (err && errsize)
        err[0] = '\0';
    cfg_t *cfg = mkcfg(&eb);
    int rc = cfg_parse(cfg, path);
    int saved = errno;
    if (rc == CFG_PARSE_ERROR) {
        size_t tl = 0;
        /* the file libconfuse just read, the same way (a symlinked config is fine) */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        char *text = fd >= 0 ? read_small_fd(fd, 4 << 20, &tl) : NULL;   /* closes fd */
        quote_hint(&eb, path, text, tl);
        free(text);
    }
    /* keep libconfuse's messages: load() appends after them */
    size_t keep = eb.len;
    errno = saved;
    int r = load(cfg, rc, path, c, err ? err + keep : NULL, errsize - keep, keep > 0);
    g_eb = NULL;
    g_top = NULL;
    return r;
}

int config_load_string(const char *text, const char *name, struct etp_config *c,
                       char *err, size_t errsize)
{
    struct errbuf eb = { .buf = err, .size = errsize };
    if (err && errsize)
        err[0] = '\0';
    cfg_t *cfg = mkcfg(&eb);
    /* cfg_parse_buf() would call the text "[buf]"; parse it as a stream
     * under the caller's name so messages read "name:line: ...". */
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    int rc = CFG_PARSE_ERROR;
    if (fp) {
        free(cfg->filename);
        cfg->filename = strdup(name);
        rc = cfg_parse_fp(cfg, fp);
        fclose(fp);
    }
    if (rc == CFG_PARSE_ERROR)
        quote_hint(&eb, name, text, strlen(text));
    size_t keep = eb.len;
    int r = load(cfg, rc, name, c, err ? err + keep : NULL, errsize - keep, keep > 0);
    g_eb = NULL;
    g_top = NULL;
    return r;
}

static void freev(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

void config_free(struct etp_config *c)
{
    free(c->path);
    free(c->ehlo_name);
    free(c->state_dir);
    free(c->user);
    for (int i = 0; i < c->nrelays; i++) {
        struct relay_cfg *r = &c->relays[i];
        free(r->name); free(r->host); free(r->ca_file); free(r->tls_name);
        free(r->username); free(r->password_file);
        freev(r->pins, r->npins);
        freev(r->mechs, r->nmechs);
        freev(r->nodes, r->nnodes);
    }
    for (int i = 0; i < c->nddns; i++)
        ddns_section_free(&c->ddns[i]);
    freev(c->link.interfaces, c->link.ninterfaces);
    free(c->hold.local_address);
    free(c->hold.source);
    freev(c->hold.flush_argv, c->hold.nflush);
    free(c->hooks.dir);
    freev(c->hooks.pre_poll, c->hooks.npre);
    freev(c->hooks.post_poll, c->hooks.npost);
    freev(c->hooks.hold_done, c->hooks.nhold);
    memset(c, 0, sizeof *c);
}

/* ---- secrets ---------------------------------------------------------- */

int secret_read(const char *path, char **out, char *err, size_t errsize)
{
    *out = NULL;
    /* read as root before the drop to the service user (core/priv.h) */
    if (priv_secret_cached(path, out) == 0)
        return 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
     * below as not a regular file); it changes nothing for regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errsize, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    /* one judgement for every trusted file: owner, mode, POSIX ACL */
    if (priv_check_stat(path, fd, &st, PRIV_SECRET, err, errsize) < 0) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    if (st.st_size > 4096) {
        snprintf(err, errsize, "%s: secret file is larger than 4096 bytes", path);
        close(fd);
        return -1;
    }
    char buf[4097];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errsize, "%s: %s", path, strerror(errno));
            close(fd);
            secure_wipe(buf, sizeof buf);
            return -1;
        }
        if (n == 0 || len + (size_t)n >= sizeof buf - 1) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (len == 0 || memchr(buf, '\0', len) || strchr(buf, '\n')) {
        snprintf(err, errsize, "%s: secret file must hold exactly one non-empty line", path);
        secure_wipe(buf, sizeof buf);
        return -1;
    }
    *out = strdup(buf);
    secure_wipe(buf, sizeof buf);
    if (!*out) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

void secret_free(char *s)
{
    if (s) {
        secure_wipe(s, strlen(s));
        free(s);
    }
}
