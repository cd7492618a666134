#!/bin/sh
# The shared limiter in Redis (rate_backend = redis://...), against a real
# redis-server on loopback at a random port.  Two "hosts" are two state
# directories.  Checks: one process counts in Redis (keys, expiry, the
# day's count); three processes on two hosts stay within B + W/T together
# while Redis is killed and restarted under them (the hosts fall back to
# their state files at their share of the rate, log it once, and go back);
# the same two hosts without Redis exceed the rate; a 429 on one host
# makes the other wait; the learned rate reaches another host; a password
# is used and never shown; a stopped Redis (SIGSTOP) times out into the
# fallback; rediss:// and bad URLs are refused.  Prints the figures the
# README quotes.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-redis.XXXXXX)
pids=
redis_pid=
redis2_pid=
sb_pid=
sb2_pid=
trap '[ -n "${KEEP:-}" ] && cp -r "$t" /tmp/redis-keep; for p in $pids $redis_pid $redis2_pid $sb_pid $sb2_pid; do
        kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
      rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh
CLI_TIMEOUT=30

# rstart NAME [PORT [args...]]: tests/redis.sh's server in $t/NAME; its
# port in $rport, PID in $started.
rstart() {
    n=$1
    shift
    sh tests/redis.sh start "$t/$n" "$@" > "$t/$n.env" 2> "$t/$n.err" ||
        { cat "$t/$n.err"; return 1; }
    rport=$(sed -n 's/^redis_port=//p' "$t/$n.env")
    started=$(sed -n 's/^redis_pid=//p' "$t/$n.env")
}

rstart r1
ok $? "redis-server started on a random port (${rport:-none})"
[ -n "$rport" ] || exit 1
port=$rport
redis_pid=$started
R="redis://127.0.0.1:$port"

sandbox_start sb --quota off --rate-limit 10/1s
sb_pid=$started
url=$(cat "$t/sb.url")
export STOCKX_BASE_URL="$url" STOCKX_API_KEY=sandbox-api-key
export STOCKX_ACCESS_TOKEN=sandbox-access-token
unset STOCKX_RATE_SHARE STOCKX_ON_QUOTA STOCKX_RATE_BACKEND STOCKX_RATE_ADAPTIVE
for h in A B C D E F; do mkdir -m 700 "$t/host$h"; done

# ---- one process ----------------------------------------------------------
export STOCKX_RATE_STATE_DIR="$t/hostA"
run 0 "one process through Redis: stats name the backend, Redis counts" \
    --rate-backend "$R" -e '
  for i = 1, 3 do stockx.get("/catalog/search", {query = "x"}) end
  local s = stockx.stats()
  assert(s.rate_backend == "'"$R"'", tostring(s.rate_backend))
  assert(s.rate_fallback == false, "fallback")
  assert(s.quota_used == 3, "used " .. tostring(s.quota_used))
  assert(s.quota_left == 22497, "left " .. tostring(s.quota_left))
  print("ok")'
key=$(redis-cli -p "$port" --scan --pattern 'stockx:{*}:limiter' | head -n 1)
[ -n "$key" ] && [ "$(redis-cli -p "$port" HGET "$key" count)" = 3 ]
ok $? "the key's state is in Redis ($key), count 3"
ttl=$(redis-cli -p "$port" TTL "$key")
[ "$ttl" -gt 3600 ] && [ "$ttl" -le 90000 ]
ok $? "the key expires after the UTC day ($ttl s)"
redis-cli -p "$port" FLUSHALL > /dev/null

# Redis forgets the script (SCRIPT FLUSH) between two requests: EVAL
# takes over, nothing falls back.
timeout 20 "$STOCKX" --rate-backend "$R" --log-level debug -e '
  stockx.get("/catalog/search", {query = "x"})
  stockx.sleep(1.5)
  stockx.get("/catalog/search", {query = "x"})
  assert(stockx.stats().rate_fallback == false)' > "$t/out" 2> "$t/err" &
flusher=$!
sleep 0.7
redis-cli -p "$port" SCRIPT FLUSH > /dev/null
wait "$flusher"
st=$?
n=$(grep -c 'event=limiter.admit.*backend=redis' "$t/err")
[ $st -eq 0 ] && [ "$n" -eq 2 ] && ! grep -q 'limiter.redis_error' "$t/err"
ok $? "after SCRIPT FLUSH the next reservation is an EVAL ($n by Redis)"

# ---- three processes, two hosts, Redis restarted under them --------------
cat > "$t/worker.lua" <<'LUA'
local stop = stockx.now() + tonumber(arg[1])
while stockx.now() < stop do
  stockx.get("/catalog/search", { query = "nike" })
end
local s = stockx.stats()
print("done", s.status_429, s.quota_used, tostring(s.rate_fallback))
LUA
T=111111112 # --rate 10/1s at the margin 0.9, in ns
B=10
TOL=3000000 # 3 ms: slots are Redis's decisions seen on each client's clock

# fleet NAME SECONDS HOST... : one worker per HOST (a state directory).
fleet() {
    name=$1 secs=$2
    shift 2
    pids=
    n=0
    for h in "$@"; do
        STOCKX_RATE_STATE_DIR="$t/host$h" "$STOCKX" --rate 10/1s \
            --log-level debug run "$t/worker.lua" "$secs" \
            > "$t/$name.$n.out" 2> "$t/$name.$n.err" < /dev/null &
        pids="$pids $!"
        n=$((n + 1))
    done
}
fleet_wait() {
    for p in $pids; do wait "$p"; done
    pids=
    admit_slots "$1"
}

export STOCKX_RATE_BACKEND="$R"
sleep 1.2 # the sandbox's burst credit refills
fleet restart 9 A A B
sleep 3
kill -KILL "$redis_pid"
sleep 2
rstart r1 "$port"
ok $? "redis-server restarted on the same port"
redis_pid=$started
fleet_wait restart
window_check "$t/restart.slots" > "$t/restart.fig"
ok $? "3 processes on 2 hosts across a Redis restart: within B + W/T"
cat "$t/restart.fig"
n429=$(cat "$t/restart".*.err | grep -c 'event=retry.429')
[ "$n429" -eq 0 ]
ok $? "no 429 from a sandbox at the same rate ($n429)"
downs=$(cat "$t/restart".*.err | grep -c 'event=limiter.redis_down')
backs=$(cat "$t/restart".*.err | grep -c 'event=limiter.redis_back')
[ "$downs" -eq 3 ] && [ "$backs" -eq 3 ]
ok $? "each process logged the outage once and the return once ($downs, $backs)"
fb=$(cat "$t/restart".*.err | grep -c 'event=limiter.admit.*backend=host(fallback)')
rd=$(cat "$t/restart".*.err | grep -c 'event=limiter.admit.*backend=redis')
[ "$fb" -gt 0 ] && [ "$rd" -gt "$fb" ]
ok $? "admissions by Redis ($rd) and by the hosts' files while it was away ($fb)"
fin=$(cat "$t/restart".*.out | grep -c '^done.*false$')
[ "$fin" -eq 3 ]
ok $? "all three finished on Redis again ($fin)"
key=$(redis-cli -p "$port" --scan --pattern 'stockx:{*}:limiter' | head -n 1)
cnt=$(redis-cli -p "$port" HGET "$key" count)
admits=$(wc -l < "$t/restart.slots")
[ -n "$cnt" ] && [ "$cnt" -gt "$fb" ] && [ "$cnt" -le "$admits" ]
ok $? "the new Redis counts the admissions since the restart and the fallback ones ($cnt of $admits)"
echo "# restart: $rd admissions by Redis, $fb by the hosts' files during the outage, $n429 429s"

! grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$t/restart".*.err
ok $? "no sanitizer report from the three processes"

# The same three without Redis: two hosts, two limiters, too fast.
sleep 1.2
STOCKX_RATE_BACKEND=host fleet hostonly 4 C C D
fleet_wait hostonly
window_check "$t/hostonly.slots" > "$t/hostonly.fig"
st=$?
n429=$(cat "$t/hostonly".*.err | grep -c 'event=retry.429')
[ "$st" -ne 0 ] && [ "$n429" -gt 0 ]
ok $? "the same two hosts without Redis exceed the rate (429s: $n429)"
cat "$t/hostonly.fig"

# ---- a 429 on one host makes the other wait ------------------------------
sleep 1.2
curl -s -X POST "$url/_sandbox/faults" -H 'content-type: application/json' \
    -d '{"path": "/catalog/products", "status": 429, "retry_after": 4, "count": 1}' \
    > /dev/null
STOCKX_RATE_STATE_DIR="$t/hostE" run 0 "host E gets a 429 (Retry-After 4)" \
    --max-attempts 1 -e '
  local ok, e = pcall(stockx.get, "/catalog/products/x")
  assert(not ok and e.kind == "rate_limited", tostring(e))'
STOCKX_RATE_STATE_DIR="$t/hostF" run 0 "host F's next request is held for it" \
    --log-level debug -e 'stockx.get("/catalog/search", {query = "x"})'
held=$(sed -n 's/.*event=limiter.admit slot_ns=\([0-9]*\) now_ns=\([0-9]*\).*/\1 \2/p' "$t/err" \
    | awk 'NR == 1 { printf "%d", ($1 - $2) / 1e6 }')
[ -n "$held" ] && [ "$held" -ge 2500 ] && [ "$held" -le 4100 ]
ok $? "host F's slot is after host E's penalty (${held:-?} ms ahead)"
curl -s -X DELETE "$url/_sandbox/faults" > /dev/null

# ---- the learned rate reaches another host -------------------------------
sandbox_start sb2 --quota off --rate-limit 1/1s
sb2_pid=$started
sleep 1.2
STOCKX_BASE_URL=$(cat "$t/sb2.url") STOCKX_RATE_STATE_DIR="$t/hostA" \
    run 0 "host A at 5/1s against a server at 1/1s learns a lower rate" \
    --rate 5/1s --log-level warn -e '
  for i = 1, 6 do pcall(stockx.get, "/catalog/search", {query = "x" .. i}) end
  local s = stockx.stats()
  assert(s.status_429 > 0, "no 429")
  print("learned", s.rate_learned)'
STOCKX_BASE_URL=$(cat "$t/sb2.url") STOCKX_RATE_STATE_DIR="$t/hostB" \
    run 0 "host B starts from host A's learned rate (through Redis)" \
    --rate 5/1s -e '
  stockx.get("/catalog/search", {query = "y"})
  local r = stockx.stats().rate_learned
  assert(r and r < 5, "rate_learned " .. tostring(r))
  print("learned", r)'
cat "$t/out" | sed 's/^/# host B: /'
kill "$sb2_pid" 2>/dev/null
wait "$sb2_pid" 2>/dev/null
sb2_pid=

# ---- a password ------------------------------------------------------------
pw='s3cr3t-p@ss'
rstart r2 0 --requirepass "$pw"
port2=$rport
redis2_pid=$started
export STOCKX_RATE_STATE_DIR="$t/hostC"
run 0 "a password in the URL is used (percent-encoded @)" \
    --rate-backend "redis://:s3cr3t-p%40ss@127.0.0.1:$port2/2" --log-level debug -e '
  stockx.get("/catalog/search", {query = "x"})
  local s = stockx.stats()
  assert(s.rate_fallback == false, "fell back: " .. tostring(s.share_error))
  print(s.rate_backend)'
has out "redis://:\*\*\*@127.0.0.1:$port2/2" "stats show the URL with the password masked"
n=$(redis-cli -p "$port2" -a "$pw" --no-auth-warning -n 2 --scan --pattern 'stockx:*' | wc -l)
[ "$n" -eq 3 ]
ok $? "the state, hosts and clients are in database 2 ($n keys)"
run 0 "a wrong password: the host limiter decides, the reason is logged" \
    --rate-backend "redis://:wrong-pass-123@127.0.0.1:$port2" -e '
  stockx.get("/catalog/search", {query = "x"})
  assert(stockx.stats().rate_fallback == true)'
has err "event=limiter.redis_down.*AUTH" "the log names AUTH"
! grep -q -e 'wrong-pass-123' -e 's3cr3t' "$t/out" "$t/err"
ok $? "the password is in no output"
run 0 "stockx config masks the password" \
    --rate-backend "redis://:wrong-pass-123@127.0.0.1:$port2" config
has out 'rate_backend.*redis://:\*\*\*@' "config shows redis://:***@..."
! grep -q 'wrong-pass-123' "$t/out" "$t/err"
ok $? "config shows no password"

# ---- a stopped Redis -------------------------------------------------------
kill -STOP "$redis_pid"
run 0 "a stopped Redis: the connection times out, the host decides" \
    --rate-backend "$R" -e '
  local t0 = stockx.now()
  for i = 1, 2 do stockx.get("/catalog/search", {query = "x"}) end
  assert(stockx.stats().rate_fallback == true)
  print("elapsed", stockx.now() - t0)'
has err "event=limiter.redis_down.*no answer within 1s" "logged: no answer within 1s"
kill -CONT "$redis_pid"

# Redis stops answering in the middle of a run (a call in flight times out)
# and answers again: the host decides meanwhile, then Redis again.
STOCKX_RATE_ADAPTIVE=false timeout 30 "$STOCKX" --rate-backend "$R" --rate 5/1s --log-level debug -e '
  local t0 = stockx.now()
  while stockx.now() - t0 < 6 do stockx.get("/catalog/search", {query = "x"}) end
  assert(stockx.stats().rate_fallback == false, "still on the host")' \
    > "$t/stop.out" 2> "$t/stop.err" &
runner=$!
sleep 1.5
kill -STOP "$redis_pid"
sleep 2
kill -CONT "$redis_pid"
wait "$runner"
st=$?
[ $st -eq 0 ] && grep -q 'event=limiter.redis_down.*did not answer within 1s' "$t/stop.err" &&
    grep -q 'event=limiter.redis_back' "$t/stop.err" &&
    grep -q 'backend=host(fallback)' "$t/stop.err"
ok $? "a Redis that stops answering mid-run: the call times out, the host decides, then Redis again"
! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$t/stop.err"
ok $? "no sanitizer report after the timed-out call"

# ---- refused settings ------------------------------------------------------
run 2 "rediss:// is refused" --rate-backend "rediss://127.0.0.1:$port" -e 'print(1)'
has err "rediss:// (Redis over TLS) is not supported" "the error says why (no TLS)"
run 2 "a bad port is refused" --rate-backend "redis://127.0.0.1:99999" -e 'print(1)'
has err "port must be 1..65535" "the error names the port"
run 1 "configure refuses an http URL" -e '
  stockx.configure{rate_backend = "http://127.0.0.1:6379"}'
has err "not a redis:// URL" "the error says what is wrong"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
