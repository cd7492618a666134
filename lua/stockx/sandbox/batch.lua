--- Batch routes: create, update and delete up to 100 listings per call.
-- A batch is QUEUED when posted, IN_PROGRESS while its items are worked
-- through (in order, as the async_polls/async_ms rule advances) and
-- COMPLETED when all are; each item ends COMPLETED or FAILED.
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")
local listings = require("stockx.sandbox.listings")
local util = require("stockx.sandbox.util")

local array, null = json.array, json.null
local err, reply = http.err, http.reply
local iso = util.iso

local M = {}

M.MAX_ITEMS = 100

local CREATE_PROPS = util.set_of{ "variantId", "amount", "quantity",
  "currencyCode", "expiresAt", "active", "inventoryType" }
local UPDATE_PROPS = util.set_of{ "listingId", "amount", "currencyCode",
  "expiresAt", "active" }
local DELETE_PROPS = util.set_of{ "listingId" }

--------------------------------------------------------------------------
-- Request items -> batch items.  Each returns the batch items made from
-- one request item (appended to out), or a message for a 400.
--------------------------------------------------------------------------

local CHECK = {}

function CHECK.create(sb, it, at, out)
  local extra = http.extra_property(it, CREATE_PROPS)
  if extra then return at .. "property " .. extra .. " should not exist" end
  local f, msg = listings.check_fields(it, at)
  if not f then return msg end
  if not f.variantId then return at .. "variantId is required" end
  if not f.cents then return at .. "amount is required" end
  local q = math.tointeger(it.quantity)
  if q == nil or q < 1 or q > M.MAX_ITEMS then
    return at .. "quantity must be an integer between 1 and " .. M.MAX_ITEMS
  end
  local expires = f.expires or iso(util.now() + 365 * 86400)
  for _ = 1, q do
    out[#out + 1] = { itemId = sb:new_id(), status = "QUEUED",
      listingInput = { active = f.active ~= false,
        currencyCode = f.currency or "USD", variantId = f.variantId,
        expiresAt = expires, amount = f.amount },
      _f = f }
  end
end

function CHECK.update(sb, it, at, out)
  local extra = http.extra_property(it, UPDATE_PROPS)
  if extra then return at .. "property " .. extra .. " should not exist" end
  if type(it.listingId) ~= "string" then return at .. "listingId is required" end
  local f, msg = listings.check_fields(it, at)
  if not f then return msg end
  local input = { listingId = it.listingId, amount = f.amount,
    currencyCode = f.currency, expiresAt = f.expires }
  if f.active == nil then input.active = null else input.active = f.active end
  out[#out + 1] = { itemId = sb:new_id(), status = "QUEUED",
                    listingInput = input, _f = f }
end

function CHECK.delete(sb, it, at, out)
  local extra = http.extra_property(it, DELETE_PROPS)
  if extra then return at .. "property " .. extra .. " should not exist" end
  if type(it.listingId) ~= "string" then return at .. "listingId is required" end
  out[#out + 1] = { itemId = sb:new_id(), status = "QUEUED",
                    listingInput = { id = it.listingId }, _f = {} }
end

--------------------------------------------------------------------------
-- Working one item.  Each returns the listing it touched (or nil) and
-- the reason it failed (or nil).
--------------------------------------------------------------------------

local RUN = {}

local function touch(l, b, item)
  l.batch = { batchId = b.batchId, taskId = item.itemId }
end

function RUN.create(sb, b, item)
  local f = item._f
  local v = sb.catalog.variant_by_id[f.variantId]
  if not v then return nil, "Variant not found" end
  if b._fail then return nil, b._fail end
  if sb.catalog.unsellable[v.productId] then
    return nil, "Item is not sellable"
  end
  local l = listings.new_listing(sb, v, f)
  touch(l, b, item)
  local why = listings.apply(sb, l, "CREATE", f)
  listings.add_op(sb, l, "CREATE", { additions = { listingId = l.listingId,
    status = l.status, amount = l.amount, currencyCode = l.currencyCode },
    updates = {}, removals = {} }, why and "FAILED" or "SUCCEEDED", why)
  return l, why
end

local function existing(sb, b, item, id)
  local l = sb.idx.listing_by_id[id]
  if not l then return nil, "Listing not found" end
  touch(l, b, item)
  return l
end

function RUN.update(sb, b, item)
  local f = item._f
  local l, why = existing(sb, b, item, item.listingInput.listingId)
  if not l then return nil, why end
  local ty = f.active == true and "ACTIVATE" or f.active == false
    and "DEACTIVATE" or "UPDATE"
  why = listings.apply(sb, l, "UPDATE", f, b._fail)
  if not why and ty ~= "UPDATE" then why = listings.apply(sb, l, ty, f) end
  listings.add_op(sb, l, ty, { additions = {}, removals = {},
    updates = { amount = f.amount, currencyCode = f.currency,
                status = l.status } }, why and "FAILED" or "SUCCEEDED", why)
  return l, why
end

function RUN.delete(sb, b, item)
  local l, why = existing(sb, b, item, item.listingInput.id)
  if not l then return nil, why end
  local ask = l.ask
  why = listings.apply(sb, l, "DELETE", {}, b._fail)
  listings.add_op(sb, l, "DELETE", { additions = {},
    updates = { status = "DELETED" },
    removals = ask ~= null and { askId = ask.askId } or {} },
    why and "FAILED" or "SUCCEEDED", why)
  -- the result names the ask the listing had
  if not why then return { listingId = l.listingId, ask = ask } end
  return l, why
end

local function work(sb, b, item)
  local l, why = RUN[b._kind](sb, b, item)
  item._f = nil
  if why then
    item.status, item.error = "FAILED", why
  else
    item.status = "COMPLETED"
    item.result = { listingId = l.listingId,
                    askId = l.ask ~= null and l.ask.askId or null }
  end
end

--------------------------------------------------------------------------
-- Views.
--------------------------------------------------------------------------

local function counts(b)
  local c = {}
  for _, it in ipairs(b.items) do
    local k = it.status:lower()
    c[k] = (c[k] or 0) + 1
  end
  return c
end

local function view(b)
  return { batchId = b.batchId, status = b.status, completedAt = b.completedAt,
    createdAt = b.createdAt, updatedAt = b.updatedAt,
    totalItems = #b.items, itemStatuses = counts(b) }
end

local function item_view(it)
  return { itemId = it.itemId, status = it.status,
           listingInput = it.listingInput, result = it.result,
           error = it.error }
end

--- Moves a batch along: items up to progress p (0..1) are worked; the
-- batch leaves QUEUED at a quarter of the way (so with the default
-- async_polls = 2 the first read sees QUEUED, the second IN_PROGRESS).
-- @return true when the batch is COMPLETED
function M.progress(sb, b, p)
  local target = math.min(#b.items, math.floor(p * #b.items + 1e-9))
  if b.status == "QUEUED" and (p >= 0.25 or target > 0) then
    b.status, b.updatedAt = "IN_PROGRESS", iso(util.now())
    sb:changed()
  end
  while b._done < target do
    b._done = b._done + 1
    work(sb, b, b.items[b._done])
    b.updatedAt = iso(util.now())
  end
  if p >= 1 then
    b.status = "COMPLETED"
    b.completedAt, b.updatedAt = iso(util.now()), iso(util.now())
    b._polls, b._t0 = nil, nil
    sb:changed()
    return true
  end
  return false
end

--------------------------------------------------------------------------
-- Routes.
--------------------------------------------------------------------------

local function post(kind)
  return function(sb, req)
    local body, e = http.body_object(req, true)
    if not body then return e end
    local extra = http.extra_property(body, { items = true })
    if extra then
      return err(400, "property " .. extra .. " should not exist")
    end
    local items = body.items
    if not json.is_list(items) or #items == 0 then
      return err(400, "items must be a non-empty array")
    end
    if #items > M.MAX_ITEMS then
      return err(400, "A batch can hold at most " .. M.MAX_ITEMS .. " items")
    end
    local out = array()
    for i, it in ipairs(items) do
      local at = "items[" .. (i - 1) .. "]."
      if not json.is_object(it) then
        return err(400, "items[" .. (i - 1) .. "] must be an object")
      end
      local msg = CHECK[kind](sb, it, at, out)
      if msg then return err(400, msg) end
    end
    local now = iso(util.now())
    local b = { batchId = sb:new_id(), status = "QUEUED", completedAt = null,
      createdAt = now, updatedAt = now, items = out, _kind = kind,
      _done = 0, _polls = 0, _t0 = util.now(),
      _fail = sb:take_operation_fail(req) }
    sb.state.batches[b.batchId] = b
    sb:add_pending("batch", b.batchId)
    sb:changed()
    return reply(200, view(b))
  end
end

local function find(sb, kind, id)
  local b = sb.state.batches[id]
  if b and b._kind == kind then return b end
end

local function count_poll(b)
  if b.status ~= "COMPLETED" then
    b._polls = b._polls + 1
  end
end

local function get(kind)
  return function(sb, _, id)
    local b = find(sb, kind, id)
    if not b then return http.not_found() end
    local r = reply(200, view(b))
    count_poll(b)
    return r
  end
end

local function get_items(kind)
  return function(sb, req, id)
    local b = find(sb, kind, id)
    if not b then return http.not_found() end
    local want = req.query.status
    want = want and want ~= "" and want:upper() or nil
    local out = array()
    for _, it in ipairs(b.items) do
      if not want or it.status == want then out[#out + 1] = item_view(it) end
    end
    local r = reply(200, { items = out })
    count_poll(b)
    return r
  end
end

M.routes = {}
for _, kind in ipairs{ "create", "update", "delete" } do
  local base = "/selling/batch/" .. kind .. "-listing"
  local r = M.routes
  r[#r + 1] = { "POST", base, post(kind), write = true }
  r[#r + 1] = { "GET", base .. "/{batchId}", get(kind) }
  r[#r + 1] = { "GET", base .. "/{batchId}/items", get_items(kind) }
end

return M
