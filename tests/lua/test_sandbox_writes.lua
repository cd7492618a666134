-- Single-listing writes on the sandbox: create, update, delete, activate
-- and deactivate answer PENDING operations; polling the operation reaches
-- SUCCEEDED and only then do reads show the change; failed operations and
-- synchronous 400s for bad input.
local tap = require "tap"
local schema = require "schema"
local scenario = require "scenario"
scenario.start()

local null = stockx.json.null
local doc = schema.load("tests/contract/stockx-openapi.json")
local base = os.getenv("STOCKX_BASE_URL")
local fx = scenario.fixtures()
local pid, vid = fx.productIds[1], fx.variantIds[1]

local money_mod = require "stockx.money"

-- "59.45" <-> 5945 cents
local function cents(s)
  local ok, m = pcall(money_mod.parse, tostring(s), "USD")
  return ok and m.minor or nil
end

local function money(c)
  return money_mod.new(c, "USD"):amount()
end

local function listing(id)
  return (stockx.get("/selling/listings/" .. id))
end

local function create(body)
  local input = { variantId = vid, amount = "150", currencyCode = "USD" }
  for k, v in pairs(body or {}) do input[k] = v end
  return stockx.post("/selling/listings", input)
end

-- A write's answer: a PENDING operation of this type whose operationUrl
-- is its URL under the base URL.
local function pending(op, want_type, what)
  tap.eq(op.operationStatus, "PENDING", what .. " answers a PENDING operation")
  tap.eq(op.operationType, want_type, what .. ": of type " .. want_type)
  tap.eq(op.operationUrl, base .. "/selling/listings/" .. tostring(op.listingId)
    .. "/operations/" .. tostring(op.operationId),
    what .. ": operationUrl is the operation's URL under the base URL")
end

local function succeeded(op, desc)
  local done, e = scenario.wait_operation(op)
  tap.eq(done and done.operationStatus or tostring(e), "SUCCEEDED", desc)
  return done
end

-- The listing ids returned by GET /selling/listings with this query.
local function listed(query)
  local set = {}
  for l in stockx.paginate("/selling/listings", query) do set[l.listingId] = l end
  return set
end

scenario.part("create answers a PENDING operation", function()
  local op, res = create()
  tap.eq(res.status, 201, "POST /selling/listings answers 201")
  tap.ok(type(op.listingId) == "string" and #op.listingId > 0,
    "the listingId is assigned at once")
  pending(op, "CREATE", "create")
  tap.eq(op.operationInitiatedVia, "PUBLIC-API", "initiated via PUBLIC-API")
  local early = stockx.request { path = "/selling/listings/" .. op.listingId }
  local early_status = early.status == 200 and stockx.json.decode(early.body).status
  tap.ok(early.status == 404 or early_status ~= "ACTIVE",
    "before SUCCEEDED the new listing is not ACTIVE",
    early.status .. " " .. tostring(early_status))
  local done = succeeded(op, "polling operationUrl reaches SUCCEEDED")
  tap.eq(done and done.operationId, op.operationId, "the same operation")
  local l = listing(op.listingId)
  tap.eq(l.status, "ACTIVE", "after SUCCEEDED the listing is ACTIVE")
  tap.eq(l.amount, "150", "with the amount asked")
  tap.eq(l.variant.variantId, vid, "on the variant asked")
  tap.eq(l.lastOperation ~= null and l.lastOperation.operationId, op.operationId,
    "lastOperation is the create")
  local seen = false
  for o in stockx.paginate("/selling/listings/" .. op.listingId .. "/operations") do
    seen = seen or o.operationId == op.operationId
  end
  tap.ok(seen, "the operation is in the listing's operations history")
end)

scenario.part("the change shows only after SUCCEEDED (async_polls)", function()
  scenario.config { async_polls = 3, async_ms = 60000 }
  local op = create { amount = "170" }
  succeeded(op, "create with async_polls = 3 succeeds")
  local upd = stockx.patch("/selling/listings/" .. op.listingId, { amount = "165" })
  pending(upd, "UPDATE", "PATCH")
  tap.eq(listing(op.listingId).amount, "170", "a read before SUCCEEDED shows the old amount")
  local done, polls = scenario.wait_operation(upd)
  tap.eq(done and done.operationStatus, "SUCCEEDED", "the update succeeds")
  tap.ok(polls and polls >= 2 and polls <= 4,
    "after about async_polls reads of the operation", tostring(polls))
  tap.eq(listing(op.listingId).amount, "165", "a read after SUCCEEDED shows the new amount")
end)

scenario.part("async_ms completes operations without reads", function()
  scenario.config { async_polls = 1000, async_ms = 500 }
  local op = create { amount = "180" }
  local first = stockx.get(op.operationUrl)
  tap.eq(first.operationStatus, "PENDING", "read at once: PENDING")
  stockx.sleep(1.2)
  local later = stockx.get(op.operationUrl)
  tap.eq(later.operationStatus, "SUCCEEDED", "read after async_ms: SUCCEEDED")
  scenario.config { async_polls = 2, async_ms = 300 }
end)

scenario.part("a cheaper ask becomes the lowest ask", function()
  local mpath = "/catalog/products/" .. pid .. "/variants/" .. vid .. "/market-data"
  local before = stockx.get(mpath)
  local low = before.lowestAskAmount ~= null and cents(before.lowestAskAmount) or 20000
  local cheaper = money(math.max(100, low - 500))
  local op = create { amount = cheaper }
  succeeded(op, "a create below the lowest ask succeeds")
  local after = stockx.get(mpath)
  tap.eq(after.lowestAskAmount, cheaper, "the variant's lowestAskAmount is the new ask")
  local ok = schema.check(doc, "VariantMarketDataResponse", after)
  tap.ok(ok, "market data still matches VariantMarketDataResponse")
  local del = stockx.delete("/selling/listings/" .. op.listingId)
  succeeded(del, "deleting that ask succeeds")
  tap.eq(stockx.get(mpath).lowestAskAmount, before.lowestAskAmount,
    "once deleted, the lowest ask is what it was")
end)

scenario.part("delete", function()
  local op = create { amount = "190" }
  succeeded(op, "create succeeds")
  tap.ok(listed { variantIds = vid }[op.listingId], "the listing is in the default list")
  local del, res = stockx.delete("/selling/listings/" .. op.listingId)
  tap.eq(res.status, 200, "DELETE answers 200")
  pending(del, "DELETE", "DELETE")
  succeeded(del, "the delete succeeds")
  tap.eq(listing(op.listingId).status, "DELETED", "the listing reads as DELETED")
  tap.ok(not listed { variantIds = vid }[op.listingId],
    "and is gone from the default list")
end)

scenario.part("deactivate and activate", function()
  local op = create { amount = "200" }
  succeeded(op, "create succeeds")
  local path = "/selling/listings/" .. op.listingId
  local d = stockx.put(path .. "/deactivate")
  pending(d, "DEACTIVATE", "deactivate")
  succeeded(d, "the deactivate succeeds")
  tap.eq(listing(op.listingId).status, "INACTIVE", "the listing is INACTIVE")
  tap.ok(listed { listingStatuses = "INACTIVE", variantIds = vid }[op.listingId],
    "and listed under listingStatuses=INACTIVE")
  local a = stockx.put(path .. "/activate", { amount = "205" })
  pending(a, "ACTIVATE", "activate")
  succeeded(a, "the activate succeeds")
  local l = listing(op.listingId)
  tap.eq(l.status, "ACTIVE", "the listing is ACTIVE again")
  tap.eq(l.amount, "205", "at the amount given to activate")
end)

-- The unsellable product of the fixtures: a variant of it.
local function unsellable_variant()
  for k, v in pairs(fx) do
    if k:lower():find("unsellable") and type(v) == "string" then
      if k:lower():find("variant") then return v end
      local vs = stockx.get("/catalog/products/" .. v .. "/variants")
      return vs[1].variantId
    end
  end
end

scenario.part("a FAILED operation leaves the listing INACTIVE", function()
  local uv = unsellable_variant()
  tap.ok(uv, "the fixtures name an unsellable product")
  if uv then
    local op = stockx.post("/selling/listings", { variantId = uv, amount = "150" })
    tap.eq(op.operationStatus, "PENDING", "the create is accepted as PENDING")
    local done = scenario.wait_operation(op)
    tap.eq(done and done.operationStatus, "FAILED", "and FAILS")
    tap.ok(done and type(done.error) == "string" and #done.error > 0,
      "with an error text", done and tostring(done.error))
    local l = listing(op.listingId)
    tap.eq(l.status, "INACTIVE", "the listing is INACTIVE")
    tap.eq(l.lastOperation ~= null and l.lastOperation.operationStatus, "FAILED",
      "its lastOperation is FAILED")
  end
  scenario.fault { path = "^/selling/listings", method = "POST",
    operation_fail = "Sandbox says no", count = 1 }
  local op = create { amount = "210" }
  local done = scenario.wait_operation(op)
  tap.eq(done and done.operationStatus, "FAILED", "operation_fail makes the operation FAIL")
  tap.eq(done and done.error, "Sandbox says no", "with the fault's text")
  tap.eq(listing(op.listingId).status, "INACTIVE", "and the listing INACTIVE")
end)

scenario.part("a FAILED update, delete or deactivate leaves the listing as it was", function()
  local op = create { amount = "230" }
  succeeded(op, "create succeeds")
  local path = "/selling/listings/" .. op.listingId
  local before = listing(op.listingId)
  tap.eq(before.status, "ACTIVE", "the listing is ACTIVE")
  for _, w in ipairs {
    { "PATCH", function() return stockx.patch(path, { amount = "199" }) end },
    { "DELETE", function() return stockx.delete(path) end },
    { "PUT", function() return stockx.put(path .. "/deactivate") end },
  } do
    scenario.fault { path = "^" .. path, method = w[1],
      operation_fail = "Sandbox says no", count = 1 }
    local done = scenario.wait_operation((w[2]()))
    tap.eq(done and done.operationStatus, "FAILED", w[1] .. ": the operation FAILS")
    local l = listing(op.listingId)
    tap.eq(l.status, "ACTIVE", w[1] .. ": the listing stays ACTIVE")
    tap.eq(l.amount, "230", w[1] .. ": at its old amount")
    tap.ok(l.ask ~= null and before.ask ~= null and l.ask.askId == before.ask.askId,
      w[1] .. ": with its ask")
  end
end)

scenario.part("input errors are synchronous 400s", function()
  local count = stockx.get("/selling/listings", { pageSize = 1 }).count
  local function bad(body, desc)
    local res = stockx.request { method = "POST", path = "/selling/listings", body = body,
      headers = type(body) == "string" and { ["Content-Type"] = "application/json" } or nil }
    tap.eq(res.status, 400, desc .. ": 400")
    local ok, data = pcall(stockx.json.decode, res.body)
    local conforms, errs = schema.check(doc, "PublicApiError", ok and data or nil)
    tap.ok(ok and conforms and data.statusCode == 400 and #data.message > 0,
      desc .. ": a PublicApiError body with a message", table.concat(errs, "; ") .. " " .. res.body)
  end
  bad({ variantId = vid, currencyCode = "USD" }, "missing amount")
  bad({ variantId = vid, amount = 150 }, "amount as a number")
  bad({ variantId = vid, amount = "150", colour = "red" }, "unknown property")
  bad({ variantId = vid, amount = "150", currencyCode = "XXX" }, "bad currency")
  bad('{"variantId": "' .. vid .. '", "amount": "150"', "malformed JSON")
  bad({ amount = "150" }, "missing variantId")
  tap.eq(stockx.get("/selling/listings", { pageSize = 1 }).count, count,
    "no listing was created by a refused input")
  local target = fx.listingIds[1]
  local res = stockx.request { method = "PATCH", path = "/selling/listings/" .. target,
    body = { amount = 99 } }
  tap.eq(res.status, 400, "PATCH with a numeric amount: 400")
  res = stockx.request { method = "PATCH", path = "/selling/listings/" .. target,
    body = { amount = "99", active = false } }
  tap.eq(res.status, 400, "PATCH with a property UpdateListingInput lacks (active): 400")
end)

scenario.finish()
tap.done()
