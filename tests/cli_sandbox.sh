#!/bin/sh
# The sandbox's command line: `stockx sandbox FLAGS` and `stockx run
# --sandbox FLAGS FILE` take the same flags (bad values are usage errors,
# exit 2, naming the flag), any number of --fault, and the in-process
# sandbox shares no globals with the script.  Run by tests/run.sh.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-clisb.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$t"' EXIT
passed=0
failed=0

CLI_ERR_FILTER='level='
. tests/clihelp.sh

# ---- bad flags are usage errors naming them --------------------------------
run 2 "sandbox: a bad --port" sandbox --port x
has err "bad --port 'x'" "the bad port is named"
run 2 "sandbox: an unknown flag" sandbox --frobnicate 1
has err "bad sandbox option --frobnicate" "the unknown flag is named"
run 2 "sandbox: a flag without its value" sandbox --quota
has err "missing value for --quota" "the flag missing its value is named"
run 2 "sandbox: a malformed fault pattern" sandbox --fault '/selling/[abc:status=500'
has err "bad --fault '/selling/\[abc:status=500'.*missing ']'" \
    "the fault and Lua's complaint are named"
run 2 "run --sandbox: a bad --quota" run --sandbox --quota x -e ''
has err "bad --quota 'x'" "the bad quota is named"
run 2 "run --sandbox: a bad --rate-limit" run --sandbox --rate-limit fast -e ''
has err "bad --rate-limit 'fast'" "the bad rate limit is named"
run 2 "run --sandbox: a bad --seed" run --sandbox --seed 1.5 -e ''
has err "bad --seed '1.5'" "the bad seed is named"
run 2 "run --sandbox: a malformed --fault" run --sandbox --fault '(x:status=500' -e ''
has err "unfinished capture" "Lua's complaint is named"

# ---- run --sandbox takes the sandbox's flags -------------------------------
cat > "$t/quota.lua" <<'LUA'
local got = {}
for i = 1, 4 do got[i] = stockx.request { path = "/selling/listings" }.status end
print(table.concat(got, " "))
LUA
run 0 "run --sandbox --quota 3 FILE" run --sandbox --quota 3 --rate-limit off "$t/quota.lua"
has out "^200 200 200 429$" "the 4th request is refused by the quota"

cat > "$t/fault.lua" <<'LUA'
stockx.configure { retry = { transient_attempts = 1 } }
print(stockx.request { path = "/selling/listings" }.status,
      stockx.request { path = "/selling/orders/active" }.status)
LUA
run 0 "run --sandbox --fault" run --sandbox --rate-limit off \
    --fault '/selling/listings$:status=503' "$t/fault.lua"
has out "^503	200$" "the fault applies to its path only"

cat > "$t/seed.lua" <<'LUA'
print(stockx.get("/_sandbox/fixtures").productIds[1])
LUA
"$STOCKX" run --sandbox --seed 7 "$t/seed.lua" > "$t/seed7" 2> "$t/err"
"$STOCKX" run --sandbox --seed 8 "$t/seed.lua" > "$t/seed8" 2>> "$t/err"
"$STOCKX" run --sandbox --seed 7 "$t/seed.lua" > "$t/seed7b" 2>> "$t/err"
[ -s "$t/seed7" ] && cmp -s "$t/seed7" "$t/seed7b" && ! cmp -s "$t/seed7" "$t/seed8"
ok $? "run --sandbox --seed: the same seed gives the same ids, another seed others"

cat > "$t/write.lua" <<'LUA'
local fx = stockx.get("/_sandbox/fixtures")
local c = stockx.post("/selling/listings", { variantId = fx.variantIds[1], amount = "77" })
print(c.listingId)
LUA
run 0 "run --sandbox --state FILE" run --sandbox --rate-limit off --state "$t/state.json" "$t/write.lua"
[ "$(stat -c %a "$t/state.json" 2>/dev/null)" = 600 ]
ok $? "the state file is written, mode 0600"
id=$(cat "$t/out")
printf 'print(stockx.request { path = "/selling/listings/" .. arg[1] }.status)\n' > "$t/read.lua"
run 0 "a second run on the same --state" run --sandbox --rate-limit off --state "$t/state.json" "$t/read.lua" "$id"
has out "^200$" "finds the listing the first one created"

run 0 "run --sandbox with a global option after the sandbox flags" \
    run --sandbox --quota 3 --log-level error "$t/quota.lua"
has out "^200 200 200 429$" "both apply"

# ---- no state shared with other processes -------------------------------
printf 'stockx.get("/selling/listings", {pageSize = 1})\nprint("shared", stockx.stats().shared)\n' \
    > "$t/shared.lua"
STOCKX_RATE_STATE_DIR="$t/rate" run 0 "run --sandbox with the limiter on" run --sandbox \
    --rate-limit off "$t/shared.lua"
has out "^shared	false" "keeps its limiter to itself"
[ ! -e "$t/rate" ] || [ -z "$(ls -A "$t/rate")" ]; ok $? "and leaves no shared state file"

# ---- its own Lua state -----------------------------------------------------
cat > "$t/globals.lua" <<'LUA'
print("sandbox module loaded here:", package.loaded["stockx.sandbox"] ~= nil)
print("stockx.server loaded here:", package.loaded["stockx.server"] ~= nil)
table.concat, string.format, pairs = nil, nil, nil
print(stockx.request { path = "/selling/listings" }.status)
LUA
run 0 "run --sandbox: a script that clobbers globals" run --sandbox "$t/globals.lua"
has out "sandbox module loaded here:	false" "the sandbox is not loaded in the script's state"
has out "stockx.server loaded here:	false" "nor is its server module (stockx login may load one of its own)"
has out "^200$" "and the sandbox does not see the script's globals"

# ---- stockx sandbox: many faults, URL line, SIGTERM ------------------------
set --
for i in $(seq 1 20); do set -- "$@" --fault "/_nowhere/$i:status=500"; done
"$STOCKX" sandbox --port 0 "$@" > "$t/sb.out" 2> "$t/err" &
pid=$!
i=0
while ! grep -q 'listening on' "$t/sb.out" 2>/dev/null && [ $i -lt 100 ] &&
      kill -0 $pid 2>/dev/null; do
    sleep 0.1; i=$((i + 1))
done
url=$(sed -n 's/^stockx sandbox listening on \(http[^ ]*\)$/\1/p' "$t/sb.out")
[ -n "$url" ]; ok $? "20 --fault flags: the sandbox started and printed its URL"
"$STOCKX" --base-url "$url" -e 'print(#stockx.get("/_sandbox/faults").faults)' \
    > "$t/out" 2>> "$t/err"
has out "^20$" "all 20 faults are in place"
kill -TERM $pid
wait $pid
st=$?
pid=
[ $st = 0 ]; ok $? "SIGTERM stops the sandbox with status 0 (got $st)"
has err "stockx sandbox: stopped" "and it says so"

# the repricer's cases exist whatever the seed
LUA_PATH="tests/lua/?.lua;;" run 0 "the sandbox's special cases with --seed 7" \
    run --sandbox --seed 7 --rate-limit off --quota off tests/lua/test_sandbox_cases.lua
has out "9 passed, 0 failed" "all of them"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
