/* SPDX-License-Identifier: ISC */
/* fuzz_quote.c — conf_open_quote_line(), the scanner that names the line of
 * an unclosed quote in a configuration file that libconfuse refused.
 * Input: byte 0 = errline (0..255), the rest = the file text.
 * Invariants: the answer is 0 or a line of the text (1..lines); that line
 * holds a quote character; a text without quotes gives 0; with or without
 * an error line the answer stays within the text; conf_quote_hint() keeps
 * any buffer terminated and within its size. */
#include "fuzz.h"
#include "conf/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int errline = data[0];
    const char *t = (const char *)data + 1;
    size_t n = size - 1;
    int lines = 1;
    int quotes = 0;
    for (size_t i = 0; i < n; i++) {
        lines += t[i] == '\n';
        quotes |= t[i] == '"' || t[i] == '\'';
    }
    int q = conf_open_quote_line(t, n, errline);
    FZ_CHECK(q >= 0 && q <= lines);
    if (!quotes)
        FZ_CHECK(q == 0);
    if (q > 0) {
        /* line q holds a quote character */
        int l = 1, seen = 0;
        for (size_t i = 0; i < n && l <= q; i++) {
            if (t[i] == '\n')
                l++;
            else if (l == q && (t[i] == '"' || t[i] == '\''))
                seen = 1;
        }
        FZ_CHECK(seen);
    }
    /* same text, no error line: still bounded */
    int q0 = conf_open_quote_line(t, n, 0);
    FZ_CHECK(q0 >= 0 && q0 <= lines);
    /* the hint in front of libconfuse's message, in buffers of any size */
    size_t sz = 2 + (size_t)(errline * 3);
    char *buf = malloc(sz);
    FZ_CHECK(buf != NULL);
    int m = snprintf(buf, sz, "f.conf:%d: no such option", errline);
    size_t len = m < 0 ? 0 : (size_t)m >= sz ? sz - 1 : (size_t)m;
    int added = conf_quote_hint(buf, &len, sz, "f.conf", t, n);
    FZ_CHECK(len < sz && buf[len] == '\0' && strlen(buf) == len);
    if (added)
        FZ_CHECK(strncmp(buf, "f.conf:", 7) == 0 && strstr(buf, "a quoted string starts here"));
    free(buf);
    return 0;
}
