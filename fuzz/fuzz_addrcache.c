/* SPDX-License-Identifier: ISC */
/* fuzz_addrcache.c — the relay address cache reader (addrcache_parse:
 * bytes of STATE_DIR/addrs-RELAY-HASH.json -> struct addrcache_entry).
 * The file is ours, but a damaged disk or another program may leave
 * anything there.  Input: the file's bytes.  Invariants: an entry only
 * for the host asked, 1..ADDRCACHE_MAX valid addresses, values in range,
 * nothing on refusal; format -> parse gives the same entry back;
 * addrcache_fresh never claims a future or expired lookup. */
#include "fuzz.h"
#include "smtp/addrcache.h"
#include <strings.h>
#include <sys/socket.h>

static void check_entry(const struct addrcache_entry *e, int r, const char *host)
{
    FZ_CHECK(r == 0 || r == 1);
    if (!r) {
        FZ_CHECK(e->n == 0 && e->host[0] == '\0' && e->looked_up == 0 && e->ttl == 0);
        return;
    }
    FZ_CHECK(memchr(e->host, '\0', sizeof e->host) != NULL);
    FZ_CHECK(strcasecmp(e->host, host) == 0);
    FZ_CHECK(e->n >= 1 && e->n <= ADDRCACHE_MAX);
    FZ_CHECK(e->looked_up > 0 && e->looked_up <= ADDRCACHE_TIME_MAX);
    FZ_CHECK(e->ttl >= 0 && e->ttl <= ADDRCACHE_LIMIT);
    for (int i = 0; i < e->n; i++)
        FZ_CHECK(e->addr[i].family == AF_INET || e->addr[i].family == AF_INET6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * ADDRCACHE_FILE_MAX)
        return 0;
    const char *host = "relay.example.net";
    struct addrcache_entry e;
    memset(&e, 0xa5, sizeof e);
    int r = addrcache_parse((const char *)data, size, host, &e);
    check_entry(&e, r, host);
    if (r) {
        char *t = addrcache_format(&e);
        FZ_CHECK(t != NULL);
        struct addrcache_entry back;
        FZ_CHECK(addrcache_parse(t, strlen(t), host, &back) == 1);
        FZ_CHECK(back.n == e.n && back.looked_up == e.looked_up && back.ttl == e.ttl);
        FZ_CHECK(strcmp(back.host, e.host) == 0);
        for (int i = 0; i < e.n; i++)
            FZ_CHECK(back.addr[i].family == e.addr[i].family &&
                     memcmp(back.addr[i].a, e.addr[i].a, 16) == 0);
        free(t);
        FZ_CHECK(!addrcache_fresh(&e, e.looked_up - 1, ADDRCACHE_LIMIT));
        FZ_CHECK(!addrcache_fresh(&e, e.looked_up + e.ttl, ADDRCACHE_LIMIT));
        FZ_CHECK(!addrcache_fresh(&e, e.looked_up, 0));
        FZ_CHECK(addrcache_fresh(&e, e.looked_up, ADDRCACHE_LIMIT) == (e.ttl > 0));
    }
    memset(&e, 0xa5, sizeof e);
    r = addrcache_parse((const char *)data, size, "other.example", &e);
    check_entry(&e, r, "other.example");
    return 0;
}
