# SPDX-License-Identifier: ISC
# relaylab.sh -- helpers for the tests and the bench that poll the real
# Exim / Sendmail / Postfix relays with etrnpoll (sourced after common.sh or
# with PY and T set).
#   lab_conf FILE STATEDIR HOST CADIR PASSWORDFILE DOMAIN-LIST-TEXT [relay lines...] [-- top-level lines]
#       write an etrnpoll config for one relay "lab" to FILE
#   clist DOMAIN...          "a", "b", ... (a config list)
#   node_result JSON NODE    "RESULT CODE" of NODE in last-poll.json ("absent -")
#   nodes_ok JSON            how many nodes of the first relay have result ok
lab_conf() {
    local file=$1 sd=$2 host=$3 ca=$4 pwf=$5 doms=$6; shift 6
    local rl=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do rl+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    etp_conf "$file" 'ehlo-name = "gw.example.test"' "state-dir = \"$sd\"" "$@" \
        -s "relay lab" -r "$host" "$ca/ca.pem" etrn@relay.test "$pwf" "domains = { $doms }" \
        "${rl[@]}" >/dev/null
}
# the config writer (common.sh loads it; the bench scripts may not)
declare -F etp_conf >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/conf.sh"
clist() { local o="" d; for d; do o="$o${o:+, }\"$d\""; done; echo "$o"; }
node_result() {
    $PY - "$1" "$2" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("absent -"); sys.exit(0)
for r in j.get("relays", []):
    for n in r.get("nodes", []):
        if n.get("node") == sys.argv[2]:
            print(n.get("result"), n.get("code")); sys.exit(0)
print("absent -")
PY
}
nodes_ok() {
    $PY -c 'import json,sys
try: print(sum(1 for n in json.load(open(sys.argv[1]))["relays"][0]["nodes"] if n.get("result")=="ok"))
except Exception: print(0)' "$1"
}
