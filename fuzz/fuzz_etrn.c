/* SPDX-License-Identifier: ISC */
/* fuzz_etrn.c — RFC 1985 ETRN reply judgement (etrn_judge,
 * etrn_is_session_limit, etrn_253_count) over replies read by the real
 * reply reader.  Invariants: the outcome matches the code family; a count
 * only from a 253 reply in the RFC's shape; a limit only from 4xx/5xx; a
 * reply fits a pipelined group (etrn_pipe_reply_ok) only as 250-253/4xx/5xx. */
#include "fuzz.h"
#include "poll/etrn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_reply r;
    reply_init(&r);
    size_t used;
    enum reply_status st = reply_parse_buf(&r, (const char *)data, size, &used, NULL);
    if (st == REPLY_MORE && !r.complete && used < size) {
        /* unterminated last line: feed it too */
        size_t n = size - used;
        if (n && data[size - 1] == '\r')
            n--;
        st = reply_feed(&r, (const char *)data + used, n, NULL);
    }
    if (st != REPLY_DONE)
        return 0;
    for (int adv = 0; adv <= 1; adv++) {
        struct etrn_verdict v;
        memset(&v, 0xa5, sizeof v);
        etrn_judge(&r, adv, size && data[0] == '#' ? "#q" : "example.org", &v);
        FZ_CHECK(v.code == r.code);
        FZ_CHECK(v.count == -1 || (v.count >= 0 && v.count < 100000000));
        if (v.count != -1)
            FZ_CHECK(r.code == 253);
        FZ_CHECK(v.count == etrn_253_count(&r) || r.code != 253);
        int lim = etrn_is_session_limit(&r);
        FZ_CHECK(lim == 0 || lim == 1);
        if (lim)
            FZ_CHECK(r.code / 100 == 4 || r.code / 100 == 5);
        FZ_CHECK(v.limit == 0 || (v.limit == 1 && lim && v.retry));
        FZ_CHECK(v.hint == NULL || v.hint[0]);
        switch (v.outcome) {
        case PO_ACCEPTED:
            FZ_CHECK(r.code == 250 || r.code == 252 || r.code == 253);
            break;
        case PO_NOTHING_QUEUED:
            FZ_CHECK(r.code == 251 || (r.code == 253 && v.count == 0));
            break;
        case PO_IN_PROGRESS:
            FZ_CHECK(r.code / 100 == 2 || r.code / 100 == 4);
            break;
        case PO_TEMPORARY:
            FZ_CHECK(r.code / 100 != 5 || v.limit);
            break;
        case PO_REFUSED:
            FZ_CHECK((r.code / 100 == 5 || r.code == 459) && !v.limit);
            break;
        case PO_CONFIG:
            FZ_CHECK(r.code == 500 || r.code == 501);
            break;
        case PO_NOT_OFFERED:
            FZ_CHECK(r.code == 502 || (!adv && (r.code == 500 || r.code == 504)));
            break;
        default:
            FZ_CHECK(!"outcome out of range");
        }
        FZ_CHECK(strcmp(poll_outcome_name(v.outcome), "?") != 0);
    }
    int fits = etrn_pipe_reply_ok(&r);
    FZ_CHECK(fits == 0 || fits == 1);
    if (fits)
        FZ_CHECK((r.code >= 250 && r.code <= 253) || r.code / 100 == 4 || r.code / 100 == 5);
    return 0;
}
