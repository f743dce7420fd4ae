/* SPDX-License-Identifier: ISC */
/* Unit tests: configuration parsing, validation messages, secrets. */
#include "conf/config.h"
#include "core/log.h"
#include "unit.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[8192];

static int load(const char *text, struct etp_config *c)
{
    return config_load_string(text, "test.conf", c, err, sizeof err);
}

START_TEST(minimal_with_defaults)
{
    struct etp_config c;
    ck_assert_msg(load("state-dir = \"/tmp/x\"\nrelay isp { host = \"mx2.isp.example\" domains = {\"example.org\", \"@example.net\", \"#q\"} }\n", &c) == 0, "%s", err);
    ck_assert_int_eq(c.nrelays, 1);
    struct relay_cfg *r = &c.relays[0];
    ck_assert_str_eq(r->name, "isp");
    ck_assert_int_eq(r->tls, TLS_STARTTLS);
    ck_assert_int_eq(relay_port(r), 25);
    ck_assert_int_eq(r->nnodes, 3);
    ck_assert_int_eq(r->nmechs, 4);
    ck_assert_str_eq(r->mechs[0], "PLAIN");
    ck_assert(r->mechs_default);
    ck_assert(!r->tls_allow_weak_keys);
    ck_assert_int_eq(r->to.greeting, 300);
    ck_assert_int_eq(r->to.connect, 30);
    ck_assert_int_eq(c.hold.quiet, 10);
    ck_assert_int_eq(c.hold.first_contact, 120);
    ck_assert_int_eq(c.hold.max_hold, 1800);
    ck_assert_int_eq(c.link.settle, 2);
    ck_assert_ptr_nonnull(c.ehlo_name);
    config_free(&c);
}
END_TEST

START_TEST(implicit_port_and_timeouts)
{
    struct etp_config c;
    ck_assert_msg(load("timeouts { greeting = 20 }\nrelay a { host = \"h\" tls = implicit domains = {\"x.org\"} timeouts { etrn = 7 } }\n", &c) == 0, "%s", err);
    ck_assert_int_eq(relay_port(&c.relays[0]), 465);
    ck_assert_int_eq(c.relays[0].to.greeting, 20);
    ck_assert_int_eq(c.relays[0].to.etrn, 7);
    ck_assert_int_eq(c.relays[0].to.command, 300);
    config_free(&c);
}
END_TEST

START_TEST(errors_have_file_and_line)
{
    struct etp_config c;
    ck_assert_int_eq(load("relay a {\n host = \"h\"\n domains = {\"x.org\"}\n bogus = 1\n}\n", &c), -1);
    ck_assert_msg(strstr(err, "test.conf:4:") && strstr(err, "bogus"), "got: %s", err);
    config_free(&c);
    ck_assert_int_eq(load("relay a {\n host = \"h\"\n tls = maybe\n domains = {\"x..org\"}\n}\n", &c), -1);
    ck_assert_msg(strstr(err, "test.conf:3: tls = \"maybe\": must be starttls, implicit or none"), "got: %s", err);
    config_free(&c);
    ck_assert_int_eq(load("relay a {\n host = \"h\"\n\n domains = {\"x..org\"}\n}\n", &c), -1);
    ck_assert_msg(strstr(err, "test.conf:4: domain \"x..org\": empty label"), "got: %s", err);
    config_free(&c);
}
END_TEST

START_TEST(untitled_section_errors_have_line)
{
    struct etp_config c;
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"x.org\"} }\nlink {\n settle = 2\n bogus-key = 1\n}\n", &c), -1);
    ck_assert_msg(strstr(err, "test.conf:4: no such option 'bogus-key'"), "got: %s", err);
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"x.org\"} }\nhold {\n\n quiet = ten\n}\n", &c), -1);
    ck_assert_msg(strstr(err, "test.conf:4:") && strstr(err, "quiet"), "got: %s", err);
    config_free(&c);
}
END_TEST

START_TEST(semantic_errors)
{
    struct etp_config c;
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"a.org\"} }\n"
                          "ddns d { protocol = custom hostname = \"h.org\" url = \"https://x/\" success-status = {200, 4294967496} }", &c), -1);
    ck_assert_msg(strstr(err, "success-status range"), "got: %s", err);
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"a.org\"} }\nlink { interfaces = {\"ppp\x1b[2J*\"} }", &c), -1);
    ck_assert_msg(strstr(err, "is not an interface name or glob"), "got: %s", err);
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"a.org\"} }\nlink { interfaces = {\"ppp*\", \"wwan0\"} }", &c), 0);
    config_free(&c);
    ck_assert_int_eq(load("state-dir = \"/x\"\n", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "no relay configured"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "at least one node"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" tls = none username = \"u\" password-file = \"/p\" domains = {\"a.org\"} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "in clear"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" username = \"u\" domains = {\"a.org\"} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "needs 'password-file'"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" auth-mechanisms = {\"GSSAPI\"} domains = {\"a.org\"} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "unsupported \"GSSAPI\""));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" pin-sha256 = {\"abc\"} domains = {\"a.org\"} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "pin-sha256"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" port = 70000 domains = {\"a.org\"} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"a.org\"} }\nhooks { post-poll = {\"notify-send\"} }", &c), -1);
    ck_assert_ptr_nonnull(strstr(err, "absolute path"));
    config_free(&c);
    ck_assert_int_eq(load("relay a { host = \"h\" domains = {\"a.org\"} }\nrelay a { host = \"h\" domains = {\"a.org\"} }", &c), -1);
    config_free(&c);
}
END_TEST

START_TEST(unterminated)
{
    struct etp_config c;
    ck_assert_int_eq(load("relay a { host = \"h", &c), -1);
    ck_assert_int_gt((int)strlen(err), 0);
    config_free(&c);
}
END_TEST

START_TEST(secrets)
{
    char dir[] = "/tmp/etp-secret-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/pw", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "s3cret\n", 7), 7);
    close(fd);
    char *s = NULL, e[512];
    ck_assert_msg(secret_read(path, &s, e, sizeof e) == 0, "%s", e);
    ck_assert_str_eq(s, "s3cret");
    secret_free(s);
    chmod(path, 0644);
    ck_assert_int_eq(secret_read(path, &s, e, sizeof e), -1);
    ck_assert_ptr_nonnull(strstr(e, "accessible by others"));
    ck_assert_ptr_nonnull(strstr(e, "chmod 600"));
    chmod(path, 0640);
    ck_assert_int_eq(secret_read(path, &s, e, sizeof e), 0);   /* group-readable is fine (0640) */
    secret_free(s);
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    close(fd);
    ck_assert_int_eq(secret_read(path, &s, e, sizeof e), -1);
    unlink(path);
    ck_assert_int_eq(secret_read(path, &s, e, sizeof e), -1);
    rmdir(dir);
}
END_TEST

START_TEST(redaction)
{
    log_add_secret("hunter22");
    char buf[64] = "pw=hunter22 and hunter22!";
    log_redact(buf, sizeof buf);
    ck_assert_str_eq(buf, "pw=******** and ********!");
    log_forget_secrets();
    char buf2[32] = "hunter22";
    log_redact(buf2, sizeof buf2);
    ck_assert_str_eq(buf2, "hunter22");
}
END_TEST

UNIT_MAIN("config",
          minimal_with_defaults,
          implicit_port_and_timeouts,
          errors_have_file_and_line,
          semantic_errors,
          untitled_section_errors_have_line,
          unterminated,
          secrets,
          redaction)
