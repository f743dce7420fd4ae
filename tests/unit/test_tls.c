/* SPDX-License-Identifier: ISC */
/* Unit tests: TLS/SASL/log pieces of issue 15 and 13 — TLS cache file
 * names, pin comparison without a readable key, the SASL mechanism choice,
 * the TLS/SASL config keys, and the log redactor (escaped forms, the line
 * limit, no plaintext kept). */
#include "conf/config.h"
#include "core/log.h"
#include "core/util.h"
#include "smtp/auth.h"
#include "smtp/conn.h"
#include "smtp/reply.h"
#include "unit.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- TLS cache names ------------------------------------------------------ */

static int name_ok(const char *n)
{
    if (strncmp(n, "tls-", 4) != 0 || strlen(n) < 4 + 1 + 16 + 8)
        return 0;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            return 0;
    return strcmp(n + strlen(n) - 8, ".session") == 0;
}

START_TEST(cache_names_never_collide)
{
    char a[200], b[200], c[200];
    ck_assert_int_eq(conn_tls_cache_name("a/b", "mx.example", a, sizeof a), 0);
    ck_assert_int_eq(conn_tls_cache_name("a_b", "mx.example", b, sizeof b), 0);
    ck_assert(name_ok(a) && name_ok(b));
    ck_assert_str_ne(a, b);                      /* was: both "tls-a_b.session" */
    ck_assert_ptr_null(strchr(a, '/'));
    /* two names of 200 characters that differ only at the end (was: cut at 127) */
    char l1[201], l2[201];
    memset(l1, 'x', 200);
    l1[200] = '\0';
    memcpy(l2, l1, sizeof l2);
    l2[199] = 'y';
    ck_assert_int_eq(conn_tls_cache_name(l1, "h", a, sizeof a), 0);
    ck_assert_int_eq(conn_tls_cache_name(l2, "h", b, sizeof b), 0);
    ck_assert_str_ne(a, b);
    ck_assert(name_ok(a));
    ck_assert_uint_lt(strlen(a), 100);
    /* same relay name, other host: another file; the same: the same file */
    ck_assert_int_eq(conn_tls_cache_name("isp", "mx1.example", a, sizeof a), 0);
    ck_assert_int_eq(conn_tls_cache_name("isp", "mx2.example", b, sizeof b), 0);
    ck_assert_int_eq(conn_tls_cache_name("isp", "mx1.example", c, sizeof c), 0);
    ck_assert_str_ne(a, b);
    ck_assert_str_eq(a, c);
    ck_assert_int_eq(strncmp(a, "tls-isp-", 8), 0);   /* still readable */
    /* name and host boundaries count: ("ab","c") vs ("a","bc") */
    ck_assert_int_eq(conn_tls_cache_name("ab", "c", a, sizeof a), 0);
    ck_assert_int_eq(conn_tls_cache_name("a", "bc", b, sizeof b), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(conn_tls_cache_name("isp", "h", a, 10), -1);   /* too small: refused */
}
END_TEST

/* ---- pins: a peer key that cannot be read ------------------------------------ */

START_TEST(pin_without_readable_key)
{
    gnutls_session_t s;
    ck_assert_int_ge(gnutls_init(&s, GNUTLS_CLIENT), 0);   /* no handshake: no peer certificate */
    char *pins[] = { "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" };
    char err[256];
    memset(err, 0x7f, sizeof err);
    ck_assert_int_eq(conn_check_pins(s, pins, 1, err, sizeof err, "[192.0.2.1]:25"), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot read the public key"));
    ck_assert_ptr_null(strstr(err, "its key is"));
    for (const char *p = err; *p; p++)
        ck_assert(*p >= 0x20 && *p < 0x7f);
    gnutls_deinit(s);
}
END_TEST

/* ---- SASL mechanism choice ------------------------------------------------------ */

static struct smtp_caps offered(const char *line)
{
    char buf[600];
    snprintf(buf, sizeof buf, "250-relay.test\r\n250 AUTH %s\r\n", line);
    struct smtp_reply r;
    reply_init(&r);
    size_t used;
    reply_parse_buf(&r, buf, strlen(buf), &used, NULL);
    struct smtp_caps c;
    caps_parse(&r, &c);
    return c;
}

START_TEST(mechanism_fewest_round_trips_in_tls)
{
    char *dflt[] = { "PLAIN", "SCRAM-SHA-256", "CRAM-MD5", "LOGIN" };
    struct smtp_caps all = offered("CRAM-MD5 LOGIN PLAIN SCRAM-SHA-256");
    struct smtp_caps postfix = offered("PLAIN LOGIN CRAM-MD5");
    struct smtp_caps nopl = offered("LOGIN CRAM-MD5 SCRAM-SHA-256");
    /* default list, inside TLS: PLAIN (1 round trip) whenever offered */
    ck_assert_str_eq(auth_choose(dflt, 4, 1, &all, 1), "PLAIN");
    ck_assert_str_eq(auth_choose(dflt, 4, 1, &postfix, 1), "PLAIN");
    ck_assert_str_eq(auth_choose(dflt, 4, 1, &nopl, 1), "CRAM-MD5");
    /* the old default order, set explicitly: CRAM-MD5/LOGIN never before PLAIN */
    char *old[] = { "CRAM-MD5", "PLAIN", "LOGIN" };
    ck_assert_str_eq(auth_choose(old, 3, 0, &postfix, 1), "PLAIN");
    char *lg[] = { "LOGIN", "CRAM-MD5" };
    ck_assert_str_eq(auth_choose(lg, 2, 0, &postfix, 1), "CRAM-MD5");
    /* an admin who lists SCRAM first keeps it */
    char *scram[] = { "SCRAM-SHA-256", "PLAIN" };
    ck_assert_str_eq(auth_choose(scram, 2, 0, &all, 1), "SCRAM-SHA-256");
    ck_assert_str_eq(auth_choose(scram, 2, 0, &postfix, 1), "PLAIN");   /* not offered */
    /* ... but SCRAM after PLAIN in the list is a round trip more: PLAIN */
    char *pl_scram[] = { "PLAIN", "SCRAM-SHA-256" };
    ck_assert_str_eq(auth_choose(pl_scram, 2, 0, &all, 1), "PLAIN");
    /* not allowed: never chosen */
    char *only_login[] = { "LOGIN" };
    ck_assert_str_eq(auth_choose(only_login, 1, 0, &all, 1), "LOGIN");
    struct smtp_caps none = offered("GSSAPI");
    ck_assert_ptr_null(auth_choose(dflt, 4, 1, &none, 1));
}
END_TEST

START_TEST(mechanism_without_tls)
{
    char *dflt[] = { "PLAIN", "SCRAM-SHA-256", "CRAM-MD5", "LOGIN" };
    struct smtp_caps all = offered("CRAM-MD5 LOGIN PLAIN SCRAM-SHA-256");
    struct smtp_caps postfix = offered("PLAIN LOGIN CRAM-MD5");
    /* no TLS: the default list keeps the password off the wire if it can */
    ck_assert_str_eq(auth_choose(dflt, 4, 1, &all, 0), "SCRAM-SHA-256");
    ck_assert_str_eq(auth_choose(dflt, 4, 1, &postfix, 0), "CRAM-MD5");
    /* an explicit list is the admin's order */
    char *pl[] = { "PLAIN", "CRAM-MD5" };
    ck_assert_str_eq(auth_choose(pl, 2, 0, &postfix, 0), "PLAIN");
}
END_TEST

/* ---- config keys ------------------------------------------------------------------ */

START_TEST(config_tls_sasl_keys)
{
    struct etp_config c;
    char err[4096];
    ck_assert_msg(config_load_string("state-dir = \"/tmp/x\"\nrelay a { host = \"h\" domains = {\"d.test\"}\n"
                                     "  auth-mechanisms = { \"CRAM-MD5\", \"PLAIN\" } tls-allow-weak-keys = yes }\n"
                                     "relay b { host = \"h\" domains = {\"d.test\"} }\n",
                                     "t.conf", &c, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.relays[0].mechs_default, 0);
    ck_assert_int_eq(c.relays[0].tls_allow_weak_keys, 1);
    ck_assert_str_eq(c.relays[0].mechs[0], "CRAM-MD5");
    ck_assert_int_eq(c.relays[1].mechs_default, 1);
    ck_assert_int_eq(c.relays[1].tls_allow_weak_keys, 0);
    ck_assert_str_eq(c.relays[1].mechs[0], "PLAIN");
    config_free(&c);
}
END_TEST

/* ---- log redactor ---------------------------------------------------------------- */

/* Run fn with stderr redirected into a buffer. */
static void capture(void (*fn)(void), char *out, size_t outsize)
{
    fflush(stderr);
    char path[] = "/tmp/test_tls.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, outsize - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static const char SECRET[] = "Tok\\en-\xc3\xa4-\x01SECRET42";   /* backslash, UTF-8, control byte */

static void emit_lines(void)
{
    char esc[128];
    printable(esc, sizeof esc, SECRET, strlen(SECRET));
    log_wire('<', "535 5.7.8 bad Tok\\en-\xc3\xa4-\x01SECRET42 !", strlen("535 5.7.8 bad Tok\\en-\xc3\xa4-\x01SECRET42 !"));
    log_err("relay said: %s", esc);                 /* escaped by the caller */
    log_err("raw: %s.", SECRET);
    /* straddling the 2 KiB line limit */
    char pad[2100];
    memset(pad, 'p', sizeof pad);
    /* "x: " + k pads + the secret: every k that puts the 2047-byte cut
     * inside the secret (and a few either side) */
    for (int k = 2020; k < 2050; k++) {
        pad[k] = '\0';
        log_err("x: %s%s", pad, SECRET);
        pad[k] = 'p';
    }
}

START_TEST(redaction_escaped_and_cut)
{
    log_init("test", LOG_TO_STDERR, LOG_DEBUG);
    log_set_transcript(1);
    log_add_secret(SECRET);
    ck_assert_int_eq(log_secret_count(), 2);        /* raw and printable() form */
    static char out[65536];
    capture(emit_lines, out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, "< 535 5.7.8 bad *"));
    ck_assert_ptr_nonnull(strstr(out, "relay said: *"));
    ck_assert_ptr_nonnull(strstr(out, "raw: *"));
    /* no recognisable piece of the secret anywhere, escaped or not */
    ck_assert_ptr_null(strstr(out, "SECRET"));
    ck_assert_ptr_null(strstr(out, "Tok"));
    ck_assert_ptr_null(strstr(out, "x5c"));
    ck_assert_ptr_null(strstr(out, "\xc3\xa4"));
    log_forget_secrets();
    ck_assert_int_eq(log_secret_count(), 0);
    log_set_transcript(0);
}
END_TEST

/* The forms ddns registers (URL-encoded, JSON-escaped, Basic base64) are
 * masked both as they are and as printable() shows them (issue 15's
 * "Tok\x5c\x5cen-\xc3\xa4-SECRET42" was the JSON form, escaped). */
START_TEST(redaction_registered_forms)
{
    const char *json = "Tok\\\\en-\xc3\xa4-SECRET42";     /* JSON: one backslash doubled */
    const char *url = "Tok%5Cen-%C3%A4-SECRET42";
    const char *basic = "dXNlcjpUb2tcZW4tw6QtU0VDUkVUNDI=";  /* user:Tok\en-ä-SECRET42 */
    log_add_secret(json);
    log_add_secret(url);
    log_add_secret(basic);
    const char *forms[] = { json, url, basic };
    for (size_t i = 0; i < 3; i++) {
        char esc[200], buf[300];
        printable(esc, sizeof esc, forms[i], strlen(forms[i]));
        snprintf(buf, sizeof buf, "body=[%s] shown=[%s]", forms[i], esc);
        log_redact(buf, sizeof buf);
        ck_assert_msg(strstr(buf, "SECRET") == NULL && strstr(buf, "Tok") == NULL &&
                      strstr(buf, "dXNl") == NULL, "not masked: %s", buf);
        ck_assert_ptr_nonnull(strstr(buf, "body=[*"));
        ck_assert_ptr_nonnull(strstr(buf, "shown=[*"));
    }
    log_forget_secrets();
}
END_TEST

START_TEST(redactor_keeps_no_plaintext)
{
    log_add_secret("Pw-unit-0123456789-secret");
    ck_assert_int_ge(log_secret_count(), 1);
    char buf[64] = "x Pw-unit-0123456789-secret y";
    log_redact(buf, sizeof buf);
    ck_assert_str_eq(buf, "x ************************* y");
    /* nothing of the secret is kept: the redactor's memory holds no copy of it
     * (checked on the whole process image in tests/harden-secrets.sh) */
    log_forget_secrets();
    char buf2[64] = "x Pw-unit-0123456789-secret y";
    log_redact(buf2, sizeof buf2);
    ck_assert_str_eq(buf2, "x Pw-unit-0123456789-secret y");
}
END_TEST

int main(void)
{
    gnutls_global_init();
    Suite *s = suite_create("tls");
    UNIT_CASE(s, "tls", cache_names_never_collide,
              pin_without_readable_key,
              mechanism_fewest_round_trips_in_tls,
              mechanism_without_tls,
              config_tls_sasl_keys,
              redaction_escaped_and_cut,
              redaction_registered_forms,
              redactor_keeps_no_plaintext);
    return unit_run(s, UNIT_NOFORK);
}
