#!/bin/bash
# SPDX-License-Identifier: ISC
# package.sh — the Debian package, built, installed, used and purged:
#   1. dpkg-buildpackage -us -uc -b in a copy of the source tree (unit tests
#      and fuzz replays run as dh_auto_test); lintian: no E: or W:
#   2. apt-get install ./etrnpoll_*.deb (dependencies resolved by apt)
#   3. dpkg -L, the etrnpoll system user, conffiles and their modes, units
#      neither enabled nor started, every hook inert until enabled in
#      /etc/default/etrnpoll (and launching once enabled: the check can fail)
#   4. the demo's real poll (real Postfix relay, STARTTLS, SASL, ETRN, hold)
#      with the INSTALLED /usr/sbin/etrnpoll, as the etrnpoll user, with the
#      package's default state dir
#   5. dpkg --purge: nothing of the package left behind
# It leaves the machine as it found it: it skips when etrnpoll is already
# installed or any of its files exists, and removes the etrnpoll user if it
# created it.  Needs root and the test dependencies (tests/install-deps.sh).
# Run by tests/run-all.sh as a stage of its own (not in make check: it needs
# the source tree, not a tarball build).
ETP_HOST_USERS=1              # adduser must write the real /etc/passwd (isolate.sh)
export ETP_HOST_USERS
. "$(dirname "$0")/lib/common.sh"
need_root
# dpkg and the etrnpoll user are host-wide: a second copy of the suite waits
exec 9> /run/lock/etrnpoll-package-test.lock
flock 9
for c in dpkg-buildpackage lintian dh runuser; do
    command -v $c >/dev/null || { echo "FAIL: $c not found: sh tests/install-deps.sh" >&2; exit 1; }
done
if dpkg-query -W -f='${Status}' etrnpoll 2>/dev/null | grep -q 'installed'; then
    echo "SKIP: the etrnpoll package is installed on this machine; package.sh would replace and purge it" >&2
    exit 77
fi
for f in /usr/sbin/etrnpoll /etc/etrnpoll.conf /etc/etrnpoll /etc/default/etrnpoll /var/lib/etrnpoll; do
    if [ -e "$f" ]; then
        echo "SKIP: $f exists (not from the package): installing and purging the package would replace or remove it" >&2
        exit 77
    fi
done
had_user=0; getent passwd etrnpoll >/dev/null && had_user=1
had_group=0; getent group etrnpoll >/dev/null && had_group=1
installed=0
cleanup_pkg() {
    # whatever of the package is on the machine is ours (the test skips when
    # it was there before): also a half-configured install that failed
    { [ $installed = 1 ] || dpkg-query -W etrnpoll >/dev/null 2>&1; } &&
        dpkg --purge etrnpoll >/dev/null 2>&1
    if [ $had_user = 0 ] && getent passwd etrnpoll >/dev/null; then
        # userdel refuses while a process runs with the uid (on a shared
        # machine that can be another test's private user): retry, then force
        local i; for i in 1 2 3 4 5 6 7 8 9 10; do userdel etrnpoll 2>/dev/null && break; sleep 1; done
        getent passwd etrnpoll >/dev/null && userdel -f etrnpoll
    fi
    [ $had_group = 0 ] && getent group etrnpoll >/dev/null && groupdel etrnpoll
    true
}
on_exit cleanup_pkg

# --- 1. build --------------------------------------------------------------
mkdir -p "$T/src"
if git -C "$SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
    # the tracked files plus uncommitted and new (not ignored) ones
    (cd "$SRCDIR" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp -a --parents -t "$T/src")
else
    (cd "$SRCDIR" && tar --exclude='./build*' --exclude=./debian/etrnpoll --exclude=./debian/.debhelper -cf - .) | tar -xf - -C "$T/src"
fi
t0=$(date +%s)
if (cd "$T/src" && dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b ($(( $(date +%s) - t0 )) s)"
else
    tail -40 "$T/build.log"; bad "dpkg-buildpackage -us -uc -b"; finish
fi
deb=$(ls "$T"/etrnpoll_*_*.deb)
n_unit=$(grep -cE '^PASS: ' "$T/build.log" || true)
n_fail=$(grep -cE '^(FAIL|ERROR): ' "$T/build.log" || true)
check "dh_auto_test ran the unit tests and fuzz replays ($n_unit passed, $n_fail failed)" \
    test "$n_unit" -ge 10 -a "$n_fail" = 0
# (tests/conf-doc.sh is a tree check of check-unit — man page against the
# schema, no root, no server — not an integration test)
check "dh_auto_test ran no integration test" \
    bash -c "! grep -E '^(PASS|SKIP|FAIL): tests/.*\.sh' '$T/build.log' | grep -vq 'tests/conf-doc\.sh'"
check "dh_auto_test ran the tree check conf-doc" has "$T/build.log" '^PASS: tests/conf-doc\.sh'
if grep -E 'warning:' "$T/build.log" > "$T/warnings"; then
    echo "compiler warnings under Debian's build flags (hardening=+all):"; sed 's/^/    /' "$T/warnings"
fi

# as nobody when possible (lintian advises against root)
chmod -R a+rX "$T"/etrnpoll_* 2>/dev/null || true
runuser -u nobody -- lintian --display-info --pedantic --display-experimental --tag-display-limit 0 "$T"/etrnpoll_*.changes > "$T/lintian.log" 2>&1 ||
    lintian --display-info --pedantic --display-experimental --tag-display-limit 0 "$T"/etrnpoll_*.changes > "$T/lintian.log" 2>&1 || true
echo "lintian (--display-info --pedantic --display-experimental):"; sed 's/^/    /' "$T/lintian.log"
check "lintian: no error and no warning" hasnot "$T/lintian.log" '^[EW]: '

# --- 2. install --------------------------------------------------------------
if (cd "$T" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$(basename "$deb")") > "$T/apt.log" 2>&1; then
    installed=1; ok "apt-get install ./$(basename "$deb")"
else
    tail -20 "$T/apt.log"; bad "apt-get install ./$(basename "$deb")"; finish
fi

# --- 3. what it installed ------------------------------------------------------
dpkg -L etrnpoll > "$T/files"
for f in /usr/sbin/etrnpoll /usr/share/man/man8/etrnpoll.8.gz /usr/share/man/man5/etrnpoll.conf.5.gz \
         /lib/systemd/system/etrnpoll.service /lib/systemd/system/etrnpoll-poll.service \
         /lib/systemd/system/etrnpoll.timer /usr/lib/sysusers.d/etrnpoll.conf \
         /etc/etrnpoll.conf /etc/default/etrnpoll \
         /etc/ppp/ip-up.d/etrnpoll /etc/ppp/ipv6-up.d/etrnpoll /etc/network/if-up.d/etrnpoll \
         /etc/NetworkManager/dispatcher.d/90-etrnpoll /etc/networkd-dispatcher/routable.d/50-etrnpoll \
         /usr/share/doc/etrnpoll/examples/etrnpoll.conf /usr/share/doc/etrnpoll/README.gz \
         /usr/share/doc/etrnpoll/NEWS.gz /usr/share/doc/etrnpoll/copyright; do
    grep -qxF "$f" "$T/files" && [ -e "$f" ] || { bad "dpkg -L: $f missing"; continue; }
done
ok "dpkg -L: binary, man pages, units, sysusers, conffiles, hooks, docs ($(wc -l < "$T/files") paths)"
check "/usr/sbin/etrnpoll runs (--version)" /usr/sbin/etrnpoll --version
check "conffiles: /etc/etrnpoll.conf and /etc/default/etrnpoll" \
    sh -c "dpkg-query -W -f='\${Conffiles}' etrnpoll | grep -q ' /etc/etrnpoll.conf ' &&
           dpkg-query -W -f='\${Conffiles}' etrnpoll | grep -q ' /etc/default/etrnpoll '"
check "/etc/etrnpoll.conf is the annotated sample" cmp -s /etc/etrnpoll.conf "$SRCDIR/etc/etrnpoll.conf"

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd etrnpoll) || true
check "user etrnpoll: system uid ($uid < 1000), home $home, shell $shell" \
    test -n "$uid" -a "${uid:-1000}" -lt 1000 -a "$home" = /var/lib/etrnpoll -a "$shell" = /usr/sbin/nologin
check "group etrnpoll is the user's primary group" test "$(getent group etrnpoll | cut -d: -f3)" = "$gid"
mode() { stat -c '%a %U:%G' "$1"; }
check "/etc/etrnpoll.conf 640 root:etrnpoll ($(mode /etc/etrnpoll.conf))" test "$(mode /etc/etrnpoll.conf)" = "640 root:etrnpoll"
check "/etc/etrnpoll/ 750 root:etrnpoll ($(mode /etc/etrnpoll))" test "$(mode /etc/etrnpoll)" = "750 root:etrnpoll"
check "/var/lib/etrnpoll 700 etrnpoll:etrnpoll ($(mode /var/lib/etrnpoll))" test "$(mode /var/lib/etrnpoll)" = "700 etrnpoll:etrnpoll"
check "/etc/default/etrnpoll: hooks off (ETRNPOLL_HOOKS=no)" has /etc/default/etrnpoll '^ETRNPOLL_HOOKS=no$'

# units: no [Install] symlink anywhere, systemd's view agrees, nothing runs
links=$(find /etc/systemd/system -name 'etrnpoll*' 2>/dev/null | tr '\n' ' ')
check "units not enabled: no symlinks in /etc/systemd/system (${links:-none})" test -z "$links"
if command -v systemctl >/dev/null; then
    for u in etrnpoll.service etrnpoll.timer; do
        st=$(systemctl is-enabled "$u" 2>/dev/null || true)
        check "systemctl is-enabled $u: ${st:-?} (not enabled)" test "$st" != enabled -a -n "$st"
    done
else
    echo "(no systemctl on this machine: the symlink and deb-systemd-helper checks stand alone)"
fi
dsh=$(find /var/lib/systemd/deb-systemd-helper-enabled -name 'etrnpoll*' ! -name '*.dsh-also' 2>/dev/null | tr '\n' ' ')
check "deb-systemd-helper: no unit recorded as enabled (${dsh:-none})" test -z "$dsh"
check "no installed etrnpoll process running" sh -c '! pgrep -f "^/usr/sbin/etrnpoll" >/dev/null'

# hooks: each manager's way of calling them, with a stand-in program that
# records its arguments; off by default, launching once ETRNPOLL_HOOKS=yes
cat > "$T/record" <<'REC'
#!/bin/sh
printf '%s\n' "$*" > "$ETP_MARK"
REC
chmod 755 "$T/record"
printf 'ETRNPOLL_HOOKS=yes\n' > "$T/defaults-on"
run_hook() {  # run_hook NAME [env...] -- HOOK ARGS...: 0 if it launched the program
    local name=$1; shift
    local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    rm -f "$T/mark.$name"
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ETRNPOLL="$T/record" ETP_MARK="$T/mark.$name" \
        ${DEFAULTS:+ETRNPOLL_DEFAULTS=$DEFAULTS} "${envs[@]}" "$@" || return 2
    wait_for "${WAIT:-1}" test -s "$T/mark.$name"
}
hooks=(
  "ppp     -- /etc/ppp/ip-up.d/etrnpoll ppp0 /dev/ttyUSB0 115200 192.0.2.2 192.0.2.1 isp"
  "ppp6    -- /etc/ppp/ipv6-up.d/etrnpoll ppp0 /dev/ttyUSB0 115200 fe80::2 fe80::1 isp"
  "ifup    IFACE=ppp0 MODE=start PHASE=post-up ADDRFAM=inet METHOD=ppp -- /etc/network/if-up.d/etrnpoll"
  "nm      DEVICE_IP_IFACE=ppp0 IP4_ADDRESS_0=192.0.2.2/32 -- /etc/NetworkManager/dispatcher.d/90-etrnpoll ppp0 up"
  "networkd IFACE=ppp0 STATE=routable ADDR=192.0.2.2 -- /etc/networkd-dispatcher/routable.d/50-etrnpoll"
)
for h in "${hooks[@]}"; do
    # shellcheck disable=SC2086
    set -- $h; name=$1; shift
    rc=0; DEFAULTS= run_hook "$name" "$@" || rc=$?
    check "hook $name: does nothing with the package's /etc/default/etrnpoll" test $rc = 1
    rc=0; DEFAULTS=$T/defaults-on WAIT=10 run_hook "$name" "$@" || rc=$?
    check "hook $name: starts a poll once ETRNPOLL_HOOKS=yes ($(cat "$T/mark.$name" 2>/dev/null))" \
        sh -c "test $rc = 0 && grep -q -- '--interface ppp0' '$T/mark.$name'"
done

# --- 4. the demo's real poll with the installed program, as etrnpoll -----------
R=127.0.0.250 S=127.0.0.251
on_exit "bash $LIB/relay.sh stop $T/relay"
if bash "$LIB/relay.sh" start "$T/relay" $R $S example.test >/dev/null &&
   bash "$LIB/relay.sh" inject "$T/relay" 5 example.test >/dev/null; then
    ok "real Postfix relay on $R holds $(bash "$LIB/relay.sh" queued "$T/relay") messages for example.test"
else
    bad "relay start"; finish
fi
# as an admin would: secrets in /etc/etrnpoll (0640 root:etrnpoll), no state-dir
# line (the package's default, /var/lib/etrnpoll, must work)
install -m 0640 -o root -g etrnpoll "$T/relay/password" /etc/etrnpoll/relay.password
install -m 0640 -o root -g etrnpoll "$T/relay/ca/ca.pem" /etc/etrnpoll/relay-ca.pem
cat > /etc/etrnpoll.conf <<CONF
ehlo-name = "gw.example.test"
relay backup-mx {
    host = "$R"
    tls = starttls
    ca-file = "/etc/etrnpoll/relay-ca.pem"
    username = "etrn@relay.test"
    password-file = "/etc/etrnpoll/relay.password"
    domains = { "example.test" }
}
hold {
    local-address = "$S"
    quiet = 3
    first-contact = 30
}
CONF
as_etrnpoll() { runuser -u etrnpoll -- "$@"; }
expect_exit 0 "installed etrnpoll check --connect as etrnpoll" as_etrnpoll /usr/sbin/etrnpoll check --connect
rc=0; as_etrnpoll /usr/sbin/etrnpoll poll > "$T/poll.log" 2>&1 || rc=$?
sed 's/^/    /' "$T/poll.log"
n=$(bash "$LIB/relay.sh" delivered "$T/relay")
check "installed etrnpoll poll as etrnpoll: exit $rc, your MTA received $n of 5" test "$rc" = 0 -a "$n" = 5
check "state in /var/lib/etrnpoll, owned by etrnpoll" \
    test "$(stat -c %U /var/lib/etrnpoll/last-poll.json 2>/dev/null)" = etrnpoll
check "etrnpoll status (as etrnpoll) reads it" as_etrnpoll /usr/sbin/etrnpoll status

# reinstall (what an upgrade does to the maintainer scripts): the admin's
# configuration and modes stay, the units stay disabled
cp -p /etc/etrnpoll.conf "$T/conf.admin"
chmod 0600 /etc/etrnpoll.conf   # an admin's own choice of mode
if DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$deb" > "$T/reinstall.log" 2>&1; then
    ok "reinstall (dpkg -i again)"
else
    cat "$T/reinstall.log"; bad "reinstall (dpkg -i again)"
fi
check "reinstall kept the admin's /etc/etrnpoll.conf" cmp -s /etc/etrnpoll.conf "$T/conf.admin"
check "reinstall kept the admin's mode 600 ($(mode /etc/etrnpoll.conf))" test "$(mode /etc/etrnpoll.conf)" = "600 root:etrnpoll"
chmod 0640 /etc/etrnpoll.conf
check "reinstall kept /etc/etrnpoll/ and its files ($(mode /etc/etrnpoll))" \
    test "$(mode /etc/etrnpoll)" = "750 root:etrnpoll" -a -f /etc/etrnpoll/relay.password
links=$(find /etc/systemd/system -name 'etrnpoll*' 2>/dev/null | tr '\n' ' ')
check "reinstall: units still not enabled (${links:-none})" test -z "$links"

# --- 5. purge ------------------------------------------------------------------
rm -f /etc/etrnpoll/relay.password /etc/etrnpoll/relay-ca.pem   # the admin's files
if dpkg --purge etrnpoll > "$T/purge.log" 2>&1; then installed=0; ok "dpkg --purge etrnpoll"
else cat "$T/purge.log"; bad "dpkg --purge etrnpoll"; finish; fi
left=
while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && left="$left $f"; done < "$T/files"
for f in /etc/etrnpoll.conf /etc/etrnpoll /etc/default/etrnpoll /var/lib/etrnpoll /run/etrnpoll; do
    [ -e "$f" ] && left="$left $f"
done
left="$left $(ls -d /var/lib/systemd/deb-systemd-helper-enabled/*etrnpoll* \
                    /var/lib/systemd/deb-systemd-helper-masked/*etrnpoll* 2>/dev/null | tr '\n' ' ')"
check "purge left no file behind (${left// /})" test -z "${left// /}"
check "purge kept the etrnpoll user, as Debian does for system users" getent passwd etrnpoll
check "dpkg knows nothing of etrnpoll any more" sh -c '! dpkg-query -W etrnpoll >/dev/null 2>&1'
cleanup_pkg
check "machine as found: etrnpoll user $( [ $had_user = 1 ] && echo kept || echo removed )" \
    sh -c "[ $had_user = 1 ] || ! getent passwd etrnpoll >/dev/null"
finish
