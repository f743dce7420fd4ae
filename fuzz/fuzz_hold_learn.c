/* SPDX-License-Identifier: ISC */
/* fuzz_hold_learn.c — the hold's learned per-relay state file
 * (STATE_DIR/hold-learned.json, hold_learn_parse).  Invariants: every
 * stored entry is within its bounds (printable relay name, 16-hex config,
 * at most HOLD_LEARN_MAX_SOURCES sources of a real family, at most
 * HOLD_LEARN_MAX_SAMPLES samples, none negative); the bound arithmetic
 * stays within [floor, first-contact]; what is written back parses again to
 * the same entries. */
#include "fuzz.h"
#include "hold/learn.h"
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hold_learned l[HOLD_LEARN_MAX_RELAYS], back[HOLD_LEARN_MAX_RELAYS];
    char err[160];
    int skipped = -1;
    int n = hold_learn_parse((const char *)data, size, l, HOLD_LEARN_MAX_RELAYS, &skipped, err,
                             sizeof err);
    if (n < 0) {
        FZ_CHECK(strnlen(err, sizeof err) < sizeof err && err[0]);
        return 0;
    }
    FZ_CHECK(n <= HOLD_LEARN_MAX_RELAYS && skipped >= 0);
    for (int i = 0; i < n; i++) {
        FZ_CHECK(l[i].relay[0] && strnlen(l[i].relay, sizeof l[i].relay) < sizeof l[i].relay);
        FZ_CHECK(fz_is_printable_text(l[i].relay, strlen(l[i].relay)));
        FZ_CHECK(strlen(l[i].config) == 16);
        FZ_CHECK(l[i].nsources >= 0 && l[i].nsources <= HOLD_LEARN_MAX_SOURCES);
        for (int k = 0; k < l[i].nsources; k++)
            FZ_CHECK(l[i].sources[k].family == AF_INET || l[i].sources[k].family == AF_INET6);
        FZ_CHECK(l[i].ncontacts >= 0 && l[i].ncontacts <= HOLD_LEARN_MAX_SAMPLES);
        FZ_CHECK(l[i].ngaps >= 0 && l[i].ngaps <= HOLD_LEARN_MAX_SAMPLES);
        for (int k = 0; k < l[i].ncontacts; k++)
            FZ_CHECK(l[i].contact_ms[k] >= 0);
        FZ_CHECK(l[i].polls_with_mail >= 0 && l[i].empty_streak >= 0);
        int64_t b = hold_learn_bound(&l[i], 120000);
        FZ_CHECK(b == 0 || (b >= HOLD_LEARN_FLOOR_MS && b <= 120000));
        FZ_CHECK((b == 0) == (l[i].ncontacts == 0));
        for (int k = 0; k < l[i].nsources; k++)
            FZ_CHECK(hold_learn_has_source(&l[i], l[i].sources[k].family, l[i].sources[k].addr));
    }
    char *txt = hold_learn_format(l, (size_t)n);
    FZ_CHECK(txt != NULL);
    int skipped2;
    int n2 = hold_learn_parse(txt, strlen(txt), back, HOLD_LEARN_MAX_RELAYS, &skipped2, err,
                              sizeof err);
    FZ_CHECK(n2 == n && skipped2 == 0);
    for (int i = 0; i < n; i++) {
        FZ_CHECK(strcmp(back[i].relay, l[i].relay) == 0);
        FZ_CHECK(strcmp(back[i].config, l[i].config) == 0);
        FZ_CHECK(back[i].nsources == l[i].nsources && back[i].ncontacts == l[i].ncontacts);
        FZ_CHECK(back[i].empty_streak == l[i].empty_streak);
    }
    free(txt);
    return 0;
}
