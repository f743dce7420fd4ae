# SPDX-License-Identifier: ISC
# mtacommon.sh -- helpers shared by tests/lib/exim.sh and tests/lib/sendmail.sh
# (sourced, bash).  Process bookkeeping in the style of relay.sh: every process
# started for instance DIR carries $MARK=DIR in its environment.

now_us() { echo "${EPOCHREALTIME/./}"; }
abspath() { realpath -m -- "$1"; }

proc_stat() {
    local st
    read -r st 2>/dev/null < "/proc/$1/stat" || return 1
    echo "${st##*) }"
}
alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(proc_stat "$1") || return 1
    [ "${st:0:1}" != Z ]
}
starttime() {
    local -a f
    read -r -a f <<< "$(proc_stat "$1")" || return 1
    echo "${f[19]:-}"
}
# poll SECS CMD...: run CMD every 0.05 s until it succeeds or SECS pass
poll() {
    local secs=$1 end; shift
    end=$(( $(now_us) + secs * 1000000 ))
    while :; do
        "$@" && return 0
        [ "$(now_us)" -lt "$end" ] || return 1
        sleep 0.05
    done
}
dead() { local p; for p; do ! alive "$p" || return 1; done; }
terminate() {
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    poll 5 dead "$@" && return 0
    kill -KILL "$@" 2>/dev/null || true
    poll 5 dead "$@" || note "pids $* do not die"
}
# pids of every process marked MARK=DIR
marked_pids() {
    grep -l -z -x -F -e "$MARK=$1" /proc/[0-9]*/environ 2>/dev/null |
        sed 's|^/proc/\([0-9]*\)/environ$|\1|'
    return 0
}
listening() { [ -n "$(ss -Hltn "src $1:$2" 2>/dev/null)" ]; }
not_listening() { ! listening "$@"; }
check_addr() { case $1 in *[!0-9.]*|'') die "not an IPv4 address: '$1'" ;; esac; }

# read the SMTP greeting of ADDR:PORT into $greeting
read_greeting() {
    greeting=
    exec 3<>"/dev/tcp/$1/$2" || return 1
    IFS= read -r -t 5 greeting <&3 || true
    printf 'QUIT\r\n' >&3 2>/dev/null || true
    exec 3<&- 3>&-
    greeting=${greeting%$'\r'}
    case $greeting in 220*) return 0 ;; *) return 1 ;; esac
}

# owner file in relay.sh's format ("pid starttime"), so relay.sh's
# stale-instance logic (the sink is started by relay.sh) understands it
write_owner() {
    local o=${RELAY_OWNER_PID:-$PPID}
    echo "$o $(starttime "$o")" > "$D/owner"
}

# Refuse ADDR:PORT if something holds it; a listener of an instance (of this
# harness) whose owner is gone is stopped.
claim_port_of() {
    local addr=$1 port=$2 pid inst o st
    listening "$addr" "$port" || return 0
    for pid in $(ss -Hltnp "src $addr:$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
        inst=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n "s|^$MARK=||p") || inst=
        [ -n "$inst" ] || die "$addr:$port is in use by pid $pid ($(cat /proc/$pid/comm 2>/dev/null)), not a $MARK instance"
        if read -r o st 2>/dev/null < "$inst/owner" && alive "$o" && [ "$(starttime "$o")" = "$st" ]; then
            die "$addr:$port is in use by instance $inst (owner pid $o still alive)"
        fi
        note "reclaiming $addr:$port from stale instance $inst (its owner is gone)"
        terminate $(marked_pids "$inst")
    done
    poll 5 not_listening "$addr" "$port" || die "$addr:$port is still in use"
}

# private passwd/group for the namespace: the host's, plus USER:UID lines
# write_ids DIR "NAME:UID" ...
write_ids() {
    local dir=$1 e; shift
    { grep -v -E "^($(for e; do printf '%s|' "${e%%:*}"; done)\$):" /etc/passwd
      for e; do echo "${e%%:*}:x:${e##*:}:${e##*:}:etrnpoll test ${e%%:*}:/nonexistent:/usr/sbin/nologin"; done
    } > "$dir/passwd"
    { grep -v -E "^($(for e; do printf '%s|' "${e%%:*}"; done)\$):" /etc/group
      for e; do echo "${e%%:*}:x:${e##*:}:"; done
    } > "$dir/group"
    chmod 644 "$dir/passwd" "$dir/group"
}

# The relay's private /etc: an overlay of the host's /etc with DIR/etc-up on
# top (passwd, group and whatever else the harness put there).  Not a bind
# mount of single files: when the host replaces /etc/passwd by rename (any
# useradd, a package adding a system user), a file bind mount is left on the
# unlinked old file and lookups see the host's new file -- Exim then fails
# with 'failed to find uid for user name "Debian-exim"'.
#   etc_overlay_prepare FILE...   copy FILEs (from DIR) into DIR/etc-up
etc_overlay_prepare() {
    local f
    rm -rf "$D/etc-up" "$D/etc-work"
    mkdir -p "$D/etc-up" "$D/etc-work"
    for f; do cp "$D/$f" "$D/etc-up/$f"; done
}
# shell text for the launcher: mount the overlay on /etc ($1 of the
# launcher is DIR)
ETC_OVERLAY_MOUNT='mount -t overlay etp-etc -o "lowerdir=/etc,upperdir=$1/etc-up,workdir=$1/etc-work" /etc || exit 1'
