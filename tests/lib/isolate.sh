# SPDX-License-Identifier: ISC
# isolate.sh — sourced first by every integration test (bash).
# Every integration test runs in a network namespace and a mount namespace of
# its own: a private loopback (lo up, all of 127.0.0.0/8) and a private
# /run/netns.  Its servers on 127.0.0.x then neither see nor disturb anything
# on the host (a system Postfix on *:25, another copy of the suite running at
# the same time), and the named namespaces it makes with `ip netns add`
# cannot collide with another run's.  A service user "etrnpoll" on the host
# (the Debian package creates one) is hidden from the test, also when it
# appears or goes while the test runs.  The script re-executes itself once,
# as root, inside the new namespaces; ETP_ISOLATED=1 marks that run (and is
# inherited by what it starts).  ETP_NO_ISOLATE=1 runs on the host's network
# (debugging only).
if [ "${ETP_ISOLATED:-0}" != 1 ] && [ "${ETP_NO_ISOLATE:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
    if ! unshare --net --mount --propagation private true 2>/dev/null; then
        echo "FAIL: $(basename "$0"): cannot create a private network+mount namespace (unshare --net --mount); the integration tests need one to stay off the host's network" >&2
        exit 1
    fi
    export ETP_ISOLATED=1
    exec unshare --net --mount --propagation private -- /bin/bash -c '
        ip link set lo up || exit 1
        mkdir -p /run/netns && mount -t tmpfs -o mode=0755,size=1m etp-netns /run/netns || exit 1
        # etrnpoll run as root drops to the service user "etrnpoll" when it
        # exists; the package test creates (and purges) it on the host, maybe
        # while this test runs.  Tests always see a private passwd/group
        # without it (tests that need it add their own), fixed at the start:
        # /etc gets an overlay whose upper layer (a private tmpfs) holds the
        # two files.  Not a bind mount of the files themselves: adduser
        # replaces /etc/passwd by rename, and the kernel then drops a bind
        # mount on the old file in every other namespace (the test saw the
        # host user appear mid-run).  /etc itself is never renamed.
        # (ETP_HOST_USERS=1: the package test, which must add the user to
        # the real files, keeps them)
        if [ "${ETP_HOST_USERS:-0}" != 1 ]; then
            d=$(mktemp -d /tmp/etp-iso.XXXXXX) || exit 1
            mount -t tmpfs -o mode=0755,size=4m etp-iso "$d" &&
                mkdir "$d/up" "$d/work" || exit 1
            for f in passwd group; do
                grep -v "^etrnpoll:" /etc/$f > "$d/up/$f"; chmod 644 "$d/up/$f" || exit 1
            done
            mount -t overlay etp-etc -o "lowerdir=/etc,upperdir=$d/up,workdir=$d/work" /etc || {
                echo "FAIL: $(basename "$0"): cannot put an overlay on /etc (a private passwd/group without the host user etrnpoll)" >&2; exit 1; }
            umount -l "$d" && rmdir "$d"   # the overlay keeps its own reference
        fi
        exec /bin/bash "$0" "$@"' "$0" "$@"
fi
