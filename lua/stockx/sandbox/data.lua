--- The sandbox's data: a catalog generated from the seed (products, size
-- variants, GTINs, the market's own asks and bids), the seller account
-- (listings, their operations, active and historical orders) and the
-- indexes over it; the account is the state that --state saves and loads.
local server = require("stockx.server")
local json = require("stockx.sandbox.json")
local util = require("stockx.sandbox.util")

local array, null = json.array, json.null
local iso, money = util.iso, util.money

local M = {}

M.VERSION = 1
M.NUM_LISTINGS = 250 -- visible in the default listing
M.NUM_EXPIRED = 6    -- more, only seen with isExpired=true

--------------------------------------------------------------------------
-- The catalog: fixed product templates, seeded ids, sizes and prices.
-- {brand, title, styleId (false: null), colorway, releaseDate, retail,
--  productType, sizing ("shoe", "apparel", "one")}
--------------------------------------------------------------------------

M.PRODUCTS = {
  { "Nike", "Nike Dunk Low Retro White Black Panda", "DD1391-100",
    "White/Black", "2021-03-10", 115 },
  { "Nike", "Nike Dunk Low Medium Curry", "DD1390-100",
    "Sail/Medium Curry-Fossil", "2021-03-29", 125 },
  { "Nike", "Nike Dunk Low Grey Fog", "DD1391-103",
    "White/Grey Fog", "2021-06-18", 110 },
  { "Jordan", "Jordan 1 Retro High OG Chicago Lost and Found", "DZ5485-612",
    "Varsity Red/Black-Sail-Muslin", "2022-11-19", 180 },
  { "Jordan", "Jordan 4 Retro Military Black", "DH6927-111",
    "White/Black-Neutral Grey", "2022-05-21", 210 },
  { "adidas", "adidas Yeezy Boost 350 V2 Bone", "HQ6316",
    "Bone/Bone/Bone", "2022-03-22", 230 },
  { "New Balance", "New Balance 550 White Green", "BB550WT1",
    "White/Green", "2021-01-15", 110 },
  { "Nike", "Nike Air Force 1 Low '07 White", "CW2288-111",
    "White/White", "2019-11-01", 110 },
  { "Jordan", "Jordan 11 Retro Cherry (2022)", "CT8012-116",
    "White/Varsity Red-Black", "2022-12-10", 225 },
  { "Jordan", "Jordan 3 Retro White Cement Reimagined", "DN3707-100",
    "Summit White/Fire Red-Black-Cement Grey", "2023-03-11", 210 },
  { "Nike", "Nike SB Dunk Low Jarritos", "FD0860-001",
    "Phantom/Safety Orange-Malachite", "2023-03-31", 120 },
  { "adidas", "adidas Samba OG Cloud White Core Black", "B75806",
    "Cloud White/Core Black/Clear Granite", "2018-01-01", 100 },
  { "New Balance", "New Balance 2002R Protection Pack Rain Cloud",
    "M2002RDA", "Grey/Grey", "2021-08-14", 150 },
  { "Nike", "Nike Air Max 1 '86 OG Big Bubble Red", "DQ3989-100",
    "White/University Red", "2023-03-26", 150 },
  { "Jordan", "Jordan 1 Retro Low OG Black Toe (2023)", "CZ0790-106",
    "White/Black-Varsity Red", "2023-08-24", 140 },
  { "Nike", "Nike Kobe 6 Protro Grinch", "CW2190-300",
    "Green Apple/Volt-Crimson-Black", "2020-12-24", 180 },
  { "adidas", "adidas Yeezy Slide Onyx", "HQ6448",
    "Onyx/Onyx/Onyx", "2022-03-07", 60 },
  { "ASICS", "ASICS Gel-Kayano 14 Cream Black", "1201A019-108",
    "Cream/Black", "2022-07-01", 150 },
  { "Jordan", "Jordan 5 Retro Aqua (2021)", "DD0587-047",
    "Black/Aquatone-Taxi", "2021-08-21", 200 },
  { "Salomon", "Salomon XT-6 Black Phantom", "L41086600",
    "Black/Black/Phantom", "2020-01-01", 180 },
  { "Converse", "Converse Chuck Taylor All Star 70 Hi Comme des Garcons "
    .. "PLAY Black", "150204C", "Black/White/High Risk Red", "2015-05-01",
    150 },
  { "Supreme", "Supreme Box Logo Hooded Sweatshirt (FW23) Black", false,
    "Black", "2023-12-14", 168, "streetwear", "apparel" },
  { "Fear of God", "Fear of God Essentials Hoodie Dark Oatmeal", false,
    "Dark Oatmeal", "2023-02-10", 90, "streetwear", "apparel" },
  { "Nike", "Nike x Stussy Fleece Pant Black", "DO5297-010",
    "Black", "2022-11-11", 110, "streetwear", "apparel" },
  { "KAWS", "KAWS Holiday Singapore Figure Brown", false,
    "Brown", "2019-11-29", 60, "collectibles", "one" },
  { "Sony", "Sony PlayStation 5 Console (Disc Edition)", "CFI-1215A",
    "White", "2020-11-12", 500, "electronics", "one" },
}

-- The product whose listings cannot be activated ("Item is not sellable").
M.UNSELLABLE = 21
-- The product nobody else asks for (a repricer's "no competition" case):
-- the Nike Dunk Low Grey Fog.
M.NO_ASKS = 3

local SIZES = { "4", "4.5", "5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5",
  "9", "9.5", "10", "10.5", "11", "11.5", "12", "12.5", "13", "14" }
local EU = { "36", "36.5", "37.5", "38", "38.5", "39", "40", "40.5", "41",
  "42", "42.5", "43", "44", "44.5", "45", "45.5", "46", "47", "47.5", "48.5" }
local APPAREL = { "XS", "S", "M", "L", "XL", "XXL" }

local function shoe_chart(si)
  local us = tonumber(SIZES[si])
  local conv = array{
    { size = "US M " .. SIZES[si], type = "us m" },
    { size = "UK " .. (us - 0.5), type = "uk" },
    { size = "EU " .. EU[si], type = "eu" },
    { size = "US W " .. (us + 1.5), type = "us w" },
  }
  for _, c in ipairs(conv) do c.size = c.size:gsub("%.0$", "") end
  return { defaultConversion = { size = SIZES[si], type = "us m" },
           availableConversions = conv }
end

local function apparel_chart(size)
  return { defaultConversion = { size = size, type = "clothing" },
           availableConversions = array{ { size = size, type = "clothing" } } }
end

-- The GS1 check digit of a digit string.
local function check_digit(s)
  local sum = 0
  for i = #s, 1, -1 do
    local w = (#s - i) % 2 == 0 and 3 or 1
    sum = sum + tonumber(s:sub(i, i)) * w
  end
  return tostring((10 - sum % 10) % 10)
end

local function make_gtins(r)
  if r:float() < 0.1 then return array() end
  if r:float() < 0.2 then
    local body = "40" .. r:digits(10)
    return array{ { identifier = body .. check_digit(body), type = "EAN-13" } }
  end
  local body = "19" .. r:digits(9)
  return array{ { identifier = body .. check_digit(body), type = "UPC" } }
end

-- The other sellers' side of a variant's market, in US cents (false:
-- nobody): some fields missing on purpose (lowestAskAmount null).
local function make_base(r, price)
  local c = price * 100
  return {
    ask = r:float() >= 0.15 and c or false,
    bid = r:float() >= 0.1 and c - r:int(5, 40) * 100 or false,
    more = c + r:int(3, 25) * 100,
    flex = r:float() >= 0.5 and c + 400 or false,
    direct = r:float() >= 0.8 and c + 900 or false,
  }
end

local function variant_values(r, sizing)
  local out = {}
  if sizing == "one" then
    out[1] = { value = "OS", chart = { availableConversions = array(),
                                       defaultConversion = null } }
  elseif sizing == "apparel" then
    for i = r:int(1, 2), #APPAREL do
      out[#out + 1] = { value = APPAREL[i], chart = apparel_chart(APPAREL[i]) }
    end
  else
    local first = r:int(5, 10)
    for si = first, math.min(#SIZES, first + r:int(7, 11)) do
      out[#out + 1] = { value = SIZES[si], chart = shoe_chart(si) }
    end
  end
  return out
end

local function make_variants(r, cat, p, tpl)
  local variants = array()
  for k, sv in ipairs(variant_values(r, tpl[8] or "shoe")) do
    local v = {
      productId = p.productId, variantId = r:uuid(),
      variantName = util.slug(p.title) .. ":" .. (k - 1),
      variantValue = sv.value, sizeChart = sv.chart,
      gtins = make_gtins(r), isFlexEligible = r:float() < 0.6,
      isDirectEligible = r:float() < 0.3,
    }
    variants[k] = v
    cat.variant_by_id[v.variantId] = v
    for _, g in ipairs(v.gtins) do cat.gtin[g.identifier] = v end
    local price = math.floor(tpl[6] * (0.8 + r:float() * 1.4))
    cat.price[v.variantId] = price
    cat.base[v.variantId] = make_base(r, price)
  end
  return variants
end

local CHARTS = {
  shoe = { { "US M", "us m" }, { "UK", "uk" }, { "EU", "eu" },
           { "US W", "us w" } },
  apparel = { { "Clothing", "clothing" } },
  one = {},
}

-- The Product-only fields: sizeChart {name, type} and eligibility.
local function product_extra(p, variants, sizing)
  local conv = array()
  for i, c in ipairs(CHARTS[sizing]) do
    conv[i] = { name = c[1], type = c[2] }
  end
  local flex, direct = false, false
  for _, v in ipairs(variants) do
    flex = flex or v.isFlexEligible
    direct = direct or v.isDirectEligible
  end
  return { sizeChart = { availableConversions = conv,
                         defaultConversion = conv[1] or null },
           isFlexEligible = flex, isDirectEligible = direct,
           hay = (p.title .. " " .. p.brand .. " " .. (p.styleId ~= null
             and p.styleId or "") .. " " .. p.urlKey):lower() }
end

local function make_product(seed, i, cat)
  local tpl, r = M.PRODUCTS[i], util.new_rng(seed, 1, i)
  local sizing = tpl[8] or "shoe"
  local p = {
    productId = r:uuid(), brand = tpl[1], productType = tpl[7] or "sneakers",
    styleId = tpl[3] or null, urlKey = util.slug(tpl[2]:lower()),
    title = tpl[2],
    productAttributes = { color = null, colorway = tpl[4],
      gender = sizing == "shoe" and "men" or sizing == "apparel"
        and "unisex" or null,
      releaseDate = tpl[5], retailPrice = tpl[6],
      season = tpl[7] == "streetwear" and "FW23" or null },
  }
  cat.products[i] = p
  cat.product_by_id[p.productId] = p
  local vs = make_variants(r, cat, p, tpl)
  cat.variants_of[p.productId] = vs
  cat.extra[p.productId] = product_extra(p, vs, sizing)
end

--- The catalog for a seed (never changes while the sandbox runs).
-- @return {products, product_by_id, variants_of, variant_by_id, gtin,
--   price, base, extra, unsellable = {[productId] = true}, unsellable_id}
function M.catalog(seed)
  local cat = { products = array(), product_by_id = {}, variants_of = {},
    variant_by_id = {}, gtin = {}, price = {}, base = {}, extra = {},
    unsellable = {} }
  for i = 1, #M.PRODUCTS do make_product(seed, i, cat) end
  cat.unsellable_id = cat.products[M.UNSELLABLE].productId
  cat.unsellable[cat.unsellable_id] = true
  cat.no_asks_id = cat.products[M.NO_ASKS].productId
  for _, v in ipairs(cat.variants_of[cat.no_asks_id]) do
    local b = cat.base[v.variantId]
    b.ask, b.flex, b.direct = false, false, false
  end
  return cat
end

--------------------------------------------------------------------------
-- The account: listings, their operations and the orders that matched
-- them, timed relative to the epoch (a past UTC midnight).
--------------------------------------------------------------------------

local LISTING_STATUSES = { { "ACTIVE", 60 }, { "INACTIVE", 14 },
  { "MATCHED", 9 }, { "COMPLETED", 11 }, { "CANCELED", 4 } }
local ACTIVE_ORDER = { "CREATED", "SHIPPED", "RECEIVED", "AUTHENTICATING",
  "AUTHENTICATED", "PAYOUTPENDING" }
local HISTORY_ORDER = { { "COMPLETED", 70 }, { "CANCELED", 10 },
  { "RETURNED", 8 }, { "AUTHFAILED", 6 }, { "DIDNOTSHIP", 6 } }

local function no_changes()
  return { additions = {}, updates = {}, removals = {} }
end

local function make_operation(r, l, k, n, t)
  local ty = k == 1 and "CREATE"
    or (k == n and l.status == "INACTIVE") and "DEACTIVATE"
    or r:weighted{ { "UPDATE", 6 }, { "DEACTIVATE", 1 }, { "ACTIVATE", 1 } }
  local failed = k > 1 and k < n and r:float() < 0.08
  local amount = k == n and l.amount or money(r:int(60, 400) * 100)
  local changes = no_changes()
  if not failed and ty == "CREATE" then
    changes.additions = { amount = amount, currencyCode = "USD",
                          listingId = l.listingId, status = "ACTIVE" }
  elseif not failed and ty == "UPDATE" then
    changes.updates = { amount = amount }
  elseif not failed then
    changes.updates = { status = ty == "ACTIVATE" and "ACTIVE" or "INACTIVE" }
  end
  return {
    listingId = l.listingId, operationId = r:uuid(), operationType = ty,
    operationStatus = failed and "FAILED" or "SUCCEEDED",
    operationInitiatedBy = "USER",
    operationInitiatedVia = r:pick{ "PUBLIC-API", "PUBLIC-API", "WEB", "IOS" },
    createdAt = iso(t), updatedAt = iso(t + 1), changes = changes,
    error = failed and "Listing amount is below the minimum" or null,
  }
end

-- Listing 1 has 25 operations (three pages of 10); listing i has i % 7 + 1.
local function make_operations(r, l, i, t)
  local n = i == 1 and 25 or i % 7 + 1
  local ops = array()
  for k = 1, n do
    t = t + r:int(600, 36000)
    ops[k] = make_operation(r, l, k, n, t + r:int(0, 999) / 1000)
  end
  return ops, t
end

local function make_ask(r, t, ttl)
  return { askId = r:ask_id(), askCreatedAt = iso(t), askUpdatedAt = iso(t),
           askExpiresAt = iso(t + (ttl or 365 * 86400)) }
end

local function order_number(r, flex)
  if flex then
    return "02-" .. (r:token(10):upper():gsub("[%-_]", "X"))
  end
  local n1 = r:int(40000000, 79999999)
  return string.format("%d-%d", n1, n1 - r:int(90000, 110000))
end

local function make_order(r, st, l, t)
  local active = l.status == "MATCHED"
  local o = {
    orderNumber = order_number(r, l.inventoryType == "FLEX"),
    listingId = l.listingId, askId = l.ask.askId, amount = l.amount,
    currencyCode = "USD",
    status = active and r:pick(ACTIVE_ORDER) or r:weighted(HISTORY_ORDER),
    createdAt = iso(t), updatedAt = iso(t + r:int(3600, 7 * 86400)),
    product = l.product, variant = l.variant, authenticationDetails = null,
    payout = null, initiatedShipments = l.initiatedShipments,
    inventoryType = l.inventoryType, condition = null,
    conditionDescription = null,
  }
  if o.status == "AUTHFAILED" then
    o.authenticationDetails = { status = "FAILED",
                                failureNotes = "Item did not pass checks" }
  end
  local list = active and st.active_orders or st.history_orders
  list[#list + 1] = o
  st.shipping[o.orderNumber] = { id = "S-" .. r:int(100000000, 999999999),
    tracking = string.format("1Z%016d", r:int(0, 9999999999999999)),
    ship_by = iso(t + 3 * 86400 - 1) }
  l.order = { orderNumber = o.orderNumber, orderCreatedAt = o.createdAt,
              orderStatus = o.status }
end

local function new_listing(r, p, v, status, t)
  return {
    listingId = r:uuid(), status = status, amount = null,
    currencyCode = "USD", inventoryType = "STANDARD",
    createdAt = iso(t), updatedAt = iso(t), batch = null, ask = null,
    authenticationDetails = null, order = null, initiatedShipments = null,
    condition = null, conditionDescription = null,
    product = { productId = p.productId, productName = p.title,
                styleId = p.styleId },
    variant = { variantId = v.variantId, variantName = v.variantName,
                variantValue = v.variantValue },
  }
end

local function make_listing(seed, i, st, cat)
  local r = util.new_rng(seed, 2, i)
  -- never the unsellable product (the last sneaker)
  local pi = r:int(1, #cat.products - 1)
  if pi >= M.UNSELLABLE then pi = pi + 1 end
  local p = cat.products[pi]
  local v = r:pick(cat.variants_of[p.productId])
  local t = st.epoch + (i - 1) * 6 * 3600 + r:int(0, 3599)
    + r:int(0, 999) / 1000
  local l = new_listing(r, p, v, r:weighted(LISTING_STATUSES), t)
  l.amount = money((cat.price[v.variantId] + r:int(-10, 30)) * 100)
  l.inventoryType = r:weighted{ { "STANDARD", 90 }, { "FLEX", 7 },
                                { "DIRECT", 3 } }
  if l.inventoryType == "FLEX" then
    l.initiatedShipments = { inbound = { displayId = "IS-" .. r:digits(8) } }
  end
  if l.status ~= "CANCELED" then l.ask = make_ask(r, t) end
  local ops, last = make_operations(r, l, i, t)
  l.updatedAt = ops[#ops].updatedAt
  if l.status == "MATCHED" or l.status == "COMPLETED" then
    make_order(r, st, l, last + r:int(3600, 86400))
  end
  st.listings[#st.listings + 1] = l
  st.ops[l.listingId] = ops
end

-- Listings whose ask expired a while ago (INACTIVE, shown only with
-- isExpired=true), created a year and a bit before the epoch.
local function make_expired(seed, k, st, cat)
  local r = util.new_rng(seed, 4, k)
  local p = cat.products[r:int(1, M.UNSELLABLE - 1)]
  local v = r:pick(cat.variants_of[p.productId])
  local t = st.epoch - (400 - k * 3) * 86400 + r:int(0, 86399)
  local l = new_listing(r, p, v, "INACTIVE", t)
  l.amount = money((cat.price[v.variantId] + r:int(0, 40)) * 100)
  l.ask = make_ask(r, t)
  local exp = util.parse_iso(l.ask.askExpiresAt)
  l.updatedAt = iso(exp + 1)
  local create = make_operation(r, l, 1, 2, t)
  local expire = make_operation(r, l, 2, 2, exp + 1)
  expire.operationInitiatedBy, expire.operationInitiatedVia =
    "SYSTEM", "INTERNAL-SYSTEM"
  st.listings[#st.listings + 1] = l
  st.ops[l.listingId] = array{ create, expire }
end

-- Makes sure the seed has a DIRECT active order (the JSON shipping
-- document endpoint only serves those) and one with a status string the
-- spec does not list.
local function special_orders(st)
  local function listing_of(o)
    for _, l in ipairs(st.listings) do
      if l.listingId == o.listingId then return l end
    end
  end
  local direct = st.active_orders[2]
  if direct then
    direct.inventoryType = "DIRECT"
    listing_of(direct).inventoryType = "DIRECT"
  end
  local odd = st.active_orders[4]
  if odd then
    odd.status = "UNKNOWN"
    listing_of(odd).order.orderStatus = "UNKNOWN"
  end
  -- three orders that still need a label, due to ship in the coming days
  -- (the epoch is 90 days before today)
  local now = st.epoch + 90 * 86400
  for k, i in ipairs{ 1, 3, 5 } do
    local o = st.active_orders[i]
    if o then
      o.status = "CREATED"
      o.createdAt = iso(now - k * 3600)
      o.updatedAt = o.createdAt
      listing_of(o).order.orderStatus = "CREATED"
      st.shipping[o.orderNumber].ship_by = iso(now + k * 86400 + 12 * 3600)
    end
  end
end

-- The n-th ACTIVE listing (in creation order), or nil.
local function nth_active(st, n)
  for _, l in ipairs(st.listings) do
    if l.status == "ACTIVE" and l.amount ~= null then
      n = n - 1
      if n == 0 then return l end
    end
  end
end

local function move_to(l, p, v)
  l.product = { productId = p.productId, productName = p.title,
                styleId = p.styleId }
  l.variant = { variantId = v.variantId, variantName = v.variantName,
                variantValue = v.variantValue }
end

--- The cases a repricer must handle, made sure of whatever the seed: two
-- of the seller's ACTIVE listings on one variant (the second 5 dearer),
-- an ACTIVE FLEX and an ACTIVE DIRECT listing, and an ACTIVE listing on
-- the product nobody else asks for.
local function repricer_cases(st, cat)
  local a, b = nth_active(st, 2), nth_active(st, 3)
  if a and b then
    b.inventoryType, a.inventoryType = "STANDARD", "STANDARD"
    b.initiatedShipments, a.initiatedShipments = null, null
    b.product = { productId = a.product.productId,
                  productName = a.product.productName,
                  styleId = a.product.styleId }
    b.variant = { variantId = a.variant.variantId,
                  variantName = a.variant.variantName,
                  variantValue = a.variant.variantValue }
    b.amount = money(util.parse_amount(a.amount) + 500)
  end
  local flex, direct = nth_active(st, 4), nth_active(st, 5)
  if flex then
    flex.inventoryType = "FLEX"
    flex.initiatedShipments = { inbound = { displayId = "IS-00000004" } }
  end
  if direct then
    direct.inventoryType, direct.initiatedShipments = "DIRECT", null
  end
  local lone = nth_active(st, 6)
  if lone then
    local p = cat.products[M.NO_ASKS]
    move_to(lone, p, cat.variants_of[p.productId][1])
    lone.inventoryType, lone.initiatedShipments = "STANDARD", null
  end
end

--- A fresh account for a seed.
-- @param seed integer
-- @param cat the catalog of the same seed
-- @param epoch seconds: a UTC midnight some 90 days before now
-- @return the state table (see M.index for what it holds)
function M.account(seed, cat, epoch)
  local st = {
    version = M.VERSION, seed = seed, epoch = epoch,
    listings = array(), ops = {}, active_orders = array(),
    history_orders = array(), shipping = {}, batches = {}, ingestions = {},
    pending = array(),
    oauth = { codes = {}, access = {}, refresh = {} },
    rng = util.new_rng(seed, 9, 0):save(),
  }
  for i = 1, M.NUM_LISTINGS do make_listing(seed, i, st, cat) end
  for k = 1, M.NUM_EXPIRED do make_expired(seed, k, st, cat) end
  special_orders(st)
  repricer_cases(st, cat)
  return st
end

--- Indexes over a state: listing_by_id, op_by_id, by_variant (variantId
-- -> listings), order_by_number.  Rebuilt after a load or reset, then
-- kept up to date by the routes that add things.
function M.index(st)
  local idx = { listing_by_id = {}, op_by_id = {}, by_variant = {},
                order_by_number = {} }
  for _, l in ipairs(st.listings) do M.add_listing(idx, l) end
  for _, ops in pairs(st.ops) do
    for _, op in ipairs(ops) do idx.op_by_id[op.operationId] = op end
  end
  for _, list in ipairs{ st.active_orders, st.history_orders } do
    for _, o in ipairs(list) do idx.order_by_number[o.orderNumber] = o end
  end
  return idx
end

function M.add_listing(idx, l)
  idx.listing_by_id[l.listingId] = l
  local vid = l.variant.variantId
  local list = idx.by_variant[vid]
  if not list then
    list = {}
    idx.by_variant[vid] = list
  end
  list[#list + 1] = l
end

--------------------------------------------------------------------------
-- Saving and loading (--state FILE).
--------------------------------------------------------------------------

--- Writes the state to path atomically: a new private (0600) temporary
-- file next to it, fsync, rename (stockx.server.save_file).
-- @return true, or nil and a message
function M.save(path, st)
  local ok, text = pcall(json.encode_fast, st)
  if not ok then return nil, text end
  return server.save_file(path, text)
end

local function arr(t)
  return array(type(t) == "table" and t or {})
end

-- Puts back the array marks that JSON decoding loses on empty arrays.
local function fix_arrays(st)
  st.listings, st.pending = arr(st.listings), arr(st.pending)
  st.active_orders, st.history_orders =
    arr(st.active_orders), arr(st.history_orders)
  for _, k in ipairs{ "ops", "shipping", "batches", "ingestions", "oauth" } do
    if type(st[k]) ~= "table" then st[k] = {} end
  end
  for k in pairs(st.ops) do st.ops[k] = arr(st.ops[k]) end
  for _, b in pairs(st.batches) do b.items = arr(b.items) end
  for _, g in pairs(st.ingestions) do
    g.items = arr(g.items)
    for _, it in ipairs(g.items) do
      for _, k in ipairs{ "productImages", "variants", "tags" } do
        if type(it.input) == "table" and type(it.input[k]) == "table" then
          it.input[k] = arr(it.input[k])
        end
      end
    end
  end
  for _, k in ipairs{ "codes", "access", "refresh" } do
    if type(st.oauth[k]) ~= "table" then st.oauth[k] = {} end
  end
end

--- Reads a state saved by M.save.
-- @return the state; nil when the file does not exist; or nil and a
--   message when it cannot be used
function M.load(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local st, e = json.decode(text)
  if type(st) ~= "table" then
    return nil, path .. ": not a sandbox state file (" .. tostring(e) .. ")"
  end
  if st.version ~= M.VERSION or not math.tointeger(st.seed)
    or not tonumber(st.epoch) then
    return nil, path .. ": not a sandbox state file of version " .. M.VERSION
  end
  st.seed = math.tointeger(st.seed)
  fix_arrays(st)
  return st
end

return M
