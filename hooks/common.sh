# ---- common part (generated from hooks/common.sh; do not edit here) --------
# SPDX-License-Identifier: ISC
# etp_launch IFACE [LOCAL_ADDRESS]: start `etrnpoll poll` in the background,
# detached (own session, no terminal, output to syslog via --syslog), and
# return at once: the caller (pppd, NetworkManager, ...) does not wait.
# Nothing happens until the admin enables the hooks in /etc/default/etrnpoll
# (or $ETRNPOLL_DEFAULTS), see etc/default/etrnpoll and hooks/README.md:
#   ETRNPOLL_HOOKS=yes        run polls from the link-up hooks (default no)
#   ETRNPOLL_INTERFACES="ppp* wwan*"  only these interfaces (shell patterns)
#   ETRNPOLL_CONFIG=/etc/etrnpoll.conf   ETRNPOLL_POLL_ARGS="--no-hold"
#   ETRNPOLL=/usr/sbin/etrnpoll          the program (default: found on PATH)
#   ETRNPOLL_HANGUP=no|done|always       after the poll: hang up IFACE (done:
#                                        only when it exited 0), with
#   ETRNPOLL_HANGUP_PROGRAM=@pkglibexecdir@/etrnpoll-hangup
etp_launch() {
    etp_if=$1
    etp_addr=${2:-}
    etp_defaults=${ETRNPOLL_DEFAULTS:-/etc/default/etrnpoll}
    # shellcheck disable=SC1090
    [ -r "$etp_defaults" ] && . "$etp_defaults"
    case ${ETRNPOLL_HOOKS:-no} in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|1|[Oo][Nn]) ;; *) return 0 ;; esac
    case $etp_if in ''|lo|none|--all) return 0 ;; esac
    if [ -n "${ETRNPOLL_INTERFACES:-}" ]; then
        etp_match=
        for etp_pat in $ETRNPOLL_INTERFACES; do
            # shellcheck disable=SC2254
            case $etp_if in $etp_pat) etp_match=1 ;; esac
        done
        [ -n "$etp_match" ] || return 0
    fi
    # An address with a prefix length ("10.0.0.2/24") or a link-local IPv6
    # one (pppd's ipv6-up passes those) is not worth passing on.
    etp_addr=${etp_addr%%/*}
    case $etp_addr in [Ff][Ee]80:*) etp_addr= ;; esac
    etp_bin=${ETRNPOLL:-}
    if [ -z "$etp_bin" ]; then
        etp_bin=$(PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin" command -v etrnpoll) || {
            command -v logger >/dev/null 2>&1 && logger -t etrnpoll-hook -p mail.err "etrnpoll not found"
            return 0
        }
    fi
    # The lock in `etrnpoll poll` makes a poll that finds another one running
    # exit at once: hooks, cron and the daemon never poll at the same time.
    # shellcheck disable=SC2086
    set -- "$etp_bin" ${ETRNPOLL_CONFIG:+-c "$ETRNPOLL_CONFIG"} --syslog poll \
        --interface "$etp_if" ${etp_addr:+--local-address "$etp_addr"} --trigger hook \
        ${ETRNPOLL_POLL_ARGS:-}
    # Hang-up: the hook runs as root, so it (not etrnpoll, which runs as the
    # service user) ends the line once the poll has returned.
    case ${ETRNPOLL_HANGUP:-no} in
        done|always)
            # shellcheck disable=SC2016
            set -- /bin/sh -c 'etp_m=$1 etp_h=$2 etp_i=$3; shift 3; "$@"; etp_rc=$?
                [ "$etp_m" = always ] || [ "$etp_rc" = 0 ] || exit 0
                exec "$etp_h" "$etp_i"' etrnpoll-hook "$ETRNPOLL_HANGUP" \
                "${ETRNPOLL_HANGUP_PROGRAM:-@pkglibexecdir@/etrnpoll-hangup}" "$etp_if" "$@" ;;
    esac
    if command -v setsid >/dev/null 2>&1; then
        setsid "$@" </dev/null >/dev/null 2>&1 &
    else
        "$@" </dev/null >/dev/null 2>&1 &
    fi
    return 0
}
# ---- end of common part -----------------------------------------------------
