-- stockx.reprice planning, without the network: strategies, every guard
-- with a case that trips it, the run-wide brakes (the one-penny run),
-- rules from CSV with errors naming file, line and column, and the plan's
-- table.  Markets are given by opts.market, so no request is made.
local tap = require "tap"
local reprice = require "stockx.reprice"
local money = require "stockx.money"

local function usd(s) return money.parse(s, "USD") end

local n = 0
local function listing(amount, o)
  n = n + 1
  o = o or {}
  return { listingId = o.id or string.format("L%03d", n), status = o.status or "ACTIVE",
    amount = amount, currencyCode = "USD", inventoryType = o.channel or "STANDARD",
    product = { productId = o.product or "P1", productName = "Dunk Low",
      styleId = o.style or "DD1391-100" },
    variant = { variantId = o.variant or ("V" .. n), variantValue = o.size or "10" } }
end

-- one market for every listing, unless by_variant names one
local function market_of(m, by_variant)
  return function(l)
    local t = by_variant and by_variant[l.variant.variantId] or m
    local out = {}
    for k, v in pairs(t) do out[k] = type(v) == "string" and usd(v) or v end
    return out
  end
end

local function plan1(l, rule, m, extra)
  local ls = { l }
  for _, x in ipairs(extra or {}) do ls[#ls + 1] = x end
  return reprice.plan(ls, rule, { market = market_of(m) })
end

local function outcome(p, id)
  for _, c in ipairs(p.changes) do
    if c.listingId == id then return c.new:amount(), c.reason end
  end
  for _, s in ipairs(p.skipped) do
    if s.listingId == id then return nil, s.why end
  end
end

local base = { floor = "90", ceiling = "400" }
local function rule(t)
  local r = {}
  for k, v in pairs(base) do r[k] = v end
  for k, v in pairs(t or {}) do r[k] = v end
  return r
end

---------------------------------------------------------------------------
-- Strategies
---------------------------------------------------------------------------

local l = listing("150")
local mkt = { lowest_ask = "140", highest_bid = "120", sell_faster = "139",
  earn_more = "160" }
tap.eq(outcome(plan1(l, rule { strategy = "beat", by = "1" }, mkt), l.listingId), "139",
  "beat by 1: 140 -> 139")
tap.eq(outcome(plan1(l, rule { strategy = "beat", by = "5%" }, mkt), l.listingId), "133",
  "beat by 5%: 140 - 7 = 133")
tap.eq(outcome(plan1(l, rule { strategy = "match" }, mkt), l.listingId), "140",
  "match: 140")
tap.eq(outcome(plan1(l, rule { strategy = "sell_faster" }, mkt), l.listingId), "139",
  "sell faster: 139")
tap.eq(outcome(plan1(l, rule { strategy = "earn_more" }, mkt), l.listingId), "160",
  "earn more: raises to 160")
tap.eq(outcome(plan1(l, rule { strategy = "highest_bid" }, mkt), l.listingId), "120",
  "accept the highest bid: 120")
tap.eq(outcome(plan1(l, rule { strategy = function(_, m) return m.lowest_ask - usd("2") end },
  mkt), l.listingId), "138", "a user function")
local _, why = outcome(plan1(l, rule { strategy = function() return nil, "not today" end }, mkt),
  l.listingId)
tap.eq(why, "not today", "a user function can skip, saying why")
tap.eq(outcome(plan1(listing("150.75"), rule { strategy = "beat", by = "0.50" },
  { lowest_ask = "140.25" }), "L" .. string.format("%03d", n)), "139",
  "prices are rounded to whole units (down when lowering)")

---------------------------------------------------------------------------
-- Guards, each with a case that trips it
---------------------------------------------------------------------------

local a = listing("150", { variant = "VX" })
local b = listing("145", { variant = "VX" })
local p = reprice.plan({ a, b }, rule { strategy = "beat", by = "1" },
  { market = market_of { lowest_ask = "145" } })
tap.eq(select(2, outcome(p, b.listingId)), "already_lowest",
  "your cheapest ask on the variant is the lowest: left alone")
tap.eq(select(2, outcome(p, a.listingId)), "own_listing_lower",
  "your second listing does not chase the first (never undercut yourself)")

local flex = listing("150", { variant = "VX", channel = "FLEX" })
p = reprice.plan({ a, b, flex }, rule { strategy = "beat", by = "1" },
  { market = function(x)
    return x.inventoryType == "FLEX" and { lowest_ask = usd("148") } or { lowest_ask = usd("145") }
  end })
tap.eq(outcome(p, flex.listingId), "147",
  "a FLEX listing competes in FLEX only (STANDARD asks do not count)")

local lone = listing("150")
tap.eq(select(2, outcome(plan1(lone, rule(), {}), lone.listingId)), "no_competition",
  "nobody asks: no_competition")
tap.eq(select(2, outcome(plan1(lone, rule(), { lowest_ask = "80" }), lone.listingId)),
  "competitor_below_floor", "the lowest ask is under the floor: competitor_below_floor")
tap.eq(select(2, outcome(plan1(lone, rule { by = "15" }, { lowest_ask = "100" }),
  lone.listingId)), "below_floor", "the target is under the floor: below_floor")
tap.eq(outcome(plan1(lone, rule { strategy = "earn_more" }, { earn_more = "500" }),
  lone.listingId), "400", "never above the ceiling (clamped to it)")
tap.eq(select(2, outcome(plan1(lone, rule { max_step = "20" }, { lowest_ask = "120" }),
  lone.listingId)), "step_too_large", "a step over max_step is skipped, not clamped")
tap.eq(select(2, outcome(plan1(lone, rule { max_step = "10%" }, { lowest_ask = "130" }),
  lone.listingId)), "step_too_large", "max_step as a percentage")
tap.eq(outcome(plan1(lone, rule { max_step = "10%" }, { lowest_ask = "140" }),
  lone.listingId), "139", "within max_step it goes")
tap.eq(select(2, outcome(plan1(lone, rule { min_change = "5" }, { lowest_ask = "149" }),
  lone.listingId)), "change_too_small", "a change under min_change is skipped")
tap.eq(select(2, outcome(plan1(lone, rule { strategy = "match" }, { lowest_ask = "150" }),
  lone.listingId)), "already_lowest", "matching your own price: already lowest")
tap.eq(select(2, outcome(plan1(lone, rule { strategy = "beat" }, { lowest_ask = "170" }),
  lone.listingId)), "already_lowest", "below the lowest ask, beat holds (no raise)")
tap.eq(outcome(plan1(lone, rule { strategy = "earn_more" }, { lowest_ask = "150",
  earn_more = "170" }), lone.listingId), "170", "the lowest ask may still raise its price")
tap.eq(select(2, outcome(plan1(listing("150", { status = "INACTIVE" }), rule(),
  { lowest_ask = "140" }), "L" .. string.format("%03d", n))), "not_active",
  "inactive listings are left alone")

-- floor from cost + margin after fees: 100 * 1.10 / (1 - 0.09 - 0.03) = 125.00
local c = listing("200")
local rc = { strategy = "beat", by = "1", cost = "100", margin = "10%", seller_level = 1,
  ceiling = "400" }
tap.eq(select(2, outcome(plan1(c, rc, { lowest_ask = "125" }), c.listingId)),
  "below_floor", "cost 100 + 10% after level-1 fees: 124 is under the floor (125)")
tap.eq(outcome(plan1(c, rc, { lowest_ask = "126" }), c.listingId), "125",
  "125 is the floor: allowed")
rc.seller_level = 5 -- 7% + 3%: 110 / 0.90 = 122.22 -> 123
tap.eq(outcome(plan1(c, rc, { lowest_ask = "124" }), c.listingId), "123",
  "seller level 5 (lower fees) gives a lower floor (123)")

tap.raises(function() reprice.plan({ lone }, { strategy = "beat", ceiling = "400" },
  { market = market_of {} }) end, "no floor, no repricing", "needs a floor")
tap.raises(function() reprice.plan({ lone }, { strategy = "beat", floor = "1" },
  { market = market_of {} }) end, "no ceiling, no repricing", "needs a ceiling")
tap.raises(function() reprice.plan({ lone }, rule { strategy = "undercut" },
  { market = market_of {} }) end, "an unknown strategy is named", "unknown strategy 'undercut'")
tap.raises(function() reprice.plan({ lone }, rule { florr = "1" },
  { market = market_of {} }) end, "an unknown rule key is named", "unknown rule key 'florr'")

-- the market's own references bound a price: a runaway rule is stopped
local wide = { floor = "1", ceiling = "100000" }
local function custom(price) return function() return usd(price) end end
wide.strategy = custom("1000")
tap.eq(select(2, outcome(plan1(lone, wide, { earn_more = "200" }), lone.listingId)),
  "outside_market_band", "over 3x earnMore: outside_market_band")
wide.strategy = custom("90")
tap.eq(select(2, outcome(plan1(lone, wide, { sell_faster = "300" }), lone.listingId)),
  "outside_market_band", "under sellFaster / 3: outside_market_band")
-- "The Making of a Fly": a rule that multiplies the price by 1.27 every run
local fly = listing("100")
local runs, last = 0, fly.amount
for _ = 1, 20 do
  local pf = plan1(fly, { floor = "1", ceiling = "100000000", strategy = function(x)
    return money.percent(usd(x.amount), 127, "floor")
  end }, { earn_more = "150" })
  if #pf.changes == 0 then break end
  runs = runs + 1
  fly.amount = pf.changes[1].new:amount()
  last = fly.amount
end
tap.ok(runs < 20 and tonumber(last) <= 450, "a 1.27x-per-run rule stops at the band ("
  .. runs .. " runs, last " .. last .. ")")

-- at most brakes.max_per_day changes of one listing in 24 h (from the log)
local hist = (os.getenv("TEST_TMP") or "/tmp") .. "/history.jsonl"
local hf = assert(io.open(hist, "w"))
local t_recent = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 3600)
local t_old = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 3 * 86400)
for i = 1, 6 do
  hf:write(stockx.json.encode { state = "done", result = "ok", listingId = lone.listingId,
    time = i <= 4 and t_recent or t_old }, "\n")
end
hf:close()
local ph = reprice.plan({ lone }, rule(), { market = market_of { lowest_ask = "140" },
  history = hist })
tap.eq(select(2, outcome(ph, lone.listingId)), "changed_too_often",
  "four changes in the last 24 h: changed_too_often")
ph = reprice.plan({ lone }, rule(), { market = market_of { lowest_ask = "140" },
  history = hist, brakes = { max_per_day = 5 } })
tap.eq(outcome(ph, lone.listingId), "139", "older changes do not count, and the limit is a setting")

-- plans expire
local pe = reprice.plan({ lone }, rule(), { market = market_of { lowest_ask = "140" }, ttl = -1 })
tap.raises(function() reprice.apply(pe) end, "an expired plan is refused", "expired")

---------------------------------------------------------------------------
-- Run-wide brakes: a bug that prices everything at one penny
---------------------------------------------------------------------------

local many = {}
for i = 1, 50 do many[i] = listing("150", { variant = "W" .. i }) end
local penny = { strategy = function() return usd("0.01") end, floor = "0.01",
  ceiling = "400", exact = true }
p = reprice.plan(many, penny, { market = market_of { lowest_ask = "140" } })
tap.eq(#p.changes, 50, "the buggy rule plans 50 changes to 0.01")
tap.ok(p.blocked and p.blocked:find("lowered by more than 30%%"),
  "the default brakes block the plan", p.blocked)
tap.raises(function() reprice.apply(p) end, "a blocked plan is not applied", "blocked")
p = reprice.plan(many, rule { strategy = "beat", by = "1" },
  { market = market_of { lowest_ask = "140" }, brakes = { max_changes = 10 } })
tap.ok(p.blocked and p.blocked:find("max_changes"), "max_changes blocks a big run", p.blocked)
p = reprice.plan(many, rule { strategy = "beat", by = "1" },
  { market = market_of { lowest_ask = "140" } })
tap.ok(not p.blocked and #p.changes == 50, "a sane run of 50 changes passes the brakes")

---------------------------------------------------------------------------
-- The plan's table
---------------------------------------------------------------------------

local text = tostring(plan1(lone, rule(), { lowest_ask = "140" }, { listing("99") }))
local lines = {}
for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
tap.ok(lines[1]:find("^listing%s+product%s+size%s+now%s+new%s+why"), "a header line", lines[1])
local col = lines[1]:find("why")
tap.ok(lines[2]:sub(col, col + 5) == "lower " and lines[3]:sub(col, col + 7) == "already_"
  and lines[2]:sub(col - 2, col - 1) == "  " and lines[3]:sub(col - 2, col - 1) == "  ",
  "the why column is aligned", text)
tap.ok(lines[#lines]:find("1 to change, 1 left alone"), "a closing count", lines[#lines])

---------------------------------------------------------------------------
-- Rules from CSV
---------------------------------------------------------------------------

local dir = os.getenv("TEST_TMP") or "/tmp"
local function csv(name, text2)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text2)
  f:close()
  return path
end

local good = csv("rules.csv", "sku,size,cost,floor,ceiling,strategy,step\n"
  .. "DD1391-100,US M 10,,95,300,beat,10%\n"
  .. "\"DD1391-100\",11,80,,300,match,\n")
local rules = reprice.rules_csv(good)
tap.eq(#rules, 2, "two rules from the CSV")
local r10, r11 = listing("150", { size = "10" }), listing("150", { size = "11" })
p = reprice.plan({ r10, r11 }, rules, { market = market_of { lowest_ask = "140" } })
tap.eq(outcome(p, r10.listingId), "139", "row 1 (size 10, beat) applies to size 10")
tap.eq(outcome(p, r11.listingId), "140", "row 2 (size 11, match) to size 11")

for _, case in ipairs {
  { "sku,size,floor,ceiling\nDD1391-100,10,abc,300\n", ":2:15:", "bad amount 'abc'" },
  { "sku,size,floor,ceiling,strategy\nX,10,90,300,undercut\n", ":2:13:", "unknown strategy" },
  { "sku,size,flor,ceiling\n", ":1:10:", "unknown column 'flor'" },
  { "sku,size,ceiling\nX,10,300\n", ":2:", "needs a floor or a cost" },
  { "sku,size,floor,ceiling\nX,10,90,300\nY,\"11,90,300\n", ":3:3:", "unterminated quote" },
} do
  local path = csv("bad.csv", case[1])
  local ok, e = pcall(reprice.rules_csv, path)
  local msg = tostring(e)
  tap.ok(not ok and msg:find(path .. case[2], 1, true) and msg:find(case[3], 1, true),
    "a bad CSV names file, line and column: " .. case[3], tostring(e))
end

-- since: the audit log's time format from dates, times, offsets, durations
local now = 1780000000 -- 2026-05-28T20:26:40Z
for _, case in ipairs {
  { "2026-12-01", "2026-12-01T00:00:00Z" },
  { "2026-12-01T10:00", "2026-12-01T10:00:00Z" },
  { "2026-12-01 10:00:05", "2026-12-01T10:00:05Z" },
  { "2026-12-01T12:00+02:00", "2026-12-01T10:00:00Z" },
  { "2024-02-29T23:30:00-05:00", "2024-03-01T04:30:00Z" },
  { "30m", "2026-05-28T19:56:40Z" },
  { "1d12h", "2026-05-27T08:26:40Z" },
} do
  tap.eq(reprice.since(case[1], now), case[2], "since " .. case[1])
end
for _, bad in ipairs { "2025-02-29", "2026-12-01T24:00", "yesterday", "0h", "2h5",
  "2026-12-01T10:00+2", "400d", "" } do
  tap.raises(function() reprice.since(bad, now) end, "since refuses " .. bad,
    "is not a time")
end

tap.done()
