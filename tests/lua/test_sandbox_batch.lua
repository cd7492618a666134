-- Batch listing operations on the sandbox: a batch goes QUEUED ->
-- IN_PROGRESS -> COMPLETED with per-item statuses and counts, quantity N
-- makes N listings, items can fail one by one, and the item count is
-- checked synchronously (none, or more than 100, is a 400).
local tap = require "tap"
local schema = require "schema"
local scenario = require "scenario"
scenario.start()

local null = stockx.json.null
local doc = schema.load("tests/contract/stockx-openapi.json")
local fx = scenario.fixtures()
local vid = fx.variantIds[1]
local vid2 = fx.variantIds[2]
local UNKNOWN = "00000000-0000-4000-8000-00000000dead"

local function items(kind, id, status)
  return stockx.get(scenario.batch_path(kind, id) .. "/items",
    status and { status = status } or nil).items
end

local function sum(t)
  local n = 0
  for _, v in pairs(t) do n = n + (tonumber(v) or 0) end
  return n
end

-- A variant whose listings fail: the fixtures' unsellable product if they
-- name one, else an unknown variant.
local function failing_variant()
  for k, v in pairs(fx) do
    if k:lower():find("unsellable") and type(v) == "string" then
      if k:lower():find("variant") then return v end
      return stockx.get("/catalog/products/" .. v .. "/variants")[1].variantId
    end
  end
  return UNKNOWN
end

local made = {}   -- listingIds created by the create batch

scenario.part("create batch: statuses, counts, items", function()
  local body = { items = {
    { variantId = vid, amount = "111", quantity = 3, currencyCode = "USD" },
    { variantId = vid2, amount = "112", quantity = 1 },
    { variantId = failing_variant(), amount = "113", quantity = 1 },
  } }
  local b, res = stockx.post("/selling/batch/create-listing", body)
  tap.eq(res.status, 200, "POST create-listing answers 200")
  tap.eq(b.status, "QUEUED", "the batch starts QUEUED")
  tap.eq(b.completedAt, null, "completedAt is null until it completes")
  tap.eq(b.totalItems, 5, "totalItems counts every listing asked for (3 + 1 + 1)")
  local done, seen = scenario.wait_batch("create", b.batchId)
  tap.ok(done, "the batch reaches COMPLETED", tostring(seen))
  if not done then return end
  seen = table.concat(seen, " -> ")
  tap.ok(seen == "QUEUED -> IN_PROGRESS -> COMPLETED" or seen == "IN_PROGRESS -> COMPLETED",
    "its status goes QUEUED -> IN_PROGRESS -> COMPLETED", seen)
  tap.ok(type(done.completedAt) == "string", "completedAt is set once COMPLETED")
  tap.ok(schema.check(doc, "GetListingCreateBatchResponse", done),
    "the completed batch matches GetListingCreateBatchResponse")
  local counts = done.itemStatuses
  tap.eq(counts.completed, 4, "itemStatuses.completed = 4")
  tap.eq(counts.failed, 1, "itemStatuses.failed = 1")
  tap.eq(sum(counts), done.totalItems, "the counts add up to totalItems")

  local all = items("create", b.batchId)
  tap.eq(#all, 5, "items lists one item per listing")
  local ok_items = items("create", b.batchId, "COMPLETED")
  local failed = items("create", b.batchId, "FAILED")
  tap.eq(#ok_items, 4, "?status=COMPLETED lists the 4 completed items")
  tap.eq(#failed, 1, "?status=FAILED lists the failed one")
  local only = true
  for _, it in ipairs(ok_items) do
    only = only and it.status == "COMPLETED"
    if type(it.result) == "table" and type(it.result.listingId) == "string" then
      made[#made + 1] = it.result.listingId
    end
  end
  tap.ok(only, "the filter returns only COMPLETED items")
  tap.ok(failed[1] and type(failed[1].error) == "string" and #failed[1].error > 0,
    "the failed item carries an error text", failed[1] and tostring(failed[1].error))
  tap.ok(failed[1] and (failed[1].result == nil or failed[1].result == null
    or failed[1].result.listingId == null), "and no listing")

  local distinct, on_vid = {}, 0
  for _, id in ipairs(made) do
    distinct[id] = true
    local l = stockx.get("/selling/listings/" .. id)
    if l.variant.variantId == vid and l.amount == "111" and l.status == "ACTIVE" then
      on_vid = on_vid + 1
    end
  end
  local n = 0
  for _ in pairs(distinct) do n = n + 1 end
  tap.eq(n, 4, "4 distinct listings were made")
  tap.eq(on_vid, 3, "quantity 3 made 3 ACTIVE listings at 111 on the first variant")
  local by_batch = 0
  for l in stockx.paginate("/selling/listings", { batchIds = b.batchId }) do
    if l.batch ~= null and l.batch.batchId == b.batchId then by_batch = by_batch + 1 end
  end
  tap.eq(by_batch, 4, "GET /selling/listings?batchIds= finds the batch's 4 listings")
end)

scenario.part("update batch", function()
  if #made < 2 then return tap.ok(false, "the create batch made listings to update") end
  local b = stockx.post("/selling/batch/update-listing", { items = {
    { listingId = made[1], amount = "99" },
    { listingId = made[2], amount = "98", currencyCode = "USD" },
    { listingId = UNKNOWN, amount = "97" },
  } })
  tap.eq(b.status, "QUEUED", "the update batch starts QUEUED")
  local done = scenario.wait_batch("update", b.batchId)
  tap.ok(done, "and completes")
  if not done then return end
  tap.eq(done.itemStatuses.completed, 2, "2 items completed")
  tap.eq(done.itemStatuses.failed, 1, "the unknown listing failed")
  tap.eq(stockx.get("/selling/listings/" .. made[1]).amount, "99", "the first listing is at 99")
  tap.eq(stockx.get("/selling/listings/" .. made[2]).amount, "98", "the second at 98")
  local its = items("update", b.batchId, "COMPLETED")
  tap.ok(#its == 2 and its[1].listingInput.listingId ~= nil,
    "update items echo their listingInput")
end)

scenario.part("delete batch", function()
  if #made < 3 then return tap.ok(false, "the create batch made listings to delete") end
  local b = stockx.post("/selling/batch/delete-listing", { items = {
    { listingId = made[3] } } })
  local done = scenario.wait_batch("delete", b.batchId)
  tap.ok(done and done.itemStatuses.completed == 1, "the delete batch completes its item")
  tap.eq(stockx.get("/selling/listings/" .. made[3]).status, "DELETED",
    "the listing is DELETED")
  local its = items("delete", b.batchId)
  tap.eq(its[1] and its[1].listingInput.id, made[3], "delete items carry listingInput.id")
end)

scenario.part("item counts are checked synchronously", function()
  local function status_of(kind, body)
    local res = stockx.request { method = "POST", path = "/selling/batch/" .. kind, body = body,
      headers = type(body) == "string" and { ["Content-Type"] = "application/json" } or nil }
    local ok, data = pcall(stockx.json.decode, res.body)
    if res.status == 400 then
      tap.ok(ok and schema.check(doc, "PublicApiError", data),
        kind .. " 400 body is a PublicApiError", res.body)
    end
    return res.status
  end
  local ids = {}
  for l in stockx.paginate("/selling/listings", { listingStatuses = "ACTIVE" }) do
    ids[#ids + 1] = l.listingId
  end
  local many_upd, many_del, hundred = {}, {}, {}
  for i = 1, 101 do
    local id = ids[(i - 1) % #ids + 1]
    many_upd[i] = { listingId = id, amount = "300" }
    many_del[i] = { listingId = id }
    if i <= 100 then hundred[i] = { listingId = id, amount = "300" } end
  end
  tap.eq(status_of("update-listing", { items = many_upd }), 400, "101 update items: 400")
  tap.eq(status_of("delete-listing", { items = many_del }), 400, "101 delete items: 400")
  tap.eq(status_of("update-listing", { items = hundred }), 200, "100 update items are accepted")
  tap.eq(status_of("create-listing", '{"items": []}'), 400, "no create items: 400")
  tap.eq(status_of("update-listing", '{"items": []}'), 400, "no update items: 400")
  tap.eq(status_of("delete-listing", '{"items": []}'), 400, "no delete items: 400")
  tap.eq(status_of("create-listing", { items = { { variantId = vid, amount = 5, quantity = 1 } } }),
    400, "a numeric amount in a create item: 400")
  tap.eq(status_of("create-listing", {}), 400, "no items property: 400")
end)

scenario.part("unknown batches", function()
  for _, kind in ipairs { "create", "update", "delete" } do
    local res = stockx.request { path = scenario.batch_path(kind, UNKNOWN) }
    tap.eq(res.status, 404, "GET an unknown " .. kind .. " batch: 404")
  end
end)

scenario.finish()
tap.done()
