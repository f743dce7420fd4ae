/* SPDX-License-Identifier: ISC */
/* etchosts.c — bounded hosts(5) lookup (see etchosts.h). */
#include "core/etchosts.h"
#include "core/netaddr.h"
#include "core/util.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN 253

const char *etchosts_file = ETCHOSTS_PATH;

/* Is tok[0..n) a host name hosts(5) may carry?  (A trailing dot is allowed.) */
static int name_ok(const char *tok, size_t n, char *out, size_t outsz)
{
    if (n == 0 || n > NAME_MAX_LEN + 1 || n >= outsz)
        return 0;
    memcpy(out, tok, n);
    out[n] = '\0';
    return netaddr_dns_name_invalid(out, NETADDR_DNS_TRAILING_DOT) == NULL;
}

/* Next whitespace-separated field of line[*pos..end): 1 and (start, n), 0 at the end. */
static int field(const char *line, size_t end, size_t *pos, const char **start, size_t *n)
{
    size_t p = *pos;
    while (p < end && (line[p] == ' ' || line[p] == '\t'))
        p++;
    if (p >= end)
        return 0;
    size_t s = p;
    while (p < end && line[p] != ' ' && line[p] != '\t')
        p++;
    *start = line + s;
    *n = p - s;
    *pos = p;
    return 1;
}

int etchosts_lookup(const char *buf, size_t len, const char *name, char *canon, size_t canonsz)
{
    if (canon && canonsz)
        canon[0] = '\0';
    if (!buf || !name || !name[0])
        return 0;
    int found = 0, dotted = 0;
    size_t i = 0;
    while (i < len) {
        size_t ls = i;
        while (i < len && buf[i] != '\n')
            i++;
        size_t le = i;                  /* line is buf[ls..le) */
        if (i < len)
            i++;
        if (le - ls > ETCHOSTS_LINE_MAX)
            continue;
        const char *hash = memchr(buf + ls, '#', le - ls);
        if (hash)
            le = (size_t)(hash - buf);
        if (le > ls && buf[le - 1] == '\r')
            le--;
        /* fields must not contain NUL or other control bytes */
        int bad = 0;
        for (size_t k = ls; k < le && !bad; k++)
            bad = (unsigned char)buf[k] < 0x20 && buf[k] != '\t';
        if (bad)
            continue;
        size_t pos = ls;
        const char *f;
        size_t fn;
        if (!field(buf, le, &pos, &f, &fn) || fn >= 64)
            continue;
        char addr[64];
        memcpy(addr, f, fn);
        addr[fn] = '\0';
        char *pct = strchr(addr, '%');  /* fe80::1%eth0 */
        if (pct)
            *pct = '\0';
        struct netaddr na;
        if (netaddr_parse(addr, &na, 0) < 0)
            continue;
        char first[NAME_MAX_LEN + 2] = "", nm[NAME_MAX_LEN + 2];
        int have_first = 0, match = 0;
        while (field(buf, le, &pos, &f, &fn)) {
            if (!name_ok(f, fn, nm, sizeof nm))
                continue;
            if (!have_first) {
                memcpy(first, nm, strlen(nm) + 1);
                have_first = 1;
            }
            if (netaddr_dns_name_eq(nm, name))
                match = 1;
        }
        if (!match)
            continue;
        size_t fl = strlen(first);
        if (fl && first[fl - 1] == '.')
            first[--fl] = '\0';
        int d = strchr(first, '.') != NULL;
        if (!found || (d && !dotted)) {
            if (canon && canonsz) {
                if (fl < canonsz)
                    memcpy(canon, first, fl + 1);
                else
                    canon[0] = '\0';
            }
            dotted = d;
        }
        found = 1;
        if (dotted)
            break;
    }
    return found;
}

char *etchosts_read(const char *path, size_t *len)
{
    /* a system file: a link (NixOS, some images) is followed; a FIFO or
     * device is refused without blocking */
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    return read_small_fd(fd, ETCHOSTS_MAX_BYTES, len);
}

int etchosts_lookup_file(const char *path, const char *name, char *canon, size_t canonsz)
{
    if (canon && canonsz)
        canon[0] = '\0';
    size_t len = 0;
    char *text = etchosts_read(path, &len);
    if (!text)
        return 0;
    int r = etchosts_lookup(text, len, name, canon, canonsz);
    free(text);
    return r;
}
