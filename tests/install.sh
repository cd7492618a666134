#!/bin/sh
# `make install` into a temporary DESTDIR under another PREFIX: the
# installed binary runs from any directory, `man -l` renders stockx(1)
# cleanly, the bash completion completes through `bash -i`, and `make
# uninstall` leaves no file behind.  Then the drift check: the commands
# and flags of `stockx --help` are exactly those of the README's command
# line section, of the man page and of the completion.  Run by
# tests/run.sh (it installs the build's ./stockx whatever STOCKX says).
set -u
export LC_ALL=C # one collation for sort, comm and the man page
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
t=$(mktemp -d /tmp/stockx-install.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0

CLI_ERR_FILTER='job control\|terminal process group' # bash -i without a tty
. tests/clihelp.sh

dest=$t/dest
prefix=/opt/stockx-test
bin=$dest$prefix/bin/stockx
page=$dest$prefix/share/man/man1/stockx.1
compfile=$dest$prefix/share/bash-completion/completions/stockx

# same DESC FILE1 FILE2: the two sorted lists are equal; else shows what
# only one of them has.
same() {
    if cmp -s "$2" "$3"; then
        ok 0 "$1"
    else
        ok 1 "$1"
        comm -23 "$2" "$3" | sed "s|^|#   only in $(basename "$2"): |"
        comm -13 "$2" "$3" | sed "s|^|#   only in $(basename "$3"): |"
    fi
}

# ---- make install --------------------------------------------------------
make -s install DESTDIR="$dest" PREFIX="$prefix" > "$t/err" 2>&1
ok $? "make install DESTDIR=... PREFIX=$prefix"
find "$dest" ! -type d | sort > "$t/installed"
printf '%s\n' "$bin" "$compfile" "$page" | sort > "$t/expected"
same "it installs the binary, the man page and the completion, nothing else" \
    "$t/expected" "$t/installed"
[ "$(stat -c %a "$bin" "$page" "$compfile" 2>/dev/null | tr '\n' ' ')" = "755 644 644 " ]
ok $? "with modes 0755 and 0644"

# ---- the installed binary, from another directory ------------------------
mkdir "$t/work" "$t/work/sub" "$t/empty"
cd "$t/work" || exit 1
: > a.lua
: > notes.txt
STOCKX=$bin
run 0 "the installed binary: --version" --version
has out "^stockx [0-9]" "it names itself"
run 0 "the installed binary: -e" -e 'print(6 * 7, ...)' x
has out "^42	x$" "it runs the code with its arguments"
cat > "$t/tiny.lua" <<'LUA'
local n = #stockx.listings.all { listingStatuses = { "ACTIVE" } }
print(n > 0 and "listings" or "none", ...)
LUA
run 0 "the installed binary: run --sandbox of a script" --rate off run --sandbox \
    --rate-limit off "$t/tiny.lua" y
has out "^listings	y$" "the script read the sandbox's listings"
"$STOCKX" --help > "$t/help"
ok $? "the installed binary: --help"

# ---- the man page --------------------------------------------------------
LC_ALL=C MANPAGER=cat MANWIDTH=80 man -l "$page" > "$t/man.txt" 2> "$t/err"
[ $? = 0 ] && [ ! -s "$t/err" ] && [ -s "$t/man.txt" ]
ok $? "man -l renders stockx(1) with no error"
if command -v groff > /dev/null; then
    groff -man -t -ww -z "$page" > "$t/err" 2>&1
    [ ! -s "$t/err" ]; ok $? "groff -man -ww finds nothing to warn about"
fi
miss=0
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "SANDBOX OPTIONS" \
    ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -q "^$s\$" "$t/man.txt" || { echo "# no section $s"; miss=1; }
done
[ $miss = 0 ]; ok $? "the page has every section"
grep -q "^STOCKX(1) " "$t/man.txt" && grep -q "^stockx $("$STOCKX" --version |
    sed -n '1s/^stockx //p') " "$t/man.txt"
ok $? "it is stockx(1) of this version"
grep -q "STOCKX_LOG_LEVEL" "$t/man.txt" && grep -q "\.config/stockx/lua" "$t/man.txt"
ok $? "it names the environment variables and the module directory"

# Every flag of --help, also those outside the settings table (the sandbox's).
sed 's/[][|(),:;.`"]/ /g' "$t/help" | tr -s ' ' '\n' |
    grep -E '^--?[a-z][a-z0-9-]*$' | sort -u > "$t/help-flags"
[ "$(grep -c . "$t/help-flags")" -gt 20 ]; ok $? "--help lists flags ($(grep -c . "$t/help-flags"))"
miss=0
for f in $(cat "$t/help-flags"); do
    grep -q -e " $f\\b" "$t/man.txt" || { echo "# the page lacks $f"; miss=1; }
done
[ $miss = 0 ]; ok $? "the rendered page names every flag of --help"

# ---- the completion, through bash -i --------------------------------------
cat > "$t/comp.sh" <<'SH'
. "$COMPFILE"
# c WORD...: completes the last WORD of "WORD..." and prints the candidates.
c() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _stockx stockx "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | grep . | sort
}
SH
# comp WORD...: the candidates for the last word, in $t/out (in this
# directory, with the installed stockx first in PATH).
comp() {
    COMPFILE=$compfile PATH="$dest$prefix/bin:$PATH" bash --norc --noprofile -i \
        -c '. "$0"; c "$@"' "$t/comp.sh" "$@" > "$t/out" 2> "$t/err" < /dev/null
}
# expect DESC WORDS... -- CANDIDATES...: comp WORDS gives exactly those.
expect() {
    desc=$1
    shift
    words=
    while [ "$1" != -- ]; do words="$words '$1'"; shift; done
    shift
    eval "comp $words"
    printf '%s\n' "$@" | grep . | sort > "$t/want"
    same "completion: $desc" "$t/want" "$t/out"
}

COMPFILE=$compfile PATH="$dest$prefix/bin:$PATH" bash --norc --noprofile -i \
    -c '. "$COMPFILE"; complete -p stockx' > "$t/out" 2> "$t/err" < /dev/null
has out "^complete -F _stockx stockx$" "the completion file registers _stockx for stockx"

# The help's own lists, read here independently of the completion.
awk '/^usage:/ { u = 1 } /^$/ { u = 0 } u' "$t/help" > "$t/help-usage"
# paths: the command words of usage lines ("run", "reprice rollback").
paths() {
    awk '{ sub(/^usage:/, ""); p = ""
           for (i = 1; i <= NF; i++) {
               if (i == 1 && $i == "stockx") continue
               if ($i == "[options]" && p == "") continue
               if ($i !~ /^[a-z][a-z0-9-]*$/) break
               p = p (p == "" ? "" : " ") $i
           }
           if (p != "") print p }' | sort -u
}
paths < "$t/help-usage" > "$t/help-commands"
grep -q '^run$' "$t/help-commands" && grep -q '^sandbox$' "$t/help-commands"
ok $? "--help's usage lines have the commands run and sandbox"
sed 's/ .*//' "$t/help-commands" | sort -u > "$t/first-words"
sed -n '/^sandbox options/,/^$/p' "$t/help" | sed -n 's/^  \(--[a-z-]*\).*/\1/p' |
    sort > "$t/sandbox-flags"
[ "$(grep -c . "$t/sandbox-flags")" -ge 6 ]; ok $? "--help lists the sandbox options"

# shellcheck disable=SC2046
expect "commands and .lua files after 'stockx '" stockx '' -- \
    $(cat "$t/first-words") a.lua sub
expect "flags after 'stockx --lo'" stockx --lo -- --log-format --log-level
expect "levels after '--log-level '" stockx --log-level '' -- debug info warn error
for v in $(cat "$t/out"); do
    run 0 "the binary takes the completed level $v" --log-level "$v" -e ''
done
expect "formats after '--log-format '" stockx --log-format '' -- json text
for v in $(cat "$t/out"); do
    run 0 "the binary takes the completed format $v" --log-format "$v" -e ''
done
comp stockx sandbox --
same "completion: the sandbox options after 'stockx sandbox --'" \
    "$t/sandbox-flags" "$t/out"
for f in $(cat "$t/out"); do
    run 2 "the binary parses the completed sandbox option $f" sandbox "$f"
    has err "missing value for $f" "it wants $f's value"
done
expect "a .lua script after 'stockx run '" stockx run '' -- a.lua sub
expect "a .lua script after global flags and sandbox options" \
    stockx --timeout 5 run --sandbox --port 0 --seed 2 '' -- a.lua sub
"$STOCKX" --settings | sed -n 's/.*`\(--[a-z-]*\)`.*/\1/p' | sort > "$t/settings-flags"
comp stockx run -
comm -23 "$t/settings-flags" "$t/out" > "$t/missing"
[ -s "$t/settings-flags" ] && [ ! -s "$t/missing" ] && grep -q -e '^--sandbox$' "$t/out"
ok $? "completion: --sandbox and every setting's flag after 'stockx run -'"
sed 's/^/#   missing: /' "$t/missing"
expect "sandbox options after 'run --sandbox --st'" stockx run --sandbox --st -- --state
expect "any file after 'run --sandbox --state '" stockx run --sandbox --state '' -- \
    a.lua notes.txt sub
expect "any file after '--ca-file '" stockx --ca-file '' -- a.lua notes.txt sub
expect "the script's arguments are files" stockx run a.lua '' -- a.lua notes.txt sub
expect "nothing after '--timeout '" stockx --timeout '' --
comp stockx -
cp "$t/out" "$t/top-flags"
miss=0
for f in $(cat "$t/top-flags"); do
    "$STOCKX" "$f" > /dev/null 2> "$t/err" < /dev/null
    ! grep -q "unknown option" "$t/err" || { echo "# $f is unknown"; miss=1; }
done
[ $miss = 0 ]; ok $? "the binary parses every flag completed after 'stockx -'"

# ---- the drift check -----------------------------------------------------
cd "$t/empty" || exit 1

# The completion's flags: after 'stockx -', 'stockx CMD -', and after each
# command's own flags ('stockx run --sandbox -').
cp "$t/top-flags" "$t/completion-flags"
while read -r p; do
    # shellcheck disable=SC2086
    comp stockx $p -
    cat "$t/out" >> "$t/completion-flags"
    for f in $(comm -23 "$t/out" "$t/top-flags"); do
        # shellcheck disable=SC2086
        comp stockx $p "$f" -
        cat "$t/out" >> "$t/completion-flags"
    done
done < "$t/help-commands"
sort -u -o "$t/completion-flags" "$t/completion-flags"
same "the completion offers exactly the flags of --help" "$t/help-flags" \
    "$t/completion-flags"

# The completion's commands: the words after 'stockx ', then after each of
# those (for commands of two words), in an empty directory.
: > "$t/completion-commands"
comp stockx ''
for w in $(cat "$t/out"); do
    comp stockx "$w" ''
    if [ -s "$t/out" ]; then
        sed "s/^/$w /" "$t/out" >> "$t/completion-commands"
    else
        echo "$w" >> "$t/completion-commands"
    fi
done
sort -u -o "$t/completion-commands" "$t/completion-commands"
# a command that only prefixes longer ones is not a command of its own
while read -r p; do
    grep -q "^$p " "$t/help-commands" || echo "$p"
done < "$t/help-commands" > "$t/help-leaves"
same "the completion offers exactly the commands of --help" "$t/help-leaves" \
    "$t/completion-commands"

# The man page (its source): every flag of --help is the tag of an entry,
# no other flag is named anywhere, and every command has an entry under
# COMMANDS.
unroff() { sed 's/\\f[BIRP]//g; s/\\-/-/g; s/\\(aq/ /g; s/^\.[A-Z]* //'; }
grep -v '^\.\\"' "$page" | unroff | sed 's/[][|(),:;.`"]/ /g' | tr -s ' ' '\n' |
    grep -E '^--?[a-z][a-z0-9-]*$' | sort -u > "$t/man-all-flags"
awk 'prev == ".TP" { print } { prev = $0 }' "$page" | unroff |
    sed 's/[][|(),:;.`"]/ /g' | tr -s ' ' '\n' | grep -E '^--?[a-z][a-z0-9-]*$' |
    sort -u > "$t/man-flags"
same "every flag of --help has an entry in the man page" "$t/help-flags" "$t/man-flags"
comm -13 "$t/help-flags" "$t/man-all-flags" > "$t/stale"
[ ! -s "$t/stale" ]; ok $? "the man page names no flag that --help does not"
sed 's/^/#   not in --help: /' "$t/stale"
awk '/^\.SH/ { s = $0 } s == ".SH COMMANDS" && prev == ".TP" { print } { prev = $0 }' \
    "$page" | unroff | paths > "$t/man-commands"
same "every command of --help has an entry under COMMANDS in the man page" \
    "$t/help-commands" "$t/man-commands"

# The README's command line section: its usage block has the commands of
# --help, and the section names exactly the flags of --help.
sed -n '/^## Command line/,/^## /p' "$root/README.md" > "$t/readme-cli"
awk '/^```/ { n++; next } n == 1' "$t/readme-cli" | paths > "$t/readme-commands"
same "the README's usage block has the commands of --help" "$t/help-commands" \
    "$t/readme-commands"
sed "s/[][|(),:;.\`\"']/ /g" "$t/readme-cli" | tr -s ' ' '\n' |
    grep -E '^--?[a-z][a-z0-9-]*$' | sort -u > "$t/readme-flags"
same "the README's command line section names exactly the flags of --help" \
    "$t/help-flags" "$t/readme-flags"

# ---- make uninstall ------------------------------------------------------
cd "$root" || exit 1
make -s uninstall DESTDIR="$dest" PREFIX="$prefix" > "$t/err" 2>&1
ok $? "make uninstall"
find "$dest" ! -type d > "$t/left"
[ ! -s "$t/left" ]; ok $? "it leaves no file behind"
sed 's/^/#   left: /' "$t/left"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
