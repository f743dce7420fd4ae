/* SPDX-License-Identifier: ISC */
/* reply.h — SMTP reply and EHLO capability parsing: pure functions over
 * byte buffers, no I/O (unit-tested and fuzzed).
 *
 * Limits (RFC 5321 4.5.3.1.5: a reply line is at most 512 octets incl. CRLF):
 * a line longer than REPLY_MAX_LINE or a reply of more than REPLY_MAX_LINES
 * lines is a protocol error, never a crash or an unbounded allocation. */
#ifndef ETP_REPLY_H
#define ETP_REPLY_H
#include <stddef.h>

#define REPLY_MAX_LINE   512      /* octets including CRLF */
#define REPLY_MAX_LINES  100
#define REPLY_TEXT_MAX   (REPLY_MAX_LINE * 8)  /* text kept for logging/classification */

#define CAPS_MAX_MECHS 16
struct smtp_caps {
    unsigned starttls:1, etrn:1, pipelining:1, enhanced:1, auth:1, eightbit:1, chunking:1;
    long size;                    /* SIZE value, -1 if not advertised or no value */
    char mechs[CAPS_MAX_MECHS][24]; /* AUTH mechanisms, upper-case, validated */
    int nmechs;
};
struct smtp_reply {
    int code;                     /* 3-digit code, 0 until the first line */
    char enh[16];                 /* RFC 3463 enhanced status "x.y.z" of the first line, or "" */
    int nlines;
    int complete;                 /* last line seen */
    size_t textlen;
    char text[REPLY_TEXT_MAX];    /* lines' texts (after "NNN-"/"NNN "), joined by '\n', printable */
    struct smtp_caps caps;        /* EHLO keywords of lines 2.. of a 250 reply, parsed
                                   * line by line as they arrive (text may be cut, caps not) */
};

enum reply_status {
    REPLY_MORE = 0,               /* line accepted, reply continues */
    REPLY_DONE = 1,               /* line accepted, reply complete */
    REPLY_BAD = -1,               /* malformed line (bad code, mixed codes, ...) */
    REPLY_TOOLONG = -2,           /* line over REPLY_MAX_LINE */
    REPLY_TOOMANY = -3,           /* more than REPLY_MAX_LINES */
};

void reply_init(struct smtp_reply *r);
/* Feed one line WITHOUT its CRLF (len octets, may contain NULs).
 * `reason` (optional) gets a static description on error. */
enum reply_status reply_feed(struct smtp_reply *r, const char *line, size_t len,
                             const char **reason);
/* Convenience: parse a whole buffer of CRLF-terminated lines; returns the
 * status after the last line consumed and sets *used. */
enum reply_status reply_parse_buf(struct smtp_reply *r, const char *buf, size_t len,
                                  size_t *used, const char **reason);
/* First line of text, for log lines (bounded, printable). */
const char *reply_first_line(const struct smtp_reply *r, char *out, size_t outsize);

/* The capabilities of a complete 250 EHLO reply (first line is the
 * greeting/domain), as reply_feed() parsed them line by line: every line
 * within the 100-line / 512-octet limits counts, however long the reply.  Unknown keywords are ignored; AUTH=LOGIN old form
 * accepted.  Returns 0, or -1 if r is not a 250 reply. */
int caps_parse(const struct smtp_reply *r, struct smtp_caps *caps);
int caps_has_mech(const struct smtp_caps *caps, const char *mech);
#endif
