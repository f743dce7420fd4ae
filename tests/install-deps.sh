#!/bin/sh
# SPDX-License-Identifier: ISC
# install-deps.sh — the TEST dependencies (used by tests/run-all.sh and
# tests/demo.sh; a gateway needs only tests/build-deps.sh): the build
# dependencies plus real servers for the integration tests (Postfix,
# PowerDNS), Check, clang (fuzzing), valgrind, musl-tools, the Debian
# packaging tools.  Idempotent; needs root (apt-get).
#
# It never stops, disables or reconfigures a system service.  The tests run
# their own private server instances in private network namespaces
# (tests/lib/isolate.sh), so a packaged Postfix or PowerDNS that apt starts
# does not get in their way.
#
# It refuses to run when another MTA (Exim, Sendmail, OpenSMTPD, ...) is
# installed: Debian's postfix conflicts with every other mail-transport-agent,
# so installing it would REMOVE that MTA.  Run the test suite on a test
# machine or container instead (or, where that MTA may go, set
# ETRNPOLL_REPLACE_MTA=yes).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: must run as root (apt-get)" >&2
    exit 77
fi
TEST="check clang libclang-rt-14-dev gnutls-bin
  postfix sasl2-bin libsasl2-modules pdns-server pdns-backend-sqlite3 sqlite3
  bind9-dnsutils iproute2 util-linux python3 valgrind msmtp procps psmisc time
  musl-tools debhelper lintian fakeroot dpkg-dev adduser acl strace"
# Real Exim and Sendmail for the relay tests (tests/lib/exim.sh, sendmail.sh):
# their .debs conflict with postfix, so they are only downloaded into
# /var/cache/etrnpoll-test (unpacked by the harnesses).  Optional: the
# harnesses fetch them themselves when the cache is empty.
bash tests/lib/mtaroot.sh fetch all ||
    echo "install-deps: note: Exim/Sendmail .debs not prefetched; the relay tests will try again" >&2
missing=""
for p in $(sh tests/build-deps.sh --list) $TEST; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

case " $missing " in *" postfix "*)
    # another installed MTA would be removed by installing postfix
    other=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
        awk '$1 ~ /^[ih]i/ && $0 ~ /mail-transport-agent/ && $2 != "postfix" { print $2 }' | tr '\n' ' ')
    if [ -n "$other" ] && [ "${ETRNPOLL_REPLACE_MTA:-no}" != yes ]; then
        echo "install-deps: REFUSED: the tests need Postfix, and installing Debian's postfix" >&2
        echo "  would remove the MTA installed here (${other% }): it conflicts with every" >&2
        echo "  other mail-transport-agent.  Nothing was installed or changed." >&2
        echo "  Run the test suite on a test machine or container; to build etrnpoll here," >&2
        echo "  sh tests/build-deps.sh is enough.  On a throw-away machine where the" >&2
        echo "  MTA may go: ETRNPOLL_REPLACE_MTA=yes sh tests/run-all.sh" >&2
        exit 1
    fi
    # Fresh install only (postfix not installed yet, so nothing of the admin's
    # is reconfigured): no system mail setup, the tests bring their own.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    ;;
esac
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/tmp/etrnpoll-apt.log 2>&1 || {
    rc=$?; tail -30 /tmp/etrnpoll-apt.log >&2; exit $rc; }
echo "install-deps: done"
