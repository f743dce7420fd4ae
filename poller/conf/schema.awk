# SPDX-License-Identifier: ISC
# schema.awk — writes the libconfuse option tables (poller/conf/schema.c)
# from poller/conf/schema.tab (its header says the format).  POSIX awk.
#   awk -f schema.awk schema.tab > schema.c          the C file
#   awk -v what=keys -f schema.awk schema.tab        "section key type" lines
#     (section: "top", or the key the table is nested under) for
#     tests/conf-doc.sh
# A malformed line is an error (file:line: message on stderr, exit 1).

function fail(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
    failed = 1
    exit 1
}

# split the line into tok[1..ntok]: blank-separated words, a "..." word may
# hold blanks (and \" escapes)
function tokenize(s,    c, w, inq) {
    ntok = 0; w = ""; inq = 0
    while (length(s) > 0) {
        c = substr(s, 1, 1); s = substr(s, 2)
        if (inq) {
            w = w c
            if (c == "\\" && length(s) > 0) { w = w substr(s, 1, 1); s = substr(s, 2) }
            else if (c == "\"") inq = 0
        } else if (c == " " || c == "\t") {
            if (w != "") { tok[++ntok] = w; w = "" }
        } else if (c == "#" && w == "") {
            break
        } else {
            w = w c
            if (c == "\"") inq = 1
        }
    }
    if (inq) fail("unterminated string")
    if (w != "") tok[++ntok] = w
}

function quoted(v) { return v ~ /^".*"$/ }

BEGIN {
    macro["str"] = "CFG_STR"; macro["int"] = "CFG_INT"; macro["bool"] = "CFG_BOOL"
    macro["strlist"] = "CFG_STR_LIST"; macro["intlist"] = "CFG_INT_LIST"; macro["sec"] = "CFG_SEC"
    ntables = 0
}

{
    tokenize($0)
    if (ntok == 0) next
    if (tok[1] == "export") {
        for (i = 2; i <= ntok; i++) exported[tok[i]] = 1
        next
    }
    if (ntok < 4 || ntok > 5) fail("want: table key type default [flags]")
    t = tok[1]; k = tok[2]; ty = tok[3]; d = tok[4]; fl = ntok == 5 ? tok[5] : ""
    if (t !~ /^[A-Za-z_][A-Za-z0-9_]*$/) fail("bad table name " t)
    if (k !~ /^[a-z0-9][a-z0-9-]*$/) fail("bad key " k)
    if (!(ty in macro)) fail("unknown type " ty " (str int bool strlist intlist sec)")
    if (t in done) fail("table " t " continues after a section that names it")
    if ((t SUBSEP k) in seen) fail("key " k " twice in " t)
    seen[t, k] = 1
    if (ty == "str") {
        if (d != "NULL" && !quoted(d) && d !~ /^[A-Z_][A-Z0-9_]*$/) fail("str default: NULL, \"...\" or a macro")
    } else if (ty == "int") {
        if (d !~ /^-?[0-9]+$/) fail("int default: a number")
    } else if (ty == "bool") {
        if (d == "yes") d = "cfg_true"
        else if (d == "no") d = "cfg_false"
        else fail("bool default: yes or no")
    } else if (ty == "strlist" || ty == "intlist") {
        if (d != "NULL" && d !~ /^"\{.*\}"$/) fail("list default: NULL or \"{a,b}\"")
    } else if (ty == "sec") {
        if (!(d in rows)) fail("section " k ": table " d " not defined above")
        done[d] = 1
        if (!(d in secname)) secname[d] = k
    }
    if (fl == "" || fl == "-") f = "CFGF_NONE"
    else {
        if (fl !~ /^[A-Z_]+(\|[A-Z_]+)*$/) fail("bad flags " fl)
        f = "CFGF_" fl
        gsub(/\|/, " | CFGF_", f)
    }
    if (!(t in rows)) { order[++ntables] = t; rows[t] = 0 }
    n = ++rows[t]
    crow[t, n] = sprintf("    %s(\"%s\", %s, %s),", macro[ty], k, d, f)
    krow[t, n] = k " " ty
}

END {
    if (failed) exit 1
    if (ntables == 0) { print FILENAME ": no keys" > "/dev/stderr"; exit 1 }
    for (x in exported)
        if (!(x in rows)) { print FILENAME ": export: no table " x > "/dev/stderr"; exit 1 }
    if (what == "keys") {
        for (i = 1; i <= ntables; i++) {
            t = order[i]
            s = (t in secname) ? secname[t] : "top"
            for (n = 1; n <= rows[t]; n++) print s, krow[t, n]
        }
        exit 0
    }
    print "/* SPDX-License-Identifier: ISC */"
    print "/* schema.c — generated from poller/conf/schema.tab by poller/conf/schema.awk:"
    print " * do not edit (a new key is a line in schema.tab). */"
    print "#include \"conf/internal.h\""
    for (i = 1; i <= ntables; i++) {
        t = order[i]
        print ""
        print ((t in exported) ? "" : "static ") "cfg_opt_t " t "[] = {"
        for (n = 1; n <= rows[t]; n++) print crow[t, n]
        print "    CFG_END()"
        print "};"
    }
}
