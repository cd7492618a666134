--- Admin routes (/_sandbox/...): stats, reset, faults, rate limit,
-- config, fixtures (ids a test can start from) and the shipping label
-- images that orders link to.  No auth, no limits, not counted in stats.
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")

local array = json.array
local err, reply = http.err, http.reply

local M = {}

-- A 1x1 grey PNG: what shippingLabelUrl points at.
local LABEL_PNG = "\x89\x50\x4E\x47\x0D\x0A\x1A\x0A\x00\x00\x00\x0D\x49\x48"
  .. "\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00\x3A\x7E"
  .. "\x9B\x55\x00\x00\x00\x0A\x49\x44\x41\x54\x78\x9C\x63\xF8\x0F\x00\x01"
  .. "\x01\x01\x00\xB1\x38\xF6\x14\x00\x00\x00\x00\x49\x45\x4E\x44\xAE\x42"
  .. "\x60\x82"

-- The body as a JSON object ({} when empty), or nil.
local function body_of(req)
  if (req.body or ""):match("^%s*$") then return {} end
  local v = json.decode(req.body)
  return json.is_object(v) and v or nil
end

-- Runs fn(sb, arg) and turns a raised message into a 400.
local function guarded(fn, sb, arg)
  local ok, v = pcall(fn, sb, arg)
  if not ok then return nil, err(400, (tostring(v):gsub("^.-:%d+: ", ""))) end
  return v
end

local function stats(sb)
  return reply(200, sb:stats())
end

local function reset(sb)
  sb:reset()
  return reply(200, { ok = true })
end

-- Body: a fault table, or {"spec": "PATH:key=value,..."}.
local function add_fault(sb, req)
  local f = body_of(req)
  if not f then return err(400, "body must be a JSON object") end
  if type(f.spec) == "string" and next(f, next(f)) == nil then f = f.spec end
  local id, e = guarded(sb.add_fault, sb, f)
  if not id then return e end
  return reply(200, { ok = true, id = id })
end

local function faults(sb)
  return reply(200, { faults = array(sb.faults:public()) })
end

local function clear_faults(sb)
  sb:clear_faults()
  return reply(200, { ok = true })
end

local function rate_limit(sb, req)
  local cfg = body_of(req)
  if not cfg then return err(400, "body must be a JSON object") end
  local _, e = guarded(function(s, c) s:set_rate_limit(c); return true end,
                       sb, cfg)
  if e then return e end
  return reply(200, { ok = true })
end

local function get_config(sb)
  return reply(200, sb:config())
end

local function set_config(sb, req)
  local cfg = body_of(req)
  if not cfg then return err(400, "body must be a JSON object") end
  local _, e = guarded(function(s, c) s:set_config(c); return true end,
                       sb, cfg)
  if e then return e end
  return reply(200, sb:config())
end

local function ids(list, key, n)
  local out = array()
  for i = 1, math.min(n, #list) do out[i] = list[i][key] end
  return out
end

-- Ids a test can start from without walking the API.
-- The repricer's cases (data.lua repricer_cases): listing ids by kind.
local function repricer_fixtures(cat, st)
  local by_variant, same, flex, direct, lone = {}, json.null, json.null,
    json.null, json.null
  for _, l in ipairs(st.listings) do
    if l.status == "ACTIVE" then
      local vid = l.variant.variantId
      if by_variant[vid] and same == json.null then
        same = array{ by_variant[vid], l.listingId }
      end
      by_variant[vid] = by_variant[vid] or l.listingId
      if l.inventoryType == "FLEX" and flex == json.null then flex = l.listingId end
      if l.inventoryType == "DIRECT" and direct == json.null then
        direct = l.listingId
      end
      if l.product.productId == cat.no_asks_id and lone == json.null then
        lone = l.listingId
      end
    end
  end
  local due = array()
  for _, o in ipairs(st.active_orders) do
    if o.status == "CREATED" and st.shipping[o.orderNumber] then
      due[#due + 1] = o.orderNumber
    end
  end
  return { sameVariantListingIds = same, flexListingId = flex,
    directListingId = direct, noAsksProductId = cat.no_asks_id,
    noAsksListingId = lone, createdOrderNumbers = due }
end

local function fixtures(sb)
  local cat, st = sb.catalog, sb.state
  local p1 = cat.products[1]
  local direct, gtin
  for _, o in ipairs(st.active_orders) do
    if o.inventoryType == "DIRECT" then direct = o.orderNumber; break end
  end
  for _, v in ipairs(cat.variants_of[p1.productId]) do
    if v.gtins[1] then gtin = v.gtins[1].identifier; break end
  end
  local fx = {
    productIds = ids(cat.products, "productId", #cat.products),
    variantIds = ids(cat.variants_of[p1.productId], "variantId", 100),
    listingIds = ids(st.listings, "listingId", 10),
    activeOrderNumbers = ids(st.active_orders, "orderNumber", 10),
    historyOrderNumbers = ids(st.history_orders, "orderNumber", 10),
    listingCount = sb:visible_listings(),
    unsellableProductId = cat.unsellable_id,
    unsellableVariantIds = ids(cat.variants_of[cat.unsellable_id],
                               "variantId", 100),
    directOrderNumber = direct or json.null,
    expiredListingIds = sb:expired_listings(),
    gtin = gtin or json.null,
    clientId = sb.client_id, clientSecret = sb.client_secret,
  }
  for k, v in pairs(repricer_fixtures(cat, st)) do fx[k] = v end
  return reply(200, fx)
end

local function label(_, _, file)
  if not file:match("^S%-%d+%.png$") then return http.not_found() end
  return { status = 200, body = LABEL_PNG,
           headers = { ["Content-Type"] = "image/png" } }
end

M.routes = {
  { "GET", "/_sandbox/stats", stats, kind = "admin" },
  { "POST", "/_sandbox/reset", reset, kind = "admin" },
  { "GET", "/_sandbox/faults", faults, kind = "admin" },
  { "POST", "/_sandbox/faults", add_fault, kind = "admin" },
  { "DELETE", "/_sandbox/faults", clear_faults, kind = "admin" },
  { "POST", "/_sandbox/rate_limit", rate_limit, kind = "admin" },
  { "GET", "/_sandbox/config", get_config, kind = "admin" },
  { "POST", "/_sandbox/config", set_config, kind = "admin" },
  { "GET", "/_sandbox/fixtures", fixtures, kind = "admin" },
  { "GET", "/_sandbox/labels/{file}", label, kind = "admin" },
}

return M
