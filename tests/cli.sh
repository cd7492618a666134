#!/bin/sh
# Command-line checks: exit statuses (0 ok, 1 script error, 2 usage),
# tracebacks with file:line, the arg table, log formats, signals.
# Run by tests/run.sh (which exports the sandbox URL and credentials).
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-cli.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh

run 0 "--version" --version
has out "^stockx [0-9]" "--version names stockx"
has out "Lua 5.4" "--version names Lua"
has out "libcurl" "--version names libcurl"
has out "libevent" "--version names libevent"
run 0 "--help" --help
has out "usage: stockx" "--help prints the usage"
run 2 "no arguments is a usage error"
run 2 "an unknown option is a usage error" --frobnicate
run 2 "run without a file is a usage error" run
run 2 "--rate without a value is a usage error" --rate
run 0 "-e with empty code" -e ''
run 1 "-e raising an error" -e 'error("boom")'
has err "(command line):1: boom" "the error names the chunk and line"
has err "stack traceback" "an uncaught error prints a traceback"

cat > "$t/fail.lua" <<'LUA'
local function inner()
  local x = nil
  return x.field
end
inner()
LUA
run 1 "a script error exits 1" run "$t/fail.lua"
has err "fail.lua:3:" "the error names file:line"
has err "in local 'inner'" "the traceback names the function"
run 1 "a missing script file" run "$t/nope.lua"
has err "cannot open" "the error says the file cannot be opened"

printf 'print(#arg, arg[0] ~= nil, arg[1], arg[2], ...)\n' > "$t/args.lua"
run 0 "arguments reach the script" "$t/args.lua" one two
has out "2	true	one	two	one	two" "arg and ... hold the script arguments"

echo 'print("from stdin", arg[1])' | "$STOCKX" - x > "$t/out" 2> "$t/err"
[ $? = 0 ] && grep -q "from stdin	x" "$t/out"; ok $? "'-' reads the script from stdin"

run 1 "a task error elsewhere makes the exit status 1" -e '
stockx.spawn(function() error("in a spawned task") end)
stockx.sleep(0.05)'
has err "in a spawned task" "the spawned task's error is printed"

run 1 "waiting outside a task is an error naming the cause" -e '
local mt = {__tostring = function() stockx.sleep(0.01); return "x" end}
print(setmetatable({}, mt))'
has err "cannot wait here" "the message explains the non-yieldable caller"

run 2 "a bad --rate is a usage error" --rate 'fast' -e ''
run 2 "a bad --rate names the value" --rate '10/1x' -e ''
has err "bad rate '10/1x'" "the bad rate is named"
run 2 "a missing --ca-file is a usage error" --ca-file /nonexistent/ca.pem -e ''
has err "cannot read ca_file '/nonexistent/ca.pem'" "the missing file is named"
run 2 "bad --log-level" --log-level loud -e ''
has err "bad log_level 'loud'" "the bad log level is named"

run 0 "json logs" --log-format json -e 'stockx.log.warn("hello", {n = 3, who = "me"})'
has err '^{"ts":"[0-9T:.-]*Z","level":"warn","event":"script","msg":"hello","n":3,"who":"me"}$' "json log line"
run 1 "json logs carry task errors" --log-format json -e 'error("bad")'
has err '^{"ts":"[^"]*","level":"error","event":"task.error","error":"(command line):1: bad","traceback":"stack traceback:' "an uncaught error is one JSON event"
run 0 "logfmt logs" -e 'stockx.log.info("two words", {k = "a=b"})'
has err 'level=info event=script msg="two words" k="a=b"' "logfmt line quotes values"
run 0 "log level filters" --log-level error -e 'stockx.log.warn("hidden")'
! grep -q hidden "$t/err"; ok $? "a warning is hidden at level error"

run 1 "connection refused is a clear error" --base-url http://127.0.0.1:9 -e '
stockx.configure{retry = {backoff_base = 0.01}}
stockx.get("/x")'
has err 'GET /x -> connect' "the error names the method, path and kind"

# interrupt SIGNAL CODE: runs stockx -e CODE in the background, sends it
# SIGNAL after half a second and leaves its exit status in $st.
interrupt() {
    "$STOCKX" -e "$2" > "$t/out" 2> "$t/err" &
    pid=$!
    sleep 0.5
    kill -"$1" $pid
    wait $pid
    st=$?
}

# A script blocked on a request stops on SIGTERM with status 143.
interrupt TERM 'stockx.configure{rate=false}; stockx.get("/_test/stall")'
[ $st = 143 ]; ok $? "SIGTERM stops a waiting script with status 143 (got $st)"
has err "interrupted" "the interruption is reported"

# Ctrl-C stops a task busy in Lua code, which never returns to the loop.
interrupt INT 'local n = 0; while true do n = n + 1 end'
[ $st = 130 ]; ok $? "SIGINT stops a busy Lua loop with status 130 (got $st)"
has err "interrupted!" "the busy task reports where it was stopped"
has err "(command line):1:" "with file:line"

run 0 "run --sandbox works offline with no setup" run --sandbox scripts/market.lua
has out "listings" "the example script printed its listings"
run 0 "the repricer runs against the sandbox" --rate off run --sandbox --rate-limit off \
    scripts/reprice.lua scripts/rules.csv "$t/audit.jsonl"
has out "to change," "it prints its plan"
has err "done: [1-9][0-9]* changed, 0 failed" "and applies it"
[ -s "$t/audit.jsonl" ]; ok $? "writing the audit log"
# the same sandbox state for both: reprice, then roll back, then check
rb_state="$t/rb.state"
run 0 "reprice a sandbox kept in a state file" --rate off run --sandbox --rate-limit off \
    --state "$rb_state" scripts/reprice.lua scripts/rules.csv "$t/rb.jsonl"
changed=$(sed -n 's/^done: \([0-9]*\) changed.*/\1/p' "$t/err")
run 0 "rollback.lua puts the old prices back" --rate off run --sandbox --rate-limit off \
    --state "$rb_state" scripts/rollback.lua "$t/rb.jsonl"
has out "^$changed prices restored, 0 failed" "as many as were changed ($changed)"
# the same through `stockx reprice`: history, --since, rollback (read back)
rc_state="$t/rc.state"
run 0 "reprice a second sandbox state" --rate off run --sandbox --rate-limit off \
    --state "$rc_state" scripts/reprice.lua scripts/rules.csv "$t/rc.jsonl"
changed=$(sed -n 's/^done: \([0-9]*\) changed.*/\1/p' "$t/err")
first=$(grep -m1 '"state":"done"' "$t/rc.jsonl" | sed 's/.*"listingId":"\([^"]*\)".*/\1/')
old=$(grep -m1 '"state":"done"' "$t/rc.jsonl" | sed 's/.*"old":"\([^"]*\)".*/\1/')
run 0 "reprice history lists the applied changes" reprice history "$t/rc.jsonl"
[ "$(grep -c ' ok ' "$t/out")" = "$changed" ]; ok $? "one line per change ($changed)"
has out "^time  *listing  *old  *new  *currency  *result  *reason" "under a header"
run 0 "history --since 1h has them all" reprice history "$t/rc.jsonl" --since 1h
[ "$(grep -c ' ok ' "$t/out")" = "$changed" ]; ok $? "all $changed within the hour"
run 0 "history --since a future time has none" reprice history "$t/rc.jsonl" --since 2099-01-01
has err "no applied changes" "and says so"
run 2 "a bad --since is a usage error" reprice history "$t/rc.jsonl" --since yesterday
has err 'since "yesterday" is not a time' "naming the value"
run 2 "reprice without a command is a usage error" reprice
run 2 "reprice with an unknown command" reprice undo "$t/rc.jsonl"
has err "unknown command undo" "naming it"
run 1 "reprice history of a missing log" reprice history "$t/none.jsonl"
has err "none.jsonl: No such file" "naming the file"
run 0 "reprice rollback --since in the future changes nothing" --rate off reprice \
    --sandbox --rate-limit off --state "$rc_state" rollback "$t/rc.jsonl" --since 2099-01-01
has err "nothing to roll back" "and says so"
run 0 "reprice rollback under --dry-run" --dry-run --rate off reprice --sandbox \
    --rate-limit off --state "$rc_state" rollback "$t/rc.jsonl"
has err "^$changed prices restored, 0 failed (dry run: nothing was sent)" "sends nothing"
run 0 "reprice rollback puts the old prices back" --rate off reprice --sandbox \
    --rate-limit off --state "$rc_state" rollback "$t/rc.jsonl" --since 1h
has err "^$changed prices restored, 0 failed" "all $changed of them"
cat > "$t/readback.lua" <<LUA
local l = stockx.listings.get("$first")
print("amount", stockx.listings.amount(l):amount())
LUA
run 0 "read the first listing back" --rate off run --sandbox --rate-limit off \
    --state "$rc_state" "$t/readback.lua"
has out "^amount	$old\$" "it has its old amount ($old) again"
run 0 "a second rollback finds nothing to do" --rate off reprice --sandbox \
    --rate-limit off --state "$rc_state" rollback "$t/rc.jsonl"
has err "nothing to roll back" "the prices are already back"
run 0 "the repricer under --dry-run" --dry-run --rate off run --sandbox --rate-limit off \
    scripts/reprice.lua scripts/rules.csv "$t/audit2.jsonl"
has err "dry run: nothing was sent" "says that nothing was sent"
run 0 "download_labels fetches the labels that are needed" --rate off run --sandbox \
    --rate-limit off scripts/download_labels.lua "$t/labels"
has out "^[1-9][0-9]* labels downloaded, 0 already there, 0 failed" "it counts them"
pdfs=0
for f in "$t"/labels/*.pdf; do
    [ "$(head -c 5 "$f")" = "%PDF-" ] && pdfs=$((pdfs + 1))
done
[ "$pdfs" -gt 0 ] && [ "$pdfs" = "$(ls "$t/labels" | wc -l)" ]
ok $? "every file is a PDF ($pdfs)"
run 0 "download_labels again" --rate off run --sandbox --rate-limit off \
    scripts/download_labels.lua "$t/labels"
has out "^0 labels downloaded, $pdfs already there" "a rerun downloads nothing"
run 0 "inventory_report prints a table and a CSV" --rate off run --sandbox --rate-limit off \
    scripts/inventory_report.lua "$t/inventory.csv"
has out "^listing  *product  *size  *channel" "the table's header"
has out "listings, [0-9]* of them the lowest ask of their channel" "a closing count"
[ "$(head -n 1 "$t/inventory.csv")" = "listing,product,size,channel,ask,lowest,position,bid,payout,currency" ]
ok $? "the CSV has a header"
[ "$(grep -c . "$t/inventory.csv")" -gt 100 ]; ok $? "and a row per listing"
pid=$("$STOCKX" run --sandbox -e 'print(stockx.get("/_sandbox/fixtures").productIds[1])' 2>/dev/null)
for n in 1 3; do
    run 0 "watch_market, $n round(s)" --rate off run --sandbox --rate-limit off \
        scripts/watch_market.lua "$pid" ask=200 bid=100 interval=0.05 rounds=$n \
        "command=echo \"\$STOCKX_SIZE \$STOCKX_PRICE\" >> $t/alerts$n"
done
has err "event=script msg=\"market alert\" kind=ask" "an alert is logged"
sort "$t/alerts1" > "$t/a1"; sort "$t/alerts3" > "$t/a3"
[ -s "$t/a1" ] && cmp -s "$t/a1" "$t/a3"
ok $? "the command ran once per crossing, not once per read ($(grep -c . "$t/alerts1") alerts)"
sync() { "$STOCKX" --rate off run --sandbox --rate-limit off scripts/sync_orders.lua "$@"; }
sync "$t/o.jsonl" > "$t/out" 2> "$t/err"; ok $? "sync_orders exports the orders"
n=$(grep -c . "$t/o.jsonl")
[ "$n" -gt 10 ]; ok $? "one JSON line per order ($n)"
sync "$t/o.jsonl" > "$t/out" 2> "$t/err"
has out "^0 orders added to .* ($n were there)" "a rerun adds nothing"
[ "$(grep -c . "$t/o.jsonl")" = "$n" ]; ok $? "and duplicates nothing"
SYNC_ORDERS_CRASH_AFTER=5 sync "$t/c.jsonl" > "$t/out" 2> "$t/err"
[ $? = 3 ] && [ "$(grep -c . "$t/c.jsonl")" = 5 ]; ok $? "a run that dies after 5 orders kept those 5"
sync "$t/c.jsonl" > "$t/out" 2> "$t/err"
[ "$(grep -c . "$t/c.jsonl")" = "$n" ] && [ -z "$(sort "$t/c.jsonl" | uniq -d)" ]
ok $? "the rerun completes it: nothing lost, nothing twice"
sync "$t/o.csv" > "$t/out" 2> "$t/err"
[ "$(head -n 1 "$t/o.csv" | cut -d, -f1-3)" = "orderNumber,status,amount" ] &&
    [ "$(grep -c . "$t/o.csv")" = $((n + 1)) ]
ok $? "a .csv export has a header and a row per order"

# --dry-run: writes are logged, not sent; a body only for the API.
run 0 "--dry-run runs a script that writes" --dry-run -e '
  local op = stockx.patch("/selling/listings/x", { amount = "5" })
  assert(op.dry_run and op.operationStatus == "SUCCEEDED")
  stockx.request { method = "POST", path = "http://127.0.0.1:9/oauth/token",
    body = "client_secret=shh" }'
has err "event=request.dry_run method=PATCH path=/selling/listings/x" "the write is logged"
has err 'body="{\\"amount\\":\\"5\\"}"' "with its body, for the API"
has err "body_bytes=17" "another host's body is logged as a size"
grep -q "shh" "$t/err"; [ $? != 0 ]; ok $? "so a secret in it is not logged"

# The README's settings table is the one the binary prints.
"$STOCKX" --settings > "$t/settings.md"
sed -n '/^<!-- settings:/,/^<!-- \/settings -->/p' README.md | sed '1d;$d' \
    > "$t/readme-settings.md"
cmp -s "$t/settings.md" "$t/readme-settings.md"
ok $? "the README's settings table matches stockx --settings"
grep -q -- '--max-connections' "$t/settings.md"
ok $? "the settings table lists the flags"
run 0 "--help lists every flag" --help
miss=0 # (a `|| break` would leave the loop with status 0)
for f in $(sed -n 's/.*`\(--[a-z-]*\)`.*/\1/p' "$t/settings.md"); do
    grep -q -- "$f" "$t/out" || { echo "# --help lacks $f"; miss=1; }
done
[ $miss = 0 ]; ok $? "--help names every flag of the settings table"
run 2 "a number out of range is a usage error" --timeout 1e300 -e ''
has err "'timeout' must be a number between 0.001 and 86400" "naming the setting and the range"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
