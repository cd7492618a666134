--- stockx.listings: StockX's listings (asks) for scripts.  Lists with
-- StockX's filters, reads one, and writes: create, update, delete,
-- activate, deactivate.  Every write answers an asynchronous operation
-- (PENDING); wait_operation polls it with backoff until it SUCCEEDED or
-- FAILED, and a write given {wait = true} does that itself.  A FAILED
-- operation raises an error value of kind "operation_failed" carrying
-- StockX's text and the listing as it is afterwards (a failed create or
-- activate leaves it INACTIVE; other failed writes leave it as it was).
--
--   local listings = stockx.listings
--   local op, l = listings.update(id, { amount = money.parse("149", "USD") },
--                                 { wait = true })

local stockx = require "stockx"
local args = require "stockx.args"
local money = require "stockx.money"
local cache = require "stockx.cache"

local M = {}

local null = stockx.json.null

---------------------------------------------------------------------------
-- Argument checks (shared with stockx.batch through M._input)
---------------------------------------------------------------------------

local argerror, typename, check_type = args.error, args.typename, args.check_type

-- An id that goes into a path: letters, digits, '-' and '_' only, so it
-- cannot leave the listing's path.
local function check_id(fname, pos, name, v)
  if type(v) ~= "string" then
    argerror(fname, pos, name, "string expected, got " .. typename(v))
  end
  if not v:match("^[%w_%-]+$") then
    argerror(fname, pos, name, string.format("not a listing id: %q", v))
  end
  return v
end

--- The amount as StockX takes it (a decimal string) and the currency it
-- implies (for a money value), or an argument error naming field `name`.
-- Money values and decimal strings are taken, integers too; never floats.
local function wire_amount(fname, pos, name, v)
  if money.is_money(v) then
    if v.minor <= 0 then
      argerror(fname, pos, name, "amount must be greater than 0, got " .. tostring(v))
    end
    return v:amount(), v.currency
  end
  if math.type(v) == "integer" then
    if v <= 0 then argerror(fname, pos, name, "amount must be greater than 0") end
    return tostring(v)
  end
  if type(v) == "string" then
    if not (v:match("^%d+$") or v:match("^%d+%.%d+$")) then
      argerror(fname, pos, name, string.format("a decimal string such as \"150\" "
        .. "or \"59.45\" expected, got %q", v))
    end
    return v
  end
  argerror(fname, pos, name, "a stockx.money value or a decimal string expected "
    .. "(never a float), got " .. typename(v))
end

local FIELD_TYPES = { variantId = "string", listingId = "string",
  currencyCode = "string", expiresAt = "string", active = "boolean",
  inventoryType = "string" }

--- Copies the allowed fields of t into a body for the wire, converting
-- amount; raises an argument error naming `prefix .. key` for an unknown
-- key or a wrong type.
-- @param allowed set of the keys t may have
-- @param hint appended to the message for an unknown key (or nil)
-- @return the body (a new table)
local function wire_fields(fname, pos, prefix, t, allowed, hint)
  local body = {}
  for k, v in pairs(t) do
    if type(k) ~= "string" or not allowed[k] then
      argerror(fname, pos, prefix .. tostring(k), "unknown field"
        .. (hint or ""))
    end
    if k == "amount" then
      local cur
      body.amount, cur = wire_amount(fname, pos, prefix .. k, v)
      if cur then
        if t.currencyCode ~= nil and t.currencyCode ~= cur then
          argerror(fname, pos, prefix .. "currencyCode", string.format(
            "%s does not match the amount's currency %s",
            tostring(t.currencyCode), cur))
        end
        body.currencyCode = cur
      end
    elseif k == "quantity" then
      if math.type(v) ~= "integer" or v < 1 or v > 100 then
        argerror(fname, pos, prefix .. k, "an integer between 1 and 100 expected, got "
          .. typename(v))
      end
      body.quantity = v
    else
      check_type(fname, pos, prefix .. k, v, FIELD_TYPES[k])
      if body[k] == nil then body[k] = v end
    end
  end
  return body
end

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

-- Options of the writes and of wait_operation.
local WAIT_OPTS = set { "wait", "timeout", "interval", "max_interval" }

local function check_seconds(fname, pos, name, v, lo, hi)
  if v == nil then return end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi then
    argerror(fname, pos, name, string.format("seconds between %g and %g expected, got %s",
      lo, hi, type(v) == "number" and tostring(v) or typename(v)))
  end
end

--- Checks a wait options table: {wait=, timeout=, interval=, max_interval=}.
local function check_wait_opts(fname, pos, opts, allowed)
  if opts == nil then return {} end
  check_type(fname, pos, "opts", opts, "table")
  for k in pairs(opts) do
    if not (allowed or WAIT_OPTS)[k] then
      argerror(fname, pos, "opts." .. tostring(k), "unknown option")
    end
  end
  check_type(fname, pos, "opts.wait", opts.wait, "boolean", true)
  check_seconds(fname, pos, "opts.timeout", opts.timeout, 0.001, 86400)
  check_seconds(fname, pos, "opts.interval", opts.interval, 0, 3600)
  check_seconds(fname, pos, "opts.max_interval", opts.max_interval, 0, 3600)
  return opts
end

-- A failure value of the helpers (stockx.is_error is true for it).
local function error_value(t)
  return setmetatable(t, stockx.Error)
end

local function is_cancelled(e)
  return stockx.is_error(e) and e.kind == "cancelled"
end

local FIRST_DELAY, MAX_DELAY = 0.25, 4

-- Polls read() with backoff (opts.interval, default 0.25 s, doubling up to
-- opts.max_interval, 4 s; every read goes through the limiter) until
-- done(value), starting from `first`.  Returns the value that was done,
-- or nil and the last one read at the timeout; and the number of reads.
local function poll_until(first, read, done, opts, timeout)
  local delay = opts.interval or FIRST_DELAY
  local cap = opts.max_interval or MAX_DELAY
  local deadline, cur, polls = stockx.now() + timeout, first, 0
  while not done(cur) do
    local left = deadline - stockx.now()
    if left <= 0 then return nil, cur, polls end
    stockx.sleep(math.min(delay, left))
    cur = read()
    polls = polls + 1
    delay = math.min(delay * 2, cap)
  end
  return cur, cur, polls
end

M._input = { argerror = argerror, check_type = check_type,
  check_id = check_id, wire_fields = wire_fields, set = set,
  check_seconds = check_seconds, poll_until = poll_until,
  error_value = error_value, is_cancelled = is_cancelled }

---------------------------------------------------------------------------
-- Reads
---------------------------------------------------------------------------

local LIST_FILTERS = { "listingStatuses", "inventoryTypes", "productIds",
  "variantIds", "batchIds", "initiatedShipmentDisplayIds", "fromDate",
  "toDate", "isExpired", "pageSize" }
local CSV_FILTERS = set { "listingStatuses", "inventoryTypes", "productIds",
  "variantIds", "batchIds", "initiatedShipmentDisplayIds" }
local FILTER_SET = set(LIST_FILTERS)
local FILTER_NAMES = table.concat(LIST_FILTERS, ", ")

-- The query for GET /selling/listings: arrays stay arrays (the client
-- joins them with commas), strings pass as given.
local function list_query(fname, filters)
  check_type(fname, 1, "filters", filters, "table", true)
  local q = {}
  for k, v in pairs(filters or {}) do
    local name = "filters." .. tostring(k)
    if not FILTER_SET[k] then
      argerror(fname, 1, name, "unknown filter; StockX's are " .. FILTER_NAMES)
    end
    if CSV_FILTERS[k] then
      if type(v) == "table" then
        for i, x in ipairs(v) do check_type(fname, 1, name .. "[" .. i .. "]", x, "string") end
      else
        check_type(fname, 1, name, v, "string")
      end
    elseif k == "isExpired" then
      check_type(fname, 1, name, v, "boolean")
    elseif k == "pageSize" then
      if math.type(v) ~= "integer" or v < 1 or v > 100 then
        argerror(fname, 1, name, "an integer between 1 and 100 expected")
      end
    else
      check_type(fname, 1, name, v, "string")
    end
    q[k] = v
  end
  return q
end

--- Iterates over the seller's listings (GET /selling/listings, every page).
-- @param filters StockX's filters: listingStatuses, inventoryTypes,
--   productIds, variantIds, batchIds, initiatedShipmentDisplayIds (arrays
--   or comma-separated strings), fromDate, toDate ("2024-01-31"),
--   isExpired (boolean), pageSize
-- @return a generic-for iterator of listing, page (as stockx.paginate)
function M.list(filters)
  local q = list_query("stockx.listings.list", filters)
  local f, s, c, closer = stockx.paginate("/selling/listings", q, { key = "listings" })
  -- each listing seen is noted, so a write by its id invalidates only
  -- its variant's and product's cached market data
  return function(...)
    local l, page = f(...)
    if l then cache.note_listing(l) end
    return l, page
  end, s, c, closer
end

--- Every listing that matches the filters, as an array.
-- @param filters as for list
-- @return an array of listings
function M.all(filters)
  local q = list_query("stockx.listings.all", filters)
  local out = {}
  for l in stockx.paginate("/selling/listings", q, { key = "listings" }) do
    cache.note_listing(l)
    out[#out + 1] = l
  end
  return out
end

--- One listing (GET /selling/listings/{listingId}).
-- @param listingId the listing's id
-- @return the listing (ListingResponse), and res
function M.get(listingId)
  check_id("stockx.listings.get", 1, "listingId", listingId)
  local l, res = stockx.get("/selling/listings/" .. listingId)
  cache.note_listing(l)
  return l, res
end

--- A listing's amount as a stockx.money value in its currency.
-- @param listing a listing (or anything with amount and currencyCode)
-- @return a money value, or nil when the amount is null or absent
function M.amount(listing)
  check_type("stockx.listings.amount", 1, "listing", listing, "table")
  local a = listing.amount
  if a == nil or a == null then return nil end
  local cur = listing.currencyCode
  if cur == nil or cur == null then cur = "USD" end
  return money.parse(a, cur)
end

---------------------------------------------------------------------------
-- Operations
---------------------------------------------------------------------------

local DEFAULT_TIMEOUT = 30


-- pcall that never swallows a cancellation of the calling task.
local function try(fn, ...)
  local ok, v = pcall(fn, ...)
  if not ok and is_cancelled(v) then error(v, 0) end
  return ok, v
end

-- The path to poll for op.
local function operation_path(fname, op)
  local lid, oid = op.listingId, op.operationId
  if type(lid) == "string" and type(oid) == "string" then
    check_id(fname, 1, "op.listingId", lid)
    check_id(fname, 1, "op.operationId", oid)
    return "/selling/listings/" .. lid .. "/operations/" .. oid
  end
  local url = op.operationUrl
  local path = type(url) == "string"
    and url:match("(/selling/listings/[%w_%-]+/operations/[%w_%-]+)$")
  if not path then
    argerror(fname, 1, "op", "an operation with listingId and operationId "
      .. "(or operationUrl) expected")
  end
  return path
end


-- The listing as it is now, or nil if it cannot be read.
local function read_back(listingId)
  if type(listingId) ~= "string" or not listingId:match("^[%w_%-]+$") then
    return nil
  end
  local ok, l = try(stockx.get, "/selling/listings/" .. listingId)
  if ok then cache.note_listing(l) end
  return ok and l or nil
end

local function failed(op)
  local text = op.error
  if type(text) ~= "string" or text == "" then
    text = "operation " .. tostring(op.operationId) .. " FAILED"
  end
  error(error_value { kind = "operation_failed", message = text,
    operation = op, listingId = op.listingId,
    listing = read_back(op.listingId) }, 0)
end

--- Waits for a listing operation to finish: polls
-- GET /selling/listings/{listingId}/operations/{operationId} with backoff
-- (opts.interval, default 0.25 s, doubled up to opts.max_interval, 4 s;
-- each poll goes through the rate limiter) until it is not PENDING.
-- A dry-run operation returns at once, with no request.
-- @param op an operation (a write's answer)
-- @param opts {timeout = 30, interval = 0.25, max_interval = 4}
-- @return the final (SUCCEEDED) operation; raises an error value of kind
--   "operation_failed" (message: StockX's text; operation, listing) or
--   "timeout" (operation: the last one read)
function M.wait_operation(op, opts)
  local fname = "stockx.listings.wait_operation"
  check_type(fname, 1, "op", op, "table")
  opts = check_wait_opts(fname, 2, opts)
  if op.dry_run then return op end
  local path = operation_path(fname, op)
  if op.operationStatus == "SUCCEEDED" then return op end
  if op.operationStatus == "FAILED" then failed(op) end
  local timeout = opts.timeout or DEFAULT_TIMEOUT
  local done, cur, polls = poll_until(op, function() return (stockx.get(path)) end,
    function(o) return o.operationStatus == "SUCCEEDED" or o.operationStatus == "FAILED" end,
    opts, timeout)
  if not done then
    error(error_value { kind = "timeout", operation = cur, polls = polls,
      listingId = op.listingId,
      message = string.format("operation %s (%s of listing %s) still %s after %gs"
        .. " (%d polls)", tostring(op.operationId), tostring(op.operationType),
        tostring(op.listingId), tostring(cur.operationStatus), timeout, polls) }, 0)
  end
  if done.operationStatus == "FAILED" then failed(done) end
  return done
end

---------------------------------------------------------------------------
-- Writes
---------------------------------------------------------------------------

-- Sends a write, then waits for it if opts.wait: returns op, or the final
-- op and the listing read back (none for a dry-run create: it made no
-- listing).
-- `touched` names the listing for the cache: {listingId=} or
-- {variantId=}; stockx.post and friends invalidate its market data when
-- the write is sent, and this again once its operation has finished
-- (whatever the outcome), when StockX's market data shows it.
local function finish(op, opts, touched)
  if not opts.wait then return op end
  local ok, final = pcall(M.wait_operation, op, { timeout = opts.timeout,
    interval = opts.interval, max_interval = opts.max_interval })
  if not ok then
    cache.invalidate_listing(touched)
    error(final, 0)
  end
  if final.dry_run and final.operationType == "CREATE" then return final, nil end
  local l = read_back(final.listingId)
  cache.invalidate_listing(l or touched)
  return final, l
end


local CREATE_FIELDS = set { "variantId", "amount", "currencyCode",
  "expiresAt", "active", "inventoryType" }
local ASK_FIELDS = set { "amount", "currencyCode", "expiresAt" }
local OPTS_HINT = " (options such as wait go in the last argument)"

--- Creates a listing (POST /selling/listings).
-- @param listing {variantId=, amount= (money or decimal string),
--   currencyCode=, expiresAt=, active=, inventoryType=}
-- @param opts {wait = true, timeout = 30}: wait for the operation
-- @return the operation; with wait, the final operation and the listing
function M.create(listing, opts)
  local fname = "stockx.listings.create"
  check_type(fname, 1, "listing", listing, "table")
  local body = wire_fields(fname, 1, "listing.", listing, CREATE_FIELDS, OPTS_HINT)
  check_type(fname, 1, "listing.variantId", listing.variantId, "string")
  if body.amount == nil then argerror(fname, 1, "listing.amount", "required") end
  opts = check_wait_opts(fname, 2, opts)
  local since = os.time()
  local ok, op = try(stockx.post, "/selling/listings", body)
  if not ok then
    if type(op) == "table" and op.ambiguous then
      -- sent, never answered: StockX may have created it (POST is never
      -- retried), so say how to look before creating it again
      op.since = since
      op.message = op.message .. "; the listing may exist: look for it " ..
        "with stockx.listings.find_created(listing, err.since) before " ..
        "you create it again"
    end
    error(op, 0)
  end
  return finish(op, opts, { variantId = listing.variantId })
end

-- UTC seconds of a StockX time ("2026-12-01T10:00:00.123Z"), or nil.
local function utc_of(text)
  return type(text) == "string" and args.timestamp((text:gsub("%.%d+", "", 1)))
end

--- The listings a create may have made although its answer never came
-- (err.ambiguous): the seller's listings of listing.variantId at
-- listing.amount created at or after since (a minute of clock skew
-- allowed), newest first.  One or two pages of GET /selling/listings.
-- @param listing what was passed to create ({variantId=, amount=, ...})
-- @param since UTC seconds before the create (err.since)
-- @return an array of listings (empty: it was not created)
function M.find_created(listing, since)
  local fname = "stockx.listings.find_created"
  check_type(fname, 1, "listing", listing, "table")
  check_type(fname, 1, "listing.variantId", listing.variantId, "string")
  check_type(fname, 2, "since", since, "number")
  local body = wire_fields(fname, 1, "listing.", listing, CREATE_FIELDS, OPTS_HINT)
  if body.amount == nil then argerror(fname, 1, "listing.amount", "required") end
  local want = money.parse(body.amount, body.currencyCode or "USD")
  local out = {}
  local from = os.date("!%Y-%m-%d", math.floor(since) - 86400)
  for l in M.list { variantIds = { listing.variantId }, fromDate = from } do
    local at, amount = utc_of(l.createdAt), M.amount(l)
    if at and at >= since - 60 and amount and amount == want and
      l.status ~= "DELETED" then
      out[#out + 1] = l
    end
  end
  table.sort(out, function(a, b) return utc_of(a.createdAt) > utc_of(b.createdAt) end)
  return out
end

-- The writes on an existing listing that take ask fields (update,
-- activate): listingId, fields, opts.
local function ask_write(name, method, suffix, fields_required)
  local fname = "stockx.listings." .. name
  return function(listingId, fields, opts)
    check_id(fname, 1, "listingId", listingId)
    check_type(fname, 2, "changes", fields, "table", not fields_required)
    local body = wire_fields(fname, 2, "changes.", fields or {}, ASK_FIELDS, OPTS_HINT)
    opts = check_wait_opts(fname, 3, opts)
    local path = "/selling/listings/" .. listingId .. suffix
    local touched = { listingId = listingId }
    local op = method == "PATCH" and stockx.patch(path, body)
      or stockx.put(path, body)
    return finish(op, opts, touched)
  end
end

--- Changes a listing's ask (PATCH /selling/listings/{listingId}).
-- @param listingId the listing's id
-- @param changes {amount= (money or decimal string), currencyCode=, expiresAt=}
-- @param opts {wait = true, timeout = 30}
-- @return the operation; with wait, the final operation and the listing
M.update = ask_write("update", "PATCH", "", true)

--- Activates a listing (PUT /selling/listings/{listingId}/activate).
-- @param listingId the listing's id
-- @param changes optional {amount=, currencyCode=, expiresAt=}
-- @param opts {wait = true, timeout = 30}
-- @return the operation; with wait, the final operation and the listing
M.activate = ask_write("activate", "PUT", "/activate", false)

-- The writes that take no body (delete, deactivate): listingId, opts.
local function bare_write(name, method, suffix)
  local fname = "stockx.listings." .. name
  return function(listingId, opts)
    check_id(fname, 1, "listingId", listingId)
    opts = check_wait_opts(fname, 2, opts)
    local path = "/selling/listings/" .. listingId .. suffix
    local touched = { listingId = listingId }
    local op = method == "DELETE" and stockx.delete(path) or stockx.put(path)
    return finish(op, opts, touched)
  end
end

--- Deletes a listing (DELETE /selling/listings/{listingId}).
-- @param listingId the listing's id
-- @param opts {wait = true, timeout = 30}
-- @return the operation; with wait, the final operation and the listing
M.delete = bare_write("delete", "DELETE", "")

--- Deactivates a listing (PUT /selling/listings/{listingId}/deactivate).
-- @param listingId the listing's id
-- @param opts {wait = true, timeout = 30}
-- @return the operation; with wait, the final operation and the listing
M.deactivate = bare_write("deactivate", "PUT", "/deactivate")

return M
