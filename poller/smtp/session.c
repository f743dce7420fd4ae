/* session.c — one relay's poll. */
#include "conf/config.h"
#include "smtp/session.h"
#include "smtp/auth.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SESSIONS_PER_POLL 16     /* hard cap on reconnects for one relay */

void relay_result_init(struct relay_result *res, const struct relay_cfg *rc)
{
    memset(res, 0, sizeof *res);
    res->rc = rc;
    res->nnodes = rc->nnodes;
    for (int i = 0; i < rc->nnodes; i++) {
        res->nodes[i].node = rc->nodes[i];
        res->nodes[i].count = -1;
        res->nodes[i].exit = EX_TEMPFAIL;
        snprintf(res->nodes[i].text, sizeof res->nodes[i].text, "not attempted");
    }
}

static void relay_fail(struct relay_result *res, const char *stage, int code, const char *msg)
{
    snprintf(res->stage, sizeof res->stage, "%s", stage);
    snprintf(res->error, sizeof res->error, "%s", msg);
    res->exit = exit_worst(res->exit, code);
    log_err("%s failed: %s (%s)", stage, msg, exit_name(code));
}

static void tls_cache_name(const struct relay_cfg *rc, char *out, size_t n)
{
    if (conn_tls_cache_name(rc->name, rc->host, out, n) < 0)
        out[0] = '\0';
}

/* Reply to greeting/EHLO: 4xx is temporary, 5xx refusal. */
static int reply_exit(const struct smtp_reply *r)
{
    return r->code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE;
}

static int do_ehlo(struct session *s, struct smtp_caps *caps, const char *stage)
{
    struct smtp_reply r;
    char cmd[300], fl[200], msg[300];
    snprintf(cmd, sizeof cmd, "EHLO %s", s->cfg->ehlo_name);
    if (conn_cmd(&s->c, cmd, &r, s->rc->to.command) < 0) {
        relay_fail(s->res, stage, EX_TEMPFAIL, s->c.err);
        return -1;
    }
    if (r.code != 250) {
        /* HELO only to find out whether the server speaks SMTP at all:
         * without EHLO there is no ETRN (RFC 1985 is an ESMTP extension). */
        snprintf(msg, sizeof msg, "EHLO refused: %d %s", r.code, reply_first_line(&r, fl, sizeof fl));
        if (r.code / 100 == 5) {
            snprintf(cmd, sizeof cmd, "HELO %s", s->cfg->ehlo_name);
            struct smtp_reply h;
            if (conn_cmd(&s->c, cmd, &h, s->rc->to.command) == 0 && h.code == 250)
                snprintf(msg, sizeof msg, "relay does not speak ESMTP (EHLO %d, HELO 250): ETRN is impossible",
                         r.code);
        }
        relay_fail(s->res, stage, reply_exit(&r), msg);
        return -1;
    }
    caps_parse(&r, caps);
    return 0;
}

static int do_tls(struct session *s, struct tls_info *ti)
{
    const struct relay_cfg *rc = s->rc;
    struct tls_params p = {
        .verify_name = rc->tls_name ? rc->tls_name : rc->host,
        .ca_file = rc->ca_file,
        .pins = rc->pins, .npins = rc->npins,
        .resume = s->tls_resume, .resume_len = s->tls_resume_len,
        .timeout_s = rc->to.tls,
        .implicit = rc->tls == TLS_IMPLICIT,
        .allow_weak_keys = rc->tls_allow_weak_keys,
    };
    int tr = conn_starttls(&s->c, &p, ti);
    if (tr < 0) {
        /* -2: reset/EOF/time-out mid-handshake is a lost connection (75);
         * verification, pins, versions, injection are refusals (76) */
        relay_fail(s->res, "tls", tr == -2 ? EX_TEMPFAIL : EX_PROTOCOL, s->c.err);
        return -1;
    }
    snprintf(s->res->tls_version, sizeof s->res->tls_version, "%s", ti->version);
    snprintf(s->res->tls_cipher, sizeof s->res->tls_cipher, "%s", ti->cipher);
    s->res->tls_resumed |= ti->resumed;
    log_info("TLS %s with %s%s", ti->cipher, ti->peer_dn[0] ? ti->peer_dn : "(no DN)",
             ti->resumed ? ", session resumed" : "");
    return 0;
}

/* Connect and get to the point where ETRN can be sent. */
static int session_open(struct session *s)
{
    const struct relay_cfg *rc = s->rc;
    struct smtp_reply r;
    struct smtp_caps caps;
    struct tls_info ti;
    char fl[200], msg[320];
    int port = relay_port(rc);

    if (s->res->sessions >= MAX_SESSIONS_PER_POLL) {
        relay_fail(s->res, "connect", EX_TEMPFAIL, "too many reconnects in one poll");
        return -1;
    }
    s->res->sessions++;
    s->etrn_in_session = 0;
    log_info("connecting to %s port %d (%s)", rc->host, port, tls_mode_name(rc->tls));
    if (conn_open(&s->c, rc->host, port, rc->to.connect) < 0) {
        relay_fail(s->res, "connect", EX_TEMPFAIL, s->c.err);
        return -1;
    }
    (void)sscanf(s->c.peer, "[%45[^]]", s->res->peer);   /* the hold trusts this address */
    if (rc->tls == TLS_IMPLICIT && do_tls(s, &ti) < 0)
        return -1;
    if (conn_read_greeting(&s->c, &r, rc->to.greeting, port, rc->tls == TLS_IMPLICIT) < 0) {
        relay_fail(s->res, "greeting", EX_TEMPFAIL, s->c.err);
        return -1;
    }
    if (r.code != 220) {
        snprintf(msg, sizeof msg, "greeting %d %s", r.code, reply_first_line(&r, fl, sizeof fl));
        relay_fail(s->res, "greeting", reply_exit(&r), msg);
        return -1;
    }
    if (do_ehlo(s, &caps, "ehlo") < 0)
        return -1;
    if (rc->tls == TLS_STARTTLS) {
        if (!caps.starttls) {
            relay_fail(s->res, "starttls", EX_PROTOCOL,
                       "relay does not offer STARTTLS (or an attacker removed it); refusing to continue in clear");
            return -1;
        }
        if (conn_cmd(&s->c, "STARTTLS", &r, rc->to.command) < 0) {
            relay_fail(s->res, "starttls", EX_TEMPFAIL, s->c.err);
            return -1;
        }
        if (r.code != 220) {
            snprintf(msg, sizeof msg, "STARTTLS refused: %d %s; refusing to continue in clear",
                     r.code, reply_first_line(&r, fl, sizeof fl));
            relay_fail(s->res, "starttls", EX_PROTOCOL, msg);
            return -1;
        }
        if (do_tls(s, &ti) < 0)
            return -1;
        /* RFC 3207: forget everything learnt before TLS; ask again. */
        memset(&caps, 0, sizeof caps);
        if (do_ehlo(s, &caps, "ehlo-tls") < 0)
            return -1;
    }
    s->res->etrn_advertised = caps.etrn;
    if (rc->username) {
        if (rc->tls == TLS_NONE && !rc->allow_plaintext_auth) {
            relay_fail(s->res, "auth", EX_CONFIG, "refusing AUTH without TLS");
            return -1;
        }
        if (!caps.auth || caps.nmechs == 0) {
            relay_fail(s->res, "auth", EX_PROTOCOL, "relay offers no AUTH mechanism, but a username is configured");
            return -1;
        }
        const char *mech = auth_choose(rc->mechs, rc->nmechs, rc->mechs_default, &caps,
                                       rc->tls != TLS_NONE);
        if (!mech) {
            char offered[200] = "";
            for (int i = 0; i < caps.nmechs; i++) {
                size_t l = strlen(offered);
                snprintf(offered + l, sizeof offered - l, "%s%s", i ? " " : "", caps.mechs[i]);
            }
            snprintf(msg, sizeof msg, "no common AUTH mechanism (relay offers: %s)", offered);
            relay_fail(s->res, "auth", EX_PROTOCOL, msg);
            return -1;
        }
        char *pw = NULL, err[300];
        if (secret_read(rc->password_file, &pw, err, sizeof err) < 0) {
            relay_fail(s->res, "auth", EX_CONFIG, err);
            return -1;
        }
        log_add_secret(pw);
        int ar = auth_run(&s->c, mech, rc->username, pw, rc->to.command, &r);
        secret_free(pw);
        if (ar != 0) {
            relay_fail(s->res, "auth", ar, s->c.err);
            return -1;
        }
        snprintf(s->res->mech, sizeof s->res->mech, "%s", mech);
        log_info("authenticated as %s with %s", rc->username, mech);
    }
    if (!caps.etrn)
        log_warn("relay does not advertise ETRN; trying anyway");
    s->open = 1;
    s->last_cmd_ms = now_ms();
    return 0;
}

static void session_close(struct session *s, int quit)
{
    if (quit && !s->c.dead && s->c.fd >= 0) {
        struct smtp_reply r;
        conn_cmd(&s->c, "QUIT", &r, s->rc->to.quit);
    } else if (etp_abort && s->c.fd >= 0) {
        /* Stopped by a signal (daemon stop, link down) while waiting for a
         * reply: say goodbye without waiting for the answer.  The send only
         * succeeds if the socket buffer has room; it never blocks. */
        s->c.dead = 0;
        log_info("stopping: sending QUIT without waiting for the reply");
        conn_send_line(&s->c, "QUIT", 1);
    }
    if (s->c.tls) {     /* after QUIT: a TLS 1.3 ticket may come late; none: keep the old one */
        size_t len = 0;
        void *d = conn_tls_session_data(&s->c, &len);
        if (d) {
            free(s->tls_resume);
            s->tls_resume = d;
            s->tls_resume_len = len;
        }
    }
    s->res->bytes_in += s->c.bytes_in;
    s->res->bytes_out += s->c.bytes_out;
    s->c.bytes_in = s->c.bytes_out = 0;
    conn_close(&s->c);
    s->open = 0;
}

static int node_exit(enum etrn_class c)
{
    switch (c) {
    case ETRN_OK: return 0;
    case ETRN_TEMP: case ETRN_RECONNECT: return EX_TEMPFAIL;
    case ETRN_PERM: return EX_UNAVAILABLE;
    case ETRN_CONFIG: return EX_CONFIG;
    default: return EX_PROTOCOL;
    }
}

void relay_poll(struct session *s, const struct etp_config *cfg, const struct relay_cfg *rc,
                struct relay_result *res, int check_only)
{
    memset(s, 0, sizeof *s);
    s->c.fd = -1;
    s->cfg = cfg;
    s->rc = rc;
    s->res = res;
    relay_result_init(res, rc);
    res->start_ms = now_ms();
    log_set_prefix(rc->name);

    char cache[128];
    tls_cache_name(rc, cache, sizeof cache);
    if (rc->tls != TLS_NONE)
        s->tls_resume = state_read_raw(cfg->state_dir, cache, 16384, &s->tls_resume_len);

    if (check_only) {
        if (session_open(s) == 0) {
            if (!res->etrn_advertised)
                relay_fail(res, "ehlo", EX_UNAVAILABLE, "relay does not advertise ETRN");
            else
                log_notice("check: connected, %s%s, ETRN advertised",
                           res->tls_version[0] ? res->tls_version : "no TLS",
                           res->mech[0] ? ", authenticated" : "");
            session_close(s, 1);
        }
        goto out;
    }

    int reconnects_for_limit = 0;
    for (int i = 0; i < rc->nnodes; i++) {
        struct node_result *nr = &res->nodes[i];
        if (etp_abort)
            break;
        if (s->open && rc->max_etrn_per_session > 0 && s->etrn_in_session >= rc->max_etrn_per_session) {
            log_info("max-etrn-per-session (%d) reached; reconnecting", rc->max_etrn_per_session);
            session_close(s, 1);
        }
        if (!s->open && session_open(s) < 0) {
            session_close(s, 1);
            break;              /* remaining nodes stay "not attempted" */
        }
        char cmd[300];
        snprintf(cmd, sizeof cmd, "ETRN %s", nr->node);
        struct smtp_reply r;
        nr->attempted = 1;
        s->etrn_in_session++;
        s->last_cmd_ms = now_ms();
        if (conn_cmd(&s->c, cmd, &r, rc->to.etrn) < 0) {
            nr->cls = ETRN_TEMP;
            nr->exit = EX_TEMPFAIL;
            snprintf(nr->text, sizeof nr->text, "no reply: %.180s", s->c.err);
            log_warn("ETRN %s: %s", nr->node, nr->text);
            session_close(s, 0);
            /* one fresh session for the remaining nodes; this node's fate is
             * unknown (the relay may or may not have started the queue), so
             * it is reported as temporary and not repeated. */
            continue;
        }
        struct etrn_result er;
        etrn_classify(&r, &er);
        reply_first_line(&r, nr->text, sizeof nr->text);
        nr->code = r.code;
        snprintf(nr->enh, sizeof nr->enh, "%s", r.enh);
        nr->count = er.count;
        if (er.cls == ETRN_RECONNECT && reconnects_for_limit < rc->nnodes + 1) {
            reconnects_for_limit++;
            log_info("ETRN %s: %d %s — session limit, reconnecting to continue", nr->node, r.code, nr->text);
            session_close(s, r.code != 421);
            if (s->etrn_in_session <= 1 && reconnects_for_limit > 1) {
                /* even a fresh session refused the first ETRN: not a limit */
                nr->cls = ETRN_TEMP;
                nr->exit = EX_TEMPFAIL;
                continue;
            }
            nr->attempted = 0;
            i--;                /* retry this node on the new session */
            continue;
        }
        nr->cls = er.cls == ETRN_RECONNECT ? ETRN_TEMP : er.cls;
        nr->exit = node_exit(nr->cls);
        if (er.count >= 0)
            log_notice("ETRN %s: %d %s (%s, %ld messages)", nr->node, r.code, nr->text,
                       etrn_class_name(nr->cls), er.count);
        else
            log_notice("ETRN %s: %d %s (%s)", nr->node, r.code, nr->text, etrn_class_name(nr->cls));
    }
out:
    /* Nodes that got a reply (or lost their connection) count with their
     * own meaning; nodes never attempted are covered by the relay-level
     * failure already in res->exit (a permanent refusal of the whole relay
     * must not read as "temporary" because nodes were left over). */
    for (int i = 0; i < res->nnodes; i++)
        if (!check_only && res->nodes[i].attempted)
            res->exit = exit_worst(res->exit, res->nodes[i].exit);
    if (!check_only && etp_abort)
        res->exit = exit_worst(res->exit, EX_TEMPFAIL);
    if (s->tls_resume && !s->open)     /* open: session_end() writes it after QUIT */
        state_write_raw(cfg->state_dir, cache, s->tls_resume, s->tls_resume_len);
    res->end_ms = now_ms();
    log_set_prefix(NULL);
}

void session_keepalive(struct session *s, int idle_s)
{
    if (!s->open || s->c.dead)
        return;
    if (now_ms() - s->last_cmd_ms < (int64_t)idle_s * 1000)
        return;
    struct smtp_reply r;
    log_set_prefix(s->rc->name);
    if (conn_cmd(&s->c, "NOOP", &r, s->rc->to.command) < 0) {
        log_info("keepalive NOOP failed: %s", s->c.err);
        session_close(s, 0);
    }
    s->last_cmd_ms = now_ms();
    log_set_prefix(NULL);
}

void session_end(struct session *s)
{
    if (!s->rc)
        return;
    log_set_prefix(s->rc->name);
    if (s->c.fd >= 0)
        session_close(s, 1);
    log_set_prefix(NULL);
    if (s->tls_resume) {
        char cache[128];
        tls_cache_name(s->rc, cache, sizeof cache);
        state_write_raw(s->cfg->state_dir, cache, s->tls_resume, s->tls_resume_len);
        secure_wipe(s->tls_resume, s->tls_resume_len);
        free(s->tls_resume);
        s->tls_resume = NULL;
    }
}
