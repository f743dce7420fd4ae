/* SPDX-License-Identifier: ISC */
/* fuzz_lw_judge.c — the uplink decision (lw_judge, lw_name_match,
 * lw_same_uplink) over fuzzed kernel snapshots and link.interfaces globs
 * (config values, fnmatch).  Invariants: `why` is terminated and printable;
 * a usable verdict names an up link of the snapshot that matches the
 * configured patterns, with an address, and with a default route when
 * require-default-route is set; a verdict is the same uplink as itself.
 *
 * Input: [flags: bit0 require-default-route, bits1-2 number of patterns,
 *   bit3 truncated]
 *   patterns: [len][bytes]...; then [nlinks][naddrs][nroutes] (each
 *   capped) and the records, 8 / 24 / 8 bytes each (see the code). */
#include "fuzz.h"
#include "link/linkwatch.h"
#include <net/if.h>
#include <sys/socket.h>

static struct lw_snapshot snap;

static void take(struct fz_in *in, void *dst, size_t n)
{
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)fz_u8(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    struct link_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    char pats[4][32];
    unsigned f = fz_u8(&in);
    cfg.require_default_route = f & 1;
    int np = (f >> 1) & 3;
    for (int i = 0; i < np; i++) {
        size_t l = fz_u8(&in) % sizeof pats[i];
        take(&in, pats[i], l);
        pats[i][l] = '\0';
        /* visible ASCII: the patterns are quoted in `why` (config.c does
         * not validate link.interfaces; admin input, not the relay's) */
        for (size_t k = 0; k < l; k++)
            if ((unsigned char)pats[i][k] < 0x21 || (unsigned char)pats[i][k] > 0x7e)
                pats[i][k] = '?';
        if (!pats[i][0])
            strcpy(pats[i], "*");
        cfg.interfaces[cfg.ninterfaces++] = pats[i];
    }
    memset(&snap, 0, sizeof snap);
    snap.nlinks = (int)(fz_u8(&in) % 17);
    snap.naddrs = (int)(fz_u8(&in) % 33);
    snap.nroutes = (int)(fz_u8(&in) % 17);
    snap.truncated = (int)(f >> 3) & 1;
    /* as in the kernel: ifindex and name unique per link; addresses and
     * routes may refer to an index no link has (one beyond the last) */
    for (int i = 0; i < snap.nlinks; i++) {
        struct lw_link *l = &snap.links[i];
        fz_u8(&in);
        l->ifindex = i + 1;
        l->flags = fz_u16(&in);
        l->operstate = (unsigned char)(fz_u8(&in) % 8);
        size_t nl = fz_u8(&in) % 4;
        static const char *names[] = { "lo", "eth", "ppp", "wwan", "ppp", "tun", "wlan", "x" };
        snprintf(l->name, sizeof l->name, "%s%d", names[(fz_u8(&in) + nl) % 8], i);
        fz_u8(&in);
        fz_u8(&in);
    }
    int maxidx = snap.nlinks + 1;
    for (int i = 0; i < snap.naddrs; i++) {
        struct lw_addr *a = &snap.addrs[i];
        a->ifindex = 1 + (int)(fz_u8(&in) % maxidx);
        a->family = (fz_u8(&in) & 1) ? AF_INET6 : AF_INET;
        a->prefixlen = (unsigned char)fz_u8(&in);
        a->scope = (unsigned char)fz_u8(&in);
        a->flags = fz_u16(&in);
        take(&in, a->addr, a->family == AF_INET ? 4 : 16);
        if (a->family == AF_INET)
            fz_u16(&in), fz_u16(&in), fz_u16(&in), fz_u16(&in), fz_u16(&in), fz_u16(&in);
    }
    for (int i = 0; i < snap.nroutes; i++) {
        struct lw_route *r = &snap.routes[i];
        r->ifindex = 1 + (int)(fz_u8(&in) % maxidx);
        r->family = (fz_u8(&in) & 1) ? AF_INET6 : AF_INET;
        r->type = (unsigned char)fz_u8(&in);
        r->table = fz_u8(&in) ? 254 : fz_u8(&in);
        r->priority = fz_u16(&in);
        r->nhflags = fz_u8(&in);
    }
    struct lw_verdict v;
    memset(&v, 0xa5, sizeof v);
    int u = lw_judge(&snap, &cfg, &v);
    FZ_CHECK(u == v.usable && (u == 0 || u == 1));
    FZ_CHECK(strnlen(v.why, sizeof v.why) < sizeof v.why);
    FZ_CHECK(fz_is_printable_text(v.why, strlen(v.why)) && !strchr(v.why, '\n'));
    FZ_CHECK(strnlen(v.ifname, sizeof v.ifname) < sizeof v.ifname);
    FZ_CHECK(strnlen(v.addr4, sizeof v.addr4) < sizeof v.addr4);
    FZ_CHECK(strnlen(v.addr6, sizeof v.addr6) < sizeof v.addr6);
    if (u) {
        const struct lw_link *l = NULL;
        for (int i = 0; i < snap.nlinks; i++)
            if (snap.links[i].ifindex == v.ifindex && strcmp(snap.links[i].name, v.ifname) == 0)
                l = &snap.links[i];
        FZ_CHECK(l != NULL);
        FZ_CHECK(lw_link_up(l));
        FZ_CHECK(v.addr4[0] || v.addr6[0]);
        if (cfg.require_default_route)
            FZ_CHECK((v.addr4[0] && v.route4) || (v.addr6[0] && v.route6));
        if (cfg.ninterfaces)
            FZ_CHECK(lw_name_match(&cfg, v.ifname) >= 0);
    }
    FZ_CHECK(lw_same_uplink(&v, &v));
    return 0;
}
