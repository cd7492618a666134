-- stockx.cache against the sandbox: hits that never reach the server (its
-- request counter proves it), do not yield and cannot be changed by a
-- caller; TTL expiry, LRU eviction at the entry limit, single flight of a
-- result and of an error, invalidation by a listing update and a batch
-- update, opts.cache = false, clear(), the counters in stockx.stats().
local tap = require "tap"
local scenario = require "scenario"
scenario.start()
scenario.config { async_ms = 50 }

local cache = stockx.cache
local core = stockx._internal.core

-- Requests the sandbox has answered (admin routes are not counted).
local function served()
  return scenario.stats().requests
end

local function md_path(pid, vid)
  return "/catalog/products/" .. pid .. "/variants/" .. vid .. "/market-data"
end

local lst = stockx.listings.all { listingStatuses = { "ACTIVE" } }
local L = lst[1]
local pid, vid = L.product.productId, L.variant.variantId
local other -- a listing on another product
for _, l in ipairs(lst) do
  if l.product.productId ~= pid then other = l break end
end

local function reset_cache(settings)
  cache.configure { rules = false, max_entries = 1000, enabled = true }
  if settings then cache.configure(settings) end
  cache.clear()
end

scenario.part("a hit does not reach the server", function()
  reset_cache()
  local s0 = stockx.stats()
  local n0 = served()
  local a = stockx.catalog.market_data(pid, vid)
  local n1 = served()
  tap.eq(n1 - n0, 1, "the first read is one request")
  local c0 = stockx.stats().requests
  local b, res = stockx.catalog.market_data(pid, vid)
  tap.eq(stockx.stats().requests, c0, "the second read makes no client request")
  tap.eq(served(), n1, "and none reaches the sandbox")
  tap.eq(b.variantId, a.variantId, "same record")
  tap.eq(stockx.json.encode(b), stockx.json.encode(a), "identical content")
  tap.ok(res.cached == true, "the response says cached")
  local s1 = stockx.stats()
  tap.eq(s1.cache_hits - s0.cache_hits, 1, "one hit counted")
  tap.eq(s1.cache_misses - s0.cache_misses, 1, "one miss counted")
  tap.eq(s1.cache_entries, 1, "one entry")
end)

scenario.part("a hit does not yield", function()
  reset_cache()
  stockx.get(md_path(pid, vid))
  local co = coroutine.create(function() return stockx.get(md_path(pid, vid)) end)
  local ok, v = core.resume(co)
  tap.ok(ok, "the read inside a raw coroutine ran")
  tap.eq(coroutine.status(co), "dead", "and finished without yielding")
  tap.eq(type(v), "table", "with the record")
end)

scenario.part("callers cannot change what others get", function()
  reset_cache()
  local a = stockx.get(md_path(pid, vid))
  a.variantId = "changed"
  a.extra = true
  local b = stockx.get(md_path(pid, vid))
  tap.eq(b.variantId, vid, "a changed answer does not change the next hit")
  tap.eq(b.extra, nil, "nor adds to it")
end)

scenario.part("query is part of the key", function()
  reset_cache()
  local n0 = served()
  stockx.get(md_path(pid, vid), { currencyCode = "USD" })
  stockx.get(md_path(pid, vid), { currencyCode = "EUR" })
  stockx.get(md_path(pid, vid), { currencyCode = "USD" })
  tap.eq(served() - n0, 2, "two currencies, two requests; the repeat is a hit")
end)

scenario.part("only what the rules name is cached", function()
  reset_cache()
  local n0 = served()
  stockx.listings.get(L.listingId)
  stockx.listings.get(L.listingId)
  tap.eq(served() - n0, 2, "a listing read is not cached by default")
  stockx.catalog.product(pid)
  stockx.catalog.product(pid)
  stockx.catalog.variants(pid)
  stockx.catalog.variants(pid)
  tap.eq(served() - n0, 4, "catalog product and variants are")
end)

scenario.part("opts.cache = false", function()
  reset_cache()
  local n0 = served()
  stockx.get(md_path(pid, vid), nil, { cache = false })
  tap.eq(stockx.stats().cache_entries, 0, "bypass does not store")
  stockx.get(md_path(pid, vid))
  stockx.get(md_path(pid, vid), nil, { cache = false })
  tap.eq(served() - n0, 3, "nor read: every bypass is a request")
  tap.raises(function() stockx.get(md_path(pid, vid), nil, { cache = 1 }) end,
    "opts.cache must be a boolean", "opts.cache")
end)

scenario.part("TTL expiry", function()
  reset_cache { rules = { { pattern = "/market%-data$", ttl = 0.2 } } }
  local n0 = served()
  stockx.get(md_path(pid, vid))
  stockx.get(md_path(pid, vid))
  tap.eq(served() - n0, 1, "within the TTL: one request")
  stockx.sleep(0.3)
  stockx.get(md_path(pid, vid))
  tap.eq(served() - n0, 2, "after the TTL: a new request")
  tap.raises(function() cache.configure { rules = { { pattern = "x", ttl = -1 } } } end,
    "a negative ttl is refused", "ttl")
  tap.raises(function() cache.configure { rules = { { pattern = "[", ttl = 1 } } } end,
    "a bad pattern is refused", "pattern")
  tap.raises(function() cache.configure { max_entries = 0 } end,
    "max_entries 0 is refused", "max_entries")
end)

scenario.part("LRU eviction at the limit", function()
  reset_cache { max_entries = 2 }
  local s0 = stockx.stats()
  local p2 = other.product.productId
  local pa = "/catalog/products/" .. pid
  local pb = "/catalog/products/" .. p2
  local pc = "/catalog/products/" .. pid .. "/variants"
  stockx.get(pa)
  stockx.get(pb)
  stockx.get(pa)           -- pa is now the newest
  stockx.get(pc)           -- evicts pb, the oldest
  local s1 = stockx.stats()
  tap.eq(s1.cache_entries, 2, "at most 2 entries")
  tap.eq(s1.cache_evictions - s0.cache_evictions, 1, "one eviction counted")
  local n0 = served()
  stockx.get(pa)
  tap.eq(served(), n0, "the recently used entry stayed")
  stockx.get(pb)
  tap.eq(served() - n0, 1, "the least recently used one went")
end)

scenario.part("single flight: one request, one result", function()
  reset_cache()
  scenario.fault { path = "/market%-data$", method = "GET", latency = 0.2, count = 1 }
  local n0 = served()
  local tasks, N = {}, 8
  for i = 1, N do
    tasks[i] = core.join(stockx.spawn(function()
      return (stockx.get(md_path(pid, vid)))
    end))
  end
  local got = {}
  for i = 1, N do got[i] = tasks[i]:wait() end
  tap.eq(served() - n0, 1, N .. " concurrent GETs make one request")
  local same = true
  for i = 2, N do
    same = same and stockx.json.encode(got[i]) == stockx.json.encode(got[1])
  end
  tap.ok(same and got[1].variantId == vid, "all get the result")
  tap.ok(got[1] ~= got[2], "each its own copy")
  scenario.clear_faults()
end)

scenario.part("single flight: one request, one error", function()
  reset_cache()
  scenario.fault { path = "/market%-data$", method = "GET", status = 404,
    latency = 0.1, count = 1 }
  local n0 = served()
  local tasks, N = {}, 5
  for i = 1, N do
    tasks[i] = core.join(stockx.spawn(function()
      return (stockx.get(md_path(pid, vid)))
    end))
  end
  local errs = 0
  for i = 1, N do
    local ok, e = pcall(tasks[i].wait, tasks[i])
    if not ok and stockx.is_error(e) and e.status == 404 then errs = errs + 1 end
  end
  tap.eq(served() - n0, 1, "one request")
  tap.eq(errs, N, "every caller gets the 404")
  tap.eq(stockx.stats().cache_entries, 0, "the error is not cached")
  local r = stockx.get(md_path(pid, vid))
  tap.eq(served() - n0, 2, "the next read is a new request")
  tap.eq(r.variantId, vid, "and succeeds")
  scenario.clear_faults()
end)

-- The market data of L's variant and product, read once into the cache.
local function warm()
  reset_cache()
  stockx.catalog.market_data(pid, vid)
  stockx.catalog.market_data(pid)
  stockx.catalog.market_data(other.product.productId)
  return served()
end

scenario.part("a listing update invalidates its market data", function()
  local n0 = warm()
  local mine = stockx.listings.amount(L)
  local new = mine + stockx.money.unit(mine.currency)
  stockx.listings.update(L.listingId, { amount = new }, { wait = true })
  local n1 = served()
  local md = stockx.catalog.market_data(pid, vid)
  stockx.catalog.market_data(pid)
  tap.eq(served() - n1, 2, "the variant's and product's market data are read again")
  stockx.catalog.market_data(other.product.productId)
  tap.eq(served() - n1, 2, "another product's stays cached")
  tap.ok(n1 > n0, "the update itself was sent")
  local uncached = stockx.catalog.market_data(pid, vid, { currency = "USD" })
  tap.eq(stockx.json.encode(md), stockx.json.encode(uncached),
    "the re-read matches a fresh read")
end)

scenario.part("a listing write by an unknown id invalidates all market data", function()
  warm()
  local ref = require("stockx.cache")._internal.listing_ref()
  ref[L.listingId] = nil
  stockx.listings.update(L.listingId, { amount = stockx.listings.amount(L) }, { wait = false })
  tap.eq(stockx.stats().cache_entries, 0, "no entry left")
  stockx.sleep(0.2)
end)

scenario.part("a batch update invalidates what its items touch", function()
  stockx.listings.get(L.listingId) -- noted again: its variant and product
  warm()
  local a = stockx.listings.amount(L)
  local res = stockx.batch.update { { listingId = L.listingId,
    amount = a + stockx.money.unit(a.currency) } }
  tap.ok(res[1] and res[1].ok, "the batch item succeeded")
  local n1 = served()
  stockx.catalog.market_data(pid, vid)
  stockx.catalog.market_data(pid)
  tap.eq(served() - n1, 2, "the item's variant and product are read again")
  stockx.catalog.market_data(other.product.productId)
  tap.eq(served() - n1, 2, "another product's stays cached")
end)

scenario.part("a raw write invalidates what its path names", function()
  stockx.listings.get(L.listingId)
  warm()
  local a = stockx.listings.amount(L)
  stockx.patch("/selling/listings/" .. L.listingId,
    { amount = tostring(a + stockx.money.unit(a.currency)):match("^%S+") })
  tap.eq(stockx.stats().cache_entries, 1,
    "a PATCH of a known listing drops its variant's and product's market data only")
  warm()
  pcall(stockx.post, "/selling/unknown", {})
  tap.eq(stockx.stats().cache_entries, 0,
    "a write elsewhere under /selling/ (even a failed one) drops all market data")
end)

scenario.part("a GET in flight across an invalidation is not stored", function()
  reset_cache()
  scenario.fault { path = "/market%-data$", method = "GET", latency = 0.2, count = 1 }
  local t = core.join(stockx.spawn(function()
    return (stockx.get(md_path(pid, vid)))
  end))
  stockx.sleep(0.05)
  cache.invalidate("/market%-data$")
  local r = t:wait()
  tap.eq(r.variantId, vid, "the caller still gets its answer")
  tap.eq(stockx.stats().cache_entries, 0, "which is not stored")
  scenario.clear_faults()
end)

scenario.part("clear and invalidate", function()
  warm()
  tap.eq(stockx.stats().cache_entries, 3, "three entries")
  tap.eq(cache.invalidate("^/catalog/products/" .. other.product.productId:gsub("%W", "%%%0")),
    1, "invalidate(pattern) drops the matching one")
  cache.clear()
  tap.eq(stockx.stats().cache_entries, 0, "clear() drops the rest")
  local n0 = served()
  stockx.catalog.market_data(pid, vid)
  tap.eq(served() - n0, 1, "the next read is a request")
  cache.configure { enabled = false }
  stockx.catalog.market_data(pid, vid)
  tap.eq(served() - n0, 2, "enabled = false: no cache")
  reset_cache()
end)

scenario.finish()
tap.done()
