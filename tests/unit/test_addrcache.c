/* SPDX-License-Identifier: ISC */
/* Unit tests: no DNS on the path that can be avoided (issue 13) — the
 * /etc/hosts reader, the default EHLO name from local data, and the relay
 * address cache (file format, expiry, the resolve order: literal, cache
 * within its TTL, lookup, stale fallback). */
#include "conf/ehlo.h"
#include "core/etchosts.h"
#include "core/log.h"
#include "core/util.h"
#include "smtp/addrcache.h"
#include "unit.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char HOSTS[] =
    "# comment line\n"
    "127.0.0.1\tlocalhost\n"
    "not-an-address gw gw.wrong.example\n"
    "127.0.1.1 gw\n"                              /* dotless first match */
    "192.0.2.7   gw.example.org gw   # the real one\r\n"
    "::1 ip6-localhost ip6-loopback\n"
    "fe80::1%eth0 linklocal.example\n"
    "198.51.100.1 bad_label-.x other.example.net\n";

START_TEST(hosts_lookup)
{
    char c[256];
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "gw", c, sizeof c), 1);
    ck_assert_str_eq(c, "gw.example.org");        /* the line with a dotted name wins */
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "GW.Example.ORG.", c, sizeof c), 1);
    ck_assert_str_eq(c, "gw.example.org");
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "ip6-loopback", c, sizeof c), 1);
    ck_assert_str_eq(c, "ip6-localhost");
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "linklocal.example", c, sizeof c), 1);
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "gw.wrong.example", c, sizeof c), 0);
    ck_assert_str_eq(c, "");                       /* its line has no address */
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "comment", c, sizeof c), 0);
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "real", c, sizeof c), 0);
    /* an invalid first name is skipped; the next valid one is canonical */
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "other.example.net", c, sizeof c), 1);
    ck_assert_str_eq(c, "other.example.net");
    /* only the first len bytes count (no NUL needed) */
    const size_t two = strlen("# comment line\n127.0.0.1\tlocalhost");
    ck_assert_int_eq(etchosts_lookup(HOSTS, two, "localhost", c, sizeof c), 1);
    ck_assert_int_eq(etchosts_lookup(HOSTS, two - 1, "localhost", c, sizeof c), 0);
    ck_assert_int_eq(etchosts_lookup(HOSTS, two, "gw", c, sizeof c), 0);
    /* a canonical name that does not fit is not returned cut */
    char small[5];
    ck_assert_int_eq(etchosts_lookup(HOSTS, strlen(HOSTS), "gw", small, sizeof small), 1);
    ck_assert_str_eq(small, "");
    /* NUL bytes and over-long lines are skipped */
    const char nul[] = "192.0.2.1 a\0b.example x.example\n192.0.2.2 x.example\n";
    ck_assert_int_eq(etchosts_lookup(nul, sizeof nul - 1, "x.example", c, sizeof c), 1);
    ck_assert_str_eq(c, "x.example");
    char *big = malloc(ETCHOSTS_LINE_MAX + 100);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', ETCHOSTS_LINE_MAX + 100);
    memcpy(big, "192.0.2.9 long.example", 22);
    big[ETCHOSTS_LINE_MAX + 99] = '\n';
    ck_assert_int_eq(etchosts_lookup(big, ETCHOSTS_LINE_MAX + 100, "long.example", c, sizeof c), 0);
    free(big);
}
END_TEST

START_TEST(ehlo_order)
{
    char out[256];
    const size_t hl = strlen(HOSTS);
    /* 1. a host name with a dot is taken as it is */
    ck_assert_int_eq(ehlo_choose("gw.site.example", HOSTS, hl, "pub.example.net", out, sizeof out),
                     EHLO_FROM_HOSTNAME);
    ck_assert_str_eq(out, "gw.site.example");
    /* 2. else its canonical name from /etc/hosts */
    ck_assert_int_eq(ehlo_choose("gw", HOSTS, hl, "pub.example.net", out, sizeof out), EHLO_FROM_HOSTS);
    ck_assert_str_eq(out, "gw.example.org");
    /* 3. else the first ddns entry's first hostname */
    ck_assert_int_eq(ehlo_choose("box", HOSTS, hl, "pub.example.net,alt.example.net", out, sizeof out),
                     EHLO_FROM_DDNS);
    ck_assert_str_eq(out, "pub.example.net");
    ck_assert_int_eq(ehlo_choose("box", NULL, 0, "pub.example.net.", out, sizeof out), EHLO_FROM_DDNS);
    ck_assert_str_eq(out, "pub.example.net");
    /* a dotless canonical name in /etc/hosts does not count */
    const char h2[] = "127.0.1.1 box\n";
    ck_assert_int_eq(ehlo_choose("box", h2, strlen(h2), "pub.example.net", out, sizeof out),
                     EHLO_FROM_DDNS);
    /* 4. else the bare name (check warns); bad ddns names are not used */
    ck_assert_int_eq(ehlo_choose("box", HOSTS, hl, "*.example.net", out, sizeof out), EHLO_FROM_BARE);
    ck_assert_str_eq(out, "box");
    ck_assert_int_eq(ehlo_choose("box", HOSTS, hl, "dotless", out, sizeof out), EHLO_FROM_BARE);
    ck_assert_int_eq(ehlo_choose("box", HOSTS, hl, "", out, sizeof out), EHLO_FROM_BARE);
    ck_assert_int_eq(ehlo_choose("box", HOSTS, hl, NULL, out, sizeof out), EHLO_FROM_BARE);
    ck_assert_int_eq(ehlo_choose("", NULL, 0, NULL, out, sizeof out), EHLO_FROM_BARE);
    ck_assert_str_eq(out, "localhost");
}
END_TEST

/* ---- the cache file ------------------------------------------------------- */

START_TEST(cache_format_parse)
{
    struct addrcache_entry e, back;
    memset(&e, 0, sizeof e);
    strcpy(e.host, "Relay.Example.NET");
    e.looked_up = 1764750000;
    e.ttl = 3600;
    ck_assert_int_eq(netaddr_parse("192.0.2.25", &e.addr[0], 0), 0);
    ck_assert_int_eq(netaddr_parse("2001:db8::25", &e.addr[1], 0), 0);
    e.n = 2;
    char *t = addrcache_format(&e);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(addrcache_parse(t, strlen(t), "relay.example.net", &back), 1);
    ck_assert_str_eq(back.host, "Relay.Example.NET");
    ck_assert_int_eq(back.looked_up, 1764750000);
    ck_assert_int_eq(back.ttl, 3600);
    ck_assert_int_eq(back.n, 2);
    ck_assert_int_eq(back.addr[0].family, AF_INET);
    ck_assert_int_eq(back.addr[1].family, AF_INET6);
    ck_assert_mem_eq(back.addr[1].a, e.addr[1].a, 16);
    /* another host's file is not used */
    ck_assert_int_eq(addrcache_parse(t, strlen(t), "other.example.net", &back), 0);
    ck_assert_int_eq(back.n, 0);
    free(t);
}
END_TEST

START_TEST(cache_parse_rejects)
{
    struct addrcache_entry e;
    static const char *bad[] = {
        "",
        "[]",
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60}",                     /* no list */
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60,\"addresses\":[]}",
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60,\"addresses\":[\"mx.example\",1]}",
        "{\"host\":\"mx.example\",\"looked_up\":0,\"ttl\":60,\"addresses\":[\"192.0.2.1\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":1099511627777,\"ttl\":60,\"addresses\":[\"192.0.2.1\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":28000055555555555555555,\"ttl\":60,\"addresses\":[\"192.0.2.1\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":-1,\"addresses\":[\"192.0.2.1\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":604801,\"addresses\":[\"192.0.2.1\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":\"100\",\"ttl\":60,\"addresses\":[\"192.0.2.1\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60,\"addresses\":[\"192.0.2.1\\u0000x\"]}",
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60,\"addresses\":[\"192.0.2.1\"]",  /* cut */
        "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60,\"addresses\":[[[\"192.0.2.1\"]]]}",
    };
    for (size_t i = 0; i < ETP_ARRAY_LEN(bad); i++) {
        memset(&e, 0x5a, sizeof e);
        ck_assert_msg(addrcache_parse(bad[i], strlen(bad[i]), "mx.example", &e) == 0, "accepted %s", bad[i]);
        ck_assert_int_eq(e.n, 0);
    }
    /* invalid entries are skipped, at most ADDRCACHE_MAX kept, v4-mapped unmapped */
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "{\"host\":\"mx.example\",\"looked_up\":100,\"ttl\":60,"
                     "\"addresses\":[\"bogus\",\"::ffff:192.0.2.1\"");
    for (int i = 0; i < 30; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"192.0.2.%d\"", i + 2);
    snprintf(buf + n, sizeof buf - (size_t)n, "]}");
    ck_assert_int_eq(addrcache_parse(buf, strlen(buf), "mx.example", &e), 1);
    ck_assert_int_eq(e.n, ADDRCACHE_MAX);
    ck_assert_int_eq(e.addr[0].family, AF_INET);
    /* larger than ADDRCACHE_FILE_MAX: not read */
    char *big = malloc(ADDRCACHE_FILE_MAX + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', ADDRCACHE_FILE_MAX + 1);
    memcpy(big, buf, strlen(buf));
    ck_assert_int_eq(addrcache_parse(big, ADDRCACHE_FILE_MAX + 1, "mx.example", &e), 0);
    free(big);
}
END_TEST

START_TEST(cache_expiry)
{
    struct addrcache_entry e;
    memset(&e, 0, sizeof e);
    strcpy(e.host, "mx.example");
    e.looked_up = 1000000;
    e.ttl = 3600;
    e.n = 1;
    ck_assert_int_eq(addrcache_fresh(&e, 1000000, 3600), 1);
    ck_assert_int_eq(addrcache_fresh(&e, 1003599, 3600), 1);
    ck_assert_int_eq(addrcache_fresh(&e, 1003600, 3600), 0);    /* TTL over */
    ck_assert_int_eq(addrcache_fresh(&e, 1000600, 600), 0);     /* the relay's address-cache lowered */
    ck_assert_int_eq(addrcache_fresh(&e, 1000599, 600), 1);
    ck_assert_int_eq(addrcache_fresh(&e, 1003599, 86400), 1);   /* raised: the stored TTL still holds */
    ck_assert_int_eq(addrcache_fresh(&e, 1003600, 86400), 0);
    ck_assert_int_eq(addrcache_fresh(&e, 999999, 3600), 0);     /* the clock went back */
    ck_assert_int_eq(addrcache_fresh(&e, 1000000, 0), 0);       /* off */
    e.n = 0;
    ck_assert_int_eq(addrcache_fresh(&e, 1000000, 3600), 0);
}
END_TEST

/* ---- the record's TTL ------------------------------------------------------- */

/* A response for relay.example A IN with the given answers (owner: a
 * pointer to the question's name). */
struct rr { unsigned type, cls; uint32_t ttl; unsigned rdlen; };
static size_t answer(unsigned char *m, unsigned flags, const struct rr *rr, int n)
{
    static const unsigned char q[] = "\5relay\7example\0\0\1\0\1";
    size_t l = 0;
    m[l++] = 0x12; m[l++] = 0x34;
    m[l++] = (unsigned char)(flags >> 8); m[l++] = (unsigned char)flags;
    m[l++] = 0; m[l++] = 1;
    m[l++] = 0; m[l++] = (unsigned char)n;
    memset(m + l, 0, 4); l += 4;
    memcpy(m + l, q, sizeof q - 1); l += sizeof q - 1;
    for (int i = 0; i < n; i++) {
        m[l++] = 0xc0; m[l++] = 12;
        m[l++] = (unsigned char)(rr[i].type >> 8); m[l++] = (unsigned char)rr[i].type;
        m[l++] = (unsigned char)(rr[i].cls >> 8); m[l++] = (unsigned char)rr[i].cls;
        for (int k = 3; k >= 0; k--)
            m[l++] = (unsigned char)(rr[i].ttl >> (8 * k));
        m[l++] = 0; m[l++] = (unsigned char)rr[i].rdlen;
        memset(m + l, 7, rr[i].rdlen); l += rr[i].rdlen;
    }
    return l;
}

START_TEST(record_ttl)
{
    unsigned char m[1024];
    struct rr two_a[] = { { 1, 1, 3600, 4 }, { 1, 1, 300, 4 } };
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8180, two_a, 2)), 300);
    struct rr cname[] = { { 5, 1, 60, 2 }, { 1, 1, 3600, 4 } };
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8180, cname, 2)), 60);
    struct rr others[] = { { 16, 1, 5, 3 }, { 1, 3, 7, 4 }, { 28, 1, 900, 16 } };  /* TXT, class CH */
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8180, others, 3)), 900);
    struct rr huge[] = { { 1, 1, 0x80000000u, 4 } };                          /* RFC 2181 8 */
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8180, huge, 1)), 0);
    struct rr max[] = { { 1, 1, 0x7fffffffu, 4 } };
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8180, max, 1)), 0x7fffffff);
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8180, NULL, 0)), -1);    /* no answer */
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x8183, two_a, 2)), -1);   /* NXDOMAIN */
    ck_assert_int_eq(addrcache_answer_ttl(m, answer(m, 0x0100, two_a, 2)), -1);   /* a query */
    size_t l = answer(m, 0x8180, two_a, 2);
    for (size_t cut = 0; cut < l; cut++)                                         /* every truncation */
        ck_assert_msg(addrcache_answer_ttl(m, cut) == -1, "cut at %zu accepted", cut);
    ck_assert_int_eq(addrcache_answer_ttl(m, l), 300);
    m[l - 5] = 40;                                                               /* rdlen past the end */
    ck_assert_int_eq(addrcache_answer_ttl(m, l), -1);
}
END_TEST

/* ---- resolving with a state dir --------------------------------------------- */

static char dir[128], hostsf[160], cachef[300];

static void setup_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/etp-addrcache-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(hostsf, sizeof hostsf, "%s/hosts", dir);
    FILE *f = fopen(hostsf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("192.0.2.77 pinned.example\n", f);
    fclose(f);
    etchosts_file = hostsf;
    /* a failing query must fail fast wherever the tests run (glibc) */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
}

static void cache_path(const char *relay, const char *host)
{
    char name[160];
    ck_assert_int_eq(addrcache_file_name(relay, host, name, sizeof name), 0);
    snprintf(cachef, sizeof cachef, "%s/%s", dir, name);
}

static void write_cache(const char *host, int64_t looked_up, int ttl, const char *addr)
{
    FILE *f = fopen(cachef, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"host\":\"%s\",\"looked_up\":%lld,\"ttl\":%d,\"addresses\":[\"%s\"]}\n", host,
            (long long)looked_up, ttl, addr);
    fclose(f);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void addr_is(const struct relay_addrs *ra, int i, const char *want)
{
    char a[INET6_ADDRSTRLEN] = "";
    const struct sockaddr_storage *ss = &ra->ss[i];
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof a);
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof a);
    ck_assert_str_eq(a, want);
}

START_TEST(resolve_order)
{
    setup_dir();
    struct relay_addrs ra;
    char err[256];

    /* an address literal: no cache file at all */
    cache_path("lit", "192.0.2.1");
    ck_assert_int_eq(addrcache_resolve(dir, "lit", "192.0.2.1", 3600, 0, &ra, err, sizeof err, NULL), 0);
    ck_assert_int_eq(ra.origin, ADDR_LITERAL);
    ck_assert_int_eq(ra.n, 1);
    addr_is(&ra, 0, "192.0.2.1");
    ck_assert(!exists(cachef));
    ck_assert_int_eq(addrcache_resolve(dir, "lit6", "2001:db8::1", 3600, 0, &ra, err, sizeof err, NULL), 0);
    ck_assert_int_eq(ra.origin, ADDR_LITERAL);

    /* within the TTL: the cached address, no lookup (the name does not
     * resolve, so a lookup would have ended in the stale fallback) */
    cache_path("mx", "cached.invalid");
    write_cache("cached.invalid", now_wall() - 100, 3600, "192.0.2.50");
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 3600, 0, &ra, err, sizeof err, NULL), 0);
    ck_assert_int_eq(ra.origin, ADDR_CACHED);
    ck_assert_int_eq(ra.n, 1);
    addr_is(&ra, 0, "192.0.2.50");
    ck_assert(ra.age >= 100 && ra.age < 200);

    /* past it: the lookup fails, the stale address is used */
    write_cache("cached.invalid", now_wall() - 4000, 3600, "192.0.2.51");
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 3600, 0, &ra, err, sizeof err, NULL), 0);
    ck_assert_int_eq(ra.origin, ADDR_STALE);
    addr_is(&ra, 0, "192.0.2.51");
    /* a forced refresh (the cached addresses did not answer) has no fallback */
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 3600, 1, &ra, err, sizeof err, NULL), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot resolve cached.invalid"));
    /* a cache of another host (the relay's host changed) is not used */
    write_cache("old.invalid", now_wall() - 10, 3600, "192.0.2.52");
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 3600, 0, &ra, err, sizeof err, NULL), -1);
    /* address-cache = 0: the file is neither used nor written */
    write_cache("cached.invalid", now_wall() - 10, 3600, "192.0.2.53");
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 0, 0, &ra, err, sizeof err, NULL), -1);

    /* a successful lookup is stored ("localhost" resolves locally and is
     * not in the test's hosts file) */
    cache_path("lo", "localhost");
    write_cache("localhost", now_wall() - 90000, 86400, "192.0.2.60");
    int64_t before = now_wall();
    ck_assert_int_eq(addrcache_resolve(dir, "lo", "localhost", 600, 0, &ra, err, sizeof err, NULL), 0);
    ck_assert_int_eq(ra.origin, ADDR_LOOKUP);
    size_t len;
    char *text = read_small_file(cachef, 65536, &len);
    ck_assert_ptr_nonnull(text);
    struct addrcache_entry e;
    ck_assert_int_eq(addrcache_parse(text, len, "localhost", &e), 1);
    free(text);
    ck_assert(e.looked_up >= before && e.looked_up <= now_wall());
    ck_assert_int_eq(e.ttl, 600);
    ck_assert_int_eq(e.n, ra.n);
    ck_assert(strstr(cachef, "/addrs-lo-") != NULL);
    /* and used on the next call */
    ck_assert_int_eq(addrcache_resolve(dir, "lo", "localhost", 600, 0, &ra, err, sizeof err, NULL), 0);
    ck_assert_int_eq(ra.origin, ADDR_CACHED);

    /* past the TTL with a pending lookup: the stale address at once, the
     * lookup in a thread; collected, it rewrites the file */
    struct addrcache_pending *pend = NULL;
    write_cache("localhost", now_wall() - 90000, 600, "192.0.2.61");
    ck_assert_int_eq(addrcache_resolve(dir, "lo", "localhost", 600, 0, &ra, err, sizeof err, &pend), 0);
    ck_assert_int_eq(ra.origin, ADDR_REFRESHING);
    ck_assert_ptr_nonnull(pend);
    addr_is(&ra, 0, "192.0.2.61");
    struct relay_addrs fresh;
    ck_assert_int_eq(addrcache_collect(&pend, 10000, &fresh), 1);
    ck_assert_ptr_null(pend);
    ck_assert_int_ge(fresh.n, 1);
    text = read_small_file(cachef, 65536, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(addrcache_parse(text, len, "localhost", &e), 1);
    free(text);
    ck_assert(e.looked_up >= before);
    ck_assert_int_eq(addrcache_fresh(&e, now_wall(), 600), 1);
    /* within the TTL nothing is started */
    ck_assert_int_eq(addrcache_resolve(dir, "lo", "localhost", 600, 0, &ra, err, sizeof err, &pend), 0);
    ck_assert_int_eq(ra.origin, ADDR_CACHED);
    ck_assert_ptr_null(pend);
    /* a failing refresh keeps the stale entry */
    cache_path("mx", "cached.invalid");
    int64_t old = now_wall() - 5000;
    write_cache("cached.invalid", old, 3600, "192.0.2.54");
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 3600, 0, &ra, err, sizeof err, &pend), 0);
    ck_assert_int_eq(ra.origin, ADDR_REFRESHING);
    ck_assert_int_eq(addrcache_collect(&pend, 10000, NULL), 0);
    text = read_small_file(cachef, 65536, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(addrcache_parse(text, len, "cached.invalid", &e), 1);
    free(text);
    ck_assert_int_eq(e.looked_up, old);
    /* collecting nothing */
    ck_assert_int_eq(addrcache_collect(&pend, 0, NULL), -1);

    /* a name in /etc/hosts (the test's file; getaddrinfo reads the real
     * one, where it is not) bypasses the cache: a fresh entry is not used,
     * there is no stale fallback, and nothing is written */
    cache_path("pin", "pinned.example");
    ck_assert_int_eq(addrcache_resolve(dir, "pin", "pinned.example", 3600, 0, &ra, err, sizeof err, NULL), -1);
    ck_assert(!exists(cachef));
    write_cache("pinned.example", now_wall() - 10, 3600, "192.0.2.70");
    ck_assert_int_eq(addrcache_resolve(dir, "pin", "pinned.example", 3600, 0, &ra, err, sizeof err, NULL), -1);

    /* a planted link is never read through */
    cache_path("mx", "cached.invalid");
    unlink(cachef);
    char target[200];
    snprintf(target, sizeof target, "%s/target", dir);
    FILE *f = fopen(target, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"host\":\"cached.invalid\",\"looked_up\":%lld,\"ttl\":3600,\"addresses\":[\"192.0.2.99\"]}",
            (long long)now_wall());
    fclose(f);
    ck_assert_int_eq(symlink(target, cachef), 0);
    ck_assert_int_eq(addrcache_resolve(dir, "mx", "cached.invalid", 3600, 0, &ra, err, sizeof err, NULL), -1);
    /* forgetting removes the link, never its target */
    addrcache_forget(dir, "mx", "cached.invalid");
    ck_assert(!exists(cachef));
    ck_assert(exists(target));
    write_cache("cached.invalid", now_wall(), 3600, "192.0.2.55");
    addrcache_forget(dir, "mx", "cached.invalid");
    ck_assert(!exists(cachef));

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

UNIT_MAIN("addrcache", hosts_lookup, ehlo_order, cache_format_parse, cache_parse_rejects, cache_expiry,
          record_ttl, resolve_order)
