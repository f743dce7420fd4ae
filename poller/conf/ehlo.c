/* SPDX-License-Identifier: ISC */
/* ehlo.c — the default EHLO name from local data (see ehlo.h). */
#include "conf/ehlo.h"
#include "core/etchosts.h"
#include "core/netaddr.h"
#include "core/util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int put(char *out, size_t outsz, const char *s, size_t n)
{
    if (!outsz || n >= outsz)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

enum ehlo_source ehlo_choose(const char *hostname, const char *hosts, size_t hosts_len,
                             const char *ddns_hostname, char *out, size_t outsz)
{
    if (!hostname || !hostname[0])
        hostname = "localhost";
    if (strchr(hostname, '.') && put(out, outsz, hostname, strlen(hostname)) == 0)
        return EHLO_FROM_HOSTNAME;
    char canon[256];
    if (hosts && etchosts_lookup(hosts, hosts_len, hostname, canon, sizeof canon) &&
        strchr(canon, '.') && put(out, outsz, canon, strlen(canon)) == 0)
        return EHLO_FROM_HOSTS;
    if (ddns_hostname) {
        const char *p = ddns_hostname;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        char first[256];
        if (n > 0 && n < sizeof first) {
            memcpy(first, p, n);
            first[n] = '\0';
            if (first[n - 1] == '.')
                first[--n] = '\0';
            if (n && !netaddr_dns_name_invalid(first, NETADDR_DNS_NEED_DOT) &&
                put(out, outsz, first, n) == 0)
                return EHLO_FROM_DDNS;
        }
    }
    if (put(out, outsz, hostname, strlen(hostname)) < 0 && outsz)
        put(out, outsz, "localhost", 9);
    return EHLO_FROM_BARE;
}

char *ehlo_default(const char *ddns_hostname)
{
    char host[256];
    if (gethostname(host, sizeof host - 1) < 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    char *hosts = NULL;
    size_t hlen = 0;
    if (!strchr(host, '.'))
        hosts = etchosts_read(etchosts_file, &hlen);
    char out[256];
    ehlo_choose(host, hosts, hlen, ddns_hostname, out, sizeof out);
    free(hosts);
    return strdup(out);
}
