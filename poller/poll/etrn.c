/* SPDX-License-Identifier: ISC */
/* etrn.c — RFC 1985 ETRN reply meaning. */
#include "conf/config.h"
#include "poll/etrn.h"
#include "core/util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Lower-cased copy of the whole reply text (all lines). */
static void lower_text(const struct smtp_reply *r, char *low, size_t n)
{
    size_t l = r->textlen < n - 1 ? r->textlen : n - 1;
    for (size_t i = 0; i < l; i++)
        low[i] = (char)tolower((unsigned char)r->text[i]);
    low[l] = '\0';
}

/* lower_text() if the reply's class (first digit) is c1 or c2; 0 if not. */
static int lower_text_if(const struct smtp_reply *r, int c1, int c2, char *low, size_t n)
{
    int cls = r->code / 100;
    if (cls != c1 && cls != c2)
        return 0;
    lower_text(r, low, n);
    return 1;
}

static int syntax_count(const char *low)
{
    return strstr(low, "too many") && (strstr(low, "syntax") || strstr(low, "protocol"));
}

int etrn_is_session_limit(const struct smtp_reply *r)
{
    char low[REPLY_TEXT_MAX];
    if (!lower_text_if(r, 4, 5, low, sizeof low))
        return 0;
    /* "Too many syntax or protocol errors" (Exim) counts our mistakes, not
     * ETRNs: the node was judged by the line before it. */
    if (syntax_count(low))
        return 0;
    /* PMDF "458 4.7.1 ETRN session limit reached" (550 5.7.1 before
     * Messaging Server 7.0.5), Exim "554 Too many nonmail commands",
     * "452 too many ETRN commands" */
    if (strstr(low, "limit") && (strstr(low, "session") || strstr(low, "etrn") ||
                                 strstr(low, "command") || strstr(low, "connection")))
        return 1;
    if (strstr(low, "too many"))
        return 1;
    return 0;
}

int etrn_is_in_progress(const struct smtp_reply *r)
{
    char low[REPLY_TEXT_MAX];
    if (!lower_text_if(r, 4, 2, low, sizeof low))
        return 0;
    return strstr(low, "already processing") || strstr(low, "already running") ||
           strstr(low, "already in progress") || strstr(low, "in progress");
}

long etrn_253_count(const struct smtp_reply *r)
{
    if (r->code != 253)
        return -1;
    const char *p = r->text;
    if (r->enh[0] && strncmp(p, r->enh, strlen(r->enh)) == 0)
        p += strlen(r->enh);
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "OK", 2) != 0)
        return -1;
    p += 2;
    if (*p == ',')
        p++;
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        if (++digits > 8)
            return -1;
        v = v * 10 + (*p++ - '0');
    }
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "pending", 7) != 0)
        return -1;
    return v;
}

static const char *form_hint(const char *low, const char *node)
{
    if (strstr(low, "must begin with #") || strstr(low, "must start with #"))
        return node && node[0] == '#' ? NULL
            : "the relay (Exim's built-in ETRN) only takes the queue form: write the node as \"#name\"";
    if (node && node[0] == '#')
        return "the relay does not take the \"#queue\" form here: give the domain "
               "(on Sendmail \"@domain\" also matches its subdomains)";
    return NULL;
}

void etrn_judge(const struct smtp_reply *r, int advertised, const char *node,
                struct etrn_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->code = r->code;
    v->count = -1;
    char low[REPLY_TEXT_MAX];
    lower_text(r, low, sizeof low);
    int cls = r->code / 100;
    v->session_ends = r->code == 421 || syntax_count(low);

    switch (r->code) {
    case 250: case 252:
        v->outcome = etrn_is_in_progress(r) ? PO_IN_PROGRESS : PO_ACCEPTED;
        return;
    case 251:
        v->outcome = PO_NOTHING_QUEUED;
        return;
    case 253:
        v->count = etrn_253_count(r);
        v->outcome = v->count == 0 ? PO_NOTHING_QUEUED : PO_ACCEPTED;
        return;
    default:
        break;
    }
    if (cls == 2 || cls == 1 || cls == 3 || r->code < 100) {
        v->outcome = PO_TEMPORARY;     /* not an ETRN reply: protocol error */
        return;
    }
    if (etrn_is_session_limit(r)) {
        v->outcome = PO_TEMPORARY;
        v->limit = 1;
        v->retry = 1;
        return;
    }
    if (r->code == 421) {              /* closing: the node was not judged */
        v->outcome = PO_TEMPORARY;
        v->retry = 1;
        return;
    }
    if (cls == 4 && etrn_is_in_progress(r)) {
        v->outcome = PO_IN_PROGRESS;
        return;
    }
    /* 502 (and 500 / 504 from a relay that did not advertise ETRN): the
     * command itself is unknown */
    if (r->code == 502 || (!advertised && (r->code == 500 || r->code == 504))) {
        v->outcome = PO_NOT_OFFERED;
        return;
    }
    v->hint = form_hint(low, node);
    if (r->code == 459) {              /* RFC 1985 "Node %s not allowed": 4xx, but final */
        v->outcome = PO_REFUSED;
        return;
    }
    if (r->code == 500 || r->code == 501) {
        v->outcome = PO_CONFIG;
        return;
    }
    v->outcome = cls == 4 ? PO_TEMPORARY : PO_REFUSED;
}

int etrn_pipe_group(const struct etrn_pipe_ctx *c, const char **why)
{
    const char *w = NULL;
    int n = 1;
    if (!c->enabled)
        goto out;
    if (!c->advertised) {
        w = "the relay does not advertise PIPELINING";
        goto out;
    }
    if (c->learned > 0) {
        w = "the relay has shown an ETRN limit (learned.json)";
        goto out;
    }
    if (c->refused) {
        w = "a pipelined group got a reply out of shape before (learned.json)";
        goto out;
    }
    if (c->off) {
        w = "stopped for this poll after an unexpected reply";
        goto out;
    }
    n = c->left < ETRN_PIPE_MAX ? c->left : ETRN_PIPE_MAX;
    if (c->budget > 0) {
        int room = c->budget - c->sent;
        if (room < n)
            n = room;
    }
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen("ETRN ") + (c->nodes && c->nodes[i] ? strlen(c->nodes[i]) : 0) + 2;
        if (bytes + l > ETRN_PIPE_MAX_BYTES) {
            n = i;
            break;
        }
        bytes += l;
    }
    if (n < 1)
        n = 1;
out:
    if (why)
        *why = w;
    return n;
}

int etrn_pipe_reply_ok(const struct smtp_reply *r)
{
    int cls = r->code / 100;
    if (!(r->code >= 250 && r->code <= 253) && cls != 4 && cls != 5)
        return 0;
    char low[REPLY_TEXT_MAX];
    lower_text(r, low, sizeof low);
    return !strstr(low, "pipelin") && !strstr(low, "synchroni");
}

const char *poll_outcome_name(enum poll_outcome o)
{
    switch (o) {
    case PO_NOT_ATTEMPTED: return "not-attempted";
    case PO_ACCEPTED: return "ok";
    case PO_IN_PROGRESS: return "in-progress";
    case PO_NOTHING_QUEUED: return "nothing-queued";
    case PO_TEMPORARY: return "temporary";
    case PO_REFUSED: return "refused";
    case PO_CONFIG: return "config-error";
    case PO_NOT_OFFERED: return "not-offered";
    }
    return "?";
}

int poll_outcome_exit(enum poll_outcome o)
{
    switch (o) {
    case PO_ACCEPTED: case PO_IN_PROGRESS: case PO_NOTHING_QUEUED: return 0;
    case PO_TEMPORARY: case PO_NOT_ATTEMPTED: return EX_TEMPFAIL;
    case PO_REFUSED: case PO_NOT_OFFERED: return EX_UNAVAILABLE;
    case PO_CONFIG: return EX_CONFIG;
    }
    return EX_PROTOCOL;
}
