--- Listing routes: reads, the asynchronous single-listing writes and
-- their operations.  A write checks its input at once (400), then answers
-- a PENDING operation that Sandbox:settle finishes later; the listing
-- changes only when the operation succeeds.
local data = require("stockx.sandbox.data")
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")
local orders = require("stockx.sandbox.orders")
local util = require("stockx.sandbox.util")

local array, null = json.array, json.null
local err, reply = http.err, http.reply
local iso = util.iso

local M = {}

local STATUSES = util.set_of{ "INACTIVE", "ACTIVE", "DELETED", "CANCELED",
  "MATCHED", "COMPLETED" }
local INVENTORY = util.set_of{ "STANDARD", "FLEX", "DIRECT" }
M.CURRENCIES = util.set_of{ "AUD", "CAD", "CHF", "EUR", "GBP", "HKD", "JPY",
  "KRW", "MXN", "NZD", "SGD", "USD" }
local CURRENCY_LIST = "AUD, CAD, CHF, EUR, GBP, HKD, JPY, KRW, MXN, NZD, "
  .. "SGD, USD"
-- Listings in these states take no more changes.
local TERMINAL = util.set_of{ "DELETED", "CANCELED", "MATCHED", "COMPLETED" }
local ASK_TTL = 365 * 86400

--------------------------------------------------------------------------
-- Public views of operations.
--------------------------------------------------------------------------

local OP_FIELDS = { "listingId", "operationId", "operationType",
  "operationStatus", "operationInitiatedBy", "operationInitiatedVia",
  "createdAt", "updatedAt", "changes", "error" }

--- OperationApi (GET .../operations/{id} and the operations list).
function M.op_api(op)
  local out = {}
  for _, k in ipairs(OP_FIELDS) do out[k] = op[k] end
  return out
end

--- ListingAsyncOperationResponse: OperationApi plus an absolute
-- operationUrl.
function M.op_async(op, base)
  local out = M.op_api(op)
  out.operationUrl = base .. "/selling/listings/" .. op.listingId
    .. "/operations/" .. op.operationId
  return out
end

local function op_last(op)
  return { operationId = op.operationId, operationType = op.operationType,
    operationStatus = op.operationStatus,
    operationInitiatedBy = op.operationInitiatedBy,
    operationInitiatedVia = op.operationInitiatedVia,
    operationCreatedAt = op.createdAt, operationUpdatedAt = op.updatedAt,
    changes = op.changes, error = op.error }
end

local function no_changes()
  return { additions = {}, updates = {}, removals = {} }
end

--------------------------------------------------------------------------
-- Input checks shared with the batch routes.
--------------------------------------------------------------------------

--- Checks the listing fields of an input object: amount, currencyCode,
-- expiresAt, active, inventoryType, variantId (each optional here).
-- @return {cents=, amount=, currency=, expires= (ISO), active=,
--   inventory=, variantId=}, or nil and a message
function M.check_fields(body, prefix)
  prefix = prefix or ""
  local f = {}
  if body.amount ~= nil then
    f.cents = util.parse_amount(body.amount)
    if not f.cents then
      return nil, prefix .. "amount must be a decimal string greater than 0"
        .. ' (such as "150" or "59.45")'
    end
    f.amount = util.money(f.cents)
  end
  if body.currencyCode ~= nil then
    if not M.CURRENCIES[body.currencyCode] then
      return nil, prefix .. "currencyCode must be one of " .. CURRENCY_LIST
    end
    f.currency = body.currencyCode
  end
  if body.expiresAt ~= nil then
    local t = util.parse_iso(body.expiresAt)
    if not t then
      return nil, prefix .. "expiresAt must be an ISO-8601 date-time such"
        .. " as 2030-11-09T12:44:31.000Z"
    end
    if t <= util.now() then
      return nil, prefix .. "expiresAt must be in the future"
    end
    f.expires = iso(t)
  end
  if body.active ~= nil then
    if type(body.active) ~= "boolean" then
      return nil, prefix .. "active must be a boolean"
    end
    f.active = body.active
  end
  if body.inventoryType ~= nil then
    if body.inventoryType ~= "STANDARD" and body.inventoryType ~= "DIRECT" then
      return nil, prefix .. "inventoryType must be STANDARD or DIRECT"
    end
    f.inventory = body.inventoryType
  end
  if body.variantId ~= nil then
    if type(body.variantId) ~= "string" then
      return nil, prefix .. "variantId must be a string"
    end
    f.variantId = body.variantId
  end
  return f
end

--------------------------------------------------------------------------
-- Changes to listings.  Each returns nil, or the reason it fails.
--------------------------------------------------------------------------

local function is_expired(l, now_iso)
  return l.ask ~= null and l.ask.askExpiresAt ~= nil
    and l.ask.askExpiresAt <= now_iso
end

local function set_fields(l, f, t)
  if f.amount then l.amount = f.amount end
  if f.currency then l.currencyCode = f.currency end
  if l.ask ~= null then
    l.ask.askUpdatedAt = t
    if f.expires then l.ask.askExpiresAt = f.expires end
  end
end

local function put_ask(sb, l, f, now)
  local t = iso(now)
  if l.ask == null then
    l.ask = { askId = sb:new_ask_id(), askCreatedAt = t, askUpdatedAt = t,
              askExpiresAt = f.expires or iso(now + ASK_TTL) }
  else
    l.ask.askUpdatedAt = t
    if f.expires then
      l.ask.askExpiresAt = f.expires
    elseif is_expired(l, t) then
      l.ask.askExpiresAt = iso(now + ASK_TTL)
    end
  end
end

local APPLY = {}

function APPLY.CREATE(sb, l, f, now)
  if sb.catalog.unsellable[l.product.productId] then
    return "Item is not sellable"
  end
  if f.active ~= false then
    l.status = "ACTIVE"
    put_ask(sb, l, f, now)
  end
end

function APPLY.UPDATE(_, l, f, now)
  set_fields(l, f, iso(now))
end

function APPLY.ACTIVATE(sb, l, f, now)
  if sb.catalog.unsellable[l.product.productId] then
    return "Item is not sellable"
  end
  set_fields(l, f, iso(now))
  l.status = "ACTIVE"
  put_ask(sb, l, f, now)
end

function APPLY.DEACTIVATE(_, l)
  l.status, l.ask = "INACTIVE", null
end

function APPLY.DELETE(_, l)
  l.status, l.ask = "DELETED", null
end

-- A failed create or activate leaves the listing INACTIVE, without an ask
-- (StockX documents that); any other failed write leaves it as it was.
local FAIL_INACTIVE = { CREATE = true, ACTIVATE = true }

--- Applies a change of type ty ("CREATE", "UPDATE", ...) with fields f
-- to listing l now.
-- @return nil, or the reason the change failed
function M.apply(sb, l, ty, f, fail_text)
  local now = util.now()
  local why = fail_text
  if not why and TERMINAL[l.status] then
    why = (ty == "DELETE" and l.status == "DELETED")
      and "Listing is already deleted"
      or "Listing cannot be changed in status " .. l.status
  end
  if not why then why = APPLY[ty](sb, l, f, now) end
  if why and FAIL_INACTIVE[ty] and not TERMINAL[l.status] then
    l.status, l.ask = "INACTIVE", null
  end
  l.updatedAt = iso(now)
  sb:changed()
  return why
end

--- A new INACTIVE listing for variant v (not yet applied: see M.apply).
function M.new_listing(sb, v, f)
  local p = sb.catalog.product_by_id[v.productId]
  local t = iso(util.now())
  local l = {
    listingId = sb:new_id(), status = "INACTIVE", amount = f.amount,
    currencyCode = f.currency or "USD",
    inventoryType = f.inventory or "STANDARD", createdAt = t, updatedAt = t,
    batch = null, ask = null, authenticationDetails = null, order = null,
    initiatedShipments = null, condition = null, conditionDescription = null,
    product = { productId = p.productId, productName = p.title,
                styleId = p.styleId },
    variant = { variantId = v.variantId, variantName = v.variantName,
                variantValue = v.variantValue },
  }
  local st = sb.state
  st.listings[#st.listings + 1] = l
  st.ops[l.listingId] = array()
  data.add_listing(sb.idx, l)
  sb:changed()
  return l
end

--- Appends an operation to listing l's history.
-- @param status "PENDING" (settled later), "SUCCEEDED" or "FAILED"
function M.add_op(sb, l, ty, changes, status, error_text)
  local now = util.now()
  local t = iso(now)
  local op = { listingId = l.listingId, operationId = sb:new_id(),
    operationType = ty, operationStatus = status,
    operationInitiatedBy = "USER", operationInitiatedVia = "PUBLIC-API",
    createdAt = t, updatedAt = t,
    changes = status == "FAILED" and no_changes() or changes,
    error = error_text or null }
  local ops = sb.state.ops[l.listingId]
  ops[#ops + 1] = op
  sb.idx.op_by_id[op.operationId] = op
  if status == "PENDING" then
    op._polls, op._t0 = 0, now
    sb:add_pending("op", op.operationId)
  end
  sb:changed()
  return op
end

-- The changes a write asks for, in the shape of StockX's example.
local function requested(ty, f, t)
  local ask
  if f.amount or f.currency or f.expires then
    ask = { amount = f.amount, currency = f.currency, expiresAt = f.expires }
  end
  local c = no_changes()
  c.updates.updatedAt = t
  if ty == "CREATE" then
    c.additions = { active = f.active ~= false, askData = ask or {} }
  elseif ty == "UPDATE" then
    c.updates.askData = ask
  elseif ty == "ACTIVATE" then
    c.updates.active, c.updates.askData = true, ask
  elseif ty == "DEACTIVATE" then
    c.updates.active = false
  elseif ty == "DELETE" then
    c.updates.status = "DELETED"
  end
  return c
end

local function run(sb, op)
  local l = sb.idx.listing_by_id[op.listingId]
  local why = M.apply(sb, l, op.operationType, op._input or {}, op._fail)
  op.operationStatus = why and "FAILED" or "SUCCEEDED"
  if why then op.changes, op.error = no_changes(), why end
  op.updatedAt = l.updatedAt
  op._input, op._fail, op._polls, op._t0 = nil, nil, nil, nil
end

--- Settles a PENDING operation (and, first, the listing's older pending
-- ones: a listing's operations finish in order).
function M.settle_op(sb, op)
  if op.operationStatus ~= "PENDING" then return end
  for _, o in ipairs(sb.state.ops[op.listingId]) do
    if o == op then break end
    if o.operationStatus == "PENDING" then run(sb, o) end
  end
  run(sb, op)
end

--------------------------------------------------------------------------
-- Reads.
--------------------------------------------------------------------------

local function filters(q)
  local f, msg = {}
  f.statuses, msg = http.csv(q, "listingStatuses", STATUSES)
  if msg then return nil, msg end
  for _, k in ipairs{ "productIds", "variantIds", "batchIds",
                      "initiatedShipmentDisplayIds" } do
    f[k], msg = http.csv(q, k)
    if msg then return nil, msg end
  end
  local ok
  ok, msg = http.shared_filters(q, f, INVENTORY)
  if not ok then return nil, msg end
  f.expired, msg = http.bool(q, "isExpired", false)
  if msg then return nil, msg end
  return f
end

local function matches(l, f, now_iso)
  local day = l.createdAt:sub(1, 10)
  local ship = l.initiatedShipments
  local shipments = f.initiatedShipmentDisplayIds
  return (f.statuses and f.statuses[l.status]
          or (not f.statuses and l.status ~= "DELETED"))
    and (not f.productIds or f.productIds[l.product.productId])
    and (not f.variantIds or f.variantIds[l.variant.variantId])
    and (not f.batchIds or (l.batch ~= null and f.batchIds[l.batch.batchId]))
    and (not f.inventory or f.inventory[l.inventoryType])
    and (not shipments or (ship ~= null and shipments[ship.inbound.displayId]))
    and (not f.from or day >= f.from) and (not f.to or day <= f.to)
    and (f.expired or not is_expired(l, now_iso))
end

local function get_listings(sb, req)
  local size, number = http.page_params(req.query, 100)
  if not size then return err(400, number) end
  local f, msg = filters(req.query)
  if not f then return err(400, msg) end
  local found, now = {}, iso(util.now())
  for _, l in ipairs(sb.state.listings) do
    if matches(l, f, now) then found[#found + 1] = l end
  end
  return reply(200, http.paginate(found, size, number, "listings"))
end

--- Counts a read of each pending operation of listing id.
local function count_polls(sb, id)
  local ops = sb.state.ops[id]
  for i = #ops, 1, -1 do
    if ops[i].operationStatus ~= "PENDING" then break end
    ops[i]._polls = ops[i]._polls + 1
  end
end

local function get_listing(sb, _, id)
  local l = sb.idx.listing_by_id[id]
  if not l then return http.not_found() end
  local out = {}
  for k, v in pairs(l) do out[k] = v end
  out.payout = (l.ask ~= null and l.amount ~= null)
    and orders.payout(l.amount, l.currencyCode) or null
  local ops = sb.state.ops[id]
  out.lastOperation = ops[#ops] and op_last(ops[#ops]) or null
  local r = reply(200, out)
  count_polls(sb, id)
  return r
end

-- Cursors are opaque base64 (with '+', '/' and '=' that clients must
-- percent-encode): "<listingId>:<offset>".
local function get_operations(sb, req, id)
  local ops = sb.state.ops[id]
  if not ops then return http.not_found() end
  local size, number = http.page_params({ pageSize = req.query.pageSize }, 100)
  if not size then return err(400, number) end
  local offset = 0
  if req.query.cursor and req.query.cursor ~= "" then
    local raw = util.b64decode(req.query.cursor) or ""
    local lid, off = raw:match("^(.+):(%d+)$")
    if lid ~= id then return err(400, "invalid cursor") end
    offset = tonumber(off)
  end
  local page = array()
  for i = offset + 1, math.min(#ops, offset + size) do
    page[#page + 1] = M.op_api(ops[i])
  end
  local next_cursor = offset + size < #ops
    and util.b64encode(id .. ":" .. (offset + size)) or null
  return reply(200, { nextCursor = next_cursor, operations = page })
end

local function get_operation(sb, _, id, opid)
  local op = sb.idx.op_by_id[opid]
  if not op or op.listingId ~= id then return http.not_found() end
  local r = reply(200, M.op_api(op))
  if op.operationStatus == "PENDING" then
    op._polls = op._polls + 1
  end
  return r
end

--------------------------------------------------------------------------
-- Writes.
--------------------------------------------------------------------------

local CREATE_PROPS = util.set_of{ "amount", "variantId", "currencyCode",
  "expiresAt", "active", "inventoryType" }
local ASK_PROPS = util.set_of{ "amount", "currencyCode", "expiresAt" }

-- Parses and checks the body: the fields, or nil and a 400 reply.
local function write_input(req, allowed, required)
  local body, e = http.body_object(req, required)
  if not body then return nil, e end
  local extra = http.extra_property(body, allowed)
  if extra then return nil, err(400, "property " .. extra
    .. " should not exist") end
  local f, msg = M.check_fields(body)
  if not f then return nil, err(400, msg) end
  return f
end

local function pending(sb, req, l, ty, f)
  local op = M.add_op(sb, l, ty, requested(ty, f, iso(util.now())),
                      "PENDING")
  op._input, op._fail = f, sb:take_operation_fail(req)
  return op
end

local function create(sb, req)
  local f, e = write_input(req, CREATE_PROPS, true)
  if not f then return e end
  if not f.cents then return err(400, "amount is required") end
  if not f.variantId then return err(400, "variantId is required") end
  local v = sb.catalog.variant_by_id[f.variantId]
  if not v then
    return err(400, "variantId " .. f.variantId .. " was not found")
  end
  local l = M.new_listing(sb, v, f)
  local op = pending(sb, req, l, "CREATE", f)
  return reply(201, M.op_async(op, http.base_url(sb, req)))
end

-- The write routes on an existing listing.
local function write(ty, allowed, required)
  return function(sb, req, id)
    local l = sb.idx.listing_by_id[id]
    if not l then return http.not_found() end
    local f = {}
    if allowed then
      local e
      f, e = write_input(req, allowed, required)
      if not f then return e end
    end
    local op = pending(sb, req, l, ty, f)
    return reply(200, M.op_async(op, http.base_url(sb, req)))
  end
end

M.routes = {
  { "GET", "/selling/listings", get_listings },
  { "POST", "/selling/listings", create, write = true },
  { "GET", "/selling/listings/{listingId}", get_listing },
  { "PATCH", "/selling/listings/{listingId}",
    write("UPDATE", ASK_PROPS, true), write = true },
  { "DELETE", "/selling/listings/{listingId}", write("DELETE"),
    write = true },
  { "PUT", "/selling/listings/{listingId}/activate",
    write("ACTIVATE", ASK_PROPS, true), write = true },
  { "PUT", "/selling/listings/{listingId}/deactivate", write("DEACTIVATE"),
    write = true },
  { "GET", "/selling/listings/{listingId}/operations", get_operations },
  { "GET", "/selling/listings/{listingId}/operations/{operationId}",
    get_operation },
}

return M
