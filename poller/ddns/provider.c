/* SPDX-License-Identifier: ISC */
/* provider.c — the table of DDNS providers.  A new provider is one file
 * (its update() and, if it needs one, check()), one line here and one
 * value in enum ddns_proto (conf/config.h). */
#include "ddns/internal.h"

#include <stdio.h>
#include <string.h>

static const struct ddns_preset dyndns2_presets[] = {
    { "dyn",       "https://members.dyndns.org/nic/update" },
    { "noip",      "https://dynupdate.no-ip.com/nic/update" },
    { "dynu",      "https://api.dynu.com/nic/update" },
    { "dnsomatic", "https://updates.dnsomatic.com/nic/update" },
    { "desec",     "https://update.dedyn.io/nic/update" },
    { "ovh",       "https://www.ovh.com/nic/update?system=dyndns" },
    { "strato",    "https://dyndns.strato.com/nic/update" },
    { "selfhost",  "https://carol.selfhost.de/nic/update" },
    { NULL, NULL }
};

static const struct ddns_provider providers[] = {
    { .name = "dyndns2", .proto = DDNS_DYNDNS2, .presets = dyndns2_presets,
      .required = DDNS_KEY_SERVER | DDNS_KEY_USERNAME | DDNS_KEY_PASSWORD_FILE,
      .required_msg = "dyndns2 needs 'server' (the update URL) or 'preset', 'username' and "
                      "'password-file'",
      .basic_user = 1, .check = NULL, .update = dyndns2_update },
    { .name = "powerdns", .proto = DDNS_POWERDNS, .presets = NULL,
      .required = DDNS_KEY_SERVER | DDNS_KEY_ZONE | DDNS_KEY_PASSWORD_FILE,
      .required_msg = "powerdns needs 'server' (API base URL), 'zone' and 'password-file' (API key)",
      .basic_user = 0, .check = pdns_check, .update = pdns_update },
    { .name = "custom", .proto = DDNS_CUSTOM, .presets = NULL,
      .required = DDNS_KEY_URL,
      .required_msg = "custom needs 'url'",
      .basic_user = 0, .check = custom_check, .update = custom_update },
};

const struct ddns_provider *ddns_provider_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(providers[i].name, name) == 0)
            return &providers[i];
    return NULL;
}

const struct ddns_provider *ddns_provider_of(const struct ddns_cfg *d)
{
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
        if (providers[i].proto == d->proto)
            return &providers[i];
    return &providers[0];
}

enum ddns_proto ddns_provider_proto(const struct ddns_provider *p) { return p->proto; }
const char *ddns_provider_name(const struct ddns_provider *p) { return p->name; }
int ddns_provider_has_presets(const struct ddns_provider *p) { return p->presets != NULL; }

const char *ddns_provider_preset(const struct ddns_provider *p, const char *preset)
{
    for (const struct ddns_preset *x = p->presets; x && x->name; x++)
        if (strcmp(x->name, preset) == 0)
            return x->url;
    return NULL;
}

const char *ddns_provider_missing(const struct ddns_provider *p, const struct ddns_cfg *d)
{
    const struct { unsigned bit; const char *v; } keys[] = {
        { DDNS_KEY_SERVER, d->server }, { DDNS_KEY_USERNAME, d->username },
        { DDNS_KEY_PASSWORD_FILE, d->password_file }, { DDNS_KEY_ZONE, d->zone },
        { DDNS_KEY_URL, d->url },
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if ((p->required & keys[i].bit) && !keys[i].v)
            return p->required_msg;
    return NULL;
}

const char *ddns_provider_list(void)
{
    static char list[128];
    if (!list[0]) {
        size_t n = sizeof providers / sizeof providers[0], l = 0;
        for (size_t i = 0; i < n && l < sizeof list; i++)
            l += (size_t)snprintf(list + l, sizeof list - l, "%s%s",
                                  i == 0 ? "" : i + 1 == n ? " or " : ", ", providers[i].name);
    }
    return list;
}
