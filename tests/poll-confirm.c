/* SPDX-License-Identifier: ISC */
/* poll-confirm.c — drives the poll layer's confirm callback the way the
 * hold calls it, for tests/poll-relays.sh:
 *   poll-confirm CONFIG WAIT_S HOLD_S
 * polls relay 0 (session kept open, as with hold.keepalive = yes), waits
 * WAIT_S seconds (calling the hold tick every 200 ms, as the hold does),
 * then calls poll_confirm() with a hold deadline of HOLD_S seconds from
 * then, and prints "confirm=N ms=M". */
#include "conf/config.h"
#include "core/log.h"
#include "core/util.h"
#include "poll/poll.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: poll-confirm CONFIG WAIT_S HOLD_S\n");
        return 64;
    }
    static struct etp_config cfg;
    char err[4096];
    if (config_load(argv[1], &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "%s", err);
        return 78;
    }
    log_init("poll-confirm", LOG_TO_STDERR, LOG_INFO);
    static struct relay_result res;
    static struct relay_poll rp;
    struct cycle_ctx x = { .cfg = &cfg, .polls = &rp, .results = &res, .n = 1 };
    relay_poll_run(&rp, &cfg, &cfg.relays[0], &res, now_ms() + 30000, 0, NULL);
    int64_t until = now_ms() + atoi(argv[2]) * 1000;
    while (now_ms() < until) {
        poll_hold_tick(&x);
        usleep(200000);
    }
    int64_t t0 = now_ms();
    x.hold_deadline_ms = t0 + atoi(argv[3]) * 1000;
    int c = poll_confirm(&x);
    printf("confirm=%d ms=%lld\n", c, (long long)(now_ms() - t0));
    relay_poll_end(&rp);
    config_free(&cfg);
    return 0;
}
