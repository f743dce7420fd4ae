/* SPDX-License-Identifier: ISC */
/* session.c — one SMTP session: connect, TLS, EHLO, AUTH; QUIT. */
#include "conf/config.h"
#include "smtp/session.h"
#include "smtp/auth.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void relay_fail(struct session_report *res, const char *stage, int code, const char *msg)
{
    snprintf(res->stage, sizeof res->stage, "%s", stage);
    snprintf(res->error, sizeof res->error, "%s", msg);
    res->exit = exit_worst(res->exit, code);
    log_err("%s failed: %s (%s)", stage, msg, exit_name(code));
}

/* TLS cache file: this magic, the relay section's digest (relay_cfg.digest,
 * 33 bytes with its NUL), then GnuTLS's session data. */
#define TLS_CACHE_MAGIC "etrnpoll-tls-1\n"

static void tls_cache_name(const struct relay_cfg *rc, char *out, size_t n)
{
    if (conn_tls_cache_name(rc->name, rc->host, out, n) < 0)
        out[0] = '\0';
}

/* A step's time-out in seconds, bounded by the session's deadline. */
static int tmo(const struct session *s, int step_s)
{
    if (s->deadline_ms <= 0)
        return step_s;
    int64_t left = s->deadline_ms - now_ms();
    if (left <= 0)
        return 0;
    int64_t l = (left + 999) / 1000;
    return l < step_s ? (int)l : step_s;
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
    if (conn_cmd(&s->c, cmd, &r, tmo(s, s->rc->to.command)) < 0) {
        relay_fail(s->rep, stage, EX_TEMPFAIL, s->c.err);
        return -1;
    }
    if (r.code != 250) {
        /* HELO only to find out whether the server speaks SMTP at all:
         * without EHLO there is no ETRN (RFC 1985 is an ESMTP extension). */
        snprintf(msg, sizeof msg, "EHLO refused: %d %s", r.code, reply_first_line(&r, fl, sizeof fl));
        if (r.code / 100 == 5) {
            snprintf(cmd, sizeof cmd, "HELO %s", s->cfg->ehlo_name);
            struct smtp_reply h;
            if (conn_cmd(&s->c, cmd, &h, tmo(s, s->rc->to.command)) == 0 && h.code == 250)
                snprintf(msg, sizeof msg, "relay does not speak ESMTP (EHLO %d, HELO 250): ETRN is impossible",
                         r.code);
        }
        relay_fail(s->rep, stage, reply_exit(&r), msg);
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
        .timeout_s = tmo(s, rc->to.tls),
        .implicit = rc->tls == TLS_IMPLICIT,
        .allow_weak_keys = rc->tls_allow_weak_keys,
    };
    int tr = conn_starttls(&s->c, &p, ti);
    if (tr < 0) {
        if (s->rep->first_ehlo_etrn == 0) {
            /* e.g. OpenSMTPD: the user would see only a TLS alert */
            char m[sizeof s->c.err];
            snprintf(m, sizeof m, "%.150s (note: the relay's first EHLO did not offer ETRN either: "
                     "it may not be an ETRN relay at all)", s->c.err);
            memcpy(s->c.err, m, sizeof m);
        }
        /* -2: reset/EOF/time-out mid-handshake is a lost connection (75);
         * verification, pins, versions, injection are refusals (76) */
        relay_fail(s->rep, "tls", tr == -2 ? EX_TEMPFAIL : EX_PROTOCOL, s->c.err);
        return -1;
    }
    snprintf(s->rep->tls_version, sizeof s->rep->tls_version, "%s", ti->version);
    snprintf(s->rep->tls_cipher, sizeof s->rep->tls_cipher, "%s", ti->cipher);
    s->rep->tls_resumed |= ti->resumed;
    log_info("TLS %s with %s%s", ti->cipher, ti->peer_dn[0] ? ti->peer_dn : "(no DN)",
             ti->resumed ? ", session resumed" : "");
    return 0;
}

void session_init(struct session *s, const struct etp_config *cfg, const struct relay_cfg *rc,
                  struct session_report *rep)
{
    memset(s, 0, sizeof *s);
    s->c.fd = -1;
    s->c.dead = 1;
    s->cfg = cfg;
    s->rc = rc;
    s->rep = rep;
    rep->first_ehlo_etrn = -1;
    if (rc->tls != TLS_NONE) {
        char cache[128];
        tls_cache_name(rc, cache, sizeof cache);
        size_t len = 0;
        unsigned char *d = state_read_raw(cfg->state_dir, cache, 16384, &len);
        /* The session was verified under the relay's configuration of that
         * time (ca-file, tls-name, pins...): resume it only if that
         * configuration is unchanged, else a full, verified handshake. */
        size_t hl = strlen(TLS_CACHE_MAGIC) + sizeof rc->digest;
        if (d && len > hl && memcmp(d, TLS_CACHE_MAGIC, strlen(TLS_CACHE_MAGIC)) == 0 &&
            memcmp(d + strlen(TLS_CACHE_MAGIC), rc->digest, sizeof rc->digest) == 0) {
            s->tls_resume = malloc(len - hl);
            if (s->tls_resume) {
                memcpy(s->tls_resume, d + hl, len - hl);
                s->tls_resume_len = len - hl;
            }
        } else if (d) {
            log_info("TLS session cache %s is from another configuration of this relay: "
                     "not resuming (full handshake)", cache);
        }
        if (d) {
            secure_wipe(d, len);
            free(d);
        }
    }
}

/* Greeting, EHLO, STARTTLS, TLS, EHLO, AUTH on a connected socket. */
static int open_dialogue(struct session *s)
{
    const struct relay_cfg *rc = s->rc;
    struct smtp_reply r;
    struct smtp_caps caps;
    struct tls_info ti;
    char fl[200], msg[320];
    if (rc->tls == TLS_IMPLICIT && do_tls(s, &ti) < 0)
        return -1;
    if (conn_read_greeting(&s->c, &r, tmo(s, rc->to.greeting), relay_port(rc),
                           rc->tls == TLS_IMPLICIT) < 0) {
        relay_fail(s->rep, "greeting", EX_TEMPFAIL, s->c.err);
        return -1;
    }
    if (r.code != 220) {
        snprintf(msg, sizeof msg, "greeting %d %s", r.code, reply_first_line(&r, fl, sizeof fl));
        relay_fail(s->rep, "greeting", reply_exit(&r), msg);
        return -1;
    }
    if (do_ehlo(s, &caps, "ehlo") < 0)
        return -1;
    if (s->rep->first_ehlo_etrn < 0)
        s->rep->first_ehlo_etrn = caps.etrn;
    if (rc->tls == TLS_STARTTLS) {
        if (!caps.starttls) {
            relay_fail(s->rep, "starttls", EX_PROTOCOL,
                       "relay does not offer STARTTLS (or an attacker removed it); refusing to continue in clear");
            return -1;
        }
        if (conn_cmd(&s->c, "STARTTLS", &r, tmo(s, rc->to.command)) < 0) {
            relay_fail(s->rep, "starttls", EX_TEMPFAIL, s->c.err);
            return -1;
        }
        if (r.code != 220) {
            snprintf(msg, sizeof msg, "STARTTLS refused: %d %s; refusing to continue in clear",
                     r.code, reply_first_line(&r, fl, sizeof fl));
            relay_fail(s->rep, "starttls", EX_PROTOCOL, msg);
            return -1;
        }
        if (do_tls(s, &ti) < 0)
            return -1;
        /* RFC 3207: forget everything learnt before TLS; ask again. */
        memset(&caps, 0, sizeof caps);
        if (do_ehlo(s, &caps, "ehlo-tls") < 0)
            return -1;
    }
    s->rep->etrn_advertised = caps.etrn;
    if (rc->username) {
        if (rc->tls == TLS_NONE && !rc->allow_plaintext_auth) {
            relay_fail(s->rep, "auth", EX_CONFIG, "refusing AUTH without TLS");
            return -1;
        }
        if (!caps.auth || caps.nmechs == 0) {
            relay_fail(s->rep, "auth", EX_PROTOCOL, "relay offers no AUTH mechanism, but a username is configured");
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
            relay_fail(s->rep, "auth", EX_PROTOCOL, msg);
            return -1;
        }
        char *pw = NULL, err[300];
        if (secret_read(rc->password_file, &pw, err, sizeof err) < 0) {
            relay_fail(s->rep, "auth", EX_CONFIG, err);
            return -1;
        }
        log_add_secret(pw);
        int ar = auth_run(&s->c, mech, rc->username, pw, tmo(s, rc->to.command), &r);
        secret_free(pw);
        if (ar != 0) {
            relay_fail(s->rep, "auth", ar, s->c.err);
            return -1;
        }
        snprintf(s->rep->mech, sizeof s->rep->mech, "%s", mech);
        log_info("authenticated as %s with %s", rc->username, mech);
    }
    s->caps = caps;
    return 0;
}

int session_open(struct session *s, int64_t deadline_ms)
{
    const struct relay_cfg *rc = s->rc;
    int port = relay_port(rc);
    s->deadline_ms = deadline_ms;
    if (s->c.fd >= 0)
        session_drop(s);
    if (deadline_ms > 0 && now_ms() >= deadline_ms) {
        relay_fail(s->rep, "connect", EX_TEMPFAIL, "poll-timeout reached before connecting");
        return -1;
    }
    s->rep->sessions++;
    s->commands = 0;
    s->opened_ms = now_ms();
    log_info("connecting to %s port %d (%s)", rc->host, port, tls_mode_name(rc->tls));
    struct relay_addrs ra;
    char err[sizeof s->c.err];
    if (s->addr_pending)          /* a reconnect: take the refresh if it is there */
        (void)addrcache_collect(&s->addr_pending, 0, NULL);
    if (addrcache_resolve(s->cfg->state_dir, rc->name, rc->host, rc->address_cache, 0, &ra, err,
                          sizeof err, &s->addr_pending) < 0) {
        relay_fail(s->rep, "connect", EX_TEMPFAIL, err);
        session_drop(s);
        return -1;
    }
    int r = conn_open_addrs(&s->c, rc->host, &ra, port, tmo(s, rc->to.connect));
    if (r < 0 && ra.origin == ADDR_REFRESHING && !etp_abort && tmo(s, rc->to.connect) > 0) {
        /* the stale addresses did not answer: wait for the lookup */
        struct relay_addrs fresh;
        if (addrcache_collect(&s->addr_pending, tmo(s, rc->to.connect) * 1000, &fresh) == 1 &&
            !addrcache_same(&fresh, &ra))
            r = conn_open_addrs(&s->c, rc->host, &fresh, port, tmo(s, rc->to.connect));
    } else if (r < 0 && ra.origin == ADDR_CACHED && !etp_abort && tmo(s, rc->to.connect) > 0) {
        /* the relay may have moved within the cache's TTL: ask DNS now */
        struct relay_addrs fresh;
        log_info("no cached address of %s answered: looking it up again", rc->host);
        if (addrcache_resolve(s->cfg->state_dir, rc->name, rc->host, rc->address_cache, 1, &fresh,
                              err, sizeof err, NULL) == 0 && !addrcache_same(&fresh, &ra))
            r = conn_open_addrs(&s->c, rc->host, &fresh, port, tmo(s, rc->to.connect));
    }
    if (r < 0) {
        relay_fail(s->rep, "connect", EX_TEMPFAIL, s->c.err);
        session_drop(s);
        return -1;
    }
    (void)sscanf(s->c.peer, "[%45[^]]", s->rep->peer);   /* the hold trusts this address */
    if (open_dialogue(s) < 0) {
        /* a refused certificate on a cached address: it may be someone
         * else's now (verification is by name, so nothing was trusted) */
        if (ra.origin != ADDR_LITERAL && ra.origin != ADDR_LOOKUP &&
            strcmp(s->rep->stage, "tls") == 0 && s->rep->exit == EX_PROTOCOL)
            addrcache_forget(s->cfg->state_dir, rc->name, rc->host);
        session_quit(s, (int64_t)rc->to.quit * 1000);
        return -1;
    }
    s->open = 1;
    s->last_cmd_ms = now_ms();
    return 0;
}

/* Wait for the first byte of a reply until deadline_ms (precise), then
 * read the reply.  0 ok, -1 (c.err). */
static int read_reply_until(struct session *s, struct smtp_reply *r, int64_t deadline_ms)
{
    struct conn *c = &s->c;
    if (c->dead || c->fd < 0) {
        snprintf(c->err, sizeof c->err, "connection is closed");
        return -1;
    }
    if (c->rlen == 0 && !(c->tls && gnutls_record_check_pending(c->tls) > 0)) {
        int w = wait_fd(c->fd, POLLIN, deadline_ms);
        if (w <= 0) {
            snprintf(c->err, sizeof c->err, "%s", w == 0 ? "timed out waiting for the reply"
                     : (etp_abort ? "aborted" : "wait failed"));
            c->dead = 1;
            return -1;
        }
    }
    int64_t left = deadline_ms - now_ms();
    int secs = left <= 0 ? 1 : (int)((left + 999) / 1000);
    return conn_read_reply(c, r, secs);
}

/* Has the peer's TCP acknowledged everything we sent?  1 yes, 0 no, -1 unknown. */
static int all_acked(int fd)
{
    struct tcp_info ti;
    socklen_t l = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
        return -1;
    return ti.tcpi_unacked == 0;
}

/* Wait for a reply until `until`; from `soon` on (if before `until`), a
 * relay whose TCP has acknowledged everything sent is taken to sit on the
 * reply: -2 (tarpit).  0 ok, -1 no reply (c.err). */
static int wait_reply_patient(struct session *s, struct smtp_reply *r, int64_t until, int64_t soon,
                              int64_t patience_ms)
{
    if (soon > 0 && soon < until && s->c.rlen == 0 &&
        !(s->c.tls && gnutls_record_check_pending(s->c.tls) > 0)) {
        int w;
        while ((w = wait_fd(s->c.fd, POLLIN, soon)) == 0) {
            /* No reply yet.  If the relay's TCP has acknowledged the command,
             * the relay itself sits on it (a tarpit); if not, the line is slow
             * (e.g. a downlink full of delivery traffic): keep waiting. */
            if (all_acked(s->c.fd) == 1) {
                snprintf(s->c.err, sizeof s->c.err, "no reply within %lld ms although the relay "
                         "received the command", (long long)patience_ms);
                s->c.dead = 1;
                return -2;
            }
            soon = now_ms() + 500 < until ? now_ms() + 500 : until;
            if (now_ms() >= until)
                break;
        }
    }
    return read_reply_until(s, r, until);
}

/* The time a command may take: *until = now + timeout_ms, cut to the
 * poll's deadline (if any); returns the seconds left for the send, rounded
 * up, or -1 (s->c.err set) when the deadline has passed already. */
static int send_window(struct session *s, int64_t timeout_ms, int64_t deadline_ms, int64_t *until)
{
    *until = now_ms() + timeout_ms;
    if (deadline_ms > 0 && deadline_ms < *until)
        *until = deadline_ms;
    int64_t left = *until - now_ms();
    if (left <= 0) {
        snprintf(s->c.err, sizeof s->c.err, "poll-timeout reached");
        return -1;
    }
    return (int)((left + 999) / 1000);
}

int session_cmd_patient(struct session *s, const char *cmd, struct smtp_reply *r, int64_t timeout_ms,
                        int64_t deadline_ms, int64_t patience_ms)
{
    int64_t until;
    int secs = send_window(s, timeout_ms, deadline_ms, &until);
    if (secs < 0 || conn_send_line(&s->c, cmd, secs) < 0)
        return -1;
    s->commands++;
    s->last_cmd_ms = now_ms();
    return wait_reply_patient(s, r, until, patience_ms > 0 ? s->last_cmd_ms + patience_ms : 0, patience_ms);
}

int session_send_group(struct session *s, const char *const *cmds, int n, int64_t timeout_ms,
                       int64_t deadline_ms)
{
    int64_t until;
    int secs = send_window(s, timeout_ms, deadline_ms, &until);
    if (secs < 0 || conn_send_lines(&s->c, cmds, n, secs) < 0)
        return -1;
    s->commands += n;
    s->last_cmd_ms = now_ms();
    return 0;
}

int session_reply_patient(struct session *s, struct smtp_reply *r, int64_t timeout_ms, int64_t deadline_ms,
                          int64_t patience_ms)
{
    int64_t t0 = now_ms(), until = t0 + timeout_ms;
    if (deadline_ms > 0 && deadline_ms < until)
        until = deadline_ms;
    if (until - t0 <= 0) {
        snprintf(s->c.err, sizeof s->c.err, "poll-timeout reached");
        s->c.dead = 1;
        return -1;
    }
    return wait_reply_patient(s, r, until, patience_ms > 0 ? t0 + patience_ms : 0, patience_ms);
}

int session_cmd(struct session *s, const char *cmd, struct smtp_reply *r, int64_t timeout_ms,
                int64_t deadline_ms)
{
    return session_cmd_patient(s, cmd, r, timeout_ms, deadline_ms, 0);
}

static void keep_resume_data(struct session *s)
{
    if (!s->c.tls)
        return;
    size_t len = 0;
    void *d = conn_tls_session_data(&s->c, &len);
    if (d) {
        if (s->tls_resume)
            secure_wipe(s->tls_resume, s->tls_resume_len);
        free(s->tls_resume);
        s->tls_resume = d;
        s->tls_resume_len = len;
    }
}

static void close_conn(struct session *s)
{
    s->rep->bytes_in += s->c.bytes_in;
    s->rep->bytes_out += s->c.bytes_out;
    s->c.bytes_in = s->c.bytes_out = 0;
    conn_close(&s->c);
    s->open = 0;
}

void session_drop(struct session *s)
{
    if (s->c.fd < 0) {
        s->open = 0;
        return;
    }
    if (etp_abort) {
        /* Stopped by a signal (daemon stop, link down) while waiting for a
         * reply: say goodbye without waiting for the answer.  The send only
         * succeeds if the socket buffer has room; it never blocks. */
        s->c.dead = 0;
        log_info("stopping: sending QUIT without waiting for the reply");
        conn_send_line(&s->c, "QUIT", 1);
    }
    keep_resume_data(s);
    close_conn(s);
}

void session_quit(struct session *s, int64_t wait_ms)
{
    if (s->c.fd < 0 || s->c.dead || etp_abort) {
        session_drop(s);
        return;
    }
    int64_t cap = (int64_t)s->rc->to.quit * 1000;
    if (wait_ms > cap)
        wait_ms = cap;
    if (wait_ms < 1)
        wait_ms = 1;
    struct smtp_reply r;
    if (conn_send_line(&s->c, "QUIT", 1) == 0)
        read_reply_until(s, &r, now_ms() + wait_ms);
    keep_resume_data(s);          /* after QUIT: a TLS 1.3 ticket may come late */
    close_conn(s);
}

int session_usable(struct session *s)
{
    if (!s->open || s->c.dead || s->c.fd < 0)
        return 0;
    int pending = s->c.rlen > 0 || (s->c.tls && gnutls_record_check_pending(s->c.tls) > 0);
    if (!pending) {
        struct pollfd p = { .fd = s->c.fd, .events = POLLIN };
        pending = poll(&p, 1, 0) != 0;
    }
    if (pending) {
        /* nothing was asked: a 421 for an idle time-out, or EOF */
        log_info("the relay closed the idle session");
        session_drop(s);
        return 0;
    }
    return 1;
}

void session_free(struct session *s)
{
    if (!s->rc)
        return;
    if (s->c.fd >= 0)
        session_quit(s, SESSION_QUIT_SHORT_MS);
    if (s->addr_pending)          /* after QUIT: off the path to the ETRN reply */
        (void)addrcache_collect(&s->addr_pending, ADDRCACHE_COLLECT_MS, NULL);
    if (s->tls_resume) {
        char cache[128];
        tls_cache_name(s->rc, cache, sizeof cache);
        size_t hl = strlen(TLS_CACHE_MAGIC) + sizeof s->rc->digest;
        unsigned char *d = malloc(hl + s->tls_resume_len);
        if (d) {                  /* tagged with the configuration it was verified under */
            memcpy(d, TLS_CACHE_MAGIC, strlen(TLS_CACHE_MAGIC));
            memcpy(d + strlen(TLS_CACHE_MAGIC), s->rc->digest, sizeof s->rc->digest);
            memcpy(d + hl, s->tls_resume, s->tls_resume_len);
            state_write_raw(s->cfg->state_dir, cache, d, hl + s->tls_resume_len);
            secure_wipe(d, hl + s->tls_resume_len);
            free(d);
        }
        secure_wipe(s->tls_resume, s->tls_resume_len);
        free(s->tls_resume);
        s->tls_resume = NULL;
    }
    s->rc = NULL;
}
