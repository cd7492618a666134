-- Benchmark client of `make bench`: requests the GET cache (stockx.cache)
-- saves on repricing runs against the sandbox, and proof that it changes
-- no decision.  Each run starts from a fresh sandbox account
-- (POST /_sandbox/reset) and is counted at the sandbox (/_sandbox/stats),
-- once with the cache off and once on:
--   naive:   per listing, its variant's market data, a PATCH that waits
--   toolkit: stockx.reprice plan + apply (product-level market data)
--   twice:   the toolkit's pass run twice in a row (a repricer on a short
--            schedule), the second pass counted
-- The changes (listing id -> new amount) must be identical with and
-- without the cache, or the script fails.
--   stockx --rate off run --sandbox --rate-limit off tests/bench/cache.lua

local reprice = stockx.reprice
local rule = { strategy = "beat", by = "1", floor = "60", ceiling = "1000", max_step = "25%" }

local function served() return (stockx.get("/_sandbox/stats")).requests end

local function fresh(cached)
  stockx.post("/_sandbox/reset", {})
  stockx.cache.clear()
  stockx.cache.configure { enabled = cached }
end

-- The naive repricer (tests/bench/naive.lua): its "listingId=amount" lines.
local naive = dofile("tests/bench/naive.lua")

-- One pass of the toolkit: returns its changes.
local function toolkit()
  local active = stockx.listings.all { listingStatuses = { "ACTIVE" } }
  local plan = reprice.plan(active, rule)
  local out = {}
  for _, c in ipairs(plan.changes) do
    out[#out + 1] = c.listingId .. "=" .. tostring(c.new)
  end
  local result = reprice.apply(plan)
  assert(result.failed == 0, "some changes failed")
  return out
end

local function twice()
  local first = toolkit()
  local n = served()
  local second = toolkit()
  return first, second, n
end

local function measure(fn, cached)
  fresh(cached)
  local n0 = served()
  local a, b, mid = fn()
  local n = served() - (mid or n0)
  table.sort(a)
  if b then table.sort(b) end
  local key = table.concat(a, ";") .. "|" .. table.concat(b or {}, ";")
  return n, key, #a + (b and #b or 0)
end

local hits0 = stockx.stats().cache_hits
local fields = {}
for _, case in ipairs { { "naive", naive }, { "toolkit", toolkit },
  { "twice", twice } } do
  local name, fn = case[1], case[2]
  local off, plan_off, changes = measure(fn, false)
  local on, plan_on = measure(fn, true)
  if plan_off ~= plan_on then
    error(name .. ": the cache changed the plan", 0)
  end
  fields[#fields + 1] = string.format("%s_off=%d %s_on=%d %s_saved=%d %s_pct=%.1f "
    .. "%s_changes=%d", name, off, name, on, name, off - on, name,
    off > 0 and 100 * (off - on) / off or 0, name, changes)
end
stockx.cache.configure { enabled = true }
print(table.concat(fields, " ") .. string.format(" identical=yes hits=%d",
  stockx.stats().cache_hits - hits0))
