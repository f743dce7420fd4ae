/* SPDX-License-Identifier: ISC */
/* log.c — stderr/syslog logging with secret redaction. */
#include "conf/config.h"
#include "core/log.h"
#include "core/util.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>

#define MAX_SECRETS 64          /* forms: a secret and its escaped/encoded variants */
#define LINE_MAX_LOG 2048       /* one log line as emitted */
#define LOG_FORMAT_MAX 65536    /* a message is formatted (and redacted) whole up to this */

static int g_dest = LOG_TO_STDERR;
static int g_level = LOG_INFO;
static int g_transcript;
/* per thread: relays are polled in threads of their own (poll/cycle.c) */
static _Thread_local char g_prefix[64];

static void key_init(void);

void log_init(const char *ident, int dest, int level)
{
    /* the redactor's key now, before any secret is read: its first
     * getrandom() call goes through the lazy PLT resolver, which saves the
     * vector registers on the stack — after a secret was copied they can
     * hold pieces of it (seen: 2 x 32 bytes of the password left on the
     * stack after AUTH) */
    key_init();
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

/* The redactor keeps no copy of any secret: per registered form only its
 * length, 16 bits of a rolling hash (to find candidate windows cheaply) and
 * a SipHash-2-4 MAC under a per-process random key (to confirm them).  A
 * window of the log text with the same length and MAC is masked.  A false
 * match only masks innocent text. */
struct secret_fp {
    size_t len;
    uint16_t roll;
    uint64_t mac;
};
static struct secret_fp g_fp[MAX_SECRETS];
static int g_nfp;
static uint64_t g_key[2];
static uint32_t g_base;         /* rolling-hash base (random, odd) */
static int g_keyed;
/* the registry is shared by the relays' threads: one lock around every
 * reader and writer (never held while logging) */
static pthread_mutex_t g_fp_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_fp_full;           /* a form did not fit: warn once, outside the lock */

static void key_init(void)
{
    if (g_keyed)
        return;
    unsigned char k[20];
    if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k) {
        /* no entropy: a fixed key still redacts correctly, only the MACs
         * become guessable offline (as with any hash of a password) */
        memset(k, 0x5a, sizeof k);
    }
    memcpy(&g_key[0], k, 8);
    memcpy(&g_key[1], k + 8, 8);
    memcpy(&g_base, k + 16, 4);
    g_base |= 1;
    secure_wipe(k, sizeof k);
    g_keyed = 1;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); } while (0)

static uint64_t siphash24(const unsigned char *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ g_key[0], v1 = 0x646f72616e646f6dULL ^ g_key[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ g_key[0], v3 = 0x7465646279746573ULL ^ g_key[1];
    uint64_t b = (uint64_t)len << 56, m;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        m = 0;
        for (int k = 7; k >= 0; k--)
            m = m << 8 | in[i + (size_t)k];
        v3 ^= m;
        SIPROUND; SIPROUND;
        v0 ^= m;
    }
    for (size_t k = 0; i + k < len; k++)
        b |= (uint64_t)in[i + k] << (8 * k);
    v3 ^= b;
    SIPROUND; SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t roll_of(const unsigned char *p, size_t len)
{
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * g_base + p[i];
    return h;
}

static void add_form(const unsigned char *p, size_t len)
{
    if (len < 3)
        return;   /* a 1-2 char "secret" would blank out ordinary text */
    uint64_t mac = siphash24(p, len);
    for (int i = 0; i < g_nfp; i++)
        if (g_fp[i].len == len && g_fp[i].mac == mac)
            return;
    if (g_nfp >= MAX_SECRETS) {
        if (!g_fp_full)
            g_fp_full = 1;
        return;
    }
    g_fp[g_nfp].len = len;
    g_fp[g_nfp].roll = (uint16_t)(roll_of(p, len) >> 16);
    g_fp[g_nfp].mac = mac;
    g_nfp++;
}

void log_add_secret(const char *secret)
{
    if (!secret)
        return;
    pthread_mutex_lock(&g_fp_mu);
    int was_full = g_fp_full;
    key_init();
    size_t n = strlen(secret);
    add_form((const unsigned char *)secret, n);
    /* ... and as it reads after printable() (callers escape untrusted text
     * before it reaches a message: a server echoing the secret) */
    size_t esz = n * 4 + 1;
    char *e = malloc(esz);
    if (e) {
        printable(e, esz, secret, n);
        size_t el = strlen(e);
        if (el != n)
            add_form((const unsigned char *)e, el);
        secure_wipe(e, esz);
        free(e);
    }
    int now_full = g_fp_full;
    pthread_mutex_unlock(&g_fp_mu);
    if (now_full && !was_full)
        log_warn("too many secrets to redact (%d); later ones are not masked in logs", MAX_SECRETS);
}

void log_forget_secrets(void)
{
    pthread_mutex_lock(&g_fp_mu);
    secure_wipe(g_fp, sizeof g_fp);
    g_nfp = 0;
    secure_wipe(g_key, sizeof g_key);
    secure_wipe(&g_base, sizeof g_base);
    g_keyed = 0;
    g_fp_full = 0;
    pthread_mutex_unlock(&g_fp_mu);
}

int log_secret_count(void)
{
    pthread_mutex_lock(&g_fp_mu);
    int n = g_nfp;
    pthread_mutex_unlock(&g_fp_mu);
    return n;
}

static void redact_locked(char *buf, size_t n);

/* Mask every registered form in buf[0..n) (any bytes, NULs included). */
void log_redact_mem(char *buf, size_t n)
{
    pthread_mutex_lock(&g_fp_mu);
    redact_locked(buf, n);
    pthread_mutex_unlock(&g_fp_mu);
}

static void redact_locked(char *buf, size_t n)
{
    if (g_nfp == 0 || n < 3)
        return;
    const unsigned char *u = (const unsigned char *)buf;
    unsigned char *mark = calloc(n, 1);
    size_t done_len[MAX_SECRETS];
    int ndone = 0;
    for (int f = 0; f < g_nfp; f++) {
        size_t L = g_fp[f].len;
        int seen = 0;
        for (int k = 0; k < ndone; k++)
            seen |= done_len[k] == L;
        if (seen || L > n)
            continue;
        done_len[ndone++] = L;
        uint32_t pw = 1;                 /* g_base^(L-1) */
        for (size_t k = 1; k < L; k++)
            pw *= g_base;
        uint32_t h = roll_of(u, L);
        for (size_t i = 0;; i++) {
            uint16_t top = (uint16_t)(h >> 16);
            for (int g = f; g < g_nfp; g++) {
                if (g_fp[g].len != L || g_fp[g].roll != top)
                    continue;
                if (siphash24(u + i, L) == g_fp[g].mac) {
                    if (mark)
                        memset(mark + i, 1, L);
                    else
                        memset(buf + i, '*', L);  /* no memory: mask at once */
                }
            }
            if (i + L >= n)
                break;
            h = (h - u[i] * pw) * g_base + u[i + L];
        }
    }
    if (mark) {
        for (size_t i = 0; i < n; i++)
            if (mark[i])
                buf[i] = '*';
        free(mark);
    }
}

void log_redact(char *buf, size_t size)
{
    log_redact_mem(buf, strnlen(buf, size));
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
    /* Format the whole message, redact it, and only then cut it to the line
     * limit: a secret straddling the cut is masked like any other. */
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t plen = g_prefix[0] ? strlen(g_prefix) + 2 : 0;
    size_t cap = (need > 0 ? (size_t)need : 0) + 1;
    if (cap > LOG_FORMAT_MAX)
        cap = LOG_FORMAT_MAX;
    char small[LINE_MAX_LOG];
    char *big = malloc(plen + cap);
    char *b = big ? big : small;
    size_t bsz = big ? plen + cap : sizeof small;
    size_t off = 0;
    if (plen)
        off = (size_t)snprintf(b, bsz, "%s: ", g_prefix);
    vsnprintf(b + off, bsz - off, fmt, ap2);
    va_end(ap2);
    size_t len = strlen(b);
    log_redact_mem(b, len);
    if (!big && need >= 0 && (size_t)need + off >= bsz) {
        /* out of memory and cut: the tail may hold the start of a secret */
        size_t maxl = 0;
        pthread_mutex_lock(&g_fp_mu);
        for (int i = 0; i < g_nfp; i++)
            if (g_fp[i].len > maxl)
                maxl = g_fp[i].len;
        pthread_mutex_unlock(&g_fp_mu);
        size_t from = len > maxl ? len - maxl : 0;
        memset(b + from, '*', len - from);
    }
    char line[LINE_MAX_LOG];
    snprintf(line, sizeof line, "%s", b);
    secure_wipe(b, bsz);
    free(big);
    emit(prio, line);
}

void log_wire(char dir, const char *line, size_t len)
{
    if (!g_transcript)
        return;
    /* Redact the raw bytes first, then escape (a secret with a backslash,
     * control or non-ASCII byte no longer matches once escaped), then mask
     * escaped forms too, then cut to the line limit. */
    char *raw = malloc(len + 1);
    size_t psz = len * 4 + 1;
    char *pr = malloc(psz);
    char buf[LINE_MAX_LOG];
    if (!raw || !pr) {
        free(raw);
        free(pr);
        fprintf(stderr, "%s%s%c (line of %zu bytes not shown: out of memory)\n", g_prefix,
                g_prefix[0] ? ": " : "", dir, len);
        return;
    }
    memcpy(raw, line, len);
    raw[len] = '\0';
    log_redact_mem(raw, len);
    printable(pr, psz, raw, len);
    log_redact_mem(pr, strlen(pr));
    snprintf(buf, sizeof buf, "%s%s%c %s", g_prefix, g_prefix[0] ? ": " : "", dir, pr);
    secure_wipe(raw, len + 1);
    secure_wipe(pr, psz);
    free(raw);
    free(pr);
    /* The transcript is for the operator at the terminal: stderr, never syslog. */
    fprintf(stderr, "%s\n", buf);
}
