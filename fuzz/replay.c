/* SPDX-License-Identifier: ISC */
/* replay.c — run a fuzz target's LLVMFuzzerTestOneInput() over files, without
 * libFuzzer: `make check` replays fuzz/corpus/<target>/ and
 * fuzz/regress/<target>/ through every target (and under ASan+UBSan in the
 * --enable-sanitizers build), so a fixed finding stays fixed.
 *
 *   replay_<target> [FILE|DIR]...
 * Without arguments: $SRCDIR/fuzz/corpus/<target> and
 * $SRCDIR/fuzz/regress/<target>, <target> being the program's name after
 * "replay_" (SRCDIR defaults to the source tree this was built from).  Exit 0 if every input ran (a crash aborts the program),
 * 1 if an input could not be read or no input was found. */
#include "fuzz.h"
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int nrun, nerr;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        nerr++;
        return;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        if (!buf)
            abort();
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    /* an exact-size copy, so ASan catches reads past the end */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact)
        abort();
    memcpy(exact, buf, len);
    free(buf);
    if (getenv("REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    nrun++;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path, int must_exist)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (must_exist) {
            fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
            nerr++;
        }
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        nerr++;
        return;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        if (!names)
            abort();
        size_t l = strlen(path) + strlen(de->d_name) + 2;
        names[nn] = malloc(l);
        if (!names[nn])
            abort();
        snprintf(names[nn], l, "%s/%s", path, de->d_name);
        nn++;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, cmp);
    for (size_t i = 0; i < nn; i++) {
        run_path(names[i], 1);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    const char *target = strncmp(base, "replay_", 7) == 0 ? base + 7 : "";
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_path(argv[i], 1);
    } else {
        if (!*target) {
            fprintf(stderr, "replay: run as replay_<target> (this is %s), or name the inputs\n", base);
            return 1;
        }
        const char *src = getenv("SRCDIR");
        if (!src || !*src)
            src = FUZZ_SRCDIR;
        char p[4096];
        snprintf(p, sizeof p, "%s/fuzz/corpus/%s", src, target);
        run_path(p, 1);
        snprintf(p, sizeof p, "%s/fuzz/regress/%s", src, target);
        run_path(p, 0);
    }
    printf("replay %s: %d inputs, %d unreadable\n", *target ? target : base, nrun, nerr);
    return (nerr || nrun == 0) ? 1 : 0;
}
