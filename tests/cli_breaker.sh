#!/bin/sh
# The circuit breaker and the retry budget from the command line, against
# `stockx run --sandbox --fault` (503 on every search): each state change
# is logged once (breaker.open, breaker.half_open, breaker.closed), the
# budget's exhaustion once per drain; `breaker = {...}` and
# `breaker = false` in the config file, STOCKX_BREAKER=false, and
# --retry-budget.  Counts only, no timing.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-breaker.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0
mkdir -p "$t/xdg/stockx"
export XDG_CONFIG_HOME="$t/xdg"
unset STOCKX_CONFIG STOCKX_PROFILE STOCKX_BREAKER

. tests/clihelp.sh

# 8 searches: 5 failures open it, 3 fail fast; after open_for the probe
# (the fault is gone: count=5 answers only 5) closes it.
cat > "$t/trip.lua" <<'LUA'
stockx.configure { rate = false, retry = { transient_attempts = 1 },
  breaker = { open_for = 0.3 } }
local kinds = {}
for _ = 1, 8 do
  local r, e = stockx.request { path = "/catalog/search", query = { query = "x" } }
  local k = r and tostring(r.status) or e.kind
  kinds[k] = (kinds[k] or 0) + 1
end
stockx.sleep(0.4)
local r = stockx.request { path = "/catalog/search", query = { query = "x" } }
local b = stockx.stats().breakers[stockx.settings().base_url:match("^%a+://[^/]+")]
print(string.format("503=%d circuit_open=%d probe=%d state=%s trips=%d",
  kinds["503"] or 0, kinds.circuit_open or 0, r.status, b.state, b.trips))
LUA
run 0 "5 503s, then the breaker" run --sandbox --rate-limit off \
    --fault '/catalog/search:status=503,count=5' "$t/trip.lua"
has out "503=5 circuit_open=3 probe=200 state=closed trips=1" \
    "5 503s, 3 fail fast, the probe closes it"
n=$(grep -c 'event=breaker.open ' "$t/err")
[ "$n" = 1 ]; ok $? "breaker.open logged once ($n)"
has err 'level=warn event=breaker.open origin=http://127.0.0.1:[0-9]* failures=5' \
    "breaker.open names the origin and the failures"
n=$(grep -c 'event=breaker.half_open' "$t/err")
[ "$n" = 1 ]; ok $? "breaker.half_open logged once ($n)"
n=$(grep -c 'event=breaker.closed.*reason=probe' "$t/err")
[ "$n" = 1 ]; ok $? "breaker.closed logged once ($n)"
! grep -q 'sandbox-api-key\|sandbox-access-token' "$t/err"
ok $? "no secret in the log"

# The budget: 20 calls to a 503 route with 3 attempts each, budget 10
# (two retries), breaker off in the config file.
cat > "$t/budget.lua" <<'LUA'
stockx.configure { rate = false, retry = { backoff_base = 0.01, backoff_cap = 0.02 } }
local b = stockx.stats().attempts
for _ = 1, 20 do stockx.request { path = "/catalog/search" } end
local s = stockx.stats()
print(string.format("attempts=%d refused=%d breaker=%s", s.attempts - b,
  s.budget_refused, tostring(stockx.settings().breaker)))
LUA
echo 'return { breaker = false }' > "$t/xdg/stockx/config.lua"
chmod 600 "$t/xdg/stockx/config.lua"
run 0 "a 503 outage with --retry-budget 10" --retry-budget 10 run --sandbox \
    --rate-limit off --fault '/catalog/search:status=503' "$t/budget.lua"
has out "attempts=22 refused=19 breaker=false" \
    "budget 10 pays 2 retries: 22 attempts for 20 calls; breaker = false"
n=$(grep -c 'event=retry.budget_exhausted' "$t/err")
[ "$n" = 1 ]; ok $? "retry.budget_exhausted logged once per drain ($n)"
! grep -q 'event=breaker\.' "$t/err"; ok $? "no breaker with breaker = false"

echo 'return { breaker = { consecutive = 2, open_for = 60 } }' > \
    "$t/xdg/stockx/config.lua"
run 0 "the config file's breaker table" run --sandbox --rate-limit off \
    --fault '/catalog/search:status=503' "$t/budget.lua"
has out "attempts=2 refused=0 breaker=table" \
    "consecutive = 2 from the file: open after 2 attempts"
run 0 "stockx config shows the group" config
has out "breaker.consecutive *2 *config" "breaker.consecutive from the file"
STOCKX_BREAKER=false run 0 "STOCKX_BREAKER=false" run --sandbox \
    --rate-limit off --fault '/catalog/search:status=503' "$t/budget.lua"
has out "breaker=false" "the environment turns it off"
echo 'return { breaker = { windw = 3 } }' > "$t/xdg/stockx/config.lua"
run 2 "a misspelt breaker key" run -e 'print(1)'
has err "breaker.windw: unknown setting" "is named"
rm -f "$t/xdg/stockx/config.lua"
run 2 "--retry-budget out of range" --retry-budget -1 run -e 'print(1)'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
