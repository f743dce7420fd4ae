/* quote.c — find the opening quote of an unclosed string in a configuration
 * text (see quote.h). */
#include "conf/quote.h"

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
