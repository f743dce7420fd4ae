/* SPDX-License-Identifier: ISC */
/* state.h — atomic JSON state files under the state dir (json-c).
 *
 * Files: last-poll.json (cycle + relays + nodes), ddns.json (ddns module),
 * hold.json (hold module), tls-<relay>.session (TLS resumption data).
 * Every write goes to a temporary file in the same directory, is fsync'd
 * and renamed over the old one: a crash or a full disk leaves the old
 * state intact. */
#ifndef ETP_STATE_H
#define ETP_STATE_H
#include <stddef.h>
#include <json-c/json.h>

/* Write obj as NAME in dir, atomically, mode 0600.  0 ok, -1 error (logged). */
int state_write_json(const char *dir, const char *name, json_object *obj);
/* Read NAME from dir; NULL if missing or unparsable (errno ENOENT if missing).
 * Never through a link; refuses (logged) a non-regular file, a file with
 * several hard links, and one owned by anyone but us, root or the dir's owner. */
json_object *state_read_json(const char *dir, const char *name);
/* Raw bytes, same atomic rules. */
int state_write_raw(const char *dir, const char *name, const void *data, size_t len);
void *state_read_raw(const char *dir, const char *name, size_t max, size_t *len);
/* Make sure the state dir exists (0700), is a directory (not a link) owned
 * by us or root, not writable by group or others, and writable by us: 0 ok,
 * -1 (logged, with the fix; the poll then exits 73). */
int state_dir_ready(const char *dir);
/* Remove every leftover temporary file (call with the poll lock held). */
void state_remove_stale_temps(const char *dir);

/* Parse buf[0..len) as one JSON document, nested at most depth deep and
 * at most max bytes long: the root, or NULL when it is longer, deeper or
 * not valid JSON (the caller then treats the data as absent). */
json_object *js_parse_bounded(const char *buf, size_t len, size_t max, int depth);
/* Small accessors for json-c objects (NULL/0 when absent or wrong type). */
const char *js_str(json_object *o, const char *key);
long long js_int(json_object *o, const char *key);
#endif
