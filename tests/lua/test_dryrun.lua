-- Dry run: with dry_run on, POST/PUT/PATCH/DELETE never reach the server
-- (the sandbox's request log shows none), each comes back as the success
-- StockX would have sent (operations SUCCEEDED, batches COMPLETED with
-- their items, res.dry_run = true), and GETs still go out.
local tap = require "tap"
local scenario = require "scenario"
tap.setup()

local fx = stockx.get("/_sandbox/fixtures")
local lid = fx.listingIds and fx.listingIds[1]
if not lid then
  local page = stockx.get("/selling/listings", { listingStatuses = "ACTIVE", pageSize = 1 })
  lid = page.listings[1].listingId
end
local before = stockx.get("/selling/listings/" .. lid)
local log0 = #tap.stats().log

stockx.configure { dry_run = true }
tap.eq(stockx.settings().dry_run, true, "settings() shows dry_run")

local writes = 0
local function write(desc, fn, check)
  writes = writes + 1
  local ok, data, res = pcall(fn)
  tap.ok(ok, desc .. ": no error", not ok and tostring(data) or nil)
  if ok then
    tap.eq(res and res.dry_run, true, desc .. ": res.dry_run")
    tap.eq(res and res.status, 200, desc .. ": a success status")
    tap.eq(type(data) == "table" and data.dry_run, true, desc .. ": a dry-run value")
    if check then check(data) end
  end
end

local path = "/selling/listings/" .. lid
write("POST a listing", function()
  return stockx.post("/selling/listings", { amount = "150", variantId = before.variant.variantId })
end, function(op)
  tap.eq(op.operationType, "CREATE", "an operation of type CREATE")
  tap.eq(op.operationStatus, "SUCCEEDED", "that already SUCCEEDED")
  tap.ok(type(op.listingId) == "string" and op.listingId:find("^dry%-run%-"),
    "with a dry-run listing id")
end)
write("PATCH the amount", function() return stockx.patch(path, { amount = "1" }) end,
  function(op)
    tap.eq(op.operationType, "UPDATE", "an UPDATE operation")
    tap.eq(op.listingId, lid, "for that listing")
  end)
write("DELETE", function() return stockx.delete(path) end,
  function(op) tap.eq(op.operationType, "DELETE", "a DELETE operation") end)
write("PUT deactivate", function() return stockx.put(path .. "/deactivate") end,
  function(op) tap.eq(op.operationType, "DEACTIVATE", "a DEACTIVATE operation") end)
write("PUT activate", function() return stockx.put(path .. "/activate", {}) end,
  function(op) tap.eq(op.operationType, "ACTIVATE", "an ACTIVATE operation") end)
write("a batch update", function()
  return stockx.post("/selling/batch/update-listing",
    { items = { { listingId = lid, amount = "2" }, { listingId = "x", amount = "3" } } })
end, function(b)
  tap.eq(b.status, "COMPLETED", "the batch is COMPLETED")
  tap.eq(b.totalItems, 2, "with both items")
  tap.eq(b.items and b.items[1].result.listingId, lid, "each with its result")
end)
write("a batch delete", function()
  return stockx.post("/selling/batch/delete-listing", { items = { { listingId = lid } } })
end)

-- the low-level call: the same refusal, the raw answer
local res = stockx.request { method = "POST", path = "/selling/listings", body = "{}" }
writes = writes + 1
tap.ok(res and res.dry_run == true and res.status == 200 and res.body == "",
  "stockx.request: 200, an empty body, res.dry_run")
local put_res = stockx.request { method = "put", path = path .. "/deactivate" }
writes = writes + 1
tap.ok(put_res and put_res.dry_run, "lower-case methods are writes too")

-- reads still go out
local l = stockx.get(path)
tap.eq(l.listingId, lid, "GET still goes to the server")
local head = stockx.request { method = "HEAD", path = path }
tap.ok(head.status == 200 and not head.dry_run, "HEAD still goes to the server")

-- a cancelled dry-run write is cancelled like any other
local t = stockx.spawn(function() return stockx.post("/selling/listings", {}) end)
t:cancel("no")
tap.eq(select(2, pcall(t.wait, t)).kind, "cancelled", "a dry-run write can be cancelled")

stockx.configure { dry_run = false }

-- what the server saw
local log, mutations, gets = tap.stats().log, 0, 0
for i = log0 + 1, #log do
  local m = log[i].method
  if m == "GET" or m == "HEAD" then gets = gets + 1 else mutations = mutations + 1 end
end
tap.eq(mutations, 0, "the server received no mutation (" .. writes .. " writes made)")
tap.ok(gets >= 2, "the reads reached it")
local after = stockx.get(path)
tap.eq(after.amount, before.amount, "the listing's amount is unchanged")
tap.eq(after.status, before.status, "and its status")

-- dry_run off again: writes go out
local op = stockx.patch(path, { amount = before.amount })
tap.ok(not op.dry_run and op.operationId and not op.operationId:find("^dry"),
  "with dry_run off a write is sent again")
scenario.wait_operation(op)

tap.raises(function() stockx.configure { dry_run = "yes" } end,
  "dry_run must be a boolean", "'dry_run' must be a boolean")

tap.done()
