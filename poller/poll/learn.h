/* SPDX-License-Identifier: ISC */
/* learn.h — what a relay showed about itself, kept across polls in
 * STATE_DIR/learned.json: how many ETRNs one session took before a limit,
 * a tarpit or a drop appeared (the next poll reconnects before that), and
 * where the last poll stopped when its deadline cut it (the next poll starts
 * there, so no node is starved), and whether a pipelined group of ETRNs got
 * a reply out of shape (later polls do not pipeline).  An entry is forgotten when the relay's
 * config section changes (relay_cfg.digest). */
#ifndef ETP_LEARN_H
#define ETP_LEARN_H
#include <stdio.h>
#include <stdint.h>
#include <json-c/json.h>
#include "conf/config.h"

#define LEARN_FILE "learned.json"

struct learned {
    int per_session;              /* commands a session took before the limit; 0 = none seen */
    char why[16];                 /* "limit", "tarpit", "drop" */
    char detail[200];             /* the reply or what was seen (printable) */
    int64_t seen;                 /* wall clock of the observation */
    int next_start;               /* first node (config index) not reached last poll; 0 = none */
    char no_pipelining[120];      /* why pipelined ETRN must not be tried again (a reply out of
                                     shape in a group, printable); "" = nothing seen */
};

/* Read relay `name`'s entry out of a parsed learned.json (any shape: a
 * damaged or hostile file gives "nothing learned").  Returns 1 if an entry
 * with this digest was found, else 0 (and *out is zeroed). */
int learn_from_json(json_object *root, const char *name, const char *digest, struct learned *out);
/* The same over raw bytes (bounded: at most 1 MiB), for the fuzz target. */
int learn_parse(const char *buf, size_t len, const char *name, const char *digest, struct learned *out);
void learn_load(const struct etp_config *cfg, const struct relay_cfg *rc, struct learned *out);
/* Record a limit seen in this poll: keeps the smaller of the old and new. */
void learn_note(struct learned *lr, int per_session, const char *why, const char *detail);
/* Record that a pipelined group got a reply out of shape (etrn-pipelining):
 * later polls send one ETRN at a time. */
void learn_no_pipelining(struct learned *lr, const char *detail);
/* Write this relay's entry (entries of relays no longer configured are dropped). */
int learn_save(const struct etp_config *cfg, const struct relay_cfg *rc, const struct learned *lr);
/* Commands per session to use: the smaller of max-etrn-per-session and the
 * learned value (0 = unlimited). */
int learn_budget(const struct relay_cfg *rc, const struct learned *lr);
/* `etrnpoll status` lines: per relay, the learned limit and why. */
void learn_status(FILE *out, const struct etp_config *cfg);
#endif
