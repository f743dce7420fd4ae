#!/bin/bash
# SPDX-License-Identifier: ISC
# harden-secrets.sh — the relay password never leaves where it belongs:
#   - not in the log (-v transcript, --debug), `status`, `status --json`,
#     the state files, in clear or base64 (AUTH PLAIN / LOGIN payloads);
#   - not in the process title or environment (/proc/PID/cmdline, environ),
#     nor in the environment of hook programs (a hook dumps its own env);
#   - the running poll is not dumpable: run as an unprivileged user, its
#     /proc files belong to root and that user cannot read its memory
#     (ptrace/gcore/core dump), while a control process of the same user can;
#   - in memory no copy remains after AUTH (GNU SASL's copies and the raw
#     SASL response are wiped; the log redactor keeps keyed hashes only):
#     counted in a live image of the stalled poll (/proc/PID/mem, as root);
#   - a relay echoing the password (backslash, control and non-ASCII bytes;
#     or placed across the transcript's line limit) gets it into neither
#     the -v transcript nor syslog (a private /dev/log) nor the state file;
#   - secret files: 0600/0640, owned by root or the user etrnpoll runs as,
#     regular file (no symlink, FIFO, device, directory), one line.
# Fake relays on 127.0.0.81 (hardening address plan, doc/HACKING.md).
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
A=127.0.0.81
PW='Pw-h4rden-S3cret-0123456789-abcdefghij-KLMNOP'   # > 16 bytes: malloc metadata cannot hide a copy
TAIL='abcdefghij-KLMNOP'                              # what survives of an unwiped freed copy
"$LIB/mkca.sh" "$T/ca" $A >/dev/null
printf '%s' "$PW" > "$T/pw"; chmod 600 "$T/pw"
B64_PLAIN=$(printf '\0etrn\0%s' "$PW" | base64 -w0)
B64_PW=$(printf '%s' "$PW" | base64 -w0)

# fake NAME SCENARIO [options]: sets FPORT FTRANS FPID
fake() {
    local name=$1 scen=$2; shift 2
    FAKE_ADDR=$A FAKE_PASSWORD=$PW FAKE_LIFETIME=90 fake_start "$name" "$scen" "$@"
}
fstop() { fake_stop; }
# conf NAME STATEDIR PWFILE [relay lines...] [-- top-level lines...]
conf() {
    local name=$1 sd=$2 pwf=$3; shift 3
    local rl=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do rl+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$sd\"" \
        'timeouts { connect = 5 greeting = 5 command = 5 etrn = 30 tls = 5 quit = 2 }' "$@" \
        -s "relay fake" -r "$A" "$T/ca/ca.pem" etrn "$pwf" "port = $FPORT" \
        -d a.test b.test -- "${rl[@]}" >/dev/null
    chmod 644 "$T/$name.conf"
    echo "$T/$name.conf"
}
# no_secret DESCRIPTION FILE...: neither the password nor its base64 forms
no_secret() {
    local d=$1; shift
    if grep -a -l -e "$PW" -e "$TAIL" -e "$B64_PLAIN" -e "$B64_PW" "$@" >/dev/null 2>&1; then
        bad "$d"; grep -a -n -e "$PW" -e "$TAIL" -e "$B64_PLAIN" -e "$B64_PW" "$@" | head -3
    else
        ok "$d"
    fi
}

# A hook that records its environment, arguments and open files.
cat > "$T/dump-hook" <<'H'
#!/bin/sh
out=$1
tr '\0' '\n' < /proc/$$/environ > "$out.env"
ls -l /proc/$$/fd > "$out.fd" 2>&1
echo "hook ran: $ETRNPOLL_HOOK"
H
chmod 755 "$T/dump-hook"

# --- 1. logs, transcripts, status, state, hook environment ------------------------
fake main normal
for mech in PLAIN LOGIN; do
    C=$(conf $mech "$T/state" "$T/pw" "auth-mechanisms = { \"$mech\" }" -- \
        "hooks { pre-poll = { \"$T/dump-hook\", \"$T/pre-$mech\" } post-poll = { \"$T/dump-hook\", \"$T/post-$mech\" } }")
    rc=0
    env -i PATH=/usr/bin:/bin HOME=/root ETP_PARENT_VAR=parent-only PW_IN_ENV="$PW" \
        "$ETRNPOLL" -c "$C" -v --debug poll --no-hold > "$T/$mech.out" 2> "$T/$mech.err" || rc=$?
    check "AUTH $mech poll succeeds (exit $rc)" [ $rc = 0 ]
    check "AUTH $mech: the relay got the password (the test is real)" has "$FTRANS" "SASL-T .*$TAIL"
    check "AUTH $mech: transcript shows the AUTH line redacted" has "$T/$mech.err" '> (AUTH [A-Z]+ <initial response redacted>|<SASL response redacted>)'
    no_secret "AUTH $mech: password (clear or base64) not in the -v --debug output" "$T/$mech.err" "$T/$mech.out"
    for h in pre post; do
        check "$h-poll hook ran" [ -s "$T/$h-$mech.env" ]
        no_secret "$h-poll hook ($mech): password not in its environment" "$T/$h-$mech.env"
        check "$h-poll hook ($mech): parent environment not passed on" hasnot "$T/$h-$mech.env" 'ETP_PARENT_VAR|PW_IN_ENV|^HOME='
        check "$h-poll hook ($mech): only PATH and ETRNPOLL_* variables" \
            bash -c "! grep -vE '^(PATH|ETRNPOLL_[A-Z_]+)=' '$T/$h-$mech.env' | grep -q ."
        check "$h-poll hook ($mech): no inherited socket or state file" \
            bash -c "! grep -E 'socket:|\\.lock|state' '$T/$h-$mech.fd'"
    done
done
"$ETRNPOLL" -c "$T/PLAIN.conf" status > "$T/status.out" 2>&1
"$ETRNPOLL" -c "$T/PLAIN.conf" status --json > "$T/status.json" 2>&1
check "status shows the poll" has "$T/status.out" 'a\.test'
no_secret "status output has no password" "$T/status.out" "$T/status.json"
no_secret "state files have no password" $(find "$T/state" -type f)
"$ETRNPOLL" -c "$T/PLAIN.conf" -v check --connect > "$T/check.out" 2> "$T/check.err" || true
no_secret "check --connect output has no password" "$T/check.out" "$T/check.err"
fstop

# --- 2. a poll stalled after AUTH: process title, environment, memory ----------------
# live_copies PID: occurrences of the password tail in the writable memory of PID
live_copies() {
    $PY - "$1" "$TAIL" <<'P'
import sys
pid, needle = sys.argv[1], sys.argv[2].encode()
CHUNK, HUGE = 1 << 20, 1 << 30   # skip reservations over 1 GiB (ASan's shadow memory)
n = 0
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        rng, perms = line.split()[:2]
        if "r" not in perms or "w" not in perms:
            continue
        lo, hi = (int(x, 16) for x in rng.split("-"))
        if hi - lo > HUGE:
            continue
        tail = b""
        for at in range(lo, hi, CHUNK):
            try:
                mem.seek(at)
                buf = tail + mem.read(min(CHUNK, hi - at))
            except (OSError, ValueError, OverflowError):
                tail = b""
                continue
            n += buf.count(needle)
            tail = buf[-(len(needle) - 1):]   # a copy across the chunk border
print(n)
P
}
fake stall stall-etrn
for mech in PLAIN LOGIN; do
    C=$(conf stall-$mech "$T/state-stall" "$T/pw" "auth-mechanisms = { \"$mech\" }")
    "$ETRNPOLL" -c "$C" poll --no-hold > /dev/null 2> "$T/stall-$mech.err" &
    P=$!
    on_exit "kill $P"
    if wait_for 15 grep -q "T ETRN a.test" "$FTRANS"; then
        check "stalled poll ($mech): cmdline has no password" bash -c "! tr '\0' '\n' < /proc/$P/cmdline | grep -qF -e '$PW' -e '$TAIL'"
        check "stalled poll ($mech): environ has no password" bash -c "! tr '\0' '\n' < /proc/$P/environ | grep -qF -e '$PW' -e '$TAIL'"
        n=$(live_copies $P)
        # the log redactor keeps keyed hashes, not the password (issue 15)
        if [ "$n" = 0 ]; then ok "after AUTH $mech no copy of the password is in memory (0; the redactor keeps only hashes)"
        else bad "after AUTH $mech the password is in memory $n times (want 0)"; fi
    else
        bad "stalled poll ($mech) did not reach ETRN"; tail -3 "$T/stall-$mech.err"
    fi
    kill $P 2>/dev/null; wait $P 2>/dev/null
    # the next session waits in the fake's queue while this one stalls: restart it
    fstop; fake stall stall-etrn
done
fstop

# --- 3. not dumpable: run as nobody, try to read its memory as nobody ----------------
NB=nobody; NG=$(id -gn nobody)
install -d -o $NB -g $NG -m 700 "$T/state-nobody" "$T/cores-poll" "$T/cores-ctrl"
install -o root -g $NG -m 640 "$T/pw" "$T/pw-grp"      # root-owned, group-readable: allowed
fake dump stall-etrn
C=$(conf dump "$T/state-nobody" "$T/pw-grp")
chmod 755 "$T"
# as_nobody DIR CMD...: run CMD as nobody in DIR with core dumps allowed
# (exec: in "as_nobody ... &" the background subshell becomes CMD, so $! is CMD)
as_nobody() {
    local d=$1; shift
    exec setpriv --reuid=$NB --regid=$NG --clear-groups --reset-env \
        bash -c 'ulimit -c unlimited 2>/dev/null; cd "$0" && exec "$@"' "$d" "$@"
}
as_nobody "$T/cores-poll" "$ETRNPOLL" -c "$C" poll --no-hold > /dev/null 2> "$T/dump.err" &
P=$!
on_exit "kill $P"
as_nobody "$T/cores-ctrl" sleep 30 &
CTRL=$!
on_exit "kill $CTRL"
# try_mem PID: can user nobody open the memory of PID (what ptrace/gcore need)?
try_mem() { setpriv --reuid=$NB --regid=$NG --clear-groups $PY -c "
try:
    open('/proc/$1/mem', 'rb').close(); print('readable')
except OSError as e:
    print('denied')"; }
if wait_for 15 grep -q "T ETRN a.test" "$FTRANS"; then
    check "poll runs as nobody" bash -c "grep -q '^Uid:.*\b65534\b' /proc/$P/status && grep -q '^Name:.*etrnpoll' /proc/$P/status"
    check "poll as nobody: /proc/PID/environ owned by root (not dumpable)" [ "$(stat -c %u /proc/$P/environ)" = 0 ]
    check "control process of nobody: /proc/PID/environ owned by nobody" [ "$(stat -c %U /proc/$CTRL/environ)" = $NB ]
    check "poll as nobody: nobody cannot read its memory (no ptrace, no gcore)" [ "$(try_mem $P)" = denied ]
    check "control process: nobody can read its memory (the check works)" [ "$(try_mem $CTRL)" = readable ]
    pat=$(cat /proc/sys/kernel/core_pattern)
    case $pat in
        /*|\|*) echo "note: core_pattern is '$pat' (not a file in the cwd): core dump files not compared" ;;
        *)
            kill -SEGV $P $CTRL; wait $P $CTRL 2>/dev/null
            if [ -n "$(ls "$T/cores-ctrl")" ]; then
                ok "control process of nobody leaves a core dump on SIGSEGV"
                check "poll as nobody leaves no core dump on SIGSEGV (dumpable 0)" [ -z "$(ls "$T/cores-poll")" ]
            else
                echo "note: no core file even for the control process (RLIMIT_CORE/fs): core files not compared"
            fi ;;
    esac
else
    bad "poll as nobody did not reach ETRN"; tail -5 "$T/dump.err"
fi
kill $P $CTRL 2>/dev/null; wait $P $CTRL 2>/dev/null
fstop

# --- 3b. a relay echoing awkward secrets: -v transcript and syslog (issue 15) -------------
# with_syslog OUT CMD...: run CMD with /dev/log served by a datagram socket
# whose messages are appended to OUT (a private /dev in a nested mount
# namespace: the host's /dev is not touched).
cat > "$T/syslogd.py" <<'P'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[2], "w").close()
with open(sys.argv[1], "ab") as f:
    while True:
        f.write(s.recv(65536) + b"\n")
        f.flush()
P
with_syslog() {
    local out=$1; shift
    unshare --mount --propagation private -- /bin/bash -c '
        set -e
        T=$1 out=$2; shift 2
        mkdir -p "$T/olddev"
        mount --bind /dev "$T/olddev"
        mount -t tmpfs -o size=1m,mode=0755 etp-dev /dev
        for n in null zero full random urandom; do : > /dev/$n; mount --bind "$T/olddev/$n" /dev/$n; done
        ln -s /proc/self/fd /dev/fd
        rm -f "$T/syslogd.ready"
        /usr/bin/python3 "$T/syslogd.py" "$out" "$T/syslogd.ready" & sp=$!
        for i in $(seq 100); do [ -e "$T/syslogd.ready" ] && [ -S /dev/log ] && break; sleep 0.05; done
        rc=0; "$@" || rc=$?
        sleep 0.2; kill $sp; wait $sp 2>/dev/null || true
        exit $rc' with_syslog "$T" "$out" "$@"
}
# the secrets: backslash + UTF-8 + control byte; plain ASCII placed across
# the 2 KiB transcript line limit (474 control bytes are 1896 characters escaped)
PW_ODD=$(printf 'Tok\\en-\xc3\xa4-\x01SECRET42-xyzzy')
PW_CUT='Straddle-0123456789-SECRET'
PAD=$(printf '\\x01%.0s' $(seq 474))
for kind in odd cut; do
    if [ $kind = odd ]; then pw=$PW_ODD; echo_text='535 5.7.8 Error: bad password Tok\\en-\xc3\xa4-\x01SECRET42-xyzzy'
    else pw=$PW_CUT; echo_text="535 $PAD$PW_CUT"; fi
    printf '%s' "$pw" > "$T/pw-$kind"; chmod 600 "$T/pw-$kind"
    fake echo-$kind normal --password "$pw" --reply "auth=$echo_text"
    C=$(conf echo-$kind "$T/state-echo-$kind" "$T/pw-$kind" 'auth-mechanisms = { "PLAIN" }')
    rc=0
    with_syslog "$T/echo-$kind.syslog" "$ETRNPOLL" -c "$C" -v --syslog poll --no-hold \
        > "$T/echo-$kind.out" 2> "$T/echo-$kind.err" || rc=$?
    check "echo $kind: AUTH refused by the relay's echoing 535 (exit $rc = 77)" [ $rc = 77 ]
    check "echo $kind: the relay got the password (the test is real)" has "$FTRANS" 'SASL-T .*SECRET'
    check "echo $kind: the echoing reply is in the -v transcript, masked" has "$T/echo-$kind.err" '< 535 .*\*{8}'
    check "echo $kind: syslog got the poll's messages" has "$T/echo-$kind.syslog" 'AUTH PLAIN refused: 535'
    for f in err syslog; do
        check "echo $kind: no piece of the password in the ${f/err/-v output}" \
            bash -c "! grep -a -e SECRET -e 'Straddle-0' -e 'Tok' -e 'x5cen' -e 'xyzzy' '$T/echo-$kind.$f'"
    done
    no_secret "echo $kind: state files have no password" $(find "$T/state-echo-$kind" -type f)
    check "echo $kind: no piece of the password in the state files" \
        bash -c "! grep -a -r -e SECRET -e 'Straddle-0' '$T/state-echo-$kind'"
    fstop
done

# --- 4. secret file rules --------------------------------------------------------------
fake files normal
C0=$(conf files "$T/state-files" "$T/PWFILE")
# chk DESC WANT_EXIT FILE [as-user]: `etrnpoll check` with password-file = FILE
chk() {
    local d=$1 want=$2 f=$3 user=${4:-}
    sed "s|$T/PWFILE|$f|" "$C0" > "$T/files-cur.conf"; chmod 644 "$T/files-cur.conf"
    local rc=0 t0=$(date +%s%N)
    if [ -n "$user" ]; then
        timeout 10 setpriv --reuid=$user --regid=$(id -gn $user) --clear-groups "$ETRNPOLL" -c "$T/files-cur.conf" check > "$T/files.out" 2> "$T/files.err" || rc=$?
    else
        timeout 10 "$ETRNPOLL" -c "$T/files-cur.conf" check > "$T/files.out" 2> "$T/files.err" || rc=$?
    fi
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ $rc = "$want" ]; then ok "$d (exit $rc)"; else bad "$d (exit $rc, want $want, $ms ms)"; cat "$T/files.err" | head -3; fi
}
mk() { printf '%s' "$PW" > "$T/s-$1"; chmod "$2" "$T/s-$1"; echo "$T/s-$1"; }
chk "mode 0600 accepted" 0 "$(mk 600 600)"
chk "mode 0640 accepted" 0 "$(mk 640 640)"
chk "mode 0400 accepted" 0 "$(mk 400 400)"
for m in 644 604 660 620 602 606; do chk "mode 0$m refused" 78 "$(mk $m $m)"; done
check "the refusal says how to fix it" has "$T/files.err" 'chmod 600'
f=$(mk nobody 600); chown nobody "$f"
chk "owned by another user (nobody) refused when running as root" 78 "$f"
check "... and says who owns it" has "$T/files.err" 'owned by uid 65534'
chk "owned by the service user (nobody) accepted when running as nobody" 0 "$f" nobody
f=$(mk rootgrp 640); chgrp $NG "$f"
chk "root-owned 0640 with the service user's group accepted as nobody" 0 "$f" nobody
ln -sf "$T/s-600" "$T/s-link"
chk "symlink refused" 78 "$T/s-link"
mkfifo -m 600 "$T/s-fifo"
chk "FIFO refused at once (no hang waiting for a writer)" 78 "$T/s-fifo"
check "FIFO: not a regular file" has "$T/files.err" 'not a regular file'
mkdir -m 700 "$T/s-dir"
chk "directory refused" 78 "$T/s-dir"
chk "device (/dev/zero) refused" 78 /dev/zero
head -c 5000 /dev/zero | tr '\0' x > "$T/s-big"; chmod 600 "$T/s-big"
chk "file over 4096 bytes refused" 78 "$T/s-big"
: > "$T/s-empty"; chmod 600 "$T/s-empty"
chk "empty file refused" 78 "$T/s-empty"
printf 'a-password\nsecond line\n' > "$T/s-2l"; chmod 600 "$T/s-2l"
chk "two lines refused" 78 "$T/s-2l"
printf 'a-pass\0word' > "$T/s-nul"; chmod 600 "$T/s-nul"
chk "NUL byte refused" 78 "$T/s-nul"
printf '%s\r\n' "$PW" > "$T/s-crlf"; chmod 600 "$T/s-crlf"
chk "one line with CRLF accepted" 0 "$T/s-crlf"
chk "missing file refused" 78 "$T/does-not-exist"
# and a poll with the CRLF file authenticates with the password without CR LF
sed "s|$T/PWFILE|$T/s-crlf|" "$C0" > "$T/crlf.conf"
expect_exit 0 "poll with the CRLF-terminated secret authenticates" "$ETRNPOLL" -c "$T/crlf.conf" poll --no-hold 2> "$T/crlf.err"
no_secret "no secret in any check output" "$T/files.err" "$T/files.out" "$T/crlf.err"
fstop
finish
