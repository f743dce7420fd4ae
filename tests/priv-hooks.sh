#!/bin/bash
# SPDX-License-Identifier: ISC
# priv-hooks.sh — programs etrnpoll starts, and the hang-up, under the
# privilege model.  Real Postfix relay (tests/lib/relay.sh) on 127.0.0.92,
# sink .93; the daemon part runs in network namespaces with a fake relay.
#
#  1  a hook that ignores SIGTERM and forks (a child, and a grandchild in a
#     session of its own) is killed with everything it started: at its
#     time-out, at the end of the hook (leftovers), when the poll is stopped
#     (SIGTERM), when the daemon's link goes down and when the daemon stops
#  2  hooks start in /; hook programs, hook directories and CA files someone
#     else can write are refused; a hooks .d with more than 1024 entries: logged
#  3  hang up when delivery is done, with a stand-in pppd (a sleeping process
#     named pppd whose end is observed): ppp hook mode (the ip-up hook hangs up
#     after `etrnpoll poll` returned) and daemon mode (hold-done hook asks as the
#     service user, the root side etrnpoll-hangup --serve ends pppd)
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
. "$LIB/netns.sh"
need_root
need_binary
R=127.0.0.92 S=127.0.0.93
HS=$SRCDIR/hooks
H=${BUILDDIR:-$SRCDIR/build}/hooks

RD=$T/relay
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S example.test > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"; bad "real Postfix relay starts"; finish
fi
ok "real Postfix relay started on $R (sink $S)"

# conf NAME [lines...]
conf() {
    local name=$1; shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        "$(etp_timeouts)" -s "relay isp" -R "$RD" -d example.test -- -t "$@"
}
# the stubborn hook: ignores SIGTERM, forks a child and a grandchild (setsid),
# records every pid in $T/pids-NAME, then waits (or exits at once with "exit")
stubborn() {
    local name=$1 mode=${2:-wait}
    cat > "$T/hook-$name" <<EOF
#!/bin/sh
trap '' TERM
P=$T/pids-$name
echo \$\$ >> \$P
sh -c 'trap "" TERM; echo \$\$ >> $T/pids-$name; setsid sh -c "trap \"\" TERM; echo \\\$\\\$ >> $T/pids-$name; exec sleep 300" & exec sleep 300' &
while [ "\$(wc -l < \$P)" -lt 3 ]; do sleep 0.05; done
[ "$mode" = exit ] && exit 0
exec sleep 300
EOF
    chmod 755 "$T/hook-$name"; : > "$T/pids-$name"
    echo "$T/hook-$name"
}
alive() { local n=0 p; for p in $(cat "$1"); do
    if [ -e /proc/$p ] && [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" != Z ]; then n=$((n+1)); fi; done; echo $n; }

# --- 1. process trees ------------------------------------------------------------------
C=$(conf tmo "hooks { pre-poll = { \"$(stubborn tmo)\" } timeout = 2 }")
t0=$(ms_now); rc=0; timeout 60 "$ETRNPOLL" -c "$C" poll --no-hold > "$T/tmo.out" 2>&1 || rc=$?
el=$(( $(ms_now) - t0 ))
check "time-out: the poll goes on (exit $rc) after about 2 s ($el ms)" [ $rc = 0 ] && [ $el -lt 8000 ]
check "time-out: 3 processes recorded" [ "$(wc -l < "$T/pids-tmo")" = 3 ]
check "time-out: none of them left ($(alive "$T/pids-tmo") alive)" [ "$(alive "$T/pids-tmo")" = 0 ]
check "time-out: logged with what was killed" has "$T/tmo.out" "killed after 2 s timeout with [0-9]+ process"

C=$(conf left "hooks { post-poll = { \"$(stubborn left exit)\" } timeout = 20 }")
# stderr through a process substitution: bash makes that reader etrnpoll's own
# child; killing the hook's leftovers must not kill it
rc=0; timeout 60 "$ETRNPOLL" -c "$C" poll --no-hold 2> >(cat > "$T/left.out") || rc=$?
sleep 0.3
check "hook that exits leaving processes: poll exit $rc" [ $rc = 0 ]
check "leftovers killed at the hook's end ($(alive "$T/pids-left") of 2 alive)" [ "$(alive "$T/pids-left")" = 0 ]
check "... and logged" has "$T/left.out" "exited but left processes running: killed"
check "... a child etrnpoll had before the hook (its stderr reader) was left alone" has "$T/left.out" "poll finished"

C=$(conf stop "hooks { pre-poll = { \"$(stubborn stop)\" } timeout = 120 }")
"$ETRNPOLL" -c "$C" poll --no-hold > "$T/stop.out" 2>&1 &
PP=$!
wait_for 10 bash -c "[ \$(wc -l < '$T/pids-stop') -ge 3 ]"
t0=$(ms_now); kill -TERM $PP; rc=0; wait $PP || rc=$?
el=$(( $(ms_now) - t0 ))
check "SIGTERM to the poll: it ends in $el ms (exit $rc = 75)" [ $rc = 75 ] && [ $el -lt 3000 ]
check "SIGTERM: the hook's tree is gone ($(alive "$T/pids-stop") alive)" [ "$(alive "$T/pids-stop")" = 0 ]

# the daemon: link down, then stop
need_netns
ns_new NC c
ns_new NI i
ns_veth "$NC" wan0 "$NI" isp0
ip -n "$NC" addr add 198.51.100.2/24 dev wan0
ip -n "$NC" link set wan0 up
ip -n "$NC" route add default via 198.51.100.1 dev wan0 onlink
fake_ns_start "$NC" 127.0.0.62 2525 ns normal
cat > "$T/daemon.conf" <<C
ehlo-name = "gw.example.test"
state-dir = "$T/state-daemon"
timeouts { connect = 3 greeting = 5 command = 5 etrn = 10 quit = 2 }
link { interfaces = { "wan*" } settle = 0 }
hold { enabled = false }
hooks { pre-poll = { "$(stubborn dmn)" } timeout = 120 }
relay fake {
  host = "127.0.0.62"
  port = 2525
  tls = none
  domains = { "a.test" }
}
C
ip netns exec "$NC" "$ETRNPOLL" -c "$T/daemon.conf" run > "$T/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID"
wait_for 5 grep -q 'daemon started' "$T/daemon.log"
ip -n "$NI" link set isp0 up
if wait_for 10 bash -c "[ \$(wc -l < '$T/pids-dmn') -ge 3 ]"; then
    ip -n "$NI" link set isp0 down
    wait_for 10 bash -c "[ \$(alive '$T/pids-dmn') = 0 ]"
    check "daemon, link down: the hook's tree is gone ($(alive "$T/pids-dmn") alive)" [ "$(alive "$T/pids-dmn")" = 0 ]
    : > "$T/pids-dmn"
    ip -n "$NI" link set isp0 up
    if wait_for 10 bash -c "[ \$(wc -l < '$T/pids-dmn') -ge 3 ]"; then
        t0=$(ms_now); kill -TERM $DPID; rc=0; wait $DPID || rc=$?
        el=$(( $(ms_now) - t0 ))
        check "daemon stop during a hook: exit $rc in $el ms" [ $rc = 0 ] && [ $el -lt 5000 ]
        check "daemon stop: the hook's tree is gone ($(alive "$T/pids-dmn") alive)" [ "$(alive "$T/pids-dmn")" = 0 ]
    else
        bad "daemon did not poll again after link-up"; tail -5 "$T/daemon.log"
    fi
else
    bad "daemon did not start the hook"; tail -5 "$T/daemon.log"
fi
kill $DPID 2>/dev/null; wait $DPID 2>/dev/null
fake_ns_stop

# --- 2. where hooks start, what may be run ---------------------------------------------
cat > "$T/hook-pwd" <<EOF
#!/bin/sh
pwd > $T/pwd.out
EOF
chmod 755 "$T/hook-pwd"
C=$(conf pwd "hooks { pre-poll = { \"$T/hook-pwd\" } }")
mkdir -p "$T/cwd"
(cd "$T/cwd" && "$ETRNPOLL" -c "$C" poll --no-hold > "$T/pwd.log" 2>&1)
check "hooks start in / (not the caller's directory)" [ "$(cat "$T/pwd.out" 2>/dev/null)" = / ]
rm -f "$T/pwd.out"; chmod 0775 "$T/hook-pwd"; chgrp nogroup "$T/hook-pwd"
rc=0; "$ETRNPOLL" -c "$C" poll --no-hold > "$T/gw.log" 2>&1 || rc=$?
check "group-writable hook program: not run" [ ! -e "$T/pwd.out" ]
check "... said so with the fix" has "$T/gw.log" "hook program is accessible by others \\(writable by its group.*run: chown root:root $T/hook-pwd && chmod 0755"
chmod 0755 "$T/hook-pwd"; chgrp root "$T/hook-pwd"
mkdir -p "$T/hd/pre-poll.d"; cp "$T/hook-pwd" "$T/hd/pre-poll.d/10-pwd"
C=$(conf dir "hooks { dir = \"$T/hd\" }")
chmod 0777 "$T/hd/pre-poll.d"; rm -f "$T/pwd.out"
rc=0; "$ETRNPOLL" -c "$C" poll --no-hold > "$T/dw.log" 2>&1 || rc=$?
check "hooks .d writable by others: nothing in it run" [ ! -e "$T/pwd.out" ]
check "... said so" has "$T/dw.log" "nothing in $T/hd/pre-poll.d run: .*hook directory is accessible by others"
chmod 0755 "$T/hd/pre-poll.d"
chmod 0757 "$T/hd"; rm -f "$T/pwd.out"
rc=0; "$ETRNPOLL" -c "$C" poll --no-hold > "$T/dw2.log" 2>&1 || rc=$?
check "hooks dir writable by others: refused too" bash -c "[ ! -e '$T/pwd.out' ] && grep -q 'hook directory is accessible by others' '$T/dw2.log'"
chmod 0755 "$T/hd"; rm -f "$T/pwd.out"
rc=0; "$ETRNPOLL" -c "$C" poll --no-hold > "$T/dok.log" 2>&1 || rc=$?
check "hooks .d owned by root, 0755: run" [ "$(cat "$T/pwd.out" 2>/dev/null)" = / ]
for i in $(seq 1 1100); do printf '#!/bin/sh\nexit 0\n' > "$T/hd/pre-poll.d/n$i"; done
chmod 644 "$T/hd/pre-poll.d"/n*   # not executable: counted and listed, not run (fast)
rc=0; "$ETRNPOLL" -c "$C" poll --no-hold > "$T/many.log" 2>&1 || rc=$?
check "hooks .d with 1101 entries: the overflow is logged" has "$T/many.log" "holds more than 1024 hooks: 77 not run"
cp "$RD/ca/ca.pem" "$T/ca-ow.pem"; chmod 0666 "$T/ca-ow.pem"
sed "s|$RD/ca/ca.pem|$T/ca-ow.pem|" "$(conf ca)" > "$T/ca-ow.conf"
rc=0; "$ETRNPOLL" -c "$T/ca-ow.conf" poll --no-hold > "$T/ca.log" 2>&1 || rc=$?
check "CA file writable by others: the poll refuses (exit $rc = 78)" [ $rc = 78 ]
check "... naming the fix" has "$T/ca.log" "CA file is accessible by others.*chmod 0644 $T/ca-ow.pem"
rc=0; "$ETRNPOLL" -c "$T/ca-ow.conf" check > "$T/ca-check.log" 2>&1 || rc=$?
check "... and check says the same (exit $rc)" bash -c "[ $rc = 78 ] && grep -q 'CA file is accessible by others' '$T/ca-check.log'"

# --- 3. hang up when delivery is done ----------------------------------------------------
SUID=64991
. "$LIB/svcuser.sh"
svcuser_add etrnpoll $SUID || { bad "a private service user etrnpoll (overlay or bind mount on /etc)"; finish; }
chgrp etrnpoll "$RD/password"; chmod 0640 "$RD/password"
mkdir -p "$T/bin" "$T/ppprun"; cp "$(command -v sleep)" "$T/bin/pppd"
pppd_start() {
    "$T/bin/pppd" 120 &
    PPPD=$!
    echo "$PPPD" > "$T/ppprun/ppp0.pid"
    wait_for 2 bash -c "[ \"\$(cat /proc/$PPPD/comm 2>/dev/null)\" = pppd ]"
}
gone() { ! [ -e /proc/$1 ] || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
HOLD="hold { enabled = true local-address = \"$S\" quiet = 1 first-contact = 5 max-hold = 30 }"
# ppp hook mode: the generated ip-up hook, the real etrnpoll, ETRNPOLL_HANGUP=done
C=$(conf ppp "$HOLD")
chgrp etrnpoll "$C"; chmod 0640 "$C"
printf 'ETRNPOLL_HOOKS=yes\nETRNPOLL=%s\nETRNPOLL_CONFIG=%s\nETRNPOLL_HANGUP=done\nETRNPOLL_HANGUP_PROGRAM=%s\nETRNPOLL_PPP_PIDDIR=%s\n' \
    "$ETRNPOLL" "$C" "$HS/etrnpoll-hangup" "$T/ppprun" > "$T/default-ppp"
"$LIB/relay.sh" inject "$RD" 2 example.test >/dev/null
pppd_start
rc=0; env -i PATH=/usr/bin:/bin ETRNPOLL_DEFAULTS="$T/default-ppp" PPP_IFACE=ppp0 PPP_LOCAL=10.1.2.3 \
    /bin/sh "$H/ppp-ip-up" ppp0 /dev/ttyS0 115200 10.1.2.3 10.0.0.1 isp || rc=$?
check "ppp hook returns at once (exit $rc) with pppd still up" [ $rc = 0 ] && kill -0 $PPPD
if wait_for 40 gone $PPPD; then
    ok "ppp hook mode: pppd ended after the poll"
    check "... after the mail was delivered (2 at the sink)" [ "$("$LIB/relay.sh" delivered "$RD")" -ge 2 ]
    check "... after the poll had finished (last-poll.json written, exit 0)" \
        [ "$(json exit "$T/state-ppp/last-poll.json")" = 0 ]
    check "... and the poll ran as the service user" [ "$(stat -c %U "$T/state-ppp/last-poll.json")" = etrnpoll ]
else
    bad "ppp hook mode: pppd still running 40 s after link-up"
fi
wait $PPPD 2>/dev/null
# daemon mode: the hold-done hook asks (as etrnpoll), the root side hangs up
install -d -m 0755 -o etrnpoll -g etrnpoll "$T/run-etrnpoll"   # RuntimeDirectory=etrnpoll
install -d -m 0700 -o etrnpoll -g etrnpoll "$T/state-dmode"    # StateDirectory=etrnpoll
C=$(conf dmode "$HOLD" "hooks { hold-done = { \"$HS/etrnpoll-hangup\", \"--request\", \"$T/run-etrnpoll\" } }")
chgrp etrnpoll "$C"; chmod 0640 "$C"
"$LIB/relay.sh" inject "$RD" 1 example.test >/dev/null
pppd_start
rc=0; setpriv --reuid=etrnpoll --regid=etrnpoll --clear-groups "$ETRNPOLL" -c "$C" poll > "$T/dmode.log" 2>&1 || rc=$?
check "daemon mode: the poll as etrnpoll holds and ends (exit $rc)" [ $rc = 0 ]
check "... its hold-done hook wrote the request" [ -f "$T/run-etrnpoll/hangup" ]
check "... and etrnpoll (no privileges) did not touch pppd" kill -0 $PPPD
# what etrnpoll-hangup.path starts when the file appears: etrnpoll-hangup.service
rc=0; ETRNPOLL_DEFAULTS=/nonexistent ETRNPOLL_PPP_PIDDIR="$T/ppprun" "$HS/etrnpoll-hangup" --serve "$T/run-etrnpoll" 2> "$T/serve.log" || rc=$?
if [ $rc = 0 ] && wait_for 5 gone $PPPD; then ok "daemon mode: the root side ended pppd"; else bad "daemon mode: --serve exit $rc: $(cat "$T/serve.log")"; fi
check "... and took the request" [ ! -e "$T/run-etrnpoll/hangup" ]
wait $PPPD 2>/dev/null
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$T/units" "$T/man/man8" "$T/man/man5"
    for m in "$SRCDIR"/man/*.[0-9]; do ln -s "$m" "$T/man/man${m##*.}/"; done
    sed "s|@pkglibexecdir@|$HS|" "$SRCDIR/systemd/etrnpoll-hangup.service.in" > "$T/units/etrnpoll-hangup.service"
    cp "$SRCDIR/systemd/etrnpoll-hangup.path" "$T/units/"
    rc=0; (cd "$T/units" && MANPATH=$T/man systemd-analyze verify ./etrnpoll-hangup.path ./etrnpoll-hangup.service) > "$T/verify.log" 2>&1 || rc=$?
    check "etrnpoll-hangup.path/.service: systemd-analyze verify (exit $rc)" bash -c "[ $rc = 0 ] && ! grep -qi 'etrnpoll-hangup' '$T/verify.log'"
    sed 's/^/     /' "$T/verify.log" | head -5
fi
finish
