#!/bin/sh
# SPDX-License-Identifier: ISC
# mkca.sh DIR NAME...  -- make a throw-away test CA in DIR and one server
# certificate per NAME (a DNS name or an IP literal), all with GnuTLS certtool.
# Produces: DIR/ca.pem DIR/ca.key, DIR/NAME.pem DIR/NAME.key, and
# DIR/other-ca.pem (an unrelated CA, for "wrong CA" tests),
# DIR/expired-NAME.pem/.key (expired cert), DIR/self-NAME.pem/.key (self-signed).
set -eu
dir=$1; shift
mkdir -p "$dir"
cd "$dir"
ct() { certtool "$@" >/dev/null 2>&1; }
if [ ! -f ca.pem ]; then
    ct --generate-privkey --key-type=ecdsa --outfile ca.key
    cat > ca.tmpl <<T
cn = "etrnpoll test CA"
ca
cert_signing_key
expiration_days = 30
T
    ct --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
    ct --generate-privkey --key-type=ecdsa --outfile other-ca.key
    sed 's/test CA/unrelated CA/' ca.tmpl > other-ca.tmpl
    ct --generate-self-signed --load-privkey other-ca.key --template other-ca.tmpl --outfile other-ca.pem
fi
for name in "$@"; do
    [ -f "$name.pem" ] && continue
    case $name in
        *[!0-9.]*) case $name in *:*) san="ip_address = \"$name\"";; *) san="dns_name = \"$name\"";; esac ;;
        *) san="ip_address = \"$name\"" ;;
    esac
    cat > "$name.tmpl" <<T
cn = "$name"
$san
tls_www_server
encryption_key
signing_key
expiration_days = 30
T
    ct --generate-privkey --key-type=ecdsa --outfile "$name.key"
    ct --generate-certificate --load-privkey "$name.key" --load-ca-certificate ca.pem \
        --load-ca-privkey ca.key --template "$name.tmpl" --outfile "$name.pem"
    # expired: valid from 10 days ago for 1 day (certtool has no backdating
    # option, so use faketime-free trick: activation/expiration dates)
    cat > "expired-$name.tmpl" <<T
cn = "$name"
$san
tls_www_server
activation_date = "2020-01-01 00:00:00"
expiration_date = "2020-01-02 00:00:00"
T
    cp "$name.key" "expired-$name.key"
    ct --generate-certificate --load-privkey "expired-$name.key" --load-ca-certificate ca.pem \
        --load-ca-privkey ca.key --template "expired-$name.tmpl" --outfile "expired-$name.pem"
    cp "$name.key" "self-$name.key"
    ct --generate-self-signed --load-privkey "self-$name.key" --template "$name.tmpl" --outfile "self-$name.pem"
done
chmod 600 ./*.key
