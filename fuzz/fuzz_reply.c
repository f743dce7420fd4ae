/* SPDX-License-Identifier: ISC */
/* fuzz_reply.c — SMTP reply reader (poller/smtp/reply.h): reply_parse_buf() over
 * a stream of replies the way conn.c consumes them, reply_feed() on the raw
 * input as one line, reply_first_line().  Invariants: bounded text,
 * printable text, code range, line count, enhanced-code syntax. */
#include "fuzz.h"
#include "smtp/reply.h"
#include <ctype.h>

static void check_reply(const struct smtp_reply *r)
{
    FZ_CHECK(r->textlen < sizeof r->text);
    FZ_CHECK(strlen(r->text) == r->textlen);
    FZ_CHECK(fz_is_printable_text(r->text, r->textlen));
    FZ_CHECK(r->nlines >= 0 && r->nlines <= REPLY_MAX_LINES);
    FZ_CHECK(strlen(r->enh) < sizeof r->enh);
    if (r->nlines > 0)
        FZ_CHECK(r->code >= 200 && r->code <= 559);
    if (r->enh[0]) {
        /* class.subject.detail, class 2/4/5, 1-3 digits each */
        const char *p = r->enh;
        FZ_CHECK(*p == '2' || *p == '4' || *p == '5');
        FZ_CHECK(p[1] == '.');
        int dots = 0;
        for (p += 2; *p; p++) {
            FZ_CHECK(isdigit((unsigned char)*p) || *p == '.');
            dots += *p == '.';
        }
        FZ_CHECK(dots == 1);
        /* the enhanced code is the start of the first line's text */
        FZ_CHECK(strncmp(r->text, r->enh, strlen(r->enh)) == 0);
    }
    char fl[64];
    reply_first_line(r, fl, sizeof fl);
    FZ_CHECK(strlen(fl) < sizeof fl);
    FZ_CHECK(strchr(fl, '\n') == NULL);
    reply_first_line(r, fl, 1);
    FZ_CHECK(fl[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct smtp_reply r;
    const char *why;

    /* 1. a stream of replies, as conn_read_reply() sees them */
    reply_init(&r);
    size_t off = 0;
    int replies = 0;
    while (off < size && replies < 1000) {
        size_t used = 0;
        why = NULL;
        enum reply_status st = reply_parse_buf(&r, buf + off, size - off, &used, &why);
        FZ_CHECK(used <= size - off);
        check_reply(&r);
        if (st == REPLY_DONE) {
            FZ_CHECK(r.complete);
            FZ_CHECK(used > 0);
            replies++;
        } else if (st != REPLY_MORE) {
            FZ_CHECK(why != NULL);
            FZ_CHECK(!r.complete);
            if (st == REPLY_TOOMANY)
                FZ_CHECK(r.nlines == REPLY_MAX_LINES);
        } else {
            /* MORE: everything up to the last LF was consumed */
            FZ_CHECK(memchr(buf + off + used, '\n', size - off - used) == NULL);
        }
        if (used == 0)
            break;
        off += used;
        if (st != REPLY_MORE)
            reply_init(&r);
    }

    /* 2. the whole input as one line (NULs, CRs and all) */
    reply_init(&r);
    why = NULL;
    enum reply_status st = reply_feed(&r, buf, size, &why);
    FZ_CHECK(st == REPLY_MORE || st == REPLY_DONE || why != NULL);
    if (size + 2 > REPLY_MAX_LINE)
        FZ_CHECK(st == REPLY_TOOLONG);
    if (memchr(buf, '\0', size))
        FZ_CHECK(st != REPLY_MORE && st != REPLY_DONE);
    check_reply(&r);
    /* a finished reply takes no more lines */
    if (st == REPLY_DONE)
        FZ_CHECK(reply_feed(&r, "250 x", 5, NULL) == REPLY_BAD);
    return 0;
}
