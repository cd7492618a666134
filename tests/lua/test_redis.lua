-- The shared limiter in Redis, inside one process (so that ASan and
-- valgrind watch the hiredis code): reservations through a real
-- redis-server (TEST_REDIS_URL, started by tests/run.sh), concurrent
-- requests sharing one reservation at a time, a dead Redis falling back to
-- the host's state file, a switch back, and configure keeping the
-- connection.  The multi-process and restart checks are tests/cli_redis.sh.
local tap = require "tap"
tap.setup()

local url = os.getenv("TEST_REDIS_URL")
if not tap.ok(url ~= nil, "TEST_REDIS_URL is set (tests/run.sh starts redis-server)") then
  tap.done()
  return
end

stockx.configure { rate = "50/1s", rate_backend = url }
local s0 = stockx.stats()
tap.eq(s0.rate_backend, url, "stats name the Redis backend")
local used0
for _ = 1, 3 do stockx.get("/_test/echo") end
local s = stockx.stats()
tap.eq(s.rate_fallback, false, "Redis decides")
used0 = s.quota_used
tap.ok(type(used0) == "number" and used0 >= 3, "Redis counts the day's requests",
  tostring(used0))

-- 20 concurrent requests: one reservation in flight at a time, all admitted
local items = {}
for i = 1, 20 do items[i] = i end
local res = stockx.map(items, function(i) return stockx.get("/_test/echo", { i = i }).query.i end)
local all = true
for i = 1, 20 do all = all and res[i] == tostring(i) end
tap.ok(all, "20 concurrent requests through Redis all answered")
s = stockx.stats()
tap.eq(s.quota_used, used0 + 20, "and counted once each")
tap.eq(s.rate_fallback, false, "still on Redis")

-- the same settings again: the connection stays (no new limiter.redis)
stockx.configure { rate_backend = url, timeout = 20 }
stockx.get("/_test/echo")
tap.eq(stockx.stats().quota_used, used0 + 21, "configure with the same Redis keeps counting")

-- a Redis nobody listens on: the host's file decides, requests still go
stockx.configure { rate_backend = "redis://127.0.0.1:1" }
local r = stockx.get("/_test/echo", { x = "fb" })
tap.eq(r.query.x, "fb", "with Redis unreachable the request goes through")
s = stockx.stats()
tap.eq(s.rate_fallback, true, "stats say the host decides")
tap.ok(type(s.share_error) == "string" and s.share_error:find("refused") ~= nil,
  "and why", tostring(s.share_error))

-- back to the real one
stockx.configure { rate_backend = url }
stockx.get("/_test/echo")
s = stockx.stats()
tap.eq(s.rate_fallback, false, "back on Redis after configure")
tap.eq(s.quota_used, used0 + 22, "Redis's count again")

-- host: no Redis at all
stockx.configure { rate_backend = "host" }
stockx.get("/_test/echo")
s = stockx.stats()
tap.eq(s.rate_backend, "host", "rate_backend = host: the state file")
tap.eq(s.rate_fallback, nil, "no fallback field without Redis")

tap.done()
