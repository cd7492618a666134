--- The local StockX sandbox: a fake of the StockX public API v2 served by
-- stockx.server in the runtime's own event loop, with deterministic seeded
-- data, test routes (/_test/...) and admin routes (/_sandbox/...) that
-- inject faults and rate limits.  The StockX routes live at the root: the
-- base URL is http://127.0.0.1:PORT, with no /v2 suffix.
local server = require("stockx.server")
local cjson = require("cjson")

local M = {}

local DEFAULT_API_KEY = "sandbox-api-key"
local DEFAULT_ACCESS_TOKEN = "sandbox-access-token"
local LOG_MAX = 20000
local NUM_LISTINGS = 250
-- StockX's spec says pageSize "starts at 1" by default, but a real search
-- without pageSize answered pageSize 10 and the orders history documents
-- 10; the sandbox uses 10 for every page-number and cursor endpoint.
local DEFAULT_PAGE_SIZE = 10

local null = cjson.null

--------------------------------------------------------------------------
-- JSON encoding: keys sorted (byte-identical output for a seed), arrays
-- marked so that an empty one encodes as [] and not {}.
--------------------------------------------------------------------------

local array_mt = {}

local function array(t)
  return setmetatable(t or {}, array_mt)
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t", ["\b"] = "\\b", ["\f"] = "\\f",
}

local function escape_char(c)
  return escapes[c] or string.format("\\u%04x", c:byte())
end

local encode_value

-- '"key":', escaped once per key; the cache is capped because keys can
-- come from clients (echoed query parameters and headers).
local key_cache, key_cache_size = {}, 0

local function key_prefix(k)
  local s = key_cache[k]
  if s then return s end
  s = '"' .. tostring(k):gsub('[%c"\\]', escape_char) .. '":'
  if key_cache_size < 4096 then
    key_cache[k], key_cache_size = s, key_cache_size + 1
  end
  return s
end

-- Sorted key lists, cached per table while its set of keys is unchanged.
local sorted_keys = setmetatable({}, { __mode = "k" })

local function keys_of(t)
  local keys, n = sorted_keys[t], 0
  for _ in pairs(t) do n = n + 1 end
  if keys and #keys == n then
    for i = 1, n do
      if t[keys[i]] == nil then keys = nil; break end
    end
    if keys then return keys end
  end
  keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  sorted_keys[t] = keys
  return keys
end

local function encode_array(t, out, n)
  n = n + 1; out[n] = "["
  for i = 1, #t do
    if i > 1 then n = n + 1; out[n] = "," end
    n = encode_value(t[i], out, n)
  end
  n = n + 1; out[n] = "]"
  return n
end

local function encode_object(t, out, n)
  n = n + 1; out[n] = "{"
  for i, k in ipairs(keys_of(t)) do
    if i > 1 then n = n + 1; out[n] = "," end
    n = n + 1; out[n] = key_prefix(k)
    n = encode_value(t[k], out, n)
  end
  n = n + 1; out[n] = "}"
  return n
end

local function encode_number(v)
  if v ~= v or v == math.huge or v == -math.huge then
    error("cannot encode " .. tostring(v) .. " as JSON")
  end
  return math.type(v) == "integer" and string.format("%d", v)
    or string.format("%.14g", v)
end

-- Appends the JSON for v to out[n+1...]; returns the new n.
function encode_value(v, out, n)
  local t = type(v)
  if t == "string" then
    if v:find('[%c"\\]') then v = v:gsub('[%c"\\]', escape_char) end
    out[n + 1], out[n + 2], out[n + 3] = '"', v, '"'
    return n + 3
  elseif t == "table" then
    if getmetatable(v) == array_mt or v[1] ~= nil then
      return encode_array(v, out, n)
    end
    return encode_object(v, out, n)
  elseif t == "number" then
    out[n + 1] = encode_number(v)
  elseif t == "boolean" then
    out[n + 1] = v and "true" or "false"
  elseif v == null or v == nil then
    out[n + 1] = "null"
  else
    error("cannot encode a " .. t .. " as JSON")
  end
  return n + 1
end

local function encode(v)
  local out = {}
  encode_value(v, out, 0)
  return table.concat(out)
end

--------------------------------------------------------------------------
-- Deterministic random numbers: splitmix64 on Lua's wrapping integers,
-- one generator per entity so that data for listing i depends only on the
-- seed and i.
--------------------------------------------------------------------------

local Rng = {}
Rng.__index = Rng

local function new_rng(seed, kind, i)
  local s = seed * 0x9E3779B97F4A7C15 + (kind or 0) * 0x632BE59BD9B4E019
    + (i or 0) * 0x2545F4914F6CDD1D
  return setmetatable({ state = s }, Rng)
end

function Rng:next()
  self.state = self.state + 0x9E3779B97F4A7C15
  local z = self.state
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end

--- An integer in lo..hi.
function Rng:int(lo, hi)
  return lo + (self:next() >> 11) % (hi - lo + 1)
end

--- A float in [0, 1).
function Rng:float()
  return (self:next() >> 11) * 2.0 ^ -53
end

function Rng:bits(n)
  return self:next() >> (64 - n)
end

function Rng:pick(t)
  return t[self:int(1, #t)]
end

function Rng:uuid()
  return string.format("%08x-%04x-4%03x-%04x-%012x", self:bits(32),
    self:bits(16), self:bits(12), 0x8000 | self:bits(14), self:bits(48))
end

-- Picks the key of {{key, weight}, ...} with probability weight / total.
function Rng:weighted(list)
  local total = 0
  for _, e in ipairs(list) do total = total + e[2] end
  local x = self:int(1, total)
  for _, e in ipairs(list) do
    x = x - e[2]
    if x <= 0 then return e[1] end
  end
end

--------------------------------------------------------------------------
-- Small formatting helpers: money as decimal strings, ISO-8601 times.
--------------------------------------------------------------------------

--- Integer cents -> "150" or "59.45" or "-16.55".
local function money(cents)
  local sign = cents < 0 and "-" or ""
  cents = math.abs(cents)
  if cents % 100 == 0 then return sign .. tostring(cents // 100) end
  return string.format("%s%d.%02d", sign, cents // 100, cents % 100)
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", t) .. ".000Z"
end

local function slug(s)
  return (s:gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", ""))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    for j = 3, 0, -1 do
      local k = (n >> (j * 6)) & 63
      out[#out + 1] = B64:sub(k + 1, k + 1)
    end
    if not c then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

local function b64decode(s)
  if #s % 4 ~= 0 or s:find("[^%w+/=]") then return nil end
  local out = {}
  for i = 1, #s, 4 do
    local n, pad = 0, 0
    for j = i, i + 3 do
      local ch = s:sub(j, j)
      local k = B64:find(ch, 1, true)
      if ch == "=" then pad = pad + 1; k = 1 end
      n = (n << 6) | (k - 1)
    end
    out[#out + 1] = string.char((n >> 16) & 255, (n >> 8) & 255, n & 255)
      :sub(1, 3 - pad)
  end
  return table.concat(out)
end

--------------------------------------------------------------------------
-- The catalog: fixed product templates, seeded ids, sizes and prices.
--------------------------------------------------------------------------

local PRODUCTS = {
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
}

local SIZES = { "4", "4.5", "5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5",
  "9", "9.5", "10", "10.5", "11", "11.5", "12", "12.5", "13", "14" }
local EU = { "36", "36.5", "37.5", "38", "38.5", "39", "40", "40.5", "41",
  "42", "42.5", "43", "44", "44.5", "45", "45.5", "46", "47", "47.5", "48.5" }

local function size_chart(si)
  local us = tonumber(SIZES[si])
  local conv = array{
    { size = "US M " .. SIZES[si], type = "us m" },
    { size = "UK " .. (us - 0.5) .. "", type = "uk" },
    { size = "EU " .. EU[si], type = "eu" },
    { size = "US W " .. (us + 1.5), type = "us w" },
  }
  for _, c in ipairs(conv) do c.size = c.size:gsub("%.0$", "") end
  return { defaultConversion = { size = SIZES[si], type = "us m" },
           availableConversions = conv }
end

local function make_gtins(r)
  if r:float() < 0.1 then return array() end
  return array{ { identifier = string.format("19%010d", r:int(0, 9999999999)),
                  type = "UPC" } }
end

-- Market data for one variant, around its price; some fields null.
local function make_market(r, product, variant, price)
  local ask = r:float() < 0.15 and null or money(price * 100)
  local bid = r:float() < 0.1 and null or money((price - r:int(5, 40)) * 100)
  local faster = ask == null and money((price - 2) * 100)
    or money((price - 1) * 100)
  local more = money((price + r:int(3, 25)) * 100)
  local flex = r:float() < 0.5 and null or money((price + 4) * 100)
  return {
    productId = product.productId, variantId = variant.variantId,
    lowestAskAmount = ask, highestBidAmount = bid, sellFasterAmount = faster,
    earnMoreAmount = more, flexLowestAskAmount = flex,
    standardMarketData = { lowestAsk = ask, highestBidAmount = bid,
      sellFaster = faster, earnMore = more,
      beatUS = ask == null and null or money((price - 3) * 100) },
    flexMarketData = { lowestAsk = flex, highestBidAmount = bid,
      sellFaster = null, earnMore = null, beatUS = null },
    directMarketData = { lowestAsk = null, highestBidAmount = bid,
      sellFaster = null, earnMore = null, beatUS = null },
  }
end

local function make_variants(r, product, tpl, data)
  local first = r:int(5, 10)
  local last = math.min(#SIZES, first + r:int(7, 11))
  local variants = array()
  for si = first, last do
    local v = {
      productId = product.productId, variantId = r:uuid(),
      variantName = slug(product.title) .. ":" .. (si - first),
      variantValue = SIZES[si], sizeChart = size_chart(si),
      gtins = make_gtins(r), isFlexEligible = r:float() < 0.6,
      isDirectEligible = r:float() < 0.3,
    }
    variants[#variants + 1] = v
    data.variants[v.variantId] = v
    local price = math.floor(tpl[6] * (0.8 + r:float() * 1.4))
    data.price[v.variantId] = price
    data.market[v.variantId] = make_market(r, product, v, price)
  end
  return variants
end

local function make_product(seed, i, data)
  local tpl, r = PRODUCTS[i], new_rng(seed, 1, i)
  local p = {
    productId = r:uuid(), brand = tpl[1], productType = "sneakers",
    styleId = tpl[3], urlKey = slug(tpl[2]:lower()), title = tpl[2],
    productAttributes = { color = null, colorway = tpl[4], gender = "men",
      releaseDate = tpl[5], retailPrice = tpl[6], season = null },
  }
  data.products[#data.products + 1] = p
  data.product_by_id[p.productId] = p
  data.variants_of[p.productId] = make_variants(r, p, tpl, data)
end

--------------------------------------------------------------------------
-- Listings, their operations and the orders that matched them.
--------------------------------------------------------------------------

local BASE_TIME = 1704067200 -- 2024-01-01T00:00:00Z

local LISTING_STATUSES = { { "ACTIVE", 60 }, { "INACTIVE", 14 },
  { "MATCHED", 9 }, { "COMPLETED", 11 }, { "CANCELED", 4 }, { "DELETED", 2 } }
local ACTIVE_ORDER = { "CREATED", "SHIPPED", "RECEIVED", "AUTHENTICATING",
  "AUTHENTICATED", "PAYOUTPENDING" }
local HISTORY_ORDER = { { "COMPLETED", 70 }, { "CANCELED", 10 },
  { "RETURNED", 8 }, { "AUTHFAILED", 6 }, { "DIDNOTSHIP", 6 } }

local function make_operation(r, l, k, n, t)
  local ty = k == 1 and "CREATE"
    or (k == n and l.status == "INACTIVE") and "DEACTIVATE"
    or r:weighted{ { "UPDATE", 6 }, { "DEACTIVATE", 1 }, { "ACTIVATE", 1 } }
  local failed = k > 1 and r:float() < 0.08
  local amount = k == n and l.amount or money(r:int(60, 400) * 100)
  return {
    listingId = l.listingId, operationId = r:uuid(), operationType = ty,
    operationStatus = failed and "FAILED" or "SUCCEEDED",
    operationInitiatedBy = "USER",
    operationInitiatedVia = r:pick{ "PUBLIC-API", "PUBLIC-API", "WEB", "IOS" },
    createdAt = iso(t), updatedAt = iso(t + 1),
    changes = failed and { additions = array(), updates = array(),
                           removals = array() }
      or { additions = ty == "CREATE" and { amount = amount,
             currencyCode = "USD", status = "ACTIVE" } or {},
           updates = ty == "UPDATE" and { amount = amount } or {},
           removals = {} },
    error = failed and "Listing amount is below the minimum" or null,
  }
end

-- Listing 1 has 25 operations (three pages of 10); listing i has i % 7 + 1.
local function make_operations(r, l, i, t)
  local n = i == 1 and 25 or i % 7 + 1
  local ops = array()
  for k = 1, n do
    t = t + r:int(600, 36000)
    ops[k] = make_operation(r, l, k, n, t)
  end
  return ops, t
end

local function make_ask(r, t)
  return { askId = string.format("%d%010d", r:int(1000000000, 1999999999),
                                 r:int(0, 9999999999)),
           askCreatedAt = iso(t), askUpdatedAt = iso(t),
           askExpiresAt = iso(t + 365 * 86400) }
end

local function make_order(r, data, l, t)
  local n1 = r:int(40000000, 79999999)
  local active = l.status == "MATCHED"
  local o = {
    orderNumber = string.format("%d-%d", n1, n1 - r:int(90000, 110000)),
    listingId = l.listingId, askId = l.ask.askId, amount = l.amount,
    currencyCode = "USD",
    status = active and r:pick(ACTIVE_ORDER) or r:weighted(HISTORY_ORDER),
    createdAt = iso(t), updatedAt = iso(t + r:int(3600, 7 * 86400)),
    product = l.product, variant = l.variant, authenticationDetails = null,
    payout = null, initiatedShipments = null,
    inventoryType = l.inventoryType, condition = null,
    conditionDescription = null,
  }
  if o.status == "AUTHFAILED" then
    o.authenticationDetails = { status = "FAILED",
                                failureNotes = "Item did not pass checks" }
  end
  local list = active and data.active_orders or data.history_orders
  list[#list + 1] = o
  data.order_by_number[o.orderNumber] = o
  data.shipping[o.orderNumber] = { id = "S-" .. r:int(100000000, 999999999),
    tracking = string.format("1Z%016d", r:int(0, 9999999999999999)),
    ship_by = iso(t + 3 * 86400 - 1) }
  l.order = { orderNumber = o.orderNumber, orderCreatedAt = o.createdAt,
              orderStatus = o.status }
end

local function make_listing(seed, i, data)
  local r = new_rng(seed, 2, i)
  local p = data.products[r:int(1, #data.products)]
  local v = r:pick(data.variants_of[p.productId])
  local t = BASE_TIME + (i - 1) * 6 * 3600 + r:int(0, 3599)
  local l = {
    listingId = r:uuid(), status = r:weighted(LISTING_STATUSES),
    amount = money((data.price[v.variantId] + r:int(-10, 30)) * 100),
    currencyCode = "USD",
    inventoryType = r:weighted{ { "STANDARD", 90 }, { "FLEX", 7 },
                                { "DIRECT", 3 } },
    createdAt = iso(t), batch = null, authenticationDetails = null,
    order = null, initiatedShipments = null, condition = null,
    conditionDescription = null,
    product = { productId = p.productId, productName = p.title,
                styleId = p.styleId },
    variant = { variantId = v.variantId, variantName = v.variantName,
                variantValue = v.variantValue },
  }
  l.ask = (l.status == "CANCELED" or l.status == "DELETED") and null
    or make_ask(r, t)
  local ops, last = make_operations(r, l, i, t)
  l.updatedAt = iso(last)
  if l.status == "MATCHED" or l.status == "COMPLETED" then
    make_order(r, data, l, last + r:int(3600, 86400))
  end
  data.listings[i] = l
  data.listing_by_id[l.listingId] = l
  data.operations[l.listingId] = ops
end

local function make_data(seed)
  local data = {
    products = {}, product_by_id = {}, variants_of = {}, variants = {},
    price = {}, market = {}, listings = {}, listing_by_id = {},
    operations = {}, active_orders = {}, history_orders = {},
    order_by_number = {}, shipping = {},
  }
  for i = 1, #PRODUCTS do make_product(seed, i, data) end
  for i = 1, NUM_LISTINGS do make_listing(seed, i, data) end
  return data
end

--------------------------------------------------------------------------
-- Replies.
--------------------------------------------------------------------------

local JSON = "application/json"

local function json_reply(status, value, headers)
  headers = headers or {}
  headers["Content-Type"] = JSON
  return { status = status, headers = headers, body = encode(value) }
end

local REASONS = { [400] = "Bad Request", [401] = "Unauthorized",
  [403] = "Forbidden", [404] = "Resource not found",
  [405] = "Method Not Allowed", [408] = "Request Timeout",
  [409] = "Conflict", [429] = "Too Many Requests",
  [500] = "Internal Server Error", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout" }

--- StockX's error body {"statusCode":N,"message":"..."}.
local function err(status, message, headers)
  return json_reply(status, { statusCode = status,
    message = message or REASONS[status] or "The request did not succeed" },
    headers)
end

local function not_found()
  return err(404, "Resource not found")
end

--------------------------------------------------------------------------
-- Query parameters.
--------------------------------------------------------------------------

local function int_param(s)
  local n = tonumber(s)
  return n and math.tointeger(n)
end

-- q[name] as an integer, default when absent, nil when not an integer.
local function opt_int(q, name, default)
  if q[name] == nil then return default end
  return int_param(q[name])
end

-- A header value from JSON: 1.0 -> "1", strings verbatim.
local function header_value(v)
  return tostring(int_param(v) or v)
end

-- pageSize/pageNumber -> size, number; or nil, message.
local function page_params(q, max)
  local size = opt_int(q, "pageSize", DEFAULT_PAGE_SIZE)
  if not size or size < 1 or size > max then
    return nil, "pageSize must be an integer between 1 and " .. max
  end
  local number = opt_int(q, "pageNumber", 1)
  if not number or number < 1 then
    return nil, "pageNumber must be an integer of 1 or more"
  end
  return size, number
end

local function paginate(items, size, number, key)
  local first = (number - 1) * size + 1
  local out = array()
  for i = first, math.min(#items, first + size - 1) do
    out[#out + 1] = items[i]
  end
  return { count = #items, pageSize = size, pageNumber = number,
           hasNextPage = first + size - 1 < #items, [key] = out }
end

-- "A,B" -> set {A=true, B=true}; nil when absent; nil, message when the
-- value carries [] or quotes (StockX wants bare comma-separated values).
local function csv_param(q, name, allowed)
  local v = q[name]
  if v == nil or v == "" then return nil end
  if v:find('[%[%]"\']') then
    return nil, name .. " must be comma-separated values without [] or quotes"
  end
  local set = {}
  for item in v:gmatch("[^,]+") do
    item = item:match("^%s*(.-)%s*$")
    if allowed and not allowed[item] then
      return nil, "invalid value in " .. name .. ": " .. item
    end
    set[item] = true
  end
  return set
end

local function date_param(q, name)
  local v = q[name]
  if v == nil then return nil end
  if not v:match("^%d%d%d%d%-%d%d%-%d%d$") then
    return nil, name .. " must be a date like 2024-01-31"
  end
  return v
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local LISTING_STATUS_SET = set_of{ "INACTIVE", "ACTIVE", "DELETED",
  "CANCELED", "MATCHED", "COMPLETED" }
local INVENTORY_SET = set_of{ "STANDARD", "FLEX", "DIRECT" }
local CURRENCIES = set_of{ "AUD", "BRL", "CAD", "CHF", "CLP", "CNY", "DKK",
  "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "JPY", "KRW", "KWD", "MOP", "MXN",
  "MYR", "NOK", "NZD", "PEN", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
  "VND" }

--------------------------------------------------------------------------
-- Catalog routes.
--------------------------------------------------------------------------

local function search_matches(p, words)
  local hay = (p.title .. " " .. p.brand .. " " .. p.styleId .. " "
    .. p.urlKey):lower()
  for _, w in ipairs(words) do
    if hay:find(w, 1, true) then return true end
  end
  return false
end

local function catalog_search(sb, req)
  local q = req.query
  if not q.query or #q.query < 1 or #q.query > 100 then
    return err(400, "query is required (1 to 100 characters)")
  end
  local size, number = page_params(q, 50)
  if not size then return err(400, number) end
  local words = {}
  for w in q.query:lower():gmatch("[^%s%-/]+") do words[#words + 1] = w end
  local found = {}
  for _, p in ipairs(sb.data.products) do
    if search_matches(p, words) then found[#found + 1] = p end
  end
  return json_reply(200, paginate(found, size, number, "products"))
end

local function product_details(sb, p)
  local out = {}
  for k, v in pairs(p) do out[k] = v end
  local vs = sb.data.variants_of[p.productId]
  local conv = array()
  for _, v in ipairs(vs) do
    conv[#conv + 1] = v.sizeChart.defaultConversion
  end
  out.sizeChart = { availableConversions = conv,
                    defaultConversion = { size = null, type = "us m" } }
  out.isFlexEligible, out.isDirectEligible = true, false
  return out
end

local function get_product(sb, _, pid)
  local p = sb.data.product_by_id[pid]
  if not p then return not_found() end
  return json_reply(200, product_details(sb, p))
end

local function get_variants(sb, _, pid)
  local vs = sb.data.variants_of[pid]
  if not vs then return not_found() end
  return json_reply(200, vs)
end

-- The variant vid of product pid, or nil and an error reply.
local function find_variant(sb, pid, vid)
  if not sb.data.product_by_id[pid] then return nil, not_found() end
  local v = sb.data.variants[vid]
  if not v then return nil, not_found() end
  if v.productId ~= pid then
    return nil, err(400, "Variant " .. vid .. " does not belong to product "
      .. pid)
  end
  return v
end

local function get_variant(sb, _, pid, vid)
  local v, e = find_variant(sb, pid, vid)
  return v and json_reply(200, v) or e
end

local function market_for(sb, vid, currency)
  local m = {}
  for k, val in pairs(sb.data.market[vid]) do m[k] = val end
  m.currencyCode = currency
  return m
end

local function currency_param(q)
  local c = q.currencyCode or "USD"
  if not CURRENCIES[c] then return nil, "invalid currencyCode: " .. c end
  return c
end

local function variant_market(sb, req, pid, vid)
  local v, e = find_variant(sb, pid, vid)
  if not v then return e end
  local c, msg = currency_param(req.query)
  if not c then return err(400, msg) end
  return json_reply(200, market_for(sb, vid, c))
end

local function product_market(sb, req, pid)
  local vs = sb.data.variants_of[pid]
  if not vs then return not_found() end
  local c, msg = currency_param(req.query)
  if not c then return err(400, msg) end
  local out = array()
  for _, v in ipairs(vs) do out[#out + 1] = market_for(sb, v.variantId, c) end
  return json_reply(200, out)
end

--------------------------------------------------------------------------
-- Listing routes.
--------------------------------------------------------------------------

local function listing_filters(q)
  local f, msg = {}, nil
  f.statuses, msg = csv_param(q, "listingStatuses", LISTING_STATUS_SET)
  if msg then return nil, msg end
  f.products, msg = csv_param(q, "productIds")
  if msg then return nil, msg end
  f.variants, msg = csv_param(q, "variantIds")
  if msg then return nil, msg end
  f.batches, msg = csv_param(q, "batchIds")
  if msg then return nil, msg end
  f.inventory, msg = csv_param(q, "inventoryTypes", INVENTORY_SET)
  if msg then return nil, msg end
  f.from, msg = date_param(q, "fromDate")
  if msg then return nil, msg end
  f.to, msg = date_param(q, "toDate")
  if msg then return nil, msg end
  return f
end

local function listing_matches(l, f)
  local day = l.createdAt:sub(1, 10)
  return (not f.statuses or f.statuses[l.status])
    and (not f.products or f.products[l.product.productId])
    and (not f.variants or f.variants[l.variant.variantId])
    and (not f.batches or (l.batch ~= null and f.batches[l.batch.batchId]))
    and (not f.inventory or f.inventory[l.inventoryType])
    and (not f.from or day >= f.from) and (not f.to or day <= f.to)
end

local function get_listings(sb, req)
  local size, number = page_params(req.query, 100)
  if not size then return err(400, number) end
  local f, msg = listing_filters(req.query)
  if not f then return err(400, msg) end
  local found = {}
  for _, l in ipairs(sb.data.listings) do
    if listing_matches(l, f) then found[#found + 1] = l end
  end
  return json_reply(200, paginate(found, size, number, "listings"))
end

local function payout_for(amount, currency)
  local cents = math.floor(tonumber(amount) * 100 + 0.5)
  local fee, proc, ship = (cents * 9 + 50) // 100, (cents * 3 + 50) // 100, 856
  local adj = array{
    { adjustmentType = "Transaction Fee", amount = money(-fee),
      percentage = "0.09" },
    { adjustmentType = "Payment Proc. (3%)", amount = money(-proc),
      percentage = "0.03" },
    { adjustmentType = "Shipping", amount = money(-ship), percentage = "0" },
  }
  return { salePrice = amount, currencyCode = currency, adjustments = adj,
           totalAdjustments = money(-(fee + proc + ship)),
           totalPayout = money(cents - fee - proc - ship) }
end

local function last_operation(op)
  return { operationId = op.operationId, operationType = op.operationType,
    operationStatus = op.operationStatus,
    operationInitiatedBy = op.operationInitiatedBy,
    operationInitiatedVia = op.operationInitiatedVia,
    operationCreatedAt = op.createdAt, operationUpdatedAt = op.updatedAt,
    changes = op.changes, error = op.error }
end

local function get_listing(sb, _, id)
  local l = sb.data.listing_by_id[id]
  if not l then return not_found() end
  local out = {}
  for k, v in pairs(l) do out[k] = v end
  out.payout = payout_for(l.amount, l.currencyCode)
  local ops = sb.data.operations[id]
  out.lastOperation = ops[#ops] and last_operation(ops[#ops]) or null
  return json_reply(200, out)
end

-- Cursors are opaque base64 (with '+', '/' and '=' that clients must
-- percent-encode): "<listingId>:<offset>".
local function get_operations(sb, req, id)
  local ops = sb.data.operations[id]
  if not ops then return not_found() end
  local size, number = page_params({ pageSize = req.query.pageSize }, 100)
  if not size then return err(400, number) end
  local offset = 0
  if req.query.cursor and req.query.cursor ~= "" then
    local raw = b64decode(req.query.cursor) or ""
    local lid, off = raw:match("^(.+):(%d+)$")
    if lid ~= id then return err(400, "invalid cursor") end
    offset = tonumber(off)
  end
  local page = array()
  for i = offset + 1, math.min(#ops, offset + size) do
    page[#page + 1] = ops[i]
  end
  local next_cursor = offset + size < #ops
    and b64encode(id .. ":" .. (offset + size)) or null
  return json_reply(200, { nextCursor = next_cursor, operations = page })
end

--------------------------------------------------------------------------
-- Order routes.
--------------------------------------------------------------------------

local ACTIVE_SET = set_of{ "CREATED", "CCAUTHORIZATIONFAILED", "SHIPPED",
  "RECEIVED", "AUTHENTICATING", "AUTHENTICATED", "PAYOUTPENDING",
  "PAYOUTCOMPLETED", "SYSTEMFULFILLED", "PAYOUTFAILED", "SUSPENDED",
  "PENDING", "DONOTSHIP" }
local HISTORY_SET = set_of{ "AUTHFAILED", "DIDNOTSHIP", "CANCELED",
  "COMPLETED", "RETURNED" }

local function order_filters(q, statuses)
  local f, msg = {}, nil
  if q.orderStatus and not statuses[q.orderStatus] then
    return nil, "invalid orderStatus: " .. q.orderStatus
  end
  f.status, f.product, f.variant = q.orderStatus, q.productId, q.variantId
  f.inventory, msg = csv_param(q, "inventoryTypes", INVENTORY_SET)
  if msg then return nil, msg end
  f.from, msg = date_param(q, "fromDate")
  if msg then return nil, msg end
  f.to, msg = date_param(q, "toDate")
  if msg then return nil, msg end
  if q.sortOrder and q.sortOrder ~= "CREATEDAT" and q.sortOrder ~= "SHIPBYDATE"
  then
    return nil, "sortOrder must be CREATEDAT or SHIPBYDATE"
  end
  return f
end

local function order_matches(o, f)
  local day = o.createdAt:sub(1, 10)
  return (not f.status or o.status == f.status)
    and (not f.product or o.product.productId == f.product)
    and (not f.variant or o.variant.variantId == f.variant)
    and (not f.inventory or f.inventory[o.inventoryType])
    and (not f.from or day >= f.from) and (not f.to or day <= f.to)
end

local function list_orders(orders, statuses, req)
  local size, number = page_params(req.query, 100)
  if not size then return err(400, number) end
  local f, msg = order_filters(req.query, statuses)
  if not f then return err(400, msg) end
  local found = {}
  for _, o in ipairs(orders) do
    if order_matches(o, f) then found[#found + 1] = o end
  end
  return json_reply(200, paginate(found, size, number, "orders"))
end

local function active_orders(sb, req)
  return list_orders(sb.data.active_orders, ACTIVE_SET, req)
end

local function history_orders(sb, req)
  return list_orders(sb.data.history_orders, HISTORY_SET, req)
end

local function get_order(sb, _, number)
  local o = sb.data.order_by_number[number]
  if not o then return not_found() end
  local s = sb.data.shipping[number]
  local out = {}
  for k, v in pairs(o) do out[k] = v end
  out.payout = payout_for(o.amount, o.currencyCode)
  out.shipment = { carrierCode = "UPS", shipByDate = s.ship_by,
    trackingNumber = s.tracking,
    trackingUrl = "https://www.ups.com/track?tracknum=" .. s.tracking,
    shippingLabelUrl = sb:url() .. "/_sandbox/labels/" .. s.id .. ".png",
    shippingDocumentUrl = sb:url() .. "/selling/orders/" .. number
      .. "/shipping-document/" .. s.id }
  return json_reply(200, out)
end

local function pdf_escape(s)
  return (s:gsub("[()\\]", "\\%0"))
end

--- A one-page PDF 1.4 (4x6 in label) showing lines of text, with an xref
-- table computed from the real byte offsets.
local function label_pdf(lines)
  local text = { "BT", "/F1 14 Tf", "18 TL", "24 396 Td" }
  for _, l in ipairs(lines) do
    text[#text + 1] = "(" .. pdf_escape(l) .. ") '"
  end
  text[#text + 1] = "ET"
  local stream = table.concat(text, "\n")
  local objs = {
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432]"
      .. " /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    "<< /Length " .. #stream .. " >>\nstream\n" .. stream .. "\nendstream",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  }
  local out = { "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n" }
  local pos, xref = #out[1], { "xref\n0 " .. (#objs + 1) .. "\n",
                               "0000000000 65535 f \n" }
  for i, body in ipairs(objs) do
    xref[#xref + 1] = string.format("%010d 00000 n \n", pos)
    out[#out + 1] = i .. " 0 obj\n" .. body .. "\nendobj\n"
    pos = pos + #out[#out]
  end
  out[#out + 1] = table.concat(xref)
  out[#out + 1] = "trailer\n<< /Size " .. (#objs + 1) .. " /Root 1 0 R >>\n"
    .. "startxref\n" .. pos .. "\n%%EOF\n"
  return table.concat(out)
end

local function shipping_document(sb, _, number, shipping_id)
  local o, s = sb.data.order_by_number[number], sb.data.shipping[number]
  if not o or s.id ~= shipping_id then return not_found() end
  local pdf = label_pdf{ "StockX shipping label", "Order " .. number,
    "Shipment " .. shipping_id, "UPS " .. s.tracking,
    o.product.productName or "", "Size " .. (o.variant.variantValue or "") }
  return { status = 200, body = pdf,
           headers = { ["Content-Type"] = "application/pdf" } }
end

--------------------------------------------------------------------------
-- Test routes (/_test/...): no auth, no faults; for client tests.
--------------------------------------------------------------------------

local function redacted_headers(h)
  local out = {}
  for k, v in pairs(h) do
    out[k] = (k == "x-api-key" or k == "authorization") and "[redacted]" or v
  end
  return out
end

local function test_echo(sb, req)
  return json_reply(200, { method = req.method, path = req.path,
    query = req.query, raw_query = req.raw_query, body = req.body,
    headers = redacted_headers(req.headers), auth_ok = sb:auth_ok(req) })
end

local function deterministic_bytes(n)
  local block = {}
  for i = 0, 255 do block[i + 1] = string.char((i * 37 + 11) % 256) end
  block = table.concat(block)
  return (block:rep(n // 256 + 1)):sub(1, n)
end

local MAX_TEST_BYTES = 64 * 1024 * 1024

local function count_param(q, name, default)
  local n = opt_int(q, name, default)
  if not n or n < 0 or n > MAX_TEST_BYTES then return nil end
  return n
end

local OCTETS = { ["Content-Type"] = "application/octet-stream" }

local function test_bytes(_, req)
  local n = count_param(req.query, "n", 0)
  if not n then
    return err(400, "n must be an integer in 0.." .. MAX_TEST_BYTES)
  end
  return { status = 200, headers = OCTETS, body = deterministic_bytes(n) }
end

local function test_status(_, req)
  local code = int_param(req.query.code or "")
  if not code or code < 100 or code > 599 then
    return err(400, "code must be an HTTP status")
  end
  return err(code)
end

local function test_delay(_, req)
  local s = tonumber(req.query.s or "0")
  if not s or not (s >= 0 and s <= 3600) then
    return err(400, "s must be seconds in 0..3600")
  end
  local r = json_reply(200, { ok = true, delay = s })
  r.delay = s
  return r
end

--- A 429 as an API gateway sends it (no statusCode), else a StockX error.
local function limited_or_error(code, retry_after)
  local h = retry_after and { ["Retry-After"] = retry_after } or nil
  if code == 429 then
    return json_reply(429, { message = "Too Many Requests" }, h)
  end
  return err(code, nil, h)
end

local function test_flaky(sb, req)
  local q = req.query
  local id, fail = q.id or "", int_param(q.fail or "1")
  local code = int_param(q.code or "503")
  if not fail or not code or code < 100 or code > 599 then
    return err(400, "fail and code must be integers")
  end
  local k = (sb.flaky[id] or 0) + 1
  sb.flaky[id] = k
  if k <= fail then return limited_or_error(code, q.retry_after) end
  return json_reply(200, { ok = true, attempts = k })
end

local function test_drop(_, req)
  local n = count_param(req.query, "n", 1000)
  local after = count_param(req.query, "after", 100)
  if not n or not after then return err(400, "n and after must be sizes") end
  return { status = 200, headers = OCTETS, body = deterministic_bytes(n),
           drop_after = after }
end

local function test_slow(_, req)
  local n = count_param(req.query, "n", 1000)
  local chunk = count_param(req.query, "chunk", 100)
  local delay = tonumber(req.query.delay or "0.1")
  if not n or not chunk or chunk < 1 or not delay
    or not (delay >= 0 and delay <= 3600) then
    return err(400, "n, chunk and delay must be positive numbers")
  end
  return { status = 200, headers = OCTETS, body = deterministic_bytes(n),
           chunk_size = chunk, chunk_delay = delay }
end

local function test_stall()
  return { stall = true }
end

local function test_malformed()
  return { status = 200, headers = { ["Content-Type"] = JSON },
           body = '{"count": 3, "listings": [{"listingId": "abc", ' }
end

local function test_text()
  return { status = 200, headers = { ["Content-Type"] = "text/plain" },
           body = "hello" }
end

--------------------------------------------------------------------------
-- Admin routes (/_sandbox/...): stats, reset, faults, rate limit.
--------------------------------------------------------------------------

local function decode_body(req)
  if req.body == "" then return {} end
  local ok, v = pcall(cjson.decode, req.body)
  if not ok or type(v) ~= "table" then return nil end
  return v
end

local function admin_stats(sb)
  return json_reply(200, sb:stats())
end

local function admin_reset(sb)
  sb:reset()
  return json_reply(200, { ok = true })
end

local function admin_add_fault(sb, req)
  local f = decode_body(req)
  if not f then return err(400, "body must be a JSON object") end
  local ok, id = pcall(sb.add_fault, sb, f)
  if not ok then return err(400, (tostring(id):gsub("^.-: ", ""))) end
  return json_reply(200, { ok = true, id = id })
end

local function admin_faults(sb)
  local out = array()
  for _, f in ipairs(sb.faults) do out[#out + 1] = f end
  return json_reply(200, { faults = out })
end

local function admin_clear_faults(sb)
  sb.faults = {}
  return json_reply(200, { ok = true })
end

local function admin_rate_limit(sb, req)
  local cfg = decode_body(req)
  if not cfg then return err(400, "body must be a JSON object") end
  local ok, e = pcall(sb.set_rate_limit, sb, cfg)
  if not ok then return err(400, (tostring(e):gsub("^.-: ", ""))) end
  return json_reply(200, { ok = true })
end

-- Ids a test can start from without walking the API.
local function admin_fixtures(sb)
  local d = sb.data
  local function ids(list, key, n)
    local out = array()
    for i = 1, math.min(n, #list) do out[i] = list[i][key] end
    return out
  end
  local p1 = d.products[1]
  return json_reply(200, {
    productIds = ids(d.products, "productId", #d.products),
    variantIds = ids(d.variants_of[p1.productId], "variantId", 100),
    listingIds = ids(d.listings, "listingId", 10),
    activeOrderNumbers = ids(d.active_orders, "orderNumber", 10),
    historyOrderNumbers = ids(d.history_orders, "orderNumber", 10),
    listingCount = #d.listings })
end

--------------------------------------------------------------------------
-- Routing.  Each route: method ("*": any), path template, handler, kind:
-- "stockx" (auth, rate limit, faults), "test" or "admin" (neither; admin
-- requests are not counted in the stats).  First match wins.
--------------------------------------------------------------------------

local ROUTES = {
  { "GET", "/catalog/search", catalog_search },
  { "GET", "/catalog/products/{productId}", get_product },
  { "GET", "/catalog/products/{productId}/variants", get_variants },
  { "GET", "/catalog/products/{productId}/variants/{variantId}", get_variant },
  { "GET", "/catalog/products/{productId}/variants/{variantId}/market-data",
    variant_market },
  { "GET", "/catalog/products/{productId}/market-data", product_market },
  { "GET", "/selling/listings", get_listings },
  { "GET", "/selling/listings/{listingId}", get_listing },
  { "GET", "/selling/listings/{listingId}/operations", get_operations },
  { "GET", "/selling/orders/active", active_orders },
  { "GET", "/selling/orders/history", history_orders },
  { "GET", "/selling/orders/{orderNumber}", get_order },
  { "GET", "/selling/orders/{orderNumber}/shipping-document/{shippingId}",
    shipping_document },

  -- Test routes answer any method.
  { "*", "/_test/echo", test_echo, "test" },
  { "*", "/_test/bytes", test_bytes, "test" },
  { "*", "/_test/status", test_status, "test" },
  { "*", "/_test/delay", test_delay, "test" },
  { "*", "/_test/flaky", test_flaky, "test" },
  { "*", "/_test/drop", test_drop, "test" },
  { "*", "/_test/slow", test_slow, "test" },
  { "*", "/_test/stall", test_stall, "test" },
  { "*", "/_test/malformed", test_malformed, "test" },
  { "*", "/_test/text", test_text, "test" },

  { "GET", "/_sandbox/stats", admin_stats, "admin" },
  { "POST", "/_sandbox/reset", admin_reset, "admin" },
  { "GET", "/_sandbox/faults", admin_faults, "admin" },
  { "POST", "/_sandbox/faults", admin_add_fault, "admin" },
  { "DELETE", "/_sandbox/faults", admin_clear_faults, "admin" },
  { "POST", "/_sandbox/rate_limit", admin_rate_limit, "admin" },
  { "GET", "/_sandbox/fixtures", admin_fixtures, "admin" },
}

local function compile_routes(list)
  local out = {}
  for _, r in ipairs(list) do
    local pattern = "^" .. r[2]:gsub("%-", "%%-"):gsub("{[%w]+}", "([^/]+)")
      .. "$"
    out[#out + 1] = { method = r[1], name = r[1] .. " " .. r[2],
      pattern = pattern, fn = r[3], kind = r[4] or "stockx" }
  end
  return out
end

local routes = compile_routes(ROUTES)

-- -> route, {captures}; HEAD is routed as GET.
local function match_route(method, path)
  if method == "HEAD" then method = "GET" end
  for _, r in ipairs(routes) do
    if r.method == method or r.method == "*" then
      local caps = { path:match(r.pattern) }
      if caps[1] then return r, caps end
    end
  end
end

--------------------------------------------------------------------------
-- The sandbox object: state, auth, limiter, faults, stats.
--------------------------------------------------------------------------

local Sandbox = {}
Sandbox.__index = Sandbox

function Sandbox:auth_ok(req)
  local h = req.headers
  local auth = h["authorization"] or ""
  local token = auth:match("^[Bb][Ee][Aa][Rr][Ee][Rr] +(.-)%s*$")
  return h["x-api-key"] == self.api_key and token == self.access_token
end

-- Token bucket per x-api-key: rate requests per period seconds.  Returns
-- nil, or a 429 reply.
function Sandbox:limit(req)
  local cfg = self.limiter
  if not cfg then return nil end
  local key, now = req.headers["x-api-key"] or "", server.now()
  local b = self.buckets[key] or { tokens = cfg.rate, t = now }
  self.buckets[key] = b
  b.tokens = math.min(cfg.rate, b.tokens + (now - b.t) * cfg.rate / cfg.period)
  b.t = now
  if b.tokens >= 1 then
    b.tokens = b.tokens - 1
    return nil
  end
  local wait = math.max(1, math.ceil((1 - b.tokens) * cfg.period / cfg.rate))
  local h = cfg.retry_after and { ["Retry-After"] = tostring(wait) } or nil
  if cfg.body == "gateway" then
    return json_reply(429, { message = "Too Many Requests" }, h)
  end
  return err(429, "Too Many Requests", h)
end

--- Sets the limiter: {rate=, period=, retry_after=true, body="api"} or
-- {off=true}; false or nil also turns it off.
function Sandbox:set_rate_limit(cfg)
  self.buckets = {}
  if not cfg or cfg.off then
    self.limiter = nil
    return
  end
  local rate, period = tonumber(cfg.rate or 1), tonumber(cfg.period or 1)
  assert(rate and rate > 0 and period and period > 0,
         "rate and period must be positive numbers")
  assert(cfg.body == nil or cfg.body == "api" or cfg.body == "gateway",
         'body must be "api" or "gateway"')
  self.limiter = { rate = rate, period = period,
    retry_after = cfg.retry_after ~= false, body = cfg.body or "api" }
end

local FAULT_KEYS = set_of{ "path", "method", "status", "retry_after",
  "latency", "count", "drop_after", "stall", "malformed", "chunk_size",
  "chunk_delay", "body" }

--- Adds a fault for StockX routes whose path matches the Lua pattern
-- f.path; returns its id.
function Sandbox:add_fault(f)
  for k in pairs(f) do assert(FAULT_KEYS[k], "unknown fault option " .. k) end
  assert(type(f.path) == "string", "path (a Lua pattern) is required")
  assert(pcall(string.find, "", f.path), "path is not a valid Lua pattern")
  assert(f.count == nil or int_param(f.count), "count must be an integer")
  local st = f.status and int_param(f.status)
  assert(f.status == nil or (st and st >= 100 and st <= 599),
         "status must be an HTTP status")
  for _, k in ipairs{ "drop_after", "chunk_size" } do
    local v = f[k] ~= nil and int_param(f[k])
    assert(f[k] == nil or (v and v >= 0), k .. " must be an integer >= 0")
  end
  local cd = f.chunk_delay
  assert(cd == nil or (tonumber(cd) and tonumber(cd) >= 0
    and tonumber(cd) <= 3600), "chunk_delay must be seconds in 0..3600")
  local lat = f.latency
  local lo = type(lat) == "table" and tonumber(lat[1] or lat.min) or lat
  local hi = type(lat) == "table" and tonumber(lat[2] or lat.max) or lat
  assert(lat == nil or (type(lo) == "number" and type(hi) == "number"
    and lo >= 0 and hi >= lo and hi <= 3600),
    "latency must be seconds or [min, max], at most 3600")
  self.fault_ids = self.fault_ids + 1
  f.id = self.fault_ids
  self.faults[#self.faults + 1] = f
  return f.id
end

function Sandbox:take_fault(req)
  for _, f in ipairs(self.faults) do
    if (f.count == nil or f.count > 0) and req.path:find(f.path)
      and (f.method == nil or f.method == req.method) then
      if f.count then f.count = f.count - 1 end
      return f
    end
  end
end

local function fault_latency(rng, lat)
  if type(lat) ~= "table" then return tonumber(lat) end
  local lo, hi = tonumber(lat[1] or lat.min), tonumber(lat[2] or lat.max)
  return lo + (hi - lo) * rng:float()
end

local function apply_fault(sb, f, reply)
  if f.malformed then
    local b = reply.body or ""
    reply.body = #b > 2 and b:sub(1, #b // 2) or "{"
  end
  if f.latency then reply.delay = fault_latency(sb.fault_rng, f.latency) end
  if f.drop_after then reply.drop_after = int_param(f.drop_after) end
  if f.stall then reply.stall = true end
  if f.chunk_size then reply.chunk_size = int_param(f.chunk_size) end
  if f.chunk_delay then reply.chunk_delay = tonumber(f.chunk_delay) end
  return reply
end

-- A StockX route: auth, then the limiter, then faults, then the route.
function Sandbox:call_stockx(route, req, caps)
  if not self:auth_ok(req) then return err(401, "Unauthorized") end
  local limited = self:limit(req)
  if limited then return limited end
  local f = self:take_fault(req)
  local reply
  if f and f.status then
    reply = limited_or_error(int_param(f.status),
      f.retry_after and header_value(f.retry_after))
    if f.body then reply.body = f.body end
  else
    reply = route.fn(self, req, table.unpack(caps))
  end
  return f and apply_fault(self, f, reply) or reply
end

function Sandbox:record(req, route, reply, t)
  local st = self.counters
  local status = reply.stall and 0 or reply.status or 200
  st.requests = st.requests + 1
  if status == 429 then st.status_429 = st.status_429 + 1 end
  local name = route and route.name or "unmatched"
  st.routes[name] = (st.routes[name] or 0) + 1
  st.nlog = st.nlog + 1
  st.log[(st.nlog - 1) % LOG_MAX + 1] = { method = req.method,
    path = req.path, t = t, status = status }
end

local function dispatch(sb, route, req, caps)
  if not route then return not_found() end
  if route.kind == "stockx" then return sb:call_stockx(route, req, caps) end
  return route.fn(sb, req, table.unpack(caps))
end

--- Answers one request (the stockx.server handler).  A Lua error in a
-- route is counted as a 500 and re-raised: stockx.server logs it and
-- answers 500 {"statusCode":500,"message":"sandbox error: ..."}.
function Sandbox:handle(req)
  local t = server.now()
  local route, caps = match_route(req.method, req.path)
  local ok, reply = xpcall(dispatch, debug.traceback, self, route, req, caps)
  if not route or route.kind ~= "admin" then
    self:record(req, route, ok and reply or { status = 500 }, t)
  end
  if not ok then error(reply, 0) end
  return reply
end

--- The counters since the last reset (connections: since the start).
function Sandbox:stats()
  local st, log = self.counters, array()
  for n = math.max(1, st.nlog - LOG_MAX + 1), st.nlog do
    log[#log + 1] = st.log[(n - 1) % LOG_MAX + 1]
  end
  return { connections = self.srv:connections(), requests = st.requests,
           status_429 = st.status_429, routes = st.routes, log = log }
end

--- Clears counters, the log, flaky counters and faults, and puts the rate
-- limiter back to what serve{} configured.
function Sandbox:reset()
  self.counters = { requests = 0, status_429 = 0, routes = {}, log = {},
                    nlog = 0 }
  self.flaky, self.faults = {}, {}
  self:set_rate_limit(self.initial_rate_limit)
end

function Sandbox:port()
  return self.srv:port()
end

--- The base URL for clients: "http://127.0.0.1:PORT" (no /v2).
function Sandbox:url()
  local host = self.host == "0.0.0.0" and "127.0.0.1" or self.host
  return "http://" .. host .. ":" .. self.srv:port()
end

function Sandbox:close()
  self.srv:close()
end

Sandbox.__close = Sandbox.close

--- Starts a sandbox.
-- @param opts {port=0, host="127.0.0.1", seed=1, api_key=, access_token=,
--   rate_limit=false|{rate=1, period=1, retry_after=true, body="api"}}
-- @return the sandbox: :port(), :url(), :close(), :stats(), :reset(),
--   :add_fault(f), :set_rate_limit(cfg)
function M.serve(opts)
  opts = opts or {}
  local seed = math.tointeger(opts.seed or 1)
  assert(seed, "stockx.sandbox.serve: seed must be an integer")
  local sb = setmetatable({
    host = opts.host or "127.0.0.1", seed = seed,
    api_key = opts.api_key or DEFAULT_API_KEY,
    access_token = opts.access_token or DEFAULT_ACCESS_TOKEN,
    data = make_data(seed), fault_rng = new_rng(seed, 3, 0), fault_ids = 0,
    initial_rate_limit = opts.rate_limit or nil,
  }, Sandbox)
  sb:reset()
  local srv, e = server.listen{ host = sb.host, port = opts.port or 0,
    handler = function(req) return sb:handle(req) end }
  if not srv then error("stockx.sandbox.serve: " .. e, 2) end
  sb.srv = srv
  return sb
end

M.DEFAULT_API_KEY = DEFAULT_API_KEY
M.DEFAULT_ACCESS_TOKEN = DEFAULT_ACCESS_TOKEN

-- For tests of this module only.
M._internal = { encode = encode, new_rng = new_rng, money = money,
  label_pdf = label_pdf, b64encode = b64encode, b64decode = b64decode,
  make_data = make_data }

return M
