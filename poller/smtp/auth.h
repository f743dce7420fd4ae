/* auth.h — SMTP AUTH (RFC 4954) through GNU SASL. */
#ifndef ETP_AUTH_H
#define ETP_AUTH_H
#include "smtp/conn.h"
#include "smtp/reply.h"

/* Choose the best mechanism: the first of `prefs` (configured order) that
 * the server offers and GNU SASL supports.  NULL if none. */
const char *auth_choose(char *const *prefs, int nprefs, const struct smtp_caps *caps);

/* Run the AUTH exchange.  Returns 0 on 235; otherwise a sysexits code:
 * EX_NOPERM (535 & other 5xx: credentials refused), EX_TEMPFAIL (454/4xx,
 * I/O), EX_PROTOCOL (malformed exchange), EX_SOFTWARE (SASL library).
 * `last` receives the final reply. AUTH payloads never reach the log. */
int auth_run(struct conn *c, const char *mech, const char *user, const char *password,
             int timeout_s, struct smtp_reply *last);
#endif
