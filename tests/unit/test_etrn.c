/* SPDX-License-Identifier: ISC */
/* Unit tests: ETRN reply judgement, learned relay limits, hook lists, node validation. */
#include "conf/config.h"
#include "poll/etrn.h"
#include "poll/learn.h"
#include "poll/poll.h"
#include "core/util.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

static void judge_adv(const char *s, int adv, const char *node, struct etrn_verdict *v)
{
    struct smtp_reply r;
    reply_init(&r);
    size_t used;
    ck_assert_int_eq(reply_parse_buf(&r, s, strlen(s), &used, NULL), REPLY_DONE);
    etrn_judge(&r, adv, node, v);
}
static void judge(const char *s, struct etrn_verdict *v)
{
    judge_adv(s, 1, "example.org", v);
}

START_TEST(rfc1985_codes)
{
    struct etrn_verdict e;
    judge("250 Queuing started\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_ACCEPTED);
    judge("251 OK, no messages waiting for node example.org\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_NOTHING_QUEUED);
    judge("252 OK, pending messages for node example.org started\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_ACCEPTED);
    judge("253 OK, 17 pending messages for node example.org started\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_ACCEPTED);
    ck_assert_int_eq(e.count, 17);
    judge("253 OK, 0 pending messages for node example.org started\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_NOTHING_QUEUED);
    judge("458 Unable to queue messages for node example.org\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_TEMPORARY);
    ck_assert_int_eq(e.limit, 0);
    judge("459 Node example.org not allowed: unknown\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_REFUSED);
    judge("500 Syntax Error\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_CONFIG);
    judge("501 Syntax Error in Parameters\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_CONFIG);
    judge("554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_REFUSED);
    judge("450 4.3.2 try later\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_TEMPORARY);
    judge("354 what\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_TEMPORARY);
    ck_assert_int_eq(poll_outcome_exit(PO_IN_PROGRESS), 0);
    ck_assert_int_eq(poll_outcome_exit(PO_NOT_OFFERED), EX_UNAVAILABLE);
    ck_assert_int_eq(poll_outcome_exit(PO_CONFIG), EX_CONFIG);
}
END_TEST

/* RFC 1985: "253 OK, <n> pending messages for node <x> started" -- the
 * count only from there */
START_TEST(count_only_where_rfc1985_puts_it)
{
    struct etrn_verdict e;
    judge("253-2.0.0 OK, 5 pending messages for node x started\r\n253 more text 99\r\n", &e);
    ck_assert_int_eq(e.count, 5);
    judge("253 OK, pending messages started\r\n", &e);
    ck_assert_int_eq(e.count, -1);
    judge("253 OK, pending messages for node mx2.example.test started\r\n", &e);
    ck_assert_int_eq(e.count, -1);
    ck_assert_int_eq(e.outcome, PO_ACCEPTED);
    judge("253 2.0.0 OK, 42 pending messages for node mx2.example.test started\r\n", &e);
    ck_assert_int_eq(e.count, 42);
    judge("253 Queued mail for mx2.example.test: 3 messages\r\n", &e);
    ck_assert_int_eq(e.count, -1);
    judge("253 OK, 123456789 pending messages for node x started\r\n", &e);
    ck_assert_int_eq(e.count, -1);                      /* over 8 digits: not believed */
    judge("250 OK, 5 pending messages for node x started\r\n", &e);
    ck_assert_int_eq(e.count, -1);                      /* only a 253 carries a count */
}
END_TEST

START_TEST(session_limit)
{
    struct etrn_verdict e;
    /* PMDF / Oracle Messaging Server: the newer and the older reply */
    judge("458 4.7.1 ETRN session limit reached\r\n", &e);
    ck_assert(e.limit && e.retry);
    ck_assert_int_eq(e.outcome, PO_TEMPORARY);
    judge("550 5.7.1 ETRN session limit reached\r\n", &e);
    ck_assert(e.limit && e.retry);
    ck_assert_int_eq(e.outcome, PO_TEMPORARY);
    /* Exim without TLS: smtp_accept_max_nonmail */
    judge("554 Too many nonmail commands\r\n", &e);
    ck_assert(e.limit);
    judge("452 Too many ETRN commands\r\n", &e);
    ck_assert(e.limit);
    judge("421 4.3.2 Service shutting down\r\n", &e);
    ck_assert(!e.limit && e.retry && e.session_ends);
    judge("421 4.7.0 too many connections, session limit\r\n", &e);
    ck_assert(e.limit && e.retry && e.session_ends);
    judge("558 something else\r\n", &e);
    ck_assert(!e.limit);
    ck_assert_int_eq(e.outcome, PO_REFUSED);
}
END_TEST

START_TEST(exim_builtin)
{
    struct etrn_verdict e;
    judge("501 argument must begin with #\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_CONFIG);
    ck_assert(!e.limit && !e.session_ends);
    ck_assert_ptr_nonnull(e.hint);
    ck_assert_ptr_nonnull(strstr(e.hint, "#name"));
    /* the 4th syntax error: the node is judged, and the session ends */
    judge("501-argument must begin with #\r\n501 Too many syntax or protocol errors\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_CONFIG);
    ck_assert(!e.limit && e.session_ends);
    ck_assert_ptr_nonnull(e.hint);
    /* a '#queue' node a relay does not take */
    judge_adv("459 4.5.4 Queue q unknown\r\n", 1, "#q", &e);
    ck_assert_int_eq(e.outcome, PO_REFUSED);
    ck_assert_ptr_nonnull(e.hint);
    ck_assert_ptr_nonnull(strstr(e.hint, "@domain"));
}
END_TEST

START_TEST(in_progress)
{
    struct etrn_verdict e;
    judge("458 Already processing example.org\r\n", &e);       /* Exim serialises runs */
    ck_assert_int_eq(e.outcome, PO_IN_PROGRESS);
    ck_assert(poll_outcome_delivers(e.outcome) && poll_outcome_good(e.outcome));
    judge("450 4.1.0 delivery for example.org already in progress\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_IN_PROGRESS);
    judge("458 Unable to queue messages for node example.org\r\n", &e);
    ck_assert_int_eq(e.outcome, PO_TEMPORARY);
}
END_TEST

START_TEST(not_offered)
{
    struct etrn_verdict e;
    judge_adv("500 5.5.1 Invalid command: Command unrecognized\r\n", 0, "example.org", &e);  /* OpenSMTPD */
    ck_assert_int_eq(e.outcome, PO_NOT_OFFERED);
    judge_adv("502 5.5.1 Error: command not implemented\r\n", 0, "example.org", &e);
    ck_assert_int_eq(e.outcome, PO_NOT_OFFERED);
    judge_adv("502 5.5.1 Error: command not implemented\r\n", 1, "example.org", &e);
    ck_assert_int_eq(e.outcome, PO_NOT_OFFERED);
    /* advertised: a 500 is about our argument */
    judge_adv("500 Syntax Error\r\n", 1, "example.org", &e);
    ck_assert_int_eq(e.outcome, PO_CONFIG);
}
END_TEST

START_TEST(learned_budget)
{
    struct relay_cfg rc;
    memset(&rc, 0, sizeof rc);
    struct learned l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(learn_budget(&rc, &l), 0);
    learn_note(&l, 10, "drop", "dropped at ETRN 11");
    ck_assert_int_eq(l.per_session, 10);
    ck_assert_int_eq(learn_budget(&rc, &l), 10);
    learn_note(&l, 12, "limit", "x");           /* keeps the smaller */
    ck_assert_int_eq(l.per_session, 10);
    learn_note(&l, 7, "tarpit", "slow");
    ck_assert_int_eq(l.per_session, 7);
    ck_assert_str_eq(l.why, "tarpit");
    rc.max_etrn_per_session = 5;                /* the admin's value wins when smaller */
    ck_assert_int_eq(learn_budget(&rc, &l), 5);
    rc.max_etrn_per_session = 9;
    ck_assert_int_eq(learn_budget(&rc, &l), 7);
    learn_note(&l, 0, "drop", "no");            /* 0 is never learned */
    ck_assert_int_eq(l.per_session, 7);
}
END_TEST

START_TEST(learned_file)
{
    const char *j = "{\"version\":1,\"relays\":{\"mx\":{\"digest\":\"abc\",\"per_session\":10,"
                    "\"why\":\"drop\",\"detail\":\"dropped \\u001b[31m\",\"seen\":5,\"next_start\":3}}}";
    struct learned l;
    ck_assert_int_eq(learn_parse(j, strlen(j), "mx", "abc", &l), 1);
    ck_assert_int_eq(l.per_session, 10);
    ck_assert_int_eq(l.next_start, 3);
    ck_assert_ptr_null(strchr(l.detail, 0x1b));          /* escaped, never raw */
    /* the relay's configuration changed: forgotten */
    ck_assert_int_eq(learn_parse(j, strlen(j), "mx", "abd", &l), 0);
    ck_assert_int_eq(l.per_session, 0);
    ck_assert_int_eq(learn_parse(j, strlen(j), "other", "abc", &l), 0);
    const char *bad = "{\"relays\":{\"mx\":{\"digest\":\"abc\",\"per_session\":-1,\"next_start\":100000}}}";
    ck_assert_int_eq(learn_parse(bad, strlen(bad), "mx", "abc", &l), 1);
    ck_assert_int_eq(l.per_session, 0);
    ck_assert_int_eq(l.next_start, 0);
    ck_assert_int_eq(learn_parse("{\"relays\":[", 12, "mx", "abc", &l), 0);
    /* a relay that got a reply out of shape in a pipelined group, escaped */
    const char *np = "{\"relays\":{\"mx\":{\"digest\":\"abc\",\"next_start\":0,"
                     "\"no_pipelining\":\"554 5.5.0 sync \\u001b[0m\"}}}";
    ck_assert_int_eq(learn_parse(np, strlen(np), "mx", "abc", &l), 1);
    ck_assert_int_eq(l.per_session, 0);
    ck_assert_ptr_nonnull(strstr(l.no_pipelining, "554 5.5.0 sync"));
    ck_assert_ptr_null(strchr(l.no_pipelining, 0x1b));
    ck_assert_int_eq(learn_parse(np, strlen(np), "mx", "abd", &l), 0);   /* config changed: forgotten */
    ck_assert_str_eq(l.no_pipelining, "");
    struct learned m;
    memset(&m, 0, sizeof m);
    learn_no_pipelining(&m, "554 5.5.0 Error: SMTP protocol synchronization");
    learn_no_pipelining(&m, "second");                   /* the first reason is kept */
    ck_assert_str_eq(m.no_pipelining, "554 5.5.0 Error: SMTP protocol synchronization");
}
END_TEST

START_TEST(config_digest)
{
    struct etp_config a, b;
    char err[2000];
    const char *c1 = "state-dir = \"/tmp\"\nrelay mx { host = \"h\" domains = { \"a.test\" } }\n";
    const char *c2 = "state-dir = \"/tmp\"\nrelay mx { host = \"h\" domains = { \"a.test\" } max-etrn-per-session = 3 }\n";
    ck_assert_int_eq(config_load_string(c1, "c1", &a, err, sizeof err), 0);
    ck_assert_int_eq(config_load_string(c2, "c2", &b, err, sizeof err), 0);
    ck_assert_int_eq(strlen(a.relays[0].digest), 32);
    ck_assert_str_ne(a.relays[0].digest, b.relays[0].digest);
    ck_assert_int_eq(a.poll_timeout, 120);
    config_free(&b);
    ck_assert_int_eq(config_load_string(c1, "c1again", &b, err, sizeof err), 0);
    ck_assert_str_eq(a.relays[0].digest, b.relays[0].digest);
    config_free(&a);
    config_free(&b);
}
END_TEST

/* Hook lists carry whole node names: cut only at a node boundary, with a
 * visible marker and the count of what was left out. */
START_TEST(env_list_whole_names)
{
    const char *nodes[] = { "alpha.example", "bravo.example", "charlie.example", "delta.example" };
    char *s = poll_env_list("ETRNPOLL_NODES_OK", nodes, 4, 1000);
    ck_assert_str_eq(s, "ETRNPOLL_NODES_OK=alpha.example bravo.example charlie.example delta.example");
    free(s);
    s = poll_env_list("ETRNPOLL_NODES_OK", nodes, 4, 40);
    ck_assert_str_eq(s, "ETRNPOLL_NODES_OK=alpha.example bravo.example ...(+2 more)");
    ck_assert_int_le(strlen(s) - strlen("ETRNPOLL_NODES_OK="), 40);
    free(s);
    s = poll_env_list("X", nodes, 4, 5);
    ck_assert_str_eq(s, "X=...(+4 more)");
    free(s);
    s = poll_env_list("X", nodes, 0, 5);
    ck_assert_str_eq(s, "X=");
    free(s);
    /* one relay's 256 nodes of 255 characters fit under the default cap;
     * two relays' do not: cut with a marker */
    static char big[512][256];
    const char *bp[512];
    for (int i = 0; i < 512; i++) {
        memset(big[i], 'a' + i % 26, 255);
        big[i][255] = '\0';
        bp[i] = big[i];
    }
    s = poll_env_list("ETRNPOLL_NODES_FAILED", bp, 256, POLL_ENV_LIST_CAP);
    ck_assert_ptr_null(strstr(s, "...(+"));
    ck_assert_int_eq(strlen(s), strlen("ETRNPOLL_NODES_FAILED=") + 256 * 256 - 1);
    free(s);
    s = poll_env_list("ETRNPOLL_NODES_FAILED", bp, 512, POLL_ENV_LIST_CAP);
    ck_assert_ptr_nonnull(strstr(s, " ...(+257 more)"));
    ck_assert_int_le(strlen(s), POLL_ENV_LIST_CAP + 64);
    const char *v = s + strlen("ETRNPOLL_NODES_FAILED=");
    /* every word before the marker is a whole node */
    for (const char *w = v; *w && strncmp(w, "...(+", 5) != 0;) {
        const char *sp = strchr(w, ' ');
        ck_assert_int_eq(sp ? (int)(sp - w) : (int)strlen(w), 255);
        w = sp ? sp + 1 : w + strlen(w);
    }
    free(s);
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

/* Pipelined ETRN only on an explicit yes, a relay advertising PIPELINING
 * that never showed a limit, nothing odd earlier in the poll; groups bounded
 * by ETRN_PIPE_MAX, ETRN_PIPE_MAX_BYTES and the session budget. */
START_TEST(pipe_decision)
{
    static char longn[CFG_MAX_NODES][256];
    const char *names[ETRN_PIPE_MAX];
    for (int i = 0; i < ETRN_PIPE_MAX; i++) {
        snprintf(longn[i], sizeof longn[i], "n%d.test", i + 1);
        names[i] = longn[i];
    }
    struct etrn_pipe_ctx c = { .enabled = 1, .advertised = 1, .left = 10, .nodes = names };
    const char *why = "x";
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 10);
    ck_assert_ptr_null(why);
    /* the key absent (default no): lock-step, and nothing to say */
    c.enabled = 0;
    why = "x";
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_null(why);
    c.enabled = 1;
    /* PIPELINING not advertised after STARTTLS */
    c.advertised = 0;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_nonnull(strstr(why, "PIPELINING"));
    c.advertised = 1;
    /* a limit, tarpit or drop ever learned: never */
    c.learned = 7;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_nonnull(strstr(why, "limit"));
    c.learned = 0;
    /* a group of an earlier poll got a reply out of shape */
    c.refused = 1;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_nonnull(strstr(why, "out of shape"));
    c.refused = 0;
    /* stopped earlier in this poll */
    c.off = 1;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_nonnull(why);
    c.off = 0;
    /* max-etrn-per-session: no group larger than what the session has left */
    c.budget = 4;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 4);
    c.sent = 2;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 2);
    c.sent = 3;                                   /* one left: lock-step, a passing reason */
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_null(why);
    c.budget = 0;
    c.sent = 0;
    /* one node left */
    c.left = 1;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), 1);
    ck_assert_ptr_null(why);
    /* at most ETRN_PIPE_MAX commands per group */
    c.left = ETRN_PIPE_MAX;
    ck_assert_int_eq(etrn_pipe_group(&c, &why), ETRN_PIPE_MAX);
    c.left = ETRN_PIPE_MAX + 5;                   /* the caller passes at most ETRN_PIPE_MAX names */
    ck_assert_int_le(etrn_pipe_group(&c, &why), ETRN_PIPE_MAX);
    /* at most ETRN_PIPE_MAX_BYTES per write: 255-character nodes are 262
     * bytes each with "ETRN " and CRLF: 15 fit in 4096 */
    for (int i = 0; i < ETRN_PIPE_MAX; i++) {
        memset(longn[i], 'a', 255);
        longn[i][255] = '\0';
    }
    c.left = ETRN_PIPE_MAX;
    int n = etrn_pipe_group(&c, &why);
    ck_assert_int_eq(n, ETRN_PIPE_MAX_BYTES / 262);
    ck_assert_int_le(n * 262, ETRN_PIPE_MAX_BYTES);
}
END_TEST

/* A reply out of its place in a group: not an ETRN reply, or Postfix's
 * "SMTP protocol synchronization" */
START_TEST(pipe_reply_shape)
{
    const char *ok[] = { "250 Queuing started\r\n", "251 OK, no messages waiting for node a\r\n",
                         "253 OK, 3 pending messages for node a started\r\n",
                         "458 4.7.1 ETRN session limit reached\r\n", "459 Node a not allowed\r\n",
                         "421 4.3.2 closing\r\n", "554 Too many nonmail commands\r\n",
                         "501 argument must begin with #\r\n" };
    const char *odd[] = { "220 fake.test ESMTP\r\n", "221 Bye\r\n", "235 2.7.0 ok\r\n", "354 go ahead\r\n",
                          "334 VXNlcm5hbWU6\r\n", "254 what\r\n",
                          "554 5.5.0 Error: SMTP protocol synchronization\r\n",
                          "503 5.5.0 Improper use of SMTP command pipelining\r\n" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct smtp_reply r;
        reply_init(&r);
        size_t used;
        ck_assert_int_eq(reply_parse_buf(&r, ok[i], strlen(ok[i]), &used, NULL), REPLY_DONE);
        ck_assert_msg(etrn_pipe_reply_ok(&r), "out of shape: %s", ok[i]);
    }
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        struct smtp_reply r;
        reply_init(&r);
        size_t used;
        ck_assert_int_eq(reply_parse_buf(&r, odd[i], strlen(odd[i]), &used, NULL), REPLY_DONE);
        ck_assert_msg(!etrn_pipe_reply_ok(&r), "in shape: %s", odd[i]);
    }
}
END_TEST

/* The key: default no, yes read, and (like every key) in the relay's digest. */
START_TEST(pipe_config)
{
    struct etp_config a, b;
    char err[2000];
    const char *c1 = "state-dir = \"/tmp\"\nrelay mx { host = \"h\" domains = { \"a.test\" } }\n";
    const char *c2 = "state-dir = \"/tmp\"\nrelay mx { host = \"h\" domains = { \"a.test\" } etrn-pipelining = yes }\n";
    const char *c3 = "state-dir = \"/tmp\"\nrelay mx { host = \"h\" domains = { \"a.test\" } etrn-pipelining = maybe }\n";
    ck_assert_int_eq(config_load_string(c1, "c1", &a, err, sizeof err), 0);
    ck_assert_int_eq(config_load_string(c2, "c2", &b, err, sizeof err), 0);
    ck_assert_int_eq(a.relays[0].etrn_pipelining, 0);
    ck_assert_int_eq(b.relays[0].etrn_pipelining, 1);
    ck_assert_str_ne(a.relays[0].digest, b.relays[0].digest);
    config_free(&a);
    config_free(&b);
    ck_assert_int_ne(config_load_string(c3, "c3", &a, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "etrn-pipelining"));
    config_free(&a);      /* config_load() leaves what it parsed, on failure too */
}
END_TEST

UNIT_MAIN("etrn",
          rfc1985_codes,
          count_only_where_rfc1985_puts_it,
          session_limit,
          exim_builtin,
          in_progress,
          not_offered,
          learned_budget,
          learned_file,
          config_digest,
          env_list_whole_names,
          nodes,
          pipe_decision,
          pipe_reply_shape,
          pipe_config)
