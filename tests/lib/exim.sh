#!/bin/bash
# SPDX-License-Identifier: ISC
# exim.sh -- a REAL Exim 4.96 (Debian 12's exim4-daemon-light, unpacked by
# tests/lib/mtaroot.sh, never installed) acting as the ISP's backup MX, plus
# Postfix's smtp-sink as the customer MTA.  Same API as tests/lib/relay.sh.
#
#   exim.sh start DIR RELAY_ADDR SINK_ADDR DOMAIN...
#       Create (an old DIR is wiped except DIR/ca) and start an instance:
#         RELAY_ADDR:25   SMTP, STARTTLS offered; AUTH (PLAIN, LOGIN,
#                         CRAM-MD5) offered only after STARTTLS
#         SINK_ADDR:25    smtp-sink (tests/lib/relay.sh sink-start)
#       Mail for each DOMAIN is accepted from anyone and held: the DOMAINs are
#       queue_domains, and the daemon runs no periodic queue runner, so mail
#       leaves only on "ETRN DOMAIN" from an authenticated client
#       (acl_smtp_etrn), which runs smtp_etrn_command = "exim -R DOMAIN",
#       delivering to [SINK_ADDR]:25 from RELAY_ADDR.  Exim's defaults are
#       kept on purpose: smtp_accept_max_nonmail = 10 (the 11th ETRN, NOOP,
#       ... in a session gets "554 Too many nonmail commands" and a hang-up)
#       and smtp_etrn_serialize (an ETRN for a domain whose run is still going
#       gets "458 Already processing DOMAIN").
#       TLS: DIR/ca from tests/lib/mkca.sh; the certificate is the one for
#       RELAY_ADDR (SAN IP), so a client checking name "relay.test" fails.
#       SASL user etrn@relay.test, password in DIR/password (mode 0600, no
#       newline).  Returns when port 25 greets with 220.
#       Exim runs in a mount namespace of its own in which /etc is an overlay
#       of the host's /etc with DIR/etc-up on top: /etc/passwd and /etc/group
#       there are DIR/passwd and DIR/group with a Debian-exim user (Exim
#       refuses to start without it); the host's files are untouched.
#   exim.sh sink-start DIR SINK_ADDR [SMTP-SINK-OPTION...]   (relay.sh's)
#   exim.sh sink-stop DIR
#   exim.sh inject DIR N DOMAIN
#       N messages to user@DOMAIN over SMTP (smtp-source, 127.0.0.1 ->
#       RELAY_ADDR:25); returns once all N are in Exim's queue; fails if any
#       was delivered instead of held.
#   exim.sh queued DIR             number of messages in the queue
#   exim.sh delivered DIR          messages the sink has completely received
#   exim.sh wait-delivered DIR N SECONDS
#   exim.sh exim DIR ARG...        run the instance's exim binary with its
#                                  config in its namespace (e.g. -bp)
#   exim.sh log DIR                Exim's main log (DIR/log/mainlog)
#   exim.sh status DIR             exit 0 if Exim and the sink both run
#   exim.sh stop DIR               stop Exim and the sink (idempotent)
#
# Files in DIR: exim.conf, spool/, log/{main,reject,panic}log, passwd, group,
# etc-up/ etc-work/ (the /etc overlay),
# tls/ (cert+key readable by Debian-exim), daemon.log, env, owner, sink/.
# Every process carries EXIM_SH_INSTANCE=DIR in its environment.
# EXIM_ETRN=builtin (start): no smtp_etrn_command, so Exim's builtin ETRN
# handling answers "501 argument must begin with #" to "ETRN domain" (and
# hangs up after smtp_max_synprot_errors = 3); "ETRN #domain" is accepted.
# Environment: ETP_MTA_CACHE (see mtaroot.sh), RELAY_START_TIMEOUT (s,
# default 20), RELAY_INJECT_TIMEOUT (s, default 20), RELAY_OWNER_PID.
# Exit 3 from start: the Exim packages cannot be had (no cache, no download).

if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

LIBDIR=$(cd "$(dirname "$0")" && pwd)
NAME=relay.test
USER_DEFAULT=etrn@relay.test
PASS_DEFAULT=s3cret-pass
EXIM_UID=64901                  # Debian-exim in the private passwd
MARK=EXIM_SH_INSTANCE

die()  { echo "exim.sh: $*" >&2; exit 1; }
note() { echo "exim.sh: $*" >&2; }
usage() { sed -n '/^#   exim.sh /,/^# Files in DIR/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

. "$LIBDIR/mtacommon.sh"

load_env() {
    [ -f "$1/env" ] || die "$1/env missing (was 'exim.sh start $1 ...' run?)"
    . "$1/env"
}

# pid of the Exim daemon of instance $D
daemon_pid() {
    local pid st
    read -r pid st 2>/dev/null < "$D/daemon.pid" || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    alive "$pid" && [ "$(starttime "$pid")" = "$st" ] || return 1
    echo "$pid"
}

# run the instance's exim with its config inside the daemon's namespace
ex() {
    local pid
    load_env "$D"
    pid=$(daemon_pid) || die "Exim of $D is not running"
    nsenter --target "$pid" --mount -- "$EXIM" -C "$D/exim.conf" "$@"
}

write_config() {
    local domains=$* cert=$RELAY_ADDR
    mkdir -p "$D/tls"
    cp "$D/ca/$cert.pem" "$D/tls/cert.pem"; cp "$D/ca/$cert.key" "$D/tls/key.pem"
    chown -R "$EXIM_UID:$EXIM_UID" "$D/tls"; chmod 600 "$D/tls/key.pem"
    local dl=${domains// / : } etrn_line
    case ${EXIM_ETRN:-command} in
        command)
            # (the ETRN argument is tainted; the lookup returns the untainted domain)
            etrn_line="smtp_etrn_command = $EXIM -C $D/exim.conf -R \${lookup{\$domain}lsearch{$D/etrn-domains}{\$value}{unknown.invalid}}" ;;
        builtin)
            etrn_line="# no smtp_etrn_command: Exim's builtin ETRN (only 'ETRN #arg'; -R arg)" ;;
        *) die "EXIM_ETRN must be 'command' or 'builtin'" ;;
    esac
    cat > "$D/exim.conf" <<EOF
# Generated by tests/lib/exim.sh -- private test instance; do not edit.
exim_path = $EXIM
spool_directory = $D/spool
log_file_path = $D/log/%slog
pid_file_path = $D/exim.pid
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error \\
  +tls_cipher +tls_peerdn +queue_run +deliver_time +received_recipients \\
  +smtp_confirmation +incoming_interface
primary_hostname = $NAME
qualify_domain = $NAME
local_interfaces = <; $RELAY_ADDR.25
daemon_smtp_ports = 25
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
smtp_banner = $NAME ESMTP Exim \$version_number \$tod_full
never_users = root
# the instance mark must reach the ETRN queue runs (see stop)
keep_environment = EXIM_SH_INSTANCE
# no periodic queue runs: the daemon is started with -bdf and no -q

domainlist relay_to_domains = $dl
# the backup-MX role: accept for the customer domains, hold until ETRN
queue_domains = +relay_to_domains
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_etrn = acl_check_etrn
$etrn_line
# kept at their defaults on purpose (see exim.sh):
#   smtp_accept_max_nonmail = 10, smtp_accept_max_nonmail_hosts = *,
#   smtp_etrn_serialize = true

tls_advertise_hosts = *
tls_certificate = $D/tls/cert.pem
tls_privatekey = $D/tls/key.pem
# AUTH only inside TLS
auth_advertise_hosts = \${if eq{\$tls_in_cipher}{}{}{*}}

begin acl
acl_check_rcpt:
  accept domains = +relay_to_domains
  deny   message = relay not permitted

acl_check_etrn:
  accept authenticated = *
  deny   message = ETRN requires authentication

begin routers
to_sink:
  driver = manualroute
  domains = +relay_to_domains
  transport = to_sink
  route_list = * $SINK_ADDR
  self = send

begin transports
to_sink:
  driver = smtp
  port = 25
  interface = $RELAY_ADDR
  hosts_avoid_tls = *
  hosts_try_chunking =
  hosts_try_prdr =

begin retry
*  *  F,1h,1m

begin rewrite

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and{{eq{\$auth2}{$USER_DEFAULT}}{eq{\$auth3}{$PASS_DEFAULT}}}}
  server_set_id = \$auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and{{eq{\$auth1}{$USER_DEFAULT}}{eq{\$auth2}{$PASS_DEFAULT}}}}
  server_set_id = \$auth1
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = \${if eq{\$auth1}{$USER_DEFAULT}{$PASS_DEFAULT}fail}
  server_set_id = \$auth1
EOF
    local d
    for d in $domains; do echo "$d: $d"; done > "$D/etrn-domains"
    chmod 644 "$D/exim.conf" "$D/etrn-domains"
}

cmd_sink_start() { [ $# -ge 2 ] || usage; "$LIBDIR/relay.sh" sink-start "$@"; }
cmd_sink_stop()  { [ $# = 1 ] || usage; "$LIBDIR/relay.sh" sink-stop "$1"; }

cmd_stop() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    local pid
    if pid=$(daemon_pid); then
        # the daemon is the leader of its own session (setsid); its queue
        # runs and deliveries stay in that session
        terminate "$pid" $(pgrep -s "$pid" || true)
        terminate $(pgrep -s "$pid" || true)
    fi
    "$LIBDIR/relay.sh" sink-stop "$D" 2>/dev/null || true
    # queue runners and deliveries started by ETRN, anything else of ours
    terminate $(marked_pids "$D")
    rm -f "$D/daemon.pid"
}

cmd_status() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    daemon_pid >/dev/null && [ -n "$(cat "$D/sink.pid" 2>/dev/null)" ] &&
        alive "$(cat "$D/sink.pid")"
}

start_failed() {
    echo "exim.sh: $*" >&2
    local f
    for f in "$D/daemon.log" "$D/log/paniclog" "$D/log/mainlog"; do
        [ -s "$f" ] && { echo "---- tail of $f ----" >&2; tail -n 20 "$f" >&2; }
    done
    cmd_stop "$D" >/dev/null 2>&1 || true
    exit 1
}

cmd_start() {
    [ $# -ge 4 ] || usage
    [ "$(id -u)" = 0 ] || die "start must run as root"
    D=$(abspath "$1"); RELAY_ADDR=$2; SINK_ADDR=$3; shift 3
    check_addr "$RELAY_ADDR"; check_addr "$SINK_ADDR"
    [ "$RELAY_ADDR" != "$SINK_ADDR" ] || die "RELAY_ADDR and SINK_ADDR must differ"
    local t0 root rc=0 pid
    t0=$(now_us)
    root=$("$LIBDIR/mtaroot.sh" root exim) || rc=$?
    [ $rc = 0 ] || exit "$rc"
    EXIM=$root/usr/sbin/exim4
    [ -x "$EXIM" ] || die "$EXIM missing in the unpacked root"

    cmd_stop "$D"
    claim_port_of "$RELAY_ADDR" 25

    mkdir -p "$D"
    rm -rf "$D/spool" "$D/log" "$D/tls" "$D/sink" "$D/exim.conf" "$D/daemon.log" \
           "$D/exim.pid" "$D/sink.pid" "$D/sink.log"
    chmod 755 "$D"
    # Debian-exim and smtp-sink's postfix user must reach DIR
    local p=$D
    while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    write_owner
    cat > "$D/env" <<EOF
RELAY_ADDR=$RELAY_ADDR
SINK_ADDR=$SINK_ADDR
DOMAINS='$*'
EXIM='$EXIM'
EOF
    mkdir -p "$D/spool" "$D/log"
    chown "$EXIM_UID:$EXIM_UID" "$D/spool" "$D/log"
    chmod 750 "$D/spool" "$D/log"
    write_ids "$D" "Debian-exim:$EXIM_UID"
    etc_overlay_prepare passwd group
    # -C with a file in TRUSTED_CONFIG_LIST keeps root: without it every
    # re-exec (deliveries, the ETRN queue runs) logs "exim user lost
    # privilege for using -C option" to the panic log
    mkdir -p "$D/etc-up/exim4"
    echo "$D/exim.conf" > "$D/etc-up/exim4/trusted_configs"
    chmod 644 "$D/etc-up/exim4/trusted_configs"

    "$LIBDIR/mkca.sh" "$D/ca" "$NAME" "$RELAY_ADDR" || die "mkca.sh failed"
    write_config "$@"
    ( umask 077; printf '%s' "$PASS_DEFAULT" > "$D/password" )

    # the daemon: own mount namespace with the private passwd/group; -bdf
    # keeps it in the foreground (its pid is ours); setsid: out of the
    # caller's process group
    EXIM_SH_INSTANCE=$D setsid unshare --mount --propagation private -- /bin/bash -c '
        '"$ETC_OVERLAY_MOUNT"'
        exec "$2" -C "$1/exim.conf" -bdf' exim-ns "$D" "$EXIM" \
        </dev/null >>"$D/daemon.log" 2>&1 &
    pid=$!
    echo "$pid $(starttime "$pid")" > "$D/daemon.pid"

    cmd_sink_start "$D" "$SINK_ADDR"

    poll "${RELAY_START_TIMEOUT:-20}" listening "$RELAY_ADDR" 25 \
        || start_failed "nothing listens on $RELAY_ADDR:25"
    local greeting
    read_greeting "$RELAY_ADDR" 25 || start_failed "no SMTP greeting on $RELAY_ADDR:25 (got '$greeting')"
    daemon_pid >/dev/null || start_failed "the Exim daemon is not running"
    note "started $D: Exim $RELAY_ADDR:25 (pid $(cut -d" " -f1 "$D/daemon.pid")), sink $SINK_ADDR:25, domains $*, in $(( ($(now_us) - t0) / 1000 )) ms"
}

cmd_exim() { [ $# -ge 1 ] || usage; D=$(abspath "$1"); shift; ex "$@"; }

cmd_queued() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    ex -bpc
}

cmd_delivered() { [ $# = 1 ] || usage; "$LIBDIR/relay.sh" delivered "$1"; }

cmd_wait_delivered() {
    [ $# = 3 ] || usage
    D=$(abspath "$1")
    "$LIBDIR/relay.sh" wait-delivered "$D" "$2" "$3" 2>/dev/null && return 0
    echo "exim.sh: timeout after ${3}s: sink has $("$LIBDIR/relay.sh" delivered "$D") of $2 messages (queue: $(ex -bpc 2>/dev/null))" >&2
    "$LIBDIR/relay.sh" delivered "$D"
    exit 1
}

cmd_inject() {
    [ $# = 3 ] || usage
    D=$(abspath "$1"); local n=$2 dom=$3 before sunk
    case $n in ''|*[!0-9]*|0) die "inject: N must be a positive number" ;; esac
    load_env "$D"
    before=$(ex -bpc)
    sunk=$("$LIBDIR/relay.sh" delivered "$D")
    smtp-source -4 -d -m "$n" -M client.test -f "sender@client.test" \
        -t "user@$dom" -S "exim.sh test message" "$RELAY_ADDR:25" \
        || die "smtp-source to $RELAY_ADDR:25 failed"
    all_queued() { [ "$(ex -bpc)" -ge $((before + n)) ]; }
    if ! poll "${RELAY_INJECT_TIMEOUT:-20}" all_queued; then
        echo "exim.sh: inject: only $(( $(ex -bpc) - before )) of $n messages for $dom are queued" >&2
        tail -n 20 "$D/log/mainlog" >&2
        exit 1
    fi
    # the immediate delivery attempt after reception must have skipped them
    sleep 0.2
    if [ "$("$LIBDIR/relay.sh" delivered "$D")" != "$sunk" ]; then
        die "inject: mail for $dom was delivered at once instead of being held"
    fi
}

cmd_log() { [ $# = 1 ] || usage; cat "$(abspath "$1")/log/mainlog" 2>/dev/null || true; }

[ $# -ge 1 ] || usage
cmd=$1; shift
case $cmd in
    start)           cmd_start "$@" ;;
    stop)            cmd_stop "$@" ;;
    status)          cmd_status "$@" ;;
    sink-start)      cmd_sink_start "$@" ;;
    sink-stop)       cmd_sink_stop "$@" ;;
    inject)          cmd_inject "$@" ;;
    queued)          cmd_queued "$@" ;;
    delivered)       cmd_delivered "$@" ;;
    wait-delivered)  cmd_wait_delivered "$@" ;;
    exim)            cmd_exim "$@" ;;
    log)             cmd_log "$@" ;;
    *)               usage ;;
esac
