/* SPDX-License-Identifier: ISC */
/* quote.c — find the opening quote of an unclosed string in a configuration
 * text (see quote.h). */
#include "conf/quote.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conf_open_quote_line(const char *t, size_t n, int errline)
{
    int line = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (ch == '\n') {
            line++;
        } else if (ch == '#' || (ch == '/' && i + 1 < n && t[i + 1] == '/')) {
            while (i + 1 < n && t[i + 1] != '\n')
                i++;
        } else if (ch == '/' && i + 1 < n && t[i + 1] == '*') {
            for (i += 2; i + 1 < n && !(t[i] == '*' && t[i + 1] == '/'); i++)
                line += t[i] == '\n';
            i++;
        } else if (ch == '"' || ch == '\'') {
            int start = line;
            for (i++; i < n && t[i] != ch; i++) {
                if (t[i] == '\\' && i + 1 < n)
                    i++;
                line += t[i] == '\n';
            }
            /* not closed at all, or a multi-line string that ends where
             * (or just before) libconfuse complained: its quote is missing */
            if (i >= n || (line > start && (errline == 0 || (start < errline && errline <= line + 1))))
                return start;
        }
    }
    return 0;
}

int conf_quote_hint(char *buf, size_t *len, size_t size, const char *file, const char *text, size_t n)
{
    /* the line of libconfuse's first "file:LINE: ..." message */
    int errline = 0;
    size_t fl = strlen(file);
    if (*len > fl && strncmp(buf, file, fl) == 0 && buf[fl] == ':')
        errline = atoi(buf + fl + 1);
    int qline = text ? conf_open_quote_line(text, n, errline) : 0;
    if (!qline || size < 2)
        return 0;
    char first[400];
    int k = snprintf(first, sizeof first, "%s:%d: a quoted string starts here and is not closed on "
                     "this line: add the missing quote (the messages below follow from it)\n",
                     file, qline);
    if (k <= 0 || (size_t)k >= size)
        return 0;
    size_t keep = *len;
    if (keep + (size_t)k >= size)
        keep = size - (size_t)k - 1;
    memmove(buf + k, buf, keep);
    memcpy(buf, first, (size_t)k);
    *len = keep + (size_t)k;
    buf[*len] = '\0';
    return 1;
}
