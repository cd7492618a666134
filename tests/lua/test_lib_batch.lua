-- stockx.batch against the sandbox: 250 updates go out as 3 POSTs of at
-- most 100, results come back one per input item in input order with the
-- failing item reported, creates with quantity and an unsellable item,
-- deletes by id, a dry run that sends nothing, a timeout that carries the
-- results so far, argument errors, and the matching rule itself.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local batch = stockx.batch
local listings = stockx.listings
local money = require "stockx.money"
local fx = scenario.fixtures()
local vid, vid2 = fx.variantIds[1], fx.variantIds[2]
local UNKNOWN = "00000000-0000-4000-8000-00000000dead"

-- Batches complete after 2 reads or 50 ms: the first poll finds them done.
scenario.config { async_ms = 50 }

local function usd(s) return money.parse(s, "USD") end

local function route_count(name)
  return scenario.stats().routes[name] or 0
end

local made = {} -- listings the create part made

scenario.part("update 250 listings in chunks of 100", function()
  local ids = {}
  for _, l in ipairs(listings.all { listingStatuses = { "ACTIVE", "INACTIVE" } }) do
    ids[#ids + 1] = l.listingId
  end
  tap.ok(#ids >= 100, "the account has listings to update", #ids)
  local items = {}
  for i = 1, 250 do
    local id = ids[(i - 1) % #ids + 1]
    -- money values and strings alike
    local amount = i % 2 == 0 and money.new(20005 + i * 100, "USD") or tostring(300 + i)
    items[i] = { listingId = id, amount = amount }
  end
  items[137] = { listingId = UNKNOWN, amount = "77" }
  local posts = route_count("POST /selling/batch/update-listing")
  local results, summary = batch.update(items)
  tap.eq(route_count("POST /selling/batch/update-listing") - posts, 3,
    "250 items are sent as 3 POSTs")
  tap.eq(#results, 250, "one result per input item")
  local in_order, ok_ones = true, true
  for i, r in ipairs(results) do
    in_order = in_order and r.item == items[i] and r.listingId == items[i].listingId
    if i ~= 137 then ok_ones = ok_ones and r.ok == true and r.status == "COMPLETED" end
  end
  tap.ok(in_order, "results are in input order, each with its item and listingId")
  tap.ok(ok_ones, "the other 249 are ok and COMPLETED")
  local bad = results[137]
  tap.eq(bad.ok, false, "the unknown listing's item is not ok")
  tap.eq(bad.status, "FAILED", "its status is FAILED")
  tap.eq(bad.error, "Listing not found", "with StockX's error text")
  tap.eq(summary.ok, 249, "summary.ok = 249")
  tap.eq(summary.failed, 1, "summary.failed = 1")
  tap.eq(#summary.batches, 3, "summary.batches names the 3 batches")
  local sizes = {}
  for i, id in ipairs(summary.batches) do
    sizes[i] = stockx.get("/selling/batch/update-listing/" .. id).totalItems
  end
  tap.eq(table.concat(sizes, " "), "100 100 50", "of 100, 100 and 50 items")
  tap.eq(results[1].batchId, summary.batches[1], "item 1 is in the first batch")
  tap.eq(results[101].batchId, summary.batches[2], "item 101 in the second")
  tap.eq(results[250].batchId, summary.batches[3], "item 250 in the third")
  -- an id used once (not repeated by the cycle) reads back at its amount
  local i = 100
  tap.eq(#ids >= 150 and listings.get(items[i].listingId).amount, "300.05",
    "a listing reads back at the money amount it was given")
  i = 99
  tap.eq(#ids >= 150 and listings.get(items[i].listingId).amount, "399",
    "and at the string amount")
end)

scenario.part("create with quantity, one unsellable", function()
  local items = {
    { variantId = vid, amount = usd("111"), quantity = 2 },
    { variantId = fx.unsellableVariantIds[1], amount = "112" },
    { variantId = vid2, amount = "113", currencyCode = "USD" },
  }
  local posts = route_count("POST /selling/batch/create-listing")
  local results, summary = batch.create(items, { chunk = 2 })
  tap.eq(route_count("POST /selling/batch/create-listing") - posts, 2,
    "chunk = 2: 3 items in 2 POSTs")
  tap.eq(#results, 3, "one result per input item")
  tap.ok(results[1].ok and results[1].listingIds and #results[1].listingIds == 2,
    "quantity 2: ok with 2 listingIds")
  tap.eq(results[1].listingId, results[1].listingIds and results[1].listingIds[1],
    "listingId is the first of them")
  tap.eq(results[2].ok, false, "the unsellable item failed")
  tap.eq(results[2].error, "Item is not sellable", "with StockX's text")
  tap.eq(results[2].item, items[2], "and its input item")
  tap.ok(results[3].ok and type(results[3].listingId) == "string", "the third is ok")
  tap.eq(summary.ok, 2, "summary.ok = 2")
  tap.eq(summary.failed, 1, "summary.failed = 1")
  tap.ok(results[1].batchId ~= results[3].batchId, "in two batches")
  for _, id in ipairs(results[1].listingIds or {}) do made[#made + 1] = id end
  made[#made + 1] = results[3].listingId
  local l = #made > 0 and listings.get(made[1])
  tap.eq(l and l.status, "ACTIVE", "the listing made is ACTIVE")
  tap.ok(l and listings.amount(l) == usd("111"), "at the money amount given")
end)

scenario.part("delete by id", function()
  if #made < 3 then return tap.ok(false, "the create part made listings") end
  local items = { made[1], { listingId = made[2] }, UNKNOWN }
  local results, summary = batch.delete(items)
  tap.eq(#results, 3, "one result per id")
  tap.ok(results[1].ok and results[2].ok, "ids and {listingId=} tables alike are deleted")
  tap.eq(results[1].listingId, made[1], "results name the listing")
  tap.eq(results[3].ok, false, "the unknown id failed")
  tap.eq(results[3].listingId, UNKNOWN, "named by its id")
  tap.eq(summary.failed, 1, "summary.failed = 1")
  tap.eq(listings.get(made[1]).status, "DELETED", "the first listing is DELETED")
  tap.eq(listings.get(made[2]).status, "DELETED", "and the second")
  tap.eq(listings.get(made[3]).status, "ACTIVE", "the third was not in the batch")
end)

scenario.part("dry run", function()
  local ids = fx.listingIds
  local items = {}
  for i = 1, 5 do items[i] = { listingId = ids[i], amount = usd("1") } end
  local before = listings.get(ids[1]).amount
  local posts = route_count("POST /selling/batch/update-listing")
  local n0 = stockx.stats().requests
  stockx.configure { dry_run = true }
  local ok, results, summary = pcall(batch.update, items)
  local n1 = stockx.stats().requests
  stockx.configure { dry_run = false }
  if not ok then error(results, 0) end
  tap.eq(route_count("POST /selling/batch/update-listing"), posts, "no POST reached the sandbox")
  tap.eq(n1 - n0, 1, "one request in all (the dry-run POST, not sent), no poll")
  tap.eq(#results, 5, "a result per item")
  local all_ok = true
  for i, r in ipairs(results) do
    all_ok = all_ok and r.ok and r.item == items[i] and r.listingId == ids[i]
  end
  tap.ok(all_ok, "all ok, in order")
  tap.eq(summary.ok, 5, "summary.ok = 5")
  tap.ok(tostring(summary.batches[1]):find("^dry%-run%-") ~= nil, "the batch id is a dry-run one")
  tap.eq(listings.get(ids[1]).amount, before, "nothing changed")
end)

scenario.part("a timeout carries the results so far", function()
  local cfg = scenario.get_config()
  -- 8 reads finish a batch: by the timeout (3 polls) a quarter of it is done
  scenario.config { async_polls = 8, async_ms = 100000 }
  local ok, e = pcall(function()
    local items = {}
    for i = 1, 5 do items[i] = { listingId = fx.listingIds[i], amount = tostring(500 + i) } end
    local err = tap.raises(function()
      batch.update(items, { chunk = 4, timeout = 1 })
    end, "a batch that does not complete in time raises")
    tap.ok(stockx.is_error(err) and err.kind == "timeout", "of kind timeout", tostring(err))
    if not stockx.is_error(err) then return end
    tap.ok(tostring(err):find(err.batchId, 1, true) ~= nil, "naming the batch", tostring(err))
    local r = err.results
    tap.eq(r and #r, 5, "err.results has an entry per input item")
    if not r then return end
    tap.eq(r[1].ok, true, "the item done before the timeout is reported ok")
    tap.eq(r[1].status, "COMPLETED", "and COMPLETED")
    local queued = true
    for i = 2, 4 do queued = queued and not r[i].ok and r[i].status ~= "COMPLETED" end
    tap.ok(queued, "the chunk's other items are not ok, with their status",
      tostring(r[2].status))
    tap.eq(r[2].batchId, err.batchId, "and the batch id")
    tap.eq(r[5].status, "NOT_SENT", "the item of the next chunk was never sent")
    tap.eq(err.summary and err.summary.failed, 4, "err.summary counts the 4 not done")
  end)
  scenario.config { async_polls = cfg.async_polls, async_ms = cfg.async_ms }
  if not ok then error(e, 0) end
end)

scenario.part("argument errors", function()
  local n0 = stockx.stats().requests
  local THIS = "^[^ ]-test_lib_batch%.lua:%d+: "
  tap.raises(function()
    batch.update { { listingId = fx.listingIds[1], amount = "1" },
                   { listingId = fx.listingIds[2], amount = 9.5 } }
  end, "a float amount is an argument error",
    THIS .. "bad argument #1 'items%[2%]%.amount' to 'stockx%.batch%.update'")
  tap.raises(function() batch.update({}, { chunk = 101 }) end, "chunk above 100",
    "'opts%.chunk'")
  tap.raises(function() batch.delete({}, { chunk = 0 }) end, "chunk 0", "'opts%.chunk'")
  tap.raises(function() batch.create { { variantId = vid, amount = "1", quantity = 0 } } end,
    "quantity 0", "'items%[1%]%.quantity'")
  tap.raises(function() batch.update { { amount = "1" } } end, "update without listingId",
    "'items%[1%]%.listingId'")
  tap.raises(function() batch.delete { 42 } end, "a number as a listing id", "'items%[1%]'")
  tap.raises(function() batch.update { { listingId = fx.listingIds[1], price = "1" } } end,
    "an unknown field", "'items%[1%]%.price' .*unknown field")
  tap.eq(stockx.stats().requests - n0, 0, "none of them sent a request")
  local r, s = batch.update {}
  tap.ok(#r == 0 and s.ok == 0 and s.failed == 0 and #s.batches == 0,
    "no items: no batch, empty results")
end)

scenario.part("matching batch items to input items", function()
  local match = batch._internal.match
  local wires = { { listingId = "a" }, { listingId = "b" }, { listingId = "c" } }
  local bi = function(id) return { listingInput = { listingId = id }, status = "COMPLETED" } end
  local g = match("update", wires, { bi("a"), bi("b"), bi("c") }, true)
  tap.ok(g[1][1].listingInput.listingId == "a" and g[3][1].listingInput.listingId == "c",
    "by position when the listing ids agree")
  g = match("update", wires, { bi("c"), bi("a"), bi("b") }, true)
  tap.ok(g[1][1].listingInput.listingId == "a" and g[2][1].listingInput.listingId == "b"
    and g[3][1].listingInput.listingId == "c", "by listing id when the order differs")
  g = match("update", wires, { bi("b"), bi("c") }, true)
  tap.ok(#g[1] == 0 and #g[2] == 1 and #g[3] == 1, "an item with no batch item gets none")
  g = match("delete", { { listingId = "x" }, { listingId = "x" } },
    { { listingInput = { id = "x" }, n = 1 }, { listingInput = { id = "x" }, n = 2 } }, true)
  tap.ok(g[1][1].n == 1 and g[2][1].n == 2, "a repeated id takes the batch items in order")
  local cw = { { variantId = "v1", quantity = 2 }, { variantId = "v2", quantity = 1 } }
  local cv = function(v, n) return { listingInput = { variantId = v }, n = n } end
  g = match("create", cw, { cv("v1", 1), cv("v1", 2), cv("v2", 3) }, true)
  tap.ok(#g[1] == 2 and g[2][1].n == 3, "a create item with quantity 2 takes 2 batch items")
end)

scenario.finish()
tap.done()
