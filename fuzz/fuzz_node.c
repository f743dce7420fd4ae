/* SPDX-License-Identifier: ISC */
/* fuzz_node.c — ETRN node validation (node_invalid), the check between a
 * config value and an "ETRN <node>" command line.  Invariants: an accepted
 * node is 1..255 visible ASCII characters (so the command can carry no
 * CR/LF/space injection), has a non-empty name after '#'/'@', and an
 * address literal holds an address. */
#include "fuzz.h"
#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = fz_strdup(data, size);
    const char *why = node_invalid(s);
    size_t n = strlen(s);
    if (why) {
        FZ_CHECK(*why);
    } else {
        FZ_CHECK(n >= 1 && n <= CFG_NODE_MAX);
        for (size_t i = 0; i < n; i++)
            FZ_CHECK((unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f);
        if (s[0] == '#') {
            FZ_CHECK(n >= 2);
        } else {
            const char *p = s[0] == '@' ? s + 1 : s;
            FZ_CHECK(*p);
            if (*p == '[') {
                FZ_CHECK(s[n - 1] == ']');
                FZ_CHECK(strlen(p) >= 3);          /* "[x]": not empty */
            } else {
                FZ_CHECK(*p != '.' && *p != '-');
                FZ_CHECK(s[n - 1] != '.' && s[n - 1] != '-');
                FZ_CHECK(strstr(p, "..") == NULL);
            }
        }
        /* what session.c builds from it */
        char cmd[300];
        int l = snprintf(cmd, sizeof cmd, "ETRN %s", s);
        FZ_CHECK(l > 0 && (size_t)l < sizeof cmd);
        FZ_CHECK(!strpbrk(cmd + 5, " \r\n"));
    }
    free(s);
    return 0;
}
