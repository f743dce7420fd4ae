#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/relays-real.sh [RUNS] — etrnpoll against the REAL relays of the lab
# harnesses (tests/lib/sendmail.sh, tests/lib/exim.sh; Debian packages):
#   Sendmail 8.17, 18 nodes (MAXETRNCOMMANDS 8 tarpit);
#   Exim 4.96, 12 nodes (smtp_accept_max_nonmail 10: drop at the 11th);
# per relay: median of RUNS first polls (fresh state: nothing learned) and of
# RUNS next polls (learned limit), wall ms, sessions, ETRNs sent, nodes
# accepted.  OLD=binary adds an older build's first polls (it learns
# nothing), killed after 1200 s.  Root; own namespaces like the tests.
# Prints figures; asserts nothing.
export SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRCDIR/tests/lib/common.sh"
need_root
need_binary
. "$LIB/relaylab.sh"
RUNS=${1:-5}
R=127.0.0.2 S=127.0.0.3
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
one() {   # BIN CONF STATE -> "ms sessions etrns accepted"
    local t0=$(date +%s%N)
    timeout 1200 "$1" -c "$2" -v poll --no-hold 2> "$T/p.err" >/dev/null
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "$ms $($PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["relays"][0]; print(r.get("sessions"))' "$3/last-poll.json") $(grep -c '> ETRN' "$T/p.err") $(nodes_ok "$3/last-poll.json")"
}
row() { printf '%-26s %-9s %8s %9s %6s %9s\n' "$1" "$2" "$(cut -d' ' -f1 "$3" | median)" "$(cut -d' ' -f2 "$3" | median)" "$(cut -d' ' -f3 "$3" | median)" "$(cut -d' ' -f4 "$3" | median)/$4"; }
printf '%-26s %-9s %8s %9s %6s %9s\n' relay poll "ms(med)" sessions ETRNs accepted
for lab in sendmail exim; do
    H=$LIB/$lab.sh RD=$T/$lab NODES=()
    n=18; [ $lab = exim ] && n=12
    for i in $(seq -w 1 $n); do NODES+=("n$i.test"); done
    if ! "$H" start "$RD" $R $S "${NODES[@]}" > "$T/$lab-start.log" 2>&1; then
        echo "$lab: harness did not start (see its log)"; tail -3 "$T/$lab-start.log"; continue
    fi
    for which in new old; do
        bin=$ETRNPOLL
        if [ $which = old ]; then [ -n "${OLD:-}" ] || continue; bin=$OLD; fi
        : > "$T/first"; : > "$T/next"
        for ((r=0; r<RUNS; r++)); do
            sd=$T/st-$lab-$which-$r; rm -rf "$sd"
            lab_conf "$T/b.conf" "$sd" "$R" "$RD/ca" "$RD/password" "$(clist "${NODES[@]}")"
            one "$bin" "$T/b.conf" "$sd" >> "$T/first"
            [ $which = new ] && one "$bin" "$T/b.conf" "$sd" >> "$T/next"
        done
        row "$lab $n nodes" "$which/1st" "$T/first" $n
        [ $which = new ] && row "$lab $n nodes" "new/next" "$T/next" $n
    done
    "$H" stop "$RD" >/dev/null 2>&1
done
