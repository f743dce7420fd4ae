# SPDX-License-Identifier: ISC
# conf.sh — the one writer of etrnpoll configurations for the tests (bash;
# sourced by tests/lib/common.sh).  A test's own conf() wrapper keeps the
# arguments that test needs and hands the lines to etp_conf.
#
#   etp_conf FILE ITEM...      write FILE (libconfuse syntax), print its path.
#     -s HEADER                open a section: "relay isp", "hold", "link",
#                              "hooks", "ddns home", ...; the next -s (or the
#                              end) closes it
#     -t                       close the open section: later lines are top-level
#     -r HOST CA-FILE USER PASSWORD-FILE
#                              the four lines that point a relay section at a
#                              real relay with TLS and SASL: host, ca-file,
#                              username, password-file
#     -F HOST                  the same for tests/lib/fake.sh's scripted relay
#                              at HOST: port $FPORT, CA $T/ca/ca.pem, user
#                              etrn, password file $T/pw
#     -d DOMAIN...  --         domains = { "DOMAIN", ... } in the open section
#     anything else            one line, as written: top-level before the
#                              first -s, else inside the open section.
#                              Empty items are dropped.
#     -R RD                    the same for the tests/lib/relay.sh relay
#                              directory RD (its CA, its password, user
#                              etrn@relay.test) at host $R
#   etp_timeouts               the suite's usual timeouts line (20 s each)
#
# Example:
#   etp_conf "$T/a.conf" 'ehlo-name = "gw.example.test"' "state-dir = \"$T/st\"" \
#       "$(etp_timeouts)" -s "relay isp" -R "$RD" -d example.test --
etp_conf() {
    local file=$1; shift
    local out="" in=0 ind=""
    while [ $# -gt 0 ]; do
        case $1 in
        -s)
            [ $in = 1 ] && out="$out}
"
            out="$out$2 {
"; in=1; ind="  "; shift 2 ;;
        -t)
            [ $in = 1 ] && out="$out}
"
            in=0; ind=""; shift ;;
        -r)
            out="$out${ind}host = \"$2\"
${ind}ca-file = \"$3\"
${ind}username = \"$4\"
${ind}password-file = \"$5\"
"; shift 5 ;;
        -R)
            set -- -r "$R" "$2/ca/ca.pem" "etrn@relay.test" "$2/password" "${@:3}" ;;
        -F)
            set -- -r "$2" "$T/ca/ca.pem" etrn "$T/pw" "port = $FPORT" "${@:3}" ;;
        -d)
            shift
            local l=""
            while [ $# -gt 0 ] && [ "$1" != -- ]; do l="$l${l:+, }\"$1\""; shift; done
            [ "${1:-}" = -- ] && shift
            out="$out${ind}domains = { $l }
" ;;
        "") shift ;;
        *) out="$out$ind$1
"; shift ;;
        esac
    done
    [ $in = 1 ] && out="$out}
"
    printf '%s' "$out" > "$file"
    echo "$file"
}
etp_timeouts() { echo 'timeouts { greeting = 20 command = 20 etrn = 20 }'; }
