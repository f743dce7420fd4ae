/* SPDX-License-Identifier: ISC */
/* Unit tests: the hold's state machine, what issues 13 and 14 added:
 * SYN-RECV as activity, the confirmation window, the quiet period that
 * follows the relay's gaps, the learned bound of an empty poll, the
 * overshoot from a close seen before the hold, per-peer bytes.  The core
 * rules: test_hold_sm.c. */
#include "hold/hold.h"
#include "hold_fixture.h"
#include "unit.h"
#include <stdint.h>
#include <stdlib.h>

/* ---- SYN-RECV, confirmation, adaptive quiet, learned bound (issue 13/14) -- */

START_TEST(syn_then_established_is_one_connection)
{
    struct hold_params p = params(1, 30, 300);
    struct hold_sm *sm = new_sm(&p);
    struct hold_conn syn = in_conn(1, 40000, 11, 1);
    syn.syn = 1;
    struct hold_conn est = in_conn(1, 40000, 12, 1);      /* the full socket: another cookie */
    ck_assert_int_eq(hold_sm_step(sm, 0, NULL, 0), HOLD_NOT_RUN);
    ck_assert_int_eq(hold_sm_step(sm, 200, &syn, 1), HOLD_NOT_RUN);
    ck_assert_int_eq(sm->open_in, 1);
    ck_assert_int_eq(hold_sm_step(sm, 400, &est, 1), HOLD_NOT_RUN);
    ck_assert_int_eq(sm->seen_in, 1);
    ck_assert_int_eq(sm->open_in, 1);
    ck_assert_int_eq(hold_sm_step(sm, 600, NULL, 0), HOLD_NOT_RUN);   /* closed */
    ck_assert_int_eq(hold_sm_step(sm, 1600, NULL, 0), HOLD_QUIET);
    ck_assert_int_eq(sm->seen_in, 1);
    /* its close event (full socket's cookie) right after the SYN-RECV sighting */
    hold_sm_init(sm, &p, NULL, NULL);
    ck_assert_int_eq(hold_sm_step(sm, 0, &syn, 1), HOLD_NOT_RUN);
    est.open = 0;
    ck_assert_int_eq(hold_sm_step(sm, 200, &est, 1), HOLD_NOT_RUN);
    ck_assert_int_eq(sm->seen_in, 1);
    ck_assert_int_eq(sm->open_in, 0);
    free(sm);
}
END_TEST

START_TEST(syn_recv_is_activity)
{
    /* issue 13's GSM case: a first wave closes at 1 s, the second wave's
     * handshake starts at 4.4 s and completes only at 13 s.  With quiet 10
     * and only established sockets counted the hold ended at 11 s. */
    struct hold_params p = params(10, 120, 1800);
    struct hold_sm *sm = new_sm(&p);
    struct script sc[3];
    sc[0] = (struct script){ in_conn(1, 40000, 1, 1), 0, S(1), 0 };
    sc[1] = (struct script){ in_conn(1, 40001, 2, 1), 4400, 13000, 0 };
    sc[1].c.syn = 1;
    sc[2] = (struct script){ in_conn(1, 40001, 3, 1), 13000, 16000, 0 };
    int64_t end_t;
    ck_assert_int_eq(run_script(sm, sc, 3, 200, S(60), &end_t), HOLD_QUIET);
    ck_assert_msg(end_t >= 16000 + S(10), "ended at %lld", (long long)end_t);
    ck_assert_int_eq(sm->seen_in, 2);
    free(sm);
}
END_TEST

START_TEST(confirm_window)
{
    struct hold_params p = params(1, 30, 300);
    struct hold_sm *sm = new_sm(&p);
    struct hold_conn a = in_conn(1, 40000, 1, 1), b = in_conn(1, 40001, 2, 1);
    hold_sm_step(sm, 0, &a, 1);
    hold_sm_step(sm, 200, NULL, 0);                       /* a closed at 200 */
    ck_assert_int_eq(hold_sm_step(sm, 1200, NULL, 0), HOLD_QUIET);
    hold_sm_confirming(sm, 2000);                         /* a confirming ETRN */
    ck_assert_int_eq(sm->end, HOLD_NOT_RUN);
    ck_assert_int_eq(hold_sm_step(sm, 2000, NULL, 0), HOLD_NOT_RUN);   /* not the quiet rule */
    ck_assert_int_eq(hold_sm_step(sm, 2400, &b, 1), HOLD_NOT_RUN);    /* it brought more */
    ck_assert_int_eq(hold_sm_step(sm, 2600, NULL, 0), HOLD_NOT_RUN);
    ck_assert_int_eq(hold_sm_step(sm, 3600, NULL, 0), HOLD_QUIET);    /* quiet again */
    ck_assert_int_eq(sm->confirmed, 0);
    hold_sm_confirming(sm, 2000);
    ck_assert_int_eq(hold_sm_step(sm, 5400, NULL, 0), HOLD_NOT_RUN);
    ck_assert_int_eq(hold_sm_step(sm, 5600, NULL, 0), HOLD_QUIET);    /* brought nothing */
    ck_assert_int_eq(sm->confirmed, 1);
    ck_assert_int_eq(sm->confirms, 2);
    struct hold_summary s;
    hold_sm_summary(sm, &s);
    ck_assert_int_eq(s.confirmed, 1);
    ck_assert_int_eq(s.confirms, 2);
    ck_assert_int_eq(s.connections, 2);
    /* only a quiet end can be confirmed */
    hold_sm_init(sm, &p, NULL, NULL);
    hold_sm_abort(sm, 10);
    hold_sm_confirming(sm, 1000);
    ck_assert_int_eq(sm->end, HOLD_ABORTED);
    free(sm);
}
END_TEST

START_TEST(a_gap_ended_by_the_confirmation_is_not_learned)
{
    /* quiet 10 s, a relay that delivers once more only when asked again
     * (a deferred message retried on the confirming ETRN): that gap is
     * quiet + the confirmation, ours, not the relay's; learning it made the
     * next poll's quiet period 21.9 s, then 45.9 s, then the cap. */
    struct hold_params p = params(10, 120, 1800);
    p.quiet_max_ms = S(60);
    struct hold_sm *sm = new_sm(&p);
    struct hold_conn a = in_conn(1, 40000, 1, 1), b = in_conn(1, 40001, 2, 1);
    hold_sm_step(sm, 0, &a, 1);
    hold_sm_step(sm, 1000, NULL, 0);                        /* a closed at 1 s */
    ck_assert_int_eq(hold_sm_step(sm, 11000, NULL, 0), HOLD_QUIET);
    hold_sm_confirming(sm, 5000);                           /* ETRN again */
    ck_assert_int_eq(hold_sm_step(sm, 11950, &b, 1), HOLD_NOT_RUN);    /* brought b */
    ck_assert_int_eq(sm->seen_in, 2);
    ck_assert_int_eq(sm->max_gap_ms, 0);
    ck_assert_int_eq(sm->quiet_ms, S(10));
    hold_sm_step(sm, 12500, NULL, 0);                       /* b closed */
    ck_assert_int_eq(hold_sm_step(sm, 22400, NULL, 0), HOLD_NOT_RUN);
    ck_assert_int_eq(hold_sm_step(sm, 22600, NULL, 0), HOLD_QUIET);    /* 10 s, not 21.9 s */
    struct hold_summary s;
    hold_sm_summary(sm, &s);
    ck_assert_int_eq(s.max_gap_ms, 0);                      /* what trust.c would learn */
    /* a gap the relay leaves by itself, after that, still counts */
    struct hold_conn c = in_conn(1, 40002, 3, 1);
    hold_sm_init(sm, &p, NULL, NULL);
    hold_sm_step(sm, 0, &a, 1);
    hold_sm_step(sm, 1000, NULL, 0);
    ck_assert_int_eq(hold_sm_step(sm, 8000, &c, 1), HOLD_NOT_RUN);     /* 7 s gap, no confirm */
    ck_assert_int_eq(sm->max_gap_ms, 7000);
    ck_assert_int_eq(sm->quiet_ms, S(14));
    free(sm);
}
END_TEST

START_TEST(quiet_follows_the_gaps)
{
    /* quiet 4 s: fixed, the hold would end at 8 s, before the third
     * connection; the relay left 3 s, then 5 s between connections: the
     * quiet period grows to 2 x the longest gap (6 s, then 10 s) */
    struct hold_params p = params(4, 30, 300);
    p.quiet_max_ms = S(60);
    struct hold_sm *sm = new_sm(&p);
    struct script sc[3] = {
        { in_conn(1, 40000, 1, 1), 0, 500, 0 },
        { in_conn(1, 40001, 2, 1), 3500, 4000, 0 },
        { in_conn(1, 40002, 3, 1), 9000, 9200, 0 },
    };
    int64_t end_t;
    ck_assert_int_eq(run_script(sm, sc, 3, 100, S(60), &end_t), HOLD_QUIET);
    ck_assert_int_eq(sm->seen_in, 3);
    ck_assert_int_eq(sm->max_gap_ms, 5000);
    ck_assert_int_eq(sm->quiet_ms, 10000);
    ck_assert_msg(end_t >= 9200 + 10000 && end_t <= 9200 + 10200, "ended at %lld", (long long)end_t);
    /* the same with a fixed quiet period: ends before the third one */
    p.quiet_max_ms = 0;
    hold_sm_init(sm, &p, NULL, NULL);
    ck_assert_int_eq(run_script(sm, sc, 3, 100, S(60), &end_t), HOLD_QUIET);
    ck_assert_int_eq(sm->seen_in, 2);
    /* capped */
    p.quiet_max_ms = 5000;
    hold_sm_init(sm, &p, NULL, NULL);
    ck_assert_int_eq(run_script(sm, sc, 2, 100, S(60), &end_t), HOLD_QUIET);
    ck_assert_int_eq(sm->quiet_ms, 5000);
    /* learned from earlier polls */
    p.quiet_max_ms = S(60);
    p.learned_gap_ms = 4000;
    hold_sm_init(sm, &p, NULL, NULL);
    ck_assert_int_eq(run_script(sm, sc, 1, 100, S(60), &end_t), HOLD_QUIET);
    ck_assert_msg(end_t >= 500 + 8000, "ended at %lld", (long long)end_t);
    free(sm);
}
END_TEST

START_TEST(empty_at_learned_bound)
{
    struct hold_params p = params(10, 120, 1800);
    p.contact_bound_ms = 5000;
    struct hold_sm *sm = new_sm(&p);
    int64_t end_t;
    ck_assert_int_eq(run_script(sm, NULL, 0, 200, S(200), &end_t), HOLD_EMPTY);
    ck_assert_int_eq(end_t, 5000);
    /* a connection before the bound: delivery, not empty */
    struct script sc[1] = { { in_conn(1, 40000, 1, 1), 3000, 4000, 0 } };
    hold_sm_init(sm, &p, NULL, NULL);
    ck_assert_int_eq(run_script(sm, sc, 1, 200, S(200), &end_t), HOLD_QUIET);
    struct hold_summary s;
    hold_sm_summary(sm, &s);
    ck_assert_int_eq(s.first_contact_ms, 3000);
    ck_assert_str_eq(hold_end_name(HOLD_EMPTY), "empty");
    free(sm);
}
END_TEST

START_TEST(overshoot_from_the_close_seen)
{
    /* issue 14: delivery over before the hold began (close event 900 ms old
     * at the first sample, poll began 2 s before): the overshoot counts
     * from that close, not from the first sample */
    struct hold_params p = params(10, 120, 1800);
    p.recent_ms = 2000;
    struct hold_sm *sm = new_sm(&p);
    struct hold_conn c = in_conn(1, 40000, 1, 0);
    c.closed_ago_ms = 900;
    ck_assert_int_eq(hold_sm_step(sm, 0, &c, 1), HOLD_NOT_RUN);
    ck_assert_int_eq(sm->seen_in, 1);
    int64_t t = 0;
    enum hold_end e = HOLD_NOT_RUN;
    while (e == HOLD_NOT_RUN)
        e = hold_sm_step(sm, t += 200, NULL, 0);
    ck_assert_int_eq(e, HOLD_QUIET);
    struct hold_summary s;
    hold_sm_summary(sm, &s);
    ck_assert_int_eq(s.overshoot_ms, s.duration_ms + 900);
    ck_assert_int_eq(s.duration_ms, 9200);                 /* 10 s after the close at -0.9 s */
    free(sm);
}
END_TEST

START_TEST(per_peer_bytes)
{
    struct hold_params p = params(1, 30, 300);
    struct hold_sm *sm = new_sm(&p);
    struct hold_conn a = in_conn(1, 40000, 1, 1), b = in_conn(2, 40001, 2, 1);
    a.bytes = 500;
    b.bytes = 0;
    struct hold_conn both[2] = { a, b };
    hold_sm_step(sm, 0, NULL, 0);
    hold_sm_step(sm, 200, both, 2);
    hold_sm_step(sm, 400, NULL, 0);                        /* both gone */
    struct hold_summary s;
    hold_sm_summary(sm, &s);
    ck_assert_int_eq(s.npeers, 2);
    ck_assert_int_eq(s.plist[0].nconn, 1);
    ck_assert_uint_eq(s.plist[0].bytes, 500);
    ck_assert_uint_eq(s.plist[1].bytes, 0);
    ck_assert_int_eq(s.plist[1].bytes_known, 1);
    free(sm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hold-sm-adaptive");
    TCase *tc = UNIT_CASE(s, "state machine", syn_then_established_is_one_connection,
                          syn_recv_is_activity, confirm_window, a_gap_ended_by_the_confirmation_is_not_learned,
                          quiet_follows_the_gaps,
                          empty_at_learned_bound, overshoot_from_the_close_seen,
                          per_peer_bytes);
    tcase_set_timeout(tc, 60);
    return unit_run(s, UNIT_FORK);
}
