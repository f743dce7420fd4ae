/* SPDX-License-Identifier: ISC */
/* fuzz_config.c — the configuration file parser (config_load_string():
 * libconfuse via fmemopen + etrnpoll's validation).  Each input is parsed
 * twice: with a roomy error buffer and with a tiny exact-size one (ASan sees
 * any write past it).  Invariants of an accepted config: the limits of
 * config.h hold, every node passes node_invalid(), argv[0] is absolute and
 * argv lists are NULL-terminated.  config_free() after every parse (the
 * callers' contract, also after a failure), so LeakSanitizer checks it.
 *
 * No network: getaddrinfo() (the default ehlo-name's FQDN lookup) is
 * replaced by a stub that finds nothing, so a run never waits for DNS. */
#include "fuzz.h"
#include "conf/config.h"
#include <netdb.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    (void)node; (void)service; (void)hints;
    *res = NULL;
    return EAI_NONAME;
}

static void check_argv(char *const *v, int n)
{
    FZ_CHECK(n >= 0 && n < CFG_MAX_ARGV);
    FZ_CHECK(v[n] == NULL);
    if (n > 0)
        FZ_CHECK(v[0][0] == '/');
    for (int i = 0; i < n; i++)
        FZ_CHECK(v[i] && v[i][0]);
}

static void check_cfg(const struct etp_config *c)
{
    FZ_CHECK(c->nrelays >= 1 && c->nrelays <= CFG_MAX_RELAYS);
    FZ_CHECK(c->nddns >= 0 && c->nddns <= CFG_MAX_DDNS);
    FZ_CHECK(c->ehlo_name && c->ehlo_name[0]);
    FZ_CHECK(!strpbrk(c->ehlo_name, " \t\r\n"));
    FZ_CHECK(c->state_dir && c->state_dir[0] == '/');
    for (int i = 0; i < c->nrelays; i++) {
        const struct relay_cfg *r = &c->relays[i];
        FZ_CHECK(r->name && r->host && r->host[0]);
        FZ_CHECK(r->port >= 0 && r->port <= 65535);
        FZ_CHECK(relay_port(r) >= 1 && relay_port(r) <= 65535);
        FZ_CHECK(r->tls == TLS_STARTTLS || r->tls == TLS_IMPLICIT || r->tls == TLS_NONE);
        FZ_CHECK(r->nnodes >= 1 && r->nnodes <= CFG_MAX_NODES);
        for (int k = 0; k < r->nnodes; k++)
            FZ_CHECK(node_invalid(r->nodes[k]) == NULL);
        FZ_CHECK(r->npins >= 0 && r->npins <= CFG_MAX_PINS);
        FZ_CHECK(r->nmechs >= 0 && r->nmechs <= CFG_MAX_MECHS);
        FZ_CHECK(!r->username == !r->password_file);
        if (r->username && r->tls == TLS_NONE)
            FZ_CHECK(r->allow_plaintext_auth);
        const int *to = &r->to.connect;
        for (int k = 0; k < 6; k++)
            FZ_CHECK(to[k] >= 1 && to[k] <= 3600);
        FZ_CHECK(r->max_etrn_per_session >= 0 && r->max_etrn_per_session <= 10000);
    }
    for (int i = 0; i < c->nddns; i++) {
        const struct ddns_cfg *d = &c->ddns[i];
        FZ_CHECK(d->name && d->hostname);
        FZ_CHECK(d->ipv4 || d->ipv6);
        FZ_CHECK(d->success_min >= 100 && d->success_max <= 599 && d->success_min <= d->success_max);
        FZ_CHECK(d->nheaders >= 0 && d->nheaders <= CFG_MAX_HEADERS);
        FZ_CHECK(d->ttl >= 1 && d->ttl <= 86400);
    }
    FZ_CHECK(c->hold.port >= 1 && c->hold.port <= 65535);
    FZ_CHECK(c->hold.sample_ms >= 20 && c->hold.sample_ms <= 10000);
    FZ_CHECK(c->link.backoff_min <= c->link.backoff_max);
    FZ_CHECK(c->link.ninterfaces >= 0 && c->link.ninterfaces <= CFG_MAX_IFACES);
    FZ_CHECK(c->hooks.timeout >= 1 && c->hooks.timeout <= 3600);
    check_argv(c->hold.flush_argv, c->hold.nflush);
    check_argv(c->hooks.pre_poll, c->hooks.npre);
    check_argv(c->hooks.post_poll, c->hooks.npost);
    check_argv(c->hooks.hold_done, c->hooks.nhold);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = fz_strdup(data, size);
    struct etp_config c;
    char *err = malloc(8192);
    if (!err)
        abort();
    int r = config_load_string(text, "fuzz.conf", &c, err, 8192);
    FZ_CHECK(r == 0 || r == -1);
    FZ_CHECK(strnlen(err, 8192) < 8192);
    if (r == 0) {
        FZ_CHECK(err[0] == '\0');
        check_cfg(&c);
    } else {
        FZ_CHECK(err[0] != '\0');
    }
    config_free(&c);
    free(err);

    /* a tiny error buffer: messages are cut, never written past the end */
    enum { SMALL = 23 };
    err = malloc(SMALL);
    if (!err)
        abort();
    int r2 = config_load_string(text, "f", &c, err, SMALL);
    FZ_CHECK(r2 == r);
    FZ_CHECK(strnlen(err, SMALL) < SMALL);
    config_free(&c);
    free(err);
    free(text);
    return 0;
}
