-- stockx.orders against the sandbox: active and history iterators with
-- their filters (an unknown filter name or a bad value raises before any
-- request), one order, the shipping details of a Direct order, needs_label,
-- and the label download: a real PDF, read from the base URL whatever host
-- shippingDocumentUrl names, skip_existing making no request, an order
-- without a shipping document refused.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local orders = stockx.orders
local money = require "stockx.money"
local null = stockx.json.null
local fx = scenario.fixtures()
local tmp = os.getenv("TEST_TMP") or "/tmp"
local dir = tmp .. "/lib_orders." .. os.time() .. "." .. math.random(1e6)
os.execute("mkdir -p '" .. dir .. "'")

local ACTIVE = {}
for s in ("CREATED CCAUTHORIZATIONFAILED SHIPPED RECEIVED AUTHENTICATING AUTHENTICATED "
  .. "PAYOUTPENDING PAYOUTCOMPLETED SYSTEMFULFILLED PAYOUTFAILED SUSPENDED PENDING "
  .. "DONOTSHIP UNKNOWN"):gmatch("%S+") do ACTIVE[s] = true end
local HISTORY = { AUTHFAILED = true, DIDNOTSHIP = true, CANCELED = true,
  COMPLETED = true, RETURNED = true, UNKNOWN = true }

-- Requests the client sent while fn ran, and fn's results.
local function cost(fn)
  local before = stockx.stats().requests
  local r = table.pack(fn())
  return stockx.stats().requests - before, table.unpack(r, 1, r.n)
end

local function collect(iter)
  local out, last = {}, nil
  for o, page in iter do
    out[#out + 1] = o
    last = page
  end
  return out, last
end

local function all(list, pred)
  for _, o in ipairs(list) do
    if not pred(o) then return false end
  end
  return true
end

local function pattern(s)
  return (s:gsub("%p", "%%%0"))
end

-- The argument error fn raises names the argument, the function and this
-- file's line, and fn sent no request.
local function argerror(fn, pos, name, fname, desc, detail)
  local before = stockx.stats().requests
  local e = tap.raises(fn, desc, "^[^:]*test_lib_orders%.lua:%d+: bad argument #"
    .. pos .. " '" .. pattern(name) .. "' to '" .. pattern(fname) .. "' %("
    .. (detail and (".*" .. pattern(detail)) or ""))
  tap.eq(type(e), "string", desc .. ": a plain string")
  tap.eq(stockx.stats().requests - before, 0, desc .. ": no request")
end

local function read_file(name)
  local f = io.open(name, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write_file(name, s)
  local f = assert(io.open(name, "wb"))
  f:write(s)
  f:close()
end

scenario.part("active: every active order, filters", function()
  local n, list, page = cost(function() return collect(orders.active()) end)
  tap.ok(#list > 0, "there are active orders")
  tap.eq(#list, page and page.count, "as many as the envelope's count")
  tap.eq(n, (#list + 99) // 100, "in pages of 100")
  tap.ok(all(list, function(o) return ACTIVE[o.status] end), "all in active statuses")

  local created = collect(orders.active { orderStatus = "CREATED" })
  tap.ok(#created > 0 and all(created, function(o) return o.status == "CREATED" end),
    "orderStatus = CREATED: only CREATED orders", tostring(#created))

  local std = collect(orders.active { inventoryTypes = { "STANDARD" } })
  local flex_direct = collect(orders.active { inventoryTypes = "FLEX,DIRECT" })
  tap.ok(#std > 0 and all(std, function(o) return o.inventoryType == "STANDARD" end),
    "inventoryTypes as an array")
  tap.ok(all(flex_direct, function(o)
    return o.inventoryType == "FLEX" or o.inventoryType == "DIRECT"
  end), "inventoryTypes as CSV")
  tap.eq(#std + #flex_direct, #list, "STANDARD plus FLEX,DIRECT is every order")

  local p = list[1].product.productId
  local of_p = collect(orders.active { productId = p })
  tap.ok(#of_p > 0 and all(of_p, function(o) return o.product.productId == p end),
    "productId: only that product's orders")
  local v = list[1].variant.variantId
  local of_v = collect(orders.active { variantId = v })
  tap.ok(#of_v > 0 and all(of_v, function(o) return o.variant.variantId == v end),
    "variantId: only that variant's orders")
  local by_ship = collect(orders.active { sortOrder = "SHIPBYDATE" })
  tap.eq(#by_ship, #list, "sortOrder = SHIPBYDATE: the same orders")

  local np, two = cost(function()
    return collect(orders.active({ pageSize = 2 }, { max_pages = 2 }))
  end)
  tap.eq(#two, 4, "pageSize = 2 and max_pages = 2: 4 orders")
  tap.eq(np, 2, "in 2 requests")
  tap.eq(two[3] and two[3].orderNumber, list[3].orderNumber, "the second page follows")
end)

scenario.part("history: past orders, filters", function()
  local list, page = collect(orders.history())
  tap.ok(#list > 0, "there are past orders")
  tap.eq(#list, page and page.count, "as many as the envelope's count")
  tap.ok(all(list, function(o) return HISTORY[o.status] end), "all in history statuses")
  local done = collect(orders.history { orderStatus = "COMPLETED" })
  tap.ok(#done > 0 and all(done, function(o) return o.status == "COMPLETED" end),
    "orderStatus = COMPLETED")
  local day = list[1].createdAt:sub(1, 10)
  local that_day = collect(orders.history { fromDate = day, toDate = day })
  local has = false
  for _, o in ipairs(that_day) do has = has or o.orderNumber == list[1].orderNumber end
  tap.ok(has and all(that_day, function(o) return o.createdAt:sub(1, 10) == day end),
    "fromDate = toDate = " .. day .. ": the orders created that day")
  local before = collect(orders.history { toDate = "2000-01-01" })
  tap.eq(#before, 0, "toDate before any order: none")
end)

scenario.part("filters are checked before anything is sent", function()
  local fa, fh = "stockx.orders.active", "stockx.orders.history"
  argerror(function() orders.active { orderstatus = "CREATED" } end, 1, "filters", fa,
    "a misspelt filter name", 'unknown filter "orderstatus"')
  argerror(function() orders.active { bogus = 1 } end, 1, "filters", fa,
    "the error lists the known filters",
    "known: initiatedShipmentDisplayIds, inventoryTypes, orderStatus, pageSize, "
      .. "productId, sortOrder, variantId")
  argerror(function() orders.active { fromDate = "2024-01-01" } end, 1, "filters", fa,
    "fromDate is not a filter of active orders", 'unknown filter "fromDate"')
  argerror(function() orders.history { sortOrder = "SHIPBYDATE" } end, 1, "filters", fh,
    "sortOrder is not a filter of the history", 'unknown filter "sortOrder"')
  argerror(function() orders.active { orderStatus = "COMPLETED" } end, 1,
    "filters.orderStatus", fa, "a history status for active orders", "one of CREATED")
  argerror(function() orders.history { orderStatus = "CREATED" } end, 1,
    "filters.orderStatus", fh, "an active status for the history", "one of AUTHFAILED")
  argerror(function() orders.active { inventoryTypes = { "STANDARD", "BULK" } } end, 1,
    "filters.inventoryTypes", fa, "an unknown inventory type")
  argerror(function() orders.active { inventoryTypes = {} } end, 1,
    "filters.inventoryTypes", fa, "an empty inventoryTypes")
  argerror(function() orders.active { sortOrder = "PRICE" } end, 1, "filters.sortOrder",
    fa, "an unknown sortOrder")
  argerror(function() orders.history { fromDate = "2024-1-31" } end, 1,
    "filters.fromDate", fh, "a date not in YYYY-MM-DD")
  argerror(function() orders.active { productId = "a/b" } end, 1, "filters.productId",
    fa, "a productId with a slash")
  argerror(function() orders.active { pageSize = 101 } end, 1, "filters.pageSize", fa,
    "a page size above 100")
  argerror(function() orders.active "CREATED" end, 1, "filters", fa,
    "filters not a table")
  argerror(function() orders.history({}, { max_pages = 0 }) end, 2, "opts.max_pages",
    fh, "max_pages 0")
end)

scenario.part("get, shipping, amount", function()
  local num = fx.activeOrderNumbers[1]
  local o = orders.get(num)
  tap.eq(o.orderNumber, num, "get: the order asked for")
  tap.ok(type(o.shipment) == "table" and type(o.shipment.shippingDocumentUrl) == "string",
    "with its shipment and shippingDocumentUrl")
  tap.ok(type(o.payout) == "table", "and its payout")
  local a = orders.amount(o)
  tap.ok(money.is_money(a), "amount: a stockx.money value")
  tap.eq(a, money.parse(o.amount, o.currencyCode), "of the order's amount and currency")
  tap.eq(orders.amount { amount = null, currencyCode = "USD" }, nil, "a null amount: nil")
  local e = tap.raises(function() orders.get("00000000-00000000") end,
    "an unknown order raises")
  tap.ok(stockx.is_error(e) and e.status == 404, "as an error value with status 404",
    tostring(e))
  argerror(function() orders.get("../listings") end, 1, "orderNumber",
    "stockx.orders.get", "an order number with a slash")
  argerror(function() orders.shipping(nil) end, 1, "orderNumber",
    "stockx.orders.shipping", "shipping without an order number")

  tap.ok(type(fx.directOrderNumber) == "string", "the sandbox has a Direct order")
  local d = orders.shipping(fx.directOrderNumber)
  tap.ok(type(d.shippingDocuments) == "table", "shipping: the Direct order's documents")
  local standard
  for x in orders.active { inventoryTypes = "STANDARD" } do standard = standard or x end
  e = tap.raises(function() orders.shipping(standard.orderNumber) end,
    "shipping of a STANDARD order raises (Direct only)")
  tap.ok(stockx.is_error(e) and e.status == 400, "as an error value with status 400",
    tostring(e))
end)

scenario.part("needs_label", function()
  local url = "https://api.stockx.com/v2/selling/orders/1-2/shipping-document/S-1"
  tap.eq(orders.needs_label { status = "CREATED", shipment = { shippingDocumentUrl = url } },
    true, "CREATED with a shipping document")
  tap.eq(orders.needs_label { status = "SHIPPED", shipment = { shippingDocumentUrl = url } },
    false, "SHIPPED: no")
  tap.eq(orders.needs_label { status = "COMPLETED" }, false, "a past order: no")
  tap.eq(orders.needs_label { status = "CREATED", shipment = null }, false,
    "CREATED with a null shipment: no")
  tap.eq(orders.needs_label { status = "CREATED",
    shipment = { shippingDocumentUrl = null } }, false, "CREATED with a null URL: no")
  tap.eq(orders.needs_label { status = "CREATED" }, true,
    "a list item (no shipment field): its status decides")
  local item
  for o in orders.active { orderStatus = "CREATED" } do item = item or o end
  tap.ok(item and orders.needs_label(item), "a CREATED order of orders.active()")
  tap.ok(item and orders.needs_label(orders.get(item.orderNumber)), "and its detail")
  argerror(function() orders.needs_label("x") end, 1, "order",
    "stockx.orders.needs_label", "needs_label of a string")
end)

local function is_pdf(name)
  local s = read_file(name)
  return s ~= nil and s:sub(1, 5) == "%PDF-" and s:find("%%EOF", 1, true) ~= nil
end

scenario.part("label: a PDF, from a number, a detailed order, a list item", function()
  local num = fx.activeOrderNumbers[1]
  local file = dir .. "/a.pdf"
  local n, name, res = cost(function() return orders.label(num, file) end)
  tap.eq(name, file, "returns the file name")
  tap.ok(type(res) == "table" and res.status == 200, "and res, status 200")
  tap.ok(is_pdf(file), "the file is a PDF (%PDF- ... %%EOF)")
  tap.ok((read_file(file) or ""):find(num, 1, true) ~= nil, "the label of that order")
  tap.eq(n, 2, "an order number: the order is read, then the label (2 requests)")

  local o = orders.get(num)
  local file2 = dir .. "/b.pdf"
  local n2 = cost(function() return orders.label(o, file2) end)
  tap.eq(n2, 1, "a detailed order: only the label is read")
  tap.eq(read_file(file2), read_file(file), "the same label")

  local item
  for x in orders.active({ pageSize = 1 }, { max_pages = 1 }) do item = x end
  local file3 = dir .. "/c.pdf"
  local n3 = cost(function() return orders.label(item, file3) end)
  tap.ok(is_pdf(file3), "a list item (no shipment): a PDF too")
  tap.eq(n3, 2, "the order is read first")

  local foreign = {}
  for k, v in pairs(o) do foreign[k] = v end
  local sid = o.shipment.shippingDocumentUrl:match("[^/]+$")
  foreign.shipment = { shippingDocumentUrl = "https://api.stockx.io/v1/selling/orders/"
    .. num .. "/shipping-document/" .. sid .. "?source=spec" }
  local file4 = dir .. "/d.pdf"
  local n4 = cost(function() return orders.label(foreign, file4) end)
  tap.ok(is_pdf(file4), "a shippingDocumentUrl on another host: read from the base URL")
  tap.eq(n4, 1, "in one request")
  local entries = tap.log("/shipping%-document/" .. pattern(sid))
  tap.ok(#entries >= 4, "the sandbox served every label request",
    tostring(#entries))
end)

scenario.part("label: skip_existing makes no request", function()
  local num = fx.activeOrderNumbers[2]
  local file = dir .. "/skip.pdf"
  orders.label(num, file)
  local before = read_file(file)
  local n, name, res = cost(function()
    return orders.label(num, file, { skip_existing = true })
  end)
  tap.eq(n, 0, "an existing label: no request")
  tap.eq(name, file, "returns the file name")
  tap.eq(res, nil, "and no res")
  tap.eq(read_file(file), before, "the file is untouched")
  local n2 = cost(function()
    return orders.label(orders.get(num), file, { skip_existing = true })
  end)
  tap.eq(n2, 1, "with an order table too (only the get above counts)")

  local empty = dir .. "/empty.pdf"
  write_file(empty, "")
  local n3 = cost(function() return orders.label(num, empty, { skip_existing = true }) end)
  tap.ok(is_pdf(empty), "an empty file is replaced by the label")
  tap.eq(n3, 2, "that costs the order and the label")
  local fresh = dir .. "/fresh.pdf"
  orders.label(num, fresh, { skip_existing = true })
  tap.ok(is_pdf(fresh), "skip_existing with no file: downloads")
end)

scenario.part("label: orders without a shipping document", function()
  local f = "stockx.orders.label"
  local file = dir .. "/none.pdf"
  argerror(function() orders.label({ orderNumber = "123-456", shipment = null }, file) end,
    1, "order", f, "a null shipment", "order 123-456 has no shipping document")
  argerror(function()
    orders.label({ orderNumber = "123-456", shipment = { shippingDocumentUrl = null } },
      file)
  end, 1, "order", f, "a null shippingDocumentUrl", "order 123-456")
  argerror(function()
    orders.label({ orderNumber = "123-456", shipment = { shippingDocumentUrl = "https://x/" } },
      file)
  end, 1, "order", f, "a URL without a shippingId", "no shippingId")
  tap.eq(read_file(file), nil, "no file was made")
  argerror(function() orders.label({ status = "CREATED" }, file) end, 1,
    "order.orderNumber", f, "an order without orderNumber")
  argerror(function() orders.label(fx.activeOrderNumbers[1]) end, 2, "filename", f,
    "no file name")
  argerror(function() orders.label(fx.activeOrderNumbers[1], file, true) end, 3, "opts",
    f, "opts not a table")

  local o = orders.get(fx.activeOrderNumbers[1])
  o.shipment = { shippingDocumentUrl = "https://api.stockx.com/v2/selling/orders/"
    .. o.orderNumber .. "/shipping-document/S-000000000" }
  local keep = dir .. "/keep.pdf"
  write_file(keep, "old")
  local e = tap.raises(function() orders.label(o, keep) end,
    "a shippingId StockX does not know raises")
  tap.ok(stockx.is_error(e) and e.status == 404, "the download's error value (404)",
    tostring(e))
  tap.eq(read_file(keep), "old", "and the existing file is left as it was")

  local sid = orders._internal.shipping_id
  tap.eq(sid("https://api.stockx.com/v2/selling/orders/1-2/shipping-document/S-657138089"),
    "S-657138089", "shippingId: the last path segment")
  tap.eq(sid("http://127.0.0.1:9/selling/orders/1-2/shipping-document/S-1/?a=b#c"), "S-1",
    "whatever the host; a query, a fragment and a trailing slash are not part of it")
  tap.eq(sid("https://api.stockx.com"), nil, "a URL without a path: none")
  tap.eq(sid("https://api.stockx.com/?x=/S-1"), nil, "nor from its query")
end)

os.execute("rm -rf '" .. dir .. "'")
scenario.finish()
tap.done()
