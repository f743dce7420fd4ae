/* SPDX-License-Identifier: ISC */
/* auth.c — SMTP AUTH via GNU SASL. */
#include "conf/config.h"
#include "smtp/auth.h"
#include "core/log.h"
#include "core/util.h"
#include <gsasl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One GNU SASL context for the process, made once (relays are polled in
 * threads); every AUTH has a session of its own with its own properties. */
static Gsasl *g_ctx;
static pthread_once_t g_ctx_once = PTHREAD_ONCE_INIT;

static void ctx_init(void)
{
    if (gsasl_init(&g_ctx) != GSASL_OK)
        g_ctx = NULL;
}

static Gsasl *ctx(void)
{
    pthread_once(&g_ctx_once, ctx_init);
    return g_ctx;
}

/* Round trips from "AUTH" to 235 as auth_run() does them. */
static int round_trips(const char *m)
{
    if (strcmp(m, "PLAIN") == 0)
        return 1;                       /* initial response */
    if (strcmp(m, "CRAM-MD5") == 0)
        return 2;                       /* challenge, response */
    return 3;                           /* SCRAM-*: 2 challenges; LOGIN: user, password */
}

static int usable(Gsasl *g, const char *m, const struct smtp_caps *caps)
{
    return caps_has_mech(caps, m) && gsasl_client_support_p(g, m);
}

/* Mechanisms that never send the password itself. */
static int challenge_response(const char *m)
{
    return strncmp(m, "SCRAM-", 6) == 0 || strcmp(m, "CRAM-MD5") == 0;
}

const char *auth_choose(char *const *prefs, int nprefs, int prefs_default,
                        const struct smtp_caps *caps, int in_tls)
{
    Gsasl *g = ctx();
    if (!g)
        return NULL;
    if (!in_tls) {
        /* No TLS (tls = none with allow-plaintext-auth): the listed order;
         * the default list puts what does not reveal the password first. */
        if (prefs_default)
            for (int i = 0; i < nprefs; i++)
                if (challenge_response(prefs[i]) && usable(g, prefs[i], caps))
                    return prefs[i];
        for (int i = 0; i < nprefs; i++)
            if (usable(g, prefs[i], caps))
                return prefs[i];
        return NULL;
    }
    /* Inside verified TLS the channel already authenticates the relay and
     * protects the password: fewest round trips wins (ties: listed order),
     * so CRAM-MD5 or LOGIN never come before PLAIN with an initial response.
     * Exception: an admin who lists SCRAM first gets SCRAM (mutual
     * authentication, the relay never sees the password) for one round
     * trip more. */
    const char *best = NULL;
    int best_rt = 0;
    for (int i = 0; i < nprefs; i++) {
        if (!usable(g, prefs[i], caps))
            continue;
        if (!best && !prefs_default && strncmp(prefs[i], "SCRAM-", 6) == 0)
            return prefs[i];
        int rt = round_trips(prefs[i]);
        if (!best || rt < best_rt) {
            best = prefs[i];
            best_rt = rt;
        }
    }
    return best;
}

/* gsasl_step64() frees the raw response without wiping it, and for PLAIN
 * and LOGIN that raw response holds the password: decode and encode here,
 * and wipe the raw buffer.  Same contract as gsasl_step64(). */
static int step64(Gsasl_session *s, const char *b64in, char **b64out)
{
    char *in = NULL, *raw = NULL;
    size_t inlen = 0, rawlen = 0;
    *b64out = NULL;
    if (b64in && *b64in) {
        int r = gsasl_base64_from(b64in, strlen(b64in), &in, &inlen);
        if (r != GSASL_OK)
            return r;
    }
    int st = gsasl_step(s, in, inlen, &raw, &rawlen);
    gsasl_free(in);
    if ((st == GSASL_OK || st == GSASL_NEEDS_MORE)) {
        int r = gsasl_base64_to(raw ? raw : "", rawlen, b64out, NULL);
        if (r != GSASL_OK)
            st = r;
    }
    if (raw) {
        secure_wipe(raw, rawlen);
        gsasl_free(raw);
    }
    return st;
}

/* GNU SASL keeps its own copy of the password and frees it unwiped. */
static void wipe_password_property(Gsasl_session *s)
{
    const char *p = gsasl_property_fast(s, GSASL_PASSWORD);
    if (p)
        secure_wipe((char *)p, strlen(p));
}

/* Wipe and free a SASL output buffer (it may hold the password). */
static void wipe_free(char **out)
{
    if (*out) {
        secure_wipe(*out, strlen(*out));
        gsasl_free(*out);
        *out = NULL;
    }
}

/* Mechanisms where the server speaks first (no initial response). */
static int server_first(const char *mech)
{
    return strcmp(mech, "LOGIN") == 0 || strcmp(mech, "CRAM-MD5") == 0;
}

static int fail_code(const struct smtp_reply *r)
{
    if (r->code / 100 == 4)
        return EX_TEMPFAIL;
    return EX_NOPERM;
}

int auth_run(struct conn *c, const char *mech, const char *user, const char *password,
             int timeout_s, struct smtp_reply *last)
{
    Gsasl *g = ctx();
    Gsasl_session *s = NULL;
    char *out = NULL;
    char line[1024];
    char shown[64];
    int rc;
    int sasl_st = GSASL_NEEDS_MORE;   /* status of the last gsasl_step() */

    reply_init(last);
    if (!g || gsasl_client_start(g, mech, &s) != GSASL_OK) {
        snprintf(c->err, sizeof c->err, "GNU SASL cannot start mechanism %s", mech);
        return EX_SOFTWARE;
    }
    gsasl_property_set(s, GSASL_AUTHID, user);
    gsasl_property_set(s, GSASL_PASSWORD, password);

    if (server_first(mech)) {
        snprintf(line, sizeof line, "AUTH %s", mech);
        rc = conn_send_line(c, line, timeout_s);
    } else {
        int st = step64(s, "", &out);
        sasl_st = st;
        if (st != GSASL_OK && st != GSASL_NEEDS_MORE) {
            snprintf(c->err, sizeof c->err, "SASL %s: %s", mech, gsasl_strerror(st));
            rc = EX_SOFTWARE;
            goto done;
        }
        /* RFC 4954: an empty initial response is sent as "=" */
        snprintf(line, sizeof line, "AUTH %s %s", mech, out && *out ? out : "=");
        snprintf(shown, sizeof shown, "AUTH %s <initial response redacted>", mech);
        rc = conn_send_line_redacted(c, line, shown, timeout_s);
        secure_wipe(line, sizeof line);
        wipe_free(&out);
    }
    if (rc < 0) {
        rc = EX_TEMPFAIL;
        goto done;
    }
    for (int round = 0; round < 10; round++) {
        if (conn_read_reply(c, last, timeout_s) < 0) {
            rc = EX_TEMPFAIL;
            goto done;
        }
        if (last->code == 235) {
            /* 235 only counts when GNU SASL has finished: for SCRAM that is
             * after the server-final message ("v=") proved the relay knows
             * the password; a 235 before it skips mutual authentication. */
            if (sasl_st != GSASL_OK) {
                snprintf(c->err, sizeof c->err,
                         "relay answered 235 before the %s exchange was complete (no server "
                         "proof%s): refusing — an impostor can do this; check the relay",
                         mech, strncmp(mech, "SCRAM-", 6) == 0 ? ", server-final \"v=\" missing" : "");
                rc = EX_PROTOCOL;
                goto done;
            }
            rc = 0;
            goto done;
        }
        if (last->code != 334) {
            char fl[200];
            snprintf(c->err, sizeof c->err, "AUTH %s refused: %d %s", mech, last->code,
                     reply_first_line(last, fl, sizeof fl));
            rc = fail_code(last);
            goto done;
        }
        /* 334 <base64 challenge> */
        char chal[REPLY_MAX_LINE];
        reply_first_line(last, chal, sizeof chal);
        int st = step64(s, chal, &out);
        sasl_st = st;
        if (st != GSASL_OK && st != GSASL_NEEDS_MORE) {
            /* cancel the exchange (RFC 4954 4.) */
            snprintf(c->err, sizeof c->err, "SASL %s: %s (bad server challenge?)", mech,
                     gsasl_strerror(st));
            struct smtp_reply tmp;
            if (conn_send_line(c, "*", timeout_s) == 0)
                conn_read_reply(c, &tmp, timeout_s);
            rc = EX_PROTOCOL;
            goto done;
        }
        snprintf(shown, sizeof shown, "<SASL response redacted>");
        rc = conn_send_line_redacted(c, out ? out : "", shown, timeout_s);
        wipe_free(&out);
        if (rc < 0) {
            rc = EX_TEMPFAIL;
            goto done;
        }
    }
    snprintf(c->err, sizeof c->err, "AUTH %s: too many rounds", mech);
    rc = EX_PROTOCOL;
done:
    wipe_free(&out);
    if (s)
        wipe_password_property(s);
    gsasl_finish(s);   /* frees properties (unwiped: see wipe_password_property) */
    return rc;
}
