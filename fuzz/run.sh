#!/bin/bash
# SPDX-License-Identifier: ISC
# fuzz/run.sh — build the libFuzzer targets with clang (ASan+UBSan, separate
# from the normal gcc build) and run each for a bounded time.
#
#   fuzz/run.sh [-j PARALLEL] [-r RUNS] [SECONDS] [TARGET...]
#       SECONDS   per target (default 60); TARGET names as in fuzz/fuzz_<t>.c
#                 (default: all of FUZZ_TARGETS in Makefile.am)
#       -j N      targets run N at a time (default 2: one per core)
#       -r RUNS   also stop a target after RUNS executions (-runs=)
#   make fuzz [FUZZ_SECONDS=N]     the same, from a build directory
#
# Build dir: $FUZZ_BUILDDIR (default SRCDIR/build-fuzz), configured with
#   CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined ..."
#   ../configure --enable-fuzzers
# Working corpora grow in BUILD/fuzz-work/<t>/corpus (seeded from
# fuzz/corpus/<t>/, never written back: minimise and copy by hand);
# crashes land in BUILD/fuzz-work/<t>/artifacts/.  Each target's libFuzzer
# log is BUILD/fuzz-work/<t>/log.  The summary lists per target: runs,
# seconds, execs/s, coverage (cov = edges, ft = features), corpus size and
# findings.  Exit 0 when no target found anything, 1 otherwise.
#
# A finding: reproduce with  BUILD/fuzz/fuzz_<t> ARTIFACT , fix it, copy the
# artifact to fuzz/regress/<t>/ (make check replays it through
# fuzz/replay_<t>, also in the sanitizer build).
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
B=${FUZZ_BUILDDIR:-$SRCDIR/build-fuzz}
PAR=2 RUNS=""
while getopts "j:r:" o; do
    case $o in
        j) PAR=$OPTARG ;;
        r) RUNS=$OPTARG ;;
        *) sed -n '2,14p' "$0" >&2; exit 64 ;;
    esac
done
shift $((OPTIND - 1))
SECS=60
case ${1:-} in ''|*[!0-9]*) ;; *) SECS=$1; shift ;; esac
TARGETS=("$@")
if [ ${#TARGETS[@]} = 0 ]; then
    read -r -a TARGETS <<< "$(sed -n 's/^FUZZ_TARGETS = //p' "$SRCDIR/Makefile.am")"
fi

CLANG=${CC:-}
case $CLANG in *clang*) ;; *) CLANG=$(command -v clang || command -v clang-14 || true) ;; esac
if [ -z "$CLANG" ]; then
    echo "fuzz/run.sh: clang not found (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi
FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
if [ ! -f "$B/Makefile" ]; then
    [ -x "$SRCDIR/configure" ] || (cd "$SRCDIR" && autoreconf -fi) || exit 1
    mkdir -p "$B"
    (cd "$B" && CC=$CLANG CFLAGS="$FLAGS" "$SRCDIR/configure" -q --enable-fuzzers) || {
        echo "fuzz/run.sh: configure failed in $B" >&2; exit 1; }
fi
bins=()
for t in "${TARGETS[@]}"; do bins+=("fuzz/fuzz_$t"); done
echo "== building ${#bins[@]} fuzz targets in $B"
make -C "$B" -s -j2 "${bins[@]}" >"$B/fuzz-build.log" 2>&1 || {
    tail -30 "$B/fuzz-build.log"; echo "fuzz/run.sh: build failed (log: $B/fuzz-build.log)" >&2; exit 1; }

W=$B/fuzz-work
run_one() {
    local t=$1 d=$W/$1
    mkdir -p "$d/corpus" "$d/artifacts"
    [ -d "$SRCDIR/fuzz/corpus/$t" ] && cp -n "$SRCDIR/fuzz/corpus/$t"/* "$d/corpus/" 2>/dev/null
    [ -d "$SRCDIR/fuzz/regress/$t" ] && cp -n "$SRCDIR/fuzz/regress/$t"/* "$d/corpus/" 2>/dev/null
    local dict=()
    [ -f "$SRCDIR/fuzz/dict/$t.dict" ] && dict=(-dict="$SRCDIR/fuzz/dict/$t.dict")
    local runs=()
    [ -n "$RUNS" ] && runs=(-runs="$RUNS")
    local t0=$(date +%s)
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$B/fuzz/fuzz_$t" "$d/corpus" "${dict[@]}" "${runs[@]}" -max_total_time="$SECS" \
        -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$d/artifacts/" > "$d/log" 2>&1
    echo $? > "$d/rc"
    echo $(( $(date +%s) - t0 )) > "$d/secs"
}
echo "== running ${#TARGETS[@]} targets, ${SECS}s each, $PAR at a time"
active=0
for t in "${TARGETS[@]}"; do
    rm -rf "$W/$t/artifacts" "$W/$t/rc"
    run_one "$t" &
    active=$((active + 1))
    if [ $active -ge "$PAR" ]; then wait -n; active=$((active - 1)); fi
done
wait

status=0
printf '%-14s %12s %6s %9s %6s %7s %7s  %s\n' target runs secs exec/s cov ft corpus findings
for t in "${TARGETS[@]}"; do
    d=$W/$t
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$d/log" | grep -E 'cov: ' | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(ls "$d/corpus" | wc -l)
    n=$(ls "$d/artifacts" 2>/dev/null | wc -l)
    rc=$(cat "$d/rc" 2>/dev/null || echo '?')
    what="none"
    if [ "$n" -gt 0 ] || [ "$rc" != 0 ]; then
        status=1
        what="$n artifact(s), rc $rc: $(grep -m1 -E 'ERROR: |invariant violated|runtime error' "$d/log" | cut -c1-100)"
    fi
    printf '%-14s %12s %6s %9s %6s %7s %7s  %s\n' "$t" "${runs:-?}" "$(cat "$d/secs" 2>/dev/null)" \
        "${eps:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$what"
done
[ $status = 0 ] || echo "findings: see $W/<target>/log and artifacts/" >&2
exit $status
