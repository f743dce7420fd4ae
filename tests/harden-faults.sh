#!/bin/bash
# SPDX-License-Identifier: ISC
# harden-faults.sh — the poll under faults of the network and of the disk:
#   - relay unreachable: connection refused (fast), blackholed address
#     (connect time-out), a name with a blackholed and a working address
#     (the next address is tried), DNS failure (no name server answers)
#     -- the network cases in a pair of network namespaces of our own:
#     etp-hardc (the poller) routes TEST-NET-1 192.0.2.0/24 over a veth to
#     etp-hardb, which has forwarding off and silently drops it;
#   - state dir full (a 64 KiB tmpfs) or read-only (ro bind mount): the poll
#     still runs (ETRN is sent), exit 73 (etrnpoll(8)), the old state kept;
#   - killed mid-write: SIGKILL while stopped inside the state file's write()
#     and just before its rename() (an LD_PRELOAD shim stops it there), and
#     at random moments: last-poll.json always parses, never half-written;
#   - damaged state files (wrong types, truncated): `status` never crashes.
# Fake relays on 127.0.0.84 (hardening address plan, doc/HACKING.md).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
A=127.0.0.84
NSC=etp-hardc NSB=etp-hardb
"$LIB/mkca.sh" "$T/ca" $A relay.harden.test >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"
# An ASan build refuses to run after an LD_PRELOAD library unless told.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:verify_asan_link_order=0

# fake NAME SCENARIO [netns] -- [options]: sets FPORT FTRANS FPID
fake() {
    local name=$1 scen=$2 ns=${3:-}; shift 3 2>/dev/null || shift $#
    [ "${1:-}" = -- ] && shift
    FAKE_NS=$ns FAKE_ADDR=$A fake_start "$name" "$scen" "$@"
}
fstop() { fake_stop; }
# conf NAME HOST STATEDIR [relay lines...]
conf() {
    local name=$1 host=$2 sd=$3; shift 3
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$sd\"" \
        'timeouts { connect = 2 greeting = 5 command = 5 etrn = 5 tls = 5 quit = 2 }' \
        -s "relay fake" -r "$host" "$T/ca/ca.pem" etrn "$T/pw" "port = ${FPORT:-25}" \
        "tls-name = \"$A\"" -d a.test -- "$@"
}
# poll NAME WANT DESC CONF MAXMS [netns]
poll() {
    local name=$1 want=$2 d=$3 conf=$4 max=$5 ns=${6:-}
    local pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    local t0=$(date +%s%N) rc=0
    timeout 60 "${pre[@]}" "$ETRNPOLL" -c "$conf" -v poll --no-hold > "$T/$name.out" 2> "$T/$name.err" || rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc, $ms ms)"; else bad "$d (exit $rc, want $want, $ms ms)"; tail -5 "$T/$name.err"; fi
    [ "$ms" -le "$max" ] || bad "$d: took $ms ms (limit $max)"
    LAST_MS=$ms
}
st() { json "$1" "$2/last-poll.json"; }

# --- 1. connection refused -------------------------------------------------------
FPORT=1
C=$(conf refused $A "$T/state-refused")
poll refused 75 "relay refuses the connection: temporary" "$C" 3000
check "refused: stage recorded in the state" [ "$(st relays.0.stage "$T/state-refused")" = connect ]
check "refused: error recorded in the state" grep -q 'Connection refused' <<< "$(st relays.0.error "$T/state-refused")"
check "refused: node not attempted" [ "$(st relays.0.nodes.0.result "$T/state-refused")" = not-attempted ]

# --- 2. blackhole, fallback address, DNS failure (network namespaces) ------------
cleanup_ns() {
    ip netns del $NSC 2>/dev/null; ip netns del $NSB 2>/dev/null
    rm -rf /etc/netns/$NSC
}
cleanup_ns
on_exit cleanup_ns
if ! { ip netns add $NSC && ip netns add $NSB &&
       ip link add etp-hardc0 netns $NSC type veth peer name etp-hardb0 netns $NSB &&
       ip -n $NSC link set lo up && ip -n $NSB link set lo up &&
       ip -n $NSC addr add 198.51.100.1/30 dev etp-hardc0 && ip -n $NSC link set etp-hardc0 up &&
       ip -n $NSB addr add 198.51.100.2/30 dev etp-hardb0 && ip -n $NSB link set etp-hardb0 up &&
       ip netns exec $NSB sysctl -qw net.ipv4.ip_forward=0 &&
       ip -n $NSC route add 192.0.2.0/24 via 198.51.100.2; }; then
    bad "network namespaces $NSC/$NSB could not be set up (ip netns, veth)"
else
    ok "namespaces $NSC (poller) and $NSB (drops 192.0.2.0/24) set up"
    # per-namespace resolver files (ip netns exec bind-mounts /etc/netns/NAME/*):
    # relay.harden.test = blackholed 192.0.2.84, then the working 127.0.0.84;
    # gai.conf ranks 192.0.2.0/24 first so the blackhole is tried first;
    # the name server 127.0.0.53 does not exist in the namespace (DNS fails fast).
    mkdir -p /etc/netns/$NSC
    printf '127.0.0.1 localhost\n192.0.2.84 relay.harden.test\n127.0.0.84 relay.harden.test\n' > /etc/netns/$NSC/hosts
    printf 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n' > /etc/netns/$NSC/resolv.conf
    printf 'precedence ::ffff:192.0.2.0/120 100\nprecedence ::1/128 50\nprecedence ::/0 40\nprecedence 2002::/16 30\nprecedence ::/96 20\nprecedence ::ffff:0:0/96 10\n' > /etc/netns/$NSC/gai.conf
    printf 'multi on\n' > /etc/netns/$NSC/host.conf

    fake ns normal $NSC --
    C=$(conf blackhole 192.0.2.84 "$T/state-bh")
    poll blackhole 75 "blackholed relay: connect time-out (2 s), temporary" "$C" 5000 $NSC
    [ "$LAST_MS" -ge 1900 ] && ok "blackhole: waited for the connect time-out ($LAST_MS ms)" || bad "blackhole: returned after $LAST_MS ms, before the 2 s time-out"
    check "blackhole: says timed out" has "$T/blackhole.err" 'timed out'
    check "blackhole: the drop really happened in $NSB" [ "$(ip netns exec $NSB cat /proc/net/snmp | awk '/^Ip:/ {n++} n==2 {print $6; exit}')" -gt 0 ]

    C=$(conf fallback relay.harden.test "$T/state-fb")
    poll fallback 0 "name with a blackholed and a working address: the next one is used" "$C" 6000 $NSC
    check "fallback: the blackholed address was tried first" has "$T/fallback.err" 'connect to \[192\.0\.2\.84\]:[0-9]+ failed: Connection timed out'
    check "fallback: ETRN sent over the second address" has "$FTRANS" '^#1 T ETRN a\.test'
    fstop

    C=$(conf dns no-such-relay.harden.test "$T/state-dns")
    poll dns 75 "relay name cannot be resolved (no name server): temporary" "$C" 8000 $NSC
    check "dns: says it cannot resolve the name" has "$T/dns.err" 'cannot resolve no-such-relay\.harden\.test'
    check "dns: recorded in the state" grep -q 'cannot resolve' <<< "$(st relays.0.error "$T/state-dns")"
fi

# --- 3. state dir full / read-only --------------------------------------------------
fake disk etrn-codes "" -- --etrn-reply 'b.test=458'
FULL=$T/state-full
mkdir -p "$FULL"
mount -t tmpfs -o size=64k,mode=0700 etp-harden-full "$FULL" && on_exit "umount -l '$FULL'"
C=$(conf full $A "$FULL")
poll full-1 0 "full: first poll records its state" "$C" 5000
cp "$FULL/last-poll.json" "$T/full-before.json"
dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null
check "full: the tmpfs is full" bash -c "! dd if=/dev/zero of='$FULL/more' bs=1k count=1 2>/dev/null; rm -f '$FULL/more'"
sed -i 's/domains = { "a.test" }/domains = { "b.test" }/' "$C"
poll full-2 73 "full: poll still runs, exit 73 (results not recorded)" "$C" 5000
check "full: ETRN was still sent" [ "$(grep -c ' ETRN b.test' "$FTRANS")" = 1 ]
check "full: the error is reported" has "$T/full-2.err" 'could not record the results'
check "full: the old state is intact" cmp -s "$T/full-before.json" "$FULL/last-poll.json"
check "full: no temporary file left behind" bash -c "! ls -a '$FULL' | grep -q '\\.tmp'"
rm -f "$FULL/filler"
poll full-3 75 "full: after space is freed the next poll records again (458: 75)" "$C" 5000
check "full: new state written" [ "$(st relays.0.nodes.0.code "$FULL")" = 458 ]

RO=$T/state-ro
mkdir -p "$RO"
C=$(conf ro $A "$RO")
poll ro-1 0 "read-only: first poll records its state" "$C" 5000
cp "$RO/last-poll.json" "$T/ro-before.json"
mount --bind "$RO" "$RO" && on_exit "umount -l '$RO'" && mount -o remount,bind,ro "$RO"
check "read-only: the bind mount is read-only" bash -c "! touch '$RO/x' 2>/dev/null"
sed -i 's/domains = { "a.test" }/domains = { "b.test" }/' "$C"
ETRNS=$(grep -c ' ETRN b.test' "$FTRANS")
poll ro-2 73 "read-only: poll still runs, exit 73" "$C" 5000
check "read-only: ETRN was still sent" [ "$(grep -c ' ETRN b.test' "$FTRANS")" = $((ETRNS + 1)) ]
check "read-only: says the state dir is not writable" has "$T/ro-2.err" 'not writable|Read-only file system'
check "read-only: the old state is intact" cmp -s "$T/ro-before.json" "$RO/last-poll.json"
umount "$RO"

# --- 4. killed mid-write ---------------------------------------------------------------
# stopshim.so: when ETP_STOP_AT=write, the write() of a temporary
# last-poll.json writes half its data, then the process stops itself
# (SIGSTOP); with ETP_STOP_AT=rename it stops just before renaming it.
cat > "$T/stopshim.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int is_tmp_state(const char *p) { return p && strstr(p, "/.last-poll.json.") && strstr(p, ".tmp"); }
static const char *mode(void) { const char *m = getenv("ETP_STOP_AT"); return m ? m : ""; }
ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t l = strcmp(mode(), "write") == 0 ? readlink(link, path, sizeof path - 1) : -1;
    if (l > 0 && n > 1) {
        path[l] = '\0';
        if (is_tmp_state(path)) {
            ssize_t r = real(fd, buf, n / 2);
            raise(SIGSTOP);
            return r;
        }
    }
    return real(fd, buf, n);
}
int rename(const char *a, const char *b)
{
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (strcmp(mode(), "rename") == 0 && is_tmp_state(a))
        raise(SIGSTOP);
    return real(a, b);
}
SHIM
CC=${CC:-cc}
if ! $CC -shared -fPIC -O1 -o "$T/stopshim.so" "$T/stopshim.c" -ldl 2> "$T/shim.err"; then
    bad "could not build the LD_PRELOAD shim"; cat "$T/shim.err"
else
    KW=$T/state-kill
    C=$(conf kill $A "$KW")
    poll kill-0 0 "kill: first poll records its state" "$C" 5000
    cp "$KW/last-poll.json" "$T/kill-before.json"
    sed -i 's/domains = { "a.test" }/domains = { "b.test" }/' "$C"
    for at in write rename; do
        LD_PRELOAD=$T/stopshim.so ETP_STOP_AT=$at "$ETRNPOLL" -c "$C" poll --no-hold > /dev/null 2> "$T/kill-$at.err" &
        P=$!
        on_exit "kill -9 $P"
        stopped() { [ "$(awk '{print $3}' /proc/$P/stat 2>/dev/null)" = T ]; }
        if wait_for 15 stopped; then
            tmpf=$(ls -a "$KW" | grep '^\.last-poll\.json\..*\.tmp$' | head -1)
            check "kill in $at: a temporary state file is being written" [ -n "$tmpf" ]
            kill -9 $P; wait $P 2>/dev/null
            check "kill in $at: last-poll.json still parses" $PY -c "import json,sys; json.load(open(sys.argv[1]))" "$KW/last-poll.json"
            check "kill in $at: last-poll.json is the old state, untouched" cmp -s "$T/kill-before.json" "$KW/last-poll.json"
            rm -f "$KW"/.last-poll.json.*.tmp
        else
            bad "kill in $at: the poll never reached the state write"; tail -3 "$T/kill-$at.err"; kill -9 $P 2>/dev/null
        fi
    done
    # SIGKILL at random moments: the file is always whole (old or new)
    bad_parse=0 whole=0
    for i in $(seq 1 25); do
        "$ETRNPOLL" -c "$C" poll --no-hold > /dev/null 2>&1 &
        P=$!
        sleep "0.$(printf '%03d' $((RANDOM % 250)))"
        kill -9 $P 2>/dev/null; wait $P 2>/dev/null
        if $PY -c "import json,sys; json.load(open(sys.argv[1]))" "$KW/last-poll.json" 2>/dev/null; then
            whole=$((whole + 1))
        else
            bad_parse=$((bad_parse + 1))
        fi
    done
    check "25 polls killed at random moments: last-poll.json always parses ($whole/25)" [ $bad_parse = 0 ]
    poll kill-end 75 "kill: a poll after all that works and records (458)" "$C" 5000
    check "kill: new state written" [ "$(st relays.0.nodes.0.code "$KW")" = 458 ]
fi
fstop

# --- 5. damaged state files: `status` never crashes ---------------------------------
# (another version's, a hand-edited or a truncated file; json-c asserts when
# an array call meets a non-array)
DS=$T/state-damaged
mkdir -p "$DS"
C=$(conf damaged $A "$DS")
n=0 fails=""
while IFS= read -r v; do
    n=$((n + 1))
    printf '%s' "$v" > "$DS/last-poll.json"
    printf '%s' "$v" > "$DS/hold.json"
    rc=0
    "$ETRNPOLL" -c "$C" status > "$T/damaged.out" 2> "$T/damaged.err" || rc=$?
    "$ETRNPOLL" -c "$C" status --json >> "$T/damaged.out" 2>> "$T/damaged.err" || rc=$((rc + $?))
    if [ $rc != 0 ] || grep -qE '\(null\)|Assertion|Sanitizer|runtime error' "$T/damaged.out" "$T/damaged.err"; then
        fails="$fails [$v]"
    fi
done <<'V'
{"relays": 5}
{"relays": [5, "x", null, []]}
{"relays": [{"nodes": 7}]}
{"relays": [{"nodes": [1, null, {"code": "x"}, {"code": 250, "node": 5, "result": []}]}]}
{"relays": [{}], "finished": "yesterday", "exit": [], "result": {}}
{"relays": [{"name": "a", "error": "e"}]}
[1, 2]
"just a string"
{"relays": [{"name": "a", "nodes": [{"node": "x
not json at all
V
check "status on $n damaged state files: exit 0, no crash, no (null)" [ -z "$fails" ]
[ -z "$fails" ] || echo "  failed for:$fails"
finish
