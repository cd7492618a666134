-- Transient failures: retried for idempotent methods only, bounded; clear
-- transport errors.
local tap = require "tap"
tap.setup()

local _, res = stockx.get("/_test/flaky", { id = "g503", fail = 2, code = 503 })
tap.eq(res.status, 200, "GET after two 503s succeeds")
tap.eq(res.attempts, 3, "in three attempts")
tap.eq(stockx.stats().retries, 2, "stats count the retries")

local err = tap.raises(function()
  stockx.get("/_test/flaky", { id = "g502", fail = 5, code = 502 })
end, "502 on every attempt raises")
tap.eq(err and err.attempts, 3, "after 3 attempts")
tap.eq(err and err.status, 502, "with the last status")
tap.eq(err and err.kind, "http", "kind http")

err = tap.raises(function()
  stockx.post("/_test/flaky?id=p503&fail=1&code=503", { a = 1 })
end, "POST with a 503 raises")
tap.eq(err and err.attempts, 1, "POST is never retried silently")
tap.eq(#tap.log("^/_test/flaky"), 7, "the server saw exactly one POST (3 + 3 + 1 requests)")

local _, pres = stockx.post("/_test/flaky?id=pi&fail=1&code=503", { a = 1 },
  { idempotent = true })
tap.eq(pres.attempts, 2, "POST with idempotent = true is retried")

local function flaky(method, id)
  return stockx.request { method = method, path = "/_test/flaky",
    query = { id = id, fail = 1, code = 504 } }
end
tap.eq(flaky("DELETE", "d").attempts, 2, "DELETE is retried")
tap.eq(flaky("PUT", "put").attempts, 2, "PUT is retried")

-- dropped connection mid-body
stockx.post("/_sandbox/reset", {})
err = tap.raises(function() stockx.get("/_test/drop", { n = 100000, after = 1000 }) end,
  "a connection dropped mid-body raises")
tap.eq(err and err.kind, "reset", "kind reset")
tap.eq(err and err.attempts, 3, "after 3 attempts (GET is idempotent)")
tap.eq(#tap.log("^/_test/drop"), 3, "the server saw 3 attempts")

-- timeout
stockx.configure { retry = { transient_attempts = 1 } }
err = tap.raises(function() stockx.get("/_test/stall", nil, { timeout = 0.3 }) end,
  "a stalled response times out")
tap.eq(err and err.kind, "timeout", "kind timeout")
tap.ok(err and tostring(err):find("^GET /_test/stall %-> timeout"),
  "tostring names method, path and kind", err and tostring(err))

-- request returns nil, err for transport failures
local r, e = stockx.request { path = "/_test/stall", timeout = 0.2 }
tap.ok(r == nil and e.kind == "timeout", "request returns nil, err on a timeout")

-- connect error
local closed = "http://127.0.0.1:9"
r, e = stockx.request { path = closed .. "/x" }
tap.ok(r == nil and e.kind == "connect", "connection refused is kind connect",
  e and e.kind)
tap.eq(e and e.url, closed .. "/x", "err.url")
tap.eq(e and e.method, "GET", "err.method")

stockx.configure { retry = { transient_attempts = 3 } }
tap.eq(stockx.stats().in_flight, 0, "nothing left in flight")
tap.done()
