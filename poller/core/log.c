/* log.c — stderr/syslog logging with secret redaction. */
#include "conf/config.h"
#include "core/log.h"
#include "core/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECRETS 32
#define LINE_MAX_LOG 2048

static int g_dest = LOG_TO_STDERR;
static int g_level = LOG_INFO;
static int g_transcript;
static char g_prefix[64];
static char *g_secrets[MAX_SECRETS];
static int g_nsecrets;

void log_init(const char *ident, int dest, int level)
{
    g_dest = dest;
    g_level = level;
    if (dest & LOG_TO_SYSLOG)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(int level) { g_level = level; }
int log_get_level(void) { return g_level; }
void log_set_transcript(int on) { g_transcript = on; }
int log_transcript_on(void) { return g_transcript; }

void log_set_prefix(const char *prefix)
{
    if (prefix)
        strlcpy_chk(g_prefix, prefix, sizeof g_prefix);
    else
        g_prefix[0] = '\0';
}

void log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 3 || g_nsecrets >= MAX_SECRETS)
        return;   /* a 1-2 char "secret" would blank out ordinary text */
    for (int i = 0; i < g_nsecrets; i++)
        if (strcmp(g_secrets[i], secret) == 0)
            return;
    g_secrets[g_nsecrets] = strdup(secret);
    if (g_secrets[g_nsecrets])
        g_nsecrets++;
}

void log_forget_secrets(void)
{
    for (int i = 0; i < g_nsecrets; i++) {
        secure_wipe(g_secrets[i], strlen(g_secrets[i]));
        free(g_secrets[i]);
        g_secrets[i] = NULL;
    }
    g_nsecrets = 0;
}

void log_redact(char *buf, size_t size)
{
    (void)size;
    for (int i = 0; i < g_nsecrets; i++) {
        size_t sl = strlen(g_secrets[i]);
        char *p = buf;
        while ((p = strstr(p, g_secrets[i])) != NULL) {
            memset(p, '*', sl);
            p += sl;
        }
    }
}

static const char *prio_name(int prio)
{
    switch (prio) {
    case LOG_ERR: return "error";
    case LOG_WARNING: return "warning";
    case LOG_NOTICE: return "notice";
    case LOG_INFO: return "info";
    case LOG_DEBUG: return "debug";
    default: return "log";
    }
}

static void emit(int prio, const char *msg)
{
    if (g_dest & LOG_TO_SYSLOG)
        syslog(prio, "%s", msg);
    if (g_dest & LOG_TO_STDERR)
        fprintf(stderr, "etrnpoll: %s: %s\n", prio_name(prio), msg);
}

void log_msg(int prio, const char *fmt, ...)
{
    if (prio > g_level)
        return;
    char buf[LINE_MAX_LOG];
    size_t off = 0;
    if (g_prefix[0])
        off = (size_t)snprintf(buf, sizeof buf, "%s: ", g_prefix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + off, sizeof buf - off, fmt, ap);
    va_end(ap);
    log_redact(buf, sizeof buf);
    emit(prio, buf);
}

void log_wire(char dir, const char *line, size_t len)
{
    if (!g_transcript)
        return;
    char pr[LINE_MAX_LOG - 128];
    printable(pr, sizeof pr, line, len);
    char buf[LINE_MAX_LOG];
    snprintf(buf, sizeof buf, "%s%s%c %s", g_prefix, g_prefix[0] ? ": " : "", dir, pr);
    log_redact(buf, sizeof buf);
    /* The transcript is for the operator at the terminal: stderr, never syslog. */
    fprintf(stderr, "%s\n", buf);
}
