# Helpers for the command-line checks (tests/cli*.sh), sourced after the
# caller has set STOCKX, t (its temporary directory), passed and failed.
# CLI_TIMEOUT (default 60 s) bounds each run; CLI_ERR_FILTER (a grep -v
# pattern) leaves lines out of the stderr shown for a failed check.

err_filter() {
    if [ -n "${CLI_ERR_FILTER:-}" ]; then grep -v -e "$CLI_ERR_FILTER"; else cat; fi
}

# ok STATUS DESC: counts a check; a failure shows the last stderr.
ok() {
    if [ "$1" = 0 ]; then
        passed=$((passed + 1)); echo "ok - $2"
    else
        failed=$((failed + 1)); echo "not ok - $2"
        [ -f "$t/err" ] && sed 's/^/#   /' "$t/err" | err_filter | head -n 12
    fi
}

# run EXPECTED_STATUS DESC ARGS...: runs stockx, checks the exit status.
run() {
    want=$1 desc=$2
    shift 2
    timeout "${CLI_TIMEOUT:-60}" "$STOCKX" "$@" > "$t/out" 2> "$t/err" \
        < /dev/null
    st=$?
    [ "$st" = "$want" ]
    ok $? "$desc (exit $st, want $want)"
}

# has FILE PATTERN DESC: FILE (out or err) of the last run matches.
has() { grep -q -e "$2" "$t/$1"; ok $? "$3"; }
