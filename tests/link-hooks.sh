#!/bin/bash
# SPDX-License-Identifier: ISC
# link-hooks.sh — the hook scripts in hooks/ (pppd ip-up, NetworkManager
# dispatcher, networkd-dispatcher, ifupdown if-up.d, OpenWrt hotplug.d/iface)
# against a fake `etrnpoll` first on PATH that records its argv, session and
# stdin.  Checks the arguments each flavour passes, what it ignores, the
# /etc/default/etrnpoll switches, that the hook returns at once (the poll
# runs detached in the background) and that the real CLI accepts the argv.
# The hooks are generated at build time (hooks/src/NAME.in + hooks/common.sh):
# checks that every generated hook carries exactly hooks/common.sh.  Hang-up
# (ETRNPOLL_HANGUP, hooks/etrnpoll-hangup) against a stand-in pppd: a
# sleeping process named pppd whose end is observed.  Needs no root.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
H=${BUILDDIR:-$SRCDIR/build}/hooks       # generated hooks
HS=$SRCDIR/hooks                        # sources, README, etrnpoll-hangup
[ -x "$H/ppp-ip-up" ] || { echo "FAIL: generated hooks not found in $H (run make)"; exit 1; }

mkdir -p "$T/bin" "$T/calls"
cat > "$T/bin/etrnpoll" <<'F'
#!/bin/sh
# fake etrnpoll: record argv, session id and stdin, then stay a while
out=$FAKE_CALLS/call.$$
{
    for a in "$@"; do printf 'arg=%s\n' "$a"; done
    printf 'sid=%s\n' "$(cut -d' ' -f6 /proc/$$/stat)"
    printf 'stdin=%s\n' "$(readlink /proc/$$/fd/0)"
} > "$FAKE_CALLS/.tmp.$$"
mv "$FAKE_CALLS/.tmp.$$" "$out"      # appears complete: the test polls for call.*
sleep "${FAKE_SLEEP:-3}"
exit "${FAKE_RC:-0}"
F
chmod 755 "$T/bin/etrnpoll"
echo "ETRNPOLL_HOOKS=yes" > "$T/defaults.empty"
echo "# no settings" > "$T/defaults.none"
MYSID=$(cut -d' ' -f6 /proc/$$/stat)

# hook NAME [VAR=value...] [-- ARGS...]: run hooks/NAME with a clean
# environment; HRC = exit code, HMS = how long it took
hook() {
    local name=$1; shift
    local envs=() args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    args=("$@")
    rm -f "$T/calls/"*
    local t0; t0=$(date +%s%N)
    HRC=0
    env -i PATH="$T/bin:/usr/bin:/bin" FAKE_CALLS="$T/calls" ETRNPOLL_DEFAULTS="$T/defaults.empty" \
        "${envs[@]}" /bin/sh "$H/$name" "${args[@]}" || HRC=$?
    HMS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
called() { ls "$T/calls/"call.* >/dev/null 2>&1; }
argv() { grep '^arg=' "$T/calls/"call.* | sed 's/^[^=]*=//' | tr '\n' ' ' | sed 's/ $//'; }
# expect_call DESCRIPTION "expected argv": the fake was started with exactly that
expect_call() {
    if ! wait_for 3 called; then bad "$1: etrnpoll not started (exit $HRC)"; return; fi
    local got; got=$(argv)
    if [ "$got" = "$2" ]; then ok "$1 (returned in $HMS ms)"; else bad "$1: got [$got], want [$2]"; fi
    [ "$HRC" = 0 ] || bad "$1: hook exit $HRC"
    [ "$HMS" -lt 1500 ] || bad "$1: hook waited for the poll ($HMS ms)"
}
expect_none() {
    sleep 0.3
    if called; then bad "$1: etrnpoll started: $(argv)"; else ok "$1"; fi
    [ "$HRC" = 0 ] || bad "$1: hook exit $HRC"
}

P="--syslog poll --interface"
# --- pppd ip-up.d ------------------------------------------------------------
hook ppp-ip-up -- ppp0 /dev/ttyUSB0 115200 10.1.2.3 10.0.0.1 isp
expect_call "ppp: pppd arguments" "$P ppp0 --local-address 10.1.2.3 --trigger hook"
check "ppp: detached (own session, not ours)" bash -c "grep -q '^sid=' $T/calls/call.* && ! grep -q '^sid=$MYSID\$' $T/calls/call.*"
check "ppp: stdin is /dev/null" grep -q '^stdin=/dev/null$' "$T/calls/"call.*
hook ppp-ip-up PPP_IFACE=ppp1 PPP_LOCAL=10.9.9.9 PPP_REMOTE=10.0.0.1 PPP_IPPARAM=isp
expect_call "ppp: Debian PPP_* environment" "$P ppp1 --local-address 10.9.9.9 --trigger hook"
hook ppp-ip-up -- ppp0 /dev/ttyUSB0 115200 fe80::1 fe80::2 isp
expect_call "ppp: ipv6-up link-local address not passed" "$P ppp0 --trigger hook"
hook ppp-ip-up
expect_none "ppp: no interface: nothing"

# --- NetworkManager dispatcher -------------------------------------------------
hook nm-dispatcher 'IP4_ADDRESS_0=192.168.1.5/24 192.168.1.1' -- wlan0 up
expect_call "NM: up, IPv4 address from IP4_ADDRESS_0" "$P wlan0 --local-address 192.168.1.5 --trigger hook"
hook nm-dispatcher DEVICE_IP_IFACE=ppp0 -- ttyUSB2 up
expect_call "NM: modem: DEVICE_IP_IFACE is the interface" "$P ppp0 --trigger hook"
hook nm-dispatcher 'IP6_ADDRESS_0=2001:db8::5/64 ::' -- eth0 dhcp6-change
expect_call "NM: dhcp6-change, IPv6 address" "$P eth0 --local-address 2001:db8::5 --trigger hook"
hook nm-dispatcher -- eth0 dhcp4-change
expect_call "NM: dhcp4-change" "$P eth0 --trigger hook"
hook nm-dispatcher -- eth0 down
expect_none "NM: down: nothing"
hook nm-dispatcher -- eth0 pre-up
expect_none "NM: pre-up: nothing"
hook nm-dispatcher -- lo up
expect_none "NM: lo: nothing"
hook nm-dispatcher -- none hostname
expect_none "NM: hostname action: nothing"

# --- networkd-dispatcher ---------------------------------------------------------
hook networkd-dispatcher IFACE=eth0 STATE=routable ADDR=192.0.2.7 'IP_ADDRS=192.0.2.7 192.0.2.8'
expect_call "networkd: routable, ADDR" "$P eth0 --local-address 192.0.2.7 --trigger hook"
hook networkd-dispatcher IFACE=wwan0 STATE=routable 'IP6_ADDRS=2001:db8::7 2001:db8::8'
expect_call "networkd: IPv6 only: first of IP6_ADDRS" "$P wwan0 --local-address 2001:db8::7 --trigger hook"
hook networkd-dispatcher IFACE=eth0 STATE=degraded ADDR=192.0.2.7
expect_none "networkd: degraded: nothing"

# --- ifupdown if-up.d ------------------------------------------------------------
hook ifupdown-if-up IFACE=eth0 LOGICAL=eth0 ADDRFAM=inet METHOD=static MODE=start PHASE=post-up IF_ADDRESS=192.0.2.9/24
expect_call "ifupdown: post-up, IF_ADDRESS without prefix length" "$P eth0 --local-address 192.0.2.9 --trigger hook"
hook ifupdown-if-up IFACE=ppp0 LOGICAL=dsl-provider ADDRFAM=inet METHOD=ppp MODE=start PHASE=post-up
expect_call "ifupdown: ppp stanza" "$P ppp0 --trigger hook"
hook ifupdown-if-up IFACE=eth0 MODE=stop PHASE=post-down
expect_none "ifupdown: stop: nothing"
hook ifupdown-if-up IFACE=lo MODE=start PHASE=post-up
expect_none "ifupdown: lo: nothing"
hook ifupdown-if-up IFACE=--all MODE=start PHASE=post-up
expect_none "ifupdown: --all: nothing"

# --- OpenWrt hotplug.d/iface (sourced by hotplug-call) ----------------------------
hook openwrt-hotplug ACTION=ifup INTERFACE=wan DEVICE=pppoe-wan
expect_call "OpenWrt: ifup wan: the device" "$P pppoe-wan --trigger hook"
hook openwrt-hotplug ACTION=ifup INTERFACE=lan DEVICE=br-lan
expect_none "OpenWrt: lan: nothing"
hook openwrt-hotplug ACTION=ifdown INTERFACE=wan DEVICE=pppoe-wan
expect_none "OpenWrt: ifdown: nothing"
rm -f "$T/calls/"*
out=$(env -i PATH="$T/bin:/usr/bin:/bin" FAKE_CALLS="$T/calls" ETRNPOLL_DEFAULTS="$T/defaults.empty" \
    ACTION=ifup INTERFACE=wan DEVICE=eth0.2 /bin/sh -c ". '$H/openwrt-hotplug'; echo still-running")
check "OpenWrt: sourcing it does not end the caller's shell" [ "$out" = still-running ]
check "OpenWrt: and it polled" wait_for 3 called

# --- /etc/default/etrnpoll switches ----------------------------------------------
hook ppp-ip-up ETRNPOLL_DEFAULTS="$T/defaults.none" -- ppp0 tty 0 10.1.2.3 10.0.0.1
expect_none "hooks off until enabled: no ETRNPOLL_HOOKS, no poll"
hook ppp-ip-up ETRNPOLL_DEFAULTS="$T/no-such-file" -- ppp0 tty 0 10.1.2.3 10.0.0.1
expect_none "hooks off until enabled: no /etc/default/etrnpoll, no poll"
hook ppp-ip-up ETRNPOLL_DEFAULTS="$SRCDIR/etc/default/etrnpoll" -- ppp0 tty 0 10.1.2.3 10.0.0.1
expect_none "the shipped etc/default/etrnpoll keeps the hooks off"
printf 'ETRNPOLL_HOOKS=no\n' > "$T/defaults.off"
hook ppp-ip-up ETRNPOLL_DEFAULTS="$T/defaults.off" -- ppp0 tty 0 10.1.2.3 10.0.0.1
expect_none "ETRNPOLL_HOOKS=no disables the hooks"
printf 'ETRNPOLL_HOOKS=yes\nETRNPOLL_INTERFACES="ppp* wwan*"\n' > "$T/defaults.if"
hook ppp-ip-up ETRNPOLL_DEFAULTS="$T/defaults.if" -- ppp3 tty 0 10.1.2.3 10.0.0.1
expect_call "ETRNPOLL_INTERFACES: ppp3 matches ppp*" "$P ppp3 --local-address 10.1.2.3 --trigger hook"
hook ifupdown-if-up ETRNPOLL_DEFAULTS="$T/defaults.if" IFACE=eth0 MODE=start PHASE=post-up
expect_none "ETRNPOLL_INTERFACES: eth0 does not match"
printf 'ETRNPOLL_HOOKS=yes\nETRNPOLL_CONFIG=/etc/etrnpoll-isp.conf\nETRNPOLL_POLL_ARGS="--no-hold --wait 5"\n' > "$T/defaults.args"
hook networkd-dispatcher ETRNPOLL_DEFAULTS="$T/defaults.args" IFACE=eth0 STATE=routable
expect_call "ETRNPOLL_CONFIG and ETRNPOLL_POLL_ARGS" \
    "-c /etc/etrnpoll-isp.conf --syslog poll --interface eth0 --trigger hook --no-hold --wait 5"
printf 'ETRNPOLL_HOOKS=yes\nETRNPOLL=%s\n' "$T/bin/etrnpoll" > "$T/defaults.bin"
hook nm-dispatcher ETRNPOLL_DEFAULTS="$T/defaults.bin" PATH=/usr/bin:/bin -- eth0 up
expect_call "ETRNPOLL= names the program (not on PATH)" "$P eth0 --trigger hook"

# --- hang up when delivery is done (hook mode), stand-in pppd -----------------------
mkdir -p "$T/run"
cp "$(command -v sleep)" "$T/bin/pppd"
# pppd_start: a process named pppd, pid in $T/run/ppp0.pid (what pppd writes)
pppd_start() {
    "$T/bin/pppd" 60 &
    PPPD=$!
    echo "$PPPD" > "$T/run/ppp0.pid"
    wait_for 2 bash -c "[ \"\$(cat /proc/$PPPD/comm 2>/dev/null)\" = pppd ]"
}
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" = Z ]; }
# hangup_case MODE FAKE_RC: run the ppp hook with ETRNPOLL_HANGUP=MODE, the poll exiting FAKE_RC
hangup_case() {
    printf 'ETRNPOLL_HOOKS=yes\nETRNPOLL_HANGUP=%s\nETRNPOLL_HANGUP_PROGRAM=%s\nETRNPOLL_PPP_PIDDIR=%s\n' \
        "$1" "$HS/etrnpoll-hangup" "$T/run" > "$T/defaults.hup"
    pppd_start
    hook ppp-ip-up ETRNPOLL_DEFAULTS="$T/defaults.hup" FAKE_SLEEP=1 FAKE_RC="$2" -- ppp0 tty 0 10.1.2.3 10.0.0.1
}
hangup_case done 0
expect_call "hang-up (done): the poll runs first" "$P ppp0 --local-address 10.1.2.3 --trigger hook"
check "hang-up (done): pppd still up while the poll runs" kill -0 "$PPPD"
if wait_for 5 gone "$PPPD"; then ok "hang-up (done): pppd ended after the poll returned 0"; else bad "hang-up (done): pppd still running"; fi
wait "$PPPD" 2>/dev/null
hangup_case done 75
sleep 2
check "hang-up (done): poll exit 75 leaves the line up" kill -0 "$PPPD"
kill "$PPPD"; wait "$PPPD" 2>/dev/null
hangup_case always 75
if wait_for 5 gone "$PPPD"; then ok "hang-up (always): pppd ended after a failed poll too"; else bad "hang-up (always): pppd still running"; fi
wait "$PPPD" 2>/dev/null
# the helper never signals what is not pppd
sleep 60 & NOTP=$!
echo "$NOTP" > "$T/run/ppp0.pid"
rc=0; ETRNPOLL_DEFAULTS="$T/defaults.none" ETRNPOLL_PPP_PIDDIR="$T/run" "$HS/etrnpoll-hangup" ppp0 2> "$T/hup.err" || rc=$?
check "etrnpoll-hangup: a pid file naming another program: refused (exit $rc), process alive" \
    bash -c "[ $rc != 0 ] && kill -0 $NOTP && grep -q 'is not pppd' '$T/hup.err'"
kill $NOTP; wait $NOTP 2>/dev/null
rc=0; ETRNPOLL_DEFAULTS="$T/defaults.none" "$HS/etrnpoll-hangup" '../../etc/x' 2>/dev/null || rc=$?
check "etrnpoll-hangup: not an interface name refused (exit $rc)" [ $rc != 0 ]
# daemon mode: --request (service user side) then --serve (root side, what the path unit starts)
pppd_start
mkdir -p "$T/rundir"
rc=0; ETRNPOLL_DEFAULTS="$T/defaults.none" ETRNPOLL_RUNDIR="$T/rundir" ETRNPOLL_INTERFACE=ppp0 \
    "$HS/etrnpoll-hangup" --request || rc=$?
check "--request writes the request (exit $rc)" [ "$rc" = 0 ] && [ "$(cat "$T/rundir/hangup")" = ppp0 ]
check "--request alone does not hang up" kill -0 "$PPPD"
rc=0; ETRNPOLL_DEFAULTS="$T/defaults.none" ETRNPOLL_RUNDIR="$T/rundir" ETRNPOLL_PPP_PIDDIR="$T/run" \
    "$HS/etrnpoll-hangup" --serve 2> "$T/serve.err" || rc=$?
if [ "$rc" = 0 ] && wait_for 5 gone "$PPPD"; then ok "--serve: pppd ended, request taken"; else bad "--serve (exit $rc): $(cat "$T/serve.err")"; fi
check "--serve removed the request" [ ! -e "$T/rundir/hangup" ]
wait "$PPPD" 2>/dev/null

# --- etrnpoll missing: the hook still succeeds, quietly ----------------------------
if PATH=/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin command -v etrnpoll >/dev/null; then
    echo "     (an etrnpoll is installed on this system: 'not found' case not tested)"
else
    rm -f "$T/calls/"*
    rc=0
    env -i PATH=/usr/bin:/bin ETRNPOLL_DEFAULTS="$T/defaults.empty" /bin/sh "$H/ppp-ip-up" ppp0 tty 0 10.1.2.3 10.0.0.1 isp || rc=$?
    check "etrnpoll not installed: hook exits 0" [ "$rc" = 0 ]
fi

# --- the real CLI accepts what the hooks pass --------------------------------------
if [ -n "${ETRNPOLL:-}" ] && [ -x "$ETRNPOLL" ]; then
    rc=0
    "$ETRNPOLL" -c "$T/missing.conf" --syslog poll --interface ppp0 --local-address 10.1.2.3 \
        --trigger hook --no-hold --wait 5 >/dev/null 2>&1 || rc=$?
    check "real etrnpoll parses the hook argv (exit $rc: config missing, not usage 64)" [ "$rc" = 78 ]
    rc=0
    "$ETRNPOLL" -c "$T/missing.conf" --syslog poll --interface eth0 --local-address 2001:db8::7 \
        --trigger hook >/dev/null 2>&1 || rc=$?
    check "real etrnpoll parses an IPv6 --local-address (exit $rc)" [ "$rc" = 78 ]
fi

# --- static checks -------------------------------------------------------------------
for f in ppp-ip-up nm-dispatcher networkd-dispatcher ifupdown-if-up openwrt-hotplug; do
    check "$f: executable" test -x "$H/$f"
    check "$f: POSIX sh syntax (dash -n)" dash -n "$H/$f"
    if command -v shellcheck >/dev/null; then
        check "$f: shellcheck clean" shellcheck -s sh "$H/$f"
    fi
done
check "etrnpoll-hangup: POSIX sh syntax (dash -n)" dash -n "$HS/etrnpoll-hangup"
if command -v shellcheck >/dev/null; then
    check "etrnpoll-hangup: shellcheck clean" shellcheck -s sh "$HS/etrnpoll-hangup"
fi
# generated: every hook = its head (hooks/src/NAME.in) with hooks/common.sh in place of the marker
for f in ppp-ip-up nm-dispatcher networkd-dispatcher ifupdown-if-up openwrt-hotplug; do
    check "$f: common part identical to hooks/common.sh" bash -c \
        "diff <(sed -e 's|@pkglibexecdir@|X|g' '$HS/common.sh') <(awk '/^# ---- common part/{c=1} c{print} /^# ---- end of common part/{c=0}' '$H/$f' | sed -E 's|=[^ ]*/etrnpoll-hangup|=X/etrnpoll-hangup|; s|:-[^ }]*/etrnpoll-hangup|:-X/etrnpoll-hangup|')"
    check "$f: the rest is its head" bash -c \
        "diff <(grep -v '^@ETRNPOLL_COMMON@\$' '$HS/src/$f.in') <(awk '/^# ---- common part/{c=1} !c{print} /^# ---- end of common part/{c=0}' '$H/$f')"
done
check "hooks/README.md documents every hook" bash -c \
    "for f in ppp-ip-up nm-dispatcher networkd-dispatcher ifupdown-if-up openwrt-hotplug etrnpoll-hangup; do grep -q \"\$f\" '$HS/README.md' || exit 1; done"
check "hooks/README.md documents every /etc/default/etrnpoll variable" bash -c \
    "for v in \$(grep -oE '^#?ETRNPOLL_[A-Z_]+' '$SRCDIR/etc/default/etrnpoll' | tr -d '#' | sort -u); do grep -q \"\$v\" '$HS/README.md' || { echo missing \$v; exit 1; }; done"
finish
