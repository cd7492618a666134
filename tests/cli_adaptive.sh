#!/bin/sh
# The adaptive limiter (rate_adaptive): a client set to --rate 5/1s
# against a sandbox limited to 1/1s, 20 GETs sequentially and through
# stockx.map (default concurrency; the client is tests/bench/adaptive.lua,
# which make bench runs too), with rate_adaptive on and off, each
# against its own sandbox, all four at once.  Checks the 429 counts (a
# count, not a timing: the machine is noisy); prints the figures the
# README quotes, wall time included.  Then a new process on one of the
# keys starts from the rate learned there (the shared state file).
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-adaptive.XXXXXX)
pids=
trap 'for p in $pids; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh

# start NAME: a sandbox limited to 1/1s; its URL in $t/NAME.url
start() {
    "$STOCKX" sandbox --port 0 --rate-limit 1/1s --quota off \
        > "$t/$1.sb" 2> "$t/$1.sberr" &
    pids="$pids $!"
}
cases="seq_on seq_off map_on map_off"
for c in $cases; do start "$c"; done
for c in $cases; do
    i=0
    while ! grep -q 'listening on' "$t/$c.sb" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
    done
done

jobs=
for c in $cases; do
    mkdir -m 700 "$t/$c.state"
    case $c in *_on) a=true ;; *) a=false ;; esac
    STOCKX_BASE_URL=$(sed -n 's/.*listening on //p' "$t/$c.sb") \
    STOCKX_API_KEY=sandbox-api-key STOCKX_ACCESS_TOKEN=sandbox-access-token \
    STOCKX_RATE_STATE_DIR="$t/$c.state" STOCKX_RATE_ADAPTIVE=$a \
        timeout 120 "$STOCKX" --rate 5/1s --log-level warn run \
        tests/bench/adaptive.lua 20 "${c%_*}" > "$t/$c.out" 2> "$t/$c.err" \
        < /dev/null &
    jobs="$jobs $!"
done
for j in $jobs; do wait "$j"; done

figure() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$t/$1.out"; }
for c in $cases; do
    echo "# $c: $(cat "$t/$c.out")"
done
n=$(figure seq_on status_429)
[ -n "$n" ] && [ "$n" -le 3 ]
ok $? "sequential, rate_adaptive on: at most 3 429s (got ${n:-none})"
[ "$(figure seq_on failed)" = 0 ]
ok $? "sequential, rate_adaptive on: every GET succeeds"
n=$(figure seq_off status_429)
[ -n "$n" ] && [ "$n" -gt 10 ]
ok $? "sequential, rate_adaptive off: a 429 for nearly every GET (got ${n:-none})"
n=$(figure map_on status_429)
m=$(figure map_off status_429)
[ -n "$n" ] && [ -n "$m" ] && [ "$n" -lt "$m" ]
ok $? "stockx.map: fewer 429s with rate_adaptive on ($n) than off ($m)"
# The first burst (5, the client's burst at 5/s) leaves before any answer
# comes back: 4 429s nothing can save without slowing a client whose
# server takes the burst.  After it, one cut to the Retry-After's 1/s and
# at most one 429 when the rate grows past it again.
[ -n "$n" ] && [ "$n" -le 5 ]
ok $? "stockx.map, rate_adaptive on: at most 5 429s (got ${n:-none})"
[ "$(figure map_on failed)" = 0 ]
ok $? "stockx.map, rate_adaptive on: every GET succeeds"
rate=$(figure seq_on rate_learned)
awk "BEGIN { exit !($rate > 0.5 && $rate < 1.5) }"
ok $? "stats().rate_learned near the server's 1/s (got $rate)"


# The learned rate is shared: a new process on seq_on's key (and state
# file) starts from the last cut instead of the configured 5/s.
STOCKX_BASE_URL=$(sed -n 's/.*listening on //p' "$t/seq_on.sb") \
STOCKX_API_KEY=sandbox-api-key STOCKX_ACCESS_TOKEN=sandbox-access-token \
STOCKX_RATE_STATE_DIR="$t/seq_on.state" \
    timeout 60 "$STOCKX" --rate 5/1s --log-level warn run -e '
  pcall(stockx.get, "/catalog/search", { query = "next" })
  print("rate_learned=" .. stockx.stats().rate_learned)' \
    > "$t/next.out" 2> "$t/next.err" < /dev/null
rate=$(figure next rate_learned)
awk "BEGIN { exit !(${rate:-5} < 2) }"
ok $? "another process on the key starts from the learned rate (got $rate)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
