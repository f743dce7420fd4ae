# SPDX-License-Identifier: ISC
# netns.sh — network namespaces for the link watcher / daemon tests (bash).
# Needs common.sh loaded first.
#
#   need_netns                 skip (77, with the reason) unless root and
#                              `ip netns` + veth work here
#   ns_new VAR TAG             create namespace etp-<test>-<pid>-TAG (lo up),
#                              its name in VAR; removed on exit, with every
#                              process still running inside it
#   ns_veth NS1 IF1 NS2 IF2    a veth pair across two namespaces (carrier of
#                              one end follows the admin state of the other)
#   tun_start NS NAME          a tun device NAME in NS held open by
#                              tests/lib/tunhold.py (sets TUNPID); closing it
#                              (tun_stop) deletes the device like a ppp hang-up
#   fake_ns_start NS ADDR PORT TAG SCENARIO [fakesmtp options]
#                              tests/fakesmtp.py inside NS (sets FPID, FTRANS)
#   sessions FILE              number of SMTP sessions in a fakesmtp transcript
#   ms_now                     monotonic-enough wall clock in ms

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

need_netns() {
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: $TESTNAME needs root for network namespaces (ip netns); run the suite as root" >&2
        exit 77
    fi
    local probe="etp-probe-$$"
    if ! ip netns add "$probe" 2>"$T/netns-probe.err"; then
        echo "SKIP: $TESTNAME: cannot create a network namespace here: $(cat "$T/netns-probe.err")" >&2
        exit 77
    fi
    if ! ip -n "$probe" link add etpa type veth peer name etpb 2>"$T/netns-probe.err"; then
        ip netns del "$probe"
        echo "SKIP: $TESTNAME: no veth support in this kernel: $(cat "$T/netns-probe.err")" >&2
        exit 77
    fi
    ip netns del "$probe"
}

# Kill what still runs in a namespace (only our own test processes can be
# there: the namespace was created by this test), then delete it.
_ns_cleanup() {
    local ns=$1 p
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
}

ns_new() {
    local ns="etp-${TESTNAME#link-}-$$-$2"
    ns=${ns:0:60}
    ip netns add "$ns" || return 1
    on_exit "_ns_cleanup $ns"      # (not in a $(...) subshell: it would be lost)
    ip -n "$ns" link set lo up
    printf -v "$1" '%s' "$ns"
}

ns_veth() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
}

tun_start() {
    local ns=$1 name=$2 ready="$T/tun-$2.ready"
    rm -f "$ready"
    ip netns exec "$ns" "$PY" "$LIB/tunhold.py" "$name" "$ready" </dev/null >"$T/tun-$name.log" 2>&1 &
    TUNPID=$!
    on_exit "kill $TUNPID"
    wait_for 10 test -e "$ready" || { echo "tunhold did not start:"; cat "$T/tun-$name.log"; return 1; }
}
tun_stop() { kill "$TUNPID" 2>/dev/null; wait "$TUNPID" 2>/dev/null || true; }

fake_ns_start() {
    local ns=$1 addr=$2 port=$3 tag=$4 scen=$5; shift 5
    FAKE_NS=$ns fake_run "$tag" "$addr" "$port" "$scen" 300 "$@"
}
fake_ns_stop() { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true; }

sessions() { if [ -f "$1" ]; then grep -cE '^#[0-9]+ CONNECT ' "$1"; else echo 0; fi; }
