#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/relays.sh [RUNS] — the ETRN session policy against the scripted
# relay behaviours of tests/poll-relays.sh (PMDF limit, Exim drop at the 11th
# non-mail command, Sendmail tarpit, one ETRN per session): per scenario,
# median wall time of the first poll (fresh state: nothing learned) and of
# the next poll (learned limit), nodes accepted, sessions.  OLD=/path/to/an
# older etrnpoll binary adds its figures (first poll only; it learns nothing).
# Root; runs in its own network namespace like the tests.  Prints figures;
# asserts nothing.
export SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRCDIR/tests/lib/common.sh"
need_root
need_binary
RUNS=${1:-5}
"$LIB/mkca.sh" "$T/ca" "$FAKE_ADDR" >/dev/null
printf 'fake-secret' > "$T/pw"; chmod 600 "$T/pw"
nodes() { local out="" i; for ((i=1; i<=$1; i++)); do out="$out${out:+, }\"n$i.test\""; done; echo "$out"; }
conf() {
    cat > "$T/b.conf" <<C
ehlo-name = "gw.example.test"
state-dir = "$1"
timeouts { connect = 30 greeting = 300 command = 300 etrn = 300 tls = 60 quit = 30 }
relay fake {
  host = "$FAKE_ADDR"
  port = $FPORT
  ca-file = "$T/ca/ca.pem"
  username = "etrn"
  password-file = "$T/pw"
  domains = { $(nodes $2) }
}
C
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
poll_once() {   # BIN STATE -> "ms accepted sessions"
    local t0=$(date +%s%N)
    timeout 1200 "$1" -c "$T/b.conf" poll --no-hold >/dev/null 2>&1
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    $PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["relays"][0]; print(sys.argv[2], sum(1 for n in r["nodes"] if n["result"] in ("ok","in-progress","nothing-queued")), r.get("sessions"))' \
        "$2/last-poll.json" "$ms"
}
printf '%-34s %-10s %8s %8s %9s\n' scenario binary "ms(med)" accepted sessions
for sc in "etrn-limit:5|20|PMDF 458 limit after 5" \
          "etrn-limit:5|20|PMDF 550 limit after 5|550 5.7.1 ETRN session limit reached" \
          "exim:10|20|Exim nonmail 10 (drop, TLS)" \
          "sendmail-tarpit:8|18|Sendmail tarpit from 8th" \
          "etrn-limit:1|20|one ETRN per session"; do
    IFS='|' read -r spec n label lim <<< "$sc"
    if [ -n "$lim" ]; then fake_start bench "$spec" --limit-reply "$lim"; else fake_start bench "$spec"; fi
    for which in new old; do
        bin=$ETRNPOLL
        if [ $which = old ]; then [ -n "${OLD:-}" ] || continue; bin=$OLD; fi
        # the old code waits out the tarpit (969 s measured on real Sendmail)
        [ $which = old ] && [[ $spec == sendmail-tarpit* ]] && continue
        : > "$T/first"; : > "$T/second"
        for ((r=0; r<RUNS; r++)); do
            st="$T/st-$which-$r"; rm -rf "$st"; conf "$st" "$n"
            poll_once "$bin" "$st" >> "$T/first"
            [ $which = new ] && poll_once "$bin" "$st" >> "$T/second"
        done
        printf '%-34s %-10s %8s %8s %9s\n' "$label" "$which/1st" "$(cut -d' ' -f1 "$T/first" | median)" \
            "$(cut -d' ' -f2 "$T/first" | median)/$n" "$(cut -d' ' -f3 "$T/first" | median)"
        [ $which = new ] && printf '%-34s %-10s %8s %8s %9s\n' "$label" "new/2nd" "$(cut -d' ' -f1 "$T/second" | median)" \
            "$(cut -d' ' -f2 "$T/second" | median)/$n" "$(cut -d' ' -f3 "$T/second" | median)"
    done
    fake_stop
done
