-- stockx.metrics (lua/stockx/metrics.lua over src/lmetrics.c): endpoint
-- templates for every StockX path pattern, each finished request counted
-- once by method, template and status class (a 429 retried, a transport
-- failure), stats() counters caught up at render time, the objects'
-- methods and their errors, stable rendering.
local tap = require "tap"
local metrics = stockx.metrics

tap.setup()

-- Templates: a concrete path for each, ids replaced by values
for _, tpl in ipairs(metrics._internal.templates) do
  local n = 0
  local path = tpl:gsub("{id}", function() n = n + 1; return "id-" .. n .. "-xyz" end)
  tap.eq(metrics.endpoint(path), tpl, "template " .. tpl)
  tap.eq(metrics.endpoint(path .. "?pageSize=5&x=y"), tpl, "with a query: " .. tpl)
end
tap.eq(metrics.endpoint("/selling/orders/active"), "/selling/orders/active",
  "a literal segment wins over {id}")
tap.eq(metrics.endpoint("/selling/orders/12-345"), "/selling/orders/{id}", "an order number")
tap.eq(metrics.endpoint("/selling/listings/a/b/c/d/e"), "other", "too deep: other")
tap.eq(metrics.endpoint("https://example.com/catalog/search"), "other", "a URL: other")
tap.eq(metrics.endpoint("/_sandbox/stats"), "other", "sandbox admin: other")
tap.eq(metrics.endpoint(nil), "other", "nil: other")

-- Requests: one count per finished request, never per attempt
local req = metrics.counter("stockx_requests_total", "Requests finished, by method, endpoint "
  .. "template and status class (error: no HTTP answer).", { "method", "endpoint", "status_class" })
local dur = metrics.histogram("stockx_request_duration_seconds",
  "Time from the call to its answer, queueing, limiter waits and retries included.",
  { "method", "endpoint" }, { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60 })
local function count(m, e, c)
  return req:value({ method = m, endpoint = e, status_class = c })
end
local s0 = count("GET", "/catalog/search", "2xx")
local d0 = dur:value({ method = "GET", endpoint = "/catalog/search" })
for _ = 1, 3 do stockx.get("/catalog/search", { query = "nike" }) end
tap.eq(count("GET", "/catalog/search", "2xx") - s0, 3, "three searches counted")
tap.eq(dur:value({ method = "GET", endpoint = "/catalog/search" }) - d0, 3,
  "and three durations observed")

local fx = stockx.get("/_sandbox/fixtures")
local lid = fx.listings and fx.listings[1]
  or (stockx.get("/selling/listings")).listings[1].listingId
local r0 = metrics.text():match('\nstockx_retries_total{reason="429"} (%d+)')
tap.fault { path = "^/selling/listings/", status = 429, count = 1, retry_after = 0 }
local l0 = count("GET", "/selling/listings/{id}", "2xx")
stockx.get("/selling/listings/" .. (type(lid) == "table" and lid.listingId or lid))
tap.eq(count("GET", "/selling/listings/{id}", "2xx") - l0, 1,
  "a request answered 429 then 200 counts once, as 2xx")
tap.eq(count("GET", "/selling/listings/{id}", "4xx"), 0, "and not as 4xx")
local r1 = metrics.text():match('\nstockx_retries_total{reason="429"} (%d+)')
tap.ok(tonumber(r1) == tonumber(r0) + 1,
  'the retry shows in stockx_retries_total{reason="429"} at render',
  tostring(r0) .. " -> " .. tostring(r1))
tap.ok(metrics.text():find('\nstockx_retries_total{reason="5xx"} 0\n') ~= nil,
  "every reason is there from the start (5xx at 0)")
tap.eq(stockx.stats().retries_by["429"], tonumber(r1), "stats().retries_by counts it too")
local qw = metrics.text():match("\nstockx_queue_wait_seconds_count (%d+)")
tap.ok(tonumber(qw) and tonumber(qw) >= 1, "each request's queue wait is observed",
  tostring(qw))
stockx.delete("/_sandbox/faults")

local e0 = count("GET", "other", "error")
local res = stockx.request { path = "http://127.0.0.1:1/nothing" }
tap.eq(res, nil, "a refused connection")
tap.eq(count("GET", "other", "error") - e0, 1, "counts as other/error")
local p0 = count("POST", "/catalog/search", "4xx") + count("POST", "/catalog/search", "5xx")
pcall(stockx.post, "/catalog/search", {})
tap.eq(count("POST", "/catalog/search", "4xx") + count("POST", "/catalog/search", "5xx") - p0,
  1, "a refused POST counts under its method")

-- The objects
local g = metrics.gauge("test_level", "A level.", { "k" })
g:set({ k = "a" }, 5)
g:inc({ k = "a" }, -2)
tap.eq(g:value({ k = "a" }), 3, "a gauge set, then moved down")
local c = metrics.counter("test_things_total", "Things.")
c:inc()
c:inc(nil, 2.5)
tap.eq(c:value(), 3.5, "a counter without labels")
tap.raises(function() c:inc(nil, -1) end, "a counter does not go down", "only goes up")
tap.raises(function() c:set(nil, 1) end, "a counter cannot be set", "only a gauge")
tap.raises(function() g:observe({ k = "a" }, 1) end, "a gauge does not observe", "histogram")
tap.raises(function() g:set({ k = "a", j = "b" }, 1) end, "an extra label is refused",
  "labels 2 given, 1 expected")
tap.raises(function() g:set({}, 1) end, "a missing label is refused", "label k: missing")
tap.raises(function() g:set({ k = "a\0b" }, 1) end, "a NUL in a value is refused", "NUL")
tap.raises(function() metrics.gauge("test_level", "A level.", { "other" }) end,
  "the same name with other labels is refused", "already defined")
tap.eq(metrics.gauge("test_level", "A level.", { "k" }):value({ k = "a" }), 3,
  "the same definition finds the same series")
tap.raises(function() metrics.histogram("test_h_seconds", "H.", nil, { 1, 0.5 }) end,
  "decreasing buckets are refused", "increasing")
tap.raises(function() metrics.counter("bad-name_total", "x") end, "a bad name is refused",
  "not a metric name")
local h = metrics.histogram("test_default_seconds", "Default buckets.")
h:observe(nil, 0.3)
local text = metrics.text()
tap.ok(text:find('test_default_seconds_bucket{le="0.25"} 0\n', 1, true)
  and text:find('test_default_seconds_bucket{le="0.5"} 1\n', 1, true)
  and text:find('test_default_seconds_bucket{le="10"} 1\n', 1, true),
  "default buckets .005 ... 10, cumulative")
tap.eq(text:sub(-1), "\n", "the text ends in a newline")
tap.eq(metrics.text(), metrics.text(), "two renderings in a row are the same")
tap.ok(not text:find("id%-1%-xyz"), "no raw id in the text")

-- the breaker's and the cache's series, from stockx.stats()
stockx.configure { breaker = true }
stockx.get("/_test/echo")
text = metrics.text()
tap.ok(text:find('\nstockx_breaker_state{origin="[^"]+"} 0\n') ~= nil,
  "the breaker's state per origin (0: closed)")
tap.ok(text:find("\nstockx_cache_hits_total %d+\n") ~= nil and
  text:find("\nstockx_cache_misses_total %d+\n") ~= nil,
  "the cache's hits and misses")
stockx.configure { breaker = false }

tap.done()
