-- The naive per-listing repricer the benchmarks compare against (loaded
-- with dofile by tests/bench/quota.lua and tests/bench/cache.lua): for
-- every ACTIVE listing, its variant's market data, and when someone asks
-- less, a PATCH one unit under the lowest ask that waits for its
-- operation.  Returns its changes as "listingId=amount" lines.
return function()
  local out = {}
  for l in stockx.listings.list { listingStatuses = { "ACTIVE" } } do
    local m = stockx.catalog.market_data(l.product.productId, l.variant.variantId)
    local low = stockx.catalog.market(m, l).lowest_ask
    local mine = stockx.listings.amount(l)
    if low and mine > low then
      local new = low - stockx.money.unit(low.currency)
      stockx.listings.update(l.listingId, { amount = new }, { wait = true })
      out[#out + 1] = l.listingId .. "=" .. tostring(new)
    end
  end
  return out
end
