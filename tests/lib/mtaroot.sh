#!/bin/bash
# SPDX-License-Identifier: ISC
# mtaroot.sh -- private, unpacked copies of Debian's Exim and Sendmail for the
# test harnesses (tests/lib/exim.sh, tests/lib/sendmail.sh).  Their packages
# conflict with the installed postfix, so they are never installed: the .deb
# files are fetched with `apt-get download` into a cache that is reused
# between runs, and unpacked with `dpkg -x` into a root of their own.
#
#   mtaroot.sh fetch [exim|sendmail|all]   download the .debs (if missing)
#   mtaroot.sh root exim|sendmail          print the unpacked root (fetching
#                                          and unpacking first if needed)
#
# Cache: $ETP_MTA_CACHE (default /var/cache/etrnpoll-test): debs/*.deb and
# root-exim/, root-sendmail/ (each with a .stamp naming the .debs it was made
# from; a different set of .debs makes a fresh root).  set-uid/set-gid bits
# are removed in the roots (the daemons run as root anyway, and a set-gid
# sendmail would ignore LD_LIBRARY_PATH, which finds the unpacked libwrap0).
# Concurrent callers serialise on a lock file in the cache.
#
# The integration tests run in a private network namespace (isolate.sh),
# where the package registry cannot be reached; a download from there runs
# in the network namespace the test was started in (that of the nearest
# ancestor process outside the private one; nsenter --net, apt-get only).
# Exit: 0 ok, 3 the packages cannot be had (no cache and no download).

if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

CACHE=${ETP_MTA_CACHE:-/var/cache/etrnpoll-test}
# exim4-base/-config: the daemon-light package alone has only the binary;
# liblockfile1 and libwrap0 are libraries the sendmail binary links with
# that this machine does not have (they come with the sendmail packages).
PKGS_exim="exim4-daemon-light exim4-base exim4-config"
PKGS_sendmail="sendmail-bin sendmail-base sendmail-cf libwrap0 liblockfile1"

die() { echo "mtaroot.sh: $1" >&2; exit "${2:-1}"; }

# the cached .deb of package $1 (newest by name), or nothing
deb_of() {
    local f
    f=$(ls -1 "$CACHE/debs/$1"_*.deb 2>/dev/null | sort -V | tail -n1)
    [ -n "$f" ] && echo "$f"
}

# the network namespace this process ran in before isolate.sh made a private
# one: that of the nearest ancestor whose namespace differs from ours
outer_netns() {
    local me p n
    me=$(readlink /proc/self/ns/net 2>/dev/null) || return 1
    p=$$
    while [ "$p" -gt 1 ]; do
        p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || return 1
        n=$(readlink "/proc/$p/ns/net" 2>/dev/null) || continue
        [ "$n" != "$me" ] && { echo "/proc/$p/ns/net"; return 0; }
    done
    return 1
}

# apt-get with the registry reachable, also from a private netns
apt_net() {
    local ns
    if [ "${ETP_ISOLATED:-0}" = 1 ] && ns=$(outer_netns); then
        nsenter --net="$ns" -- apt-get "$@"
    else
        apt-get "$@"
    fi
}

fetch() {
    local want="" p missing=""
    case ${1:-all} in
        exim) want=$PKGS_exim ;;
        sendmail) want=$PKGS_sendmail ;;
        all) want="$PKGS_exim $PKGS_sendmail" ;;
        *) die "fetch: unknown set '$1'" ;;
    esac
    for p in $want; do deb_of "$p" >/dev/null || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    mkdir -p "$CACHE/debs"
    echo "mtaroot.sh: downloading into $CACHE/debs:$missing" >&2
    # (apt-get download runs as root here; its _apt sandbox warning is noise)
    if ! (cd "$CACHE/debs" && apt_net download -q $missing) >"$CACHE/download.log" 2>&1; then
        # package lists absent or stale on a fresh machine: update once, retry
        apt_net update -qq >>"$CACHE/download.log" 2>&1 || true
        (cd "$CACHE/debs" && apt_net download -q $missing) >>"$CACHE/download.log" 2>&1 || {
            tail -n 5 "$CACHE/download.log" >&2
            die "cannot download$missing (apt-get download failed; see $CACHE/download.log)" 3
        }
    fi
    for p in $missing; do deb_of "$p" >/dev/null || die "apt-get download gave no .deb for $p" 3; done
}

root() {
    local set=$1 pkgs p debs="" r stamp
    case $set in
        exim) pkgs=$PKGS_exim ;;
        sendmail) pkgs=$PKGS_sendmail ;;
        *) die "root: unknown set '$set'" ;;
    esac
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock -w 300 9 || die "cannot lock $CACHE/.lock"
    fetch "$set"
    for p in $pkgs; do debs="$debs $(basename "$(deb_of "$p")")"; done
    r=$CACHE/root-$set
    stamp=$(echo "$debs")
    if [ "$(cat "$r/.stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$r" "$r.new"
        mkdir -p "$r.new"
        for p in $debs; do
            dpkg -x "$CACHE/debs/$p" "$r.new" || die "dpkg -x $p failed"
        done
        find "$r.new" -type f -perm /6000 -exec chmod ug-s {} +
        chmod 755 "$r.new"
        echo "$stamp" > "$r.new/.stamp"
        mv "$r.new" "$r"
    fi
    exec 9>&-
    echo "$r"
}

case ${1:-} in
    fetch) shift; fetch "${1:-all}" ;;
    root)  [ $# = 2 ] || die "usage: mtaroot.sh root exim|sendmail"; root "$2" ;;
    *) sed -n '/^#   mtaroot.sh /p' "$0" | sed 's/^# //' >&2; exit 2 ;;
esac
