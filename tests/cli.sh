#!/bin/bash
# cli.sh — command line, sample config, status, the poll lock, post-poll hooks.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
. "$LIB/fake.sh"
need_binary
FAKE_ADDR=127.0.0.5

expect_exit 0 "--help" "$ETRNPOLL" --help
"$ETRNPOLL" --help > "$T/help" 2>&1
check "--help lists every command" bash -c "for c in poll check status run; do grep -q \"^  \$c\" '$T/help' || exit 1; done"
check "--help documents exit codes" has "$T/help" '77 authentication'
expect_exit 0 "--version" "$ETRNPOLL" --version
check "--version names GnuTLS and libcurl's GnuTLS backend" bash -c "'$ETRNPOLL' --version | grep -q 'libcurl .*GnuTLS'"
expect_exit 64 "no command -> EX_USAGE" "$ETRNPOLL"
expect_exit 64 "unknown command -> EX_USAGE" "$ETRNPOLL" -c /dev/null frobnicate
expect_exit 64 "bad --local-address -> EX_USAGE" "$ETRNPOLL" -a 300.1.2.3 poll
expect_exit 78 "missing config file -> EX_CONFIG" "$ETRNPOLL" -c "$T/nonexistent.conf" check
"$ETRNPOLL" -c "$T/nonexistent.conf" check 2> "$T/missing.err" || true
check "missing config: says which file" has "$T/missing.err" "nonexistent.conf"

# The shipped sample parses; its only complaint is the absent password file.
sed "s|/var/lib/etrnpoll|$T/state|" "$SRCDIR/etc/etrnpoll.conf" > "$T/sample.conf"
"$ETRNPOLL" -c "$T/sample.conf" check > "$T/sample.out" 2> "$T/sample.err"; rc=$?
check "sample config: only the missing secret file is reported (exit $rc)" \
    bash -c "[ $rc = 78 ] && grep -q 'isp.password: No such file' '$T/sample.err' && [ \$(grep -c error '$T/sample.err') = 1 ]"
printf 'x' > "$T/pw"; chmod 600 "$T/pw"
sed -i "s|/etc/etrnpoll/isp.password|$T/pw|" "$T/sample.conf"
expect_exit 0 "sample config with its secret file passes check" "$ETRNPOLL" -c "$T/sample.conf" check

printf 'relay a {\n host = "h"\n domains = {"ok.test", "bad..test"}\n tls = sometimes\n}\n' > "$T/broken.conf"
expect_exit 78 "broken config -> EX_CONFIG" "$ETRNPOLL" -c "$T/broken.conf" check
"$ETRNPOLL" -c "$T/broken.conf" check 2> "$T/broken.err" || true
check "broken config: file:line of the first bad value" has "$T/broken.err" 'broken.conf:3: domain "bad..test": empty label'
check "broken config: no vague 'parse error' after a precise one" hasnot "$T/broken.err" 'parse error'
printf 'relay a {\n host = "h"\n domains = {"ok.test"}\n tls = sometimes\n}\n' > "$T/broken2.conf"
"$ETRNPOLL" -c "$T/broken2.conf" check 2> "$T/broken2.err" || true
check "bad enum value: file:line and the allowed values" has "$T/broken2.err" 'broken2.conf:4: tls = "sometimes": must be starttls, implicit or none'

expect_exit 0 "status with no poll yet" "$ETRNPOLL" -c "$T/sample.conf" status
"$ETRNPOLL" -c "$T/sample.conf" status > "$T/status0" 2>&1
check "status says no poll recorded" has "$T/status0" 'none recorded'

# --- one poll at a time, and post-poll hooks -----------------------------------
"$LIB/mkca.sh" "$T/ca" "$FAKE_ADDR" >/dev/null
printf 'fake-secret' > "$T/fpw"; chmod 600 "$T/fpw"
cat > "$T/hook.sh" <<'H'
#!/bin/sh
env | sort > "$HOOK_OUT.$ETRNPOLL_HOOK"
echo "hook says hello"
H
chmod 755 "$T/hook.sh"
fake_start lock stall-etrn:1 --fault-sessions 1
cat > "$T/lock.conf" <<C
state-dir = "$T/state-lock"
timeouts { etrn = 4 command = 5 }
relay fake { host = "$FAKE_ADDR" port = $FPORT ca-file = "$T/ca/ca.pem" username = "etrn" password-file = "$T/fpw" domains = { "a.test" } }
hooks { post-poll = { "/usr/bin/env", "HOOK_OUT=$T/env", "$T/hook.sh" } pre-poll = { "/usr/bin/env", "HOOK_OUT=$T/env", "$T/hook.sh" } }
C
"$ETRNPOLL" -c "$T/lock.conf" poll --no-hold 2> "$T/first.err" &
first=$!
wait_for 5 test -s "$T/state-lock/poll.lock"
t0=$(date +%s%N)
expect_exit 0 "a second poll while one runs exits 0 at once" "$ETRNPOLL" -c "$T/lock.conf" poll --no-hold 2> "$T/second.err"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "second poll returned in ${ms} ms (< 1000)" [ $ms -lt 1000 ]
check "second poll says another poll is running, with its pid" has "$T/second.err" "another poll is running \\(pid $first\\)"
rc=0; wait $first || rc=$?
check "the first poll timed out on the stalled ETRN (exit $rc = 75)" [ $rc = 75 ]
check "the relay saw exactly one session during the lock test" [ "$(grep -c CONNECT "$FTRANS")" = 1 ]
printf '{"half": ' > "$T/state-lock/.last-poll.json.2147483.tmp"   # left by a killed writer (no such pid)
"$ETRNPOLL" -c "$T/lock.conf" poll --no-hold 2> "$T/third.err" &
third=$!
sleep 0.3
expect_exit 0 "--wait waits for the running poll, then polls itself" "$ETRNPOLL" -c "$T/lock.conf" --wait 20 poll --no-hold
wait $third || true
check "with --wait: a second session was made after the first ended" [ "$(grep -c CONNECT "$FTRANS")" = 3 ]
check "post-poll hook got ETRNPOLL_EXIT" has "$T/env.post-poll" '^ETRNPOLL_EXIT=0$'
check "post-poll hook got the accepted nodes" has "$T/env.post-poll" '^ETRNPOLL_NODES_OK=a.test$'
check "hook environment is minimal (no HOME, no secrets)" bash -c "! grep -qE '^(HOME|USER|ETRNPOLL_PASSWORD)=|fake-secret' '$T/env.post-poll'"
check "a temp file left by a killed writer is removed" test ! -e "$T/state-lock/.last-poll.json.2147483.tmp"
check "pre-poll hook ran" has "$T/env.pre-poll" '^ETRNPOLL_HOOK=pre-poll$'
check "hook output is in the log" has "$T/third.err" 'hook post-poll /usr/bin/env: hook says hello'
fake_stop
finish
