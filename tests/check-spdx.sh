#!/bin/sh
# SPDX-License-Identifier: ISC
# check-spdx.sh — every source file (code, scripts, build files, units,
# hooks, man pages, sample configs, the configuration schema
# poller/conf/schema.tab and its generator, debian/ scripts) carries
# "SPDX-License-Identifier: ISC" in its first 5 lines.  Data (fuzz corpora,
# dictionaries), prose (*.md, README, NEWS) and LICENSE itself are out of
# scope: debian/copyright and LICENSE cover them.
#   sh tests/check-spdx.sh          list the files without the line; exit 1 if any
#   sh tests/check-spdx.sh --fix    add the line (comment syntax by file type,
#                                   after a #! line), then check again
# Run from anywhere inside a git checkout; it checks the files git tracks.
set -eu
cd "$(dirname "$0")/.."
tag='SPDX-License-Identifier: ISC'
fix=0; [ "${1:-}" = --fix ] && fix=1

# comment STYLE for a file: c, hash, dnl, roff; empty = not a source file
style() {
    case $1 in
        fuzz/corpus/*|fuzz/regress/*|fuzz/dict/*) ;;
        *.md|README|NEWS|LICENSE|.gitignore|debian/changelog|debian/copyright|debian/compat) ;;
        debian/source/*|debian/control|debian/*.docs|debian/*.examples|debian/*.install|debian/*.dirs|debian/*.manpages|debian/*.links|debian/*.lintian-overrides) ;;
        *.c|*.h) echo c ;;
        configure.ac|*.m4) echo dnl ;;
        man/*.[1-8]) echo roff ;;
        *.sh|*.py|*.awk|*.tab|*.am|*.in|*.timer|*.service|*.conf|.ci/*|hooks/*|etc/*|debian/*|bench/*|tests/*|fuzz/*) echo hash ;;
        *) ;;
    esac
}

missing=0
for f in $(git ls-files); do
    [ -f "$f" ] || continue
    s=$(style "$f")
    [ -n "$s" ] || continue
    head -n 5 "$f" | grep -q "$tag" && continue
    if [ $fix = 1 ]; then
        case $s in
            c)    line="/* $tag */" ;;
            dnl)  line="dnl $tag" ;;
            roff) line=".\\\" $tag" ;;
            hash) line="# $tag" ;;
        esac
        tmp=$f.spdx.$$
        if head -n 1 "$f" | grep -q '^#!'; then
            { head -n 1 "$f"; printf '%s\n' "$line"; tail -n +2 "$f"; } > "$tmp"
        else
            { printf '%s\n' "$line"; cat "$f"; } > "$tmp"
        fi
        cat "$tmp" > "$f" && rm -f "$tmp"     # keeps the file's mode
        echo "added: $f"
    else
        echo "no SPDX line: $f"
        missing=$((missing+1))
    fi
done
if [ $fix = 1 ]; then exec sh "$0"; fi
if [ $missing -gt 0 ]; then
    echo "check-spdx: $missing file(s) without \"$tag\" in their first 5 lines (sh tests/check-spdx.sh --fix adds it)"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "check-spdx: every source file carries \"$tag\""
echo "1 passed, 0 failed"
