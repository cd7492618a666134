#!/bin/sh
# Writes the stockx(1) man page on stdout: the template (doc/stockx.1.in)
# with its generated parts filled in from the binary, so that the page
# and `stockx --help` cannot differ: @SYNOPSIS@ from the usage lines,
# @OPTIONS@ and @ENVIRONMENT@ from `stockx --settings` (type, range,
# default, environment variable) and the option list of --help,
# @SANDBOX_OPTIONS@ from its sandbox options; @VERSION@ from --version.
# Usage: sh doc/man.sh STOCKX TEMPLATE [DATE]   (run by `make`)
set -eu
bin=$1
template=$2
date=${3:-$(date +%Y-%m-%d)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/stockx-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
env -i "$bin" --help > "$tmp/help"
env -i "$bin" --settings > "$tmp/settings"
version=$(env -i "$bin" --version | sed -n '1s/^stockx //p')

# The awk program reads the help, the settings table, then the template.
awk -v version="$version" -v date="$date" '
# roff(S): S as roff text: backslashes escaped, the dashes of flags
# ("--max-idle", not "in-process") made minus signs.
function roff(s,    out, i, c, p, inflag) {
    out = ""; p = " "; inflag = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\")
            c = "\\e"
        else if (c == "-" && (inflag || p ~ /[ [(|`]/)) {
            c = "\\-"; inflag = 1
        } else if (c !~ /[A-Za-z0-9_-]/)
            inflag = 0
        out = out c; p = substr(s, i, 1)
    }
    return out
}
# text(S): a line of running text (a leading . or quote would be a request).
function text(s) {
    s = roff(s)
    return s ~ /^[.\047]/ ? "\\&" s : s
}
function sentence(s) { return s ~ /[.]$/ ? s : s "." }
function bold(s) { return "\\fB" roff(s) "\\fR" }
function ital(s) { return "\\fI" roff(s) "\\fR" }
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
# usage(S): a usage line with commands and flags in bold, placeholders
# (FILE, options, args...) in italics.
function usage(s,    out, w) {
    out = ""
    while (s != "") {
        if (match(s, /^(sandbox options|options|args\.\.\.)/))
            w = ital(substr(s, 1, RLENGTH))
        else if (match(s, /^-[-A-Za-z0-9]*/) || match(s, /^[a-z][a-z0-9-]*/))
            w = bold(substr(s, 1, RLENGTH))
        else if (match(s, /^[A-Z][A-Z0-9_]*(\.\.\.)?/))
            w = ital(substr(s, 1, RLENGTH))
        else {
            RLENGTH = 1; w = roff(substr(s, 1, 1))
        }
        out = out w; s = substr(s, RLENGTH + 1)
    }
    return out
}
# An entry: .TP, the tag, the paragraph.
function entry(tag, body) { return ".TP\n" tag "\n" body }

FNR == 1 { part++ }

# ---- part 1: stockx --help ------------------------------------------------
part == 1 && /^$/ { sect = ""; next }
part == 1 && /^usage: / { sect = "usage"; sub(/^usage:/, "") }
part == 1 && /^[^ ].*:$/ {
    sect = $0 ~ /^sandbox options/ ? "sandbox" : $0 ~ /options/ ? "options" : ""
    next
}
part == 1 && sect == "usage" {
    s = trim($0); sub(/  +\(.*$/, "", s)
    syn[++nsyn] = usage(s)
    next
}
part == 1 && sect != "" && /^  -/ {
    s = trim($0)
    flag = s; sub(/ .*/, "", flag)
    rest = substr(s, length(flag) + 1); placeholder = ""
    if (rest ~ /^ [^ ]/) {
        placeholder = substr(rest, 2); sub(/ .*/, "", placeholder)
        rest = substr(rest, length(placeholder) + 2)
    }
    if (sect == "sandbox") {
        n = ++nsb; sbflag[n] = flag; sbarg[n] = placeholder; sbdoc[n] = trim(rest)
    } else {
        n = ++nopt; oflag[n] = flag; odoc[n] = trim(rest)
    }
    next
}
part == 1 && sect == "sandbox" && /^    / { sbdoc[nsb] = sbdoc[nsb] " " trim($0); next }
part == 1 { next }

# ---- part 2: stockx --settings ---------------------------------------------
part == 2 && /^\| `/ {
    n = split($0, f, "|")
    for (i = 1; i <= n; i++) { f[i] = trim(f[i]); gsub(/`/, "", f[i]) }
    k = ++nset
    sname[k] = f[2]; stype[k] = f[3]; srange[k] = f[4]; sdef[k] = f[5]
    sflag[k] = f[6]; senv[k] = f[7]; sdoc[k] = f[8]
    if (f[6] != "") byflag[f[6]] = k
    next
}
part == 2 { next }

# ---- part 3: the template ------------------------------------------------
part == 3 && $0 == "@SYNOPSIS@" {
    print ".nf"
    for (i = 1; i <= nsyn; i++) print syn[i]
    print ".fi"
    next
}
part == 3 && $0 == "@OPTIONS@" {
    ph["URL"] = "URL"; ph["file"] = "FILE"; ph["seconds"] = "SECONDS"
    ph["integer"] = "N"; ph["rate"] = "RATE"; ph["level"] = "LEVEL"
    ph["format"] = "FORMAT"
    for (i = 1; i <= nopt; i++) {
        if (!(oflag[i] in byflag)) { # not a setting: as --help says it
            print entry(bold(oflag[i]), text(sentence(odoc[i])))
            continue
        }
        k = byflag[oflag[i]]
        tag = bold(oflag[i])
        if (stype[k] in ph) tag = tag " " ital(ph[stype[k]])
        more = ""
        if (sdef[k] != "") more = "Default: " bold(sdef[k])
        if (srange[k] != "") more = more (more != "" ? "; " : "") "range: " roff(srange[k])
        if (senv[k] != "") more = more (more != "" ? "; " : "") "environment: " bold(senv[k])
        more = more (more != "" ? "; " : "") "\\fBstockx.configure\\fR key: " bold(sname[k]) "."
        print entry(tag, text(sentence(sdoc[k])) "\n.br\n" more)
    }
    next
}
part == 3 && $0 == "@SANDBOX_OPTIONS@" {
    for (i = 1; i <= nsb; i++) {
        tag = bold(sbflag[i]) (sbarg[i] != "" ? " " ital(sbarg[i]) : "")
        print entry(tag, text(sentence(sbdoc[i])))
    }
    next
}
part == 3 && $0 == "@ENVIRONMENT@" {
    for (k = 1; k <= nset; k++) {
        if (senv[k] == "") continue
        body = text(sentence(sdoc[k])) "\nThe \\fBstockx.configure\\fR key " bold(sname[k])
        if (sflag[k] != "") body = body "; " bold(sflag[k]) " wins over it"
        print entry(".B " senv[k], body ".")
    }
    next
}
part == 3 && /^@[A-Z_]+@$/ { print "doc/man.sh: unknown part " $0 > "/dev/stderr"; exit 1 }
part == 3 {
    gsub(/@VERSION@/, version); gsub(/@DATE@/, date)
    print
}
' "$tmp/help" "$tmp/settings" "$template"
