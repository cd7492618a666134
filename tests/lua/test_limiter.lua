-- The shared rate limiter and 429 handling, measured at the sandbox.
local tap = require "tap"
tap.setup()

local function gaps(entries)
  local out = {}
  for i = 2, #entries do out[#out + 1] = entries[i].t - entries[i - 1].t end
  return out
end

local function min(list)
  local m = math.huge
  for _, v in ipairs(list) do m = math.min(m, v) end
  return m
end

-- 5 per second, burst 1: requests from 4 tasks arrive >= 0.2 s apart
stockx.configure { rate = { rate = 5, period = 1, burst = 1 } }
stockx.all {
  function() for _ = 1, 2 do stockx.get("/_test/echo", { who = "a" }) end end,
  function() for _ = 1, 2 do stockx.get("/_test/echo", { who = "b" }) end end,
  function() for _ = 1, 2 do stockx.get("/_test/echo", { who = "c" }) end end,
  function() for _ = 1, 2 do stockx.get("/_test/echo", { who = "d" }) end end,
}
-- The limiter admits at 0.2 s intervals; sending adds a little jitter (a
-- lot under valgrind), so a single gap may shrink, but the span of n
-- requests cannot: it is at least (n - 1) intervals.
local log = tap.log("^/_test/echo")
local g = gaps(log)
tap.eq(#g, 7, "8 requests reached the server")
tap.ok(#log == 8 and log[8].t - log[1].t >= 7 * 0.2 * 0.97,
  "shared limiter: 8 requests from 4 tasks span at least 7 intervals at the server",
  #log == 8 and string.format("span %.3f", log[8].t - log[1].t) or "")
tap.ok(min(g) >= 0.1, "and no two arrive together", "smallest gap " .. min(g))

-- burst: 10/1s admits 10 at once, then spaces
stockx.post("/_sandbox/reset", {})
stockx.configure { rate = "10/1s" }
stockx.sleep(1.1) -- let the bucket drain
local tasks = {}
for i = 1, 12 do tasks[i] = stockx.spawn(function() return stockx.get("/_test/echo") end) end
for i = 1, 12 do tasks[i]:wait() end
log = tap.log("^/_test/echo")
tap.eq(#log, 12, "12 requests")
-- spaced, they would need 0.9 s
tap.ok(log[10].t - log[1].t < 0.45, "the first 10 (the burst) go at once",
  string.format("%.3f", log[10].t - log[1].t))
tap.ok(log[12].t - log[1].t >= 0.19, "then one per 0.1 s",
  string.format("%.3f", log[12].t - log[1].t))

-- the documented default: 1 per second
stockx.post("/_sandbox/reset", {})
stockx.configure { rate = "1/1s" }
stockx.sleep(1.05)
for _ = 1, 3 do stockx.get("/_test/echo") end
log = tap.log("^/_test/echo")
g = gaps(log)
tap.ok(#g == 2 and log[3].t - log[1].t >= 2 * 0.97 and min(g) >= 0.5,
  "1/1s spaces requests by a second", "gaps " .. table.concat(g, ","))

-- 429 with Retry-After: the request is retried after it, and every other
-- task waits too
stockx.configure { rate = false }
stockx.post("/_sandbox/reset", {})
local first, other
stockx.all {
  function()
    first = select(2, stockx.get("/_test/flaky",
      { id = "ra", fail = 1, code = 429, retry_after = 1 }))
  end,
  function()
    stockx.sleep(0.2) -- after the 429 arrived
    other = select(2, stockx.get("/_test/echo"))
  end,
}
tap.eq(first.status, 200, "a 429 with Retry-After is retried and succeeds")
tap.eq(other.status, 200, "the other task's request succeeded")
tap.eq(first.attempts, 2, "in two attempts")
local fl = tap.log("^/_test/flaky")
local ec = tap.log("^/_test/echo")
tap.ok(#fl == 2 and fl[2].t - fl[1].t >= 0.98, "the retry waited Retry-After (1 s)",
  #fl == 2 and string.format("%.3f", fl[2].t - fl[1].t) or (#fl .. " requests"))
tap.ok(#ec == 1 and ec[1].t - fl[1].t >= 0.98,
  "another task's request also waited for the pause",
  #ec == 1 and string.format("%.3f", ec[1].t - fl[1].t) or "")
tap.eq(stockx.stats().status_429 >= 1, true, "stats count 429s")

-- HTTP-date Retry-After
stockx.post("/_sandbox/reset", {})
local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
local _, dres = stockx.get("/_test/flaky",
  { id = "date", fail = 1, code = 429, retry_after = date })
fl = tap.log("^/_test/flaky")
tap.ok(dres.status == 200 and fl[2].t - fl[1].t >= 0.9,
  "an HTTP-date Retry-After is honoured", string.format("%.3f", fl[2].t - fl[1].t))

-- max attempts
stockx.configure { retry = { max_attempts = 3 } }
local err = tap.raises(function()
  stockx.get("/_test/flaky", { id = "max", fail = 10, code = 429, retry_after = 0 })
end, "429 on every attempt raises")
tap.eq(err and err.kind, "rate_limited", "kind rate_limited")
tap.eq(err and err.attempts, 3, "after retry.max_attempts attempts")
tap.eq(err and err.status, 429, "status 429")
tap.eq(err and err.retry_after, 0, "retry_after is carried")
tap.eq(err and err.message, "Too Many Requests", "message from the body")

-- a Retry-After above max_retry_after fails at once
stockx.configure { retry = { max_retry_after = 30 } }
err = tap.raises(function()
  stockx.get("/_test/flaky", { id = "long", fail = 1, code = 429, retry_after = 3600 })
end, "Retry-After above max_retry_after fails at once")
tap.eq(err and err.attempts, 1, "without retrying")
tap.eq(err and err.retry_after, 3600, "carrying retry_after")
tap.ok(err and tostring(err):find("retry after 3600s", 1, true), "and saying so",
  err and tostring(err))

-- 429 without Retry-After: backoff (full jitter, at most 1 s the first time)
stockx.configure { retry = { max_attempts = 5 } }
local _, bres = stockx.get("/_test/flaky", { id = "nora", fail = 1, code = 429 })
tap.eq(bres.attempts, 2, "429 without Retry-After is retried with backoff")

-- a 429 on POST is retried too: the server refused it, nothing happened
local _, pres = stockx.post("/_test/flaky?id=post429&fail=1&code=429&retry_after=0", {})
tap.eq(pres.attempts, 2, "a 429 on POST is retried (the server did not act on it)")
tap.done()
