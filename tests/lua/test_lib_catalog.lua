-- stockx.catalog against the sandbox: search pages and what `limit` costs,
-- find, products and variants, a variant by GTIN (a real one and an
-- unknown one), market data per variant and per product (one request for
-- every size), `market` on hand-made records for each channel (nulls and
-- missing blocks included) and on the sandbox's, and `market_for`.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local catalog = stockx.catalog
local money = require "stockx.money"
local null = stockx.json.null
local fx = scenario.fixtures()
local pid = fx.productIds[1]

-- Requests the client sent while fn ran, and fn's first result.
local function cost(fn)
  local before = stockx.stats().requests
  local r = fn()
  return stockx.stats().requests - before, r
end

local function usd(s)
  return money.parse(s, "USD")
end

-- The amount of a StockX decimal string, nil for null: the expected value.
local function parsed(v, currency)
  if v == nil or v == null then return nil end
  return money.parse(v, currency)
end

-- The argument error fn raises names the argument, the function and this
-- file's line.
local function argerror(fn, pos, name, fname, desc)
  local e = tap.raises(fn, desc, "^[^:]*test_lib_catalog%.lua:%d+: bad argument #"
    .. pos .. " '" .. name:gsub("%p", "%%%0") .. "' to '" .. fname:gsub("%p", "%%%0")
    .. "' %(")
  tap.eq(type(e), "string", desc .. ": a plain string")
end

local function ids(iter)
  local out = {}
  for p in iter do out[#out + 1] = p.productId end
  return out
end

local function same_list(a, b, n)
  if #a < n or #b < n then return false end
  for i = 1, n do
    if a[i] ~= b[i] then return false end
  end
  return true
end

scenario.part("search: argument errors", function()
  local f = "stockx.catalog.search"
  argerror(function() catalog.search("") end, 1, "query", f, "an empty query")
  argerror(function() catalog.search(("x"):rep(101)) end, 1, "query", f,
    "a query of 101 characters")
  argerror(function() catalog.search(42) end, 1, "query", f, "a number as query")
  argerror(function() catalog.search("dunk", { limit = -1 }) end, 2, "opts.limit", f,
    "a negative limit")
  argerror(function() catalog.search("dunk", { page_size = 51 }) end, 2,
    "opts.page_size", f, "a page size above 50")
  argerror(function() catalog.search("dunk", 3) end, 2, "opts", f, "opts not a table")
  argerror(function() catalog.find("") end, 1, "query", "stockx.catalog.find",
    "find: an empty query")
  local n = cost(function()
    return pcall(catalog.search, ("x"):rep(100), { limit = 0 })
  end)
  tap.eq(n, 0, "100 characters are accepted; limit = 0 sends nothing")
end)

scenario.part("search follows pages; limit costs no extra page", function()
  local q = "nike jordan adidas"
  local n_all, all = cost(function() return ids(catalog.search(q, { page_size = 2 })) end)
  tap.ok(#all >= 6, "the query matches at least 6 products", tostring(#all))
  tap.eq(n_all, (#all + 1) // 2, "an unlimited search reads every page of 2")

  local n5, five = cost(function()
    return ids(catalog.search(q, { page_size = 2, limit = 5 }))
  end)
  tap.eq(#five, 5, "limit = 5 yields 5 products")
  tap.ok(same_list(five, all, 5), "the first 5 of the unlimited search")
  tap.eq(n5, 3, "limit 5 in pages of 2: three pages, the third not read ahead of need")

  local n4, four = cost(function()
    return ids(catalog.search(q, { page_size = 2, limit = 4 }))
  end)
  tap.eq(#four, 4, "limit = 4 yields 4 products")
  tap.eq(n4, 2, "limit 4 in pages of 2: two pages, no page fetched ahead")

  local n3, three = cost(function() return ids(catalog.search(q, { limit = 3 })) end)
  tap.eq(#three, 3, "limit = 3 with the default page size yields 3 products")
  tap.eq(n3, 1, "in one request (a page of 3)")
  tap.ok(same_list(three, all, 3), "the same first 3")

  local nm, two_pages = cost(function()
    return ids(catalog.search(q, { page_size = 2, max_pages = 2 }))
  end)
  tap.eq(#two_pages, 4, "max_pages = 2 in pages of 2: 4 products")
  tap.eq(nm, 2, "max_pages = 2: two requests")

  local nb = cost(function()
    for _, page in catalog.search(q, { page_size = 2 }) do
      if page then break end
    end
    stockx.sleep(0.05) -- the page fetched ahead is cancelled, or counted here
  end)
  tap.ok(nb <= 2, "breaking out after the first product costs at most the page ahead",
    tostring(nb))
  local seen_page
  for _, page in catalog.search(q, { limit = 1 }) do seen_page = page end
  tap.eq(type(seen_page) == "table" and seen_page.pageNumber, 1,
    "the iterator also yields the page")
end)

scenario.part("search by style id and by GTIN; find", function()
  local p = catalog.product(pid)
  tap.ok(type(p.styleId) == "string", "the first product has a style id")
  local found = false
  for hit in catalog.search(p.styleId, { limit = 10 }) do
    found = found or hit.productId == pid
  end
  tap.ok(found, "searching its style id finds it")
  tap.ok(type(fx.gtin) == "string", "the sandbox names a GTIN")
  local v = catalog.variant_by_gtin(fx.gtin)
  local n, best = cost(function() return catalog.find(fx.gtin) end)
  tap.eq(n, 1, "find is one request")
  tap.eq(best and best.productId, v.productId, "find(GTIN) is the GTIN's product")
  tap.eq(catalog.find("zzqx nomatchwhatsoever"), nil, "find with no match: nil")
end)

scenario.part("product, variants, variant", function()
  local p = catalog.product(pid)
  tap.eq(p.productId, pid, "product: the product asked for")
  tap.ok(p.isFlexEligible ~= nil, "product: has isFlexEligible (search results do not)")
  local vs = catalog.variants(pid)
  tap.ok(type(vs) == "table" and #vs > 0, "variants: a non-empty array")
  local all_ours = true
  for _, v in ipairs(vs) do all_ours = all_ours and v.productId == pid end
  tap.ok(all_ours, "variants: every one of the product")
  local v = catalog.variant(pid, vs[1].variantId)
  tap.eq(v.variantId, vs[1].variantId, "variant: the variant asked for")
  local other = catalog.variants(fx.productIds[2])[1].variantId
  local e = tap.raises(function() catalog.variant(pid, other) end,
    "variant of another product raises")
  tap.ok(stockx.is_error(e) and e.status == 400, "as an error value with status 400",
    tostring(e))
  e = tap.raises(function() catalog.product("00000000-0000-4000-8000-000000000000") end,
    "an unknown product raises")
  tap.ok(stockx.is_error(e) and e.status == 404, "as an error value with status 404",
    tostring(e))
  argerror(function() catalog.product("../selling/listings") end, 1, "productId",
    "stockx.catalog.product", "a product id that would add segments")
  argerror(function() catalog.variant(pid) end, 2, "variantId",
    "stockx.catalog.variant", "variant without variantId")
end)

scenario.part("variant_by_gtin: a real GTIN, an unknown one, a bad one", function()
  local v = catalog.variant_by_gtin(fx.gtin)
  local has = false
  for _, g in ipairs(v and v.gtins or {}) do has = has or g.identifier == fx.gtin end
  tap.ok(has, "the variant found carries the GTIN")
  local ours = false
  for _, x in ipairs(catalog.variants(v.productId)) do
    ours = ours or x.variantId == v.variantId
  end
  tap.ok(ours, "and is a variant of its productId")
  local n, none = cost(function() return catalog.variant_by_gtin("00000000000000") end)
  tap.eq(none, nil, "an unknown GTIN (404): nil")
  tap.eq(n, 1, "in one request")
  local e = tap.raises(function() catalog.variant_by_gtin("123") end,
    "a GTIN StockX refuses (400) raises")
  tap.ok(stockx.is_error(e) and e.status == 400, "as an error value with status 400",
    tostring(e))
  argerror(function() catalog.variant_by_gtin("12a45678") end, 1, "gtin",
    "stockx.catalog.variant_by_gtin", "a GTIN that is not digits")
  argerror(function() catalog.variant_by_gtin(194502875966) end, 1, "gtin",
    "stockx.catalog.variant_by_gtin", "a GTIN as a number")
end)

scenario.part("market data: one request for every size; per variant", function()
  local vs = catalog.variants(pid)
  local n, by = cost(function() return catalog.market_data(pid) end)
  tap.eq(n, 1, "product-level market data is ONE request")
  local complete = true
  for _, v in ipairs(vs) do
    local md = by[v.variantId]
    complete = complete and type(md) == "table" and md.variantId == v.variantId
  end
  tap.ok(complete, "keyed by variantId, a record for each of the " .. #vs .. " sizes")
  local count = 0
  for _ in pairs(by) do count = count + 1 end
  tap.eq(count, #vs, "and nothing else")

  local vid = vs[1].variantId
  local n1, md = cost(function() return catalog.market_data(pid, vid) end)
  tap.eq(n1, 1, "per-variant market data is one request")
  tap.eq(md.variantId, vid, "for the variant asked for")
  tap.eq(md.currencyCode, "USD", "in USD by default")

  local eur = catalog.market_data(pid, vid, { currency = "EUR" })
  tap.eq(eur.currencyCode, "EUR", "per variant in EUR")
  local eur_all = catalog.market_data(pid, { currency = "EUR" })
  tap.eq(eur_all[vid] and eur_all[vid].currencyCode, "EUR", "product level in EUR")
  tap.eq(catalog.market(eur_all[vid], "STANDARD").currency, "EUR",
    "market() keeps the record's currency")
  local f = "stockx.catalog.market_data"
  argerror(function() catalog.market_data(pid, { currency = "XYZ" }) end, 2,
    "opts.currency", f, "an unknown currency (product level: opts is #2)")
  argerror(function() catalog.market_data(pid, vid, { currency = "usd" }) end, 3,
    "opts.currency", f, "a lower-case currency (per variant: opts is #3)")
  argerror(function() catalog.market_data(nil) end, 1, "productId", f, "no productId")
end)

-- A record with a different number in every place, so that a number taken
-- from the wrong block or field shows.
local function record()
  return {
    productId = "p", variantId = "v", currencyCode = "USD",
    lowestAskAmount = "100", highestBidAmount = "90", sellFasterAmount = "99",
    earnMoreAmount = "120", flexLowestAskAmount = "110",
    standardMarketData = { lowestAsk = "101", highestBidAmount = "91",
      sellFaster = "98", earnMore = "121", beatUS = "97" },
    flexMarketData = { lowestAsk = "111", highestBidAmount = "92",
      sellFaster = "109", earnMore = null, beatUS = null },
    directMarketData = { lowestAsk = "131.50", highestBidAmount = "93",
      sellFaster = "129", earnMore = "140", beatUS = "128" },
  }
end

local FIELDS = { "lowest_ask", "highest_bid", "sell_faster", "earn_more", "beat_us" }

-- market(md, channel) has exactly these amounts (USD strings or false).
local function expect(md, channel, want, desc)
  local m = catalog.market(md, channel)
  local label = type(channel) == "table" and "a listing" or channel
  tap.eq(m.channel, want.channel or channel, desc .. ": channel")
  tap.eq(m.currency, md.currencyCode, desc .. ": currency")
  for i, f in ipairs(FIELDS) do
    local w = want[i] and usd(want[i]) or nil
    tap.eq(m[f], w, desc .. " (" .. label .. "): " .. f)
  end
  return m
end

scenario.part("market: each channel reads its own block", function()
  local md = record()
  expect(md, "STANDARD", { "101", "91", "98", "121", "97" },
    "STANDARD reads standardMarketData, not the top-level fields")
  expect(md, "FLEX", { "111", "92", "109", false, false },
    "FLEX reads flexMarketData; its nulls stay nil")
  expect(md, "DIRECT", { "131.50", "93", "129", "140", "128" },
    "DIRECT reads directMarketData")
  local m = catalog.market(md, "DIRECT")
  tap.ok(money.is_money(m.lowest_ask) and m.lowest_ask.minor == 13150,
    "amounts are stockx.money values in minor units")
  expect(md, { inventoryType = "FLEX" }, { channel = "FLEX", "111", "92", "109" },
    "a listing's inventoryType names the channel")
  expect(md, { listingId = "x" }, { channel = "STANDARD", "101", "91", "98", "121", "97" },
    "a listing without inventoryType is STANDARD")
  expect(md, { inventoryType = null }, { channel = "STANDARD", "101", "91", "98", "121",
    "97" }, "a listing whose inventoryType is null is STANDARD")
end)

scenario.part("market: missing blocks, nulls, fall-backs of the same channel only", function()
  local md = record()
  md.standardMarketData, md.flexMarketData, md.directMarketData = nil, nil, nil
  expect(md, "STANDARD", { "100", "90", "99", "120", false },
    "no standard block: the top-level fields")
  expect(md, "FLEX", { "110", false, false, false, false },
    "no flex block: only flexLowestAskAmount, nothing from STANDARD")
  expect(md, "DIRECT", { false, false, false, false, false },
    "no direct block: nothing at all")

  md = record()
  md.standardMarketData, md.flexMarketData, md.directMarketData = null, null, null
  expect(md, "STANDARD", { "100", "90", "99", "120", false }, "null standard block")
  expect(md, "FLEX", { "110", false, false, false, false }, "null flex block")
  expect(md, "DIRECT", { false, false, false, false, false }, "null direct block")

  md = record()
  md.flexMarketData.lowestAsk = null
  expect(md, "FLEX", { "110", "92", "109", false, false },
    "flex block without lowestAsk: flexLowestAskAmount")
  md.flexLowestAskAmount = null
  expect(md, "FLEX", { false, "92", "109", false, false },
    "and when that is null too: nil (never the standard ask)")

  md = record()
  md.directMarketData = { lowestAsk = null, highestBidAmount = null }
  expect(md, "DIRECT", { false, false, false, false, false },
    "a direct block of nulls: nil everywhere (no top-level fall-back)")

  local nulls = { productId = "p", variantId = "v", currencyCode = "USD",
    lowestAskAmount = null, highestBidAmount = null, sellFasterAmount = null,
    earnMoreAmount = null, flexLowestAskAmount = null }
  for _, ch in ipairs { "STANDARD", "FLEX", "DIRECT" } do
    expect(nulls, ch, { false, false, false, false, false }, "all null, " .. ch)
  end

  local jpy = { currencyCode = "JPY",
    standardMarketData = { lowestAsk = "15000", highestBidAmount = "14000.0000" } }
  local m = catalog.market(jpy, "STANDARD")
  tap.eq(m.lowest_ask, money.parse("15000", "JPY"), "JPY amounts")
  tap.eq(m.highest_bid and m.highest_bid.minor, 14000, "4-decimal strings parse")
end)

scenario.part("market: argument errors", function()
  local f, md = "stockx.catalog.market", record()
  argerror(function() catalog.market(md, "flex") end, 2, "channel", f,
    "a lower-case channel")
  argerror(function() catalog.market(md) end, 2, "channel", f, "no channel")
  argerror(function() catalog.market(md, 3) end, 2, "channel", f, "a number as channel")
  argerror(function() catalog.market(md, { inventoryType = "BULK" }) end, 2, "channel",
    f, "a listing of an unknown inventoryType")
  argerror(function() catalog.market(nil, "STANDARD") end, 1, "md", f, "no record")
  argerror(function() catalog.market({ standardMarketData = {} }, "STANDARD") end, 1,
    "md", f, "a record without currencyCode")
end)

scenario.part("market on the sandbox's records, every channel", function()
  local vs = catalog.variants(pid)
  local vid = vs[1].variantId
  local by = catalog.market_data(pid)
  local one = catalog.market_data(pid, vid)
  for _, pair in ipairs { { "product level", by[vid] }, { "per variant", one } } do
    local what, md = pair[1], pair[2]
    for ch, key in pairs { STANDARD = "standardMarketData", FLEX = "flexMarketData",
      DIRECT = "directMarketData" } do
      local m, b = catalog.market(md, ch), md[key]
      tap.ok(type(b) == "table", what .. ": the sandbox sends " .. key)
      tap.eq(m.lowest_ask, parsed(b.lowestAsk, "USD"), what .. ", " .. ch .. ": lowest ask")
      tap.eq(m.highest_bid, parsed(b.highestBidAmount, "USD"),
        what .. ", " .. ch .. ": highest bid")
      tap.eq(m.sell_faster, parsed(b.sellFaster, "USD"), what .. ", " .. ch .. ": sell faster")
    end
  end
end)

scenario.part("market_for: a listing's own variant and channel", function()
  local listing = stockx.get("/selling/listings/" .. fx.listingIds[1])
  local lpid, lvid = listing.product.productId, listing.variant.variantId
  local n, m = cost(function() return catalog.market_for(listing) end)
  tap.eq(n, 1, "without md_by_variant: one request")
  local md = catalog.market_data(lpid, lvid, { currency = listing.currencyCode })
  local want = catalog.market(md, listing)
  tap.eq(m.channel, want.channel, "the listing's channel")
  tap.eq(m.lowest_ask, want.lowest_ask, "the per-variant record's lowest ask")
  tap.eq(m.sell_faster, want.sell_faster, "and sell-faster price")

  local by = catalog.market_data(lpid)
  local flex = {}
  for k, v in pairs(listing) do flex[k] = v end
  flex.inventoryType = "FLEX"
  local n0, mf = cost(function() return catalog.market_for(flex, by) end)
  tap.eq(n0, 0, "with md_by_variant: no request")
  local b = by[lvid].flexMarketData
  tap.eq(mf.channel, "FLEX", "a FLEX listing gets the FLEX market")
  tap.eq(mf.lowest_ask, parsed(b.lowestAsk ~= null and b.lowestAsk
    or by[lvid].flexLowestAskAmount, "USD"), "with the flex lowest ask")
  local ms = catalog.market_for(listing, by)
  tap.eq(ms.lowest_ask, catalog.market(by[lvid], listing).lowest_ask,
    "the same as market(md_by_variant[variantId], listing)")

  local f = "stockx.catalog.market_for"
  argerror(function() catalog.market_for(listing, {}) end, 2, "md_by_variant", f,
    "md_by_variant without the listing's variant")
  argerror(function() catalog.market_for({ listingId = "x" }) end, 1, "listing", f,
    "a listing without product and variant")
end)

scenario.finish()
tap.done()
