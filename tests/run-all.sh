#!/bin/sh
# SPDX-License-Identifier: ISC
# run-all.sh — the whole test suite, from a fresh Debian 12 machine:
# installs what is needed (apt-get, as root), builds, runs `make check`
# (unit tests + integration tests against real Postfix, PowerDNS, network
# namespaces), the musl syntax check, the SPDX check, the Debian package
# (built, installed, used, purged: tests/package.sh), then the same suite
# built with ASan+UBSan, the threaded parts with ThreadSanitizer, then
# distcheck.
#   sudo sh tests/run-all.sh            # everything
#   QUICK=1 sudo sh tests/run-all.sh    # skip the sanitizer build and distcheck
#   JOBS=2 sudo sh tests/run-all.sh     # tests at a time (default: 2 per core)
# The integration tests mostly wait (timers, servers, a simulated line), not
# compute, and each runs in namespaces of its own, so they run 2 per core.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
log() { printf '\n=== %s\n' "$*"; }
JOBS=${JOBS:-$(( $(nproc) * 2 ))}

log "dependencies (Debian packages)"
sh tests/install-deps.sh

log "build"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure -q; } && make -j2 >/dev/null)

status=0
summary=""
# run_suite DIR LABEL [make args]: make check in DIR; collect the counts
run_suite() {
    dir=$1 label=$2; shift 2
    log "make check ($label)"
    rc=0
    (cd "$dir" && make -j"$JOBS" check "$@") || rc=$?
    trs=$(find "$dir" -name '*.trs' -not -path '*/etrnpoll-*/*')
    if [ -f "$dir/test-suite.log" ]; then
        # print the log of every failing test, so CI output shows why
        for t in $(grep -lE '^:test-result: (FAIL|ERROR)' $trs 2>/dev/null); do
            printf '\n--- %s\n' "${t%.trs}.log"; tail -60 "${t%.trs}.log"
        done
        # and why anything was skipped
        for t in $(grep -l '^:test-result: SKIP' $trs 2>/dev/null); do
            printf 'SKIPPED %s: %s\n' "${t%.trs}" "$(grep -m1 -i skip "${t%.trs}.log")"
        done
    fi
    p=$(cat $trs /dev/null | grep -c '^:test-result: PASS' || true)
    f=$(cat $trs /dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)' || true)
    s=$(cat $trs /dev/null | grep -c '^:test-result: SKIP' || true)
    summary="$summary
$label: $p passed, $f failed, $s skipped"
    [ $rc = 0 ] || status=1
    [ "$f" = 0 ] || status=1
}

run_suite build "gcc build"

# run_stage LABEL COMMAND...: a check outside make check; its last
# "N passed, N failed" line goes into the summary (exit 77: skipped)
run_stage() {
    label=$1; shift
    log "$label"
    out=$(mktemp /tmp/etrnpoll-stage.XXXXXX)
    { rc=0; "$@" 2>&1 || rc=$?; echo $rc > "$out.rc"; } | tee "$out"
    rc=$(cat "$out.rc")
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    rm -f "$out" "$out.rc"
    case $rc in
        0)  line=${line:-1 passed, 0 failed} ;;
        77) line="0 passed, 0 failed, 1 skipped" ;;
        *)  status=1
            case ${line:-none} in *" 0 failed"*|none) line="0 passed, 1 failed (exit $rc)" ;; esac ;;
    esac
    summary="$summary
$label: $line"
}

# every poller/ file against musl's headers (portability)
run_stage "musl syntax check" sh tests/musl-check.sh build
# every source file has its SPDX line (sh tests/check-spdx.sh --fix adds them)
run_stage "SPDX headers" sh tests/check-spdx.sh
# the Debian package: built, lintian-clean, installed, a real poll, purged
run_stage "Debian package" bash tests/package.sh

if [ "${QUICK:-0}" != 1 ]; then
    log "sanitizer build (ASan+UBSan)"
    mkdir -p build-san
    (cd build-san && { [ -f Makefile ] || ../configure -q --enable-sanitizers; } && make -j2 >/dev/null)
    # Reports also from processes whose exit code no test looks at (daemon
    # children, killed polls) go to files, which are checked afterwards.
    SANLOG=$(mktemp -d /tmp/etrnpoll-sanlog.XXXXXX)
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}:log_path=$SANLOG/asan \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:log_path=$SANLOG/ubsan \
        run_suite build-san "sanitizers"
    if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$SANLOG"/* >/dev/null 2>&1; then
        cat "$SANLOG"/*
        summary="$summary
sanitizer reports: 0 passed, 1 failed"
        status=1
    else
        summary="$summary
sanitizer reports: 1 passed, 0 failed"
    fi
    rm -rf "$SANLOG"

    # relays are polled in threads (and an address refresh runs in one):
    # the tests that run several sessions, the address cache,
    # the DDNS overlap, the hold after the join, the redactor and the
    # daemon's poll child, built with ThreadSanitizer; any report fails
    log "ThreadSanitizer build"
    mkdir -p build-tsan
    (cd build-tsan && { [ -f Makefile ] || ../configure -q CFLAGS="-O1 -g -fsanitize=thread" \
        LDFLAGS=-fsanitize=thread; } && make -j2 >/dev/null)
    TSANLOG=$(mktemp -d /tmp/etrnpoll-tsanlog.XXXXXX)
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0}:log_path=$TSANLOG/tsan \
        run_suite build-tsan "thread sanitizer" TESTS="tests/poll-concurrent.sh tests/poll-dnscache.sh tests/ddns-powerdns.sh \
            tests/hold-postfix.sh tests/harden-secrets.sh tests/poll-relays.sh tests/link-daemon.sh"
    if grep -l 'WARNING: ThreadSanitizer' "$TSANLOG"/* >/dev/null 2>&1; then
        cat "$TSANLOG"/*
        summary="$summary
thread sanitizer reports: 0 passed, 1 failed"
        status=1
    else
        summary="$summary
thread sanitizer reports: 1 passed, 0 failed"
    fi
    rm -rf "$TSANLOG"

    log "make distcheck (tarball builds and its unit tests pass)"
    if (cd build && make -j2 distcheck TESTS='$(UNIT_TESTS) $(TREE_TESTS) $(FUZZ_REPLAY)' >distcheck.log 2>&1); then
        summary="$summary
distcheck: 1 passed, 0 failed"
    else
        tail -40 build/distcheck.log
        summary="$summary
distcheck: 0 passed, 1 failed"
        status=1
    fi
fi

log "summary"
echo "$summary" | sed '/^$/d'
# one closing line over everything
echo "$summary" | awk -F'[:,]' '/passed/ { for (i=2;i<=NF;i++) { split($i,a," "); if (a[2]=="passed") p+=a[1]; if (a[2]=="failed") f+=a[1]; if (a[2]=="skipped") s+=a[1] } }
    END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'
exit $status
