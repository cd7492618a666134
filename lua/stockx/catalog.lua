--- stockx.catalog: the StockX catalog for scripts.  Search (free text,
-- style id or GTIN), products, variants, a variant by GTIN, and market
-- data per variant or per product (one request for every size: prefer it,
-- the daily quota is small).  `market` is the one function that reads a
-- market-data record for a channel (STANDARD, FLEX, DIRECT), so that no
-- script picks another channel's block by mistake.
--
--   local catalog = stockx.catalog
--   for p in catalog.search("dunk low", { limit = 20 }) do print(p.title) end
--   local md = catalog.market_data(pid)            -- { [variantId] = record }
--   local m = catalog.market(md[vid], "FLEX")      -- money values or nil
--
-- Records (products, variants, market data) come back as StockX sends them;
-- every price this module computes is a stockx.money value.

local stockx = require "stockx"
local args = require "stockx.args"
local money = require "stockx.money"

local M = {}

local null = stockx.json.null

---------------------------------------------------------------------------
-- Argument checks
---------------------------------------------------------------------------

local argerror = args.error

local function got(v)
  return v == nil and "no value" or type(v)
end

-- An id that goes into a path: letters, digits, '-' and '_' only, so that
-- no value can add a segment, a query or a dot segment.
local function check_id(fname, pos, name, v)
  if type(v) ~= "string" then
    argerror(fname, pos, name, "string expected, got " .. got(v))
  end
  if not v:match("^[%w_%-]+$") then
    argerror(fname, pos, name, string.format(
      "an id of letters, digits, '-' and '_' expected, got %q", v))
  end
  return v
end

local function check_table(fname, pos, name, v)
  if v ~= nil and type(v) ~= "table" then
    argerror(fname, pos, name, "table expected, got " .. type(v))
  end
  return v
end

local function check_count(fname, pos, name, v, lo, hi)
  if v == nil then return nil end
  if math.type(v) ~= "integer" or v < lo or (hi and v > hi) then
    argerror(fname, pos, name, hi
      and string.format("an integer from %d to %d expected, got %s", lo, hi,
        tostring(v))
      or string.format("an integer >= %d expected, got %s", lo, tostring(v)))
  end
  return v
end

---------------------------------------------------------------------------
-- Search
---------------------------------------------------------------------------

local SEARCH_PAGE = 50 -- StockX's largest page for /catalog/search

local function check_query(fname, q)
  if type(q) ~= "string" then
    argerror(fname, 1, "query", "string expected, got " .. got(q))
  end
  local n = utf8.len(q) or #q
  if n < 1 or n > 100 then
    argerror(fname, 1, "query", "1 to 100 characters expected, got " .. n)
  end
  return q
end

-- An iterator over at most `limit` items of stockx.paginate(path, query),
-- fetching no page beyond the one that holds the last of them.  Returns
-- the generic-for values, paginate's closer included (leaving the loop
-- early cancels the page fetched ahead).
local function limited(path, query, opts)
  local limit, max_pages = opts.limit, opts.max_pages
  if limit == 0 then return function() return nil end end
  if limit then
    local size = query.pageSize
    if size > limit then
      size = limit
      query.pageSize = size
    end
    local need = (limit + size - 1) // size
    max_pages = max_pages and math.min(max_pages, need) or need
  end
  local iter, state, ctl, closer = stockx.paginate(path, query,
    { max_pages = max_pages })
  local n = 0
  return function()
    if limit and n >= limit then return nil end
    local item, page = iter(state, ctl)
    if item == nil then return nil end
    n = n + 1
    return item, page
  end, nil, nil, closer
end

--- Searches the catalog: free text, a style id ("DD1391-100") or a GTIN.
-- A generic-for iterator over the products, following the pages
-- (`for product, page in catalog.search("dunk") do ... end`).
-- @param query string of 1 to 100 characters
-- @param opts optional table: `limit` (stop after this many products,
--   fetching no page beyond them), `max_pages`, `page_size` (1 to 50,
--   default 50, or `limit` when smaller)
-- @return iterator yielding product, page
function M.search(query, opts)
  local fname = "stockx.catalog.search"
  check_query(fname, query)
  check_table(fname, 2, "opts", opts)
  opts = opts or {}
  local limit = check_count(fname, 2, "opts.limit", opts.limit, 0)
  local max_pages = check_count(fname, 2, "opts.max_pages", opts.max_pages, 1)
  local size = check_count(fname, 2, "opts.page_size", opts.page_size, 1,
    SEARCH_PAGE) or SEARCH_PAGE
  return limited("/catalog/search", { query = query, pageSize = size },
    { limit = limit, max_pages = max_pages })
end

--- The best match of a search, or nil: one request for a page of one.
-- @param query string of 1 to 100 characters
-- @return product or nil
function M.find(query)
  check_query("stockx.catalog.find", query)
  local page = stockx.get("/catalog/search", { query = query, pageSize = 1 })
  local p = type(page) == "table" and type(page.products) == "table"
    and page.products[1]
  return p or nil
end

---------------------------------------------------------------------------
-- Products and variants
---------------------------------------------------------------------------

--- A product (with sizeChart, isFlexEligible and isDirectEligible, which
-- search results lack).
-- @param productId string
-- @return product, res
function M.product(productId)
  check_id("stockx.catalog.product", 1, "productId", productId)
  return stockx.get("/catalog/products/" .. productId)
end

--- The variants (sizes) of a product: StockX's bare array.
-- @param productId string
-- @return array of variants, res
function M.variants(productId)
  check_id("stockx.catalog.variants", 1, "productId", productId)
  return stockx.get("/catalog/products/" .. productId .. "/variants")
end

--- One variant of a product (400 when it belongs to another product).
-- @param productId string
-- @param variantId string
-- @return variant, res
function M.variant(productId, variantId)
  local fname = "stockx.catalog.variant"
  check_id(fname, 1, "productId", productId)
  check_id(fname, 2, "variantId", variantId)
  return stockx.get("/catalog/products/" .. productId .. "/variants/"
    .. variantId)
end

--- The variant with this GTIN (UPC, EAN, ITF-14), or nil when StockX
-- knows none (404); other failures raise.
-- @param gtin string of digits
-- @return variant (with productId) or nil, res
function M.variant_by_gtin(gtin)
  local fname = "stockx.catalog.variant_by_gtin"
  if type(gtin) ~= "string" then
    argerror(fname, 1, "gtin", "string expected, got " .. got(gtin))
  end
  if not gtin:match("^%d+$") then
    argerror(fname, 1, "gtin", string.format("digits expected, got %q", gtin))
  end
  local ok, v, res = pcall(stockx.get, "/catalog/products/variants/gtins/"
    .. gtin)
  if ok then return v, res end
  if stockx.is_error(v) and v.kind == "http" and v.status == 404 then
    return nil
  end
  error(v, 0)
end

---------------------------------------------------------------------------
-- Sizes: "US M 10", "10", "EU 44", "UK 9", "W 11.5", "M 10 / W 11.5"
---------------------------------------------------------------------------

local SYSTEMS = { ["us m"] = "us m", ["m"] = "us m", ["us"] = "us m",
  ["men"] = "us m", ["us w"] = "us w", ["w"] = "us w", ["women"] = "us w",
  ["uk"] = "uk", ["eu"] = "eu", ["cm"] = "cm", ["jp"] = "cm" }

-- "10.0" -> "10", " 9,5 " -> "9.5"; sizes like "M", "XL", "OS" upper-cased
local function norm_value(v)
  v = tostring(v):gsub("^%s+", ""):gsub("%s+$", ""):gsub(",", ".")
  if v:match("^%d+%.?%d*$") then
    v = v:gsub("%.0+$", ""):gsub("(%.%d-)0+$", "%1")
    return v
  end
  return v:upper()
end

-- One notation -> {system = "us m" | ... | nil, value = "10"}, or nil.
local function parse_one(s)
  s = s:lower():gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s+", " ")
  local sys, val = s:match("^(%a[%a ]-)%s*(%d+[%.,]?%d*)$")
  if sys then
    sys = sys:gsub("%s+$", "")
    local known = SYSTEMS[sys]
    if not known then return nil end
    return { system = known, value = norm_value(val) }
  end
  if s ~= "" then return { value = norm_value(s) } end
end

--- Parses a size in a common notation: "US M 10", "10", "EU 44", "UK 9",
-- "W 11.5", "M 10 / W 11.5" (every part must match).
-- @return an array of {system=, value=}, or nil if it cannot be read
function M.parse_size(s)
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then return nil end
  local parts = {}
  for part in s:gmatch("[^/]+") do
    local p = parse_one(part)
    if not p then return nil end
    parts[#parts + 1] = p
  end
  return #parts > 0 and parts or nil
end

-- The sizes a variant answers to: its own value, and each conversion.
local function variant_sizes(v)
  local out = { { system = nil, value = norm_value(v.variantValue) } }
  local chart = v.sizeChart
  local conv = type(chart) == "table" and chart.availableConversions
  if type(conv) == "table" then
    for _, c in ipairs(conv) do
      local p = type(c.size) == "string" and parse_one(c.size)
      if p then
        p.system = p.system or (type(c.type) == "string" and SYSTEMS[c.type:lower()])
        out[#out + 1] = p
      end
    end
  end
  return out
end

-- A size without a system is StockX's default, US men's (or a letter
-- size); the variant's own value is in that system too.
local function fits(want, have)
  local sys = want.system or "us m"
  for _, h in ipairs(have) do
    if h.value == want.value and (h.system or "us m") == sys then return true end
  end
  return false
end

--- The variant of a size among variants (StockX's variant objects).
-- @return the variant, or nil and why ("no size X" / "X matches several")
function M.variant_for_size(variants, size)
  local want = M.parse_size(size)
  if not want then
    argerror("stockx.catalog.variant_for_size", 2, "size",
      "a size such as \"US M 10\", \"10\", \"EU 44\" expected, got " .. tostring(size))
  end
  local found
  for _, v in ipairs(variants) do
    local have, ok = variant_sizes(v), true
    for _, w in ipairs(want) do ok = ok and fits(w, have) end
    if ok then
      if found and found ~= v then return nil, "size " .. size .. " matches several variants" end
      found = v
    end
  end
  if not found then return nil, "no size " .. size end
  return found
end

--- Style id + size -> the variant (and its product): one search request
-- and one variants request.  The style id must match a product's styleId
-- exactly (any case).
-- @return variant, product; or nil and why
function M.lookup(style_id, size)
  if type(style_id) ~= "string" or style_id == "" then
    argerror("stockx.catalog.lookup", 1, "style_id", "string expected, got " .. got(style_id))
  end
  local product
  for p in M.search(style_id, { limit = 10 }) do
    if type(p.styleId) == "string" and p.styleId:lower() == style_id:lower() then
      product = p
      break
    end
  end
  if not product then return nil, "no product with style id " .. style_id end
  local v, why = M.variant_for_size(M.variants(product.productId), size)
  if not v then return nil, why .. " for " .. style_id end
  return v, product
end

---------------------------------------------------------------------------
-- Market data
---------------------------------------------------------------------------

-- Currencies StockX gives market data in (its currencyCode enum) that
-- stockx.money can hold.
local MD_CURRENCIES = {}
for c in ("AUD BRL CAD CHF CLP CNY DKK EUR GBP HKD HUF IDR ILS JPY KRW KWD "
  .. "MOP MXN MYR NOK NZD PEN PHP PLN SEK SGD THB TWD USD VND"):gmatch("%u+")
do
  if money.DIGITS[c] then MD_CURRENCIES[c] = true end
end

local function currency_query(fname, pos, opts)
  check_table(fname, pos, "opts", opts)
  local c = opts and opts.currency
  if c == nil then return nil end
  if type(c) ~= "string" or not MD_CURRENCIES[c] then
    local list = {}
    for k in pairs(MD_CURRENCIES) do list[#list + 1] = k end
    table.sort(list)
    argerror(fname, pos, "opts.currency", string.format(
      "one of %s expected, got %s", table.concat(list, ", "),
      type(c) == "string" and string.format("%q", c) or got(c)))
  end
  return { currencyCode = c }
end

--- Market data.  Without variantId: ONE request for the whole product
-- (`/catalog/products/{id}/market-data`), returned as a table keyed by
-- variantId; it does not take your own live asks into account.  With
-- variantId: the per-variant endpoint, whose record does include your
-- asks.  Read a record with `catalog.market(record, channel)`.
-- @param productId string
-- @param variantId optional string
-- @param opts optional table: `currency` (default USD, StockX's default)
-- @return { [variantId] = record } or one record, then res
function M.market_data(productId, variantId, opts)
  local fname = "stockx.catalog.market_data"
  check_id(fname, 1, "productId", productId)
  local opts_pos = 3
  if type(variantId) == "table" and opts == nil then
    variantId, opts, opts_pos = nil, variantId, 2
  end
  local query = currency_query(fname, opts_pos, opts)
  local base = "/catalog/products/" .. productId
  if variantId ~= nil then
    check_id(fname, 2, "variantId", variantId)
    return stockx.get(base .. "/variants/" .. variantId .. "/market-data",
      query)
  end
  local list, res = stockx.get(base .. "/market-data", query)
  local by_variant = {}
  for _, md in ipairs(type(list) == "table" and list or {}) do
    if type(md) == "table" and md.variantId ~= nil then
      by_variant[md.variantId] = md
    end
  end
  return by_variant, res
end

local CHANNELS = { STANDARD = "standardMarketData", FLEX = "flexMarketData",
  DIRECT = "directMarketData" }

-- The channel named by a string or by a listing's inventoryType.
local function channel_of(fname, pos, v)
  local ch = v
  if type(v) == "table" then
    ch = v.inventoryType
    if ch == nil or ch == null then ch = "STANDARD" end
  end
  if type(ch) ~= "string" or not CHANNELS[ch] then
    argerror(fname, pos, "channel", "\"STANDARD\", \"FLEX\", \"DIRECT\" or "
      .. "a listing expected, got " .. (type(ch) == "string"
        and string.format("%q", ch) or got(ch)))
  end
  return ch
end

-- A value that is there: not nil and not JSON null.
local function present(v)
  if v == nil or v == null then return nil end
  return v
end

--- What the market looks like for one channel, from a market-data record
-- (an element of either endpoint).  Numbers come only from that channel:
-- its block (`standardMarketData`, `flexMarketData`, `directMarketData`);
-- a number missing or null there is taken from a top-level field of the
-- same channel where StockX has one (`lowestAskAmount`, `highestBidAmount`,
-- `sellFasterAmount`, `earnMoreAmount` for STANDARD; `flexLowestAskAmount`
-- for FLEX's lowest ask), never from another channel.
-- @param md a market-data record
-- @param channel "STANDARD", "FLEX" or "DIRECT", or a listing (its
--   inventoryType; STANDARD when it has none)
-- @return {channel=, currency=, lowest_ask=, highest_bid=, sell_faster=,
--   earn_more=, beat_us=}: stockx.money values, nil where StockX has none
function M.market(md, channel)
  local fname = "stockx.catalog.market"
  if type(md) ~= "table" then
    argerror(fname, 1, "md", "market-data record expected, got " .. got(md))
  end
  local ch = channel_of(fname, 2, channel)
  local currency = md.currencyCode
  if type(currency) ~= "string" or not money.DIGITS[currency] then
    argerror(fname, 1, "md", "market-data record with a known currencyCode "
      .. "expected, got " .. tostring(currency))
  end
  local block = present(md[CHANNELS[ch]])
  if type(block) ~= "table" then block = {} end
  local top = {}
  if ch == "STANDARD" then
    top = { lowestAsk = md.lowestAskAmount,
      highestBidAmount = md.highestBidAmount,
      sellFaster = md.sellFasterAmount, earnMore = md.earnMoreAmount }
  elseif ch == "FLEX" then
    top = { lowestAsk = md.flexLowestAskAmount }
  end
  local function price(key)
    local v = present(block[key]) or present(top[key])
    return v and money.parse(v, currency) or nil
  end
  return { channel = ch, currency = currency, lowest_ask = price "lowestAsk",
    highest_bid = price "highestBidAmount", sell_faster = price "sellFaster",
    earn_more = price "earnMore", beat_us = price "beatUS" }
end

-- The product and variant ids of a listing (or order).
local function listing_ids(fname, listing)
  if type(listing) ~= "table" then
    argerror(fname, 1, "listing", "table expected, got " .. got(listing))
  end
  local p, v = present(listing.product), present(listing.variant)
  local pid = type(p) == "table" and p.productId or nil
  local vid = type(v) == "table" and v.variantId or nil
  if type(pid) ~= "string" or type(vid) ~= "string" then
    argerror(fname, 1, "listing", "a listing with product.productId and "
      .. "variant.variantId expected")
  end
  return pid, vid
end

--- The market of a listing's own variant and channel (its inventoryType).
-- With `md_by_variant` (what `market_data(productId)` returns) no request is
-- made; without it, one per-variant request in the listing's currency.
-- For several listings of one product, read market_data(productId) once.
-- @param listing a listing (or order) with product, variant, inventoryType
-- @param md_by_variant optional { [variantId] = record }
-- @return the table `market` returns
function M.market_for(listing, md_by_variant)
  local fname = "stockx.catalog.market_for"
  local pid, vid = listing_ids(fname, listing)
  local ch = channel_of(fname, 1, listing)
  local md
  if md_by_variant ~= nil then
    check_table(fname, 2, "md_by_variant", md_by_variant)
    md = md_by_variant[vid]
    if md == nil then
      argerror(fname, 2, "md_by_variant", "no market data for variant " .. vid)
    end
  else
    local c = present(listing.currencyCode)
    md = M.market_data(pid, vid,
      MD_CURRENCIES[c] and { currency = c } or nil)
  end
  return M.market(md, ch)
end

M._internal = { limited = limited }

return M
