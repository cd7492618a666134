--- stockx.orders: your sales.  Active orders and the order history as
-- iterators with StockX's filters (checked before anything is sent), one
-- order with its shipment and payout, the shipping details of Direct
-- orders, and the shipping label PDF downloaded to a file.
--
--   local orders = stockx.orders
--   for o in orders.active { orderStatus = "CREATED" } do
--     if orders.needs_label(o) then
--       orders.label(o, "labels/" .. o.orderNumber .. ".pdf",
--         { skip_existing = true })
--     end
--   end
--
-- Orders come back as StockX sends them (amounts stay decimal strings);
-- `orders.amount` gives an order's price as a stockx.money value.

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
  if type(v) == "string" then return string.format("%q", v) end
  return v == nil and "no value" or type(v)
end

-- An id that goes into a path (order numbers look like
-- "323314425-323214184" or "02-L0QT6MRVSG"): no value can add a segment,
-- a query or a dot segment.
local function check_id(fname, pos, name, v)
  if type(v) ~= "string" or not v:match("^[%w_%-]+$") then
    argerror(fname, pos, name, "an id of letters, digits, '-' and '_' "
      .. "expected, got " .. got(v))
  end
  return v
end

local function set_of(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

---------------------------------------------------------------------------
-- Filters: StockX's query parameters for each list (reference 2.4).
---------------------------------------------------------------------------

local ACTIVE_STATUSES = { "CREATED", "CCAUTHORIZATIONFAILED", "SHIPPED",
  "RECEIVED", "AUTHENTICATING", "AUTHENTICATED", "PAYOUTPENDING",
  "PAYOUTCOMPLETED", "SYSTEMFULFILLED", "PAYOUTFAILED", "SUSPENDED",
  "PENDING", "DONOTSHIP" }
local HISTORY_STATUSES = { "AUTHFAILED", "DIDNOTSHIP", "CANCELED",
  "COMPLETED", "RETURNED" }
local INVENTORY_TYPES = { "STANDARD", "FLEX", "DIRECT" }

local function one_of(list)
  local set = set_of(list)
  return function(v)
    if type(v) == "string" and set[v] then return v end
    return nil, "one of " .. table.concat(list, ", ")
  end
end

local function id_value(v)
  if type(v) == "string" and v:match("^[%w_%-]+$") then return v end
  return nil, "an id of letters, digits, '-' and '_'"
end

local function date_value(v)
  if type(v) == "string" and v:match("^%d%d%d%d%-%d%d%-%d%d$") then return v end
  return nil, "a date like \"2024-01-31\""
end

-- An array or a CSV string of values, each passing `each`; sent as CSV.
local function list_of(each, what)
  return function(v)
    local items = {}
    if type(v) == "string" then
      for item in v:gmatch("[^,]+") do items[#items + 1] = item:match("^%s*(.-)%s*$") end
    elseif type(v) == "table" then
      for i = 1, #v do items[i] = v[i] end
    end
    if #items == 0 then return nil, "an array or CSV string of " .. what end
    for _, item in ipairs(items) do
      if not each(item) then return nil, "an array or CSV string of " .. what end
    end
    return items
  end
end

local function page_size(v)
  if math.type(v) == "integer" and v >= 1 and v <= 100 then return v end
  return nil, "an integer from 1 to 100"
end

local COMMON = {
  productId = id_value, variantId = id_value,
  inventoryTypes = list_of(one_of(INVENTORY_TYPES),
    table.concat(INVENTORY_TYPES, ", ")),
  initiatedShipmentDisplayIds = list_of(function(s)
    return s ~= "" and not s:find('[%[%]"\',]')
  end, "shipment display ids"),
  pageSize = page_size,
}

local function filter_set(extra)
  local t = {}
  for k, f in pairs(COMMON) do t[k] = f end
  for k, f in pairs(extra) do t[k] = f end
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  return { check = t, names = table.concat(names, ", ") }
end

local ACTIVE_FILTERS = filter_set {
  orderStatus = one_of(ACTIVE_STATUSES),
  sortOrder = one_of { "CREATEDAT", "SHIPBYDATE" },
}
local HISTORY_FILTERS = filter_set {
  orderStatus = one_of(HISTORY_STATUSES),
  fromDate = date_value, toDate = date_value,
}

-- The query for `filters`, every name and value checked.
local function query_of(fname, known, filters)
  if filters ~= nil and type(filters) ~= "table" then
    argerror(fname, 1, "filters", "table expected, got " .. type(filters))
  end
  local q = {}
  for k, v in pairs(filters or {}) do
    local check = type(k) == "string" and known.check[k]
    if not check then
      argerror(fname, 1, "filters", string.format(
        "unknown filter %s; known: %s", got(k), known.names))
    end
    local value, want = check(v)
    if value == nil then
      argerror(fname, 1, "filters." .. k, want .. " expected, got " .. got(v))
    end
    q[k] = value
  end
  return q
end

local function list(fname, path, known, filters, opts)
  local q = query_of(fname, known, filters)
  if opts ~= nil and type(opts) ~= "table" then
    argerror(fname, 2, "opts", "table expected, got " .. type(opts))
  end
  local max_pages = opts and opts.max_pages
  if max_pages ~= nil and (math.type(max_pages) ~= "integer" or max_pages < 1) then
    argerror(fname, 2, "opts.max_pages", "an integer >= 1 expected, got "
      .. got(max_pages))
  end
  local progress = opts and opts.progress
  if progress ~= nil and type(progress) ~= "boolean" and type(progress) ~= "string" then
    argerror(fname, 2, "opts.progress", "boolean or string expected, got " .. got(progress))
  end
  return stockx.paginate(path, q, { max_pages = max_pages, key = "orders",
    progress = progress })
end

--- Active orders (from creation until received, authenticated and paid
-- out): a generic-for iterator over the orders, following the pages.
-- @param filters optional table: orderStatus (CREATED, SHIPPED, ...),
--   productId, variantId, sortOrder (CREATEDAT or SHIPBYDATE),
--   inventoryTypes (an array or CSV of STANDARD, FLEX, DIRECT),
--   initiatedShipmentDisplayIds (array or CSV), pageSize (1 to 100)
-- @param opts optional table: max_pages, progress (false, or the
--   progress line's label; see stockx.paginate)
-- @return iterator yielding order, page
function M.active(filters, opts)
  return list("stockx.orders.active", "/selling/orders/active",
    ACTIVE_FILTERS, filters, opts)
end

--- The order history: a generic-for iterator over past orders.
-- @param filters optional table: fromDate, toDate (YYYY-MM-DD, the order's
--   creation date), orderStatus (AUTHFAILED, DIDNOTSHIP, CANCELED,
--   COMPLETED, RETURNED), productId, variantId, inventoryTypes,
--   initiatedShipmentDisplayIds, pageSize (1 to 100)
-- @param opts optional table: max_pages, progress (as for active)
-- @return iterator yielding order, page
function M.history(filters, opts)
  return list("stockx.orders.history", "/selling/orders/history",
    HISTORY_FILTERS, filters, opts)
end

---------------------------------------------------------------------------
-- One order
---------------------------------------------------------------------------

--- One order with its shipment and payout (StockX's DetailedOrder).
-- @param orderNumber string
-- @return order, res
function M.get(orderNumber)
  check_id("stockx.orders.get", 1, "orderNumber", orderNumber)
  return stockx.get("/selling/orders/" .. orderNumber)
end

--- The shipping details of a Direct order (StockX's
-- GetShipmentDetailsResponse; other orders answer 400, which raises).
-- @param orderNumber string
-- @return details, res
function M.shipping(orderNumber)
  check_id("stockx.orders.shipping", 1, "orderNumber", orderNumber)
  return stockx.get("/selling/orders/" .. orderNumber .. "/shipping-document")
end

--- An order's price (its amount in its currency).
-- @param order an order (a list item or a detailed order)
-- @return stockx.money value, or nil when the order has no amount
function M.amount(order)
  if type(order) ~= "table" then
    argerror("stockx.orders.amount", 1, "order", "table expected, got "
      .. got(order))
  end
  local a = order.amount
  if a == nil or a == null then return nil end
  return money.parse(a, order.currencyCode)
end

---------------------------------------------------------------------------
-- Shipping labels
---------------------------------------------------------------------------

local function document_url(order)
  local s = order.shipment
  local url = type(s) == "table" and s.shippingDocumentUrl
  if type(url) == "string" and url ~= "" then return url end
  return nil
end

-- The shippingId: the last path segment of shippingDocumentUrl, whatever
-- its host and prefix ("https://api.stockx.com/v2/selling/orders/N/
-- shipping-document/S-657138089" -> "S-657138089").
local function shipping_id(url)
  local path = url:gsub("[?#].*$", ""):gsub("^%a[%w+.%-]*://[^/]*", "")
  local id = path:match("/([^/]+)/*$")
  if id and id:match("^[%w_%-]+$") then return id end
  return nil
end

--- True for an order whose shipping label is there to print: status
-- CREATED (an active order not shipped yet) and a
-- shipment.shippingDocumentUrl.  An item of `orders.active()` has no
-- `shipment` field at all (only a single order carries it): for such an
-- order the status alone decides, and `orders.label` reads the order.
-- @param order an order (a list item or a detailed order)
-- @return boolean
function M.needs_label(order)
  if type(order) ~= "table" then
    argerror("stockx.orders.needs_label", 1, "order", "table expected, got "
      .. got(order))
  end
  if order.status ~= "CREATED" then return false end
  if order.shipment == nil then return true end
  return document_url(order) ~= nil
end

local function non_empty_file(name)
  local f = io.open(name, "rb")
  if not f then return false end
  local size = f:seek("end")
  f:close()
  return size ~= nil and size > 0
end

--- Downloads an order's shipping label (a PDF) to `filename`, through
-- stockx.download (atomic: a failed download leaves no file and an
-- existing one untouched).  The shippingId is the last path segment of
-- the order's shipment.shippingDocumentUrl; the label is read from the
-- base URL whatever host that URL names.  Given an order number, or an
-- order without `shipment` (a list item), the order is read first.  An
-- order without a shipping document raises an argument error naming it.
-- @param order an order table, or an order number
-- @param filename string
-- @param opts optional table: `skip_existing` (true: when filename exists
--   and is not empty, return at once, making no request), `timeout`
-- @return filename, res (res is nil when skipped)
function M.label(order, filename, opts)
  local fname = "stockx.orders.label"
  local number
  if type(order) == "table" then
    number = check_id(fname, 1, "order.orderNumber", order.orderNumber)
  else
    number = check_id(fname, 1, "order", order)
  end
  if type(filename) ~= "string" or filename == "" then
    argerror(fname, 2, "filename", "a file name expected, got " .. got(filename))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(fname, 3, "opts", "table expected, got " .. type(opts))
  end
  opts = opts or {}
  if opts.skip_existing and non_empty_file(filename) then return filename, nil end
  if type(order) ~= "table" or order.shipment == nil then
    order = M.get(number)
  end
  local url = document_url(order)
  if not url then
    argerror(fname, 1, "order", "order " .. number .. " has no shipping document")
  end
  local sid = shipping_id(url)
  if not sid then
    argerror(fname, 1, "order", string.format(
      "order %s: no shippingId in shippingDocumentUrl %q", number, url))
  end
  local res = stockx.download("/selling/orders/" .. number
    .. "/shipping-document/" .. sid, filename, { timeout = opts.timeout })
  return filename, res
end

M._internal = { shipping_id = shipping_id }

return M
