# SPDX-License-Identifier: ISC
# no-service-user.sh — sourced after common.sh by tests that run etrnpoll as
# root and expect it to stay root (no `user =` in their configs).
# etrnpoll drops to the service user "etrnpoll" when that user exists
# (poller/core/priv.h); another test (e.g. the package test) may create it on
# the host while this one runs.  Inside our private mount namespace
# (isolate.sh), /etc/passwd and /etc/group are replaced by copies without it,
# so the result does not depend on what else runs on the machine.
if [ "${ETP_ISOLATED:-0}" = 1 ]; then
    grep -v '^etrnpoll:' /etc/passwd > "$T/passwd.nosvc" && chmod 644 "$T/passwd.nosvc" &&
        mount --bind "$T/passwd.nosvc" /etc/passwd
    grep -v '^etrnpoll:' /etc/group > "$T/group.nosvc" && chmod 644 "$T/group.nosvc" &&
        mount --bind "$T/group.nosvc" /etc/group
fi
