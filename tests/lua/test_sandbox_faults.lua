-- Fault injection on the sandbox's StockX routes, seen from the client:
-- latency (fixed and a range), a 5xx rate, a 429 storm, a reset mid-body,
-- a stall, malformed JSON, a slow body, and faults scoped to a path
-- pattern or a method.  Timing bounds are generous: the machine is shared.
local tap = require "tap"
local schema = require "schema"
local scenario = require "scenario"
scenario.start()

local doc = schema.load("tests/contract/stockx-openapi.json")

local function timed(fn)
  local t0 = stockx.now()
  local a, b = fn()
  return stockx.now() - t0, a, b
end

local function get(path, query, timeout)
  return stockx.request { path = path, query = query, timeout = timeout }
end

scenario.part("latency", function()
  scenario.fault { path = "^/selling/orders/active$", latency = 0.4, count = 1 }
  local dt, res = timed(function() return get("/selling/orders/active") end)
  tap.eq(res.status, 200, "a delayed answer is still a 200")
  tap.ok(dt >= 0.35 and dt < 10, "fixed latency 0.4 s: the answer took at least that",
    string.format("%.3f s", dt))

  scenario.fault { path = "^/selling/orders/history$", latency = { 0.2, 0.5 }, count = 3 }
  local low, high = math.huge, 0
  for _ = 1, 3 do
    local d = timed(function() return get("/selling/orders/history") end)
    low, high = math.min(low, d), math.max(high, d)
  end
  tap.ok(low >= 0.15, "latency {0.2, 0.5}: no answer came sooner than 0.2 s",
    string.format("%.3f s", low))
  tap.ok(high < 10, "and none was stuck", string.format("%.3f s", high))
  local d = timed(function() return get("/selling/orders/history") end)
  tap.ok(d < 0.15 + 5, "after count = 3 the route is fast again", string.format("%.3f s", d))
end)

scenario.part("5xx rate", function()
  scenario.fault { path = "^/catalog/search$", status = 500, rate = 0.5 }
  local n500, n200, other, body = 0, 0, 0, nil
  for _ = 1, 40 do
    local r = get("/catalog/search", { query = "Nike" })
    if r.status == 500 then n500, body = n500 + 1, r.body
    elseif r.status == 200 then n200 = n200 + 1
    else other = other + 1 end
  end
  tap.ok(n500 >= 8 and n500 <= 32, "rate 0.5: about half of 40 searches get 500",
    n500 .. " x 500")
  tap.eq(n500 + n200, 40, "the others get 200")
  local ok, data = pcall(stockx.json.decode, body or "")
  tap.ok(ok and schema.check(doc, "PublicApiError", data), "the 500 body is a PublicApiError",
    body)
  scenario.clear_faults()
  tap.eq(get("/catalog/search", { query = "Nike" }).status, 200, "cleared: searches work")
end)

scenario.part("429 storm", function()
  scenario.fault { path = "^/selling/listings$", status = 429, count = 3, retry_after = 0 }
  local data, res = stockx.get("/selling/listings", { pageSize = 3 })
  tap.eq(#data.listings, 3, "after 3 injected 429s the GET succeeds")
  tap.eq(res.attempts, 4, "on the 4th attempt")

  scenario.fault { path = "^/selling/listings$", status = 429, seconds = 1.0, retry_after = 1 }
  local dt, d2, r2 = timed(function() return stockx.get("/selling/listings", { pageSize = 3 }) end)
  tap.ok(d2 and #d2.listings == 3, "a 1-second storm with Retry-After: 1 is ridden out")
  tap.ok(r2 and r2.attempts >= 2 and r2.attempts <= 4, "in 2 to 4 attempts",
    tostring(r2 and r2.attempts))
  tap.ok(dt >= 0.9, "waiting out the storm", string.format("%.3f s", dt))

  stockx.configure { retry = { max_attempts = 2 } }
  scenario.fault { path = "^/selling/listings$", status = 429, count = 5, retry_after = 0 }
  local ok, err = pcall(stockx.get, "/selling/listings")
  tap.ok(not ok and err.kind == "rate_limited" and err.attempts == 2,
    "a storm longer than the retries raises rate_limited", tostring(err))
  stockx.configure { retry = { max_attempts = 5 } }
  scenario.clear_faults()
end)

scenario.part("reset mid-body", function()
  scenario.fault { path = "^/selling/listings$", drop_after = 200, count = 3 }
  local ok, err = pcall(stockx.get, "/selling/listings", { pageSize = 50 })
  tap.ok(not ok and stockx.is_error(err) and err.kind == "reset",
    "a connection dropped after 200 body bytes: kind reset", tostring(err))
  tap.eq(err and err.attempts, 3, "after 3 attempts (GET is retried)")
  local data = stockx.get("/selling/listings", { pageSize = 50 })
  tap.eq(#data.listings, 50, "the next GET is whole again")
end)

scenario.part("stall", function()
  stockx.configure { retry = { transient_attempts = 1 } }
  scenario.fault { path = "^/selling/orders/history$", stall = true, count = 1 }
  local dt, res, err = timed(function() return get("/selling/orders/history", nil, 0.5) end)
  tap.ok(res == nil and err and err.kind == "timeout", "a stalled answer: kind timeout",
    tostring(err))
  tap.ok(dt >= 0.4 and dt < 10, "after about the 0.5 s timeout", string.format("%.3f s", dt))
  stockx.configure { retry = { transient_attempts = 3 } }
  tap.eq(get("/selling/orders/history").status, 200, "count = 1: the next one answers")
end)

scenario.part("malformed JSON", function()
  scenario.fault { path = "^/selling/orders/active$", malformed = true, count = 1 }
  local ok, err = pcall(stockx.get, "/selling/orders/active")
  tap.ok(not ok and stockx.is_error(err) and err.kind == "bad_response",
    "a malformed body: kind bad_response", tostring(err))
  tap.eq(err and err.status, 200, "with the 200 status it came with")
end)

scenario.part("slow body", function()
  local plain = stockx.request { path = "/selling/listings", query = { pageSize = 10 } }
  scenario.fault { path = "^/selling/listings$", chunk_size = 1024, chunk_delay = 0.05, count = 1 }
  local dt, res = timed(function() return get("/selling/listings", { pageSize = 10 }) end)
  tap.eq(res.status, 200, "a body sent 1 KiB at a time completes")
  tap.eq(res.body, plain.body, "byte for byte")
  local chunks = math.ceil(#plain.body / 1024)
  tap.ok(dt >= (chunks - 1) * 0.05 * 0.8, "and took about chunks x chunk_delay",
    string.format("%.3f s for %d chunks", dt, chunks))
end)

scenario.part("faults are scoped", function()
  scenario.fault { path = "^/catalog/search$", status = 503 }
  scenario.fault { path = "^/selling/orders/active$", method = "POST", status = 500 }
  local r = get("/catalog/search", { query = "Nike" })
  tap.eq(r.status, 503, "the faulted path answers 503")
  local other = get("/selling/listings", { pageSize = 1 })
  tap.eq(other.status, 200, "another path is not affected")
  tap.eq(other.attempts, 1, "at the first attempt")
  tap.eq(get("/catalog/products/" .. scenario.fixtures().productIds[1]).status, 200,
    "a path sharing a prefix is not affected")
  tap.eq(get("/selling/orders/active").status, 200, "a fault for POST leaves GET alone")

  scenario.clear_faults()
  scenario.fault { path = "^/catalog/products/", status = 500, seconds = 0.5 }
  tap.eq(get("/catalog/products/" .. scenario.fixtures().productIds[1]).status, 500,
    "a fault with seconds = 0.5 applies at once")
  stockx.sleep(0.9)
  tap.eq(get("/catalog/products/" .. scenario.fixtures().productIds[1]).status, 200,
    "and is gone after that")
  local log = tap.log("^/catalog/products/")
  tap.ok(#log >= 2 and log[#log].status == 200 and log[#log - 1].status == 500,
    "the sandbox's log records both answers")
end)

scenario.finish()
tap.done()
