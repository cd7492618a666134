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

# sandbox_start NAME ARGS...: `stockx sandbox --port 0 ARGS...` in the
# background (output in $t/NAME.out and $t/NAME.err), once it listens; its
# URL in $t/NAME.url, its PID in $started.
sandbox_start() {
    name_=$1
    shift
    "$STOCKX" sandbox --port 0 "$@" > "$t/$name_.out" 2> "$t/$name_.err" &
    started=$!
    i_=0
    while ! grep -q 'listening on' "$t/$name_.out" 2>/dev/null; do
        i_=$((i_ + 1)); [ $i_ -gt 100 ] && break; sleep 0.1
    done
    sed -n 's/.*listening on //p' "$t/$name_.out" > "$t/$name_.url"
}

# admit_slots NAME: the slot_ns of every limiter.admit (debug level) in
# $t/NAME.*.err, sorted, into $t/NAME.slots.
admit_slots() {
    cat "$t/$1".*.err | sed -n 's/.*event=limiter.admit slot_ns=\([0-9]*\).*/\1/p' \
        | sort -n > "$t/$1.slots"
}

# window_check FILE: over every pair of admissions in FILE (ns, sorted),
# whether a window holds more than B + W/T (T the interval in ns, B the
# burst; TOL ns of slack, default 0); prints the figures, fails if so.
window_check() {
    awk -v T="$T" -v B="$B" -v TOL="${TOL:-0}" '
        { s[NR] = $1 }
        END {
            bad = 0; max1 = 0
            for (i = 1; i <= NR; i++) {
                c = 0
                for (j = i; j <= NR; j++) {
                    if ((j - i + 1 - B) * T > s[j] - s[i] + TOL) bad++
                    if (s[j] - s[i] < 1e9) c = j - i + 1
                }
                if (c > max1) max1 = c
            }
            span = 0; rate = 0
            if (NR > 1) span = (s[NR] - s[1]) / 1e9
            if (span > 0) rate = (NR - B) / span
            printf "# admissions=%d span=%.2fs after_burst=%.2f/s max_in_1s=%d (bound %.1f) violations=%d\n", NR, span, rate, max1, B + 1e9 / T, bad
            exit bad ? 1 : 0
        }' "$1"
}
