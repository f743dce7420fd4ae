/* SPDX-License-Identifier: ISC */
/* schedule.c — the daemon's pure scheduling rules (unit-tested): what an
 * exit code means for the next poll, the back-off, the settle time. */
#include "link/supervisor.h"
#include <stdint.h>
#include <sysexits.h>

/* ======================================================================
 * Pure helpers
 * ====================================================================== */

enum sup_outcome sup_classify_exit(int code)
{
    switch (code) {
    case 0:
        return SUP_OK;
    case EX_USAGE:          /* 64: we called it wrongly; repeating will not help */
    case EX_UNAVAILABLE:    /* 69: a domain was refused */
    case EX_NOPERM:         /* 77: authentication failed (do not lock the account) */
    case EX_CONFIG:         /* 78: configuration error */
        return SUP_PERMANENT;
    default:                /* 75, 76, crashes, OS errors: try again later */
        return SUP_RETRY;
    }
}

int sup_backoff_next(int cur_s, int min_s, int max_s)
{
    if (min_s < 1)
        min_s = 1;
    if (max_s < min_s)
        max_s = min_s;
    if (cur_s < min_s)
        return min_s;
    if (cur_s > max_s / 2)
        return max_s;
    return cur_s * 2;
}

int64_t sup_settle_ms(int p2p, int64_t down_ms, int64_t now, int settle_s)
{
    int64_t settle_ms = (int64_t)(settle_s > 0 ? settle_s : 0) * 1000;
    if (p2p && !(down_ms && now - down_ms < SUP_FLAP_MS))
        return 0;
    return settle_ms;
}

int64_t sup_backoff_delay_ms(int base_s, uint32_t rnd)
{
    int64_t base = (int64_t)(base_s > 0 ? base_s : 1) * 1000;
    int64_t span = base / 5;                       /* up to 20 % earlier */
    int64_t d = base - (int64_t)(((uint64_t)rnd * (uint64_t)(span + 1)) >> 32);
    return d < 1 ? 1 : d;
}

