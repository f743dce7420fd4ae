/* SPDX-License-Identifier: ISC */
/* auth.h — SMTP AUTH (RFC 4954) through GNU SASL. */
#ifndef ETP_AUTH_H
#define ETP_AUTH_H
#include "smtp/conn.h"
#include "smtp/reply.h"

/* Choose the mechanism among `prefs` (configured, in preference order;
 * `prefs_default`: the admin did not set auth-mechanisms) that the server
 * offers and GNU SASL supports.  Inside TLS (in_tls; every TLS session here
 * is verified): the fewest round trips (PLAIN 1, CRAM-MD5 2, SCRAM and
 * LOGIN 3), ties in listed order — except that a SCRAM mechanism listed
 * first by the admin is kept.  Without TLS: listed order (the default list
 * tries SCRAM and CRAM-MD5 before PLAIN and LOGIN).  NULL if none. */
const char *auth_choose(char *const *prefs, int nprefs, int prefs_default,
                        const struct smtp_caps *caps, int in_tls);

/* Run the AUTH exchange.  Returns 0 on a 235 that comes after GNU SASL
 * finished (GSASL_OK: for SCRAM, the server-final message was verified); a
 * 235 before that is EX_PROTOCOL.  Otherwise a sysexits code:
 * EX_NOPERM (535 & other 5xx: credentials refused), EX_TEMPFAIL (454/4xx,
 * I/O), EX_PROTOCOL (malformed exchange), EX_SOFTWARE (SASL library).
 * `last` receives the final reply. AUTH payloads never reach the log. */
int auth_run(struct conn *c, const char *mech, const char *user, const char *password,
             int timeout_s, struct smtp_reply *last);
#endif
