#!/bin/bash
# SPDX-License-Identifier: ISC
# relay.sh -- a REAL Postfix acting as the ISP's backup MX (the ETRN server of
# RFC 1985) plus smtp-sink acting as the customer's MTA, both on loopback
# addresses, with a private config dir, queue, log and SASL database.
# Never touches /etc/postfix, the system queue, or 127.0.0.1:25.
#
#   relay.sh start DIR RELAY_ADDR SINK_ADDR DOMAIN...
#       Create (from scratch: an old DIR/etc, queue, sink... is wiped; DIR/ca
#       is reused) and start an instance in DIR:
#         RELAY_ADDR:25    SMTP, STARTTLS offered, AUTH only after STARTTLS
#         RELAY_ADDR:465   implicit TLS ("smtps"), AUTH offered
#         RELAY_ADDR:2525  no TLS at all, AUTH offered in clear
#         SINK_ADDR:25     smtp-sink = the customer MTA (see sink-start)
#       Mail for each DOMAIN (and for notflush.test) is accepted and held
#       (transport "hold", listed in defer_transports) until released by an
#       ETRN from a SASL-authenticated client (smtpd_etrn_restrictions =
#       permit_sasl_authenticated, reject); it is then sent to [SINK_ADDR]:25
#       from RELAY_ADDR.  DOMAINs are fast_flush_domains; notflush.test is
#       relayed but is not, so "ETRN notflush.test" is answered 459.
#       RELAY_SINK=external: no sink is started (start one with sink-start,
#       e.g. in the gateway's network namespace, as tests/lib/slowline.sh does).
#       TLS: DIR/ca from tests/lib/mkca.sh (DIR/ca/ca.pem is the trust anchor).
#       The default certificate is the one for RELAY_ADDR (clients that
#       connect by address send no SNI); clients sending SNI "relay.test" get
#       the relay.test certificate.  RELAY_CERT=expired or RELAY_CERT=self
#       serves DIR/ca/expired-* or self-* certificates instead.
#       SASL user etrn@relay.test, password in DIR/password (mode 0600, the
#       password only, NO trailing newline).  Returns when all listeners
#       accept connections and port 25 and 2525 greet with 220.
#   relay.sh sink-start DIR SINK_ADDR [SMTP-SINK-OPTION...]
#       (Re)start only the sink (start does this too).  Each received message
#       becomes one file in DIR/sink/ (smtp-sink -d).  Extra options go to
#       smtp-sink, e.g. "-w 5" (delay the DATA reply 5 s) or "-r mail"
#       (450 to MAIL FROM, nothing stored; note "-r ." would still store the
#       file and so count as delivered).  pid in DIR/sink.pid, log sink.log.
#   relay.sh sink-stop DIR         stop the sink only (mail then stays queued)
#   relay.sh inject DIR N DOMAIN
#       Send N messages from sender@client.test to user@DOMAIN over SMTP
#       (127.0.0.1 -> RELAY_ADDR:25, smtp-source); return once all N are in
#       the deferred queue (held, and known to the fast-flush service).
#       Fails if any of them reaches the sink instead.  RELAY_MSG_SIZE=BYTES
#       makes each message that long (smtp-source -l; default: a few lines).
#   relay.sh queued DIR            print the number of messages in the queue
#   relay.sh delivered DIR         print the number of messages the sink has
#                                  completely received
#   relay.sh wait-delivered DIR N SECONDS
#                                  wait until delivered >= N; on timeout print
#                                  the count on stdout and exit 1
#   relay.sh adduser DIR USER PASS add/replace a SASL user (USER@REALM, or
#                                  USER for realm relay.test)
#   relay.sh log DIR               print the Postfix log (DIR/maillog)
#   relay.sh status DIR            exit 0 if Postfix and the sink both run
#   relay.sh stop DIR              stop Postfix and the sink (idempotent)
#
# Log: DIR/maillog (postlogd).  Tags: postfix-relay/smtpd (port 25),
# postfix-relay/smtps/smtpd (465), postfix-relay/notls/smtpd (2525), so e.g.
# "postfix-relay/notls/smtpd[..]: disconnect from ... auth=1" shows a client
# that authenticated in clear.
#
# Other files in DIR: env (RELAY_ADDR/SINK_ADDR/DOMAINS, sh syntax),
# etc/ (main.cf, master.cf, transport, sni, sasl/smtpd.conf), queue/, data/,
# sasldb2, sink.log, start.log, owner.  Every process started for DIR has
# RELAY_SH_INSTANCE=DIR in its environment; stop uses that to find strays.
#
# Stale instances: if a port we need is held by a relay.sh instance whose
# owner (the process that ran "relay.sh start", or $RELAY_OWNER_PID) is gone,
# e.g. a test killed with SIGKILL, that instance is stopped first.  If the
# owner is still alive, start fails with a message naming the instance.
#
# Environment: RELAY_START_TIMEOUT (s, default 20), RELAY_INJECT_TIMEOUT
# (s, default 20), RELAY_CERT (""|expired|self), RELAY_OWNER_PID.

# Callers may run "sh relay.sh ...": the rest of this file needs bash.
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi

set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

LIBDIR=$(cd "$(dirname "$0")" && pwd)
NAME=relay.test                 # TLS/SMTP name of the relay
USER_DEFAULT=etrn@relay.test
PASS_DEFAULT=s3cret-pass
NOTFLUSH=notflush.test          # relayed + held, but not in fast_flush_domains

die()  { echo "relay.sh: $*" >&2; exit 1; }
note() { echo "relay.sh: $*" >&2; }
usage() { sed -n '/^#   relay.sh /,/^# Other files/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------- helpers --

# absolute path (DIR need not exist yet)
abspath() { realpath -m -- "$1"; }

# (helpers use bash builtins where they can: they run in polling loops)

now_us() { echo "${EPOCHREALTIME/./}"; }

# the fields of /proc/PID/stat after "(comm) ": state is $1, starttime $20
proc_stat() {
    local st
    read -r st 2>/dev/null < "/proc/$1/stat" || return 1
    echo "${st##*) }"
}

# alive PID: exists and is not a zombie
alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(proc_stat "$1") || return 1
    [ "${st:0:1}" != Z ]
}

# start time of PID in clock ticks (field 22 of /proc/PID/stat)
starttime() {
    local -a f
    read -r -a f <<< "$(proc_stat "$1")" || return 1
    echo "${f[19]:-}"
}

# value of variable VAR in the environment of process PID
proc_env() {
    local -a envs; local e
    mapfile -d "" -t envs 2>/dev/null < "/proc/$1/environ" || return 1
    for e in "${envs[@]}"; do
        [ "${e%%=*}" = "$2" ] && { echo "${e#*=}"; return 0; }
    done
    return 1
}

# poll SECS CMD...: run CMD every 0.05 s until it succeeds (0) or SECS
# seconds have passed (1)
poll() {
    local secs=$1 end; shift
    end=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))
    while :; do
        "$@" && return 0
        [ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
        sleep 0.05
    done
}

load_env() {
    [ -f "$1/env" ] || die "$1/env missing (was 'relay.sh start $1 ...' run?)"
    # shellcheck disable=SC1091
    . "$1/env"
}

pf() { RELAY_SH_INSTANCE=$D postfix -c "$D/etc" "$@"; }

# pid of the Postfix master of instance $D, if running
master_pid() {
    local pid
    pid=$(awk '{print $1; exit}' "$D/queue/pid/master.pid" 2>/dev/null) || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    alive "$pid" || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = master ] || return 1
    [ "$(proc_env "$pid" RELAY_SH_INSTANCE)" = "$D" ] || return 1
    echo "$pid"
}

# pid of the smtp-sink of instance $D, if running
sink_pid() {
    local pid
    pid=$(cat "$D/sink.pid" 2>/dev/null) || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    alive "$pid" || return 1
    [ "$(proc_env "$pid" RELAY_SH_INSTANCE)" = "$D" ] || return 1
    echo "$pid"
}

# dead PID...: none of them is alive
dead() { local p; for p; do ! alive "$p" || return 1; done; }

# terminate PID...: SIGTERM, wait until gone; SIGKILL after 5 s
terminate() {
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    poll 5 dead "$@" && return 0
    kill -KILL "$@" 2>/dev/null || true
    poll 5 dead "$@" || note "pids $* do not die"
}

# stop a Postfix master PID and every process of its session (the master
# calls setsid(), so its session holds exactly this instance's daemons)
stop_master() {
    terminate "$1"
    # (on SIGTERM the master signals its process group itself; this only
    # waits for stragglers, which may still hold the listening sockets)
    terminate $(pgrep -s "$1" || true)
}

# pids of all processes started for instance DIR (they carry
# RELAY_SH_INSTANCE=DIR in their environment; see import_environment)
instance_pids() {
    grep -l -z -x -F -e "RELAY_SH_INSTANCE=$1" /proc/[0-9]*/environ 2>/dev/null |
        sed 's|^/proc/\([0-9]*\)/environ$|\1|'
    return 0
}

# is ADDR:PORT listening (TCP)?
listening() { [ -n "$(ss -Hltn "src $1:$2" 2>/dev/null)" ]; }
not_listening() { ! listening "$@"; }

# pids holding the listening socket ADDR:PORT
listener_pids() {
    ss -Hltnp "src $1:$2" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un
}

# is the owner recorded in instance dir $1 still alive?
owner_alive() {
    local pid st
    read -r pid st 2>/dev/null < "$1/owner" || return 1
    alive "$pid" && [ "$(starttime "$pid")" = "$st" ]
}

# stop every process of instance DIR (the Postfix master with its whole
# session first, then whatever else carries the instance mark)
kill_instance() {
    local pid
    for pid in $(instance_pids "$1"); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = master ] && stop_master "$pid"
    done
    terminate $(instance_pids "$1")
}

# Make sure ADDR:PORT is free.  A listener left behind by a relay.sh instance
# whose owner is dead is stopped; anything else is an error.
claim_port() {
    local addr=$1 port=$2 pid inst comm
    listening "$addr" "$port" || return 0
    for pid in $(listener_pids "$addr" "$port"); do
        alive "$pid" || continue
        inst=$(proc_env "$pid" RELAY_SH_INSTANCE) || inst=
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || comm='?'
        if [ -z "$inst" ]; then
            die "$addr:$port is in use by pid $pid ($comm), not a relay.sh instance"
        fi
        if [ -d "$inst" ] && owner_alive "$inst"; then
            die "$addr:$port is in use by relay instance $inst (owner pid $(cut -d' ' -f1 "$inst/owner") still alive); run: relay.sh stop $inst"
        fi
        note "reclaiming $addr:$port from stale relay instance $inst (pid $pid, $comm; its owner is gone)"
        kill_instance "$inst"
        break
    done
    poll 5 not_listening "$addr" "$port" || die "$addr:$port is still in use"
}

# claim_ports ADDR:PORT...: claim_port for those that are in use
claim_ports() {
    local all ap
    all=$(ss -Hltn 2>/dev/null | awk '{print " " $4 " "}')
    for ap in "$@"; do
        case $all in *" $ap "*) claim_port "${ap%:*}" "${ap##*:}" ;; esac
    done
}

check_addr() {
    case $1 in
        *[!0-9.]*|'') die "not an IPv4 address: '$1'" ;;
    esac
}

# as_postfix CMD...: run CMD with the postfix user's uid/gids (no PAM, fast)
as_postfix() { setpriv --reuid=postfix --regid=postfix --init-groups -- "$@"; }

# give the postfix user search (x) permission on DIR and its ancestors, so
# smtpd (running as postfix) can read DIR/sasldb2 and smtp-sink can write
# DIR/sink; a mktemp -d parent is mode 0700.  Only the x bit is added.
make_traversable() {
    local p=$1
    as_postfix test -x "$p" && return 0
    while [ "$p" != / ]; do
        as_postfix test -x "$p" || chmod o+x "$p"
        p=$(dirname "$p")
    done
}

# Create the queue and data directories with the ownership and modes of
# /etc/postfix/postfix-files ("postfix set-permissions" does the same but
# takes ~2.5 s because it also checks all shared Postfix files).
make_queue_dirs() {
    local q=$D/queue
    mkdir -p "$q/pid" "$D/data"
    chmod 755 "$q" "$q/pid"
    (cd "$q" && mkdir active bounce corrupt defer deferred flush hold incoming \
        private saved trace maildrop public &&
     chown postfix:root active bounce corrupt defer deferred flush hold \
        incoming private saved trace &&
     chmod 700 active bounce corrupt defer deferred flush hold incoming \
        private saved trace &&
     chown postfix:postdrop maildrop public && chmod 730 maildrop &&
     chmod 710 public)
    chown postfix:postfix "$D/data"; chmod 700 "$D/data"
}

# ------------------------------------------------------------- config --

write_config() {
    local domains=$*
    local cert=$RELAY_ADDR key
    case ${RELAY_CERT:-} in
        '') ;;
        expired|self) cert=${RELAY_CERT}-$RELAY_ADDR ;;
        *) die "RELAY_CERT must be empty, 'expired' or 'self'" ;;
    esac
    key=$D/ca/$cert.key; cert=$D/ca/$cert.pem
    local sni_cert=$NAME
    [ -z "${RELAY_CERT:-}" ] || sni_cert=${RELAY_CERT}-$NAME

    mkdir -p "$D/etc/sasl"
    # main.cf: everything explicit, nothing inherited from /etc/postfix.
    cat > "$D/etc/main.cf" <<EOF
# Generated by tests/lib/relay.sh -- private test instance; do not edit.
compatibility_level = 3.6
queue_directory = $D/queue
data_directory = $D/data
mail_owner = postfix
setgid_group = postdrop
# RELAY_SH_INSTANCE marks every process of this instance (see stop/claim_port)
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME RELAY_SH_INSTANCE
syslog_name = postfix-relay
maillog_file = $D/maillog
maillog_file_prefixes = $D
biff = no
readme_directory = no

myhostname = $NAME
mydomain = $NAME
myorigin = \$myhostname
# Listeners are pinned in master.cf; inet_interfaces only has to name a real
# interface address (Postfix rejects 127.0.0.2 here).  Outgoing mail leaves
# from RELAY_ADDR.
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_bind_address = $RELAY_ADDR
mynetworks =
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery on the test relay
alias_maps =
alias_database =
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
# tests want fast negative replies
smtpd_error_sleep_time = 0
# Held mail is released by ETRN, which ignores back-off times.  Long back-off
# keeps the periodic deferred-queue run from ever picking up held mail
# (after any ETRN, qmgr's next deferred scan overrides defer_transports).
minimal_backoff_time = 4h
maximal_backoff_time = 1d

# The backup-MX role: accept for the customer domains, hold until ETRN.
relay_domains = $domains $NOTFLUSH
relay_recipient_maps =
fast_flush_domains = $domains
transport_maps = texthash:$D/etc/transport
defer_transports = hold
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_etrn_restrictions = permit_sasl_authenticated, reject

# SASL (Cyrus, sasldb) -- only after STARTTLS except where master.cf says so
smtpd_sasl_auth_enable = yes
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $D/etc/sasl
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = yes

# TLS server
smtpd_tls_security_level = may
smtpd_tls_chain_files = $key, $cert
tls_server_sni_maps = texthash:$D/etc/sni
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_session_cache_database =
# to the sink: plain SMTP
smtp_tls_security_level = none
EOF

    # master.cf: explicit listeners on RELAY_ADDR, no chroot anywhere.
    cat > "$D/etc/master.cf" <<EOF
# Generated by tests/lib/relay.sh -- private test instance; do not edit.
# service type  private unpriv  chroot  wakeup  maxproc command + args
$RELAY_ADDR:25 inet n    -       n       -       -       smtpd
$RELAY_ADDR:465 inet n   -       n       -       -       smtpd
  -o syslog_name=postfix-relay/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
$RELAY_ADDR:2525 inet n  -       n       -       -       smtpd
  -o syslog_name=postfix-relay/notls
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
hold      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

    : > "$D/etc/transport"
    for dom in $domains $NOTFLUSH; do
        echo "$dom hold:[$SINK_ADDR]:25" >> "$D/etc/transport"
    done
    echo "$NAME $D/ca/$sni_cert.key, $D/ca/$sni_cert.pem" > "$D/etc/sni"

    cat > "$D/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN CRAM-MD5
sasldb_path: $D/sasldb2
EOF

    # Postfix re-reads a config file every 0.3 s for as long as its mtime is
    # the current second ("file is being modified"), which made each start
    # ~2 s slower; backdate the generated files.
    touch -d '-1 minute' "$D/etc"/main.cf "$D/etc"/master.cf "$D/etc"/transport \
        "$D/etc"/sni "$D/etc"/sasl/smtpd.conf
}

# ------------------------------------------------------------ commands --

cmd_adduser() {
    [ $# = 3 ] || usage
    D=$(abspath "$1")
    local user=$2 pass=$3 realm=$NAME
    case $user in *@*) realm=${user##*@}; user=${user%@*} ;; esac
    printf '%s' "$pass" | saslpasswd2 -p -f "$D/sasldb2" -u "$realm" -c "$user" \
        || die "saslpasswd2 failed"
    # smtpd runs as postfix and opens the (Berkeley DB) file read-only
    chgrp postfix "$D/sasldb2"
    chmod 0640 "$D/sasldb2"
}

cmd_sink_start() {
    [ $# -ge 2 ] || usage
    D=$(abspath "$1"); local addr=$2; shift 2
    check_addr "$addr"
    cmd_sink_stop "$D"
    claim_port "$addr" 25
    mkdir -p "$D/sink"
    chown postfix: "$D/sink"
    # -d: one file per message, created at MAIL FROM and closed at "."
    # (before the 250 reply); the strftime prefix keeps names sortable.
    # setsid: not in the caller's process group (no stray ^C/SIGHUP).
    RELAY_SH_INSTANCE=$D setsid smtp-sink -4 -u postfix -h customer.test \
        -d "$D/sink/%Y%m%d-%H%M%S." "$@" "$addr:25" 64 \
        </dev/null >>"$D/sink.log" 2>&1 &
    echo $! > "$D/sink.pid"
    if ! poll 5 listening "$addr" 25; then
        cat "$D/sink.log" >&2
        die "smtp-sink did not start listening on $addr:25"
    fi
}

cmd_sink_stop() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    local pid
    if pid=$(sink_pid); then terminate "$pid"; fi
    rm -f "$D/sink.pid"
}

cmd_stop() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    local pid
    if pid=$(master_pid); then stop_master "$pid"; fi
    cmd_sink_stop "$D"
    # anything else of ours (lost pid file, DIR partly removed, ...)
    kill_instance "$D"
}

cmd_status() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    master_pid >/dev/null && sink_pid >/dev/null
}

# read the SMTP greeting of ADDR:PORT (plain TCP) into $greeting
read_greeting() {
    greeting=
    exec 3<>"/dev/tcp/$1/$2" || return 1
    IFS= read -r -t 5 greeting <&3 || true
    printf 'QUIT\r\n' >&3 2>/dev/null || true
    exec 3<&- 3>&-
    greeting=${greeting%$'\r'}
    case $greeting in 220*) return 0 ;; *) return 1 ;; esac
}

start_failed() {
    echo "relay.sh: $*" >&2
    if [ -s "$D/maillog" ]; then
        echo "---- tail of $D/maillog ----" >&2
        tail -n 30 "$D/maillog" >&2
    fi
    cmd_stop "$D" >/dev/null 2>&1 || true
    exit 1
}

cmd_start() {
    [ $# -ge 4 ] || usage
    [ "$(id -u)" = 0 ] || die "start must run as root"
    D=$(abspath "$1"); RELAY_ADDR=$2; SINK_ADDR=$3; shift 3
    check_addr "$RELAY_ADDR"; check_addr "$SINK_ADDR"
    [ "$RELAY_ADDR" != "$SINK_ADDR" ] || die "RELAY_ADDR and SINK_ADDR must differ"
    local t0 pid
    t0=$(now_us)

    # 1. Stop whatever this DIR still runs, free our ports from stale runs.
    cmd_stop "$D"
    claim_ports "$RELAY_ADDR:25" "$RELAY_ADDR:465" "$RELAY_ADDR:2525"
    [ "${RELAY_SINK:-}" = external ] || claim_ports "$SINK_ADDR:25"

    # 2. Fresh instance state (the CA is kept: mkca.sh is idempotent).
    mkdir -p "$D"
    rm -rf "$D/etc" "$D/queue" "$D/data" "$D/sink" "$D/sasldb2" "$D/maillog" \
           "$D/sink.log" "$D/sink.pid"
    make_traversable "$D"
    make_queue_dirs
    echo "${RELAY_OWNER_PID:-$PPID} $(starttime "${RELAY_OWNER_PID:-$PPID}")" > "$D/owner"
    cat > "$D/env" <<EOF
RELAY_ADDR=$RELAY_ADDR
SINK_ADDR=$SINK_ADDR
DOMAINS='$*'
EOF

    # 3. TLS material, config, SASL user.
    "$LIBDIR/mkca.sh" "$D/ca" "$NAME" "$RELAY_ADDR" || die "mkca.sh failed"
    write_config "$@"
    cmd_adduser "$D" "$USER_DEFAULT" "$PASS_DEFAULT"
    ( umask 077; printf '%s' "$PASS_DEFAULT" > "$D/password" )

    # 4. Postfix.  The quick-start marker lets "postfix start" skip its
    # integrity checks (~2.5 s; they re-check the shared /usr/lib/postfix);
    # the queue is brand new and was made by make_queue_dirs.
    touch "$D/queue/quick-start"
    pf start >"$D/start.log" 2>&1 || { cat "$D/start.log" >&2; start_failed "postfix start failed"; }

    # 5. The customer MTA (RELAY_SINK=external: the caller starts it with
    # sink-start, e.g. in another network namespace).
    [ "${RELAY_SINK:-}" = external ] || cmd_sink_start "$D" "$SINK_ADDR"

    # 6. Wait for every listener, then for a real greeting on port 25 (this
    # proves smtpd starts with this config: TLS, SASL, maps).
    for p in 25 465 2525; do
        poll "${RELAY_START_TIMEOUT:-20}" listening "$RELAY_ADDR" $p \
            || start_failed "nothing listens on $RELAY_ADDR:$p"
    done
    local greeting
    for p in 25 2525; do
        read_greeting "$RELAY_ADDR" $p \
            || start_failed "no SMTP greeting on $RELAY_ADDR:$p (got '$greeting')"
    done
    pid=$(master_pid) || start_failed "postfix master is not running"
    note "started $D: relay $RELAY_ADDR:25/465/2525 (master pid $pid), sink $SINK_ADDR:25 (pid $(cat "$D/sink.pid" 2>/dev/null || echo external)), domains $*, in $(( ($(now_us) - t0) / 1000 )) ms"
}

# count queue entries: qcount [QUEUE_NAME] [DOMAIN]  (empty = any)
qcount() {
    local q=${1:-} dom=${2:-}
    postqueue -c "$D/etc" -j 2>/dev/null | awk -v q="$q" -v dom="$dom" '
        (q == "" || index($0, "\"queue_name\": \"" q "\"")) &&
        (dom == "" || index($0, "@" dom "\"")) { n++ }
        END { print n + 0 }'
}

cmd_queued() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    master_pid >/dev/null || die "Postfix of $D is not running"
    qcount
}

# number of completely received messages in DIR/sink: files that exist and
# that smtp-sink no longer holds open (it keeps a file open from MAIL FROM to
# the final "." and unlinks it if the transaction is aborted).
sink_count() {
    local open=$'\n' pid f n=0
    local -a files
    shopt -s nullglob
    files=("$D"/sink/*)         # 1. list the files,
    shopt -u nullglob
    if pid=$(sink_pid); then    # 2. then see which are still being written
        open+=$(find "/proc/$pid/fd" -mindepth 1 -lname "$D/sink/*" -printf '%l\n' 2>/dev/null)$'\n'
    fi
    for f in "${files[@]}"; do  # 3. then drop those and aborted ones
        case $open in *$'\n'"$f"$'\n'*) continue ;; esac
        [ -e "$f" ] && n=$((n + 1))
    done
    echo "$n"
}

cmd_delivered() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    sink_count
}

cmd_wait_delivered() {
    [ $# = 3 ] || usage
    D=$(abspath "$1"); local want=$2 secs=$3
    sink_has() { [ "$(sink_count)" -ge "$want" ]; }
    if poll "$secs" sink_has; then return 0; fi
    echo "relay.sh: timeout after ${secs}s: sink has $(sink_count) of $want messages (queue: $(qcount))" >&2
    sink_count
    exit 1
}

cmd_inject() {
    [ $# = 3 ] || usage
    D=$(abspath "$1"); local n=$2 dom=$3 before logpos leaked
    case $n in ''|*[!0-9]*|0) die "inject: N must be a positive number" ;; esac
    load_env "$D"
    master_pid >/dev/null || die "Postfix of $D is not running"
    before=$(qcount deferred "$dom")
    logpos=$(stat -c %s "$D/maillog" 2>/dev/null || echo 0)

    # An "ETRN" for a domain whose fast-flush log exists but is empty makes
    # the flush daemon send qmgr a "flush dead / override defer_transports"
    # request (F) without a following scan request; qmgr keeps that as a
    # pending flag for its NEXT incoming-queue scan, so the next message to
    # arrive would bypass defer_transports and go straight to the sink.
    # An empty incoming scan, started now, consumes the pending flag.
    # (postkick writes a trailing NUL after the request; qmgr may already
    # have closed the socket, so without this it dies of SIGPIPE ~1 in 3.)
    (trap '' PIPE; postkick -c "$D/etc" public qmgr I) || note "warning: postkick failed"

    smtp-source -4 -d -m "$n" -M client.test -f "sender@client.test" \
        ${RELAY_MSG_SIZE:+-l "$RELAY_MSG_SIZE"} \
        -t "user@$dom" -S "relay.sh test message" "$RELAY_ADDR:25" \
        || die "smtp-source to $RELAY_ADDR:25 failed"

    # Done when all N are deferred (held, and logged for fast flush: ETRN
    # only finds mail that has been deferred once).  Fail fast on leaks.
    all_held() {
        [ "$(qcount deferred "$dom")" -ge $((before + n)) ] && return 0
        leaked=$(tail -c +$((logpos + 1)) "$D/maillog" 2>/dev/null |
                 grep -F "to=<user@$dom>" | grep -c -F "status=sent" || true)
        [ "$leaked" = 0 ] || return 0
        return 1
    }
    leaked=0
    if ! poll "${RELAY_INJECT_TIMEOUT:-20}" all_held; then
        echo "relay.sh: inject: only $(( $(qcount deferred "$dom") - before )) of $n messages for $dom reached the deferred queue" >&2
        tail -n 20 "$D/maillog" >&2
        exit 1
    fi
    if [ "$leaked" != 0 ]; then
        echo "relay.sh: inject: $leaked message(s) for $dom were delivered at once instead of being held" >&2
        tail -c +$((logpos + 1)) "$D/maillog" | grep -F "status=" >&2
        exit 1
    fi
}

cmd_log() {
    [ $# = 1 ] || usage
    D=$(abspath "$1")
    cat "$D/maillog" 2>/dev/null || true
}

# ---------------------------------------------------------------- main --

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
    adduser)         cmd_adduser "$@" ;;
    log)             cmd_log "$@" ;;
    -h|--help|help)  usage ;;
    *)               usage ;;
esac
