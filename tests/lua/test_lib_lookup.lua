-- stockx.catalog.lookup: a style id and a size in any common notation to
-- the variant ("US M 10", "10", "EU 44", "UK 9.5", "W 11.5", "M 10 / W 11.5",
-- letter sizes), with the request cost of a lookup, and clear refusals.
local tap = require "tap"
tap.setup()
local catalog = stockx.catalog

local fx = stockx.get("/_sandbox/fixtures")
local product = catalog.product(fx.productIds[1])
local variants = catalog.variants(product.productId)

-- a shoe variant with a full chart, and what its notations are
local v
for _, x in ipairs(variants) do
  if x.variantValue == "10" then v = x end
end
tap.ok(v, "the first product has a US M 10")
local conv = {}
for _, c in ipairs(v.sizeChart.availableConversions) do conv[c.type] = c.size end

for _, s in ipairs { "10", "10.0", "US M 10", "us m 10", "M 10", " 10 ", conv.eu, conv.uk,
  conv["us w"], "M 10 / " .. conv["us w"]:gsub("^US ", "") } do
  local got = catalog.variant_for_size(variants, s)
  tap.eq(got and got.variantId, v.variantId, ("%q is the US M 10 variant"):format(s))
end
tap.eq(catalog.variant_for_size(variants, 10).variantId, v.variantId, "a number works too")

local none, why = catalog.variant_for_size(variants, "US M 30")
tap.ok(none == nil and why:find("no size US M 30"), "an absent size says so", why)
none, why = catalog.variant_for_size(variants, "M 10 / W 20")
tap.ok(none == nil and why:find("no size"), "both parts of M / W must match", why)
tap.raises(function() catalog.variant_for_size(variants, "") end,
  "an empty size is an argument error", "'size' to 'stockx.catalog.variant_for_size'")
tap.raises(function() catalog.variant_for_size(variants, "ZZ 10") end,
  "an unknown size system is an argument error", "a size such as")

stockx.cache.clear() -- the variants read above would be a cache hit
local r0 = stockx.stats().requests
local lv, lp = catalog.lookup(product.styleId, "US M 10")
tap.eq(lv and lv.variantId, v.variantId, "lookup(style id, size) finds the variant")
tap.eq(lp and lp.productId, product.productId, "and its product")
tap.eq(stockx.stats().requests - r0, 2, "with two requests (a search, the variants)")
lv = catalog.lookup(product.styleId:lower(), conv.eu)
tap.eq(lv and lv.variantId, v.variantId, "any case of the style id, an EU size")
none, why = catalog.lookup("NOPE-000", "10")
tap.ok(none == nil and why:find("no product with style id NOPE%-000"), "an unknown style id", why)

-- letter sizes
for _, id in ipairs(fx.productIds) do
  local vs = catalog.variants(id)
  if vs[1] and vs[1].variantValue:match("^%a+$") then
    local want = vs[#vs]
    local got = catalog.variant_for_size(vs, want.variantValue:lower())
    tap.eq(got and got.variantId, want.variantId, "a letter size (" .. want.variantValue .. ")")
    break
  end
end

tap.done()
