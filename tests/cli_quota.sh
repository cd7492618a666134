#!/bin/sh
# One limiter and one daily count for every stockx process on a key: K
# processes (3, then 8) on one sandbox key, some killed with SIGKILL
# mid-run, log every admission (debug event limiter.admit, slot_ns on
# CLOCK_MONOTONIC).  Checks: no window of length W holds more than
# B + W/T admissions; the lock is never stuck after the kills; the state's
# daily count equals the admissions; no 429 from a sandbox limited to the
# same rate (and 429s when sharing is off); the quota and a long 429's
# Retry-After fail locally with kind quota_exhausted.  Prints the figures
# the README quotes.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-quota.XXXXXX)
sandbox_pid=
pids=
trap 'for p in $pids $sandbox_pid; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh
CLI_TIMEOUT=20

sandbox_start sb --rate-limit 10/1s --quota off
sandbox_pid=$started
url=$(cat "$t/sb.url")
export STOCKX_BASE_URL="$url" STOCKX_API_KEY=sandbox-api-key
export STOCKX_ACCESS_TOKEN=sandbox-access-token
unset STOCKX_RATE_SHARE STOCKX_ON_QUOTA

# One worker: requests until its time is up, then its counters.
cat > "$t/worker.lua" <<'LUA'
local stop = stockx.now() + tonumber(arg[1])
while stockx.now() < stop do
  stockx.get("/catalog/search", { query = "nike" })
end
local s = stockx.stats()
print("done", s.status_429, s.quota_used, s.shared)
LUA

# The shared limiter at --rate 10/1s: T = ceil(1e9 / (10 * 0.9)) ns, B = 10.
T=111111112
B=10

# fleet NAME K SECONDS KILLS [env...]: K workers, KILLS of them killed at a
# random moment in the first two thirds of the run.
fleet() {
    name=$1 k=$2 secs=$3 kills=$4
    shift 4
    pids=
    n=0
    while [ $n -lt "$k" ]; do
        env "$@" "$STOCKX" --rate 10/1s --log-level debug run "$t/worker.lua" "$secs" \
            > "$t/$name.$n.out" 2> "$t/$name.$n.err" < /dev/null &
        pids="$pids $!"
        n=$((n + 1))
    done
    victims=$(echo "$pids" | tr ' ' '\n' | sed '/^$/d' | head -n "$kills")
    killers=
    for v in $victims; do
        d=$(awk -v s="$v" -v m="$secs" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * m * 0.6 }')
        (sleep "$d"; kill -KILL "$v" 2>/dev/null) &
        killers="$killers $!"
    done
    for p in $pids $killers; do wait "$p"; done
    pids=
    admit_slots "$name"
}

for k in 3 8; do
    sleep 1.2 # the sandbox's own burst credit refills
    dir="$t/state$k"
    kills=1; [ $k -eq 8 ] && kills=3
    fleet k$k $k 6 $kills STOCKX_RATE_STATE_DIR="$dir"
    window_check "$t/k$k.slots" > "$t/k$k.fig"
    ok $? "K=$k, $kills killed: no window of length W holds more than B + W/T"
    cat "$t/k$k.fig"
    n429=$(cat "$t/k$k".*.err | grep -c 'event=retry.429')
    [ "$n429" -eq 0 ]
    ok $? "K=$k shared: no 429 from a sandbox at the same rate ($n429)"
    # the lock is not stuck: a new process is admitted at once
    start=$(date +%s%N)
    STOCKX_RATE_STATE_DIR="$dir" timeout 10 "$STOCKX" --rate 10/1s --log-level debug \
        -e 'stockx.get("/catalog/search", {query = "x"})
            local s = stockx.stats() print("used", s.quota_used, s.shared)' \
        > "$t/k$k.last.out" 2> "$t/k$k.last.err"
    st=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ $st -eq 0 ] && [ $ms -lt 3000 ]
    ok $? "K=$k: after the kills a new process is admitted promptly (${ms} ms)"
    total=$(( $(wc -l < "$t/k$k.slots") + 1 ))
    used=$(sed -n 's/^used\t\([0-9]*\).*/\1/p' "$t/k$k.last.out")
    [ "$used" = "$total" ]
    ok $? "K=$k: the daily count equals the admissions ($used, $total)"
    echo "# K=$k: $(cat "$t/k$k".*.out | grep -c '^done') finished, $kills killed, last process ${ms} ms"
done

# The same fleet with sharing off: each process has its own limiter.
sleep 1.2
fleet off 3 3 0 STOCKX_RATE_SHARE=false STOCKX_RATE_STATE_DIR="$t/stateoff"
n429=$(cat "$t/off".*.err | grep -c 'event=retry.429')
[ "$n429" -gt 0 ]
ok $? "K=3 with rate_share = false: the sandbox answers 429 ($n429 times)"
echo "# rate_share=false: $n429 answers 429 in 3 s"

# The daily quota: quota 5 at margin 1, the 6th request fails locally.
export STOCKX_RATE_STATE_DIR="$t/stateq"
run 0 "quota spent: kind quota_exhausted with retry_after" -e '
  stockx.configure{quota = 5, rate_margin = 1}
  for i = 1, 5 do stockx.get("/catalog/search", {query = "x"}) end
  local ok, e = pcall(stockx.get, "/catalog/search", {query = "x"})
  assert(not ok and e.kind == "quota_exhausted", tostring(e))
  assert(e.retry_after > 0 and e.retry_after <= 86400, e.retry_after)
  local s = stockx.stats()
  assert(s.quota_left == 0 and s.quota_used == 5 and s.quota == 5)
  print(tostring(e))'
has out "quota_exhausted: the daily quota" "the message says when it resets"
run 0 "another process sees the spent quota, on_quota = wait waits" -e '
  stockx.configure{quota = 5, rate_margin = 1, on_quota = "wait"}
  local ok, e = pcall(stockx.timeout, 1, stockx.get, "/catalog/search")
  assert(not ok and e.kind == "timeout", tostring(e))'

# A 429 with a Retry-After of hours marks the day spent for every process.
export STOCKX_RATE_STATE_DIR="$t/stateh"
curl -s -X POST "$url/_sandbox/rate_limit" -H 'content-type: application/json' \
    -d '{"rate": 1, "period": 20000, "burst": 1}' > /dev/null
run 0 "a 429 with a Retry-After of hours: rate_limited, the day is spent" -e '
  stockx.get("/catalog/search", {query = "x"})
  local ok, e = pcall(stockx.get, "/catalog/search", {query = "x"})
  assert(not ok and e.kind == "rate_limited", tostring(e))'
run 0 "the next process fails locally without asking" -e '
  local ok, e = pcall(stockx.get, "/catalog/search", {query = "x"})
  assert(not ok and e.kind == "quota_exhausted", tostring(e))
  assert(stockx.stats().attempts == 0)'

kill "$sandbox_pid" 2>/dev/null
wait "$sandbox_pid" 2>/dev/null
sandbox_pid=
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
