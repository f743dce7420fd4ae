/* fuzz_etrn.c — RFC 1985 ETRN reply classification (etrn_classify,
 * etrn_is_session_limit) over replies read by the real reply reader.
 * Invariants: class matches the code family; 253 count in range. */
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
    struct etrn_result res;
    memset(&res, 0xa5, sizeof res);
    etrn_classify(&r, &res);
    FZ_CHECK(res.code == r.code);
    FZ_CHECK(res.count == -1 || (res.count >= 0 && res.count < 100000000));
    if (res.count != -1)
        FZ_CHECK(r.code == 253);
    int lim = etrn_is_session_limit(&r);
    FZ_CHECK(lim == 0 || lim == 1);
    if (lim)
        FZ_CHECK(r.code / 100 == 4);
    switch (res.cls) {
    case ETRN_OK:
        FZ_CHECK(r.code >= 250 && r.code <= 253);
        break;
    case ETRN_TEMP:
        FZ_CHECK(r.code / 100 == 4 && r.code != 421 && r.code != 459 && !lim);
        break;
    case ETRN_PERM:
        FZ_CHECK(r.code / 100 == 5 || r.code == 459);
        break;
    case ETRN_CONFIG:
        FZ_CHECK(r.code == 500 || r.code == 501);
        break;
    case ETRN_RECONNECT:
        FZ_CHECK(r.code == 421 || lim);
        break;
    case ETRN_PROTO:
        FZ_CHECK(r.code / 100 == 2 || r.code / 100 == 3);
        break;
    default:
        FZ_CHECK(!"class out of range");
    }
    FZ_CHECK(strcmp(etrn_class_name(res.cls), "?") != 0);
    return 0;
}
