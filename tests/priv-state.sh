#!/bin/bash
# SPDX-License-Identifier: ISC
# priv-state.sh — the privilege model (doc/design.md "Users and permissions")
# against a REAL Postfix relay (tests/lib/relay.sh on 127.0.0.90, sink .91).
# The service user `etrnpoll` exists only in a private /etc/passwd and
# /etc/group of this test's mount namespace (tests/lib/svcuser.sh, tests/lib/isolate.sh).
#
#  1  the service user owns the state dir and plants symlinks to a root-only
#     file, hard links to it, temporary files for 3000 pids, a FIFO as the TLS
#     cache, a held lock: a root poll discloses nothing, writes nothing outside
#     the state dir, never hangs, and either polls under the lock or fails loudly
#  2  root poll, service-user poll, root poll while a service-user poll runs
#     (and the reverse), the daemon (started as root, polls as etrnpoll in a
#     child) beside root and service-user polls on the same state dir: one
#     lock, "another poll is running", every file stays usable
#  3  installed as the README says (root:etrnpoll 0640): check, poll and run
#     work as the service user; old 0600 root files: check as root names the fix;
#     an ACL granting read to another user is refused
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
. "$LIB/netns.sh"
need_root
need_binary
R=127.0.0.90 S=127.0.0.91

# --- the service user, private to this mount namespace -------------------------------
SUID=64990
. "$LIB/svcuser.sh"
svcuser_add etrnpoll $SUID || { bad "a private service user etrnpoll (overlay or bind mount on /etc)"; finish; }
check "service user etrnpoll exists only here (uid $SUID)" [ "$(id -u etrnpoll)" = $SUID ]
as_svc() { setpriv --reuid=etrnpoll --regid=etrnpoll --clear-groups -- "$@"; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

RD=$T/relay
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S example.test > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"; bad "real Postfix relay starts"; check "the private service user was ours to the end" [ "$(id -u etrnpoll)" = $SUID ]
finish
fi
ok "real Postfix relay started on $R (sink $S)"
PW=$(cat "$RD/password")

# secrets and config as the README installs them
install -d -m 0750 -o root -g etrnpoll "$T/etc"
install -m 0640 -o root -g etrnpoll "$RD/password" "$T/etc/relay.password"
install -m 0644 "$RD/ca/ca.pem" "$T/etc/ca.pem"
# conf NAME STATE-DIR [extra top-level lines]
conf() {
    etp_conf "$T/etc/$1.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$2\"" \
        "$(etp_timeouts)" "${3:-}" -s "relay isp" \
        -r "$R" "$T/etc/ca.pem" etrn@relay.test "$T/etc/relay.password" -d example.test -- >/dev/null
    chown root:etrnpoll "$T/etc/$1.conf"; chmod 0640 "$T/etc/$1.conf"
    echo "$T/etc/$1.conf"
}

# --- 1. a hostile state-dir owner against a root poll ----------------------------------
install -d -m 0700 "$T/root"
printf '{"api_key": "ROOT-ONLY-SECRET-1"}\n' > "$T/root/secret.json"; chmod 600 "$T/root/secret.json"
printf 'root:ROOT-ONLY-HASH-2:19000:0:99999:7:::\n' > "$T/root/shadow"; chmod 600 "$T/root/shadow"
sum_before=$(sha256sum "$T/root/secret.json" "$T/root/shadow")
ST=$T/state1
install -d -m 0700 -o etrnpoll -g etrnpoll "$ST"
C1=$(conf one "$ST")
# symlinks to root-only files under every state name
# the TLS cache file of relay "isp" at $R (poller/smtp/conn.c conn_tls_cache_name:
# readable name + 16 hex digits of SHA-256(name, NUL, host))
TLSC=tls-isp-$("$PY" -c 'import hashlib,sys; print(hashlib.sha256(b"isp\0" + sys.argv[1].encode()).hexdigest()[:16])' "$R").session
for n in ddns.json hold.json last-poll.json $TLSC; do as_svc ln -s "$T/root/secret.json" "$ST/$n"; done
# temporary files for 3000 pids (old names) and random names, all links to a root file
as_svc bash -c "for p in \$(seq 2 3001); do ln -s '$T/root/shadow' '$ST/.last-poll.json.'\$p'.tmp'; done
                ln -s '$T/root/shadow' '$ST/.ddns.json.AbC123.tmp'"
check "attacker planted 3001 temporary files" [ "$(ls -A "$ST" | grep -c '\.tmp$')" = 3001 ]
# hard links: the kernel decides
if as_svc ln "$T/root/shadow" "$ST/hl-try" 2>/dev/null; then
    ok "hard link to a root file by the service user allowed (fs.protected_hardlinks=$(sysctl -n fs.protected_hardlinks))"
else
    ok "hard link by the service user refused by the kernel (fs.protected_hardlinks=$(sysctl -n fs.protected_hardlinks)); placing root-made hard links instead (what protected_hardlinks=0 allows)"
fi
rm -f "$ST/poll.lock"; ln "$T/root/shadow" "$ST/poll.lock"
rc=0; timeout 60 "$ETRNPOLL" -c "$C1" poll --no-hold > "$T/p1.out" 2>&1 || rc=$?
check "poll with a hard-linked poll.lock: fails loudly, no poll (exit $rc = 73)" [ $rc = 73 ]
check "... and says why and what to do" has "$T/p1.out" "poll.lock has more than one hard link; run: rm"
rm -f "$ST/poll.lock"
rc=0; "$ETRNPOLL" -c "$C1" status > "$T/s1.out" 2>&1 || rc=$?
check "status as root with a symlinked last-poll.json: refused, named" has "$T/s1.out" "last-poll.json is a symbolic link: ignored"
check "... and nothing of the root file shown" hasnot "$T/s1.out" "ROOT-ONLY"
rm -f "$ST/$TLSC"; ln "$T/root/secret.json" "$ST/$TLSC"
rc=0; timeout 60 "$ETRNPOLL" -c "$C1" poll --no-hold > "$T/p2.out" 2>&1 || rc=$?
check "root poll beside planted links: polls (exit $rc)" [ $rc = 0 ]
check "... it ran as the service user" has "$T/p2.out" "running as user etrnpoll \\(uid $SUID"
check "... the hard-linked TLS cache refused, named" has "$T/p2.out" "$TLSC is not readable by etrnpoll: ignored|$TLSC has more than one hard link"
check "root-only files unchanged" [ "$(sha256sum "$T/root/secret.json" "$T/root/shadow")" = "$sum_before" ]
check "no root-only content in any file of the state dir" \
    bash -c "! find '$ST' -type f -exec grep -l 'ROOT-ONLY' {} + | grep -q ."
check "no root-only content in the output" hasnot "$T/p2.out" 'ROOT-ONLY'
check "every planted temporary file removed (3001 -> $(ls -A "$ST" | grep -c '\.tmp$'))" [ "$(ls -A "$ST" | grep -c '\.tmp$')" = 0 ]
check "nothing new outside the state dir ($T/root)" [ "$(ls -A "$T/root" | wc -l)" = 2 ]
check "last-poll.json now a regular file owned by etrnpoll, 0600" \
    [ "$(stat -c '%F %U %a' "$ST/last-poll.json")" = "regular file etrnpoll 600" ]
check "poll.lock owned by etrnpoll" [ "$(stat -c %U "$ST/poll.lock")" = etrnpoll ]
# FIFO as TLS cache
rm -f "$ST/$TLSC"; as_svc mkfifo "$ST/$TLSC"
t0=$(ms_now); rc=0; timeout 60 "$ETRNPOLL" -c "$C1" poll --no-hold > "$T/p3.out" 2>&1 || rc=$?
el=$(( $(ms_now) - t0 ))
check "FIFO TLS cache: poll does not hang ($el ms) and polls (exit $rc)" [ $rc = 0 ] && [ $el -lt 20000 ]
check "... the FIFO is refused by name" has "$T/p3.out" "$TLSC is not a regular file"
# lock held by the attacker (no etrnpoll process)
as_svc flock "$ST/poll.lock" sleep 30 &
HP=$!; on_exit "kill $HP"
wait_for 5 bash -c "fuser '$ST/poll.lock' >/dev/null 2>&1"
t0=$(ms_now); rc=0; timeout 60 "$ETRNPOLL" -c "$C1" poll --no-hold --wait 1 > "$T/p4.out" 2>&1 || rc=$?
el=$(( $(ms_now) - t0 ))
check "lock held by a stranger: poll fails loudly (exit $rc = 75, $el ms)" [ $rc = 75 ] && [ $el -lt 10000 ]
check "... and says so" has "$T/p4.out" "is held, but not by a running etrnpoll"
kill $HP; wait $HP 2>/dev/null
# lock as a symlink to a root file
rm -f "$ST/poll.lock"; as_svc ln -s "$T/root/shadow" "$ST/poll.lock"
rc=0; timeout 60 "$ETRNPOLL" -c "$C1" poll --no-hold > "$T/p5.out" 2>&1 || rc=$?
check "poll.lock a symlink: fails loudly (exit $rc = 73)" [ $rc = 73 ]
check "... root file not truncated" [ "$(sha256sum "$T/root/secret.json" "$T/root/shadow")" = "$sum_before" ]
rm -f "$ST/poll.lock"
# a state dir others can write
chmod 0770 "$ST"
rc=0; timeout 60 "$ETRNPOLL" -c "$C1" poll --no-hold > "$T/p6.out" 2>&1 || rc=$?
check "group-writable state dir: exit $rc = 73" [ $rc = 73 ]
check "... with the fix" has "$T/p6.out" "writable by its group.*run: chmod 0700 $ST"
chmod 0700 "$ST"

# --- 2. one lock for root, the service user (and the daemon: same user) -----------------
ST2=$T/state2
printf '#!/bin/sh\nsleep 3\n' > "$T/etc/slow-hook"; chmod 755 "$T/etc/slow-hook"
C2=$(conf two "$ST2" "hooks { pre-poll = { \"$T/etc/slow-hook\" } }")
expect_exit 0 "root poll on a fresh state dir" "$ETRNPOLL" -c "$C2" poll --no-hold
check "state dir created for etrnpoll" [ "$(stat -c %U "$ST2")" = etrnpoll ]
expect_exit 0 "then a poll as the service user on the same dir" as_svc "$ETRNPOLL" -c "$C2" poll --no-hold
as_svc "$ETRNPOLL" -c "$C2" poll --no-hold > "$T/q1.out" 2>&1 &
A=$!
wait_for 5 bash -c "grep -q 'poll started' '$T/q1.out'"
rc=0; "$ETRNPOLL" -c "$C2" poll --no-hold > "$T/q2.out" 2>&1 || rc=$?
check "root poll while a service-user poll runs: exit $rc, not polled" [ $rc = 0 ] && has "$T/q2.out" "another poll is running \\(pid $A\\)"
wait $A
"$ETRNPOLL" -c "$C2" poll --no-hold > "$T/q3.out" 2>&1 &
A=$!
wait_for 5 bash -c "grep -q 'poll started' '$T/q3.out'"
rc=0; as_svc "$ETRNPOLL" -c "$C2" poll --no-hold > "$T/q4.out" 2>&1 || rc=$?
check "service-user poll while a root poll runs: exit $rc, not polled" [ $rc = 0 ] && has "$T/q4.out" "another poll is running"
wait $A
# the daemon on the same state dir, in a network namespace with a fake relay whose
# ETRN answer takes 3 s (the daemon's child poll holds the lock meanwhile)
need_netns
ns_new NC c
ns_new NI i
ns_veth "$NC" wan0 "$NI" isp0
ip -n "$NC" addr add 198.51.100.2/24 dev wan0
ip -n "$NC" link set wan0 up
ip -n "$NC" route add default via 198.51.100.1 dev wan0 onlink
fake_ns_start "$NC" 127.0.0.63 2525 dmn delay --delay 3
DC=$T/etc/daemon.conf
cat > "$DC" <<C
ehlo-name = "gw.example.test"
state-dir = "$ST2"
timeouts { connect = 3 greeting = 5 command = 5 etrn = 10 quit = 2 }
link { interfaces = { "wan*" } settle = 0 }
hold { enabled = false }
relay fake {
  host = "127.0.0.63"
  port = 2525
  tls = none
  domains = { "a.test" }
}
C
chown root:etrnpoll "$DC"; chmod 0640 "$DC"
ip netns exec "$NC" "$ETRNPOLL" -c "$DC" run > "$T/daemon.log" 2>&1 &
DPID=$!; on_exit "kill $DPID"
wait_for 5 grep -q 'daemon started' "$T/daemon.log"
check "daemon started as root runs as etrnpoll" has "$T/daemon.log" "running as user etrnpoll"
ip -n "$NI" link set isp0 up
if wait_for 8 grep -q '^#1 C ETRN' "$FTRANS"; then
    rc=0; ip netns exec "$NC" "$ETRNPOLL" -c "$DC" poll --trigger hook > "$T/d1.out" 2>&1 || rc=$?
    check "root hook poll during the daemon's poll: exit $rc, 'another poll is running'" \
        bash -c "[ $rc = 0 ] && grep -q 'another poll is running' '$T/d1.out'"
    rc=0; as_svc "$ETRNPOLL" -c "$C2" poll --no-hold > "$T/d2.out" 2>&1 || rc=$?
    check "service-user poll during the daemon's poll: exit $rc, 'another poll is running'" \
        bash -c "[ $rc = 0 ] && grep -q 'another poll is running' '$T/d2.out'"
    wait_for 10 grep -q 'poll finished: exit' "$T/daemon.log"
    check "the daemon's poll finished (exit 0)" grep -q 'poll finished: exit 0' "$T/daemon.log"
    # now a root poll holds the lock (slow pre-poll hook) and the daemon is asked to poll
    "$ETRNPOLL" -c "$C2" poll --no-hold > "$T/d3.out" 2>&1 &
    A=$!
    wait_for 5 grep -q 'poll started' "$T/d3.out"
    kill -USR1 $DPID
    check "daemon child poll while a root poll runs: 'another poll is running'" \
        wait_for 5 grep -q "another poll is running (pid $A)" "$T/daemon.log"
    wait $A
    check "... the root poll itself went through (exit 0)" grep -q 'poll finished: .*exit 0' "$T/d3.out"
    check "one daemon poll at the relay" [ "$(sessions "$FTRANS")" = 1 ]
else
    bad "the daemon did not poll on link-up"; tail -5 "$T/daemon.log"
fi
kill -TERM $DPID; wait $DPID 2>/dev/null
fake_ns_stop
check "every state file owned by etrnpoll (root, service user and daemon polls)" bash -c "[ -z \"\$(find '$ST2' ! -user etrnpoll)\" ]"
expect_exit 0 "and the service user can poll on it afterwards" as_svc "$ETRNPOLL" -c "$C2" poll --no-hold

# what an older root poll left: root-owned 0600 poll.lock and last-poll.json in a
# root-owned state dir; a root poll hands them over, the service user polls after it
ST5=$T/state-legacy
install -d -m 0700 "$ST5"
printf '4242\n' > "$ST5/poll.lock"; printf '{"version":1}\n' > "$ST5/last-poll.json"
chmod 600 "$ST5/poll.lock" "$ST5/last-poll.json"
C5=$(conf legacy "$ST5")
expect_exit 0 "legacy root-owned state: root poll" "$ETRNPOLL" -c "$C5" poll --no-hold
check "... state dir and files now belong to etrnpoll" bash -c "[ -z \"\$(find '$ST5' ! -user etrnpoll)\" ]"
expect_exit 0 "... and a service-user poll then takes the lock and polls" as_svc "$ETRNPOLL" -c "$C5" poll --no-hold

# --- 3. the README's install, as the service user ------------------------------------------
ST3=$T/state3
install -d -m 0700 -o etrnpoll -g etrnpoll "$ST3"
C3=$(conf three "$ST3")
expect_exit 0 "check as etrnpoll (root:etrnpoll 0640 files)" as_svc "$ETRNPOLL" -c "$C3" check
"$LIB/relay.sh" inject "$RD" 2 example.test >/dev/null
expect_exit 0 "poll as etrnpoll" as_svc "$ETRNPOLL" -c "$C3" poll --no-hold
check "... delivered the held mail" "$LIB/relay.sh" wait-delivered "$RD" 2 30
rc=0; "$ETRNPOLL" -c "$C3" check > "$T/c1.out" 2>&1 || rc=$?
check "check as root: OK and verified as etrnpoll (exit $rc)" [ $rc = 0 ] && has "$T/c1.out" "as etrnpoll: configuration, secrets and state dir .* are usable"
# `run` as the service user: starts, says so, stops on SIGTERM
setpriv --reuid=etrnpoll --regid=etrnpoll --clear-groups -- "$ETRNPOLL" -c "$C3" run > "$T/run.out" 2>&1 &
DP=$!; on_exit "kill $DP"
wait_for 10 has "$T/run.out" "daemon started"
check "run as etrnpoll starts (reads config and secret)" has "$T/run.out" "daemon started"
kill -TERM $DP; rc=0; wait $DP || rc=$?
check "run as etrnpoll stops cleanly on SIGTERM (exit $rc)" [ $rc = 0 ]
# the old install: 0600 root files
C4=$(conf four "$ST3")
cp "$T/etc/relay.password" "$T/etc/old.password"; chown root:root "$T/etc/old.password" "$C4"; chmod 600 "$T/etc/old.password" "$C4"
sed -i "s|$T/etc/relay.password|$T/etc/old.password|" "$C4"
rc=0; "$ETRNPOLL" -c "$C4" check > "$T/c2.out" 2>&1 || rc=$?
check "check as root with 0600 root files: exit $rc = 78" [ $rc = 78 ]
check "... names the fix for the config" has "$T/c2.out" "run: chown root:etrnpoll $C4 && chmod 0640 $C4"
check "... names the fix for the secret" has "$T/c2.out" "run: chown root:etrnpoll $T/etc/old.password && chmod 0640 $T/etc/old.password"
chmod 0600 "$T/etc/ca.pem"
rc=0; "$ETRNPOLL" -c "$C3" check > "$T/c5.out" 2>&1 || rc=$?
check "check as root: a CA file only root can read is reported with the fix (exit $rc)" \
    bash -c "[ $rc = 78 ] && grep -q 'as etrnpoll: CA file $T/etc/ca.pem: Permission denied; run: chmod 0644' '$T/c5.out'"
chmod 0644 "$T/etc/ca.pem"
chmod 0644 "$T/etc/old.password"
rc=0; "$ETRNPOLL" -c "$C4" check > "$T/c3.out" 2>&1 || rc=$?
check "others-readable secret refused (exit $rc) with the 0640 fix, not chmod 600" \
    bash -c "[ $rc = 78 ] && grep -q 'accessible by others.*chmod 0640' '$T/c3.out'"
if command -v setfacl >/dev/null && setfacl -m u:nobody:r "$T/etc/relay.password" 2>/dev/null; then
    rc=0; as_svc "$ETRNPOLL" -c "$C3" check > "$T/c4.out" 2>&1 || rc=$?
    check "ACL granting read to user nobody: refused (exit $rc)" [ $rc = 78 ] && has "$T/c4.out" "ACL that lets user 65534 read it; run: setfacl -b"
    setfacl -b "$T/etc/relay.password"
    setfacl -m g:etrnpoll:r "$T/etc/relay.password"
    expect_exit 0 "ACL granting read to the service group: accepted" as_svc "$ETRNPOLL" -c "$C3" check
    setfacl -b "$T/etc/relay.password"
else
    echo "     (ACL checks skipped: no setfacl (package acl) or no ACL support on $T)"
fi
check "the private service user was ours to the end" [ "$(id -u etrnpoll)" = $SUID ]
finish
