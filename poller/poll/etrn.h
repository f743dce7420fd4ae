/* etrn.h — RFC 1985 ETRN reply meaning (pure functions). */
#ifndef ETP_ETRN_H
#define ETP_ETRN_H
#include "smtp/reply.h"

enum etrn_class {
    ETRN_OK = 0,         /* 250, 251, 252, 253 */
    ETRN_TEMP,           /* 458 and other 4xx: retry later */
    ETRN_PERM,           /* 459 and other 5xx: refused for this node */
    ETRN_CONFIG,         /* 500/501: our node is wrong (syntax) */
    ETRN_RECONNECT,      /* per-session limit or 421: reconnect, continue */
    ETRN_PROTO,          /* not a valid reply (1xx/3xx, garbage) */
};
struct etrn_result {
    enum etrn_class cls;
    int code;
    long count;          /* 253: number of pending messages started; -1 unknown */
};
void etrn_classify(const struct smtp_reply *r, struct etrn_result *res);
const char *etrn_class_name(enum etrn_class c);
/* Does the reply look like a per-session ETRN limit (e.g. PMDF
 * "458 4.7.1 ETRN session limit reached")? */
int etrn_is_session_limit(const struct smtp_reply *r);
#endif
