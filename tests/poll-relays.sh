#!/bin/bash
# SPDX-License-Identifier: ISC
# poll-relays.sh — the ETRN session policy against scripted stand-ins for
# what the real relays do and no real server here can be made to do on
# request (the real Exim and Sendmail runs are tests/relay-exim.sh and
# tests/relay-sendmail.sh): PMDF's per-session limit (both replies), Exim's
# non-mail limit (554 in cleartext inside TLS + drop) and its built-in ETRN
# (#queue only, drop after the 4th 501), Sendmail's ETRN tarpit, Exim's
# "458 Already processing", a relay without ETRN, 253 counts, a
# one-ETRN-per-session relay with more nodes than the old 16-session cap,
# the poll deadline, a relay that never answers NOOP during the hold, and
# opt-in pipelined ETRN (etrn-pipelining = yes: one write, the same per-node
# results as lock-step, the fall-back at a limit, a drop, a tarpit or a reply
# out of shape, nothing pipelined without PIPELINING or after a limit).
# Every node must be released; times are printed (ms) for the notes.
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib/common.sh"
need_root
need_binary
"$LIB/mkca.sh" "$T/ca" "$FAKE_ADDR" >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"

# nodes N [prefix]: '"n1.test", ..., "nN.test"'
nodes() {
    local n=$1 p=${2:-n} out="" i
    for ((i=1; i<=n; i++)); do out="$out${out:+, }\"$p$i.test\""; done
    echo "$out"
}
# fconf NAME DOMAINS [top-level lines...] -- [relay lines...]
fconf() {
    local name=$1 doms=$2; shift 2
    local top=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do top+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    etp_conf "$T/$name.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/state-$name\"" \
        'timeouts { connect = 5 greeting = 5 command = 5 etrn = 5 tls = 5 quit = 2 }' "${top[@]}" \
        -s "relay fake" -F "$FAKE_ADDR" "domains = { $doms }" "$@"
}
# run NAME WANT_EXIT DESCRIPTION CONF [etrnpoll args]: poll (no hold unless
# args say otherwise), check the exit code; sets MS (duration).
run() {
    local name=$1 want=$2 d=$3 conf=$4; shift 4
    local t0=$(date +%s%N) rc=0
    [ $# -gt 0 ] || set -- --no-hold
    timeout 60 "$ETRNPOLL" -c "$conf" -v poll "$@" > "$T/$name.out" 2> "$T/$name.err" || rc=$?
    MS=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc, ${MS} ms)"; else bad "$d (exit $rc, want $want, ${MS} ms)"; tail -8 "$T/$name.err"; fi
}
state() { json "$1" "$T/state-$2/last-poll.json"; }
# count_result NAME RESULT: nodes of relay 0 with that result
count_result() {
    $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for n in d["relays"][0]["nodes"] if n["result"]==sys.argv[2]))' \
        "$T/state-$1/last-poll.json" "$2"
}
learned() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["relays"]["fake"].get(sys.argv[2], ""))' "$T/state-$1/learned.json" "$2" 2>/dev/null; }

# --- PMDF: per-session ETRN limit, newer (458) and older (550) reply ---------
for v in 458:'458 4.7.1 ETRN session limit reached' 550:'550 5.7.1 ETRN session limit reached'; do
    code=${v%%:*}; text=${v#*:}
    fake_start pmdf$code etrn-limit:5 --limit-reply "$text"
    C=$(fconf pmdf$code "$(nodes 20)")
    run pmdf$code 0 "PMDF $code limit after 5 ETRNs, 20 nodes" "$C"
    check "PMDF $code: all 20 nodes accepted" [ "$(count_result pmdf$code ok)" = 20 ]
    check "PMDF $code: 4 sessions of 5 ETRNs" [ "$(state relays.0.sessions pmdf$code)" = 4 ]
    check "PMDF $code: learned 5 per session" [ "$(learned pmdf$code per_session)" = 5 ]
    check "PMDF $code: not read as permanent" hasnot "$T/pmdf$code.err" '\(refused\)'
    cp "$FTRANS" "$T/pmdf$code.first"
    run pmdf$code-2 0 "PMDF $code second poll uses the learned limit" "$C"
    check "PMDF $code second poll: 4 sessions" [ "$(state relays.0.sessions pmdf$code)" = 4 ]
    check "PMDF $code second poll: 20 ETRNs, none refused by the limit" [ "$(grep -c ' ETRN ' "$FTRANS")" = 41 ]
    fake_stop
done

# --- Exim: non-mail limit: 554 in cleartext inside TLS, then drop ------------
fake_start exim exim:10
C=$(fconf exim "$(nodes 20)")
run exim 0 "Exim drops at the 11th non-mail command; 20 nodes" "$C"
EXIM1=$MS
check "Exim: all 20 nodes accepted (11th..20th on the next session)" [ "$(count_result exim ok)" = 20 ]
check "Exim: node 11 accepted after a second try" [ "$(state relays.0.nodes.10.result exim) $(state relays.0.nodes.10.tries exim)" = "ok 2" ]
check "Exim: the fake did drop the session" has "$FTRANS" 'EVENT nonmail-limit 10'
check "Exim: learned 10 per session (drop)" [ "$(learned exim per_session) $(learned exim why)" = "10 drop" ]
cp "$FTRANS" "$T/exim.first"
run exim-2 0 "Exim second poll: reconnects before the limit" "$C"
check "Exim second poll: no drop, 2 sessions" [ "$(grep -c 'nonmail-limit' "$FTRANS") $(state relays.0.sessions exim)" = "1 2" ]
$ETRNPOLL -c "$C" status > "$T/exim.status" 2>&1
check "status shows the learned limit" has "$T/exim.status" 'relay fake: learned 10 ETRNs per session \(drop'
# any change to the relay's section forgets what was learned
sed -i 's/^  domains = {/  timeouts { etrn = 6 }\n  domains = {/' "$C"
$ETRNPOLL -c "$C" status > "$T/exim2.status" 2>&1
check "changed relay section: the learned limit is forgotten" has "$T/exim2.status" 'relay fake: no ETRN session limit seen'
fake_stop

# --- QUIT does not wait for a 221 that does not come -------------------------
fake_start quit stall --where quit
C=$(fconf quit '"a.test"' -- "timeouts { quit = 20 }")
run quit 0 "relay that never answers QUIT (quit time-out 20 s)" "$C"
check "QUIT: the poll ended within 3 s (${MS} ms)" [ "$MS" -lt 3000 ]
fake_stop

# --- Exim built-in ETRN: #queue only; drop after the 4th 501 ------------------
fake_start eximb exim-builtin
C=$(fconf eximb '"a.test", "#q1", "b.test", "c.test", "d.test", "e.test", "#q2"')
run eximb 78 "Exim built-in ETRN: domains are config errors, #queue accepted" "$C"
check "built-in: a.test config-error with the #name hint" bash -c '[ "$1" = config-error ] && [[ "$2" == *"#name"* ]]' _ \
    "$(state relays.0.nodes.0.result eximb)" "$(state relays.0.nodes.0.reply eximb)"
check "built-in: #q1 accepted" [ "$(state relays.0.nodes.1.result eximb)" = ok ]
check "built-in: the 4th 501 dropped the session" has "$FTRANS" 'EVENT synprot-limit'
check "built-in: e.test still answered (next session)" [ "$(state relays.0.nodes.5.result eximb)" = config-error ]
check "built-in: #q2 after it accepted" [ "$(state relays.0.nodes.6.result eximb)" = ok ]
check "built-in: no limit learned from syntax errors" [ -z "$(learned eximb per_session)" ]
fake_stop

# --- Sendmail: ETRN tarpit from the 8th ETRN ---------------------------------
fake_start tarpit sendmail-tarpit:8
C=$(fconf tarpit "$(nodes 18)")
run tarpit 0 "Sendmail tarpit from the 8th ETRN, 18 nodes" "$C"
TARPIT1=$MS
check "tarpit: all 18 nodes accepted" [ "$(count_result tarpit ok)" = 18 ]
check "tarpit: first poll under 30 s (${TARPIT1} ms; measured before: 969 s)" [ "$TARPIT1" -lt 30000 ]
check "tarpit: learned 7 per session (tarpit)" [ "$(learned tarpit per_session) $(learned tarpit why)" = "7 tarpit" ]
n1=$(grep -c 'EVENT tarpit' "$FTRANS")
run tarpit-2 0 "Sendmail tarpit, second poll with the learned limit" "$C"
TARPIT2=$MS
check "tarpit second poll: no delayed reply at all, 3 sessions (${TARPIT2} ms)" [ "$(grep -c 'EVENT tarpit' "$FTRANS") $(state relays.0.sessions tarpit)" = "$n1 3" ]
fake_stop
# the admin's max-etrn-per-session still wins over the learned value
fake_start tarpit3 sendmail-tarpit:8
C=$(fconf tarpit3 "$(nodes 18)" -- "max-etrn-per-session = 4")
run tarpit3 0 "max-etrn-per-session = 4 on the tarpit relay" "$C"
check "max-etrn-per-session: 5 sessions, no tarpit seen" [ "$(state relays.0.sessions tarpit3) $(grep -c 'EVENT tarpit' "$FTRANS")" = "5 0" ]
fake_stop

# --- 253 counts, only where RFC 1985 puts them --------------------------------
fake_start c253 etrn-codes --etrn-reply 'a.test=253 OK, 4 pending messages for node a.test started' \
    --etrn-reply 'mx2.example.test=253 OK, pending messages for node mx2.example.test started'
C=$(fconf c253 '"a.test", "mx2.example.test"')
run c253 0 "253 replies" "$C"
check "253: count 4 from the RFC 1985 place" [ "$(state relays.0.nodes.0.count c253)" = 4 ]
check "253: mx2.example.test gives no count" bash -c "! $PY -c 'import json,sys; sys.exit(0 if \"count\" in json.load(open(\"$T/state-c253/last-poll.json\"))[\"relays\"][0][\"nodes\"][1] else 1)'"
fake_stop

# --- a relay that does not offer ETRN (OpenSMTPD answers 500) ----------------
fake_start noetrn no-etrn --reply 'etrn=500 5.5.1 Invalid command: Command unrecognized'
C=$(fconf noetrn '"a.test", "b.test", "c.test"')
run noetrn 69 "relay without ETRN (500)" "$C"
check "no-etrn: says so and what to do" has "$T/noetrn.err" 'relay fake does not offer ETRN \(RFC 1985\); ask the ISP or use another relay'
check "no-etrn: one ETRN only, not one per node" [ "$(grep -c ' ETRN ' "$FTRANS")" = 1 ]
check "no-etrn: nodes not-offered" [ "$(count_result noetrn not-offered)" = 3 ]
rc=0; "$ETRNPOLL" -c "$C" check --connect > "$T/noetrn-check.out" 2> "$T/noetrn-check.err" || rc=$?
check "check --connect: exit 69 (rc $rc)" [ "$rc" = 69 ]
check "check --connect: says it before any ETRN" bash -c \
    "grep -q 'does not offer ETRN (RFC 1985); ask the ISP' '$T/noetrn-check.err' && [ \$(grep -c ' ETRN ' '$FTRANS') = 1 ]"
# a TLS failure against such a relay names what the first EHLO showed
sed -e "s|$T/ca/ca.pem|$T/ca/other-ca.pem|" -e "s|state-noetrn|state-noetrn-tls|" "$C" > "$T/noetrn-tls.conf"
run noetrn-tls 76 "TLS failure against a relay without ETRN" "$T/noetrn-tls.conf"
check "TLS failure: says the first EHLO lacked ETRN" has "$T/noetrn-tls.err" "first EHLO did not offer ETRN either"
fake_stop

# --- Exim while still delivering: 458 Already processing ---------------------
fake_start busy etrn-codes --etrn-reply '*=458 Already processing {node}'
C=$(fconf busy '"a.test", "b.test"' "hold { port = 2525 first-contact = 1 max-hold = 5 quiet = 1 }")
run busy 0 "458 Already processing: accepted-in-progress" "$C" --no-ddns
check "busy: in-progress" [ "$(state relays.0.nodes.0.result busy)" = in-progress ]
check "busy: the hold ran ($(state hold busy))" [ -n "$(state hold busy)" ]
fake_stop

# --- one ETRN per session, more nodes than the old 16-session cap ------------
fake_start one etrn-limit:1
C=$(fconf one "$(nodes 20)" "poll-timeout = 30")
run one 0 "one ETRN per session, 20 nodes" "$C"
check "one-per-session: every node accepted" [ "$(count_result one ok)" = 20 ]
check "one-per-session: 20 sessions" [ "$(state relays.0.sessions one)" = 20 ]
fake_stop

# --- the poll deadline cuts a slow relay; the next poll starts where it ended -
fake_start slow etrn-limit:1 --greeting-delay 1
C=$(fconf slow "$(nodes 14)" "poll-timeout = 10")
run slow 75 "poll-timeout = 10 on a relay with a 1 s greeting and one ETRN per session" "$C"
check "deadline: the poll ended within poll-timeout + 2 s (${MS} ms)" [ "$MS" -lt 12000 ]
got1=$(count_result slow ok)
na=$($PY -c 'import json,sys; n=json.load(open(sys.argv[1]))["relays"][0]["nodes"]; print(min([i for i,x in enumerate(n) if x["result"]=="not-attempted"] or [-1]))' "$T/state-slow/last-poll.json")
check "deadline: some nodes accepted ($got1), the rest not attempted from n$((na + 1)).test" bash -c "[ $got1 -gt 2 ] && [ $na -gt 2 ]"
"$ETRNPOLL" -c "$C" status > "$T/slow.status" 2>&1
check "status: a reason for every node" bash -c "! grep -E '^    n[0-9]+\.test +[a-z-]+ *$' '$T/slow.status' && grep -q 'not attempted: poll-timeout reached' '$T/slow.status'"
check "status: says where the next poll starts" has "$T/slow.status" "next poll starts with n$((na + 1))\.test"
run slow-2 75 "second poll starts with the first node not reached" "$C"
check "deadline: the second poll reached n$((na + 1)).test and n14.test" [ "$(state relays.0.nodes.$na.result slow) $(state relays.0.nodes.13.result slow)" = "ok ok" ]
fake_stop

# --- a relay that never answers NOOP cannot stretch the hold -----------------
fake_start noop stall --where noop
C=$(fconf noop '"a.test"' "hold { port = 2525 first-contact = 30 max-hold = 3 }")
run noop 75 "hold max-hold 3 s with a relay that never answers NOOP" "$C" --no-ddns
check "noop: the poll ended by max-hold + 2 s (${MS} ms; was 50.1 s for 30 s)" [ "$MS" -lt 5000 ]
check "noop: no NOOP sent during the hold" hasnot "$FTRANS" ' NOOP$'
check "noop: QUIT at the end" has "$FTRANS" '^#1 T QUIT$'
fake_stop

# --- the hold's confirmation (poll_confirm), driven as the hold calls it ----
PC=${BUILDDIR:-$SRCDIR/build}/tests/poll-confirm
if [ -x "$PC" ]; then
    fake_start conf normal --idle-timeout 2
    C=$(fconf conf '"a.test", "b.test"')
    "$PC" "$C" 0 10 > "$T/conf1.out" 2> "$T/conf1.err"
    check "confirm on the open session: accepted ($(cat "$T/conf1.out"))" has "$T/conf1.out" '^confirm=1 '
    check "confirm on the open session: same session, ETRN a.test twice" bash -c \
        "[ \$(grep -c '^#1 T ETRN a.test$' '$FTRANS') = 2 ] && ! grep -q '^#2 ' '$FTRANS'"
    "$PC" "$C" 3 10 > "$T/conf2.out" 2> "$T/conf2.err"
    check "confirm after the relay timed the idle session out: accepted on a fresh session" bash -c \
        "grep -q '^confirm=1 ' '$T/conf2.out' && [ \$(grep -c '^#3 T ETRN a.test$' '$FTRANS') = 1 ] && grep -q 'closed the idle session' '$T/conf2.err'"
    fake_stop
    fake_start conf251 etrn-codes --etrn-reply '*=251'
    C=$(fconf conf251 '"a.test"')
    "$PC" "$C" 0 10 > "$T/conf3.out" 2> "$T/conf3.err"
    check "confirm with nothing queued: 0, no second ETRN" bash -c \
        "grep -q '^confirm=0 ' '$T/conf3.out' && [ \$(grep -c ' ETRN a.test$' '$FTRANS') = 1 ]"
    fake_stop
    fake_start confbusy etrn-codes --etrn-reply '*=458 Already processing {node}'
    C=$(fconf confbusy '"a.test"')
    "$PC" "$C" 0 10 > "$T/conf4.out" 2> "$T/conf4.err"
    check "confirm while Exim still delivers (458 Already processing): 1" has "$T/conf4.out" '^confirm=1 '
    fake_stop
    fake_start confstall stall-etrn:2
    C=$(fconf confstall '"a.test"' -- "timeouts { etrn = 60 }")
    "$PC" "$C" 0 2 > "$T/conf5.out" 2> "$T/conf5.err"
    ms=$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' "$T/conf5.out")
    check "confirm to a relay that stalls: bounded by the hold's deadline (2 s; took ${ms:-?} ms)" \
        bash -c "grep -q '^confirm=0 ' '$T/conf5.out' && [ '${ms:-99999}' -lt 2600 ]"
    fake_stop
else
    bad "tests/poll-confirm not built ($PC)"
fi

# --- hook lists carry whole node names ---------------------------------------
fake_start hooks normal
long=""; for i in $(seq 1 30); do long="$long${long:+, }\"node-$i-with-a-rather-long-name-for-the-hook-list.example.test\""; done
cat > "$T/hook.sh" <<'H'
#!/bin/sh
env | grep '^ETRNPOLL_NODES' > "$1"
H
chmod 755 "$T/hook.sh"
C=$(fconf hooks "$long" "hooks { post-poll = { \"$T/hook.sh\", \"$T/hook.env\" } }")
run hooks 0 "30 long nodes" "$C"
check "hook: ETRNPOLL_NODES_OK ends with the whole 30th node" has "$T/hook.env" '^ETRNPOLL_NODES_OK=.* node-30-with-a-rather-long-name-for-the-hook-list\.example\.test$'
check "hook: 30 names, count 30" bash -c "[ \$(grep '^ETRNPOLL_NODES_OK=' '$T/hook.env' | tr ' ' '\n' | grep -c 'example.test') = 30 ] && grep -q '^ETRNPOLL_NODES_OK_COUNT=30$' '$T/hook.env'"
fake_stop

# --- opt-in pipelined ETRN (etrn-pipelining = yes, RFC 2920) -----------------
# Each scenario is polled twice from fresh state: lock-step (key absent) and
# pipelined; every node's result, code, reply, tries must be the same.
# nodesig NAME: [node, attempted, result, code, reply, tries] per node
nodesig() { $PY -c 'import json,sys; print(json.dumps([[n.get(k) for k in ("node","attempted","result","code","reply","tries","count")] for n in json.load(open(sys.argv[1]))["relays"][0]["nodes"]]))' "$T/state-$1/last-poll.json"; }
# piped [SESSION]: ETRN lines the fake got before it had answered the line before
piped() { grep -A1 -E "^#${1:-[0-9]+} [CT] ETRN " "$FTRANS" | grep -cE '^#[0-9]+ PIPELINED$'; }
PIPE="etrn-pipelining = yes"
# pipe_pair NAME SCENARIO NNODES WANT_EXIT [fake options...]: lock-step poll
# (NAME-ls), then pipelined (NAME); leaves the fake running, FTRANS = its
# transcript (cut to the pipelined poll: $T/NAME.trans)
pipe_pair() {
    local name=$1 scen=$2 n=$3 want=$4; shift 4
    fake_start "$name-ls" "$scen" "$@"
    run "$name-ls" "$want" "pipelining $name: lock-step poll ($scen, $n nodes)" "$(fconf "$name-ls" "$(nodes "$n")")"
    fake_stop
    fake_start "$name" "$scen" "$@"
    run "$name" "$want" "pipelining $name: etrn-pipelining = yes ($scen, $n nodes)" "$(fconf "$name" "$(nodes "$n")" -- "$PIPE")"
    check "pipelining $name: every node's result, code, reply and tries as lock-step" [ "$(nodesig "$name")" = "$(nodesig "$name-ls")" ]
}

pipe_pair pnormal normal 10 0
check "pipelining: 10 ETRNs in one write, the fake got ETRN 2..10 before answering" \
    bash -c "[ $(piped) = 9 ] && grep -q 'etrn-pipelining: 10 ETRNs in one write' '$T/pnormal.err'"
check "pipelining: all 10 accepted, one session" [ "$(count_result pnormal ok) $(state relays.0.sessions pnormal)" = "10 1" ]
check "key absent: no ETRN pipelined" [ "$(grep -A1 ' ETRN ' "$T/fake-pnormal-ls.transcript" | grep -c PIPELINED)" = 0 ]
fake_stop

fake_start pnopipe no-pipelining
run pnopipe 0 "pipelining: relay without PIPELINING, 10 nodes" "$(fconf pnopipe "$(nodes 10)" -- "$PIPE")"
check "no PIPELINING advertised: one ETRN at a time (none pipelined), all accepted" \
    [ "$(piped) $(count_result pnopipe ok)" = "0 10" ]
check "no PIPELINING advertised: says why, once" [ "$(grep -c 'one ETRN at a time: the relay does not advertise PIPELINING' "$T/pnopipe.err")" = 1 ]
fake_stop

# a limit inside the group (PMDF's 458 after 5): nodes 6..10 go again one at
# a time; the limit is learned; the next poll does not pipeline
pipe_pair plimit etrn-limit:5 10 0
check "limit in a group: all 10 accepted" [ "$(count_result plimit ok)" = 10 ]
check "limit in a group: learned 5 per session (limit)" [ "$(learned plimit per_session) $(learned plimit why)" = "5 limit" ]
check "limit in a group: n2..n6 pipelined in session 1 ($(piped 1) seen), none in session 2, 2 sessions" \
    bash -c "[ $(piped 1) -ge 5 ] && [ '$(piped 2) $(state relays.0.sessions plimit)' = '0 2' ]"
check "limit in a group: says it stopped and resends the 4 unknown" has "$T/plimit.err" \
    'etrn-pipelining stopped for this poll: ETRN n6.test must go again on a new session; 4 ETRNs whose reply is unknown go again'
run plimit-2 0 "pipelining: second poll on the relay that showed a limit" "$(fconf plimit "$(nodes 10)" -- "$PIPE")"
check "second poll: nothing pipelined (sessions 3, 4), 2 sessions of 5" [ "$(piped '[34]') $(state relays.0.sessions plimit)" = "0 2" ]
check "second poll: says why (the learned limit)" has "$T/plimit-2.err" \
    'etrn-pipelining: one ETRN at a time: the relay has shown an ETRN limit \(learned.json\): 5 per session \(limit'
fake_stop

# Exim: drop at the 11th non-mail command, inside a group of 20
pipe_pair pexim exim:10 20 0
check "drop in a group: all 20 accepted, learned 10 (drop)" \
    [ "$(count_result pexim ok) $(learned pexim per_session) $(learned pexim why)" = "20 10 drop" ]
check "drop in a group: n11 answered on its second try, the fake dropped at the 11th" \
    bash -c "[ '$(state relays.0.nodes.10.tries pexim)' = 2 ] && grep -q 'EVENT nonmail-limit 10' '$FTRANS' && [ $(piped 1) -ge 9 ]"
run pexim-2 0 "pipelining: second poll on the relay that dropped" "$(fconf pexim "$(nodes 20)" -- "$PIPE")"
check "second poll after the drop: nothing pipelined, no drop, 2 sessions" \
    [ "$(piped '[34]') $(grep -c 'nonmail-limit' "$FTRANS") $(state relays.0.sessions pexim)" = "0 1 2" ]
fake_stop

# Sendmail's tarpit from the 8th ETRN, inside a group of 18
pipe_pair ptarpit sendmail-tarpit:8 18 0
check "tarpit in a group: all 18 accepted, learned 7 (tarpit), in about the lock-step time (${MS} ms)" \
    [ "$(count_result ptarpit ok) $(learned ptarpit per_session) $(learned ptarpit why)" = "18 7 tarpit" ]
check "tarpit in a group: pipelining stopped at the delayed reply" has "$T/ptarpit.err" \
    'etrn-pipelining stopped for this poll: a delayed reply to ETRN n8.test'

fake_stop

# a reply out of shape (Postfix's answer to pipelining it forbids) for n3:
# n3..n10 unknown, sent again one at a time on a new session
pipe_pair pshape etrn-codes 10 69 --etrn-reply 'n3.test=554 5.5.0 Error: SMTP protocol synchronization'
check "reply out of shape: n3 judged only by the one-at-a-time path (refused), the rest accepted" \
    [ "$(state relays.0.nodes.2.result pshape) $(count_result pshape ok) $(state relays.0.sessions pshape)" = "refused 9 2" ]
check "reply out of shape: n2, n3 pipelined in session 1 ($(piped 1) seen), none in session 2" \
    bash -c "[ $(piped 1) -ge 2 ] && [ $(piped 2) = 0 ]"
check "reply out of shape: learned (no_pipelining: $(learned pshape no_pipelining))" \
    [ "$(learned pshape no_pipelining)" = "554 5.5.0 Error: SMTP protocol synchronization" ]
run pshape-2 69 "pipelining: second poll on the relay that answered a group out of shape" "$(fconf pshape "$(nodes 10)" -- "$PIPE")"
check "second poll: nothing pipelined, one session, says why" bash -c \
    "[ '$(piped 3) $(state relays.0.sessions pshape)' = '0 1' ] && grep -q 'one ETRN at a time: a pipelined group got a reply out of shape before' '$T/pshape-2.err'"
"$ETRNPOLL" -c "$T/pshape.conf" status > "$T/pshape.status" 2>&1
check "status: says why etrn-pipelining is not used" has "$T/pshape.status" 'etrn-pipelining: not used, a pipelined group got a reply out of shape \(554 5.5.0'
fake_stop

# max-etrn-per-session bounds the groups
fake_start pmax normal
run pmax 0 "pipelining with max-etrn-per-session = 4, 10 nodes" "$(fconf pmax "$(nodes 10)" -- "$PIPE" "max-etrn-per-session = 4")"
check "max-etrn-per-session = 4: groups of 4, 4, 2 on 3 sessions" \
    [ "$(grep -o 'etrn-pipelining: [0-9]* ETRNs in one write' "$T/pmax.err" | awk '{print $2}' | tr '\n' ' ')$(state relays.0.sessions pmax) $(piped)" = "4 4 2 3 7" ]
fake_stop

# --- check: duplicate nodes ---------------------------------------------------
FPORT=25
C=$(fconf dup '"a.test", "b.test", "A.test"')
"$ETRNPOLL" -c "$C" check > "$T/dup.out" 2> "$T/dup.err" || true
check "check warns about a duplicate node" has "$T/dup.err" 'domain "A.test" is listed twice'

echo "timings: exim first poll ${EXIM1} ms; sendmail tarpit first poll ${TARPIT1} ms, second ${TARPIT2} ms"
check "password never printed" bash -c "! grep -l 'fake-secret' $T/*.err $T/*.out"
finish
