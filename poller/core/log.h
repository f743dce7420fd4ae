/* SPDX-License-Identifier: ISC */
/* log.h — logging to stderr and/or syslog, with redaction of secrets.
 *
 * Every message passes through the redactor: any registered secret, in the
 * form registered (callers register their URL/JSON/Basic forms too) and as
 * printable() renders it, is replaced by asterisks before the line leaves
 * the process — in the raw bytes before escaping, and in the whole message
 * before it is cut to the line limit.  AUTH payloads are never logged. */
#ifndef ETP_LOG_H
#define ETP_LOG_H
#include <stddef.h>
#include <syslog.h>

enum log_dest { LOG_TO_STDERR = 1, LOG_TO_SYSLOG = 2 };

void log_init(const char *ident, int dest, int level);
void log_set_level(int level);      /* LOG_ERR .. LOG_DEBUG */
int log_get_level(void);
void log_set_transcript(int on);    /* -v: SMTP protocol transcript */
int log_transcript_on(void);
void log_set_prefix(const char *prefix); /* e.g. relay name; NULL clears */

/* Register a secret (>= 3 bytes) to be masked in every later log line.  No
 * copy is kept: only its length and keyed hashes (SipHash-2-4 under a
 * per-process random key); log_forget_secrets() wipes them and the key. */
void log_add_secret(const char *secret);
void log_forget_secrets(void);
int log_secret_count(void);         /* registered forms (tests) */

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)

/* Protocol transcript line (only with -v). dir: '>' sent, '<' received.
 * Untrusted bytes are rendered printable. */
void log_wire(char dir, const char *line, size_t len);

/* Redact in place: replace registered secrets by asterisks. */
void log_redact(char *buf, size_t size);          /* NUL-terminated, within size */
void log_redact_mem(char *buf, size_t n);         /* n bytes, any content */
#endif
