--- stockx.cache: the GET response cache (policy in Lua, on top of the C
-- client).  TTL rules per path pattern, an entry limit with LRU eviction,
-- single flight (identical GETs in flight at once share one request and
-- its result or error), and invalidation of market data by listing writes.
-- An entry keeps the response with its raw body; every hit decodes the
-- body again, so no caller can change what another one gets.

local core = require "stockx.core"

local M = {}

-- The default rules, in order: the first pattern (a Lua pattern on the
-- path, without the query) that matches gives the TTL in seconds.
local DEFAULT_RULES = {
  { pattern = "^/catalog/products/[^/]+/variants/[^/]+/market%-data$", ttl = 30 },
  { pattern = "^/catalog/products/[^/]+/market%-data$", ttl = 30 },
  { pattern = "^/catalog/products/[^/]+/variants$", ttl = 3600 },
  { pattern = "^/catalog/products/[^/]+/variants/[^/]+$", ttl = 3600 },
  { pattern = "^/catalog/products/[^/]+$", ttl = 3600 },
}
local DEFAULT_MAX = 1000
local MAX_TTL, MAX_ENTRIES = 1e8, 1e7

local rules, max_entries, enabled = DEFAULT_RULES, DEFAULT_MAX, true
local entries, count = {}, 0     -- key -> entry; entry count
local head = {}                  -- LRU ring: head.next is the newest
head.next, head.prev = head, head
local flights = {}               -- key -> the task fetching it
local gen = 0                    -- bumped by every invalidation
local counters = { hits = 0, misses = 0, evictions = 0 }
local listing_ref = {}           -- listingId -> {variantId, productId}
local listing_refs, MAX_REFS = 0, 100000

local function unlink(e)
  e.prev.next, e.next.prev = e.next, e.prev
end

local function push_front(e)
  e.next, e.prev = head.next, head
  head.next.prev = e
  head.next = e
end

local function drop(e)
  unlink(e)
  entries[e.key] = nil
  count = count - 1
end

---------------------------------------------------------------------------
-- Settings
---------------------------------------------------------------------------

local function bad(msg)
  error("stockx.cache.configure: " .. msg, 3)
end

local function check_rules(list)
  if type(list) ~= "table" then bad("rules: a table expected") end
  local out = {}
  for i, r in ipairs(list) do
    if type(r) ~= "table" or type(r.pattern) ~= "string" then
      bad("rules[" .. i .. "]: {pattern = string, ttl = seconds} expected")
    end
    if not pcall(string.find, "", r.pattern) then
      bad("rules[" .. i .. "].pattern: not a valid Lua pattern")
    end
    local ttl = r.ttl
    if type(ttl) ~= "number" or not (ttl >= 0 and ttl <= MAX_TTL) then
      bad("rules[" .. i .. "].ttl: a number of seconds between 0 and 1e8 expected")
    end
    out[i] = { pattern = r.pattern, ttl = ttl }
  end
  return out
end

--- Changes the cache's policy; every key is optional.
-- @param o {enabled = true, rules = {{pattern=, ttl=}, ...} (replaces the
--   list; `false` restores the defaults), max_entries = 1000}
-- @return the settings now in force (a copy)
function M.configure(o)
  if type(o) ~= "table" then
    error("stockx.cache.configure: a table expected", 2)
  end
  for k in pairs(o) do
    if k ~= "enabled" and k ~= "rules" and k ~= "max_entries" then
      bad("unknown key " .. tostring(k))
    end
  end
  local new_rules, new_max = rules, max_entries
  if o.rules == false then new_rules = DEFAULT_RULES
  elseif o.rules ~= nil then new_rules = check_rules(o.rules) end
  if o.max_entries ~= nil then
    local n = o.max_entries
    if math.type(n) ~= "integer" or n < 1 or n > MAX_ENTRIES then
      bad("max_entries: an integer between 1 and 1e7 expected")
    end
    new_max = n
  end
  if o.enabled ~= nil and type(o.enabled) ~= "boolean" then
    bad("enabled: a boolean expected")
  end
  rules, max_entries = new_rules, new_max
  if o.enabled ~= nil then enabled = o.enabled end
  if o.rules ~= nil or not enabled then M.clear() end
  while count > max_entries do
    drop(head.prev)
    counters.evictions = counters.evictions + 1
  end
  return M.settings()
end

--- The settings in force: {enabled=, max_entries=, rules = {...}} (copies).
function M.settings()
  local r = {}
  for i, x in ipairs(rules) do r[i] = { pattern = x.pattern, ttl = x.ttl } end
  return { enabled = enabled, max_entries = max_entries, rules = r }
end

---------------------------------------------------------------------------
-- Lookups (stockx.get calls these)
---------------------------------------------------------------------------

--- The TTL for an API path (relative, without the query), or nil when no
-- rule caches it (or the cache is off).
function M.ttl(path)
  if not enabled or path:byte(1) ~= 47 then return nil end -- "/"
  for i = 1, #rules do
    local r = rules[i]
    if path:find(r.pattern) then
      return r.ttl > 0 and r.ttl or nil
    end
  end
  return nil
end

-- A copy of a stored response, marked cached.
local function copy(res)
  local out = {}
  for k, v in pairs(res) do out[k] = v end
  if type(res.headers) == "table" then
    local h = {}
    for k, v in pairs(res.headers) do h[k] = v end
    out.headers = h
  end
  out.cached = true
  return out
end

--- The stored response for key (a copy), or nil.  Never yields.
function M.lookup(key)
  local e = entries[key]
  if e and e.expires > core.now() then
    counters.hits = counters.hits + 1
    unlink(e)
    push_front(e)
    return copy(e.res)
  end
  if e then drop(e) end
  return nil
end

local function store(key, path, ttl, res)
  local e = entries[key]
  if e then drop(e) end
  e = { key = key, res = res, expires = core.now() + ttl, path = path }
  entries[key] = e
  count = count + 1
  push_front(e)
  while count > max_entries do
    drop(head.prev)
    counters.evictions = counters.evictions + 1
  end
end

--- Fetches key once for every caller: the first call runs fetch() (which
-- returns a response or raises) in a task of its own; identical calls
-- made meanwhile wait for it and get the same response or the same error.
-- A 200 answer is stored unless an invalidation happened meanwhile;
-- errors never are.
-- @return the response (each caller gets its own copy)
function M.fetch(key, path, ttl, fetch)
  local flight = flights[key]
  if flight then
    counters.hits = counters.hits + 1 -- shared: no request of its own
  else
    counters.misses = counters.misses + 1
    local started = gen
    flight = core.join(core.spawn(function()
      local ok, res = pcall(fetch)
      if flights[key] == flight then flights[key] = nil end
      if not ok then error(res, 0) end
      if res.status == 200 and not res.dry_run and started == gen and enabled then
        store(key, path, ttl, res)
      end
      return res
    end))
    flights[key] = flight
  end
  return copy(flight:wait())
end

---------------------------------------------------------------------------
-- Invalidation
---------------------------------------------------------------------------

--- Drops every entry whose path matches the Lua pattern (and makes the
-- requests in flight not store their answers).  Returns the count.
function M.invalidate(pattern)
  if type(pattern) ~= "string" then
    error("stockx.cache.invalidate: a pattern (string) expected", 2)
  end
  gen = gen + 1
  local n = 0
  local e = head.next
  while e ~= head do
    local nxt = e.next
    if e.path:find(pattern) then
      drop(e)
      n = n + 1
    end
    e = nxt
  end
  return n
end

--- Empties the cache (the counters stay).
function M.clear()
  gen = gen + 1
  entries, count = {}, 0
  head.next, head.prev = head, head
end

local function esc(s)
  return (s:gsub("%W", "%%%0"))
end

local function id_of(v)
  return type(v) == "string" and v ~= "" and v or nil
end

--- Remembers which variant and product a listing belongs to, from a
-- listing as StockX returns it, so a write by listing id invalidates
-- only that market data.
function M.note_listing(l)
  if type(l) ~= "table" then return end
  local lid = id_of(l.listingId)
  local v, p = l.variant, l.product
  local vid = type(v) == "table" and id_of(v.variantId)
  local pid = type(p) == "table" and id_of(p.productId)
  if not (lid and vid) then return end
  if not listing_ref[lid] then
    if listing_refs >= MAX_REFS then listing_ref, listing_refs = {}, 0 end
    listing_refs = listing_refs + 1
  end
  listing_ref[lid] = { variantId = vid, productId = pid or nil }
end

--- A write touched a listing: drops the market data of its variant and
-- product.  `what` is a listing, or {listingId=, variantId=, productId=}.
-- Unknown variant: every market-data entry; unknown product: every
-- product-level market-data entry.
function M.invalidate_listing(what)
  if count == 0 and next(flights) == nil then return end
  local lid, vid, pid
  if type(what) == "table" then
    lid = id_of(what.listingId)
    vid = id_of(what.variantId) or (type(what.variant) == "table" and id_of(what.variant.variantId))
    pid = id_of(what.productId) or (type(what.product) == "table" and id_of(what.product.productId))
  end
  local ref = lid and listing_ref[lid]
  if ref then vid, pid = vid or ref.variantId, pid or ref.productId end
  if not vid then
    M.invalidate("/market%-data$")
    return
  end
  M.invalidate("/variants/" .. esc(vid) .. "/market%-data$")
  if pid then
    M.invalidate("^/catalog/products/" .. esc(pid) .. "/market%-data$")
  else
    M.invalidate("^/catalog/products/[^/]+/market%-data$")
  end
end

--- A write is about to be sent (stockx.post/put/patch/delete call this,
-- before sending and again once it answered or failed): drops the market
-- data it touches, named by its path or its table body: the variant of
-- POST /selling/listings, the listing of /selling/listings/{id}..., the
-- items of /selling/batch/*; anything else under /selling/ drops every
-- market-data entry.  Entries the user's own rules keep under /selling/
-- go too.
function M.on_write(path, body)
  if count == 0 and next(flights) == nil then return end
  if not path:find("^/selling/") then return end
  M.invalidate("^/selling/")
  if path == "/selling/listings" and type(body) == "table" then
    M.invalidate_listing { variantId = body.variantId }
    return
  end
  local lid = path:match("^/selling/listings/([%w_%-]+)")
  if lid then
    M.invalidate_listing { listingId = lid }
    return
  end
  if path:find("^/selling/batch/[%w%-]+$") and type(body) == "table"
    and type(body.items) == "table" then
    for _, it in ipairs(body.items) do
      if type(it) ~= "table" then return M.invalidate("/market%-data$") end
      M.invalidate_listing { listingId = it.listingId, variantId = it.variantId }
    end
    return
  end
  M.invalidate("/market%-data$")
end

--- The counters: hits, misses, evictions, entries.
function M.stats()
  return { hits = counters.hits, misses = counters.misses,
    evictions = counters.evictions, entries = count }
end

M._internal = { flights = flights, listing_ref = function() return listing_ref end }

return M
