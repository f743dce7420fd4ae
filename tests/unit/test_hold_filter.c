/* SPDX-License-Identifier: ISC */
/* Unit tests: the hold's pure parts beside the state machine:
 *   - the address/prefix filter (hold.source, local-address, check_config);
 *   - the inet_diag bytecode, run by a user-space copy of the kernel's;
 *   - the learned state (hold-learned.json): roundtrip, bounds, bad input. */
#include "hold/hold.h"
#include "hold/sockdiag.h"
#include "hold/learn.h"
#include "core/util.h"
#include "hold_fixture.h"
#include "unit.h"
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* ---- prefix filter ------------------------------------------------------ */

static int match(const char *prefix, const char *addr)
{
    struct hold_prefix p;
    ck_assert_msg(hold_prefix_parse(prefix, &p) == 0, "parse %s", prefix);
    uint8_t a[16] = { 0 };
    if (inet_pton(AF_INET, addr, a) == 1)
        return hold_prefix_match(&p, AF_INET, a);
    ck_assert_int_eq(inet_pton(AF_INET6, addr, a), 1);
    return hold_prefix_match(&p, AF_INET6, a);
}

START_TEST(source_list)
{
    struct hold_prefix p[HOLD_MAX_SOURCES];
    int any, bad;
    ck_assert_int_eq(hold_source_parse("192.0.2.1, 10.64.0.0/16 2001:db8::/32", p, 16, &any, &bad), 3);
    ck_assert_int_eq(any, 0);
    uint8_t a[16] = { 10, 64, 3, 4 };
    ck_assert(hold_prefix_match(&p[1], AF_INET, a));
    ck_assert_int_eq(hold_source_parse("any", p, 16, &any, &bad), 0);
    ck_assert_int_eq(any, 1);
    ck_assert_int_eq(hold_source_parse("any, 192.0.2.1", p, 16, &any, &bad), -1);
    ck_assert_int_eq(hold_source_parse("192.0.2.1,mx.example", p, 16, &any, &bad), -1);
    ck_assert_int_eq(bad, 1);
    ck_assert_int_eq(hold_source_parse("1.1.1.1 2.2.2.2 3.3.3.3", p, 2, &any, &bad), -1);
    char err[512];
    struct hold_cfg h;
    memset(&h, 0, sizeof h);
    h.local_address = "192.0.2.41";            /* TEST-NET: not on this host */
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not an address of this host"), "%s", err);
    h.local_address = "::1";
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), 0);
    h.local_address = NULL;
    h.source = "any";
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), 0);
}
END_TEST

START_TEST(prefix_parse)
{
    struct hold_prefix p;
    ck_assert_int_eq(hold_prefix_parse("192.0.2.1", &p), 0);
    ck_assert_int_eq(p.family, AF_INET);
    ck_assert_int_eq(p.bits, 32);
    ck_assert_int_eq(hold_prefix_parse("10.0.0.0/8", &p), 0);
    ck_assert_int_eq(p.bits, 8);
    ck_assert_int_eq(hold_prefix_parse("2001:db8::/32", &p), 0);
    ck_assert_int_eq(p.family, AF_INET6);
    ck_assert_int_eq(p.bits, 32);
    ck_assert_int_eq(hold_prefix_parse("[2001:db8::1]", &p), 0);
    ck_assert_int_eq(p.bits, 128);
    ck_assert_int_eq(hold_prefix_parse("::ffff:10.1.2.3", &p), 0);
    ck_assert_int_eq(p.family, AF_INET);
    ck_assert_int_eq(p.bits, 32);
    ck_assert_int_eq(hold_prefix_parse("::ffff:10.1.0.0/112", &p), 0);
    ck_assert_int_eq(p.family, AF_INET);
    ck_assert_int_eq(p.bits, 16);
    ck_assert_int_eq(hold_prefix_parse("0.0.0.0/0", &p), 0);
    const char *bad[] = { "", "abc", "10.0.0.0/33", "10.0.0.1/", "1.2.3.4/x", "2001:db8::/129",
                          "10.0.0.0/-1", "10.0.0.0/0008", "1.2.3", "10.0.0.1 ", "/8",
                          "2001:db8::1/64/1",
                          "[2001:db8::1", "[2001:db8::1]x", "[2001:db8::1]]", "[[::1]",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(hold_prefix_parse(bad[i], &p) == -1, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(hold_prefix_parse(NULL, &p), -1);
}
END_TEST

START_TEST(prefix_match)
{
    ck_assert(match("10.0.0.0/8", "10.255.1.2"));
    ck_assert(!match("10.0.0.0/8", "11.0.0.1"));
    ck_assert(match("192.0.2.128/25", "192.0.2.200"));
    ck_assert(!match("192.0.2.128/25", "192.0.2.127"));
    ck_assert(match("192.0.2.7/31", "192.0.2.6"));
    ck_assert(!match("192.0.2.7/31", "192.0.2.8"));
    ck_assert(match("127.0.0.40", "127.0.0.40"));
    ck_assert(!match("127.0.0.40", "127.0.0.41"));
    ck_assert(match("0.0.0.0/0", "203.0.113.9"));
    ck_assert(!match("0.0.0.0/0", "2001:db8::1"));         /* families differ */
    ck_assert(match("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!match("2001:db8::/32", "2001:db9::1"));
    ck_assert(match("2001:db8::/33", "2001:db8:7fff::1"));
    ck_assert(!match("2001:db8::/33", "2001:db8:8000::1"));
    ck_assert(!match("2001:db8::1", "10.0.0.1"));
    ck_assert(match("::ffff:10.0.0.0/104", "10.9.9.9"));     /* mapped form of 10/8 */
    /* a v4-mapped peer (an IPv4 delivery to a dual-stack listener) is IPv4 */
    ck_assert(match("10.0.0.0/8", "::ffff:10.1.2.3"));
    ck_assert(!match("10.0.0.0/8", "::ffff:11.1.2.3"));
    ck_assert(match("[2001:db8::]/32", "2001:db8::5"));
    struct hold_prefix any = { 0 };
    uint8_t a[16] = { 1 };
    ck_assert(hold_prefix_match(&any, AF_INET6, a));
}
END_TEST

START_TEST(check_config)
{
    char err[256];
    struct hold_cfg h;
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), 0);
    h.local_address = "127.0.0.41";
    h.source = "127.0.0.0/8";
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), 0);
    h.local_address = "127.0.0.0/8";
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "local-address"), "%s", err);
    h.local_address = NULL;
    h.source = "mx.example.org";
    ck_assert_int_eq(hold_check_config(&h, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "source"), "%s", err);
    ck_assert_str_eq(hold_end_name(HOLD_QUIET), "quiet");
    ck_assert_str_eq(hold_end_name(HOLD_NO_CONTACT), "no-contact");
    ck_assert_str_eq(hold_end_name(HOLD_MAX), "max-hold");
}
END_TEST

/* ---- bytecode ----------------------------------------------------------- */

/* A user-space copy of the kernel's inet_diag_bc_run() for port ops, to
 * check our programs' semantics without a kernel. */
static int bc_run(const unsigned char *bc, int len, uint16_t sport, uint16_t dport)
{
    while (len > 0) {
        const struct inet_diag_bc_op *op = (const void *)bc;
        int yes = 1;
        switch (op->code) {
        case INET_DIAG_BC_NOP: break;
        case INET_DIAG_BC_JMP: yes = 0; break;
        case INET_DIAG_BC_S_GE: yes = sport >= op[1].no; break;
        case INET_DIAG_BC_S_LE: yes = sport <= op[1].no; break;
        case INET_DIAG_BC_D_GE: yes = dport >= op[1].no; break;
        case INET_DIAG_BC_D_LE: yes = dport <= op[1].no; break;
        default: return -1;
        }
        if (yes) { len -= op->yes; bc += op->yes; }
        else { len -= op->no; bc += op->no; }
    }
    return len == 0;
}

START_TEST(bytecode_semantics)
{
    unsigned char bc[128];
    struct sd_query in = { .remote = 0, .ports = { 25 }, .nports = 1 };
    int len = sd_bytecode(&in, bc, sizeof bc);
    ck_assert_int_eq(len, 16);
    ck_assert_int_eq(bc_run(bc, len, 25, 40000), 1);
    ck_assert_int_eq(bc_run(bc, len, 24, 25), 0);
    ck_assert_int_eq(bc_run(bc, len, 26, 25), 0);
    struct sd_query out = { .remote = 1, .ports = { 25, 465, 587 }, .nports = 3 };
    len = sd_bytecode(&out, bc, sizeof bc);
    ck_assert_int_eq(len, 56);
    for (unsigned p = 1; p < 1000; p++)
        ck_assert_int_eq(bc_run(bc, len, 40000, (uint16_t)p), p == 25 || p == 465 || p == 587);
    struct sd_query bad = { .nports = 0 };
    ck_assert_int_eq(sd_bytecode(&bad, bc, sizeof bc), -1);
    ck_assert_int_eq(sd_bytecode(&in, bc, 8), -1);
}
END_TEST

/* ---- the learned state ------------------------------------------------- */

START_TEST(learn_roundtrip_and_bound)
{
    struct hold_learned l[2];
    memset(l, 0, sizeof l);
    strcpy(l[0].relay, "isp");
    hold_learn_id("198.51.100.25", 25, 25, NULL, NULL, l[0].config);
    uint8_t a4[16] = { 10, 64, 0, 1 };
    hold_learn_add_source(&l[0], AF_INET, a4, 1700000000000LL);
    hold_learn_record(&l[0], 40, 1200, 1700000000000LL);
    hold_learn_record(&l[0], -1, 0, 1700000000000LL);
    ck_assert_int_eq(l[0].empty_streak, 1);
    ck_assert_int_eq(l[0].polls_with_mail, 1);
    strcpy(l[1].relay, "backup");
    hold_learn_id("mx2.example", 465, 25, "127.0.0.1", "any", l[1].config);
    ck_assert_str_ne(l[0].config, l[1].config);
    char *txt = hold_learn_format(l, 2);
    ck_assert_ptr_nonnull(txt);
    struct hold_learned back[4];
    char err[160];
    int skipped;
    ck_assert_int_eq(hold_learn_parse(txt, strlen(txt), back, 4, &skipped, err, sizeof err), 2);
    ck_assert_int_eq(skipped, 0);
    ck_assert_str_eq(back[0].relay, "isp");
    ck_assert_str_eq(back[0].config, l[0].config);
    ck_assert(hold_learn_has_source(&back[0], AF_INET, a4));
    ck_assert_int_eq(back[0].ncontacts, 1);
    ck_assert_int_eq(back[0].contact_ms[0], 40);
    ck_assert_int_eq(back[0].empty_streak, 1);
    ck_assert_int_eq(hold_learn_gap(&back[0]), 1200);
    free(txt);
    /* the bound: 3 x slowest + 2 s, floor 5 s, ceiling first-contact */
    ck_assert_int_eq(hold_learn_bound(&back[0], S(120)), 5000);
    back[0].contact_ms[0] = 3000;
    ck_assert_int_eq(hold_learn_bound(&back[0], S(120)), 11000);
    back[0].contact_ms[0] = 50000;
    ck_assert_int_eq(hold_learn_bound(&back[0], S(120)), S(120));
    ck_assert_int_eq(hold_learn_bound(&back[1], S(120)), 0);   /* nothing learned */
    /* sources: bounded, the least recently seen replaced */
    for (int i = 0; i < HOLD_LEARN_MAX_SOURCES + 3; i++) {
        uint8_t a[16] = { 192, 0, 2, (uint8_t)i };
        hold_learn_add_source(&back[1], AF_INET, a, 1000 + i);
    }
    ck_assert_int_eq(back[1].nsources, HOLD_LEARN_MAX_SOURCES);
    uint8_t newest[16] = { 192, 0, 2, HOLD_LEARN_MAX_SOURCES + 2 }, oldest[16] = { 192, 0, 2, 0 };
    ck_assert(hold_learn_has_source(&back[1], AF_INET, newest));
    ck_assert(!hold_learn_has_source(&back[1], AF_INET, oldest));
    /* samples: the most recent kept */
    for (int i = 0; i < 20; i++)
        hold_learn_record(&back[1], i, 0, 1);
    ck_assert_int_eq(back[1].ncontacts, HOLD_LEARN_MAX_SAMPLES);
    ck_assert_int_eq(back[1].contact_ms[HOLD_LEARN_MAX_SAMPLES - 1], 19);
}
END_TEST

START_TEST(learn_parse_refuses_bad_input)
{
    struct hold_learned out[4];
    char err[160];
    int skipped;
    const char *bad_docs[] = {
        "", "[]", "{}", "{\"version\":2,\"relays\":[]}", "{\"version\":1}",
        "{\"version\":1,\"relays\":{}}", "{\"version\":1,\"relays\":[]} x",
        "{\"version\":1,\"relays\":[", "null",
    };
    for (size_t i = 0; i < ETP_ARRAY_LEN(bad_docs); i++)
        ck_assert_msg(hold_learn_parse(bad_docs[i], strlen(bad_docs[i]), out, 4, &skipped, err,
                                       sizeof err) == -1, "accepted %s", bad_docs[i]);
    const char nul[] = "{\"version\":1,\"relays\":[]}\0";
    ck_assert_int_eq(hold_learn_parse(nul, sizeof nul, out, 4, &skipped, err, sizeof err), -1);
    /* bad entries are skipped one by one; the good one is kept */
    const char *doc =
        "{\"version\":1,\"relays\":["
        "{\"relay\":\"ok\",\"config\":\"0123456789abcdef\",\"sources\":[{\"addr\":\"10.0.0.1\",\"last_ms\":5}],"
        " \"contact_ms\":[1,2],\"polls_with_mail\":2,\"empty_streak\":0,\"last_mail_ms\":5},"
        "{\"relay\":\"badaddr\",\"config\":\"0123456789abcdef\",\"sources\":[{\"addr\":\"10.0.0.0/8\",\"last_ms\":5}],"
        " \"polls_with_mail\":0,\"empty_streak\":0,\"last_mail_ms\":0},"
        "{\"relay\":\"badid\",\"config\":\"XYZ\",\"polls_with_mail\":0,\"empty_streak\":0,\"last_mail_ms\":0},"
        "{\"relay\":\"neg\",\"config\":\"0123456789abcdef\",\"contact_ms\":[-1],\"polls_with_mail\":0,\"empty_streak\":0,\"last_mail_ms\":0},"
        "{\"relay\":\"esc\\u001b[2J\",\"config\":\"0123456789abcdef\",\"polls_with_mail\":0,\"empty_streak\":0,\"last_mail_ms\":0},"
        "{\"relay\":\"many\",\"config\":\"0123456789abcdef\",\"contact_ms\":[1,2,3,4,5,6,7,8,9],\"polls_with_mail\":0,\"empty_streak\":0,\"last_mail_ms\":0},"
        "{\"relay\":\"ok\",\"config\":\"0123456789abcdef\",\"polls_with_mail\":0,\"empty_streak\":0,\"last_mail_ms\":0},"
        "7]}";
    ck_assert_int_eq(hold_learn_parse(doc, strlen(doc), out, 4, &skipped, err, sizeof err), 1);
    ck_assert_int_eq(skipped, 7);
    ck_assert_str_eq(out[0].relay, "ok");
    ck_assert_int_eq(out[0].nsources, 1);
    ck_assert_int_eq(out[0].ncontacts, 2);
}
END_TEST


int main(void)
{
    Suite *s = suite_create("hold-filter");
    UNIT_CASE(s, "filter", source_list, prefix_parse, prefix_match, check_config,
              bytecode_semantics);
    TCase *tc = UNIT_CASE(s, "learned state", learn_roundtrip_and_bound,
                          learn_parse_refuses_bad_input);
    tcase_set_timeout(tc, 60);
    return unit_run(s, UNIT_FORK);
}
