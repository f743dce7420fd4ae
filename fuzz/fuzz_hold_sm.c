/* SPDX-License-Identifier: ISC */
/* fuzz_hold_sm.c — the hold completion state machine (hold_sm_*): fed with
 * fuzzed socket snapshots, as the sock_diag driver would.  Invariants: an
 * end is sticky and consistent with its rule; counters and the summary stay
 * bounded; times never go backwards (also in events).
 *
 * Input: 8 bytes of parameters (the 8th: bit0 adaptive quiet, bit1 a
 * learned connect-back bound, bits 2-7 how many quiet ends to confirm),
 * then snapshots:
 *   [dt lo][dt hi][n] then n connections of 4 bytes each:
 *   [flags: bit0 outbound, bit1 open, bit2 IPv6, bit3 bytes unknown,
 *    bit4 SYN-RECV (with open)]
 *   [id] (cookie/port/address from it, so connections recur) [bytes lo/hi]
 * dt with the top bit set goes backwards (the machine must clamp). */
#include "fuzz.h"
#include "hold/hold.h"
#include <sys/socket.h>

static struct hold_sm *sm;
static int64_t ev_last_t;
static long ev_new, ev_closed;

static void on_ev(void *arg, enum hold_event ev, const struct hold_conn *c, int64_t t)
{
    (void)arg;
    FZ_CHECK(ev == HOLD_EV_NEW || ev == HOLD_EV_CLOSED);
    FZ_CHECK(c->family == AF_INET || c->family == AF_INET6);
    FZ_CHECK(t >= ev_last_t);
    ev_last_t = t;
    if (ev == HOLD_EV_NEW)
        ev_new++;
    else
        ev_closed++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    if (!sm && !(sm = malloc(sizeof *sm)))
        abort();
    struct hold_params p = {
        .quiet_ms = (int64_t)fz_u16(&in) * 10,
        .first_contact_ms = (int64_t)fz_u16(&in) * 10,
        .max_hold_ms = (int64_t)fz_u16(&in) * 100,
    };
    unsigned f = fz_u8(&in);
    p.wait_outbound = f & 1;
    p.nothing_queued = (f >> 1) & 1;
    int abort_at = (f >> 2) & 63;     /* abort after that many steps (63 = never) */
    unsigned g = fz_u8(&in);
    if (g & 1)
        p.quiet_max_ms = p.quiet_ms * 6;
    if (g & 2)
        p.contact_bound_ms = p.first_contact_ms / 3;
    int confirm_left = (int)(g >> 2);
    ev_last_t = 0;
    ev_new = ev_closed = 0;
    hold_sm_init(sm, &p, on_ev, NULL);

    enum { SNAP_MAX = 255 };
    static struct hold_conn snap[SNAP_MAX];
    int64_t t = 0, last_t = 0;
    enum hold_end end = HOLD_NOT_RUN;
    int step = 0;
    while (in.n >= 3) {
        unsigned dt = fz_u16(&in);
        if (dt & 0x8000)
            t -= dt & 0x7fff;
        else
            t += dt;
        size_t n = fz_u8(&in);
        size_t k;
        for (k = 0; k < n && in.n >= 4; k++) {
            unsigned fl = fz_u8(&in), id = fz_u8(&in), b = fz_u16(&in);
            struct hold_conn *c = &snap[k];
            memset(c, 0, sizeof *c);
            c->outbound = fl & 1;
            c->open = (fl >> 1) & 1;
            c->syn = c->open && (fl & 16);
            c->family = (fl & 4) ? AF_INET6 : AF_INET;
            c->laddr[0] = 127;
            c->raddr[0] = 127;
            c->raddr[3] = (uint8_t)(id & 0x1f);          /* 32 peers */
            if (c->family == AF_INET6)                   /* long texts: fill the summary */
                for (int i = 0; i < 16; i++)
                    c->raddr[i] = (uint8_t)(0x21 + (id & 0x1f) * 7 + i * 13);
            c->lport = c->outbound ? (uint16_t)(40000 + id) : 25;
            c->rport = c->outbound ? 25 : (uint16_t)(40000 + id);
            c->cookie = id;
            c->bytes = (fl & 8) ? HOLD_BYTES_UNKNOWN : b;
        }
        n = k;
        if (step == abort_at)
            hold_sm_abort(sm, t);
        enum hold_end e = hold_sm_step(sm, t, snap, n);
        step++;
        FZ_CHECK(sm->last_t >= last_t);
        last_t = sm->last_t;
        FZ_CHECK(sm->ntrack <= HOLD_SM_MAX_TRACK);
        FZ_CHECK(sm->npeers >= 0 && sm->npeers <= HOLD_SM_MAX_PEERS);
        FZ_CHECK(sm->open_in >= 0 && sm->open_out >= 0 && sm->seen_in >= 0);
        FZ_CHECK(sm->quiet_ms >= p.quiet_ms);
        FZ_CHECK(sm->quiet_ms <= (p.quiet_max_ms > p.quiet_ms ? p.quiet_max_ms : p.quiet_ms));
        if (end != HOLD_NOT_RUN) {
            FZ_CHECK(e == end);                          /* sticky */
            continue;
        }
        if (e == HOLD_NOT_RUN)
            continue;
        end = e;
        FZ_CHECK(sm->end == e);
        if (e == HOLD_ABORTED)
            FZ_CHECK(sm->end_ms >= sm->last_t);   /* the abort's own time */
        else
            FZ_CHECK(sm->end_ms == sm->last_t);
        switch (e) {
        case HOLD_NOTHING_QUEUED:
            FZ_CHECK(p.nothing_queued);
            break;
        case HOLD_QUIET:
            FZ_CHECK(sm->seen_in > 0 && sm->open_in == 0);
            if (sm->confirmed)
                FZ_CHECK(sm->confirms > 0 && sm->last_t >= sm->confirm_until);
            else
                FZ_CHECK(sm->last_t - sm->last_in_ms >= sm->quiet_ms);
            break;
        case HOLD_EMPTY:
            FZ_CHECK(sm->seen_in == 0 && p.contact_bound_ms > 0);
            FZ_CHECK(sm->last_t >= p.contact_bound_ms && sm->last_t < p.first_contact_ms);
            break;
        case HOLD_NO_CONTACT:
            FZ_CHECK(sm->seen_in == 0 && sm->last_t >= p.first_contact_ms);
            break;
        case HOLD_MAX:
            FZ_CHECK(sm->last_t >= p.max_hold_ms);
            break;
        case HOLD_ABORTED:
            FZ_CHECK(step - 1 >= abort_at);
            break;
        default:
            FZ_CHECK(!"end out of range");
        }
        if (p.wait_outbound && e != HOLD_MAX && e != HOLD_ABORTED)
            FZ_CHECK(sm->open_out == 0);
        if (e == HOLD_QUIET && !sm->confirmed && confirm_left > 0) {
            confirm_left--;
            int before = sm->confirms;
            hold_sm_confirming(sm, (int64_t)(g & 0xf0) * 10);
            FZ_CHECK(sm->end == HOLD_NOT_RUN && sm->confirms == before + 1);
            end = HOLD_NOT_RUN;
        }
    }
    struct hold_summary s;
    memset(&s, 0xa5, sizeof s);
    hold_sm_summary(sm, &s);
    FZ_CHECK(s.end == sm->end);
    FZ_CHECK(s.connections == sm->seen_in);
    FZ_CHECK(s.duration_ms >= 0);
    FZ_CHECK(s.overshoot_ms >= -1);
    FZ_CHECK(strnlen(s.peers, sizeof s.peers) < sizeof s.peers);
    FZ_CHECK(fz_is_printable_text(s.peers, strlen(s.peers)));
    hold_sm_abort(sm, 0);
    FZ_CHECK(sm->end != HOLD_NOT_RUN);
    return 0;
}
