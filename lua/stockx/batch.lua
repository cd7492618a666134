--- stockx.batch: create, update and delete many listings through StockX's
-- batch endpoints.  The items are sent in chunks of at most 100 (one POST
-- each, one after the other); each batch is polled with backoff until it
-- is COMPLETED, then its items are read once and matched to the input.
-- The result is one entry per input item, in input order, with partial
-- failures reported item by item, and a summary.
--
--   local results, summary = stockx.batch.update(items)
--   for _, r in ipairs(results) do
--     if not r.ok then print(r.item.listingId, r.error) end
--   end

local stockx = require "stockx"
local listings = require "stockx.listings"
local cache = require "stockx.cache"

local input = listings._input
local argerror, check_type = input.argerror, input.check_type
local wire_fields, set = input.wire_fields, input.set

local M = {}

local MAX_CHUNK = 100
local DEFAULT_TIMEOUT = 120

local FIELDS = {
  create = set { "variantId", "amount", "quantity", "currencyCode",
    "expiresAt", "active", "inventoryType" },
  update = set { "listingId", "amount", "currencyCode", "expiresAt", "active" },
  delete = set { "listingId" },
}

local OPTS = set { "chunk", "timeout", "interval", "max_interval" }

---------------------------------------------------------------------------
-- Input
---------------------------------------------------------------------------

-- The wire item for input item it (index i) of a `kind` batch.
local function wire_item(fname, kind, it, i)
  local prefix = "items[" .. i .. "]"
  if kind == "delete" and type(it) == "string" then
    input.check_id(fname, 1, prefix, it)
    return { listingId = it }
  end
  check_type(fname, 1, prefix, it, "table")
  local w = wire_fields(fname, 1, prefix .. ".", it, FIELDS[kind])
  if kind == "create" then
    check_type(fname, 1, prefix .. ".variantId", it.variantId, "string")
    if w.amount == nil then argerror(fname, 1, prefix .. ".amount", "required") end
    w.quantity = w.quantity or 1
  else
    input.check_id(fname, 1, prefix .. ".listingId", it.listingId)
  end
  return w
end

local function check_opts(fname, opts)
  if opts == nil then return {} end
  check_type(fname, 2, "opts", opts, "table")
  for k in pairs(opts) do
    if not OPTS[k] then argerror(fname, 2, "opts." .. tostring(k), "unknown option") end
  end
  local c = opts.chunk
  if c ~= nil and (math.type(c) ~= "integer" or c < 1 or c > MAX_CHUNK) then
    argerror(fname, 2, "opts.chunk", "an integer between 1 and 100 expected")
  end
  input.check_seconds(fname, 2, "opts.timeout", opts.timeout, 0.001, 86400)
  input.check_seconds(fname, 2, "opts.interval", opts.interval, 0, 3600)
  input.check_seconds(fname, 2, "opts.max_interval", opts.max_interval, 0, 3600)
  return opts
end

---------------------------------------------------------------------------
-- Matching batch items to input items
---------------------------------------------------------------------------

local function str(v)
  return type(v) == "string" and v or nil
end

-- The listing id a batch item names in its listingInput (update, delete).
local function input_id(bi)
  local li = type(bi.listingInput) == "table" and bi.listingInput or {}
  return str(li.listingId) or str(li.id)
end

-- The key a batch item must share with wire item w: the listing id for
-- update and delete, the variant id for create.
local function key_of(kind, w)
  return kind == "create" and w.variantId or w.listingId
end

local function bi_key(kind, bi)
  if kind == "create" then
    local li = type(bi.listingInput) == "table" and bi.listingInput or {}
    return str(li.variantId)
  end
  return input_id(bi)
end

--- Groups a batch's items by input item: wires[j] (of a chunk) gets
-- groups[j], a list of the batch items made from it.  By position first
-- (a create item with quantity q makes q batch items), checked against
-- listingInput; if the counts or keys disagree, by key (listing id, or
-- variant id for create) in order.
local function match(kind, wires, bitems, expand)
  local groups, pos, by_position = {}, 0, true
  local want = 0
  for _, w in ipairs(wires) do want = want + (expand and w.quantity or 1) end
  if want ~= #bitems then by_position = false end
  if by_position then
    for j, w in ipairs(wires) do
      local g = {}
      for _ = 1, expand and w.quantity or 1 do
        pos = pos + 1
        local k = bi_key(kind, bitems[pos])
        if k ~= nil and k ~= key_of(kind, w) then by_position = false end
        g[#g + 1] = bitems[pos]
      end
      groups[j] = g
    end
    if by_position then return groups end
  end
  local used = {}
  for j, w in ipairs(wires) do
    local g, n = {}, expand and w.quantity or 1
    for p, bi in ipairs(bitems) do
      if #g >= n then break end
      if not used[p] and bi_key(kind, bi) == key_of(kind, w) then
        used[p] = true
        g[#g + 1] = bi
      end
    end
    groups[j] = g
  end
  return groups
end

-- The result entry for input item `item` (its wire item w) from the batch
-- items in g.
local function result(kind, item, w, g, batchId, n)
  local r = { item = item, batchId = batchId, ok = true, status = "COMPLETED" }
  if kind ~= "create" then r.listingId = w.listingId end
  local ids = {}
  for _, bi in ipairs(g) do
    local res = type(bi.result) == "table" and bi.result or {}
    if str(res.listingId) then ids[#ids + 1] = res.listingId end
    if bi.status ~= "COMPLETED" and r.ok then
      r.ok, r.status = false, str(bi.status) or "FAILED"
      r.error = str(bi.error) or ("item " .. tostring(bi.itemId) .. " "
        .. tostring(bi.status))
    end
  end
  if #g < n and r.ok then
    r.ok, r.status = false, "MISSING"
    r.error = "the batch returned no result for this item"
  end
  if kind == "create" then
    r.listingId = ids[1]
    if n > 1 then r.listingIds = ids end
  end
  if #g == 1 then r.itemId = g[1].itemId end
  return r
end

---------------------------------------------------------------------------
-- Running batches
---------------------------------------------------------------------------

local error_value, is_cancelled = input.error_value, input.is_cancelled

-- The summary of a results array.
local function summarize(results, batches)
  local s = { ok = 0, failed = 0, batches = batches }
  for _, r in pairs(results) do
    if r.ok then s.ok = s.ok + 1 else s.failed = s.failed + 1 end
  end
  return s
end

-- Marks items first..last (not yet known) with status, error and batchId.
local function mark(results, items, first, last, status, text, batchId)
  for i = first, last do
    if not results[i] then
      results[i] = { ok = false, item = items[i], status = status,
        error = text, batchId = batchId,
        listingId = type(items[i]) == "table" and items[i].listingId
          or (type(items[i]) == "string" and items[i] or nil) }
    end
  end
end

-- Polls a batch until COMPLETED; returns the last batch read, or nil and
-- the last read at the timeout.
local function poll(path, b, opts)
  local done, last = input.poll_until(b, function() return (stockx.get(path)) end,
    function(x) return x.status == "COMPLETED" end, opts, opts.timeout or DEFAULT_TIMEOUT)
  if done then return done end
  return nil, last
end

-- The cache forgets the market data the chunk's items touch (variant for
-- create, listing for update and delete) once the batch has been applied
-- (stockx.post did when it was sent).
local function invalidate(chunk)
  for _, w in ipairs(chunk) do
    cache.invalidate_listing { listingId = w.listingId, variantId = w.variantId }
  end
end

-- Sends items first..last as one batch and fills results[first..last].
-- Raises (timeout, or a request's error value) after filling what is
-- known.

local function run_chunk(ctx, first, last)
  local kind, items, wires, results = ctx.kind, ctx.items, ctx.wires, ctx.results
  local chunk = {}
  for i = first, last do chunk[#chunk + 1] = wires[i] end
  local base = "/selling/batch/" .. kind .. "-listing"
  local ok, b = pcall(stockx.post, base, { items = chunk })
  if not ok then
    local sure = stockx.is_error(b) and b.status and b.status < 500
    mark(results, items, first, last, sure and "NOT_SENT" or "UNKNOWN", tostring(b))
    error(b, 0)
  end
  local batchId = b.batchId
  ctx.batches[#ctx.batches + 1] = batchId
  local bitems, expand, done, last_read
  if b.dry_run then
    bitems, expand = b.items or {}, false
  else
    local path = base .. "/" .. tostring(batchId)
    ok, done, last_read = pcall(poll, path, b, ctx.opts)
    invalidate(chunk)
    if not ok then
      mark(results, items, first, last, "UNKNOWN", tostring(done), batchId)
      error(done, 0)
    end
    local iok, page = pcall(stockx.get, path .. "/items")
    if not iok and (done or is_cancelled(page)) then
      mark(results, items, first, last, "UNKNOWN", tostring(page), batchId)
      error(page, 0)
    end
    bitems, expand = iok and type(page.items) == "table" and page.items or {}, true
  end
  local groups = match(kind, chunk, bitems, expand)
  for j = 1, #chunk do
    local i = first + j - 1
    results[i] = result(kind, items[i], chunk[j], groups[j], batchId,
      expand and chunk[j].quantity or 1)
  end
  if not done and not b.dry_run then
    -- timed out: items still queued are reported as such
    for i = first, last do
      local r = results[i]
      if r.status == "MISSING" then r.status = "UNKNOWN" end
      if not r.ok and r.status ~= "FAILED" then
        r.error = r.error .. " (the batch was still " .. tostring(last_read.status) .. ")"
      end
    end
    local e = error_value { kind = "timeout", batchId = batchId,
      batch = last_read, message = string.format("batch %s (%s-listing) still %s after %gs",
        tostring(batchId), kind, tostring(last_read.status),
        ctx.opts.timeout or DEFAULT_TIMEOUT) }
    error(e, 0)
  end
end

-- Runs a batch of `kind` over items: returns results, summary, or raises
-- an error value with results and summary (every input item has an
-- entry: the ones never sent have status NOT_SENT).
local function run(kind, items, opts)
  local fname = "stockx.batch." .. kind
  check_type(fname, 1, "items", items, "table")
  opts = check_opts(fname, opts)
  local wires = {}
  for i = 1, #items do wires[i] = wire_item(fname, kind, items[i], i) end
  local ctx = { kind = kind, items = items, wires = wires, results = {},
    batches = {}, opts = opts }
  local size = opts.chunk or MAX_CHUNK
  for first = 1, #items, size do
    local last = math.min(first + size - 1, #items)
    local ok, e = pcall(run_chunk, ctx, first, last)
    if not ok then
      mark(ctx.results, items, last + 1, #items, "NOT_SENT",
        "not sent: an earlier batch failed")
      if type(e) == "table" then
        e.results = ctx.results
        e.summary = summarize(ctx.results, ctx.batches)
      end
      error(e, 0)
    end
  end
  return ctx.results, summarize(ctx.results, ctx.batches)
end

--- Creates listings (POST /selling/batch/create-listing).
-- @param items {variantId=, amount= (money or decimal string), quantity=
--   (default 1), currencyCode=, expiresAt=, active=, inventoryType=}, ...
-- @param opts {chunk = 100, timeout = 120 (per batch), interval = 0.25,
--   max_interval = 4}
-- @return results (one per input item, in order: {ok, item, listingId,
--   listingIds (quantity > 1), status, error, batchId, itemId}), summary
--   {ok = n, failed = n, batches = {batchId, ...}}
function M.create(items, opts)
  return run("create", items, opts)
end

--- Updates listings (POST /selling/batch/update-listing).
-- @param items {listingId=, amount=, currencyCode=, expiresAt=, active=}, ...
-- @param opts as for create
-- @return results, summary (as for create)
function M.update(items, opts)
  return run("update", items, opts)
end

--- Deletes listings (POST /selling/batch/delete-listing).
-- @param items listing ids, or {listingId=} tables
-- @param opts as for create
-- @return results, summary (as for create)
function M.delete(items, opts)
  return run("delete", items, opts)
end

M._internal = { match = match }

return M
