/* SPDX-License-Identifier: ISC */
/* etchosts.h — a bounded reader of /etc/hosts (hosts(5)): local data only,
 * never a DNS query.  Used for the default EHLO name (the canonical name
 * of a dotless host name) and to leave relays named there out of the
 * relay address cache (smtp/addrcache.h). */
#ifndef ETP_ETCHOSTS_H
#define ETP_ETCHOSTS_H
#include <stddef.h>

#define ETCHOSTS_PATH "/etc/hosts"
/* The file read by etchosts_lookup_file() callers (tests point it elsewhere). */
extern const char *etchosts_file;
#define ETCHOSTS_MAX_BYTES (4u << 20)     /* larger files are not read */
#define ETCHOSTS_LINE_MAX 4096            /* longer lines are skipped */

/* Look name up (ASCII case-insensitive, as canonical name or alias) in the
 * hosts(5) text buf[0..len) (need not be NUL-terminated).  Lines whose
 * first field is not an IPv4/IPv6 address, and names that are not DNS host
 * names, are skipped.  canon (if canonsz > 0) receives the canonical name
 * (first name) of the first matching line whose canonical name has a dot,
 * else of the first matching line; "" when not found.  Returns 1 found, 0 not. */
int etchosts_lookup(const char *buf, size_t len, const char *name, char *canon, size_t canonsz);

/* The file's text (malloc'd, NUL-terminated; *len without the NUL), or
 * NULL when it cannot be read, is not a regular file or is larger than
 * ETCHOSTS_MAX_BYTES.  A link is followed (a system file, not state). */
char *etchosts_read(const char *path, size_t *len);
/* The same on a file (ETCHOSTS_PATH normally): 0 when it cannot be read
 * or is larger than ETCHOSTS_MAX_BYTES. */
int etchosts_lookup_file(const char *path, const char *name, char *canon, size_t canonsz);
#endif
