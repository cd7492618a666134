-- The sandbox's data has the cases the example scripts and a repricer
-- must handle, whatever the seed: two of the seller's ACTIVE listings on
-- one variant, ACTIVE FLEX and DIRECT listings, a product nobody else
-- asks for, and CREATED orders due to ship in the coming days.
local tap = require "tap"
tap.setup()

local null = stockx.json.null

do
  local fx = stockx.get("/_sandbox/fixtures")
  local tag = ""
  local same = fx.sameVariantListingIds
  tap.ok(type(same) == "table" and #same == 2, "two listings on one variant" .. tag)
  if type(same) == "table" then
    local a = stockx.get("/selling/listings/" .. same[1])
    local b = stockx.get("/selling/listings/" .. same[2])
    tap.ok(a.variant.variantId == b.variant.variantId and a.status == "ACTIVE"
      and b.status == "ACTIVE", "both ACTIVE, on the same variant" .. tag)
    tap.ok(a.amount ~= b.amount, "at different amounts" .. tag)
  end
  for _, k in ipairs { "flexListingId", "directListingId" } do
    local l = fx[k] ~= null and stockx.get("/selling/listings/" .. fx[k])
    local want = k == "flexListingId" and "FLEX" or "DIRECT"
    tap.ok(l and l.status == "ACTIVE" and l.inventoryType == want,
      "an ACTIVE " .. want .. " listing" .. tag)
  end
  -- nobody else asks: a variant's lowest ask is the seller's own, or none
  local own = {}
  for l in stockx.paginate("/selling/listings", { listingStatuses = { "ACTIVE" },
    inventoryTypes = { "STANDARD" }, productIds = { fx.noAsksProductId } }) do
    local c = own[l.variant.variantId]
    local v = tonumber(l.amount)
    own[l.variant.variantId] = c and math.min(c, v) or v
  end
  tap.ok(fx.noAsksListingId ~= null and next(own) ~= nil,
    "the seller asks on the product nobody else asks for" .. tag)
  local md, others, empty = stockx.get("/catalog/products/" .. fx.noAsksProductId
    .. "/market-data"), 0, 0
  for _, m in ipairs(md) do
    local low = m.lowestAskAmount ~= null and tonumber(m.lowestAskAmount) or nil
    if low and low ~= own[m.variantId] then others = others + 1 end
    if not low then empty = empty + 1 end
  end
  tap.eq(others, 0, "no lowest ask there is anybody else's" .. tag)
  tap.ok(empty > 0, "and some sizes have no ask at all" .. tag)
  local soon, now = 0, os.time()
  for _, n in ipairs(fx.createdOrderNumbers) do
    local o = stockx.get("/selling/orders/" .. n)
    local y, mo, d, h = o.shipment.shipByDate:match("^(%d+)-(%d+)-(%d+)T(%d+)")
    local t = os.time { year = y, month = mo, day = d, hour = h }
    if o.status == "CREATED" and t > now and t < now + 5 * 86400 then
      soon = soon + 1
    end
  end
  tap.ok(soon >= 3, "at least three CREATED orders due to ship within days" .. tag)
end

tap.done()
