/* SPDX-License-Identifier: ISC */
/* internal.h — what the files of poller/conf/ share (not for other rooms). */
#ifndef ETP_CONF_INTERNAL_H
#define ETP_CONF_INTERNAL_H
#include "conf/config.h"
#include <confuse.h>
#include <stddef.h>

/* "file:line: message" lines collected while loading (config.c). */
struct errbuf {
    char *buf;
    size_t size, len;
    int count;
};
void eb_add(struct errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* strdup() that remembers a failure (g_oom): loading then fails with a clear
 * "out of memory" instead of leaving a NULL for later code. */
extern int g_oom;
char *sdup(const char *s);
/* strdup of a string option, NULL if unset. */
char *dupopt(cfg_t *sec, const char *name);
int getlist(cfg_t *sec, const char *name, char **out, int max, int *n,
            struct errbuf *eb, const char *file, int line);
int getint(cfg_t *sec, const char *name, long lo, long hi, struct errbuf *eb,
           const char *file, int line);
int v_oneof(cfg_t *cfg, cfg_opt_t *opt, const char *const *allowed);
/* The index in names of keyword option key's value.  Its validator
 * (v_oneof) has refused any other value while parsing, and a default is
 * one of the names. */
int conf_keyword(cfg_t *sec, const char *key, const char *const *names);

/* The option tables, generated from schema.tab into schema.c: the top
 * level, and the ddns sections' keys. */
extern cfg_opt_t top_opts[];
extern cfg_opt_t ddns_section_opts[];

/* The ddns sections (ddns_section.c). */
void ddns_section_validators(cfg_t *cfg);
void ddns_section_read(cfg_t *s, struct ddns_cfg *d, struct errbuf *eb, const char *file);
void ddns_section_free(struct ddns_cfg *d);
#endif
