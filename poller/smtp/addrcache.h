/* SPDX-License-Identifier: ISC */
/* addrcache.h — the relay address cache: a relay given by host name is
 * looked up once per `address-cache` seconds, not on every poll.  On a
 * dial-up or GSM line every DNS query is a round trip over the line
 * (150-700 ms), before the first byte of SMTP.
 *
 * STATE_DIR/addrs-RELAY-HASH.json (HASH as for the TLS cache: relay name
 * and host) holds the host, the wall-clock time of the lookup, the TTL it
 * was stored with and the addresses getaddrinfo() gave, in its order:
 *   {"host":"mx.example.net","looked_up":1764750000,"ttl":86400,
 *    "addresses":["192.0.2.25","2001:db8::25"]}
 * Within the TTL (the smaller of the stored one and the relay's current
 * address-cache) the addresses are used without any lookup.  Past it, the
 * stale addresses are tried while the name is looked up in a thread (a
 * link whose DNS is not working yet costs the resolver's time-out only
 * when the stale addresses do not answer either); the lookup's result
 * rewrites the file, a failure is logged and the stale entry kept.  When no
 * cached address answers, the name is looked up again at once.  TLS
 * verification is by the configured name (tls-name or host), never by
 * the address, so a stale address cannot make a wrong server trusted.
 * An address literal, a name found in /etc/hosts and address-cache = 0
 * bypass the cache (nothing read, nothing written). */
#ifndef ETP_ADDRCACHE_H
#define ETP_ADDRCACHE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "core/netaddr.h"

#define ADDRCACHE_MAX 16                  /* addresses kept per relay */
#define ADDRCACHE_LIMIT (7 * 86400)       /* largest address-cache */
#define ADDRCACHE_FILE_MAX 8192           /* a larger cache file is ignored */
#define ADDRCACHE_COLLECT_MS 1000        /* session end: wait for a refresh at most this */
#define ADDRCACHE_TIME_MAX ((int64_t)1 << 40)   /* a later looked_up is refused (no overflow) */

struct addrcache_entry {
    char host[256];
    int64_t looked_up;                    /* wall clock, seconds */
    int ttl;                              /* seconds it was stored for */
    int n;
    struct netaddr addr[ADDRCACHE_MAX];
};

enum addr_origin {
    ADDR_LITERAL = 0,   /* host is an address */
    ADDR_LOOKUP,        /* looked up now (and cached unless off or /etc/hosts) */
    ADDR_CACHED,        /* from the cache, within its TTL: no lookup */
    ADDR_STALE,         /* from the cache past its TTL: the lookup failed */
    ADDR_REFRESHING,    /* from the cache past its TTL: the lookup still runs */
};

struct relay_addrs {
    int n;
    struct sockaddr_storage ss[ADDRCACHE_MAX];   /* port 0; set at connect */
    socklen_t len[ADDRCACHE_MAX];
    enum addr_origin origin;
    int64_t age;                          /* CACHED/STALE: seconds since the lookup */
};

/* Parse a cache file's bytes (untrusted: anything may be on the disk).
 * 1 and *e filled when it is a well-formed entry for host (ASCII case
 * ignored) with at least one valid address (at most ADDRCACHE_MAX are
 * kept, invalid ones skipped, 0 < looked_up <= ADDRCACHE_TIME_MAX,
 * 0 <= ttl <= ADDRCACHE_LIMIT);
 * else 0 with e->n == 0. */
int addrcache_parse(const char *buf, size_t len, const char *host, struct addrcache_entry *e);
/* The TTL of a DNS answer (untrusted bytes from the resolver): the smallest
 * TTL of the answer section's class-IN A, AAAA and CNAME records (a TTL
 * above 2^31-1 counts as 0, RFC 2181 8); -1 when msg is not a NOERROR
 * response with one, or is malformed.  Bounded by len (at most 65535). */
int addrcache_answer_ttl(const unsigned char *msg, size_t len);
/* The entry as JSON text (malloc'd, NUL-terminated), NULL without memory. */
char *addrcache_format(const struct addrcache_entry *e);
/* May e be used without a lookup at wall time now under address-cache
 * ttl_max?  1 when 0 <= now - looked_up < min(e->ttl, ttl_max); a clock
 * that went back (an unset RTC before NTP) makes it not fresh. */
int addrcache_fresh(const struct addrcache_entry *e, int64_t now, int ttl_max);
/* "addrs-" + readable relay name + "-" + 16 hex digits + ".json". */
int addrcache_file_name(const char *relay, const char *host, char *out, size_t outsize);

/* The addresses to connect to for relay/host: see the file comment.
 * ttl_max is the relay's address-cache (0: off); refresh forces a lookup
 * (after the cached addresses did not answer; no stale fallback then).
 * 0 ok (out filled, n >= 1), -1 with err ("cannot resolve HOST: ..."). */
struct addrcache_pending;
int addrcache_resolve(const char *state_dir, const char *relay, const char *host, int ttl_max,
                      int refresh, struct relay_addrs *out, char *err, size_t errsz,
                      struct addrcache_pending **pending);
/* pending (may be NULL: then past the TTL the lookup runs first, as
 * above): past the TTL the lookup is started in a thread and the stale
 * addresses are returned at once (origin ADDR_REFRESHING), so the caller
 * connects while DNS answers, or times out; *pending is then set and must
 * be given to addrcache_collect() (else NULL).
 *
 * addrcache_collect: wait at most wait_ms for that lookup.  On success the
 * cache is rewritten (on this thread; the lookup thread only calls
 * getaddrinfo) and fresh (if not NULL) filled: 1.  The lookup failed (the
 * stale entry stays, logged): 0.  Not done in time: -1, and the lookup is
 * abandoned (its thread frees its part; the next poll tries again).
 * *pending is NULL afterwards in every case. */
int addrcache_collect(struct addrcache_pending **pending, int wait_ms, struct relay_addrs *fresh);
/* `status`: one line per relay named by host name (its cached addresses,
 * when they were looked up, fresh or stale).  stdio and conf types only. */
#include <stdio.h>
struct etp_config;
void addrcache_status(FILE *out, const struct etp_config *cfg);
/* `status --json`: {"RELAY": {the file's entry} or null, ...} */
#include <json-c/json.h>
json_object *addrcache_status_json(const struct etp_config *cfg);
/* Forget relay/host's cached addresses (their certificate was refused:
 * someone else's address now, worthless even as a fallback): the next
 * connection looks the name up first.  Logged when a file was removed. */
void addrcache_forget(const char *state_dir, const char *relay, const char *host);
/* Same addresses in the same order? */
int addrcache_same(const struct relay_addrs *a, const struct relay_addrs *b);
#endif
