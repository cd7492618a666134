-- market.lua: a read-only tour of a seller account.  Lists your active
-- listings, reads the market data of their products (one request a
-- product covers every size) and says which asks are above the lowest ask
-- of their own channel (STANDARD, FLEX, DIRECT).  It changes nothing.
--
--   stockx run --sandbox scripts/market.lua [N]   offline, against the sandbox
--   stockx run scripts/market.lua [N]             your account (needs
--                                                 STOCKX_API_KEY and
--                                                 STOCKX_ACCESS_TOKEN)

local catalog, listings = stockx.catalog, stockx.listings
local max = tonumber(arg and arg[1]) or 20

-- At most `max` active listings, one page ahead.
local mine = {}
for l in listings.list { listingStatuses = { "ACTIVE" } } do
  mine[#mine + 1] = l
  if #mine >= max then break end
end
print(("%d active listings (showing up to %d)"):format(#mine, max))

local market = {} -- productId -> { [variantId] = market-data record }
local above = 0
for _, l in ipairs(mine) do
  local pid = l.product.productId
  market[pid] = market[pid] or catalog.market_data(pid)
  -- the listing's own channel: a FLEX ask competes with FLEX asks only
  local m = catalog.market_for(l, market[pid])
  local ask, note = listings.amount(l), ""
  if m.lowest_ask and ask > m.lowest_ask then
    above = above + 1
    note = ("  <- above the lowest %s ask %s"):format(m.channel, m.lowest_ask:amount())
  end
  print(("%-45.45s size %-5s %-8s ask %10s%s"):format(l.product.productName,
    l.variant.variantValue, m.channel, tostring(ask), note))
end
print(("%d of %d listings are above the lowest ask of their channel"):format(above, #mine))
