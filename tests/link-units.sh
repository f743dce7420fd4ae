#!/bin/bash
# SPDX-License-Identifier: ISC
# link-units.sh — the systemd units: `systemd-analyze verify` (with @sbindir@
# substituted by the built binary's directory and the man pages of this tree
# on MANPATH), the build's own substitution, the hardening exposure score and
# the sysusers.d entry.  Needs no root.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_binary
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: $TESTNAME: systemd-analyze is not installed (Debian: apt-get install systemd)" >&2
    exit 77
fi
S=$SRCDIR/systemd
B=${BUILDDIR:-$SRCDIR}/systemd
U=$T/units
mkdir -p "$U" "$T/man/man5" "$T/man/man8"
sbindir=$(cd "$(dirname "$ETRNPOLL")" && pwd)
[ "$(basename "$ETRNPOLL")" = etrnpoll ] || { cp "$ETRNPOLL" "$T/etrnpoll"; sbindir=$T; }
for u in etrnpoll.service etrnpoll-poll.service; do
    sed -e "s|@sbindir@|$sbindir|g" -e "s|@sysconfdir@|/etc|g" "$S/$u.in" > "$U/$u"
done
cp "$S/etrnpoll.timer" "$U/"
for m in "$SRCDIR"/man/*.[0-9]; do
    [ -e "$m" ] && ln -s "$m" "$T/man/man${m##*.}/"
done

(cd "$U" && MANPATH=$T/man systemd-analyze verify ./etrnpoll.service ./etrnpoll-poll.service \
    ./etrnpoll.timer) > "$T/verify.out" 2>&1
rc=$?
sed 's/^/     /' "$T/verify.out"
check "systemd-analyze verify: exit 0" [ "$rc" = 0 ]
check "systemd-analyze verify: no warnings" [ ! -s "$T/verify.out" ]

# the units the build made (make all substitutes @sbindir@)
for u in etrnpoll.service etrnpoll-poll.service; do
    if [ -f "$B/$u" ]; then
        check "build: $u has no @placeholders@ left" hasnot "$B/$u" '@[a-z]+@'
        check "build: $u runs an absolute etrnpoll" has "$B/$u" '^ExecStart=/[^ ]*/etrnpoll '
    else
        bad "build: $B/$u was not generated"
    fi
done

# what the daemon unit must say
check "Type=notify" has "$S/etrnpoll.service.in" '^Type=notify$'
check "ExecReload sends SIGHUP" has "$S/etrnpoll.service.in" '^ExecReload=/bin/kill -HUP \$MAINPID$'
check "Restart=on-failure" has "$S/etrnpoll.service.in" '^Restart=on-failure$'
for k in 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'PrivateDevices=yes' \
         'NoNewPrivileges=yes' 'CapabilityBoundingSet=' 'SystemCallFilter=@system-service' \
         'RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX' 'StateDirectory=etrnpoll' \
         'User=etrnpoll'; do
    check "etrnpoll.service: $k" has "$S/etrnpoll.service.in" "^$k\$"
    check "etrnpoll-poll.service: $k" has "$S/etrnpoll-poll.service.in" "^$k\$"
done
check "poll unit: oneshot 'etrnpoll poll'" has "$S/etrnpoll-poll.service.in" '^Type=oneshot$'
check "timer: has a schedule (it starts etrnpoll-poll.service)" has "$S/etrnpoll.timer" '^OnCalendar='

# exposure score (informational figure; asserted only to stay "OK", < 3.0)
if systemd-analyze security --help 2>&1 | grep -q -- '--offline' ||
   systemd-analyze --help 2>&1 | grep -q -- '--offline'; then
    (cd "$U" && systemd-analyze security --offline=yes ./etrnpoll.service) > "$T/sec.out" 2>&1
    score=$(grep -o 'Overall exposure level for etrnpoll.service: [0-9.]*' "$T/sec.out" | awk '{print $NF}')
    echo "     systemd-analyze security: exposure ${score:-?}"
    check "hardening: exposure below 3.0 (${score:-?})" awk -v s="${score:-99}" 'BEGIN { exit !(s < 3.0) }'
fi

# sysusers.d entry creates the user and group
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$T/root/etc"
    systemd-sysusers --root="$T/root" "$S/sysusers.d/etrnpoll.conf" >/dev/null 2>&1
    check "sysusers.d: creates user etrnpoll" grep -q '^etrnpoll:' "$T/root/etc/passwd"
    check "sysusers.d: with a nologin shell" grep -qE '^etrnpoll:.*nologin$' "$T/root/etc/passwd"
fi
finish
