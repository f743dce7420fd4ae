#!/bin/sh
# SPDX-License-Identifier: ISC
# musl-check.sh — every C file under poller/ (and the generated
# poller/conf/schema.c) must compile against musl's C library headers
# (musl-gcc -fsyntax-only), so that the sources stay portable to musl
# systems (OpenWrt, Alpine).  The third-party library headers (GnuTLS,
# libcurl, GNU SASL, libconfuse, libnl-3, json-c) and the Linux UAPI headers
# come from the Debian -dev packages through a private include dir that
# holds ONLY them: glibc's /usr/include never enters the search path, so a
# glibc-only declaration (res_ninit, close_range, ...) is an error here.
#   sh tests/musl-check.sh [BUILDDIR]   (default: build; needs etp_build.h from ./configure)
# Needs musl-tools (apt-get install musl-tools; tests/install-deps.sh installs it).
# Prints one ok/FAIL line per file and "N passed, N failed".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "FAIL: musl-gcc not found: apt-get install musl-tools (tests/install-deps.sh does)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -f "$build/etp_build.h" ]; then
    echo "FAIL: $build/etp_build.h not found: run ../configure in $build first" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
inc=$(mktemp -d /tmp/etrnpoll-musl.XXXXXX)
trap 'rm -rf "$inc"' EXIT INT TERM
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# Linux UAPI headers (musl ships none; Debian's musl-gcc expects linux-libc-dev's)
ln -s /usr/include/linux "$inc/linux"
ln -s /usr/include/asm-generic "$inc/asm-generic"
ln -s "/usr/include/$multiarch/asm" "$inc/asm"
# the libraries' own headers, nothing else from /usr/include
for h in /usr/include/gnutls /usr/include/gsasl*.h /usr/include/confuse.h /usr/include/json-c; do
    [ -e "$h" ] && ln -s "$h" "$inc/${h##*/}"
done
ln -s "/usr/include/$multiarch/curl" "$inc/curl"
extra=
for d in /usr/include/libnl3 /usr/include/json-c /usr/include/p11-kit-1; do
    [ -d "$d" ] && extra="$extra -I$d"
done

pass=0 fail=0 failed=
cd "$top"
# the generated sources too (Makefile.am's BUILT_SOURCES): poller/conf/schema.c
# as make wrote it in BUILDDIR, else as make would write it
files=$(find poller -name '*.c' ! -path poller/conf/schema.c | sort)
if [ -f "$build/poller/conf/schema.c" ]; then
    files="$files $build/poller/conf/schema.c"
else
    mkdir -p "$inc/gen/poller/conf"
    awk -f poller/conf/schema.awk poller/conf/schema.tab > "$inc/gen/poller/conf/schema.c"
    files="$files $inc/gen/poller/conf/schema.c"
fi
for f in $files; do
    # shellcheck disable=SC2086
    if out=$(musl-gcc -std=gnu11 -fsyntax-only -Werror=implicit-function-declaration \
            -Werror=implicit-int -include "$build/etp_build.h" -Ipoller -I"$inc" $extra \
            -DSYSCONFDIR='"/etc"' -DLOCALSTATEDIR='"/var"' -DRUNSTATEDIR='"/run"' \
            "$f" 2>&1); then
        echo "ok   - musl: $f"
        pass=$((pass+1))
    else
        echo "FAIL - musl: $f"
        printf '%s\n' "$out" | grep -E 'error' | head -10 | sed 's/^/    /'
        fail=$((fail+1)); failed="$failed $f"
    fi
done
[ -z "$failed" ] || echo "musl-check: these files do not compile against musl:$failed"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
