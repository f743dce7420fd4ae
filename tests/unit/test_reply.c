/* SPDX-License-Identifier: ISC */
/* Unit tests: SMTP reply parser and EHLO capabilities. */
#include "conf/config.h"
#include "smtp/reply.h"
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum reply_status parse(struct smtp_reply *r, const char *s)
{
    reply_init(r);
    size_t used;
    return reply_parse_buf(r, s, strlen(s), &used, NULL);
}

START_TEST(single_line)
{
    struct smtp_reply r;
    ck_assert_int_eq(parse(&r, "250 2.0.0 Queuing started\r\n"), REPLY_DONE);
    ck_assert_int_eq(r.code, 250);
    ck_assert_str_eq(r.enh, "2.0.0");
    ck_assert_str_eq(r.text, "2.0.0 Queuing started");
    ck_assert_int_eq(r.nlines, 1);
}
END_TEST

START_TEST(multi_line)
{
    struct smtp_reply r;
    ck_assert_int_eq(parse(&r, "250-relay.test\r\n250-PIPELINING\r\n250 ETRN\r\n"), REPLY_DONE);
    ck_assert_int_eq(r.nlines, 3);
    ck_assert_str_eq(r.text, "relay.test\nPIPELINING\nETRN");
    ck_assert_str_eq(r.enh, "");
}
END_TEST

START_TEST(bare_code_and_lf_only)
{
    struct smtp_reply r;
    ck_assert_int_eq(parse(&r, "250\n"), REPLY_DONE);
    ck_assert_int_eq(r.code, 250);
    ck_assert_int_eq(parse(&r, "220-a\n220 b\n"), REPLY_DONE);
    ck_assert_int_eq(r.nlines, 2);
}
END_TEST

START_TEST(incomplete)
{
    struct smtp_reply r;
    ck_assert_int_eq(parse(&r, "250-first\r\n250-second"), REPLY_MORE);
    ck_assert_int_eq(r.nlines, 1);
}
END_TEST

START_TEST(malformed)
{
    struct smtp_reply r;
    const char *bad[] = { "2x0 hello\r\n", "25\r\n", "250garbage\r\n", "600 no\r\n", "199 no\r\n",
                          "hello\r\n", "\r\n", "250-a\r\n251 b\r\n", "260 x\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(&r, bad[i]) == REPLY_BAD, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(nul_byte)
{
    struct smtp_reply r;
    reply_init(&r);
    const char line[] = "250 a\0b";
    ck_assert_int_eq(reply_feed(&r, line, sizeof line - 1, NULL), REPLY_BAD);
}
END_TEST

START_TEST(too_long)
{
    struct smtp_reply r;
    char line[600];
    memset(line, 'x', sizeof line);
    memcpy(line, "250 ", 4);
    reply_init(&r);
    ck_assert_int_eq(reply_feed(&r, line, 511, NULL), REPLY_TOOLONG);   /* 511 + CRLF > 512 */
    reply_init(&r);
    ck_assert_int_eq(reply_feed(&r, line, 510, NULL), REPLY_DONE);      /* exactly 512 with CRLF */
}
END_TEST

START_TEST(too_many)
{
    struct smtp_reply r;
    reply_init(&r);
    int i;
    for (i = 0; i < REPLY_MAX_LINES; i++)
        ck_assert_int_eq(reply_feed(&r, "250-x", 5, NULL), REPLY_MORE);
    ck_assert_int_eq(reply_feed(&r, "250 x", 5, NULL), REPLY_TOOMANY);
}
END_TEST

START_TEST(text_is_printable)
{
    struct smtp_reply r;
    ck_assert_int_eq(parse(&r, "250 caf\xc3\xa9 \x1b[31m\r\n"), REPLY_DONE);
    ck_assert_ptr_null(strchr(r.text, '\x1b'));
    ck_assert_ptr_nonnull(strstr(r.text, "\\x1b"));
}
END_TEST

START_TEST(caps)
{
    struct smtp_reply r;
    struct smtp_caps c;
    ck_assert_int_eq(parse(&r, "250-relay.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                               "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN cram-md5\r\n"
                               "250-AUTH=LOGIN PLAIN\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"), REPLY_DONE);
    ck_assert_int_eq(caps_parse(&r, &c), 0);
    ck_assert(c.etrn && c.starttls && c.pipelining && c.enhanced && c.eightbit && c.auth);
    ck_assert_int_eq(c.size, 10240000);
    ck_assert_int_eq(c.nmechs, 3);
    ck_assert(caps_has_mech(&c, "CRAM-MD5"));
    ck_assert(caps_has_mech(&c, "plain"));
    ck_assert(!caps_has_mech(&c, "SCRAM-SHA-256"));
}
END_TEST

START_TEST(caps_first_line_ignored)
{
    struct smtp_reply r;
    struct smtp_caps c;
    parse(&r, "250-ETRN STARTTLS\r\n250 SIZE\r\n");
    caps_parse(&r, &c);
    ck_assert(!c.etrn && !c.starttls);   /* keywords on the greeting line don't count */
    ck_assert_int_eq(c.size, -1);
    parse(&r, "502 no\r\n");
    ck_assert_int_eq(caps_parse(&r, &c), -1);
}
END_TEST

/* Issue 15: STARTTLS as the 99th line of 486-octet lines (a legal reply of
 * ~48 KB) was lost because caps were parsed from the 4 KiB text buffer. */
START_TEST(caps_past_4k)
{
    static char buf[REPLY_MAX_LINES * REPLY_MAX_LINE];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, "250-relay.test Hello\r\n");
    for (int i = 2; i <= 100; i++) {
        const char *kw = i == 99 ? "STARTTLS" : i == 98 ? "AUTH PLAIN SCRAM-SHA-256" : i == 100 ? "ETRN" : NULL;
        if (kw) {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "250%c%s\r\n", i == 100 ? ' ' : '-', kw);
            continue;
        }
        /* "250-X-FILLER-nn " + padding = 486 octets + CRLF */
        int n = snprintf(buf + o, sizeof buf - o, "250-X-FILLER-%02d ", i);
        o += (size_t)n;
        memset(buf + o, 'f', (size_t)(486 - n));
        o += (size_t)(486 - n);
        memcpy(buf + o, "\r\n", 3);
        o += 2;
    }
    struct smtp_reply r;
    struct smtp_caps c;
    ck_assert_int_eq(parse(&r, buf), REPLY_DONE);
    ck_assert_int_eq(r.nlines, 100);
    ck_assert_uint_gt(o, 4 * REPLY_TEXT_MAX);
    ck_assert_int_eq(caps_parse(&r, &c), 0);
    ck_assert(c.starttls);
    ck_assert(c.etrn);
    ck_assert(c.auth && caps_has_mech(&c, "PLAIN") && caps_has_mech(&c, "SCRAM-SHA-256"));
}
END_TEST

START_TEST(caps_bad_mechs)
{
    struct smtp_reply r;
    struct smtp_caps c;
    parse(&r, "250-x\r\n250 AUTH PL@IN AVERYVERYVERYLONGMECHANISMNAME GOOD\r\n");
    caps_parse(&r, &c);
    ck_assert_int_eq(c.nmechs, 1);
    ck_assert_str_eq(c.mechs[0], "GOOD");
}
END_TEST

UNIT_MAIN("reply",
          single_line,
          multi_line,
          bare_code_and_lf_only,
          incomplete,
          malformed,
          nul_byte,
          too_long,
          too_many,
          text_is_printable,
          caps,
          caps_first_line_ignored,
          caps_bad_mechs,
          caps_past_4k)
