-- market.lua: a read-only tour of a seller account.  Lists your active
-- listings (paginated), reads the market data of their products and says
-- which asks are above the lowest ask.  Safe to run: it changes nothing.
--
--   stockx run --sandbox scripts/market.lua      offline, against the sandbox
--   stockx run scripts/market.lua                your account (needs
--                                                STOCKX_API_KEY and
--                                                STOCKX_ACCESS_TOKEN)

local max = tonumber(arg and arg[1]) or 20

-- Collect active listings, one page ahead, at most `max` of them.
local listings = {}
for listing in stockx.paginate("/selling/listings", { listingStatuses = { "ACTIVE" } }) do
  listings[#listings + 1] = listing
  if #listings >= max then break end
end
print(("%d active listings (showing up to %d)"):format(#listings, max))

-- One market-data call per product covers all its sizes (saves quota).
local market = {}
for _, l in ipairs(listings) do
  local pid = l.product.productId
  if not market[pid] then
    market[pid] = {}
    for _, m in ipairs(stockx.get("/catalog/products/" .. pid .. "/market-data")) do
      market[pid][m.variantId] = m
    end
  end
end

local null = stockx.json.null
local above = 0
for _, l in ipairs(listings) do
  local m = market[l.product.productId][l.variant.variantId]
  local lowest = m and m.lowestAskAmount ~= null and tonumber(m.lowestAskAmount)
  local mine = tonumber(l.amount)
  local note = ""
  if lowest and mine > lowest then
    above = above + 1
    note = ("  <- above the lowest ask %s"):format(m.lowestAskAmount)
  end
  print(("%-45.45s size %-5s ask %7s %s%s"):format(l.product.productName,
    l.variant.variantValue, l.amount, l.currencyCode, note))
end
print(("%d of %d listings are above the lowest ask"):format(above, #listings))
