#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/poll.sh — cost of one poll, etrnpoll beside msmtp --rmqs, against the
# same REAL Postfix relay (STARTTLS + AUTH) on loopback.  Prints figures;
# asserts nothing.  Needs root and a built etrnpoll (ETRNPOLL=path).
#   bash bench/poll.sh [RUNS]        (default 20 runs per case)
# msmtp does one domain per process (--rmqs), so "50 domains" for msmtp is
# 50 msmtp processes, each with its own TCP+TLS+AUTH session; etrnpoll sends
# the 50 ETRNs in one session.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
ETRNPOLL=${ETRNPOLL:-$SRCDIR/build/etrnpoll}
RUNS=${1:-20}
LIB=$SRCDIR/tests/lib
PY=/usr/bin/python3
R=127.0.0.100 S=127.0.0.101 P=127.0.0.102
[ "$(id -u)" = 0 ] || { echo "bench/poll.sh: needs root (starts a private Postfix)"; exit 1; }
command -v msmtp >/dev/null || { echo "bench/poll.sh: msmtp not installed (tests/install-deps.sh)"; exit 1; }
T=$(mktemp -d /tmp/etp-bench.XXXXXX); chmod 755 "$T"
trap '"$LIB/relay.sh" stop "$T/relay" >/dev/null 2>&1; kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT

doms=(); for i in $(seq 1 50); do doms+=("d$i.test"); done
"$LIB/relay.sh" start "$T/relay" $R $S "${doms[@]}" >/dev/null || { echo "relay did not start"; exit 1; }
PWF=$T/relay/password

mkconf() { # mkconf FILE HOST PORT NDOMAINS
    local list="" i
    for i in $(seq 1 $4); do list="$list${list:+, }\"d$i.test\""; done
    cat > "$1" <<C
ehlo-name = "gw.example.test"
state-dir = "$T/state-$(basename "$1" .conf)"
relay bench {
  host = "$2"
  port = $3
  tls-name = "$R"
  ca-file = "$T/relay/ca/ca.pem"
  username = "etrn@relay.test"
  password-file = "$PWF"
  domains = { $list }
}
C
}
msmtp_one() { # msmtp_one HOST PORT DOMAIN
    msmtp --host="$1" --port="$2" --tls=on --tls-starttls=on --tls-trust-file="$T/relay/ca/ca.pem" \
        --tls-host-override="$R" --auth=on --user=etrn@relay.test --passwordeval="cat $PWF" \
        --domain=gw.example.test --rmqs="$3" >/dev/null 2>&1
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END { if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

# wall time: RUNS polls per case, median
declare -A WALL RSS BYTES
for n in 1 50; do
    mkconf "$T/e$n.conf" $R 25 $n
    "$ETRNPOLL" -c "$T/e$n.conf" -q poll --no-hold || { echo "etrnpoll poll failed"; exit 1; }   # warm-up (and TLS session cache)
    : > "$T/t"
    for r in $(seq 1 $RUNS); do a=$(ms); "$ETRNPOLL" -c "$T/e$n.conf" -q poll --no-hold; echo $(( $(ms) - a )) >> "$T/t"; done
    WALL[e$n]=$(median < "$T/t")
    RSS[e$n]=$( { /usr/bin/time -f %M "$ETRNPOLL" -c "$T/e$n.conf" -q poll --no-hold; } 2>&1 | tail -1)
    : > "$T/t"
    for r in $(seq 1 $RUNS); do
        a=$(ms); for i in $(seq 1 $n); do msmtp_one $R 25 d$i.test; done; echo $(( $(ms) - a )) >> "$T/t"
    done
    WALL[m$n]=$(median < "$T/t")
    RSS[m$n]=$( { /usr/bin/time -f %M msmtp --host=$R --port=25 --tls=on --tls-starttls=on --tls-trust-file="$T/relay/ca/ca.pem" \
        --auth=on --user=etrn@relay.test --passwordeval="cat $PWF" --domain=gw.example.test --rmqs=d1.test >/dev/null; } 2>&1 | tail -1)
done

# bytes on the wire: one poll of each through a counting proxy
count() { # count LABEL command...
    local label=$1; shift
    rm -f "$T/c.$label" "$T/c.$label.ready"
    $PY "$SRCDIR/bench/tcpcount.py" $P 2525 $R 25 "$T/c.$label" & local pid=$!
    while [ ! -f "$T/c.$label.ready" ]; do sleep 0.05; done
    "$@"
    kill -TERM $pid; wait $pid 2>/dev/null
    BYTES[$label]=$(cat "$T/c.$label")
}
for n in 1 50; do
    mkconf "$T/p$n.conf" $P 2525 $n
    count c$n "$ETRNPOLL" -c "$T/p$n.conf" -q poll --no-hold     # first poll: full handshake
    count e$n "$ETRNPOLL" -c "$T/p$n.conf" -q poll --no-hold     # later polls: TLS session resumed
    WALL[c$n]="-"; RSS[c$n]="-"
    count m$n bash -c "for i in \$(seq 1 $n); do msmtp --host=$P --port=2525 --tls=on --tls-starttls=on --tls-trust-file='$T/relay/ca/ca.pem' --tls-host-override=$R --auth=on --user=etrn@relay.test --passwordeval='cat $PWF' --domain=gw.example.test --rmqs=d\$i.test >/dev/null 2>&1; done"
done

printf '\nOne poll against a real Postfix relay on loopback (STARTTLS, TLS 1.3, AUTH); %d runs, median\n' "$RUNS"
printf '%-34s %12s %12s %10s %14s %14s\n' client "wall ms" "peak RSS KiB" sessions "bytes sent" "bytes recv"
for n in 1 50; do
    for k in c e m; do
        case $k in
            c) name="etrnpoll, first poll ($n dom.)" ;;
            e) name="etrnpoll poll ($n domain$([ $n = 1 ] || echo s))" ;;
            m) name="msmtp --rmqs x$n (1 per process)" ;;
        esac
        set -- ${BYTES[$k$n]}
        printf '%-34s %12s %12s %10s %14s %14s\n' "$name" "${WALL[$k$n]}" "${RSS[$k$n]}" "$1" "$2" "$3"
    done
done
echo "(\"first poll\" = full TLS handshake; later etrnpoll polls resume the TLS session; msmtp does a full handshake every time)"
