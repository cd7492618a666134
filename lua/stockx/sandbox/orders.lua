--- Order routes: active and historical orders (page-number envelopes),
-- one order with its shipment and payout, the shipping label as a real
-- PDF, and the shipping documents of Direct orders.  Orders are seeded
-- and read-only.
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")
local util = require("stockx.sandbox.util")

local array, null = json.array, json.null
local err, reply = http.err, http.reply

local M = {}

local INVENTORY = util.set_of{ "STANDARD", "FLEX", "DIRECT" }
local ACTIVE_SET = util.set_of{ "CREATED", "CCAUTHORIZATIONFAILED", "SHIPPED",
  "RECEIVED", "AUTHENTICATING", "AUTHENTICATED", "PAYOUTPENDING",
  "PAYOUTCOMPLETED", "SYSTEMFULFILLED", "PAYOUTFAILED", "SUSPENDED",
  "PENDING", "DONOTSHIP" }
local HISTORY_SET = util.set_of{ "AUTHFAILED", "DIDNOTSHIP", "CANCELED",
  "COMPLETED", "RETURNED" }

--- The payout of a sale of amount (a decimal string) in currency.
function M.payout(amount, currency)
  local cents = math.floor((tonumber(amount) or 0) * 100 + 0.5)
  local fee, proc, ship = (cents * 9 + 50) // 100, (cents * 3 + 50) // 100, 856
  local money = util.money
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

local function filters(q, statuses, sortable)
  local f, msg = {}
  if q.orderStatus and q.orderStatus ~= "" and not statuses[q.orderStatus]
  then
    return nil, "invalid orderStatus: " .. q.orderStatus
  end
  f.status = q.orderStatus ~= "" and q.orderStatus or nil
  f.product = q.productId ~= "" and q.productId or nil
  f.variant = q.variantId ~= "" and q.variantId or nil
  f.shipments, msg = http.csv(q, "initiatedShipmentDisplayIds")
  if msg then return nil, msg end
  local ok
  ok, msg = http.shared_filters(q, f, INVENTORY)
  if not ok then return nil, msg end
  local sort = q.sortOrder
  if sort and sort ~= "" then
    if not sortable or (sort ~= "CREATEDAT" and sort ~= "SHIPBYDATE") then
      return nil, "sortOrder must be CREATEDAT or SHIPBYDATE"
    end
    f.sort = sort
  end
  return f
end

local function matches(o, f)
  local day = o.createdAt:sub(1, 10)
  local ship = o.initiatedShipments
  return (not f.status or o.status == f.status)
    and (not f.product or o.product.productId == f.product)
    and (not f.variant or o.variant.variantId == f.variant)
    and (not f.inventory or f.inventory[o.inventoryType])
    and (not f.shipments or (ship ~= null and f.shipments[ship.inbound
      .displayId]))
    and (not f.from or day >= f.from) and (not f.to or day <= f.to)
end

local function list(sb, req, orders, statuses, sortable)
  local size, number = http.page_params(req.query, 100)
  if not size then return err(400, number) end
  local f, msg = filters(req.query, statuses, sortable)
  if not f then return err(400, msg) end
  local found = {}
  for _, o in ipairs(orders) do
    if matches(o, f) then found[#found + 1] = o end
  end
  if f.sort == "SHIPBYDATE" then
    local ship = sb.state.shipping
    table.sort(found, function(a, b)
      local x, y = ship[a.orderNumber], ship[b.orderNumber]
      if x.ship_by ~= y.ship_by then return x.ship_by < y.ship_by end
      return a.orderNumber < b.orderNumber
    end)
  end
  return reply(200, http.paginate(found, size, number, "orders"))
end

local function active(sb, req)
  return list(sb, req, sb.state.active_orders, ACTIVE_SET, true)
end

local function history(sb, req)
  return list(sb, req, sb.state.history_orders, HISTORY_SET, false)
end

local DETAIL_FIELDS = { "askId", "orderNumber", "listingId", "amount",
  "currencyCode", "createdAt", "updatedAt", "variant", "product", "status",
  "initiatedShipments", "inventoryType", "authenticationDetails" }

local function get_order(sb, req, number)
  local o = sb.idx.order_by_number[number]
  if not o then return http.not_found() end
  local s, base = sb.state.shipping[number], http.base_url(sb, req)
  local out = {}
  for _, k in ipairs(DETAIL_FIELDS) do out[k] = o[k] end
  out.payout = M.payout(o.amount, o.currencyCode)
  out.shipment = { carrierCode = "UPS", shipByDate = s.ship_by,
    trackingNumber = s.tracking,
    trackingUrl = "https://www.ups.com/track?tracknum=" .. s.tracking,
    shippingLabelUrl = base .. "/_sandbox/labels/" .. s.id .. ".png",
    shippingDocumentUrl = base .. "/selling/orders/" .. number
      .. "/shipping-document/" .. s.id }
  return reply(200, out)
end

local function pdf_escape(s)
  return (s:gsub("[^\32-\126]", "?"):gsub("[()\\]", "\\%0"))
end

--- A one-page PDF 1.4 (4x6 in label) showing lines of text, with an xref
-- table computed from the real byte offsets.
function M.label_pdf(lines)
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
  local o, s = sb.idx.order_by_number[number], sb.state.shipping[number]
  if not o or not s or s.id ~= shipping_id then return http.not_found() end
  local pdf = M.label_pdf{ "StockX shipping label", "Order " .. number,
    "Shipment " .. shipping_id, "UPS " .. s.tracking,
    o.product.productName ~= null and o.product.productName or "",
    "Size " .. (o.variant.variantValue ~= null and o.variant.variantValue
      or "") }
  return { status = 200, body = pdf,
           headers = { ["Content-Type"] = "application/pdf" } }
end

local function shipping_details(sb, req, number)
  local o, s = sb.idx.order_by_number[number], sb.state.shipping[number]
  if not o then return http.not_found() end
  if o.inventoryType ~= "DIRECT" then
    return err(400, "This endpoint only supports Direct order types")
  end
  local base = http.base_url(sb, req)
  local label = base .. "/selling/orders/" .. number .. "/shipping-document/"
    .. s.id
  return reply(200, { shippingDocuments = {
    requiredDocuments = { shippingLabel = label },
    message = "Print the label and attach it to the outside of the box.",
    additionalDocumentsRequired = false, thermalLabelOnly = null,
    sellerShippingInstructions = { normalLabel = { en = label },
                                   thermalLabel = { en = label } } } })
end

M.routes = {
  { "GET", "/selling/orders/active", active },
  { "GET", "/selling/orders/history", history },
  { "GET", "/selling/orders/{orderNumber}", get_order },
  { "GET", "/selling/orders/{orderNumber}/shipping-document",
    shipping_details },
  { "GET", "/selling/orders/{orderNumber}/shipping-document/{shippingId}",
    shipping_document },
}

return M
