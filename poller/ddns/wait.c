/* SPDX-License-Identifier: ISC */
/* wait.c — after an update, wait until the authoritative server serves
 * the new address (a plain UDP query, RD off). */
#include "ddns/internal.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * Waiting for the authoritative server
 * ====================================================================== */

/* "addr", "addr:port", "[v6]:port", "v6", "name[:port]" -> sockaddr. */
int parse_server(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, char *err, size_t errsz)
{
    char host[256], port[16] = "53";
    const char *colon = strrchr(spec, ':');
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || (size_t)(rb - spec - 1) >= sizeof host || (rb[1] && rb[1] != ':')) {
            snprintf(err, errsz, "wait-server \"%s\": expected [ADDR]:PORT", spec);
            return -1;
        }
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        host[rb - spec - 1] = '\0';
        if (rb[1] == ':')
            snprintf(port, sizeof port, "%s", rb + 2);
    } else if (colon && strchr(spec, ':') == colon) {
        if ((size_t)(colon - spec) >= sizeof host) {
            snprintf(err, errsz, "wait-server \"%s\": host too long", spec);
            return -1;
        }
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        snprintf(port, sizeof port, "%s", colon + 1);
    } else {
        if (strlen(spec) >= sizeof host) {
            snprintf(err, errsz, "wait-server \"%s\": host too long", spec);
            return -1;
        }
        strcpy(host, spec);                     /* bare IPv6 or name, port 53 */
    }
    char *endp;
    long pn = strtol(port, &endp, 10);
    if (!port[0] || *endp || pn < 1 || pn > 65535) {
        snprintf(err, errsz, "wait-server \"%s\": bad port", spec);
        return -1;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0 || !res) {
        snprintf(err, errsz, "wait-server \"%s\": %s", spec, gai_strerror(g));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* One query (RD off: we ask the authoritative server itself).  Returns the
 * number of addresses, -1 on timeout/error. */
static int dns_query(const struct sockaddr_storage *ss, socklen_t sl, const char *name, int qtype,
                     char (*out)[DDNS_ADDR_MAX], int max, int64_t deadline)
{
    /* res_mkquery: in glibc's and musl's resolver alike (res_ninit and
     * res_nmkquery are glibc-only).  RD is cleared in the built header
     * instead of through resolver options. */
    unsigned char q[NS_PACKETSZ];
    int qlen = res_mkquery(ns_o_query, name, ns_c_in, qtype, NULL, 0, NULL, q, sizeof q);
    if (qlen < NS_HFIXEDSZ)
        return -1;
    q[2] &= (unsigned char)~0x01u;              /* RD off: ask the authoritative server itself */
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int n = -1;
    if (connect(fd, (const struct sockaddr *)ss, sl) < 0 || send(fd, q, (size_t)qlen, 0) != qlen)
        goto out;
    for (;;) {
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0)
            goto out;
        unsigned char a[4096];
        ssize_t got = recv(fd, a, sizeof a, 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            goto out;                           /* e.g. ECONNREFUSED */
        }
        if (got < NS_HFIXEDSZ || a[0] != q[0] || a[1] != q[1])
            continue;                           /* not our answer */
        n = ddns_parse_dns_answer(a, (size_t)got, name, qtype, out, max);
        goto out;
    }
out:
    close(fd);
    return n;
}

int sleep_until(int64_t deadline)
{
    while (!etp_abort) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = { .tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000L };
        if (left > 250) {
            ts.tv_sec = 0;
            ts.tv_nsec = 250 * 1000000L;
        }
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* Wait until wait-server serves the new addresses for every host.  0 ok,
 * -1 timed out / unusable (a warning; the update itself succeeded). */
int wait_served(const struct entry_run *e)
{
    const struct ddns_cfg *d = e->d;
    struct sockaddr_storage ss;
    socklen_t sl;
    char err[300];
    if (parse_server(d->wait_server, &ss, &sl, err, sizeof err) < 0) {
        log_warn("ddns %s: %s; not waiting", d->name, err);
        return -1;
    }
    int64_t start = now_ms(), deadline = start + (int64_t)d->wait_timeout * 1000;
    int done[DDNS_MAX_HOSTS][2] = { { 0 } };
    char last[DDNS_ADDR_MAX] = "";
    for (;;) {
        int pending = 0;
        for (int i = 0; i < e->nhosts; i++) {
            for (int f = 0; f < 2; f++) {
                const char *want = f == 0 ? e->addr4 : e->addr6;
                if (!want[0] || done[i][f])
                    continue;
                char got[8][DDNS_ADDR_MAX];
                int64_t qd = now_ms() + 1000;
                int n = dns_query(&ss, sl, e->hosts[i], f == 0 ? ns_t_a : ns_t_aaaa, got, 8,
                                  qd < deadline ? qd : deadline);
                int ok = 0;
                last[0] = '\0';
                for (int k = 0; k < n; k++) {
                    if (strcmp(got[k], want) == 0)
                        ok = 1;
                    else
                        snprintf(last, sizeof last, "%.45s", got[k]);
                }
                if (ok) {
                    done[i][f] = 1;
                    log_info("ddns %s: %s serves %s %s %s (after %lld ms)", d->name, d->wait_server,
                             e->hosts[i], f == 0 ? "A" : "AAAA", want, (long long)(now_ms() - start));
                } else {
                    pending++;
                }
            }
        }
        if (!pending)
            return 0;
        if (now_ms() >= deadline || etp_abort)
            break;
        int64_t next = now_ms() + 1000;
        if (sleep_until(next < deadline ? next : deadline) < 0)
            break;
    }
    log_warn("ddns %s: %s does not serve the new address yet after %d s%s%s; sending ETRN anyway",
             d->name, d->wait_server, d->wait_timeout, last[0] ? " (still " : "", last[0] ? last : "");
    if (last[0])
        log_warn("ddns %s: (the last answer was %s)", d->name, last);
    return -1;
}

