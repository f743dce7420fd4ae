#!/bin/bash
# SPDX-License-Identifier: ISC
# conf-doc.sh — man/etrnpoll.conf.5 documents exactly the keys of the schema
# (poller/conf/schema.tab, as poller/conf/schema.awk reads it): every key of
# every section is the term of a .TP entry under its section's .SH heading,
# and every such term is a key.  No root, no servers (make check-unit).
#   bash tests/conf-doc.sh [SCHEMA.tab [MAN.5]]
# The man page's shape:
#   .SH TOP LEVEL                 the top level; .SH RELAY SECTIONS, DDNS
#                                 SECTIONS, LINK SECTION, HOLD SECTION, HOOKS
#                                 SECTION: the section "relay" etc. (a key of
#                                 the top level, documented by its heading)
#   .TP / .B key ", " other\-key  terms of an entry: one or more keys
#   .TP / .B name { a b }         the section name, and its keys a and b
#   .TP / .B name { ... }         the section name (its keys are elsewhere)
set -u
src=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
schema=${1:-$src/poller/conf/schema.tab}
man=${2:-$src/man/etrnpoll.conf.5}
T=$(mktemp -d /tmp/etrnpoll-confdoc.XXXXXX)
trap 'rm -rf "$T"' EXIT

# "section key" for every key of the schema
if ! awk -v what=keys -f "$src/poller/conf/schema.awk" "$schema" > "$T/keys"; then
    echo "FAIL - conf-doc: $schema does not parse"
    echo "0 passed, 1 failed"
    exit 1
fi
awk '{ print $1, $2 }' "$T/keys" | sort -u > "$T/schema"

# "section key" for every term the man page documents
awk '
function term(s,    n, i, w, inner) {
    gsub(/\\-/, "-", s); gsub(/\\\(dq/, "", s); gsub(/"/, "", s)
    if (match(s, /\{.*\}/)) {
        inner = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, 1, RSTART - 1)
        gsub(/^ +| +$/, "", s)
        print sec, s
        if (inner !~ /\.\.\./) {
            n = split(inner, w, /[ ,]+/)
            for (i = 1; i <= n; i++) if (w[i] != "") print s, w[i]
        }
        return
    }
    n = split(s, w, /[ ,]+/)
    for (i = 1; i <= n; i++) if (w[i] != "") print sec, w[i]
}
/^\.SH / {
    h = substr($0, 5); gsub(/"/, "", h)
    sec = ""
    if (h == "TOP LEVEL") sec = "top"
    else if (h ~ /^[A-Z]+ SECTIONS?( |$)/) { split(h, w, " "); sec = tolower(w[1]); print "top", sec }
    next
}
sec != "" && tp && /^\.B / { term(substr($0, 4)) }
{ tp = ($0 ~ /^\.TP/) }
' "$man" | sort -u > "$T/man"

pass=0 fail=0
if undoc=$(comm -23 "$T/schema" "$T/man") && [ -z "$undoc" ]; then
    echo "ok   - conf-doc: every key of $(basename "$schema") is documented in $(basename "$man")"
    pass=$((pass+1))
else
    echo "FAIL - conf-doc: keys not documented in $man (a .TP entry under the section's .SH):"
    printf '%s\n' "$undoc" | sed 's/^/    /'
    fail=$((fail+1))
fi
if extra=$(comm -13 "$T/schema" "$T/man") && [ -z "$extra" ]; then
    echo "ok   - conf-doc: every key $(basename "$man") documents is in $(basename "$schema")"
    pass=$((pass+1))
else
    echo "FAIL - conf-doc: documented in $man but not in $schema:"
    printf '%s\n' "$extra" | sed 's/^/    /'
    fail=$((fail+1))
fi
echo "conf-doc: $(wc -l < "$T/schema") keys in the schema, $(wc -l < "$T/man") documented"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
