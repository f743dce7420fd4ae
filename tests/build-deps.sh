#!/bin/sh
# SPDX-License-Identifier: ISC
# build-deps.sh — install what building etrnpoll from source needs on
# Debian 12 (compiler, autotools, pkg-config and the libraries' -dev
# packages), nothing else: no servers, no services touched.  Idempotent;
# needs root for apt-get.
#   sh tests/build-deps.sh          install the missing ones
#   sh tests/build-deps.sh --list   print the package list (for apt-get install by hand)
# Check (unit tests, `make check`) is optional: ./configure finds it or not.
set -eu
BUILD="autoconf automake pkg-config make gcc libc6-dev
  libcurl4-gnutls-dev libgnutls28-dev libgsasl-dev libconfuse-dev
  libnl-3-dev libnl-route-3-dev libjson-c-dev"
if [ "${1:-}" = --list ]; then
    echo $BUILD
    exit 0
fi
missing=""
for p in $BUILD; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "build-deps: missing:$missing" >&2
    echo "build-deps: run as root (apt-get), or: apt-get install$missing" >&2
    exit 1
fi
echo "build-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/tmp/etrnpoll-apt.log 2>&1 || {
    rc=$?; tail -30 /tmp/etrnpoll-apt.log >&2; exit $rc; }
echo "build-deps: done"
