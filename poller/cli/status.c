/* SPDX-License-Identifier: ISC */
/* status.c — `etrnpoll status [--json]`: the last poll, DNS update and
 * hold, read from the state files.
 *
 * State files may come from another version, be damaged or be planted:
 * never trust their shape (json-c asserts on array calls on non-arrays; a
 * NULL is no %s) and never print a string from them raw: printable_str()
 * turns ESC/OSC sequences and embedded newlines into \xNN.
 *
 * Each module contributes one entry to `parts[]`: its state file, its key
 * in the --json object and a function printing its text part. */
#include "poll/learn.h"
#include "cli/cli.h"
#include "ddns/ddns.h"
#include "hold/hold.h"
#include "smtp/addrcache.h"
#include "core/state.h"
#include "core/util.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static void fmt_time(long long t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S %z", &tm))
        snprintf(out, n, "never");
}

#define ESC_MAX 600
/* escaped string member of a JSON object ("?" if absent or not a string) */
#define S(buf, obj, key) printable_str(buf, sizeof buf, js_str(obj, key), "?")

static void poll_status(FILE *out, const struct etp_config *cfg)
{
    json_object *root = state_read_json(cfg->state_dir, "last-poll.json");
    char a[ESC_MAX], b[ESC_MAX], d[ESC_MAX];
    if (!root || !json_object_is_type(root, json_type_object)) {
        fprintf(out, "last poll: none recorded in %s\n", printable_str(a, sizeof a, cfg->state_dir, "?"));
        json_object_put(root);
        return;
    }
    char t[64];
    fmt_time(js_int(root, "finished"), t, sizeof t);
    fprintf(out, "last poll: %s, %s (exit %lld), trigger %s\n", t, S(a, root, "result"),
            js_int(root, "exit"), S(b, root, "trigger"));
    json_object *rel;
    if (json_object_object_get_ex(root, "relays", &rel) && json_object_is_type(rel, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(rel); i++) {
            json_object *r = json_object_array_get_idx(rel, i);
            fprintf(out, "  relay %s (%s): %s", S(a, r, "name"), S(b, r, "host"), S(d, r, "result"));
            if (js_str(r, "tls"))
                fprintf(out, ", %s%s", S(a, r, "tls"), js_int(r, "tls_resumed") ? " (resumed)" : "");
            if (js_str(r, "auth"))
                fprintf(out, ", AUTH %s", S(a, r, "auth"));
            fprintf(out, "\n");
            if (js_str(r, "error"))
                fprintf(out, "    %s: %s\n", S(a, r, "stage"), S(b, r, "error"));
            json_object *nodes;
            if (json_object_object_get_ex(r, "nodes", &nodes) && json_object_is_type(nodes, json_type_array))
                for (size_t j = 0; j < json_object_array_length(nodes); j++) {
                    json_object *n = json_object_array_get_idx(nodes, j);
                    long long code = js_int(n, "code");
                    fprintf(out, "    %-30s %-14s", S(a, n, "node"), S(b, n, "result"));
                    if (code)
                        fprintf(out, " %lld %s", code, printable_str(d, sizeof d, js_str(n, "reply"), ""));
                    else            /* no reply: the reason it has none */
                        fprintf(out, " %s", printable_str(d, sizeof d, js_str(n, "reply"),
                                                          "(no reason recorded)"));
                    fprintf(out, "\n");
                }
        }
    }
    json_object_put(root);
}

static void learn_part(FILE *out, const struct etp_config *cfg)
{
    learn_status(out, cfg);       /* what each relay's sessions taught (poll/learn.c) */
}

static void ddns_part(FILE *out, const struct etp_config *cfg)
{
    if (cfg->nddns > 0)
        ddns_status(out, cfg);
}

static void hold_part(FILE *out, const struct etp_config *cfg)
{
    if (cfg->hold.enabled)
        hold_status(out, cfg);
}

static const struct status_part {
    const char *file;             /* state file under state-dir */
    const char *key;              /* member of the --json object */
    void (*text)(FILE *, const struct etp_config *);
    json_object *(*json)(const struct etp_config *);   /* instead of file (one file per relay) */
} parts[] = {
    { "last-poll.json", "last_poll", poll_status, NULL },
    { "learned.json", "learned", learn_part, NULL },
    { NULL, "addresses", addrcache_status, addrcache_status_json },
    { "ddns.json", "ddns", ddns_part, NULL },
    { "hold.json", "hold", hold_part, NULL },
};

/* --json: one object {"version":2, "last_poll":…, "learned":…, "addresses":…,
 * "ddns":…, "hold":…};
 * a missing or unreadable file is null.  json-c escapes control characters
 * in strings, so the output is valid JSON whatever the files hold. */
static int status_json(FILE *out, const struct etp_config *cfg)
{
    json_object *o = json_object_new_object();
    if (!o)
        return EX_OSERR;
    json_object_object_add(o, "version", json_object_new_int(2));
    for (size_t i = 0; i < ETP_ARRAY_LEN(parts); i++)
        json_object_object_add(o, parts[i].key, parts[i].json ? parts[i].json(cfg)
                               : state_read_json(cfg->state_dir, parts[i].file));
    fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
    json_object_put(o);
    return 0;
}

int cmd_status(const struct etp_config *cfg, const struct cli *c)
{
    if (c->json)
        return status_json(stdout, cfg);
    for (size_t i = 0; i < ETP_ARRAY_LEN(parts); i++)
        parts[i].text(stdout, cfg);
    return 0;
}
