/* SPDX-License-Identifier: ISC */
/* ehlo.h — the default EHLO name, from local data only (never a DNS query:
 * on a dial-up line every query is a round trip over the line, and every
 * process that loads the configuration would pay it). */
#ifndef ETP_EHLO_H
#define ETP_EHLO_H
#include <stddef.h>

enum ehlo_source {
    EHLO_FROM_HOSTNAME = 0,   /* the host name has a dot */
    EHLO_FROM_HOSTS,          /* its canonical name in /etc/hosts */
    EHLO_FROM_DDNS,           /* the first ddns entry's (first) hostname */
    EHLO_FROM_BARE,           /* the dotless host name (check warns) */
};

/* Choose the default EHLO name: hostname if it has a dot; else the
 * canonical name (with a dot) of hostname in the hosts(5) text
 * hosts[0..hosts_len) (NULL: none); else the first name of ddns_hostname
 * ("a.example.org,b.example.org" as dyndns2 allows) if it is a DNS name
 * with a dot; else hostname ("localhost" when empty).  out gets the name
 * (always terminated; cut names fall through to the next source). */
enum ehlo_source ehlo_choose(const char *hostname, const char *hosts, size_t hosts_len,
                             const char *ddns_hostname, char *out, size_t outsz);

/* ehlo_choose() with gethostname() and /etc/hosts (read only when the host
 * name has no dot).  malloc'd, NULL only without memory. */
char *ehlo_default(const char *ddns_hostname);
#endif
