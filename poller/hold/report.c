/* SPDX-License-Identifier: ISC */
/* report.c — what the hold tells: the end line, hold.json, the
 * hold-done hooks, `etrnpoll status` (with what was learned per relay). */
#include "hold/internal.h"
#include "core/hooks.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t hold_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hold_write_state(const struct etp_config *cfg, const struct hold_summary *s,
                        int64_t start_wall_ms, int nothing_queued)
{
    if (!cfg->state_dir)
        return;
    json_object *o = json_object_new_object();
    if (!o)
        return;
    json_object_object_add(o, "end", json_object_new_string(hold_end_name(s->end)));
    json_object_object_add(o, "started_ms", json_object_new_int64(start_wall_ms));
    json_object_object_add(o, "ended_ms", json_object_new_int64(s->end_wall_ms));
    json_object_object_add(o, "duration_ms", json_object_new_int64(s->duration_ms));
    json_object_object_add(o, "connections", json_object_new_int(s->connections));
    json_object_object_add(o, "peers", json_object_new_string(s->peers));
    json_object_object_add(o, "bytes_received",
                           s->bytes_known ? json_object_new_int64((int64_t)s->bytes_received)
                                          : NULL);
    json_object_object_add(o, "overshoot_ms", json_object_new_int64(s->overshoot_ms));
    json_object_object_add(o, "nothing_queued", json_object_new_boolean(nothing_queued));
    json_object_object_add(o, "first_contact_ms", json_object_new_int64(s->first_contact_ms));
    json_object_object_add(o, "quiet_ms", json_object_new_int64(s->quiet_ms));
    json_object_object_add(o, "contact_bound_ms", json_object_new_int64(s->contact_bound_ms));
    json_object_object_add(o, "confirms", json_object_new_int(s->confirms));
    json_object_object_add(o, "confirmed", json_object_new_boolean(s->confirmed));
    json_object_object_add(o, "ignored", json_object_new_int(s->ignored));
    json_object_object_add(o, "ignored_peers", json_object_new_string(s->ignored_peers));
    (void)state_write_json(cfg->state_dir, HOLD_STATE_FILE, o);   /* logs its own errors */
    json_object_put(o);
}

void hold_done_hooks(const struct etp_config *cfg, const struct hold_summary *s)
{
    if (s->end == HOLD_NOT_RUN || (s->end == HOLD_ABORTED && etp_abort))
        return;
    char e_end[64], e_conn[64], e_sec[64], e_peers[600], e_bytes[64], e_over[64];
    snprintf(e_end, sizeof e_end, "ETRNPOLL_HOLD_END=%s", hold_end_name(s->end));
    snprintf(e_conn, sizeof e_conn, "ETRNPOLL_HOLD_CONNECTIONS=%d", s->connections);
    snprintf(e_sec, sizeof e_sec, "ETRNPOLL_HOLD_SECONDS=%" PRId64, (s->duration_ms + 500) / 1000);
    snprintf(e_peers, sizeof e_peers, "ETRNPOLL_HOLD_PEERS=%s", s->peers);
    if (s->bytes_known)
        snprintf(e_bytes, sizeof e_bytes, "ETRNPOLL_HOLD_BYTES=%" PRIu64, s->bytes_received);
    else
        snprintf(e_bytes, sizeof e_bytes, "ETRNPOLL_HOLD_BYTES=");
    if (s->overshoot_ms >= 0)
        snprintf(e_over, sizeof e_over, "ETRNPOLL_HOLD_OVERSHOOT_MS=%" PRId64, s->overshoot_ms);
    else
        snprintf(e_over, sizeof e_over, "ETRNPOLL_HOLD_OVERSHOOT_MS=");
    char e_conf[64];
    snprintf(e_conf, sizeof e_conf, "ETRNPOLL_HOLD_CONFIRMED=%s",
             s->end != HOLD_QUIET ? "" : s->confirmed ? "yes" : s->confirm_unavailable ? "failed" : "no");
    char *env[] = { e_end, e_conn, e_sec, e_peers, e_bytes, e_over, e_conf, NULL };
    int failed = hooks_run(cfg, "hold-done", env);
    if (failed > 0)
        log_warn("hold: %d hold-done hook(s) failed", failed);
}


static const char *relay_names(const struct hold *h, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < h->nrelays; i++) {
        if (!h->relays[i].mail_expected)
            continue;
        int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", h->relays[i].rc->name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
    return buf[0] ? buf : "the relay";
}

void hold_log_end(const struct hold *h, const struct hold_sm *sm, const struct hold_summary *s)
{
    const struct hold_cfg *hc = &h->cfg->hold;
    char bytes[48] = "";
    if (s->bytes_known)
        snprintf(bytes, sizeof bytes, ", %" PRIu64 " bytes received", s->bytes_received);
    char over[64] = "";
    if (s->overshoot_ms >= 0)
        snprintf(over, sizeof over, "; line held %.1f s after the last one closed",
                 (double)s->overshoot_ms / 1000);
    char why[160] = "";
    switch (s->end) {
    case HOLD_QUIET:
        if (s->confirmed)
            snprintf(why, sizeof why, "delivery complete (quiet %.1f s, confirmed: %d second "
                     "ETRN%s brought nothing)", (double)s->quiet_ms / 1000, s->confirms,
                     s->confirms == 1 ? "" : "s");
        else
            snprintf(why, sizeof why, "delivery complete (quiet %.1f s; not confirmed%s)",
                     (double)s->quiet_ms / 1000,
                     s->confirms >= HOLD_MAX_CONFIRMS ? ": confirmation limit reached"
                     : s->confirm_unavailable ? ": the relay could not be asked again" : "");
        break;
    case HOLD_NOTHING_QUEUED: snprintf(why, sizeof why, "nothing queued (every relay answered 251)"); break;
    case HOLD_EMPTY: snprintf(why, sizeof why, "nothing queued (no connection within the learned connect-back time)"); break;
    case HOLD_NO_CONTACT: snprintf(why, sizeof why, "no inbound connection"); break;
    case HOLD_MAX: snprintf(why, sizeof why, "max-hold reached"); break;
    case HOLD_ABORTED: snprintf(why, sizeof why, "aborted"); break;
    case HOLD_NOT_RUN: snprintf(why, sizeof why, "not run"); break;
    }
    int prio = s->end == HOLD_QUIET || s->end == HOLD_NOTHING_QUEUED || s->end == HOLD_EMPTY
                   ? LOG_NOTICE : LOG_WARNING;
    log_msg(prio, "hold: ended after %.1f s by %s: %s; %d inbound connection(s)%s%s%s%s",
            (double)s->duration_ms / 1000, hold_end_name(s->end), why, s->connections,
            s->peers[0] ? " from " : "", s->peers, bytes, over);
    char names[200];
    if (s->end == HOLD_EMPTY) {
        for (int i = 0; i < h->nrelays; i++) {
            const struct hold_relay *r = &h->relays[i];
            if (!r->mail_expected || r->learned < 0)
                continue;
            const struct hold_learned *l = &h->learned[r->learned];
            log_notice("hold: nothing was queued at %s (it usually connects back within %.1f s)",
                       r->rc->name, (double)hold_learn_slowest(l) / 1000);
            /* the streak is counted after this hold (hold_learn_update) */
            if ((l->empty_streak + 1) % HOLD_LEARN_SILENT_POLLS == 0)
                log_warn("hold: %s has not connected back in the last %lld polls although it "
                         "delivered before; if mail is expected there, check DNS, firewall, "
                         "port %d reachability", r->rc->name, (long long)l->empty_streak + 1,
                         hc->port);
        }
    } else if (s->end == HOLD_NO_CONTACT) {
        log_warn("hold: the relay did not connect back within %d s (%s) — check DNS, firewall, "
                 "port %d reachability", hc->first_contact, relay_names(h, names, sizeof names),
                 hc->port);
    } else if (s->end == HOLD_MAX && sm->open_in > 0) {
        log_warn("hold: max-hold (%d s) reached with %d inbound connection(s) still open; "
                 "delivery is probably incomplete", hc->max_hold, sm->open_in);
    } else if (s->end == HOLD_MAX && s->connections == 0) {
        log_warn("hold: max-hold (%d s) reached without any inbound connection from %s",
                 hc->max_hold, relay_names(h, names, sizeof names));
    } else if (s->end == HOLD_MAX) {
        log_warn("hold: max-hold (%d s) reached; inbound connections kept coming (%d so far)",
                 hc->max_hold, s->connections);
    }
    if (s->ignored > 0 && s->connections == 0)
        log_warn("hold: only connections not from the relay arrived (%d, from %s); if that "
                 "is the relay's delivery address, add it to hold.source", s->ignored,
                 s->ignored_peers);
}

static void status_learned(FILE *out, const struct etp_config *cfg)
{
    size_t len = 0;
    char *text = state_read_raw(cfg->state_dir, HOLD_LEARN_FILE, HOLD_LEARN_MAX_BYTES, &len);
    if (!text)
        return;
    struct hold_learned *l = calloc(HOLD_LEARN_MAX_RELAYS, sizeof *l);
    char err[160];
    int skipped = 0;
    int n = l ? hold_learn_parse(text, len, l, HOLD_LEARN_MAX_RELAYS, &skipped, err, sizeof err) : -1;
    free(text);
    if (n < 0) {
        fprintf(out, "hold: learned state unreadable (%s)\n", l ? err : "out of memory");
        free(l);
        return;
    }
    for (int i = 0; i < n; i++) {
        char name[2 * HOLD_LEARN_NAME_MAX], src[HOLD_LEARN_MAX_SOURCES * (INET6_ADDRSTRLEN + 2)];
        printable(name, sizeof name, l[i].relay, strlen(l[i].relay));
        size_t sl = 0;
        src[0] = '\0';
        for (int k = 0; k < l[i].nsources; k++) {
            char a[INET6_ADDRSTRLEN];
            if (!inet_ntop(l[i].sources[k].family == AF_INET6 ? AF_INET6 : AF_INET,
                           l[i].sources[k].addr, a, sizeof a))
                continue;
            int w = snprintf(src + sl, sizeof src - sl, "%s%s", sl ? ", " : "", a);
            if (w < 0 || (size_t)w >= sizeof src - sl)
                break;
            sl += (size_t)w;
        }
        fprintf(out, "hold: relay %s: delivers from %s (learned); ", name,
                src[0] ? src : "(nothing learned yet: the next poll trusts any source)");
        int64_t slow = hold_learn_slowest(&l[i]);
        if (slow >= 0)
            fprintf(out, "connects back within %.1f s (%lld poll(s) with mail); an empty poll "
                    "ends after %.1f s", (double)slow / 1000, (long long)l[i].polls_with_mail,
                    (double)hold_learn_bound(&l[i], (int64_t)cfg->hold.first_contact * 1000) / 1000);
        else
            fprintf(out, "connect-back time not learned yet");
        if (l[i].empty_streak > 0)
            fprintf(out, "; %lld empty poll(s) since the last mail", (long long)l[i].empty_streak);
        fprintf(out, "\n");
    }
    free(l);
}

void hold_status(FILE *out, const struct etp_config *cfg)
{
    if (!cfg->state_dir) {
        fprintf(out, "hold: no state directory\n");
        return;
    }
    json_object *o = state_read_json(cfg->state_dir, HOLD_STATE_FILE);
    if (!o) {
        fprintf(out, "hold: no hold recorded yet\n");
        return;
    }
    const char *end = js_str(o, "end");
    long long ended = js_int(o, "ended_ms");
    char when[64] = "?";
    time_t tt = (time_t)(ended / 1000);
    struct tm tm;
    if (ended > 0 && localtime_r(&tt, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    char peers[300];
    const char *pp = js_str(o, "peers");
    printable(peers, sizeof peers, pp ? pp : "", pp ? strlen(pp) : 0);
    char endb[64];                /* a state-file string: escaped like every other */
    fprintf(out, "hold: last ended %s after %.1f s by %s; %lld inbound connection(s)%s%s",
            when, (double)js_int(o, "duration_ms") / 1000, printable_str(endb, sizeof endb, end, "?"),
            js_int(o, "connections"), peers[0] ? " from " : "", peers);
    json_object *b = NULL;
    if (json_object_object_get_ex(o, "bytes_received", &b) && b &&
        json_object_is_type(b, json_type_int))
        fprintf(out, ", %lld bytes", (long long)json_object_get_int64(b));
    long long over = js_int(o, "overshoot_ms");
    if (over >= 0 && js_int(o, "connections") > 0)
        fprintf(out, "; line released %.1f s after the last delivery", (double)over / 1000);
    if (json_object_object_get_ex(o, "confirmed", &b) && b &&
        json_object_is_type(b, json_type_boolean) && json_object_get_boolean(b))
        fprintf(out, " (confirmed by a second ETRN)");
    fprintf(out, "\n");
    json_object_put(o);
    status_learned(out, cfg);
}
