/* SPDX-License-Identifier: ISC */
/* fuzz_learn.c — the learned relay state reader (learn_parse: bytes of
 * STATE_DIR/learned.json -> struct learned).  The file is ours, but a
 * damaged disk or another program may leave anything there.  Invariants:
 * values in their ranges, strings terminated and printable, nothing found
 * for another digest. */
#include "fuzz.h"
#include "poll/learn.h"

static void check_learned(const struct learned *l)
{
    FZ_CHECK(l->per_session >= 0 && l->per_session <= 10000);
    FZ_CHECK(l->next_start >= 0 && l->next_start < CFG_MAX_NODES);
    FZ_CHECK(l->seen >= 0);
    FZ_CHECK(memchr(l->why, '\0', sizeof l->why) != NULL);
    FZ_CHECK(memchr(l->detail, '\0', sizeof l->detail) != NULL);
    for (const char *p = l->detail; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    FZ_CHECK(memchr(l->no_pipelining, '\0', sizeof l->no_pipelining) != NULL);
    for (const char *p = l->no_pipelining; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    for (const char *p = l->why; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    if (!l->per_session)
        FZ_CHECK(l->why[0] == '\0' && l->detail[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    struct learned l;
    memset(&l, 0xa5, sizeof l);
    int r = learn_parse((const char *)data, size, "mx", "0123456789abcdef0123456789abcdef", &l);
    FZ_CHECK(r == 0 || r == 1);
    check_learned(&l);
    if (!r)
        FZ_CHECK(l.per_session == 0 && l.next_start == 0 && l.no_pipelining[0] == '\0');
    memset(&l, 0xa5, sizeof l);
    int r2 = learn_parse((const char *)data, size, "other-relay", "other", &l);
    FZ_CHECK(r2 == 0 || r2 == 1);
    check_learned(&l);
    return 0;
}
