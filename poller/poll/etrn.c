/* etrn.c — RFC 1985 ETRN reply meaning. */
#include "conf/config.h"
#include "poll/etrn.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int etrn_is_session_limit(const struct smtp_reply *r)
{
    if (r->code / 100 != 4)
        return 0;
    /* Case-insensitive search for "limit" together with "session" or
     * "too many": PMDF "458 4.7.1 ETRN session limit reached", others
     * "452 too many ETRN commands". */
    char low[REPLY_TEXT_MAX];
    size_t n = r->textlen < sizeof low - 1 ? r->textlen : sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)r->text[i]);
    low[n] = '\0';
    if (strstr(low, "limit") && (strstr(low, "session") || strstr(low, "etrn")))
        return 1;
    if (strstr(low, "too many"))
        return 1;
    return 0;
}

void etrn_classify(const struct smtp_reply *r, struct etrn_result *res)
{
    res->code = r->code;
    res->count = -1;
    switch (r->code) {
    case 250: case 251: case 252:
        res->cls = ETRN_OK;
        return;
    case 253: {
        res->cls = ETRN_OK;
        /* "OK, <n> pending messages for node <x> started": first number */
        const char *p = r->text;
        if (r->enh[0])
            p += strlen(r->enh);
        while (*p && !isdigit((unsigned char)*p) && *p != '\n')
            p++;
        if (isdigit((unsigned char)*p)) {
            char *e;
            long v = strtol(p, &e, 10);
            if (v >= 0 && v < 100000000)
                res->count = v;
        }
        return;
    }
    case 421:
        res->cls = ETRN_RECONNECT;
        return;
    case 459:   /* RFC 1985: "Node %s not allowed": a 4xx code, but permanent for the node */
        res->cls = ETRN_PERM;
        return;
    case 500: case 501:
        res->cls = ETRN_CONFIG;
        return;
    default:
        break;
    }
    if (r->code / 100 == 4)
        res->cls = etrn_is_session_limit(r) ? ETRN_RECONNECT : ETRN_TEMP;
    else if (r->code / 100 == 5)
        res->cls = ETRN_PERM;
    else
        res->cls = ETRN_PROTO;     /* 2xx other than 250-253, 3xx */
}

const char *etrn_class_name(enum etrn_class c)
{
    switch (c) {
    case ETRN_OK: return "ok";
    case ETRN_TEMP: return "temporary";
    case ETRN_PERM: return "refused";
    case ETRN_CONFIG: return "config-error";
    case ETRN_RECONNECT: return "reconnect";
    case ETRN_PROTO: return "protocol-error";
    }
    return "?";
}
