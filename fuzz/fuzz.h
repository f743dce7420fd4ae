/* SPDX-License-Identifier: ISC */
/* fuzz.h — shared helpers for the libFuzzer targets (fuzz/fuzz_*.c).
 *
 * Every target defines LLVMFuzzerTestOneInput().  It is linked either with
 * libFuzzer (clang -fsanitize=fuzzer, fuzz/run.sh) or with fuzz/replay.c, a
 * plain main() that `make check` uses to replay the seed corpus and the
 * regression inputs of fuzz/regress/<target>/ (gcc, no libFuzzer needed).
 *
 * FZ_CHECK(cond): an invariant of the code under test.  A violation aborts,
 * which libFuzzer records as a crash (and the replay driver as a failure). */
#ifndef ETP_FUZZ_H
#define ETP_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                        \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__,      \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* A NUL-terminated heap copy of the input (the exact size, so ASan sees an
 * overread of one byte past the terminator). */
static inline char *fz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Bytes that printable() may produce, plus the line separator '\n'. */
static inline int fz_is_printable_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\n' && (c < 0x20 || c > 0x7e))
            return 0;
    }
    return 1;
}

/* Input cursor: take bytes from the front of the fuzz input. */
struct fz_in {
    const uint8_t *p;
    size_t n;
};
static inline unsigned fz_u8(struct fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}
static inline unsigned fz_u16(struct fz_in *in)
{
    unsigned a = fz_u8(in);
    return a | (fz_u8(in) << 8);
}
#endif
