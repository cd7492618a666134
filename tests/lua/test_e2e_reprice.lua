-- End to end: a repricing script as a seller would write it.  It walks the
-- active listings with stockx.paginate, reads each product's market data
-- once, moves every listing priced above its variant's lowest ask to one
-- unit below it (money as strings), waits for each operation to succeed,
-- and reads the listings again to see the new prices.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local null = stockx.json.null

local money_mod = require "stockx.money"

-- "59.45" <-> 5945 cents
local function cents(s)
  local ok, m = pcall(money_mod.parse, tostring(s), "USD")
  return ok and m.minor or nil
end

local function money(c)
  return money_mod.new(c, "USD"):amount()
end

---------------------------------------------------------------------------
-- The script
---------------------------------------------------------------------------

local function reprice()
  -- 1. active listings, grouped by product
  local listings, products = {}, {}
  for l in stockx.paginate("/selling/listings", { listingStatuses = { "ACTIVE" } }) do
    listings[#listings + 1] = l
    products[l.product.productId] = true
  end
  -- 2. one market-data call per product covers every size
  local lowest = {}
  for pid in pairs(products) do
    for _, m in ipairs(stockx.get("/catalog/products/" .. pid .. "/market-data")) do
      lowest[m.variantId] = m.lowestAskAmount
    end
  end
  -- 3. undercut by one unit where we are above the lowest ask
  local pending = {}
  for _, l in ipairs(listings) do
    local low = lowest[l.variant.variantId]
    if low ~= nil and low ~= null and cents(l.amount) > cents(low) then
      local new = money(cents(low) - 100)
      local op = stockx.patch("/selling/listings/" .. l.listingId, { amount = new })
      pending[#pending + 1] = { op = op, listing = l, new = new }
    end
  end
  -- 4. poll each operation until it is no longer PENDING
  for _, p in ipairs(pending) do
    p.done = scenario.wait_operation(p.op)
  end
  return listings, pending
end

---------------------------------------------------------------------------
-- What it did
---------------------------------------------------------------------------

scenario.part("reprice", function()
  local t0 = stockx.now()
  local listings, pending = reprice()
  stockx.log.info("repriced", { listings = #listings, updates = #pending,
    seconds = string.format("%.2f", stockx.now() - t0) })
  tap.ok(#listings > 100, "the script saw every active listing", #listings .. " listings")
  tap.ok(#pending > 10 and #pending < #listings,
    "it repriced the listings above the lowest ask, not all of them",
    #pending .. " of " .. #listings)

  local all_ok, failed = true, nil
  for _, p in ipairs(pending) do
    if not (p.done and p.done.operationStatus == "SUCCEEDED") then
      all_ok, failed = false, p
    end
  end
  tap.ok(all_ok, "every update operation SUCCEEDED",
    failed and (failed.listing.listingId .. " "
      .. tostring(failed.done and failed.done.operationStatus)))

  local after = {}
  for l in stockx.paginate("/selling/listings", { listingStatuses = { "ACTIVE" } }) do
    after[l.listingId] = l.amount
  end
  local wrong, untouched_changed = {}, {}
  local repriced = {}
  for _, p in ipairs(pending) do
    repriced[p.listing.listingId] = true
    if after[p.listing.listingId] ~= p.new then
      wrong[#wrong + 1] = p.listing.listingId .. ": " .. tostring(after[p.listing.listingId])
        .. " want " .. p.new
    end
  end
  for _, l in ipairs(listings) do
    if not repriced[l.listingId] and after[l.listingId] ~= l.amount then
      untouched_changed[#untouched_changed + 1] = l.listingId
    end
  end
  tap.ok(#wrong == 0, "a new read shows every new price",
    table.concat(wrong, "; ", 1, math.min(#wrong, 5)))
  tap.ok(#untouched_changed == 0, "the other listings kept their prices",
    table.concat(untouched_changed, ", ", 1, math.min(#untouched_changed, 5)))
  local decimal = true
  for _, p in ipairs(pending) do decimal = decimal and p.new:match("^%d+%.?%d*$") ~= nil end
  tap.ok(decimal, "prices were sent as decimal strings")

  -- the variant's market data takes our live asks into account
  local p = pending[1]
  if p then
    local m = stockx.get(("/catalog/products/%s/variants/%s/market-data")
      :format(p.listing.product.productId, p.listing.variant.variantId))
    local lowest_new = cents(p.new)
    for _, q in ipairs(pending) do
      if q.listing.variant.variantId == p.listing.variant.variantId then
        lowest_new = math.min(lowest_new, cents(q.new))
      end
    end
    tap.ok(m.lowestAskAmount ~= null and cents(m.lowestAskAmount) <= lowest_new,
      "the variant's lowest ask is now at most our undercut",
      tostring(m.lowestAskAmount) .. " vs " .. money(lowest_new))
  end
end)

scenario.finish()
tap.done()
