# SPDX-License-Identifier: ISC
# svcuser.sh — a service user that exists only inside this test's mount
# namespace (tests/lib/isolate.sh made it private).  Needs common.sh.
#   svcuser_add NAME UID: NAME (uid = gid = UID, group NAME) in a private
#   /etc/passwd and /etc/group.  /etc gets an overlay whose upper layer holds
#   the two files: a host tool that rewrites /etc/passwd by rename (useradd,
#   a package's postinst) would detach a bind mount of the file itself, but
#   not this.  Falls back to bind-mounting the two files.
svcuser_add() {
    local name=$1 uid=$2
    mkdir -p "$T/etc-up" "$T/etc-work"
    grep -v "^$name:" /etc/passwd > "$T/etc-up/passwd"
    grep -v "^$name:" /etc/group > "$T/etc-up/group"
    echo "$name:x:$uid:$uid:$name test user:/nonexistent:/usr/sbin/nologin" >> "$T/etc-up/passwd"
    echo "$name:x:$uid:" >> "$T/etc-up/group"
    chmod 644 "$T/etc-up/passwd" "$T/etc-up/group"
    if ! mount -t overlay etp-etc -o "lowerdir=/etc,upperdir=$T/etc-up,workdir=$T/etc-work" /etc 2>/dev/null; then
        cp "$T/etc-up/passwd" "$T/passwd"; cp "$T/etc-up/group" "$T/group"
        mount --bind "$T/passwd" /etc/passwd && mount --bind "$T/group" /etc/group || return 1
    fi
    [ "$(id -u "$name" 2>/dev/null)" = "$uid" ]
}
