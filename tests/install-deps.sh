#!/bin/sh
# Install everything etrnpoll needs to build, test and benchmark on Debian 12.
# Idempotent; needs root. Packaged services (postfix, pdns) are installed but
# NOT started: the tests start private instances with their own config dirs.
set -eu
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: must run as root (apt-get)" >&2
    exit 77
fi
BUILD="autoconf automake libtool pkg-config make gcc clang libclang-rt-14-dev
  libcurl4-gnutls-dev libgnutls28-dev gnutls-bin libgsasl-dev libconfuse-dev
  libnl-3-dev libnl-route-3-dev libjson-c-dev check"
TEST="postfix sasl2-bin libsasl2-modules pdns-server pdns-backend-sqlite3 sqlite3
  bind9-dnsutils iproute2 python3 valgrind msmtp procps psmisc time"
# Real Exim and Sendmail for the relay tests (tests/lib/exim.sh, sendmail.sh):
# their .debs conflict with postfix, so they are only downloaded into
# /var/cache/etrnpoll-test (unpacked by the harnesses).  Optional: the
# harnesses fetch them themselves when the cache is empty.
bash "$(dirname "$0")/lib/mtaroot.sh" fetch all ||
    echo "install-deps: note: Exim/Sendmail .debs not prefetched; the relay tests will try again" >&2
missing=""
for p in $BUILD $TEST; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Keep apt from starting the packaged postfix/pdns (port 25/53 belong to the tests).
prc=/usr/sbin/policy-rc.d
had_prc=0; [ -e $prc ] && had_prc=1
if [ $had_prc = 0 ]; then printf '#!/bin/sh\nexit 101\n' > $prc; chmod 755 $prc; fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -qq || true
rc=0
apt-get install -y -qq --no-install-recommends $missing >/tmp/etrnpoll-apt.log 2>&1 || rc=$?
[ $had_prc = 0 ] && rm -f $prc
if [ $rc != 0 ]; then tail -30 /tmp/etrnpoll-apt.log >&2; exit $rc; fi
# The packaged daemons must not hold the ports the tests use.
for s in postfix pdns; do
    (command -v systemctl >/dev/null && systemctl disable --now $s) >/dev/null 2>&1 || true
done
pkill -x master 2>/dev/null || true
pkill -x pdns_server 2>/dev/null || true
echo "install-deps: done"
