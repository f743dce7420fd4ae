#!/bin/bash
# SPDX-License-Identifier: ISC
# cli.sh — command line, sample config, status, the poll lock, post-poll hooks.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
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

# --- one option parser: the same validation before and after the command ------
# (issue 9/15: `poll -a 'not-an-ip;x'` used to run and publish the string)
cp "$T/sample.conf" "$T/v.conf"
sed -i "s|$T/state|$T/state-v|" "$T/v.conf"
for pos in before after; do
    while IFS='|' read -r what args; do
        # shellcheck disable=SC2086
        if [ $pos = before ]; then set -- $args poll; else set -- poll $args; fi
        rc=0; "$ETRNPOLL" -c "$T/v.conf" "$@" > "$T/val.out" 2> "$T/val.err" || rc=$?
        opt=${args%% *}; opt=${opt%%=*}
        check "$what, $pos the command: exit $rc = 64, names $opt" \
            bash -c "[ $rc = 64 ] && grep -qF -- '$opt' '$T/val.err' && [ \$(wc -l < '$T/val.err') = 1 ]"
    done <<'V'
-a not-an-ip;x|-a not-an-ip;x
--local-address 999.1.1.1|--local-address 999.1.1.1
--local-address=1.2.3.4.5|--local-address=1.2.3.4.5
-w abc|-w abc
--wait -1|--wait -1
--wait 86401|--wait 86401
--wait=+5|--wait=+5
-i with a slash|-i ppp/0
-i too long|-i abcdefghijklmnopq
-t with ;|-t hook;rm
--node bad..test|--node bad..test
--relay empty|--relay=
unknown long option|--frobnicate
unknown short option|-Z
flag with a value|--no-hold=yes
V
done
expect_exit 64 "a value missing at the end" "$ETRNPOLL" -c "$T/v.conf" poll --trigger
check "... says which option needs it" bash -c "'$ETRNPOLL' -c '$T/v.conf' poll --trigger 2>&1 | grep -qx 'etrnpoll: --trigger needs a value (NAME)'"
check "the bad address is named, escaped, in the message" bash -c \
    "'$ETRNPOLL' -c '$T/v.conf' poll -a \$'1.2.3.4\e[31m' 2>&1 | grep -qF 'not an IPv4 or IPv6 address: \"1.2.3.4\\x1b[31m\"'"
check "nothing ran for a refused value: no state written" test ! -e "$T/state-v/last-poll.json"
expect_exit 0 "-V after the command (was rejected)" "$ETRNPOLL" poll -V
expect_exit 0 "--help after the command" "$ETRNPOLL" status --help
expect_exit 64 "an option of another command: --json with poll" "$ETRNPOLL" -c "$T/v.conf" poll --json
"$ETRNPOLL" -c "$T/v.conf" poll --json 2> "$T/wrongcmd.err" || true
check "... says whose option it is" has "$T/wrongcmd.err" '^etrnpoll: --json is an option of status, not of poll$'
expect_exit 64 "--force is for ddns only" "$ETRNPOLL" -c "$T/v.conf" poll --force
expect_exit 64 "--connect is for check only, before the command too" "$ETRNPOLL" -c "$T/v.conf" --connect status
expect_exit 64 "two commands" "$ETRNPOLL" -c "$T/v.conf" poll status
expect_exit 64 "check --relay without --connect" "$ETRNPOLL" -c "$T/v.conf" check --relay isp
"$ETRNPOLL" --help > "$T/help2" 2>&1
check "--help lists every command, ddns too" bash -c "for c in poll check status ddns run; do grep -q \"^  \$c \" '$T/help2' || exit 1; done"
check "--help lists every option" bash -c "for o in config verbose quiet debug syslog interface local-address trigger wait no-hold no-ddns relay node dry-run force connect json help version; do grep -q -- \"--\$o\" '$T/help2' || { echo missing \$o; exit 1; }; done"
# valid values in both positions: a dry run parses them and prints the plan
for pos in before after; do
    if [ $pos = before ]; then set -- -i ppp0 -a 192.0.2.7 -a 2001:db8::7 -t hook -w 5 poll --dry-run
    else set -- poll --dry-run -i ppp0 --local-address=192.0.2.7 -a 2001:DB8:0::7 --trigger=hook --wait 5; fi
    rc=0; "$ETRNPOLL" -c "$T/v.conf" "$@" > "$T/dry-$pos.out" 2>&1 || rc=$?
    check "valid values $pos the command are taken (exit $rc)" \
        bash -c "[ $rc = 0 ] && grep -q '^trigger hook, interface ppp0, address 192.0.2.7$' '$T/dry-$pos.out'"
done

# --- --version ---------------------------------------------------------------
"$ETRNPOLL" -c "$T/v.conf" --version > "$T/version" 2>&1
check "--version: the configuration file in use" has "$T/version" "^configuration file: $T/v.conf\$"
check "--version: the state directory of that configuration" has "$T/version" "^state directory: $T/state-v \(from the configuration\)\$"
"$ETRNPOLL" -c "$T/nonexistent.conf" -V > "$T/version2" 2>&1
check "--version without a readable configuration: the default state directory" has "$T/version2" '^state directory: /.* by default'
check "--version: GnuTLS, libcurl, GNU SASL versions" has "$T/version" '^GnuTLS [0-9.]+, libcurl [0-9.]+ \(.*\), GNU SASL [0-9.]+'
check "--version: the SASL mechanisms usable here" has "$T/version" '^SASL mechanisms usable in auth-mechanisms: .*SCRAM-SHA-256.*PLAIN'

# --- check warnings (issue 11, 12) ---------------------------------------------
cat > "$T/warn.conf" <<C
ehlo-name = "vm"
state-dir = "$T/state-w"
relay smtps { host = "192.0.2.1" port = 465 tls = starttls domains = { "a.test" } }
relay sub { host = "192.0.2.2" port = 587 tls = implicit domains = { "b.test" } }
relay mx { host = "192.0.2.3" tls = implicit port = 25 domains = { "c.test", "d.test", "C.TEST" } }
relay good { host = "192.0.2.4" tls = implicit domains = { "e.test" } }
C
rc=0; "$ETRNPOLL" -c "$T/warn.conf" check > "$T/warn.out" 2> "$T/warn.err" || rc=$?
check "warnings do not fail check (exit $rc = 0)" [ $rc = 0 ]
check "warns: port 465 with tls = starttls, says set tls = implicit" has "$T/warn.err" 'warn.conf:3: relay smtps: port 465 .*tls = starttls.*set tls = implicit'
check "warns: port 587 with tls = implicit" has "$T/warn.err" 'warn.conf:4: relay sub: port 587 speaks plain SMTP first.*set tls = starttls'
check "warns: port 25 with tls = implicit" has "$T/warn.err" 'warn.conf:5: relay mx: port 25 speaks plain SMTP'
check "warns: the EHLO name without a dot" has "$T/warn.err" 'EHLO name "vm" has no dot'
check "warns: a duplicate node (case-insensitive) names both entries" has "$T/warn.err" 'relay mx: domain "C.TEST" is listed twice \(entries 1 and 3\)'
check "no warning for implicit TLS on its default port 465" hasnot "$T/warn.err" 'relay good'
check "exactly 5 warnings" [ "$(grep -c . "$T/warn.err")" = 5 ]
check "no warning for the sample config" bash -c "'$ETRNPOLL' -c '$T/sample.conf' check 2>&1 >/dev/null | grep -v 'gw\\.' | grep -c warn | grep -qx 0"

# --- a missing closing quote is reported where the string starts ---------------
printf 'state-dir = "%s"\nrelay a {\n  host = "h\n  ca-file = "/etc/ssl/ca.pem"\n  domains = { "a.test" }\n}\n' "$T/st" > "$T/quote.conf"
"$ETRNPOLL" -c "$T/quote.conf" check 2> "$T/quote.err"; rc=$?
check "unclosed quote: exit $rc = 78" [ $rc = 78 ]
check "unclosed quote: file:line of the opening quote comes first" \
    bash -c "head -1 '$T/quote.err' | grep -q '^$T/quote.conf:3: a quoted string starts here and is not closed on this line'"
ln -s "$T/quote.conf" "$T/quote-link.conf"
"$ETRNPOLL" -c "$T/quote-link.conf" check 2> "$T/quote-link.err" || true
check "unclosed quote in a symlinked configuration: the same line" has "$T/quote-link.err" '^.*quote-link.conf:3: a quoted string starts here'
printf 'relay a {\n  host = "h"\n  domains = { "a.test }\n}\n' > "$T/quote2.conf"
"$ETRNPOLL" -c "$T/quote2.conf" check 2> "$T/quote2.err" || true
check "quote never closed (to end of file): its line" has "$T/quote2.err" 'quote2.conf:3: a quoted string starts here'
printf 'relay a {\n  host = "h"\n  domains = { "a.test" }\n  bogus = 1\n}\n' > "$T/quote3.conf"
"$ETRNPOLL" -c "$T/quote3.conf" check 2> "$T/quote3.err" || true
check "no quote hint for other syntax errors" hasnot "$T/quote3.err" 'quoted string'

# --- status escapes every string from the state files --------------------------
mkdir -p "$T/state-esc"; chmod 700 "$T/state-esc"
sed "s|$T/state|$T/state-esc|" "$T/sample.conf" > "$T/esc.conf"
$PY - "$T/state-esc" <<'PY'
import json, sys, os
d = sys.argv[1]
evil = "x\x1b[31mRED\x1b]8;;http://evil.test/\x07link\x1b]8;;\x07\nlast poll: FAKE all ok"
json.dump({"version": 1, "finished": 1700000000, "exit": 0, "result": evil, "trigger": evil,
           "relays": [{"name": evil, "host": evil, "result": evil, "tls": evil, "auth": evil,
                       "stage": evil, "error": evil,
                       "nodes": [{"node": evil, "result": evil, "code": 250, "reply": evil}]}]},
          open(os.path.join(d, "last-poll.json"), "w"))
json.dump({"end": evil, "ended_ms": 1700000000000, "duration_ms": 5, "connections": 1, "peers": evil},
          open(os.path.join(d, "hold.json"), "w"))
PY
rc=0; "$ETRNPOLL" -c "$T/esc.conf" status > "$T/esc.out" 2>&1 || rc=$?
check "status of a hostile state file: exit $rc = 0" [ $rc = 0 ]
check "status output has no ESC byte (no ANSI colour, no OSC 8 link)" bash -c "! grep -q \$'\\x1b' '$T/esc.out'"
check "status output has no BEL byte" bash -c "! grep -q \$'\\x07' '$T/esc.out'"
check "embedded newlines cannot fake a line" hasnot "$T/esc.out" '^last poll: FAKE'
check "the escaped text is shown (\\x1b, \\x0a)" has "$T/esc.out" 'x\\x1b\[31mRED\\x1b\]8;;http://evil.test/\\x07link.*\\x0alast poll: FAKE'
check "every line of status is printable ASCII" bash -c "! LC_ALL=C grep -q '[^ -~]' '$T/esc.out'"

# --- status --json: last poll, DDNS and hold in one valid JSON object ----------
echo '{"version": 1, "entries": {"gw": {"addr4": "192.0.2.9", "result": "good\u001b[2J"}}}' > "$T/state-esc/ddns.json"
"$ETRNPOLL" -c "$T/esc.conf" status --json > "$T/esc.json" 2>&1; rc=$?
check "status --json: exit $rc = 0, valid JSON with last_poll, ddns, hold" $PY -c "
import json, sys
o = json.load(open(sys.argv[1]))
assert o['version'] == 2
assert o['last_poll']['relays'][0]['nodes'][0]['code'] == 250
assert o['ddns']['entries']['gw']['addr4'] == '192.0.2.9'
assert o['hold']['connections'] == 1
assert '\x1b' in o['last_poll']['result']" "$T/esc.json"
check "status --json: raw control bytes are escaped (\\u001b), none on the terminal" bash -c "! grep -q \$'\\x1b' '$T/esc.json' && grep -q 'u001b' '$T/esc.json'"
"$ETRNPOLL" -c "$T/sample.conf" status --json > "$T/empty.json" 2>&1
check "status --json with nothing recorded: nulls" $PY -c "
import json, sys
o = json.load(open(sys.argv[1])); assert o['last_poll'] is None and o['ddns'] is None and o['hold'] is None" "$T/empty.json"
printf '[1,2' > "$T/state-esc/hold.json"; printf '"just a string"' > "$T/state-esc/last-poll.json"
rc=0; "$ETRNPOLL" -c "$T/esc.conf" status > "$T/esc2.out" 2>&1 || rc=$?
check "status with a damaged and a non-object state file: exit $rc = 0, no (null)" \
    bash -c "[ $rc = 0 ] && ! grep -q '(null)' '$T/esc2.out' && grep -q 'last poll: none recorded' '$T/esc2.out'"
check "status --json stays valid with them" bash -c "'$ETRNPOLL' -c '$T/esc.conf' status --json | $PY -c 'import json,sys; json.load(sys.stdin)'"

# --- out of memory while loading the configuration -----------------------------
# An LD_PRELOAD shim fails strdup() calls made by etrnpoll itself (not by
# libconfuse or libc) for one chosen string.
cat > "$T/oom.c" <<'CC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
char *strdup(const char *s)
{
    static char *(*real)(const char *);
    if (!real)
        real = (char *(*)(const char *))dlsym(RTLD_NEXT, "strdup");
    const char *m = getenv("OOM_STRDUP");
    Dl_info di;
    if (m && strcmp(s, m) == 0 && dladdr(__builtin_return_address(0), &di) && di.dli_fname &&
        !strstr(di.dli_fname, ".so")) {
        errno = ENOMEM;
        return NULL;
    }
    return real(s);
}
CC
if cc -shared -fPIC -o "$T/oom.so" "$T/oom.c" -ldl 2> "$T/oom.cc.err"; then
    # (an ASan build: the shim must come before ASan's own strdup interceptor;
    # verify_asan_link_order=0 lets it)
    PRE=$T/oom.so
    for s in example.org isp "$T/state-v"; do
        rc=0; ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$PRE OOM_STRDUP=$s "$ETRNPOLL" -c "$T/v.conf" check > "$T/oom.out" 2> "$T/oom.err" || rc=$?
        check "strdup(\"$(basename "$s")\") fails at load: exit $rc = 78 and a clear message" \
            bash -c "[ $rc = 78 ] && grep -q 'out of memory while loading the configuration; nothing was changed' '$T/oom.err'"
    done
    rc=0; ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$PRE OOM_STRDUP=not-used "$ETRNPOLL" -c "$T/v.conf" check > /dev/null 2>&1 || rc=$?
    check "the shim itself changes nothing when no string matches (exit $rc = 0)" [ $rc = 0 ]
else
    bad "could not build the strdup shim: $(cat "$T/oom.cc.err")"
fi
finish
