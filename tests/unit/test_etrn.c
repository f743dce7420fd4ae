/* Unit tests: ETRN reply classification and node validation. */
#include "conf/config.h"
#include "poll/etrn.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

static void classify(const char *s, struct etrn_result *res)
{
    struct smtp_reply r;
    reply_init(&r);
    size_t used;
    ck_assert_int_eq(reply_parse_buf(&r, s, strlen(s), &used, NULL), REPLY_DONE);
    etrn_classify(&r, res);
}

START_TEST(rfc1985_codes)
{
    struct etrn_result e;
    classify("250 Queuing started\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_OK);
    classify("251 OK, no messages waiting for node example.org\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_OK);
    classify("252 OK, pending messages for node example.org started\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_OK);
    classify("253 OK, 17 pending messages for node example.org started\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_OK);
    ck_assert_int_eq(e.count, 17);
    classify("458 Unable to queue messages for node example.org\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_TEMP);
    classify("459 Node example.org not allowed: unknown\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_PERM);
    classify("500 Syntax Error\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_CONFIG);
    classify("501 Syntax Error in Parameters\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_CONFIG);
    classify("554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_PERM);
    classify("450 4.3.2 try later\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_TEMP);
    classify("354 what\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_PROTO);
}
END_TEST

START_TEST(count_with_enhanced_and_multiline)
{
    struct etrn_result e;
    classify("253-2.0.0 OK, 5 pending messages for node x started\r\n253 more text 99\r\n", &e);
    ck_assert_int_eq(e.count, 5);
    classify("253 OK, pending messages started\r\n", &e);
    ck_assert_int_eq(e.count, -1);
}
END_TEST

START_TEST(session_limit)
{
    struct etrn_result e;
    classify("458 4.7.1 ETRN session limit reached\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_RECONNECT);
    classify("452 Too many ETRN commands\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_RECONNECT);
    classify("421 4.3.2 Service shutting down\r\n", &e);
    ck_assert_int_eq(e.cls, ETRN_RECONNECT);
    classify("558 session limit\r\n", &e);      /* 5xx is never a reconnect */
    ck_assert_int_eq(e.cls, ETRN_PERM);
}
END_TEST

START_TEST(nodes)
{
    const char *good[] = { "example.org", "@example.org", "#queue1", "[192.0.2.1]",
                           "[IPv6:2001:db8::1]", "a-b.c_d.example", "x" };
    const char *bad[] = { "", "exa mple.org", "example..org", ".example.org", "example.org.",
                          "-a.org", "a-.org", "@", "#", "[1.2.3.4", "exämple.org", "a\tb",
                          "ETRN\r\nQUIT", "@@x.org" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(node_invalid(good[i]) == NULL, "rejected %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(node_invalid(bad[i]) != NULL, "accepted %s", bad[i]);
    char longn[300];
    memset(longn, 'a', sizeof longn - 1);
    longn[sizeof longn - 1] = '\0';
    ck_assert_ptr_nonnull(node_invalid(longn));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("etrn");
    TCase *t = tcase_create("core");
    tcase_add_test(t, rfc1985_codes);
    tcase_add_test(t, count_with_enhanced_and_multiline);
    tcase_add_test(t, session_limit);
    tcase_add_test(t, nodes);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
