#!/bin/sh
# Prometheus metrics from a run against a sandbox: /metrics scraped while
# the script runs (--metrics-addr), the textfile (--metrics-file) written
# atomically at the end, both through `promtool check metrics`; escaping,
# cumulative buckets with +Inf = _count, _sum, the trailing newline,
# endpoint templates instead of raw ids, the cardinality error, bad flags;
# a --log-format json run whose stderr lines all parse as JSON; and no API
# key, access token or client secret in any output of a repricing run.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-metrics.XXXXXX)
sandbox_pid=
bg=
trap 'for p in $bg $sandbox_pid; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh
CLI_TIMEOUT=30

sandbox_start sb --rate-limit off --quota off
sandbox_pid=$started
url=$(cat "$t/sb.url")
KEY=sandbox-api-key TOKEN=sandbox-access-token SECRET=sandbox-client-secret
export STOCKX_BASE_URL="$url" STOCKX_API_KEY=$KEY STOCKX_ACCESS_TOKEN=$TOKEN
export STOCKX_CLIENT_ID=sandbox-client STOCKX_CLIENT_SECRET=$SECRET
export STOCKX_RATE_STATE_DIR="$t/rs"
unset STOCKX_RATE_SHARE STOCKX_ON_QUOTA STOCKX_LOG_FORMAT STOCKX_METRICS_ADDR \
    STOCKX_METRICS_FILE

have_promtool=1
command -v promtool > /dev/null || { have_promtool=0; echo "# promtool missing: checks skipped"; }
promcheck() { # FILE DESC
    if [ $have_promtool = 1 ]; then
        promtool check metrics < "$1" > "$t/promtool.out" 2>&1
        st=$?
        [ $st = 0 ] || sed 's/^/#   /' "$t/promtool.out"
        ok $st "$2"
    fi
}

# The script: API calls with real ids, a user metric with a hostile label
# value, the cardinality limit, then it waits for the scrape (a file).
cat > "$t/s.lua" <<'LUA'
local m = stockx.metrics
local search = stockx.get("/catalog/search", { query = "jordan" })
local pid = search.products[1].productId
stockx.get("/catalog/products/" .. pid)
stockx.get("/catalog/products/" .. pid .. "/variants")
local ls = stockx.get("/selling/listings", { pageSize = 2 })
local lid = ls.listings[1].listingId
stockx.get("/selling/listings/" .. lid)
pcall(stockx.get, "/selling/listings/no-such-listing-0123")
pcall(stockx.get, "/not/an/endpoint")
local f = io.open(arg[1] .. "/ids", "w")
f:write(pid, "\n", lid, "\n"); f:close()
local c = m.counter("test_events_total", "Help with \\ and\nnewline.", { "what" })
c:inc({ what = 'say "hi" \\ back\nslash' }, 3)
local h = m.histogram("test_size_bytes", "Sizes.", { "kind" }, { 10, 100, 1000 })
for _, v in ipairs({ 5, 50, 500, 5000, 10 }) do h:observe({ kind = "a" }, v) end
local ids = m.counter("test_by_id_total", "Refused after the limit.", { "id" })
local ok, err
for i = 1, 1000 do
  ok, err = pcall(ids.inc, ids, { id = tostring(i) })
  if not ok then break end
end
print("cardinality:", err)
print("no _total:", select(2, pcall(m.counter, "test_bad", "x")))
print("bad label:", select(2, pcall(m.gauge, "test_g", "x", { "__x" })))
local deadline = stockx.now() + 10
while not io.open(arg[1] .. "/scraped") and stockx.now() < deadline do stockx.sleep(0.05) end
LUA

"$STOCKX" --rate off --metrics-addr 127.0.0.1:0 --metrics-file "$t/out.prom" \
    run "$t/s.lua" "$t" > "$t/run.out" 2> "$t/run.err" < /dev/null &
bg=$!
i=0
while ! grep -q 'event=metrics.listen' "$t/run.err" 2>/dev/null || [ ! -f "$t/ids" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
done
port=$(sed -n 's/.*event=metrics.listen addr=127.0.0.1:\([0-9]*\).*/\1/p' "$t/run.err")
curl -s -D "$t/scrape.h" -o "$t/scrape" "http://127.0.0.1:$port/metrics"
ok $? "GET /metrics on the port the run logged ($port)"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other" > "$t/404"
grep -q 404 "$t/404"; ok $? "another path is 404"
touch "$t/scraped"
start=$(date +%s)
wait $bg; st=$?
bg=
[ $st = 0 ]; ok $? "the script ends by itself with a listener open (exit $st)"
[ $(( $(date +%s) - start )) -le 3 ]; ok $? "and without waiting for anything"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$t/scrape.h"
ok $? "content type text/plain; version=0.0.4"
promcheck "$t/scrape" "promtool accepts the scrape"
promcheck "$t/out.prom" "promtool accepts the textfile"
[ "$(tail -c 1 "$t/out.prom" | od -An -c | tr -d ' ')" = '\n' ]
ok $? "the textfile ends in a newline"
[ "$(stat -c %a "$t/out.prom")" = 644 ]; ok $? "the textfile is 0644"
[ "$(ls "$t" | grep -c 'out.prom.')" = 0 ]; ok $? "no temporary file left beside it"

grep -q 'endpoint="/selling/listings/{id}",status_class="2xx"} 1$' "$t/scrape"
ok $? "a listing GET counts under /selling/listings/{id}"
grep -q 'endpoint="/selling/listings/{id}",status_class="4xx"} 1$' "$t/scrape"
ok $? "the unknown listing (404) under the same template, class 4xx"
grep -q 'endpoint="/catalog/products/{id}/variants",status_class="2xx"} 1$' "$t/scrape"
ok $? "/catalog/products/{id}/variants"
grep -q 'endpoint="other",status_class="4xx"} 1$' "$t/scrape"
ok $? "an unknown path counts as other"
n=0
while read -r id; do
    grep -q -F "$id" "$t/scrape" "$t/out.prom" && n=$((n + 1))
done < "$t/ids"
grep -q 'no-such-listing' "$t/scrape" "$t/out.prom" && n=$((n + 1))
[ $n = 0 ]; ok $? "no product or listing id in the metrics ($n found)"

grep -q -F '# HELP test_events_total Help with \\ and\nnewline.' "$t/scrape"
ok $? "HELP escapes backslash and newline"
grep -q -F 'test_events_total{what="say \"hi\" \\ back\nslash"} 3' "$t/scrape"
ok $? "the label value escapes quote, backslash and newline"
cat > "$t/want" <<'EOF'
# TYPE test_size_bytes histogram
test_size_bytes_bucket{kind="a",le="10"} 2
test_size_bytes_bucket{kind="a",le="100"} 3
test_size_bytes_bucket{kind="a",le="1000"} 4
test_size_bytes_bucket{kind="a",le="+Inf"} 5
test_size_bytes_sum{kind="a"} 5565
test_size_bytes_count{kind="a"} 5
EOF
grep -A6 '^# TYPE test_size_bytes' "$t/scrape" | cmp -s - "$t/want"
ok $? "cumulative buckets, +Inf = _count, _sum"
# every histogram series: buckets never decrease and +Inf equals _count
awk '/_bucket\{/ { s = $1; sub(/,?le="[^"]*"\}/, "}", s); sub(/_bucket/, "", s); sub(/\{\}$/, "", s);
        if (s == prev && $2 + 0 < last + 0) bad++; prev = s; last = $2;
        if ($1 ~ /le="\+Inf"/) inf[s] = $2 }
     /_count[{ ]/ { s = $1; sub(/_count/, "", s); if (!(s in inf) || inf[s] != $2) bad++; n++ }
     END { print n + 0, bad + 0 }' "$t/scrape" > "$t/hist"
read -r nh bad < "$t/hist"
[ "$nh" -ge 5 ] && [ "$bad" = 0 ]
ok $? "$nh histogram series, all cumulative with +Inf = _count ($bad bad)"
grep -q 'cardinality:.*metric test_by_id_total: label id has too many values' "$t/run.out"
ok $? "the 201st label value is refused, naming metric and label"
grep -q 'test_by_id_total{id="200"}' "$t/scrape" && ! grep -q 'test_by_id_total{id="201"}' "$t/scrape"
ok $? "200 series kept, none beyond"
grep -q "no _total:.*must end in _total" "$t/run.out"; ok $? "a counter without _total is refused"
grep -q "bad label:.*not a label name" "$t/run.out"; ok $? "a __ label is refused"
grep -q '^stockx_attempts_total [1-9]' "$t/out.prom"; ok $? "stats() counters in the textfile"

run 2 "--metrics-file without .prom is refused" --metrics-file "$t/x.txt" -e 'print(1)'
has err "must end in .prom" "the error says .prom"
run 2 "a non-numeric port is refused" --metrics-addr 127.0.0.1:http -e 'print(1)'
run 2 "port 70000 is refused" --metrics-addr 127.0.0.1:70000 -e 'print(1)'
run 2 "0.0.0.0 is refused without metrics_public" --metrics-addr 0.0.0.0:0 -e 'print(1)'
run 0 "stockx.configure{metrics_file=} writes at the end" --rate off -e "
  stockx.configure { metrics_file = '$t/conf.prom' }
  stockx.get('/catalog/search', { query = 'x' })"
grep -q 'endpoint="/catalog/search",status_class="2xx"} 1' "$t/conf.prom"
ok $? "and the file has the request"

# Jobs: runs by outcome, duration, last success; a metrics file every 1 s.
run 0 "a scheduled job with --metrics-interval 1" --rate off --metrics-file "$t/job.prom" \
    --metrics-interval 1 -e '
  local n = 0
  local job; job = stockx.every("0.3s", function()
    n = n + 1
    if n == 2 then error("boom") end
    if n >= 4 then job:cancel() end
  end, { name = "tick" })'
grep -q 'stockx_job_runs_total{job="tick",outcome="ok"} 3' "$t/job.prom" &&
    grep -q 'stockx_job_runs_total{job="tick",outcome="error"} 1' "$t/job.prom" &&
    grep -q 'stockx_job_duration_seconds_count{job="tick"} 4' "$t/job.prom" &&
    grep -q '^stockx_job_last_success_timestamp_seconds{job="tick"} 1[0-9]' "$t/job.prom"
ok $? "job runs by outcome, durations and last success"
promcheck "$t/job.prom" "promtool accepts the job metrics"

# The textfile is rewritten while the script runs, not only at the end.
"$STOCKX" --rate off --metrics-file "$t/live.prom" --metrics-interval 1 \
    -e 'stockx.get("/catalog/search", { query = "x" }); stockx.sleep(3)' \
    > /dev/null 2>&1 < /dev/null &
bg=$!
i=0
while [ ! -f "$t/live.prom" ] && [ $i -lt 25 ]; do i=$((i + 1)); sleep 0.1; done
kill -0 $bg 2>/dev/null && grep -q 'endpoint="/catalog/search"' "$t/live.prom"
ok $? "the textfile is there after ~1 s, while the script still runs"
wait $bg
bg=

# --log-format json: every stderr line of a full run parses as JSON.
cat > "$t/json.lua" <<'LUA'
stockx.log.info("hello", { quote = 'a "b" \\ c\nd' })
stockx.get("/catalog/search", { query = "jordan" })
pcall(stockx.get, "/selling/listings/nope")
local n = 0
local job; job = stockx.every("0.2s", function()
  n = n + 1
  if n == 1 then error("a failing run") end
  job:cancel()
end, { name = "j" })
stockx.spawn(function() error("an uncaught task error") end)
LUA
run 1 "a run with --log-format json --log-level debug (an uncaught error: exit 1)" \
    --rate off --log-format json --log-level debug --metrics-addr 127.0.0.1:0 \
    --metrics-file "$t/json.prom" run "$t/json.lua"
cp "$t/err" "$t/json.err"
"$STOCKX" -e '
  local cjson = require "cjson"
  local n, bad = 0, 0
  for line in io.lines(arg[1]) do
    n = n + 1
    local ok, v = pcall(cjson.decode, line)
    if not ok or type(v) ~= "table" or not v.event then
      bad = bad + 1; io.stderr:write("not JSON: ", line, "\n")
    end
  end
  print(n, bad)' "$t/json.err" > "$t/json.count" 2> "$t/err"
read -r nj badj < "$t/json.count"
[ "${nj:-0}" -ge 8 ] && [ "$badj" = 0 ]
ok $? "$nj stderr lines, each a JSON object with an event ($badj not)"
grep -q '"event":"metrics.listen"' "$t/json.err" && grep -q '"event":"job.run"' "$t/json.err"
ok $? "including the metrics listener and the job runs"

# Secrets: a repricing run with debug logs, metrics, an audit log and its
# history; none of the outputs holds the key, the token or the secret.
run 0 "a repricing run with every output on" --rate off --log-level debug \
    --metrics-file "$t/rp.prom" run scripts/reprice.lua scripts/rules.csv "$t/audit.jsonl"
cat "$t/out" "$t/err" > "$t/rp.all"
run 0 "its history" reprice history "$t/audit.jsonl"
cat "$t/out" "$t/err" >> "$t/rp.all"
run 0 "a request refused (404) with debug logs" --rate off --log-level debug -e '
  print(pcall(stockx.get, "/selling/listings/nope"))'
cat "$t/out" "$t/err" "$t/rp.prom" "$t/audit.jsonl" "$t/scrape" "$t/out.prom" "$t/run.out" \
    "$t/run.err" "$t/json.err" >> "$t/rp.all"
[ -s "$t/audit.jsonl" ] && [ "$(wc -l < "$t/rp.all")" -gt 20 ]
ok $? "the outputs searched are not empty ($(wc -l < "$t/rp.all") lines)"
n=$(grep -c -F -e "$KEY" -e "$TOKEN" -e "$SECRET" "$t/rp.all")
[ "$n" = 0 ]; ok $? "no API key, access token or client secret in them ($n lines)"

kill "$sandbox_pid" 2>/dev/null
wait "$sandbox_pid" 2>/dev/null
sandbox_pid=
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
