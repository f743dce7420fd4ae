/* SPDX-License-Identifier: ISC */
/* quote.h — where did the unclosed string start?
 *
 * libconfuse lets a quoted string run over newlines, so a missing closing
 * quote is reported lines later, as whatever follows the next quote ("no
 * such option '/path'").  When parsing failed, config.c asks this scanner
 * for the string that is not closed on its own line (or not at all), read
 * with libconfuse's lexical rules (# and // comments, C comments, "..." and
 * '...' with backslash escapes), and names the line of its opening quote
 * first.  Pure and bounded (one pass over n bytes); fuzzed (fuzz_quote). */
#ifndef ETP_QUOTE_H
#define ETP_QUOTE_H
#include <stddef.h>
/* text: the configuration file (n bytes, NULs allowed); errline: the line
 * libconfuse's first error names (0 unknown).  Returns the 1-based line of
 * the opening quote of the first string that is never closed, or that runs
 * over a newline and ends at or just before errline; 0 if there is none. */
int conf_open_quote_line(const char *text, size_t n, int errline);
/* Put "file:LINE: a quoted string starts here ..." in front of the error
 * text buf (*len bytes used of size) when the scanner finds such a line;
 * errline is read from buf's first "file:LINE:" message.  1 if added. */
int conf_quote_hint(char *buf, size_t *len, size_t size, const char *file, const char *text, size_t n);
#endif
