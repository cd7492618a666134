-- stockx.listings against the sandbox: writes that wait for their
-- operation (SUCCEEDED, the listing read back, amounts as money), a FAILED
-- update and a failed create reporting the listing's resulting state,
-- wait_operation's backoff and timeout, dry-run operations, argument
-- errors (floats, unknown fields and filters) and list() with filters.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local listings = stockx.listings
local money = require "stockx.money"
local null = stockx.json.null
local fx = scenario.fixtures()
local vid, pid = fx.variantIds[1], fx.productIds[1]
local THIS = "^[^ ]-test_lib_listings%.lua:%d+: "

-- Operations settle after 2 reads or 100 ms: the first poll (0.25 s)
-- finds them done.
scenario.config { async_ms = 100 }

local function usd(s) return money.parse(s, "USD") end

local function route_count(name)
  return scenario.stats().routes[name] or 0
end

-- Requests in the sandbox's log with this method whose path contains s.
local function log_count(method, s)
  local n = 0
  for _, e in ipairs(scenario.stats().log) do
    if e.method == method and e.path:find(s, 1, true) then n = n + 1 end
  end
  return n
end

local created -- a listing made by the first part, ACTIVE at 150

scenario.part("create and wait", function()
  local op, l = listings.create({ variantId = vid, amount = usd("150") },
    { wait = true })
  tap.eq(op.operationStatus, "SUCCEEDED", "create{wait=true} returns the SUCCEEDED operation")
  tap.eq(op.operationType, "CREATE", "of type CREATE")
  tap.ok(type(l) == "table", "and the listing read back")
  if type(l) ~= "table" then return end
  tap.eq(l.listingId, op.listingId, "the listing is the operation's")
  tap.eq(l.status, "ACTIVE", "the new listing is ACTIVE")
  local got = listings.get(op.listingId)
  tap.eq(got.listingId, op.listingId, "listings.get reads it")
  tap.eq(got.variant.variantId, vid, "on the variant asked")
  local a = listings.amount(got)
  tap.ok(money.is_money(a), "listings.amount gives a money value")
  tap.ok(a == usd("150"), "of 150 USD", tostring(a))
  tap.eq(tostring(a), "150.00 USD", "tostring of the amount")
  created = op.listingId
end)

scenario.part("wait_operation polls with backoff", function()
  local op = listings.create { variantId = vid, amount = "160" }
  tap.eq(op.operationStatus, "PENDING", "without wait, create returns the PENDING operation")
  local before = log_count("GET", "/operations/")
  local t0 = stockx.now()
  local done = listings.wait_operation(op)
  local took = stockx.now() - t0
  tap.eq(done.operationStatus, "SUCCEEDED", "wait_operation returns the SUCCEEDED operation")
  tap.eq(done.operationId, op.operationId, "the same operation")
  local polls = log_count("GET", "/selling/listings/" .. op.listingId
    .. "/operations/" .. op.operationId)
  tap.ok(polls >= 1 and polls <= 3, "it polled the operation's path a few times", polls)
  tap.ok(log_count("GET", "/operations/") - before == polls, "and nothing else")
  tap.ok(took >= 0.2, "the first poll waits for the backoff's first step", took)
  tap.eq(listings.wait_operation(done), done, "a SUCCEEDED operation returns at once")
  -- the operationUrl alone is enough
  local op2 = listings.update(op.listingId, { amount = "161" })
  local by_url = listings.wait_operation { operationUrl = op2.operationUrl }
  tap.eq(by_url.operationId, op2.operationId, "an operation with only its operationUrl")
end)

scenario.part("update with a money value and a string", function()
  if not created then return tap.ok(false, "the create part made a listing") end
  local op, l = listings.update(created, { amount = usd("123.5") }, { wait = true })
  tap.eq(op.operationStatus, "SUCCEEDED", "update with money SUCCEEDED")
  tap.eq(op.operationType, "UPDATE", "an UPDATE")
  tap.ok(listings.amount(l) == usd("123.50"), "the listing is at 123.50 USD",
    tostring(listings.amount(l)))
  tap.eq(l.amount, "123.50", "sent as the decimal string StockX takes")
  op, l = listings.update(created, { amount = "120", currencyCode = "USD" }, { wait = true })
  tap.eq(op.operationStatus, "SUCCEEDED", "update with a string SUCCEEDED")
  tap.ok(listings.amount(l) == usd("120"), "the listing is at 120 USD",
    tostring(listings.amount(l)))
  tap.ok(listings.amount(listings.get(created)) == usd("120"), "and reads back at 120")
end)

scenario.part("a FAILED update reports the listing as it was", function()
  if not created then return tap.ok(false, "the create part made a listing") end
  scenario.fault { path = "^/selling/listings/" .. created, method = "PATCH",
    operation_fail = "No", count = 1 }
  local err = tap.raises(function()
    listings.update(created, { amount = "99" }, { wait = true })
  end, "update{wait=true} raises when the operation FAILED")
  tap.ok(stockx.is_error(err), "an error value")
  if not stockx.is_error(err) then return end
  tap.eq(err.kind, "operation_failed", "of kind operation_failed")
  tap.eq(err.message, "No", "with StockX's error text")
  tap.eq(tostring(err), "operation_failed: No", "tostring")
  tap.eq(err.operation and err.operation.operationStatus, "FAILED", "carrying the FAILED operation")
  tap.eq(err.listing and err.listing.status, "ACTIVE", "the listing is still ACTIVE")
  tap.eq(err.listing and err.listing.amount, "120", "at the old amount")
  tap.eq(listings.get(created).amount, "120", "as a later read shows")
  -- the fault was used up: the next update goes through
  local op = listings.update(created, { amount = "121" }, { wait = true })
  tap.eq(op.operationStatus, "SUCCEEDED", "the next update SUCCEEDED")
end)

scenario.part("a failed create or activate leaves the listing INACTIVE", function()
  local uvid = fx.unsellableVariantIds[1]
  local err = tap.raises(function()
    listings.create({ variantId = uvid, amount = "100" }, { wait = true })
  end, "creating a listing of the unsellable product raises")
  if not stockx.is_error(err) then return end
  tap.eq(err.kind, "operation_failed", "kind operation_failed")
  tap.eq(err.message, "Item is not sellable", "StockX's text")
  tap.eq(err.listing and err.listing.status, "INACTIVE", "the listing is INACTIVE")
  tap.eq(err.listing and err.listing.ask, null, "without an ask")
  local lid = err.operation.listingId
  local e2 = tap.raises(function()
    listings.activate(lid, nil, { wait = true })
  end, "activating it raises too")
  tap.eq(e2 and e2.kind, "operation_failed", "operation_failed")
  tap.eq(e2 and e2.listing and e2.listing.status, "INACTIVE", "and it stays INACTIVE")
end)

scenario.part("deactivate, activate with an amount, delete", function()
  if not created then return tap.ok(false, "the create part made a listing") end
  local op, l = listings.deactivate(created, { wait = true })
  tap.eq(op.operationType, "DEACTIVATE", "deactivate's operation")
  tap.eq(l.status, "INACTIVE", "deactivate{wait=true}: INACTIVE")
  op, l = listings.activate(created, { amount = usd("151") }, { wait = true })
  tap.eq(op.operationType, "ACTIVATE", "activate's operation")
  tap.eq(l.status, "ACTIVE", "activate{wait=true}: ACTIVE")
  tap.ok(listings.amount(l) == usd("151"), "at the amount given")
  op, l = listings.delete(created, { wait = true })
  tap.eq(op.operationType, "DELETE", "delete's operation")
  tap.eq(l and l.status, "DELETED", "delete{wait=true}: DELETED")
end)

scenario.part("wait_operation times out", function()
  local lid = fx.listingIds[1]
  local cfg = scenario.get_config()
  scenario.config { async_polls = 1000, async_ms = 100000 }
  local ok, e = pcall(function()
    local op = listings.update(lid, { amount = "130" })
    local t0 = stockx.now()
    local err = tap.raises(function()
      listings.wait_operation(op, { timeout = 1 })
    end, "an operation that stays PENDING raises")
    local took = stockx.now() - t0
    tap.ok(stockx.is_error(err) and err.kind == "timeout", "of kind timeout", tostring(err))
    tap.ok(tostring(err):find(op.operationId, 1, true) ~= nil, "naming the operation",
      tostring(err))
    tap.ok(took >= 0.9 and took < 3, "after about the timeout", took)
    tap.eq(err and err.operation and err.operation.operationStatus, "PENDING",
      "carrying the last operation read")
    local e2 = tap.raises(function()
      listings.update(lid, { amount = "131" }, { wait = true, timeout = 0.3 })
    end, "a write with {wait=true, timeout=} times out too")
    tap.eq(e2 and e2.kind, "timeout", "kind timeout")
  end)
  scenario.config { async_polls = cfg.async_polls, async_ms = cfg.async_ms }
  if not ok then error(e, 0) end
end)

scenario.part("argument errors", function()
  local lid = fx.listingIds[2]
  local n0 = stockx.stats().requests
  tap.raises(function() listings.update(lid, { amount = 12.5 }) end,
    "a float amount is an argument error",
    THIS .. "bad argument #2 'changes%.amount' to 'stockx%.listings%.update' %(")
  tap.raises(function() listings.update(lid, { amount = 12.0 }) end,
    "a float with no fraction too", "float 12%.0")
  tap.raises(function() listings.create { variantId = vid, amount = 150.5 } end,
    "create with a float amount",
    "bad argument #1 'listing%.amount' to 'stockx%.listings%.create'")
  tap.raises(function() listings.activate(lid, { amount = 1.5 }) end,
    "activate with a float amount", "'changes%.amount' to 'stockx%.listings%.activate'")
  tap.raises(function() listings.update(lid, { amount = "12,50" }) end,
    "a malformed amount string", "'changes%.amount'")
  tap.raises(function() listings.create { amount = "150" } end,
    "create without variantId", "'listing%.variantId'")
  tap.raises(function() listings.update(lid, { amount = "1", wait = true }) end,
    "options mixed into the changes", "'changes%.wait' .*unknown field")
  tap.raises(function()
    listings.update(lid, { amount = usd("1"), currencyCode = "EUR" })
  end, "a currencyCode that contradicts the money value", "'changes%.currencyCode'")
  tap.raises(function() listings.get("../orders") end, "a listingId that leaves the path",
    "bad argument #1 'listingId' to 'stockx%.listings%.get'")
  tap.raises(function() listings.delete(lid, { wiat = true }) end, "an unknown option",
    "'opts%.wiat'")
  tap.raises(function() listings.wait_operation({}) end, "wait_operation without ids",
    "bad argument #1 'op' to 'stockx%.listings%.wait_operation'")
  tap.eq(stockx.stats().requests - n0, 0, "none of them sent a request")
end)

scenario.part("list and all with filters", function()
  local active = listings.all { listingStatuses = { "ACTIVE" } }
  tap.ok(#active > 100, "all{listingStatuses={'ACTIVE'}} reads every page", #active)
  local only = true
  for _, l in ipairs(active) do only = only and l.status == "ACTIVE" end
  tap.ok(only, "only ACTIVE listings")
  tap.eq(#listings.all { listingStatuses = "ACTIVE" }, #active, "a CSV string works the same")
  local both = listings.all { listingStatuses = { "ACTIVE", "INACTIVE" } }
  tap.ok(#both > #active, "two statuses as an array", #both)
  local want = 0
  for _, l in ipairs(active) do
    if l.product.productId == pid then want = want + 1 end
  end
  local n, match, pages = 0, true, {}
  for l, page in listings.list { listingStatuses = { "ACTIVE" }, productIds = { pid },
                                 pageSize = 5 } do
    n = n + 1
    match = match and l.product.productId == pid and l.status == "ACTIVE"
    pages[page.pageNumber] = true
  end
  tap.eq(n, want, "list() with productIds finds that product's ACTIVE listings")
  tap.ok(match, "and only those")
  tap.ok(want <= 5 or pages[2], "across pages of pageSize")
  local expired = listings.all { isExpired = true, listingStatuses = { "ACTIVE", "INACTIVE" } }
  tap.ok(#expired >= #both, "isExpired = true adds the expired ones", #expired)
  tap.raises(function() listings.list { listingStatus = "ACTIVE" } end,
    "an unknown filter name is an argument error naming it",
    THIS .. "bad argument #1 'filters%.listingStatus' to 'stockx%.listings%.list' "
      .. "%(unknown filter")
  tap.raises(function() listings.all { isExpired = "yes" } end, "isExpired must be a boolean",
    "'filters%.isExpired'")
  tap.raises(function() listings.all { productIds = { pid, 7 } } end,
    "array elements must be strings", "'filters%.productIds%[2%]'")
end)

scenario.part("listings.amount", function()
  tap.eq(listings.amount { amount = null, currencyCode = "USD" }, nil, "a null amount gives nil")
  tap.eq(listings.amount {}, nil, "no amount gives nil")
  tap.ok(listings.amount { amount = "76.0000", currencyCode = "USD" } == usd("76"),
    "76.0000 USD is 76 USD")
  tap.ok(listings.amount { amount = "1000", currencyCode = "JPY" } == money.new(1000, "JPY"),
    "in the listing's currency")
end)

scenario.part("dry run", function()
  local lid = fx.listingIds[3]
  local before = listings.get(lid).amount
  local patches = route_count("PATCH /selling/listings/{listingId}")
  stockx.configure { dry_run = true }
  local ok, e = pcall(function()
    local op, l = listings.update(lid, { amount = "1" }, { wait = true })
    tap.ok(op.dry_run, "a dry-run update answers a dry-run operation")
    tap.eq(op.operationStatus, "SUCCEEDED", "already SUCCEEDED")
    tap.eq(l and l.amount, before, "the listing read back is unchanged")
    local n0 = stockx.stats().requests
    local again = listings.wait_operation(op)
    tap.eq(again, op, "wait_operation returns a dry-run operation as it is")
    tap.eq(stockx.stats().requests - n0, 0, "with no request")
    local cop, cl = listings.create({ variantId = vid, amount = "10" }, { wait = true })
    tap.ok(cop.dry_run and cl == nil, "a dry-run create returns no listing")
  end)
  stockx.configure { dry_run = false }
  if not ok then error(e, 0) end
  tap.eq(route_count("PATCH /selling/listings/{listingId}"), patches,
    "no PATCH reached the sandbox")
  tap.eq(listings.get(lid).amount, before, "the amount did not change")
end)

scenario.finish()
tap.done()
