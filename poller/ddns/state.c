/* SPDX-License-Identifier: ISC */
/* state.c — the dyndns2 rules (pure), the per-entry memory in
 * STATE_DIR/ddns.json, and the change-detection digest of a section. */
#include "ddns/internal.h"
#include "core/util.h"
#include "core/netaddr.h"

#include <sys/socket.h>

#include <gnutls/crypto.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- the dyndns2 rules ------------------------------------------------- */

const char *ddns_action_name(enum ddns_action a)
{
    switch (a) {
    case DDNS_ACT_UPDATE: return "update";
    case DDNS_ACT_REFRESH: return "refresh";
    case DDNS_ACT_UNCHANGED: return "unchanged";
    case DDNS_ACT_FATAL: return "fatal";
    case DDNS_ACT_WAIT: return "wait";
    }
    return "?";
}

enum ddns_action ddns_decide(const struct ddns_entry_state *st, const char *cfg_hash,
                             const char *addr4, const char *addr6,
                             int force_refresh_days, int64_t now)
{
    if (!addr4)
        addr4 = "";
    if (!addr6)
        addr6 = "";
    int same_cfg = st && cfg_hash && strcmp(st->cfg_hash, cfg_hash) == 0;
    if (!same_cfg)
        return DDNS_ACT_UPDATE;            /* new entry, or config changed: clears fatal + cache */
    if (st->fatal)
        return DDNS_ACT_FATAL;
    /* retry_after is at most DDNS_RETRY_MIN ahead; one further away means
     * the clock went back: do not let that block updates for long. */
    if (st->retry_after > now && st->retry_after - now <= DDNS_RETRY_MIN)
        return DDNS_ACT_WAIT;
    if (st->updated <= 0 || strcmp(st->addr4, addr4) != 0 || strcmp(st->addr6, addr6) != 0)
        return DDNS_ACT_UPDATE;
    int64_t age = now - st->updated;
    if (force_refresh_days > 0 && age >= (int64_t)force_refresh_days * 86400)
        return DDNS_ACT_REFRESH;
    return DDNS_ACT_UNCHANGED;
}

void ddns_record(struct ddns_entry_state *st, const char *cfg_hash, enum ddns_class cls,
                 int exit, const char *result, const char *addr4, const char *addr6, int64_t now)
{
    if (cfg_hash && st->cfg_hash != cfg_hash)
        snprintf(st->cfg_hash, sizeof st->cfg_hash, "%s", cfg_hash);
    st->attempt = now;
    snprintf(st->result, sizeof st->result, "%s", result ? result : "");
    st->exit = exit;
    switch (cls) {
    case DDNS_CLASS_OK:
        snprintf(st->addr4, sizeof st->addr4, "%s", addr4 ? addr4 : "");
        snprintf(st->addr6, sizeof st->addr6, "%s", addr6 ? addr6 : "");
        st->updated = now;
        st->fatal = 0;
        st->retry_after = 0;
        break;
    case DDNS_CLASS_FATAL:
        st->fatal = 1;
        st->retry_after = 0;
        break;
    case DDNS_CLASS_RETRY:
        st->fatal = 0;
        st->retry_after = now + DDNS_RETRY_MIN;
        break;
    }
}


void fmt_time(int64_t t, char *out, size_t outsz)
{
    if (t <= 0) {
        snprintf(out, outsz, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, outsz, "%lld", (long long)t);
}


/* SHA-256 (GnuTLS) of the section text and the identity of the secret
 * file (device, inode, size, mtime: a rewritten password file clears a
 * fatal badauth; the secret itself is never hashed).  The text is what
 * cfg_print writes for the section, every key with its value or default,
 * so a key added to the schema is covered without anyone listing it here.
 * 64 bits of it are kept: a change detector, not a security function. */
void ddns_entry_digest(const struct ddns_cfg *d, char out[17])
{
    const char *text = d->section_text ? d->section_text : "";
    size_t tl = strlen(text);
    char idn[160] = "";
    struct stat st;
    if (d->password_file && stat(d->password_file, &st) == 0)
        snprintf(idn, sizeof idn, "\n#secret-file %llu %llu %lld %lld.%09ld",
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    size_t il = strlen(idn);
    unsigned char *buf = malloc(tl + il + 1), md[32];
    memset(md, 0, sizeof md);
    if (buf) {
        memcpy(buf, text, tl);
        memcpy(buf + tl, idn, il);
        gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, tl + il, md);
        free(buf);
    }
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void entry_digest(const struct ddns_cfg *d, char out[17])
{
    ddns_entry_digest(d, out);
}


void state_from_json(json_object *e, struct ddns_entry_state *st)
{
    memset(st, 0, sizeof *st);
    if (!e)
        return;
    const char *s;
    /* The file is input like any other: only a hex digest, only real
     * addresses, and a printable result reach the decisions and `status`
     * (no terminal escapes, no fake lines). */
    struct netaddr na;
    if ((s = js_str(e, "config")) && strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16)
        snprintf(st->cfg_hash, sizeof st->cfg_hash, "%s", s);
    if ((s = js_str(e, "addr4")) && netaddr_parse(s, &na, 0) == 0 && na.family == AF_INET)
        netaddr_format(&na, st->addr4, sizeof st->addr4);
    if ((s = js_str(e, "addr6")) && netaddr_parse(s, &na, 0) == 0 && na.family == AF_INET6)
        netaddr_format(&na, st->addr6, sizeof st->addr6);
    if ((s = js_str(e, "result")))
        printable(st->result, sizeof st->result, s, strlen(s));
    st->updated = js_int(e, "updated");
    st->attempt = js_int(e, "attempt");
    st->exit = (int)js_int(e, "exit");
    st->retry_after = js_int(e, "retry_after");
    json_object *f;
    st->fatal = json_object_object_get_ex(e, "fatal", &f) && json_object_get_boolean(f);
}

json_object *state_to_json(const struct ddns_entry_state *st, const struct ddns_cfg *d)
{
    json_object *e = json_object_new_object();
    char t[40];
    json_object_object_add(e, "config", json_object_new_string(st->cfg_hash));
    json_object_object_add(e, "hostname", json_object_new_string(d->hostname ? d->hostname : ""));
    json_object_object_add(e, "addr4", json_object_new_string(st->addr4));
    json_object_object_add(e, "addr6", json_object_new_string(st->addr6));
    json_object_object_add(e, "updated", json_object_new_int64(st->updated));
    fmt_time(st->updated, t, sizeof t);
    json_object_object_add(e, "updated_utc", json_object_new_string(t));
    json_object_object_add(e, "attempt", json_object_new_int64(st->attempt));
    fmt_time(st->attempt, t, sizeof t);
    json_object_object_add(e, "attempt_utc", json_object_new_string(t));
    json_object_object_add(e, "result", json_object_new_string(st->result));
    json_object_object_add(e, "exit", json_object_new_int(st->exit));
    json_object_object_add(e, "fatal", json_object_new_boolean(st->fatal));
    json_object_object_add(e, "retry_after", json_object_new_int64(st->retry_after));
    return e;
}

json_object *state_entries(json_object *root)
{
    json_object *e;
    if (root && json_object_object_get_ex(root, "entries", &e) && json_object_is_type(e, json_type_object))
        return e;
    return NULL;
}

json_object *state_entry(json_object *root, const char *name)
{
    json_object *ents = state_entries(root), *e;
    if (ents && json_object_object_get_ex(ents, name, &e) && json_object_is_type(e, json_type_object))
        return e;
    return NULL;
}

