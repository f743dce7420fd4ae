# SPDX-License-Identifier: ISC
# common.sh — shared helpers for the integration tests (bash).
#   . "$SRCDIR/tests/lib/common.sh"
# Provides: SRCDIR, ETRNPOLL, PY, T (a temp dir removed on exit unless
# KEEP=1 or a check failed), need_root, on_exit, ok/bad/check, finish.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [ -z "${ETRNPOLL:-}" ]; then
    for c in "$SRCDIR/etrnpoll" "$SRCDIR/build/etrnpoll"; do
        [ -x "$c" ] && ETRNPOLL=$c && break
    done
fi
PY=/usr/bin/python3
. "$SRCDIR/tests/lib/isolate.sh"
LIB=$SRCDIR/tests/lib
. "$LIB/conf.sh"
. "$LIB/fake.sh"
TESTNAME=$(basename "$0" .sh)
_passed=0
_failed=0
_exit_cmds=()

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: $TESTNAME needs root (it starts real servers on loopback addresses); run the suite as root" >&2
        exit 77
    fi
}
need_binary() {
    if [ -z "${ETRNPOLL:-}" ] || [ ! -x "$ETRNPOLL" ]; then
        echo "FAIL: etrnpoll binary not found (set ETRNPOLL)" >&2
        exit 1
    fi
}

on_exit() { _exit_cmds+=("$*"); }
_run_exit() {
    local i
    for ((i=${#_exit_cmds[@]}-1; i>=0; i--)); do eval "${_exit_cmds[$i]}" >/dev/null 2>&1 || true; done
    if [ -n "${T:-}" ] && [ -d "$T" ]; then
        if [ "${KEEP:-0}" = 1 ] || [ $_failed -gt 0 ]; then
            echo "(test files kept in $T)" >&2
        else
            rm -rf "$T"
        fi
    fi
}
trap _run_exit EXIT
trap 'exit 1' INT TERM

T=$(mktemp -d "/tmp/etp-$TESTNAME.XXXXXX")
chmod 755 "$T"

ok()  { _passed=$((_passed+1)); echo "ok   - $*"; }
bad() { _failed=$((_failed+1)); echo "FAIL - $*"; }
# check "description" command...   (passes when the command succeeds)
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
# expect_exit CODE "description" command...
expect_exit() {
    local want=$1 d=$2; shift 2
    local rc=0
    "$@" || rc=$?
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc)"; else bad "$d (exit $rc, want $want)"; fi
}
# assert that file $2 contains (grep -E) $3 / does not contain
has()    { grep -qE -- "$2" "$1"; }
hasnot() { ! grep -qE -- "$2" "$1"; }
finish() {
    echo "$_passed passed, $_failed failed"
    [ $_failed -eq 0 ]
    exit $?
}
# wait_for SECONDS command...: poll every 0.05 s until the command succeeds
# traced STRACE-ARGS...: strace a program; under the sanitizer build with
# LeakSanitizer off for it (LSan cannot run under ptrace: it would end the
# program with a fatal error); ASan and UBSan stay on.  The same code paths
# run untraced, leak-checked, in other tests.
traced() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace "$@"; }
wait_for() {
    local secs=$1; shift
    local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while ! "$@"; do
        [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
        sleep 0.05
    done
}
# json VALUE-PATH FILE: print a value from a JSON file (python, stdlib)
json() { $PY -c 'import json,sys
v=json.load(open(sys.argv[2]))
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k)
print(v if not isinstance(v,bool) else str(v).lower())' "$1" "$2"; }
