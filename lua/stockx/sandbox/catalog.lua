--- Catalog routes: search, products, variants, GTIN lookup, variant and
-- product market data (the market's asks combined with the seller's live
-- asks, per inventory type) and the catalog ingestion jobs (Beta).
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")
local util = require("stockx.sandbox.util")

local array, null = json.array, json.null
local err, reply = http.err, http.reply

local M = {}

M.CURRENCIES = util.set_of{ "AUD", "BRL", "CAD", "CHF", "CLP", "CNY", "DKK",
  "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "JPY", "KRW", "KWD", "MOP",
  "MXN", "MYR", "NOK", "NZD", "PEN", "PHP", "PLN", "SEK", "SGD", "THB",
  "TWD", "USD", "VND" }

--------------------------------------------------------------------------
-- Search and products.
--------------------------------------------------------------------------

local function search(sb, req)
  local q, cat = req.query, sb.catalog
  if not q.query or #q.query < 1 or #q.query > 100 then
    return err(400, "query is required (1 to 100 characters)")
  end
  local size, number = http.page_params(q, 50)
  if not size then return err(400, number) end
  local words = {}
  for w in q.query:lower():gmatch("[^%s%-/]+") do words[#words + 1] = w end
  local exact = cat.gtin[q.query]
  local found, score = {}, {}
  for i, p in ipairs(cat.products) do
    local hay, n = cat.extra[p.productId].hay, 0
    for _, w in ipairs(words) do
      if hay:find(w, 1, true) then n = n + 1 end
    end
    if exact and exact.productId == p.productId then n = n + 1000 end
    if n > 0 then
      found[#found + 1] = p
      score[p] = n * 1000 - i
    end
  end
  table.sort(found, function(a, b) return score[a] > score[b] end)
  return reply(200, http.paginate(found, size, number, "products"))
end

local function product_details(sb, p)
  local out, x = {}, sb.catalog.extra[p.productId]
  for k, v in pairs(p) do out[k] = v end
  out.sizeChart = x.sizeChart
  out.isFlexEligible, out.isDirectEligible = x.isFlexEligible,
    x.isDirectEligible
  return out
end

local function get_product(sb, _, pid)
  local p = sb.catalog.product_by_id[pid]
  if not p then return http.not_found() end
  return reply(200, product_details(sb, p))
end

local function get_variants(sb, _, pid)
  local vs = sb.catalog.variants_of[pid]
  if not vs then return http.not_found() end
  return reply(200, vs)
end

--- The variant vid of product pid, or nil and an error reply (404 for
-- unknown ids, 400 when the variant belongs to another product).
function M.find_variant(sb, pid, vid)
  if not sb.catalog.product_by_id[pid] then return nil, http.not_found() end
  local v = sb.catalog.variant_by_id[vid]
  if not v then return nil, http.not_found() end
  if v.productId ~= pid then
    return nil, err(400, "Variant " .. vid .. " does not belong to product "
      .. pid)
  end
  return v
end

local function get_variant(sb, _, pid, vid)
  local v, e = M.find_variant(sb, pid, vid)
  return v and reply(200, v) or e
end

local function by_gtin(sb, _, gtin)
  if not gtin:match("^%d+$") or not (#gtin == 8 or (#gtin >= 12
    and #gtin <= 14)) then
    return err(400, "Invalid GTIN")
  end
  local v = sb.catalog.gtin[gtin]
  if not v then return http.not_found() end
  return reply(200, v)
end

--------------------------------------------------------------------------
-- Market data.
--------------------------------------------------------------------------

local function lower(a, b)
  if not a then return b end
  if not b then return a end
  return math.min(a, b)
end

-- The seller's lowest live ask per inventory type, in US cents.
local function own_asks(sb, vid)
  local low, now = {}, util.iso(util.now())
  for _, l in ipairs(sb.idx.by_variant[vid] or {}) do
    if l.status == "ACTIVE" and l.ask ~= null
      and (l.ask.askExpiresAt or "9") > now then
      local c = util.to_usd_cents(l.amount, l.currencyCode)
      low[l.inventoryType] = lower(low[l.inventoryType], c)
    end
  end
  return low
end

local function block(ask, bid, faster, more, beat, m)
  return { lowestAsk = m(ask), highestBidAmount = m(bid),
           sellFaster = m(faster), earnMore = m(more), beatUS = m(beat) }
end

--- VariantMarketDataResponse for a variant in currency c.  The product
-- level ignores the seller's asks for sellFaster/earnMore, as StockX
-- documents; the lowest asks always include them, and beatUS does not
-- exclude the seller's own ask (undercut protection is off).
function M.market(sb, v, c, product_level)
  local b, own = sb.catalog.base[v.variantId], own_asks(sb, v.variantId)
  local function m(cents)
    return cents and util.money_in(math.max(cents, 100), c) or null
  end
  local low_s, low_f, low_d = lower(b.ask, own.STANDARD),
    lower(b.flex, own.FLEX), lower(b.direct, own.DIRECT)
  local base_faster = b.ask and b.ask - 100 or (b.bid and b.bid + 500)
    or b.more - 1000
  local faster = base_faster
  if not product_level and low_s then faster = low_s - 100 end
  return {
    productId = v.productId, variantId = v.variantId, currencyCode = c,
    lowestAskAmount = m(low_s), highestBidAmount = m(b.bid),
    sellFasterAmount = m(faster), earnMoreAmount = m(b.more),
    flexLowestAskAmount = m(low_f),
    standardMarketData = block(low_s, b.bid, faster, b.more,
      low_s and low_s - 100, m),
    flexMarketData = block(low_f, b.bid, low_f and low_f - 100, false,
      false, m),
    directMarketData = block(low_d, b.bid, low_d and low_d - 100, false,
      false, m),
  }
end

local function currency_param(q)
  local c = q.currencyCode or "USD"
  if not M.CURRENCIES[c] then return nil, "invalid currencyCode: " .. c end
  return c
end

local function variant_market(sb, req, pid, vid)
  local v, e = M.find_variant(sb, pid, vid)
  if not v then return e end
  local c, msg = currency_param(req.query)
  if not c then return err(400, msg) end
  return reply(200, M.market(sb, v, c, false))
end

local function product_market(sb, req, pid)
  local vs = sb.catalog.variants_of[pid]
  if not vs then return http.not_found() end
  local c, msg = currency_param(req.query)
  if not c then return err(400, msg) end
  local out = array()
  for i, v in ipairs(vs) do out[i] = M.market(sb, v, c, true) end
  return reply(200, out)
end

--------------------------------------------------------------------------
-- Catalog ingestion (Beta): POST a job, poll its items.  Items are "In
-- Review" until the job settles (the async_polls/async_ms rule), then
-- "Completed", or "Rejected" when the product is already in the catalog.
--------------------------------------------------------------------------

local COMMON = { "category", "productTitle", "brand", "productImages",
  "variants", "retailPrice", "releaseDate", "countryOfOrigin" }
local OPTIONAL = { "partnerProductId", "tags", "colorway", "styleCode",
  "productDescription", "dimensions", "weight", "productURL" }

local function schema(required, extra)
  local req, allowed = {}, {}
  for _, k in ipairs(COMMON) do req[#req + 1] = k end
  for _, k in ipairs(required) do req[#req + 1] = k end
  for _, k in ipairs(req) do allowed[k] = true end
  for _, k in ipairs(OPTIONAL) do allowed[k] = true end
  for _, k in ipairs(extra) do allowed[k] = true end
  return { required = req, allowed = allowed }
end

local SHOES = schema({ "colorway", "gtin", "gender", "styleCode" },
  { "material" })
local APPAREL = schema({ "colorway", "material", "gender" },
  { "gtin", "productCode" })
local COLLECTIBLES = schema({}, { "productCode" })
local GTIN_GOODS = schema({}, { "gtin", "productCode" })

local CATEGORIES = { sneakers = SHOES, shoes = SHOES, apparel = APPAREL,
  accessories = APPAREL, collectibles = COLLECTIBLES,
  electronics = GTIN_GOODS, ["trading cards"] = GTIN_GOODS }
local LISTS = util.set_of{ "productImages", "variants", "tags" }
local ING_STATUS = { ["in review"] = "In Review", completed = "Completed",
  rejected = "Rejected" }

-- nil, or the problem with one item.
local function check_item(it)
  if not json.is_object(it) then return "must be an object" end
  local s = type(it.category) == "string" and CATEGORIES[it.category]
  if not s then
    return "category must be one of sneakers, shoes, apparel, accessories, "
      .. "collectibles, electronics, trading cards"
  end
  local extra = http.extra_property(it, s.allowed)
  if extra then return "property " .. extra .. " should not exist" end
  for _, k in ipairs(s.required) do
    if it[k] == nil then return k .. " is required" end
  end
  for k, v in pairs(it) do
    if LISTS[k] then
      if not json.is_list(v) then return k .. " must be an array" end
      for _, e in ipairs(v) do
        if type(e) ~= "string" then return k .. " must hold strings" end
      end
    elseif k == "productCode" then
      if not json.is_object(v) or type(v.code) ~= "string"
        or (v.name ~= "serial number" and v.name ~= "mpn") then
        return 'productCode must be {code, name = "serial number" or "mpn"}'
      end
    elseif type(v) ~= "string" then
      return k .. " must be a string"
    end
  end
end

local function copy_input(it)
  local out = {}
  for k, v in pairs(it) do
    if LISTS[k] then
      out[k] = array{ table.unpack(v) }
    elseif type(v) == "table" then
      out[k] = { code = v.code, name = v.name }
    else
      out[k] = v
    end
  end
  return out
end

-- Why StockX would reject the item, or nil.
local function rejection(sb, input)
  local cat = sb.catalog
  if input.gtin and cat.gtin[input.gtin] then
    return "A product with this GTIN already exists in the catalog"
  end
  if input.styleCode then
    for _, p in ipairs(cat.products) do
      if p.styleId == input.styleCode then
        return "A product with this style code already exists in the catalog"
      end
    end
  end
  if not tonumber(input.retailPrice) then
    return "retailPrice must be a decimal amount"
  end
  if not (util.parse_iso(input.releaseDate)
    or util.parse_iso(input.releaseDate .. "T00:00:00Z")) then
    return "releaseDate must be a date"
  end
end

local function post_ingestion(sb, req)
  local body, e = http.body_object(req, true)
  if not body then return e end
  local extra = http.extra_property(body, { items = true })
  if extra then return err(400, "property " .. extra .. " should not exist") end
  local items = body.items
  if not json.is_list(items) or #items == 0 then
    return err(400, "items must be a non-empty array")
  end
  if #items > 100 then
    return err(400, "items must contain at most 100 products")
  end
  for i, it in ipairs(items) do
    local problem = check_item(it)
    if problem then return err(400, "items[" .. (i - 1) .. "]: " .. problem) end
  end
  local now = util.iso(util.now())
  local job = { ingestionId = sb:new_id(), items = array(), _polls = 0,
                _t0 = util.now() }
  for i, it in ipairs(items) do
    local input = copy_input(it)
    job.items[i] = { ingestionId = job.ingestionId, status = "In Review",
      input = input, result = null,
      partnerProductId = input.partnerProductId or null,
      rejectionDetails = null, createdAt = now, updatedAt = now }
  end
  sb.state.ingestions[job.ingestionId] = job
  sb:add_pending("ingestion", job.ingestionId)
  return reply(201, { ingestionId = job.ingestionId })
end

--- Settles an ingestion job once its progress reaches 1.
-- @return true when done
function M.progress_ingestion(sb, job, p)
  if p < 1 then return false end
  local now = util.iso(util.now())
  for _, it in ipairs(job.items) do
    local why = rejection(sb, it.input)
    if why then
      it.status, it.rejectionDetails = "Rejected", { reason = why }
    else
      it.status = "Completed"
      it.result = { brand = it.input.brand, title = it.input.productTitle,
                    variantId = sb:new_id() }
    end
    it.updatedAt = now
  end
  return true
end

local function get_ingestion(sb, req, id)
  local job = sb.state.ingestions[id]
  if not job then return http.not_found() end
  local want
  if req.query.status and req.query.status ~= "" then
    want = ING_STATUS[req.query.status:lower()]
    if not want then
      return err(400, "status must be one of In Review, Completed, Rejected")
    end
  end
  local out = array()
  for _, it in ipairs(job.items) do
    if not want or it.status == want then out[#out + 1] = it end
  end
  job._polls = job._polls + 1
  return reply(200, { items = out })
end

M.routes = {
  { "GET", "/catalog/search", search },
  { "GET", "/catalog/products/variants/gtins/{gtin}", by_gtin },
  { "GET", "/catalog/products/{productId}", get_product },
  { "GET", "/catalog/products/{productId}/variants", get_variants },
  { "GET", "/catalog/products/{productId}/variants/{variantId}",
    get_variant },
  { "GET", "/catalog/products/{productId}/variants/{variantId}/market-data",
    variant_market },
  { "GET", "/catalog/products/{productId}/market-data", product_market },
  { "POST", "/catalog/ingestion", post_ingestion, write = true },
  { "GET", "/catalog/ingestion/{ingestionId}", get_ingestion },
}

return M
