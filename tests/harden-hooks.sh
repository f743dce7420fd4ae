#!/bin/bash
# SPDX-License-Identifier: ISC
# harden-hooks.sh — hook programs (poller/core/hooks.c run_program/hooks_run),
# configured as  hooks { post-poll = {"/abs/path", "arg"} timeout = N dir = "..." }:
#   - no shell: arguments with $(...), ;, *, quotes and spaces arrive verbatim
#     and nothing is expanded or executed;
#   - a fixed environment (PATH, ETRNPOLL_*), nothing of etrnpoll's own,
#     no inherited descriptors beyond stdin (/dev/null) and the output pipe;
#   - timeout: a hung hook, one that ignores SIGTERM, one that closed its
#     output and one whose child keeps the pipe open are all ended (with
#     their process group) shortly after hooks.timeout; the poll goes on;
#   - output captured to the log: lines, control bytes escaped, long lines
#     cut, a flood of output bounded in time;
#   - failures (missing program, not executable, exit 3, killed) are logged
#     and never change the poll's exit code;
#   - hooks.dir/POINT.d: run-parts rules (order, names, executables only).
# Fake relay on 127.0.0.85 (hardening address plan, doc/HACKING.md).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
FAKE_ADDR=127.0.0.85
"$LIB/mkca.sh" "$T/ca" $FAKE_ADDR >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"
fake_start main normal

# conf NAME HOOKS-SECTION-BODY
conf() {
    etp_conf "$T/$1.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state\"" \
        'timeouts { connect = 5 greeting = 5 command = 5 etrn = 5 tls = 5 quit = 2 }' \
        -s "relay fake" -F "$FAKE_ADDR" -d a.test b.test -- -s hooks "$2"
}
# poll NAME WANT DESC CONF MAXMS
poll() {
    local name=$1 want=$2 d=$3 conf=$4 max=$5
    local t0=$(date +%s%N) rc=0
    # fd 7: a descriptor etrnpoll inherits without close-on-exec; hooks must not get it
    timeout 120 env -i PATH=/usr/bin:/bin HOOK_LEAK=from-parent "$ETRNPOLL" -c "$conf" poll --no-hold \
        > "$T/$name.out" 2> "$T/$name.err" 7< /etc/hostname || rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc, $ms ms)"; else bad "$d (exit $rc, want $want, $ms ms)"; tail -5 "$T/$name.err"; fi
    [ "$ms" -le "$max" ] || bad "$d: took $ms ms (limit $max)"
    LAST_MS=$ms
}
mkhook() { cat > "$T/$1"; chmod 755 "$T/$1"; echo "$T/$1"; }

# --- 1. no shell: arguments verbatim ----------------------------------------------
H=$(mkhook args <<'H'
#!/usr/bin/python3
import json, os, sys
env = dict(v.split("=", 1) for v in open("/proc/self/environ").read().split("\0") if v)
fds = {}
for f in os.listdir("/proc/self/fd"):
    try:
        fds[f] = os.readlink("/proc/self/fd/" + f)
    except OSError:
        pass            # the directory listing's own descriptor, closed by now
json.dump({"argv": sys.argv[1:], "env": env, "fds": fds}, open(sys.argv[1], "w"))
H
)
rm -f "$T/pwned"
C=$(conf args "post-poll = { \"$H\", \"$T/args.json\", \"\$(touch $T/pwned)\", \"a;touch $T/pwned\", \"*\", \"two words\", \"'q'\", \"\`id\`\" }
pre-poll = { \"$H\", \"$T/pre.json\" }")
poll args 0 "poll with hooks whose arguments hold shell syntax" "$C" 10000
check "no shell ran: nothing was executed from the arguments" [ ! -e "$T/pwned" ]
check "arguments arrive verbatim" $PY - "$T/args.json" "$T" <<'P'
import json, sys
d = json.load(open(sys.argv[1])); t = sys.argv[2]
want = ["$(touch %s/pwned)" % t, "a;touch %s/pwned" % t, "*", "two words", "'q'", "`id`"]
sys.exit(0 if d["argv"][1:] == want else (print(d["argv"]) or 1))
P
check "post-poll env: only PATH and ETRNPOLL_*" $PY -c "
import json,sys,re; e=json.load(open('$T/args.json'))['env']
bad=[k for k in e if k!='PATH' and not k.startswith('ETRNPOLL_')]
sys.exit(1 if bad else 0)"
check "post-poll env: nothing from etrnpoll's parent (HOOK_LEAK)" hasnot "$T/args.json" 'HOOK_LEAK|from-parent'
check "post-poll env: the results (ETRNPOLL_RESULT=ok, nodes ok)" $PY -c "
import json,sys; e=json.load(open('$T/args.json'))['env']
sys.exit(0 if e.get('ETRNPOLL_RESULT')=='ok' and e.get('ETRNPOLL_EXIT')=='0' and e.get('ETRNPOLL_NODES_OK')=='a.test b.test' and e.get('ETRNPOLL_HOOK')=='post-poll' else 1)"
check "pre-poll env: ETRNPOLL_HOOK=pre-poll" $PY -c "
import json,sys; sys.exit(0 if json.load(open('$T/pre.json'))['env'].get('ETRNPOLL_HOOK')=='pre-poll' else 1)"
check "hook inherits only fds 0 (/dev/null), 1 and 2 (the pipe); not etrnpoll's fd 7" $PY -c "
import json,sys; f=json.load(open('$T/args.json'))['fds']
rest=sorted(f)
ok = rest==['0','1','2'] and f['0']=='/dev/null' and f['1'].startswith('pipe:') and f['1']==f['2']
sys.exit(0 if ok else (print(f) or 1))"

# --- 2. timeouts --------------------------------------------------------------------
# gone PIDFILE...: every process whose pid is in the files has ended
gone() { local f; for f in "$@"; do [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 1; done; return 0; }
H=$(mkhook hang <<H
#!/bin/sh
echo \$\$ > $T/hang.pid
echo "hang hook started"
sleep 300 &           # a child in the same process group
echo \$! > $T/hang-child.pid
sleep 301
H
)
C=$(conf hang "post-poll = { \"$H\" } timeout = 2")
poll hang 0 "hung hook: killed after hooks.timeout (2 s), the poll's exit code unchanged" "$C" 6000
[ "$LAST_MS" -ge 1900 ] && ok "hang: ran until the time-out" || bad "hang: ended too early ($LAST_MS ms)"
check "hang: 'killed after 2 s timeout' logged" has "$T/hang.err" 'killed after 2 s timeout'
check "hang: its output was logged first" has "$T/hang.err" 'hang hook started'
check "hang: the hook and its background child are gone (process group killed)" wait_for 2 gone "$T/hang.pid" "$T/hang-child.pid"

H=$(mkhook noterm <<H
#!/bin/sh
trap '' TERM
echo \$\$ > $T/noterm.pid
sleep 302 &
echo \$! > $T/noterm-child.pid
wait
H
)
C=$(conf noterm "post-poll = { \"$H\" } timeout = 1")
poll noterm 0 "hook ignoring SIGTERM: SIGKILLed after the grace second" "$C" 5000
check "noterm: the hook and its child are gone" wait_for 2 gone "$T/noterm.pid" "$T/noterm-child.pid"

H=$(mkhook closed <<H
#!/bin/sh
echo \$\$ > $T/closed.pid
exec >/dev/null 2>&1
sleep 303
H
)
C=$(conf closed "post-poll = { \"$H\" } timeout = 1")
poll closed 0 "hook that closed its output and hangs: still timed out" "$C" 5000
check "closed: gone" wait_for 2 gone "$T/closed.pid"

H=$(mkhook daemon <<H
#!/bin/sh
setsid sleep 304 &   # escapes the process group but holds the pipe
echo \$! > $T/daemon-child.pid
exit 0
H
)
C=$(conf daemon "post-poll = { \"$H\" } timeout = 2")
poll daemon 0 "hook whose detached child holds the output pipe: bounded by the time-out" "$C" 6000
[ -s "$T/daemon-child.pid" ] && kill "$(cat "$T/daemon-child.pid")" 2>/dev/null

# --- 3. output captured ----------------------------------------------------------------
H=$(mkhook out <<'H'
#!/usr/bin/python3
import sys
print("line one")
print("ctl: \x1b[31mred\x07 bell \x00 nul")
sys.stdout.write("x" * 3000 + "\n")
sys.stderr.write("to stderr\n")
sys.stdout.write("no newline at the end")
H
)
C=$(conf out "post-poll = { \"$H\" }")
poll out 0 "hook output" "$C" 10000
check "out: stdout lines logged with the hook's name" has "$T/out.err" "hook post-poll $H: line one"
check "out: stderr captured too" has "$T/out.err" 'hook post-poll .*: to stderr'
check "out: control bytes escaped" has "$T/out.err" 'ctl: \\x1b\[31mred\\x07 bell \\x00 nul'
check "out: no raw control byte reaches the log" bash -c "! grep -aP '[\\x00-\\x08\\x0b-\\x1f\\x7f]' '$T/out.err'"
check "out: a 3000-byte line is cut into bounded log lines" bash -c "[ \$(awk '{ if (length > m) m = length } END { print m }' '$T/out.err') -lt 2100 ]"
check "out: the last line without newline is logged" has "$T/out.err" 'no newline at the end'

H=$(mkhook flood <<'H'
#!/bin/sh
head -c 4000000 /dev/zero | tr '\0' 'y'
H
)
C=$(conf flood "post-poll = { \"$H\" } timeout = 20")
poll flood 0 "hook writing 4 MB without newlines: bounded" "$C" 25000
check "flood: logged in bounded lines" bash -c "[ \$(awk '{ if (length > m) m = length } END { print m }' '$T/flood.err') -lt 2100 ]"

# --- 4. failures never change the exit code ---------------------------------------------
printf '#!/bin/sh\necho not executable\n' > "$T/noexec"; chmod 644 "$T/noexec"
H3=$(mkhook exit3 <<'H'
#!/bin/sh
exit 3
H
)
for case in "missing:$T/does-not-exist" "noexec:$T/noexec" "exit3:$H3"; do
    n=${case%%:*} p=${case#*:}
    C=$(conf f-$n "post-poll = { \"$p\" }")
    poll f-$n 0 "failing hook ($n): logged, exit code unchanged" "$C" 10000
    check "failing hook ($n): warned" has "$T/f-$n.err" "warning: hook post-poll $p: (failed to run or timed out|exited non-zero)"
done
check "missing hook: cannot execute explained" has "$T/f-missing.err" 'cannot execute .*No such file'
check "relative hook path refused by the config" bash -c "
    sed 's|post-poll = { \"$H3\" }|post-poll = { \"bin/true\" }|' '$T/f-exit3.conf' > '$T/rel.conf'
    ! '$ETRNPOLL' -c '$T/rel.conf' check > /dev/null 2> '$T/rel.err' && grep -q 'absolute path' '$T/rel.err'"

# --- 5. hooks.dir: run-parts rules ----------------------------------------------------------
D=$T/hooks.d
mkdir -p "$D/post-poll.d"
for n in 20-second 10-first 30-third; do
    printf '#!/bin/sh\necho %s >> %s/order\n' "$n" "$T" > "$D/post-poll.d/$n"; chmod 755 "$D/post-poll.d/$n"
done
printf '#!/bin/sh\necho dotted >> %s/order\n' "$T" > "$D/post-poll.d/15-x.sh"; chmod 755 "$D/post-poll.d/15-x.sh"
printf '#!/bin/sh\necho backup >> %s/order\n' "$T" > "$D/post-poll.d/25-y~"; chmod 755 "$D/post-poll.d/25-y~"
printf '#!/bin/sh\necho noexec >> %s/order\n' "$T" > "$D/post-poll.d/26-noexec"; chmod 644 "$D/post-poll.d/26-noexec"
mkdir "$D/post-poll.d/27-dir"
rm -f "$T/order"
C=$(conf dir "dir = \"$D\"")
poll dir 0 "hooks.dir post-poll.d" "$C" 10000
check "dir: executables run in lexical order, others skipped" [ "$(tr '\n' ' ' < "$T/order")" = "10-first 20-second 30-third " ]

fake_stop
check "no password in any log" bash -c "! grep -l 'fake-secret' $T/*.err"
finish
