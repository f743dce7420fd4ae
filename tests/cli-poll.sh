#!/bin/bash
# SPDX-License-Identifier: ISC
# cli-poll.sh — the poll filters and the dry run against a REAL Postfix
# backup MX (tests/lib/relay.sh on 127.0.0.2, smtp-sink on 127.0.0.3).
#   poll --dry-run       prints the plan; the relay sees no connection, no
#                        state is written
#   poll --relay NAME    only that relay is contacted (the other is dead)
#   poll --node NODE     the relay releases only that node's mail
#   unknown names        exit 64 with the configured names
#   check --connect --relay NAME
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary

R=127.0.0.2 S=127.0.0.3
RD=$T/relay
on_exit "$LIB/relay.sh stop $RD"
if ! "$LIB/relay.sh" start "$RD" $R $S example.test other.test > "$T/relay-start.log" 2>&1; then
    cat "$T/relay-start.log"; bad "real Postfix relay starts"; finish
fi
ok "real Postfix relay started on $R (sink $S)"
"$LIB/relay.sh" inject "$RD" 2 example.test >/dev/null
"$LIB/relay.sh" inject "$RD" 3 other.test >/dev/null
check "5 messages held (2 example.test, 3 other.test)" [ "$("$LIB/relay.sh" queued "$RD")" = 5 ]

cat > "$T/p.conf" <<C
ehlo-name = "gw.example.test"
state-dir = "$T/state"
timeouts { greeting = 20 command = 20 etrn = 20 connect = 5 }
relay isp {
  host = "$R"
  ca-file = "$RD/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$RD/password"
  domains = { "example.test", "other.test" }
}
relay dead {
  host = "127.0.0.9"
  port = 2
  tls = none
  domains = { "dead.test" }
}
hold { port = 25 local-address = "$S" quiet = 2 first-contact = 20 max-hold = 60 }
C
conns() { grep -cE 'smtpd\[[0-9]+\]: connect from' "$RD/maillog" || true; }

# --- dry run: the plan, nothing sent -------------------------------------------
c0=$(conns)
rc=0; "$ETRNPOLL" -c "$T/p.conf" poll --dry-run -a 192.0.2.7 > "$T/dry.out" 2> "$T/dry.err" || rc=$?
check "poll --dry-run: exit $rc = 0" [ $rc = 0 ]
check "dry run: both relays with host, port, TLS, AUTH" \
    bash -c "grep -q '^relay isp: $R port 25, tls starttls, AUTH as etrn@relay.test, ETRN for 2 nodes' '$T/dry.out' && grep -q '^relay dead: 127.0.0.9 port 2, tls none, ETRN for 1 node' '$T/dry.out'"
check "dry run: every node" bash -c "grep -qx '  ETRN example.test' '$T/dry.out' && grep -qx '  ETRN other.test' '$T/dry.out' && grep -qx '  ETRN dead.test' '$T/dry.out'"
check "dry run: the hold parameters" has "$T/dry.out" "^hold: inbound connections to port 25 at $S; ends 2 s after .* 20 s without first contact, at most after 60 s"
check "dry run: the address given" has "$T/dry.out" '^trigger manual, address 192.0.2.7$'
sleep 0.5
check "dry run: the relay saw no connection ($(conns) = $c0)" [ "$(conns)" = "$c0" ]
check "dry run: no state written" test ! -e "$T/state/last-poll.json"
check "dry run: nothing delivered" [ "$("$LIB/relay.sh" delivered "$RD")" = 0 ]
"$ETRNPOLL" -c "$T/p.conf" poll --dry-run --no-hold --relay isp --node other.test > "$T/dry2.out" 2>&1
check "dry run with filters: only the chosen relay and node, hold skipped" \
    bash -c "grep -qx '  ETRN other.test' '$T/dry2.out' && ! grep -q 'example.test\|relay dead' '$T/dry2.out' && grep -qx 'hold: skipped (--no-hold)' '$T/dry2.out'"

# --- unknown names ----------------------------------------------------------------
rc=0; "$ETRNPOLL" -c "$T/p.conf" poll --relay nope > /dev/null 2> "$T/nope.err" || rc=$?
check "--relay nope: exit $rc = 64, lists the configured relays" \
    bash -c "[ $rc = 64 ] && grep -q 'no such relay' '$T/nope.err' && grep -qx 'etrnpoll: configured relays: isp dead' '$T/nope.err'"
rc=0; "$ETRNPOLL" -c "$T/p.conf" poll --relay dead --node other.test > /dev/null 2> "$T/nope2.err" || rc=$?
check "--node of another relay: exit $rc = 64, lists the nodes" \
    bash -c "[ $rc = 64 ] && grep -q 'other.test: not configured for the chosen relay' '$T/nope2.err' && grep -q 'isp: example.test other.test; dead: dead.test' '$T/nope2.err'"
check "unknown names: the relay saw no connection" [ "$(conns)" = "$c0" ]

# --- check --connect --relay: only that one ----------------------------------------
rc=0; "$ETRNPOLL" -c "$T/p.conf" check --connect --relay isp > "$T/cc.out" 2> "$T/cc.err" || rc=$?
check "check --connect --relay isp: exit $rc = 0 (the dead relay is not tried)" [ $rc = 0 ]
check "check --connect --relay isp: no connection attempt to the dead relay" hasnot "$T/cc.err" '127\.0\.0\.9'
rc=0; "$ETRNPOLL" -c "$T/p.conf" check --connect > /dev/null 2>&1 || rc=$?
check "check --connect without a filter fails on the dead relay (exit $rc = 75)" [ $rc = 75 ]

# --- poll --node: the relay releases only that node -------------------------------
rc=0; "$ETRNPOLL" -c "$T/p.conf" -v poll --node other.test --relay isp > "$T/node.out" 2> "$T/node.err" || rc=$?
check "poll --node other.test --relay isp: exit $rc = 0" [ $rc = 0 ]
# (the hold's confirming ETRN repeats it before the hold ends)
check "ETRN only for other.test" bash -c "grep -o '> ETRN .*' '$T/node.err' | sort -u | grep -qx '> ETRN other.test' && [ \"\$(grep -o '> ETRN .*' '$T/node.err' | sort -u | wc -l)\" = 1 ]"
check "the 3 other.test messages arrive" "$LIB/relay.sh" wait-delivered "$RD" 3 30
sleep 1
check "example.test's 2 stay queued at the relay" [ "$("$LIB/relay.sh" queued "$RD")" = 2 ]
check "the relay logged one ETRN session" [ "$(grep -cE 'disconnect from .* etrn=[0-9]' "$RD/maillog")" = 1 ]
check "the dead relay was not tried" hasnot "$T/node.err" '127\.0\.0\.9'
check "state: the poll recorded the chosen relay and node only" $PY -c "
import json, sys
r = json.load(open(sys.argv[1]))['relays']
assert [x['name'] for x in r] == ['isp'], r
assert [n['node'] for n in r[0]['nodes']] == ['other.test'], r" "$T/state/last-poll.json"

# --- poll --relay: all of its nodes, the other relay untouched ---------------------
rc=0; "$ETRNPOLL" -c "$T/p.conf" -v poll --relay isp --no-hold > /dev/null 2> "$T/relay.err" || rc=$?
check "poll --relay isp: exit $rc = 0 (without the filter the dead relay makes it 75)" [ $rc = 0 ]
check "both of isp's nodes got ETRN" bash -c "[ \"\$(grep -o '> ETRN .*' '$T/relay.err' | tr '\n' ' ')\" = '> ETRN example.test > ETRN other.test ' ]"
check "the remaining 2 messages arrive" "$LIB/relay.sh" wait-delivered "$RD" 5 30
rc=0; "$ETRNPOLL" -c "$T/p.conf" poll --no-hold > /dev/null 2>&1 || rc=$?
check "control: an unfiltered poll tries the dead relay too (exit $rc = 75)" [ $rc = 75 ]
finish
