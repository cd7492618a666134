-- The sandbox's own rate limit (StockX's 1 request/second) and daily
-- quota, with the client's limiter off: a burst gets 429s, with or
-- without Retry-After, in the API's or the gateway's body shape; the
-- client's retry gets through; a small quota runs out with "Limit
-- Exceeded".
local tap = require "tap"
local schema = require "schema"
local scenario = require "scenario"
scenario.start()

local doc = schema.load("tests/contract/stockx-openapi.json")
local PATH = "/selling/listings"

-- No retries: each 429 comes back to us as it is.
local function no_retry()
  stockx.configure { retry = { max_attempts = 1 } }
end

local function default_retry()
  stockx.configure { retry = { max_attempts = 5 } }
end

-- n concurrent GETs; returns their responses.
local function burst(n)
  local fns = {}
  for i = 1, n do
    fns[i] = function() return stockx.request { path = PATH, query = { pageSize = 1 } } end
  end
  return { stockx.all(fns) }
end

local function limited(list)
  local out = {}
  for _, r in ipairs(list) do
    if r.status == 429 then out[#out + 1] = r end
  end
  return out
end

-- Waits until the sandbox's bucket has refilled.
local function refill()
  stockx.sleep(1.1)
end

scenario.part("a burst gets 429s with Retry-After (api body)", function()
  no_retry()
  scenario.limits { rate_limit = "1/1s", retry_after = true, body_429 = "api", quota = false }
  refill()
  local rs = burst(5)
  local l = limited(rs)
  tap.ok(#l >= 3 and #l <= 4, "a burst of 5 at 1/1s: 3 or 4 are refused with 429", #l .. " refused")
  tap.ok(#l < #rs, "and at least one gets through")
  local r = l[1]
  if not r then return end
  local ra = tonumber(r.headers["retry-after"])
  tap.ok(ra and ra >= 1 and ra <= 2 and math.type(ra) == "integer",
    "Retry-After is whole seconds (1 or 2)", tostring(r.headers["retry-after"]))
  tap.eq(r.retry_after, ra, "res.retry_after carries it")
  local body = stockx.json.decode(r.body)
  tap.ok(schema.check(doc, "PublicApiError", body) and body.statusCode == 429,
    "the api body is a PublicApiError with statusCode 429", r.body)
  tap.eq(body.message, "Too Many Requests", "message Too Many Requests")
  local stats = scenario.stats()
  tap.ok(stats.status_429 >= #l, "the sandbox's stats count the 429s",
    tostring(stats.status_429))
  tap.ok(type(stats.limits) == "table", "and report the limits")
end)

scenario.part("without Retry-After, gateway body", function()
  scenario.limits { rate_limit = "1/1s", retry_after = false, body_429 = "gateway" }
  refill()
  local l = limited(burst(4))
  tap.ok(#l >= 2, "a burst of 4 gets 429s", #l .. " refused")
  local r = l[1]
  if not r then return end
  tap.eq(r.headers["retry-after"], nil, "no Retry-After header")
  local body = stockx.json.decode(r.body)
  tap.eq(body.message, "Too Many Requests", "the gateway body says Too Many Requests")
  tap.eq(body.statusCode, nil, "and has no statusCode")
  local n = 0
  for _ in pairs(body) do n = n + 1 end
  tap.eq(n, 1, "only message")
end)

scenario.part("the client's retry gets through", function()
  default_retry()
  scenario.limits { rate_limit = "1/1s", retry_after = true, body_429 = "api" }
  refill()
  local before = stockx.stats().status_429
  local t0 = stockx.now()
  local rs = burst(3)
  local all_ok, most = true, 0
  for _, r in ipairs(rs) do
    all_ok = all_ok and r.status == 200
    most = math.max(most, r.attempts)
  end
  tap.ok(all_ok, "3 concurrent GETs all succeed through the 429s")
  tap.ok(most > 1, "some needed more than one attempt (res.attempts > 1)", tostring(most))
  tap.ok(stockx.stats().status_429 > before, "the client counted the 429s")
  tap.ok(stockx.now() - t0 >= 1, "honouring Retry-After took at least a second")
  local data = stockx.get(PATH, { pageSize = 2 })
  tap.eq(#data.listings, 2, "stockx.get works under the limit")
end)

scenario.part("quota exhaustion", function()
  no_retry()
  scenario.limits { rate_limit = "off", quota = 3 }
  local statuses, first429, body = {}, nil, nil
  for i = 1, 8 do
    local r = stockx.request { path = PATH, query = { pageSize = 1 } }
    statuses[i] = r.status
    if r.status == 429 and not first429 then
      first429 = i
      body = stockx.json.decode(r.body)
    end
  end
  local seq = table.concat(statuses, ",")
  tap.ok(first429 and first429 <= 4, "a quota of 3 runs out by the 4th request", seq)
  local after_ok = true
  for i = (first429 or 9), 8 do after_ok = after_ok and statuses[i] == 429 end
  tap.ok(first429 and after_ok, "and stays out", seq)
  tap.eq(body and body.message, "Limit Exceeded", "the quota 429 says Limit Exceeded")
  local ok, err = pcall(stockx.get, PATH)
  tap.ok(not ok and stockx.is_error(err) and err.kind == "rate_limited",
    "stockx.get raises kind rate_limited", tostring(err))
end)

scenario.part("limits off again", function()
  default_retry()
  scenario.limits()
  local rs = burst(5)
  tap.eq(#limited(rs), 0, "with limits off a burst of 5 gets no 429")
  local cfg = scenario.get_config()
  tap.eq(cfg.rate_limit, "off", "GET /_sandbox/config shows rate_limit off")
end)

scenario.finish()
tap.done()
