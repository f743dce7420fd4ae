/* SPDX-License-Identifier: ISC */
/* Unit tests: no DNS on the path that can be avoided (issue 13) — the
 * /etc/hosts reader, the default EHLO name from local data, and the relay
 * address cache (file format, expiry, the resolve order: literal, cache
 * within its TTL, lookup, stale fallback). */
#include "conf/ehlo.h"
#include "core/etchosts.h"
#include "core/log.h"
#include "core/util.h"
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

UNIT_MAIN("addrcache", hosts_lookup, ehlo_order)
