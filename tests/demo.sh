#!/bin/sh
# SPDX-License-Identifier: ISC
# demo.sh — see etrnpoll do its job against a real local relay, on a fresh
# Debian 12 machine, as root:  sudo sh tests/demo.sh
#
# It installs the packages, builds etrnpoll, starts a real Postfix as "the
# ISP's backup MX" on 127.0.0.250 (STARTTLS with a throw-away CA, SASL AUTH,
# mail for example.test held until ETRN) and Postfix's smtp-sink as "your
# MTA" on 127.0.0.251:25, queues 5 messages at the relay, and runs one real
# `etrnpoll poll` with the configuration embedded below.  etrnpoll
# authenticates, sends ETRN, holds the line until the 5 messages have been
# delivered to your MTA, and says so.  Everything is stopped afterwards.
#
# The servers run in a private network namespace (own loopback), so a
# Postfix of this machine's own on *:25 neither disturbs nor is disturbed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "${ETP_ISOLATED:-0}" != 1 ]; then
    say "installing packages and building (first run only)"
    sh tests/install-deps.sh
    if [ ! -x build/etrnpoll ]; then
        autoreconf -fi >/dev/null 2>&1
        mkdir -p build
        (cd build && ../configure -q && make -j2 >/dev/null)
    fi
    # the rest in a private network + mount namespace (see tests/lib/isolate.sh)
    export ETP_ISOLATED=1
    exec unshare --net --mount --propagation private -- \
        sh -c 'ip link set lo up && exec sh "$0" "$@"' "$0" "$@"
fi
ETRNPOLL=$top/build/etrnpoll

D=$(mktemp -d /tmp/etrnpoll-demo.XXXXXX)
chmod 755 "$D"
R=127.0.0.250 S=127.0.0.251
cleanup() { sh tests/lib/relay.sh stop "$D/relay" >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT INT TERM

say "starting the backup MX (real Postfix on $R) and your MTA (smtp-sink on $S:25)"
sh tests/lib/relay.sh start "$D/relay" $R $S example.test >/dev/null
sh tests/lib/relay.sh inject "$D/relay" 5 example.test >/dev/null
echo "the backup MX holds $(sh tests/lib/relay.sh queued "$D/relay") messages for example.test;" \
     "your MTA has $(sh tests/lib/relay.sh delivered "$D/relay")"

# The embedded demo configuration (see etc/etrnpoll.conf for a real one).
cat > "$D/etrnpoll.conf" <<CONF
ehlo-name = "gw.example.test"
state-dir = "$D/state"
relay backup-mx {
    host = "$R"
    tls = starttls
    ca-file = "$D/relay/ca/ca.pem"
    username = "etrn@relay.test"
    password-file = "$D/relay/password"
    domains = { "example.test" }
}
hold {
    local-address = "$S"   # the relay delivers to your MTA here
    quiet = 3
    first-contact = 30
}
CONF

say "etrnpoll check --connect  (TLS + AUTH, ETRN advertised; no ETRN sent)"
"$ETRNPOLL" -c "$D/etrnpoll.conf" check --connect

say "etrnpoll poll  (with -v: the SMTP transcript, AUTH redacted)"
rc=0
"$ETRNPOLL" -c "$D/etrnpoll.conf" -v poll || rc=$?

say "result"
n=$(sh tests/lib/relay.sh delivered "$D/relay")
echo "etrnpoll exit status: $rc; your MTA received $n of 5 messages;" \
     "the backup MX still holds $(sh tests/lib/relay.sh queued "$D/relay")"
"$ETRNPOLL" -c "$D/etrnpoll.conf" status
[ "$rc" = 0 ] && [ "$n" = 5 ]
