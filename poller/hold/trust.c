/* SPDX-License-Identifier: ISC */
/* trust.c — the learned per-relay state on disk, and what a finished hold
 * teaches: delivery sources (trust on first use), connect-back time, gaps.
 * Format and arithmetic: learn.c.  Rules: doc/hold.md "Whose connections count". */
#include "hold/internal.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <stdlib.h>
#include <string.h>

static void relay_id(const struct etp_config *cfg, const struct relay_cfg *rc, char id[17])
{
    hold_learn_id(rc->host, relay_port(rc), cfg->hold.port, cfg->hold.local_address,
                  cfg->hold.source, id);
}

void hold_learn_load(struct hold *h)
{
    h->nlearned = 0;
    if (!h->cfg->state_dir)
        return;
    size_t len = 0;
    char *text = state_read_raw(h->cfg->state_dir, HOLD_LEARN_FILE, HOLD_LEARN_MAX_BYTES, &len);
    if (!text)
        return;                   /* none yet (or unreadable: start afresh) */
    char err[160];
    int skipped = 0;
    int n = hold_learn_parse(text, len, h->learned, HOLD_LEARN_MAX_RELAYS, &skipped, err,
                             sizeof err);
    free(text);
    if (n < 0) {
        log_warn("hold: %s/%s: %s; ignoring what was learned (it is rewritten after this "
                 "poll)", h->cfg->state_dir, HOLD_LEARN_FILE, err);
        return;
    }
    if (skipped)
        log_warn("hold: %s/%s: %d malformed entr%s ignored", h->cfg->state_dir,
                 HOLD_LEARN_FILE, skipped, skipped == 1 ? "y" : "ies");
    h->nlearned = n;
}

int hold_learned_for(struct hold *h, const struct relay_cfg *rc)
{
    char id[17];
    relay_id(h->cfg, rc, id);
    for (int i = 0; i < h->nlearned; i++) {
        struct hold_learned *l = &h->learned[i];
        if (strcmp(l->relay, rc->name) != 0)
            continue;
        if (strcmp(l->config, id) != 0) {
            log_notice("hold: relay %s: its address, port or the hold's filter changed; "
                       "forgetting what was learned about it", rc->name);
            memset(l, 0, sizeof *l);
            strlcpy_chk(l->relay, rc->name, sizeof l->relay);
            memcpy(l->config, id, sizeof id);
        }
        return i;
    }
    if (h->nlearned >= HOLD_LEARN_MAX_RELAYS || strlen(rc->name) >= HOLD_LEARN_NAME_MAX)
        return -1;
    struct hold_learned *l = &h->learned[h->nlearned];
    memset(l, 0, sizeof *l);
    strlcpy_chk(l->relay, rc->name, sizeof l->relay);
    memcpy(l->config, id, sizeof id);
    return h->nlearned++;
}

/* Did peer p deliver (rather than just connect)? */
static int delivered(const struct hold_peer_sum *p)
{
    return p->nconn > 0 && (p->bytes_known ? p->bytes > 0 : 1);
}

void hold_learn_update(struct hold *h, const struct hold_summary *s)
{
    int64_t wall = hold_wall_ms();
    for (int i = 0; i < h->nrelays; i++) {
        struct hold_relay *r = &h->relays[i];
        if (!r->mail_expected || r->learned < 0)
            continue;
        struct hold_learned *l = &h->learned[r->learned];
        if (s->connections > 0) {
            /* a delivery over before the first sample: contact at once */
            int64_t fc = s->first_contact_ms > 0 ? s->first_contact_ms : 0;
            hold_learn_record(l, fc, s->max_gap_ms, wall);
            for (int k = 0; k < s->npeers; k++) {
                const struct hold_peer_sum *p = &s->plist[k];
                if (!delivered(p))
                    continue;
                /* a source that is another relay's own address is that relay's */
                int other = 0;
                for (int j = 0; j < h->nrelays; j++)
                    if (j != i && h->relays[j].has_peer && h->relays[j].family == p->family &&
                        memcmp(h->relays[j].addr, p->addr, p->family == AF_INET6 ? 16 : 4) == 0)
                        other = 1;
                if (!other)
                    hold_learn_add_source(l, p->family, p->addr, wall);
            }
        } else if (s->end == HOLD_EMPTY || s->end == HOLD_NO_CONTACT ||
                   (s->end == HOLD_MAX && s->connections == 0)) {
            hold_learn_record(l, -1, 0, wall);
        }
    }
}

void hold_learn_save(struct hold *h)
{
    if (!h->cfg->state_dir)
        return;
    /* keep entries of configured relays only (a removed relay is forgotten) */
    struct hold_learned *keep = calloc(HOLD_LEARN_MAX_RELAYS, sizeof *keep);
    if (!keep)
        return;
    size_t n = 0;
    for (int i = 0; i < h->nlearned; i++) {
        for (int j = 0; j < h->cfg->nrelays; j++) {
            char id[17];
            relay_id(h->cfg, &h->cfg->relays[j], id);
            if (strcmp(h->cfg->relays[j].name, h->learned[i].relay) == 0 &&
                strcmp(id, h->learned[i].config) == 0) {
                keep[n++] = h->learned[i];
                break;
            }
        }
    }
    char *text = hold_learn_format(keep, n);
    free(keep);
    if (!text) {
        log_err("hold: out of memory writing %s", HOLD_LEARN_FILE);
        return;
    }
    (void)state_write_raw(h->cfg->state_dir, HOLD_LEARN_FILE, text, strlen(text));
    free(text);
}
