/* SPDX-License-Identifier: ISC */
/* Unit tests: the hold end to end, live (the slowest unit tests: they wait
 * out real holds): hold_prepare() and hold_run() against a local listener
 * on 127.0.0.41 (hold_fixture.h), with the hold-done hook, hold.json and
 * hold_status(); our own and filtered connections; SYN-RECV; abort; the
 * confirming ETRN and the trust filter; the precheck (check-local-mta). */
#include "conf/config.h"
#include "hold/hold.h"
#include "core/log.h"
#include "core/util.h"
#include "hold_fixture.h"
#include "unit.h"
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- hold_prepare / hold_run / hold_status, live ----------------------- */

static char tmpdir[256];

static int load_cfg(struct etp_config *cfg, uint16_t port, const char *extra)
{
    char text[2048], err[2048];
    snprintf(text, sizeof text,
             "state-dir = \"%s/state\"\n"
             "relay r { host = \"127.0.0.40\" domains = {\"example.org\"} }\n"
             "hold { port = %u local-address = \"%s\" quiet = 1 first-contact = 3 "
             "max-hold = 20 sample-ms = 50 %s }\n"
             "hooks { hold-done = {\"/bin/sh\", \"-c\", \"env | grep ^ETRNPOLL_HOLD_ | sort > %s/hook.env\"} }\n",
             tmpdir, (unsigned)port, g_addr, extra ? extra : "", tmpdir);
    int r = config_load_string(text, "test.conf", cfg, err, sizeof err);
    ck_assert_msg(r == 0, "%s", err);
    char sd[300];
    snprintf(sd, sizeof sd, "%s/state", tmpdir);
    mkdir(sd, 0700);
    return r;
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return read_small_file(path, 65536, NULL);
}

/* The cycle's sequence: prepare, run, free. */
static int run_hold(const struct etp_config *cfg, int nothing_queued, hold_tick_fn tick,
                    void *arg, struct hold_summary *s)
{
    struct hold *h = NULL;
    int rc = hold_prepare(cfg, &h);
    if (rc == 0)
        rc = hold_run(h, nothing_queued, tick, NULL, arg, s);
    hold_free(h);
    return rc;
}

static int precheck_only(const struct etp_config *cfg)
{
    struct hold *h = NULL;
    int rc = hold_prepare(cfg, &h);
    hold_free(h);
    return rc;
}

static int ticks;
static void count_tick(void *arg) { (void)arg; ticks++; }

START_TEST(hold_run_live_quiet)
{
    uint16_t port;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    struct etp_config cfg;
    load_cfg(&cfg, port, NULL);
    /* The "relay": a child that connects 300 ms into the hold, delivers for
     * 500 ms and closes; the "MTA" side is accepted and closed in the child too. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        usleep(300 * 1000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bind_peer(fd);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, g_addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        int s = accept(lfd, NULL, NULL);
        char buf[4096];
        memset(buf, 'm', sizeof buf);
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            _exit(2);
        size_t got = 0;
        while (got < sizeof buf) {
            ssize_t r = read(s, buf, sizeof buf);
            if (r <= 0)
                _exit(3);
            got += (size_t)r;
        }
        usleep(500 * 1000);
        close(s);
        close(fd);
        _exit(0);
    }
    struct hold_summary s;
    ticks = 0;
    int64_t t0 = now_ms();
    int rc = run_hold(&cfg, 0, count_tick, NULL, &s);
    hold_done_hooks(&cfg, &s);
    int64_t took = now_ms() - t0;
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(s.end, HOLD_QUIET);
    ck_assert_int_eq(s.connections, 1);
    ck_assert_str_eq(s.peers, g_peer);
    ck_assert(s.bytes_known);
    ck_assert_uint_ge(s.bytes_received, 4096);
    /* 0.3 s + 0.5 s + quiet 1 s, sampled every 50 ms */
    ck_assert_msg(took >= 1700 && took < 3000, "took %lld ms", (long long)took);
    ck_assert_msg(s.overshoot_ms >= 1000 && s.overshoot_ms < 1300, "overshoot %lld",
                  (long long)s.overshoot_ms);
    ck_assert_int_gt(ticks, 20);

    char *env = slurp("hook.env");
    ck_assert_ptr_nonnull(env);
    ck_assert_msg(strstr(env, "ETRNPOLL_HOLD_END=quiet\n"), "%s", env);
    ck_assert_msg(strstr(env, "ETRNPOLL_HOLD_CONFIRMED=no\n"), "%s", env);
    ck_assert_msg(strstr(env, "ETRNPOLL_HOLD_CONNECTIONS=1\n"), "%s", env);
    ck_assert_msg(strstr(env, "ETRNPOLL_HOLD_SECONDS=2\n") || strstr(env, "ETRNPOLL_HOLD_SECONDS=3\n"),
                  "%s", env);
    char peers[80];
    snprintf(peers, sizeof peers, "ETRNPOLL_HOLD_PEERS=%s\n", g_peer);
    ck_assert_msg(strstr(env, peers), "%s", env);
    ck_assert_msg(strstr(env, "ETRNPOLL_HOLD_BYTES=4"), "%s", env);
    free(env);
    char *js = slurp("state/hold.json");
    ck_assert_ptr_nonnull(js);
    json_object *jo = json_tokener_parse(js);
    ck_assert_msg(jo != NULL, "%s", js);
    json_object *v;
    ck_assert(json_object_object_get_ex(jo, "end", &v));
    ck_assert_str_eq(json_object_get_string(v), "quiet");
    ck_assert(json_object_object_get_ex(jo, "connections", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(jo, "ended_ms", &v));
    ck_assert_int_gt(json_object_get_int64(v), 1600000000000LL);
    json_object_put(jo);
    free(js);

    char out[1024] = "";
    FILE *f = fmemopen(out, sizeof out, "w");
    hold_status(f, &cfg);
    fclose(f);
    ck_assert_msg(strstr(out, "by quiet; 1 inbound connection(s) from "), "%s", out);
    ck_assert_msg(strstr(out, "bytes; line released 1."), "%s", out);
    config_free(&cfg);
    close(lfd);
}
END_TEST

START_TEST(hold_run_live_between_samples)
{
    /* sample-ms 1000; the whole session (client closes first) lasts a few
     * ms and falls between two samples: the close event still counts it. */
    uint16_t port;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    struct etp_config cfg;
    load_cfg(&cfg, port, "sample-ms = 1000");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        usleep(1400 * 1000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bind_peer(fd);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, g_addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        int s = accept(lfd, NULL, NULL);
        if (s < 0 || write(fd, "QUIT\r\n", 6) != 6)
            _exit(2);
        char b[8];
        if (read(s, b, 6) != 6)
            _exit(3);
        close(fd);
        if (read(s, b, 1) != 0)
            _exit(4);
        close(s);
        _exit(0);
    }
    struct hold_summary s;
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), 0);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_eq(s.end, HOLD_QUIET);
    ck_assert_int_eq(s.connections, 1);
    ck_assert(s.bytes_known);
    ck_assert_uint_eq(s.bytes_received, 7);
    config_free(&cfg);
    close(lfd);
}
END_TEST

START_TEST(hold_run_live_no_contact_and_abort)
{
    uint16_t port;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    struct etp_config cfg;
    load_cfg(&cfg, port, NULL);
    struct hold_summary s;
    int64_t t0 = now_ms();
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), 0);
    ck_assert_int_eq(s.end, HOLD_NO_CONTACT);
    int64_t took = now_ms() - t0;
    ck_assert_msg(took >= 3000 && took < 4000, "took %lld", (long long)took);

    ck_assert_int_eq(run_hold(&cfg, 1, NULL, NULL, &s), 0);
    ck_assert_int_eq(s.end, HOLD_NOTHING_QUEUED);

    etp_abort = 1;
    t0 = now_ms();
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), EX_TEMPFAIL);
    etp_abort = 0;
    ck_assert_int_eq(s.end, HOLD_ABORTED);
    ck_assert_int_lt(now_ms() - t0, 500);
    config_free(&cfg);

    /* a bad filter is a config error */
    load_cfg(&cfg, port, "source = \"not-an-address\"");
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), EX_CONFIG);
    config_free(&cfg);
    close(lfd);
}
END_TEST

START_TEST(hold_run_ignores_own_and_filtered_connections)
{
    /* Our own open connection to the watched port (as the relay session
     * is when the relay runs on this host: the relay's end of it listens
     * on port 25 too) must not count. */
    uint16_t port, cport;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    int own = connect_to(g_addr, port, &cport);   /* its server end stays ESTABLISHED */
    struct etp_config cfg;
    load_cfg(&cfg, port, NULL);
    struct hold_summary s;
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), 0);
    ck_assert_int_eq(s.end, HOLD_NO_CONTACT);
    ck_assert_int_eq(s.connections, 0);
    config_free(&cfg);
    /* close both ends, the server's last, so nothing lingers in CLOSE-WAIT */
    int srv = accept(lfd, NULL, NULL);
    ck_assert_int_ge(srv, 0);
    close(own);
    close(srv);

    /* A connection from outside hold.source (another process's, open all
     * along) must not count either. */
    load_cfg(&cfg, port, "source = \"192.0.2.0/24\"");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bind_peer(fd);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, g_addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        int conn = accept(lfd, NULL, NULL);
        sleep(5);
        close(conn);
        _exit(0);
    }
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), 0);
    ck_assert_int_eq(s.end, HOLD_NO_CONTACT);
    ck_assert_int_eq(s.connections, 0);
    config_free(&cfg);
    /* ...and the same connection does count without the filter */
    load_cfg(&cfg, port, NULL);
    ck_assert_int_eq(run_hold(&cfg, 0, NULL, NULL, &s), 0);
    ck_assert_int_eq(s.end, HOLD_QUIET);
    ck_assert_int_eq(s.connections, 1);
    config_free(&cfg);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    close(lfd);
}
END_TEST

START_TEST(hold_run_live_syn_recv_counts)
{
    /* The client connects 0.3 s into the hold but its handshake does not
     * complete on our side until it sends, at 3.5 s: past first-contact
     * (3 s).  Counting only established sockets, the hold ended by
     * no-contact at 3 s; from SYN-RECV on, it ends by quiet after it. */
    uint16_t port;
    int lfd = listen_deferred(g_addr, &port, 10);
    ck_assert_int_ge(lfd, 0);
    struct etp_config cfg;
    load_cfg(&cfg, port, NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        usleep(300 * 1000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bind_peer(fd);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, g_addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        usleep(3200 * 1000);
        if (write(fd, "EHLO x\r\n", 8) != 8)
            _exit(2);
        int s = accept(lfd, NULL, NULL);
        if (s < 0)
            _exit(3);
        char b[8];
        if (read(s, b, 8) != 8)
            _exit(4);
        close(fd);
        close(s);
        _exit(0);
    }
    struct hold_summary s;
    int64_t t0 = now_ms();
    int rc = run_hold(&cfg, 0, NULL, NULL, &s);
    int64_t took = now_ms() - t0;
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(s.end, HOLD_QUIET);
    ck_assert_int_eq(s.connections, 1);
    ck_assert_msg(took >= 4300 && took < 6000, "took %lld ms", (long long)took);
    ck_assert_msg(s.first_contact_ms >= 250 && s.first_contact_ms < 700, "first contact %lld",
                  (long long)s.first_contact_ms);
    config_free(&cfg);
    close(lfd);
}
END_TEST

static int confirms_asked;
static int confirm_yes(void *arg) { (void)arg; confirms_asked++; return 1; }

START_TEST(hold_run_live_confirm_and_trust)
{
    /* A relay (peer 127.0.0.40) delivers once; the quiet end is confirmed
     * (the callback says a confirming ETRN was accepted), the window
     * passes with nothing: end by quiet, confirmed.  A learned source is
     * written; on the next run a connection from another local address
     * (127.0.0.43) is ignored and the empty poll ends at the bound. */
    uint16_t port;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    struct etp_config cfg;
    load_cfg(&cfg, port, "first-contact = 20");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        usleep(200 * 1000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bind_peer(fd);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, g_addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        int s = accept(lfd, NULL, NULL);
        if (s < 0 || write(fd, "MAIL\r\n", 6) != 6)
            _exit(2);
        char b[6];
        if (read(s, b, 6) != 6)
            _exit(3);
        close(fd);
        close(s);
        _exit(0);
    }
    struct hold *h = NULL;
    ck_assert_int_eq(hold_prepare(&cfg, &h), 0);
    hold_add_relay(h, &cfg.relays[0], "127.0.0.39", 1);   /* spoke to .39, delivers from .40 */
    struct hold_summary s;
    confirms_asked = 0;
    ck_assert_int_eq(hold_run(h, 0, NULL, confirm_yes, NULL, &s), 0);
    hold_free(h);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_eq(s.end, HOLD_QUIET);
    ck_assert_int_eq(s.confirmed, 1);
    ck_assert_int_eq(s.confirms, 1);
    ck_assert_int_eq(confirms_asked, 1);
    hold_done_hooks(&cfg, &s);
    char *env = slurp("hook.env");
    ck_assert_ptr_nonnull(env);
    ck_assert_msg(strstr(env, "ETRNPOLL_HOLD_CONFIRMED=yes\n"), "%s", env);
    free(env);
    /* quiet 1 s + the confirmation window (floor 5 s) */
    ck_assert_msg(s.duration_ms >= 6000 && s.duration_ms < 7500, "%lld", (long long)s.duration_ms);
    char *lj = slurp("state/hold-learned.json");
    ck_assert_ptr_nonnull(lj);
    ck_assert_msg(strstr(lj, "\"127.0.0.40\""), "%s", lj);
    free(lj);

    /* second poll: a stranger from 127.0.0.43 (another process) keeps a
     * connection open through the hold */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in me = { .sin_family = AF_INET };
        inet_pton(AF_INET, "127.0.0.43", &me.sin_addr);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, g_addr, &sa.sin_addr);
        if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0 ||
            connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(1);
        sleep(6);
        _exit(0);
    }
    config_free(&cfg);
    load_cfg(&cfg, port, "first-contact = 20");
    ck_assert_int_eq(hold_prepare(&cfg, &h), 0);
    hold_add_relay(h, &cfg.relays[0], "127.0.0.39", 1);
    ck_assert_int_eq(hold_run(h, 0, NULL, NULL, NULL, &s), 0);
    hold_free(h);
    ck_assert_int_eq(s.end, HOLD_EMPTY);
    ck_assert_int_eq(s.connections, 0);
    ck_assert_int_eq(s.ignored, 1);
    ck_assert_str_eq(s.ignored_peers, "127.0.0.43");
    ck_assert_msg(s.duration_ms >= 5000 && s.duration_ms < 5600, "%lld", (long long)s.duration_ms);
    char out[2048] = "";
    FILE *f = fmemopen(out, sizeof out, "w");
    hold_status(f, &cfg);
    fclose(f);
    ck_assert_msg(strstr(out, "hold: relay r: delivers from 127.0.0.40 (learned)"), "%s", out);
    ck_assert_msg(strstr(out, "1 empty poll(s)"), "%s", out);
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    config_free(&cfg);
    close(lfd);
}
END_TEST

START_TEST(precheck)
{
    uint16_t port;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    struct etp_config cfg;
    load_cfg(&cfg, port, "check-local-mta = yes");
    /* a listener that never greets: still "accepting"; bounded by 5 s */
    int64_t t0 = now_ms();
    ck_assert_int_eq(precheck_only(&cfg), 0);
    ck_assert_int_lt(now_ms() - t0, 6000);
    close(lfd);
    /* nobody listening */
    ck_assert_int_eq(precheck_only(&cfg), EX_TEMPFAIL);
    config_free(&cfg);
    /* disabled: no connection attempt at all */
    load_cfg(&cfg, port, NULL);
    ck_assert_int_eq(precheck_only(&cfg), 0);
    config_free(&cfg);
}
END_TEST

START_TEST(precheck_with_greeting)
{
    uint16_t port;
    int lfd = listen_on(g_addr, &port);
    ck_assert_int_ge(lfd, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {      /* a tiny SMTP server: greeting, 221 on QUIT */
        int s = accept(lfd, NULL, NULL);
        const char *g = "220 sink ESMTP\r\n";
        if (s < 0 || write(s, g, strlen(g)) < 0)
            _exit(1);
        char buf[64];
        ssize_t r = read(s, buf, sizeof buf - 1);
        if (r <= 0)
            _exit(2);
        buf[r] = '\0';
        if (strncmp(buf, "QUIT", 4) != 0)
            _exit(3);
        const char *b = "221 bye\r\n";
        if (write(s, b, strlen(b)) < 0)
            _exit(4);
        close(s);
        _exit(0);
    }
    struct etp_config cfg;
    load_cfg(&cfg, port, "check-local-mta = yes");
    int64_t t0 = now_ms();
    ck_assert_int_eq(precheck_only(&cfg), 0);
    ck_assert_int_lt(now_ms() - t0, 2000);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    config_free(&cfg);
    close(lfd);
}
END_TEST

int main(void)
{
    log_init("test_hold_live", LOG_TO_STDERR, LOG_WARNING);
    char tmpl[] = "/tmp/test_hold_live.XXXXXX";
    if (!mkdtemp(tmpl))
        return 99;
    snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
    hold_fixture_addrs();
    Suite *s = suite_create("hold-live");
    TCase *tc = UNIT_CASE(s, "live", hold_run_live_between_samples, hold_run_live_quiet,
                          hold_run_live_no_contact_and_abort,
                          hold_run_ignores_own_and_filtered_connections,
                          hold_run_live_syn_recv_counts, hold_run_live_confirm_and_trust,
                          precheck, precheck_with_greeting);
    tcase_set_timeout(tc, 60);
    int rc = unit_run(s, UNIT_FORK);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_hold_live: could not remove %s\n", tmpdir);
    return rc;
}
