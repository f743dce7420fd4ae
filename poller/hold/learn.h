/* SPDX-License-Identifier: ISC */
/* learn.h — what the hold learns about each relay across polls
 * (STATE_DIR/hold-learned.json): the addresses it delivers from (trust on
 * first use), how long after ETRN it connects back, the gaps it leaves
 * between delivery connections.  The parser and the arithmetic are pure
 * (unit-tested, fuzzed: fuzz/fuzz_hold_learn.c). */
#ifndef ETP_HOLD_LEARN_H
#define ETP_HOLD_LEARN_H
#include <stddef.h>
#include <stdint.h>
#include "hold/sm.h"

#define HOLD_LEARN_FILE        "hold-learned.json"
#define HOLD_LEARN_MAX_BYTES   65536   /* a larger file is refused */
#define HOLD_LEARN_MAX_RELAYS  16      /* CFG_MAX_RELAYS */
#define HOLD_LEARN_MAX_SOURCES 8       /* per relay, the most recent kept */
#define HOLD_LEARN_MAX_SAMPLES 8       /* per relay, the most recent kept */
#define HOLD_LEARN_NAME_MAX    64
/* The empty-poll bound: LEARN_FACTOR x the slowest first contact seen +
 * LEARN_SLACK_MS, at least LEARN_FLOOR_MS, at most hold.first-contact. */
#define HOLD_LEARN_FACTOR      3
#define HOLD_LEARN_SLACK_MS    2000
#define HOLD_LEARN_FLOOR_MS    5000
/* Consecutive empty polls after which "it stopped connecting back" is
 * worth a warning (and again every as many more). */
#define HOLD_LEARN_SILENT_POLLS 10

struct hold_source {
    int family;
    uint8_t addr[16];
    int64_t last_ms;              /* wall clock of the last delivery from it */
};

struct hold_learned {
    char relay[HOLD_LEARN_NAME_MAX];
    char config[17];              /* hex digest of the relay's config (hold_learn_id) */
    int nsources;
    struct hold_source sources[HOLD_LEARN_MAX_SOURCES];
    int ncontacts;                /* first contact after ETRN, ms, oldest first */
    int64_t contact_ms[HOLD_LEARN_MAX_SAMPLES];
    int ngaps;                    /* the longest gap of each poll with mail, ms */
    int64_t gap_ms[HOLD_LEARN_MAX_SAMPLES];
    int64_t polls_with_mail;
    int64_t empty_streak;         /* consecutive polls with nothing since the last mail */
    int64_t last_mail_ms;         /* wall clock of the last poll with mail; 0 never */
};

/* Parse the file's text (len bytes, need not be NUL-terminated).  Entries
 * are validated one by one; a bad entry is skipped (counted in *skipped),
 * never half-used.  Returns the number of entries stored (<= max), or -1
 * with a message in err if the text is not a learned-state document. */
int hold_learn_parse(const char *text, size_t len, struct hold_learned *out, size_t max,
                     int *skipped, char *err, size_t errsize);
/* The document for n entries: malloc'd NUL-terminated JSON, NULL if out of memory. */
char *hold_learn_format(const struct hold_learned *l, size_t n);

/* Digest (16 hex digits) of what makes learned data valid for a relay:
 * its host and port, and the hold's port, local-address and source. */
void hold_learn_id(const char *host, int port, int hold_port, const char *local_address,
                   const char *source, char out[17]);
/* The connect-back bound of one relay in ms, 0 if nothing is learned yet. */
int64_t hold_learn_bound(const struct hold_learned *l, int64_t first_contact_ms);
/* The slowest first contact seen, ms (-1 none). */
int64_t hold_learn_slowest(const struct hold_learned *l);
/* The longest gap seen, ms (0 none). */
int64_t hold_learn_gap(const struct hold_learned *l);
/* Is addr a learned delivery source of l? */
int hold_learn_has_source(const struct hold_learned *l, int family, const uint8_t *addr);
/* Record one poll: a poll with mail (first_contact_ms >= 0) adds the
 * sample, the gap and the sources (replacing the oldest when full); a
 * poll without mail counts the empty streak. */
void hold_learn_add_source(struct hold_learned *l, int family, const uint8_t *addr,
                           int64_t wall_ms);
void hold_learn_record(struct hold_learned *l, int64_t first_contact_ms, int64_t gap_ms,
                       int64_t wall_ms);
#endif
