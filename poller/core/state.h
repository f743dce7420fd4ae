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
/* Read NAME from dir; NULL if missing or unparsable (errno ENOENT if missing). */
json_object *state_read_json(const char *dir, const char *name);
/* Raw bytes, same atomic rules. */
int state_write_raw(const char *dir, const char *name, const void *data, size_t len);
void *state_read_raw(const char *dir, const char *name, size_t max, size_t *len);
/* Make sure the state dir exists (0700) and is writable: 0 ok, -1 (logged). */
int state_dir_ready(const char *dir);

/* Small accessors for json-c objects (NULL/0 when absent or wrong type). */
const char *js_str(json_object *o, const char *key);
long long js_int(json_object *o, const char *key);
#endif
