/* SPDX-License-Identifier: ISC */
/* etrn_poll.c — the ETRN poll method: the node loop and its session policy.
 *
 * Policy (doc/design.md, "Session policy"):
 *  - a node whose ETRN got no reply because the session ended (EOF, reset,
 *    TLS error, a cleartext reply inside TLS) is sent again on the next
 *    session (ETRN is idempotent), at most ETRN_MAX_TRIES times;
 *  - a limit is recognised from the reply text (4xx and 5xx) and from a
 *    drop right after an ETRN that was not the session's first; the number
 *    of ETRNs the session took is learned (poll/learn.c) and the next
 *    sessions reconnect before it;
 *  - a tarpit: a reply not there after max(2 s, 4 x the first ETRN's round
 *    trip) although the relay's TCP acknowledged the command ends the
 *    session; the next one continues;
 *  - sessions per poll: enough for every node to get its turns
 *    (ETRN_MAX_TRIES per node), all within the relay's deadline. */
#include "conf/config.h"
#include "poll/poll.h"
#include "poll/etrn.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ETRN_MAX_TRIES   3
#define TARPIT_MIN_MS    2000
#define TARPIT_FACTOR    4
#define SLOW_EXTRA_MS    500     /* a reply this much slower than the first counts as delayed */

struct sess_stat {
    int64_t first_rtt;           /* -1 until the first ETRN of the session was answered */
    int first_slow;              /* index (1-based) of the first noticeably delayed reply */
    int pending_learn;           /* a drop after this many ETRNs, to be confirmed */
    char pending_why[200];
};

static void relay_error(struct relay_result *res, const char *stage, int code, const char *msg)
{
    snprintf(res->stage, sizeof res->stage, "%s", stage);
    snprintf(res->error, sizeof res->error, "%s", msg);
    res->exit = exit_worst(res->exit, code);
}

static void set_text(struct node_result *nr, const char *prefix, const char *why)
{
    snprintf(nr->text, sizeof nr->text, "%s%.190s", prefix, why);
}

static void node_final(struct node_result *nr, enum poll_outcome o)
{
    nr->outcome = o;
    nr->exit = poll_outcome_exit(o);
}

static void log_node(const struct node_result *nr)
{
    if (nr->count >= 0)
        log_notice("ETRN %s: %d %s (%s, %ld messages)", nr->node, nr->code, nr->text,
                   poll_outcome_name(nr->outcome), nr->count);
    else if (nr->code)
        log_notice("ETRN %s: %d %s (%s)", nr->node, nr->code, nr->text, poll_outcome_name(nr->outcome));
    else
        log_notice("ETRN %s: %s (%s)", nr->node, nr->text, poll_outcome_name(nr->outcome));
}

/* What to do after one node's reply (or its absence). */
enum step { STEP_NEXT, STEP_AGAIN, STEP_STOP };

/* How long the ETRN numbered k in the session may take before a relay that
 * acknowledged it counts as tarpitting (0: no such limit). */
static int64_t etrn_patience(const struct sess_stat *ss, int k)
{
    int64_t patience = 0;
    if (k > 1 && ss->first_rtt >= 0) {
        patience = TARPIT_FACTOR * ss->first_rtt;
        if (patience < TARPIT_MIN_MS)
            patience = TARPIT_MIN_MS;
    }
    return patience;
}

/* Judge what the ETRN numbered k in the session brought for node nr: rc_ 0
 * (the reply r), -1 (no reply, r NULL: s->c.err; timed_out: because its time was
 * up) or -2 (tarpit after `patience` ms); rtt as the lock-step path
 * measures it (send to reply).  The one judgement of both paths, lock-step
 * and pipelined. */
static enum step etrn_result(struct relay_poll *rp, struct node_result *nr, struct sess_stat *ss,
                             int *budget, int k, int rc_, const struct smtp_reply *r, int64_t rtt,
                             int timed_out, int64_t patience)
{
    struct session *s = &rp->s;
    const struct relay_cfg *rc = rp->rc;
    char why[200];
    if (rc_ < 0) {
        snprintf(why, sizeof why, "%.190s", s->c.err);
        int deadline = rp->deadline_ms > 0 && now_ms() >= rp->deadline_ms;
        session_drop(s);
        nr->code = 0;
        nr->enh[0] = '\0';
        if (etp_abort) {
            set_text(nr, "no reply: ", "aborted");
            node_final(nr, PO_TEMPORARY);
            return STEP_STOP;
        }
        if (rc_ == -2) {
            /* tarpit: the relay holds the reply (Sendmail from MAXETRNCOMMANDS on) */
            int ok = ss->first_slow > 1 ? ss->first_slow - 1 : k - 1;
            char d[200];
            snprintf(d, sizeof d, "ETRN %d of a session got no reply within %lld ms", k, (long long)patience);
            log_info("ETRN %s: %s; tarpit: continuing on a new session", nr->node, d);
            learn_note(&rp->lr, ok, "tarpit", d);
            rp->res->learned = rp->lr.per_session;
            *budget = learn_budget(rc, &rp->lr);
            if (nr->tries < ETRN_MAX_TRIES)
                return STEP_AGAIN;
            set_text(nr, "no reply (tarpit): ", why);
            node_final(nr, PO_TEMPORARY);
            return STEP_NEXT;
        }
        if (deadline) {
            set_text(nr, "no reply before poll-timeout: ", why);
            node_final(nr, PO_TEMPORARY);
            return STEP_NEXT;
        }
        if (!timed_out) {
            /* EOF, reset, TLS error (Exim's cleartext 554 inside TLS): the
             * relay did not judge the node; send it again on a new session */
            if (k > 1) {
                ss->pending_learn = k - 1;
                snprintf(ss->pending_why, sizeof ss->pending_why, "dropped at ETRN %d: %.150s", k, why);
            }
            if (nr->tries < ETRN_MAX_TRIES) {
                log_info("ETRN %s: no reply (%s); sending it again on a new session", nr->node, why);
                return STEP_AGAIN;
            }
            set_text(nr, "no reply (connection lost after each ETRN): ", why);
            node_final(nr, PO_TEMPORARY);
            return STEP_NEXT;
        }
        set_text(nr, "no reply: ", why);
        node_final(nr, PO_TEMPORARY);
        return STEP_NEXT;
    }
    /* a reply */
    if (ss->pending_learn) {
        /* the node lost with the previous session was answered on this one:
         * the drop was the relay's limit, not the line */
        learn_note(&rp->lr, ss->pending_learn, "drop", ss->pending_why);
        rp->res->learned = rp->lr.per_session;
        *budget = learn_budget(rc, &rp->lr);
        ss->pending_learn = 0;
    }
    if (k == 1)
        ss->first_rtt = rtt;
    else if (!ss->first_slow && ss->first_rtt >= 0 && rtt > ss->first_rtt + SLOW_EXTRA_MS &&
             rtt > 2 * ss->first_rtt)
        ss->first_slow = k;
    struct etrn_verdict v;
    etrn_judge(r, s->caps.etrn, nr->node, &v);
    nr->code = r->code;
    snprintf(nr->enh, sizeof nr->enh, "%s", r->enh);
    reply_first_line(r, nr->text, sizeof nr->text);
    if (!nr->text[0])
        snprintf(nr->text, sizeof nr->text, "(no text)");
    if (v.limit) {
        if (k > 1) {
            log_info("ETRN %s: %d %s — session limit after %d ETRNs; continuing on a new session",
                     nr->node, r->code, nr->text, k - 1);
            learn_note(&rp->lr, k - 1, "limit", nr->text);
            rp->res->learned = rp->lr.per_session;
            *budget = learn_budget(rc, &rp->lr);
            if (r->code == 421)
                session_drop(s);
            else
                session_quit(s, SESSION_QUIT_SHORT_MS);
            if (nr->tries < ETRN_MAX_TRIES)
                return STEP_AGAIN;
        } else {
            session_quit(s, SESSION_QUIT_SHORT_MS);
            char t[240];
            snprintf(t, sizeof t, "%.180s (limit reply to a fresh session's first ETRN)", nr->text);
            snprintf(nr->text, sizeof nr->text, "%s", t);
        }
        node_final(nr, PO_TEMPORARY);
        log_node(nr);
        return STEP_NEXT;
    }
    if (v.retry) {                 /* 421: closing, node not judged */
        session_drop(s);
        if (nr->tries < ETRN_MAX_TRIES) {
            log_info("ETRN %s: %d %s; sending it again on a new session", nr->node, r->code, nr->text);
            return STEP_AGAIN;
        }
        node_final(nr, PO_TEMPORARY);
        log_node(nr);
        return STEP_NEXT;
    }
    nr->count = v.count;
    node_final(nr, v.outcome);
    if (v.hint) {
        char t[240];
        snprintf(t, sizeof t, "%.100s; %s", nr->text, v.hint);
        snprintf(nr->text, sizeof nr->text, "%s", t);
    }
    log_node(nr);
    if (v.outcome == PO_NOT_OFFERED) {
        char msg[300];
        snprintf(msg, sizeof msg, "relay %s does not offer ETRN (RFC 1985); ask the ISP or use another relay "
                 "(ETRN answered %d %.80s%s)", rc->name, r->code, nr->text,
                 s->caps.etrn ? "" : ", and EHLO did not list it");
        relay_error(rp->res, "etrn", EX_UNAVAILABLE, msg);
        log_err("%s", msg);
        session_quit(s, SESSION_QUIT_SHORT_MS);
        return STEP_STOP;
    }
    if (v.session_ends)
        session_drop(s);
    return STEP_NEXT;
}

/* One ETRN for node nr on the open session, lock-step: send, wait, judge. */
static enum step etrn_once(struct relay_poll *rp, struct node_result *nr, struct sess_stat *ss,
                           int *budget)
{
    struct session *s = &rp->s;
    char cmd[300];
    struct smtp_reply r;
    int k = s->commands + 1;                 /* this ETRN's number in the session */
    int64_t patience = etrn_patience(ss, k), etrn_ms = (int64_t)rp->rc->to.etrn * 1000;
    snprintf(cmd, sizeof cmd, "ETRN %s", nr->node);
    nr->attempted = 1;
    nr->tries++;
    int64_t t0 = now_ms();
    int rc_ = session_cmd_patient(s, cmd, &r, etrn_ms, rp->deadline_ms, patience);
    int64_t rtt = now_ms() - t0;
    int timed_out = rc_ == -1 && rtt + 20 >= etrn_ms;
    return etrn_result(rp, nr, ss, budget, k, rc_, rc_ == 0 ? &r : NULL, rtt, timed_out, patience);
}

/* Pipelined ETRN (etrn-pipelining = yes; doc/design.md "Pipelined ETRN"):
 * how many of the next `left` nodes q[0..] go out in one write. */
static int pipe_size(struct relay_poll *rp, const int *q, int left, int budget)
{
    const char *names[ETRN_PIPE_MAX];
    int m = left < ETRN_PIPE_MAX ? left : ETRN_PIPE_MAX;
    for (int i = 0; i < m; i++)
        names[i] = rp->res->nodes[q[i]].node;
    struct etrn_pipe_ctx c = {
        .enabled = rp->rc->etrn_pipelining, .advertised = rp->s.caps.pipelining,
        .learned = rp->lr.per_session, .refused = rp->lr.no_pipelining[0] != '\0',
        .off = rp->pipe_off, .budget = budget,
        .sent = rp->s.commands, .left = m, .nodes = names,
    };
    const char *why = NULL;
    int n = etrn_pipe_group(&c, &why);
    if (why && !rp->pipe_said) {
        rp->pipe_said = 1;
        if (c.refused && !c.off)
            log_info("etrn-pipelining: one ETRN at a time: %s: %s", why, rp->lr.no_pipelining);
        else if (c.learned > 0 && !c.off)
            log_info("etrn-pipelining: one ETRN at a time: %s: %d per session (%s: %.120s)", why,
                     rp->lr.per_session, rp->lr.why, rp->lr.detail);
        else
            log_info("etrn-pipelining: one ETRN at a time: %s", why);
    }
    return n;
}

/* Stop pipelining for the rest of this poll (said once). */
static void pipe_stop(struct relay_poll *rp, const char *what, int unknown)
{
    if (!rp->pipe_off && !rp->pipe_said) {
        if (unknown > 0)
            log_info("etrn-pipelining stopped for this poll: %s; %d ETRN%s whose reply is unknown go%s "
                     "again one at a time", what, unknown, unknown == 1 ? "" : "s", unknown == 1 ? "es" : "");
        else
            log_info("etrn-pipelining stopped for this poll: %s", what);
        rp->pipe_said = 1;
    }
    rp->pipe_off = 1;
}

/* n >= 2 ETRNs for the nodes q[0..n-1] in one write, then their replies in
 * order, each judged by etrn_result() exactly as the lock-step path judges
 * it.  At the first reply that ends the session, asks for the node again,
 * is out of shape or is missing, the nodes after it (those after the reply
 * out of shape, and that one) are put back as they were before the group —
 * their replies are unknown, ETRN is idempotent — and the node loop sends
 * them one at a time: pipelining stops for the rest of the poll.  A reply
 * noticeably slower than the first (a tarpit beginning) stops pipelining
 * for later groups; this group's replies are still read.  Returns how many
 * nodes got STEP_NEXT before the last judged node, whose step goes to *st. */
static int etrn_group(struct relay_poll *rp, const int *q, int n, struct sess_stat *ss, int *budget,
                      enum step *st)
{
    struct session *s = &rp->s;
    struct node_result *nr[ETRN_PIPE_MAX], before[ETRN_PIPE_MAX];
    char cmds[ETRN_PIPE_MAX][300];
    const char *cp[ETRN_PIPE_MAX];
    int64_t etrn_ms = (int64_t)rp->rc->to.etrn * 1000;
    int k0 = s->commands + 1;
    for (int j = 0; j < n; j++) {
        nr[j] = &rp->res->nodes[q[j]];
        before[j] = *nr[j];
        snprintf(cmds[j], sizeof cmds[j], "ETRN %s", nr[j]->node);
        cp[j] = cmds[j];
        nr[j]->attempted = 1;
        nr[j]->tries++;
    }
    log_info("etrn-pipelining: %d ETRNs in one write", n);
    int64_t t_send = now_ms();
    int rc_ = session_send_group(s, cp, n, etrn_ms, rp->deadline_ms);
    for (int j = 0; j < n; j++) {
        int k = k0 + j;
        struct smtp_reply r;
        /* lock-step patience runs from the send, which includes the line's
         * round trip; here the command is at the relay already and the wait
         * starts at the previous reply: one round trip less */
        int64_t patience = etrn_patience(ss, k), wait_p = patience;
        if (j > 0 && patience > 0 && ss->first_rtt >= 0)
            wait_p = patience - ss->first_rtt > 1 ? patience - ss->first_rtt : 1;
        int64_t t0 = now_ms();
        if (rc_ == 0)
            rc_ = session_reply_patient(s, &r, etrn_ms, rp->deadline_ms, wait_p);
        int64_t t1 = now_ms();
        int64_t rtt = j == 0 ? t1 - t_send : t1 - t0 + (ss->first_rtt >= 0 ? ss->first_rtt : 0);
        int timed_out = rc_ == -1 && t1 - t0 + 20 >= etrn_ms;
        char what[240];
        if (rc_ == 0 && !etrn_pipe_reply_ok(&r)) {
            char fl[120];
            reply_first_line(&r, fl, sizeof fl);
            snprintf(what, sizeof what, "reply out of shape for ETRN %.80s (%d %.100s)", nr[j]->node, r.code, fl);
            pipe_stop(rp, what, n - j);
            char d[120];
            snprintf(d, sizeof d, "%d %.100s", r.code, fl);
            learn_no_pipelining(&rp->lr, d);
            for (int i = j; i < n; i++)
                *nr[i] = before[i];
            session_drop(s);
            *st = STEP_AGAIN;
            return j;
        }
        int was_slow = ss->first_slow;
        enum step sj = etrn_result(rp, nr[j], ss, budget, k, rc_, rc_ == 0 ? &r : NULL, rtt, timed_out,
                                   patience);
        if (!was_slow && ss->first_slow) {
            snprintf(what, sizeof what, "a delayed reply to ETRN %.80s", nr[j]->node);
            pipe_stop(rp, what, 0);
        }
        if (sj != STEP_NEXT || !s->open || s->c.dead) {
            if (rc_ < 0)
                snprintf(what, sizeof what, "no reply to ETRN %.80s", nr[j]->node);
            else if (sj == STEP_AGAIN)
                snprintf(what, sizeof what, "ETRN %.80s must go again on a new session", nr[j]->node);
            else
                snprintf(what, sizeof what, "the session ended at ETRN %.80s", nr[j]->node);
            pipe_stop(rp, what, n - j - 1);
            for (int i = j + 1; i < n; i++)
                *nr[i] = before[i];
            if (s->c.fd >= 0)
                session_drop(s);
            *st = sj;
            return j;
        }
    }
    *st = STEP_NEXT;
    return n - 1;
}

/* The next node, or the next group of nodes (q[0..left-1] are still to
 * send): returns how many got STEP_NEXT before the one whose step is *st. */
static int etrn_next(struct relay_poll *rp, const int *q, int left, struct sess_stat *ss, int *budget,
                     enum step *st)
{
    int n = pipe_size(rp, q, left, *budget);
    if (n >= 2)
        return etrn_group(rp, q, n, ss, budget, st);
    *st = etrn_once(rp, &rp->res->nodes[q[0]], ss, budget);
    return 0;
}

static int same_node(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Run the node loop over the config indices q[0..nq-1]; returns the
 * position reached (nq if every node got a final result). */
static int node_loop(struct relay_poll *rp, const int *q, int nq, const char **stop_why)
{
    struct relay_result *res = rp->res;
    struct session *s = &rp->s;
    int budget = learn_budget(rp->rc, &rp->lr);
    int cap = 3 * nq + 2;           /* every node ETRN_MAX_TRIES turns, plus slack */
    if (cap < 16)
        cap = 16;
    int opened = 0;
    struct sess_stat ss = { .first_rtt = -1 };
    int pos = 0;
    res->budget = budget;
    while (pos < nq) {
        if (etp_abort) {
            *stop_why = "aborted";
            break;
        }
        if (rp->deadline_ms > 0 && now_ms() >= rp->deadline_ms) {
            *stop_why = "poll-timeout reached";
            break;
        }
        if (s->open && budget > 0 && s->commands >= budget) {
            log_info("%d ETRN%s on this session (%s); reconnecting before the relay's limit", s->commands,
                     s->commands == 1 ? "" : "s",
                     rp->rc->max_etrn_per_session == budget ? "max-etrn-per-session" : "learned");
            session_quit(s, SESSION_QUIT_SHORT_MS);
        }
        if (s->open)
            (void)session_usable(s);  /* drops it if the relay closed it meanwhile */
        if (!s->open) {
            if (opened >= cap) {
                relay_error(res, "connect", EX_TEMPFAIL, "too many sessions in one poll");
                *stop_why = "too many sessions in one poll";
                break;
            }
            int pending = ss.pending_learn;
            char pwhy[200];
            snprintf(pwhy, sizeof pwhy, "%s", ss.pending_why);
            opened++;
            if (session_open(s, rp->deadline_ms) < 0) {
                if (rp->deadline_ms > 0 && now_ms() >= rp->deadline_ms) {
                    *stop_why = "poll-timeout reached";
                    break;
                }
                relay_error(res, res->smtp.stage, res->smtp.exit, res->smtp.error);
                *stop_why = res->smtp.error;
                break;
            }
            memset(&ss, 0, sizeof ss);
            ss.first_rtt = -1;
            ss.pending_learn = pending;
            snprintf(ss.pending_why, sizeof ss.pending_why, "%s", pwhy);
            if (!s->caps.etrn)
                log_warn("relay does not advertise ETRN; trying anyway");
        }
        enum step st;
        pos += etrn_next(rp, q + pos, nq - pos, &ss, &budget, &st);
        res->budget = budget;
        if (st == STEP_NEXT)
            pos++;
        else if (st == STEP_STOP) {
            pos++;
            if (res->error[0])
                *stop_why = res->error;
            break;
        }
    }
    return pos;
}

static void etrn_poll(struct relay_poll *rp, int check_only)
{
    const struct relay_cfg *rc = rp->rc;
    struct relay_result *res = rp->res;
    struct session *s = &rp->s;

    if (check_only) {
        if (session_open(s, rp->deadline_ms) == 0) {
            if (!s->caps.etrn) {
                char msg[300];
                snprintf(msg, sizeof msg, "relay %s does not offer ETRN (RFC 1985); ask the ISP or use "
                         "another relay (its EHLO does not list ETRN; no ETRN was sent)", rc->name);
                relay_error(res, "ehlo", EX_UNAVAILABLE, msg);
                log_err("%s", msg);
            } else {
                log_notice("check: connected, %s%s, ETRN advertised",
                           res->smtp.tls_version[0] ? res->smtp.tls_version : "no TLS",
                           res->smtp.mech[0] ? ", authenticated" : "");
            }
            session_quit(s, SESSION_QUIT_SHORT_MS);
        } else {
            relay_error(res, res->smtp.stage, res->smtp.exit, res->smtp.error);
        }
        return;
    }

    /* order: from where the last poll's deadline stopped; duplicates once */
    int q[CFG_MAX_NODES], nq = 0, dup[CFG_MAX_NODES];
    int start = rp->lr.next_start < rc->nnodes ? rp->lr.next_start : 0;
    for (int i = 0; i < rc->nnodes; i++) {
        dup[i] = -1;
        for (int j = 0; j < i; j++)
            if (same_node(rc->nodes[i], rc->nodes[j])) {
                dup[i] = j;
                break;
            }
    }
    for (int k = 0; k < rc->nnodes; k++) {
        int i = (start + k) % rc->nnodes;
        if (dup[i] < 0)
            q[nq++] = i;
    }
    if (start)
        log_info("starting with %s: the last poll ended before it", rc->nodes[start]);
    const char *stop_why = NULL;
    int pos = 0;
    if (rp->gate) {
        /* open the session now, while the cycle runs the DDNS update; the
         * first ETRN waits for the gate (the new address being served) */
        if (session_open(s, rp->deadline_ms) < 0) {
            relay_error(res, res->smtp.stage, res->smtp.exit, res->smtp.error);
            stop_why = res->smtp.error;
        } else {
            if (!s->caps.etrn)
                log_warn("relay does not advertise ETRN; trying anyway");
            if (!poll_gate_wait(rp, &stop_why)) {
                session_quit(s, SESSION_QUIT_SHORT_MS);
                relay_error(res, "etrn", EX_TEMPFAIL, stop_why);
            }
        }
    }
    if (!stop_why)
        pos = node_loop(rp, q, nq, &stop_why);
    rp->lr.next_start = 0;
    for (int k = pos; k < nq; k++) {
        struct node_result *nr = &res->nodes[q[k]];
        if (res->error[0] && strstr(res->error, "does not offer ETRN")) {
            node_final(nr, PO_NOT_OFFERED);
            snprintf(nr->text, sizeof nr->text, "not sent: the relay does not offer ETRN");
            continue;
        }
        nr->attempted = 0;
        node_final(nr, PO_NOT_ATTEMPTED);
        snprintf(nr->text, sizeof nr->text, "not attempted: %.200s", stop_why ? stop_why : "stopped");
        if (k == pos && stop_why && strcmp(stop_why, "poll-timeout reached") == 0) {
            rp->lr.next_start = q[k];
            relay_error(res, "etrn", EX_TEMPFAIL, "poll-timeout reached before every node was sent");
        }
    }
    for (int i = 0; i < rc->nnodes; i++)
        if (dup[i] >= 0) {
            struct node_result *nr = &res->nodes[i], *o = &res->nodes[dup[i]];
            const char *keep = nr->node;
            *nr = *o;
            nr->node = keep;
            nr->tries = 0;
            char t[240];
            snprintf(t, sizeof t, "same node as %.80s (sent once): %.120s", o->node, o->text);
            snprintf(nr->text, sizeof nr->text, "%s", t);
        }
}

/* The nodes that had mail, once more (hold: confirm before hanging up). */
static int etrn_confirm(struct relay_poll *rp, int64_t deadline_ms)
{
    struct relay_result *res = rp->res;
    const struct relay_cfg *rc = rp->rc;
    int q[CFG_MAX_NODES], nq = 0;
    struct node_result saved[CFG_MAX_NODES];
    for (int i = 0; i < res->nnodes; i++)
        if (res->nodes[i].attempted && poll_outcome_delivers(res->nodes[i].outcome) &&
            res->nodes[i].tries > 0) {
            saved[nq] = res->nodes[i];
            res->nodes[i].tries = 0;
            q[nq++] = i;
        }
    if (nq == 0)
        return 0;
    int old_exit = res->exit;
    char old_stage[sizeof res->stage], old_error[sizeof res->error];
    memcpy(old_stage, res->stage, sizeof old_stage);
    memcpy(old_error, res->error, sizeof old_error);
    log_set_prefix(rc->name);
    res->confirms++;
    int64_t keep = rp->deadline_ms;
    rp->deadline_ms = deadline_ms;
    log_info("confirming: ETRN again for %d node%s that had mail", nq, nq == 1 ? "" : "s");
    const char *why = NULL;
    int had_no_pipe = rp->lr.no_pipelining[0] != '\0';
    int pos = node_loop(rp, q, nq, &why);
    int accepted = 0;
    for (int k = 0; k < nq; k++) {
        struct node_result *nr = &res->nodes[q[k]];
        if (k < pos && poll_outcome_delivers(nr->outcome))
            accepted = 1;
        *nr = saved[k];             /* the poll's result stands; the confirmation is logged */
    }
    if (why && !accepted)
        log_info("confirmation stopped: %s", why);
    if (res->learned || (!had_no_pipe && rp->lr.no_pipelining[0]))
        learn_save(rp->cfg, rc, &rp->lr);   /* a limit (or a group refused) first seen while confirming */
    res->exit = old_exit;           /* a failed confirmation does not change the poll's verdict */
    memcpy(res->stage, old_stage, sizeof old_stage);
    memcpy(res->error, old_error, sizeof old_error);
    rp->deadline_ms = keep;
    log_info("confirmation: %s", accepted ? "accepted again: delivery may follow" : "nothing accepted");
    log_set_prefix(NULL);
    return accepted;
}

const struct poll_method etrn_method = { "etrn", etrn_poll, etrn_confirm };

const struct poll_method *poll_method_for(const struct relay_cfg *rc)
{
    (void)rc;
    return &etrn_method;
}
