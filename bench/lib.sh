# SPDX-License-Identifier: ISC
# bench/lib.sh — small helpers of the slow-line benchmarks (bash; sourced
# after tests/lib/common.sh, with SRCDIR set).
STAMP=$SRCDIR/bench/stamp.py
# median: of the numbers on stdin, 3 decimals ("-" when there are none)
median() { sort -n | awk '{a[NR]=$1} END { if (!NR) { print "-"; exit } if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
# now: wall-clock seconds, nanosecond digits
now() { date +%s.%N; }
# fsub A B: A - B, 3 decimals ("-" when A is missing, 0 or "-", or B is missing)
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a == 0 || a == "-" || b == "") print "-"; else printf "%.3f\n", a - b }'; }
# col K: field K of every line on stdin
col() { awk -v k="$1" '{ print $k }'; }
# counters: the line's bytes down, bytes up, SYNs and turns (tests/lib/slowline.sh)
counters() { echo "$(slowline_stat down_bytes) $(slowline_stat up_bytes) $(slowline_stat syns) $(slowline_stat turns)"; }
# delta OLD NEW: field-wise difference of two `counters` lines
delta() { local -a o=($1) n=($2); echo "$((n[0]-o[0])) $((n[1]-o[1])) $((n[2]-o[2])) $((n[3]-o[3]))"; }
