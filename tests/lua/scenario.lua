--- One-line sandbox scenarios for the Lua tests: the admin endpoints
-- (/_sandbox/config, faults, reset, fixtures) and the waits every write
-- test needs (an operation until it is no longer PENDING, a batch until it
-- is COMPLETED).  Each test file calls scenario.start() after tap.setup()
-- and scenario.finish() before tap.done(), so that the next file finds the
-- sandbox as the suite started it.

local tap = require "tap"

local M = {}

local POLL_INTERVAL = 0.05

-- The values the sandbox had for each key scenario.config changed, so
-- that finish() can put them back.
local saved = {}

---------------------------------------------------------------------------
-- Admin endpoints
---------------------------------------------------------------------------

--- POST /_sandbox/reset: the seeded state, no faults, limits as served.
function M.reset()
  stockx.post("/_sandbox/reset", {})
end

--- GET /_sandbox/config.
function M.get_config()
  return (stockx.get("/_sandbox/config"))
end

--- POST /_sandbox/config {async_polls=, async_ms=, token_ttl=,
-- rate_limit=, quota=, retry_after=, body_429=}; returns the new config.
function M.config(t)
  local before
  for k in pairs(t) do
    if saved[k] == nil then
      before = before or M.get_config()
      saved[k] = before[k] == nil and stockx.json.null or before[k]
    end
  end
  return (stockx.post("/_sandbox/config", t))
end

--- The sandbox's own rate limit and quota:
-- limits{rate_limit="1/1s", retry_after=true, body_429="gateway", quota=5};
-- limits() or limits(false) turns both off.
function M.limits(t)
  if not t then t = { rate_limit = "off", quota = false } end
  return M.config(t)
end

--- POST /_sandbox/faults {path=<Lua pattern>, method=, status=, rate=,
-- count=, seconds=, latency=, retry_after=, drop_after=, stall=,
-- malformed=, chunk_size=, chunk_delay=, operation_fail=}.
function M.fault(f)
  return (stockx.post("/_sandbox/faults", f))
end

--- DELETE /_sandbox/faults.
function M.clear_faults()
  stockx.delete("/_sandbox/faults")
end

--- GET /_sandbox/fixtures: ids to start from.
function M.fixtures()
  return (stockx.get("/_sandbox/fixtures"))
end

--- GET /_sandbox/stats.
function M.stats()
  return (stockx.get("/_sandbox/stats"))
end

---------------------------------------------------------------------------
-- Waits
---------------------------------------------------------------------------

-- The URL to poll for an operation: its operationUrl, else the path built
-- from its ids; a string is used as given.
local function operation_url(op)
  if type(op) == "string" then return op end
  if type(op.operationUrl) == "string" then return op.operationUrl end
  return "/selling/listings/" .. op.listingId .. "/operations/"
    .. op.operationId
end

--- Polls an operation until it is no longer PENDING.
-- @param op a write's response (ListingAsyncOperationResponse), or the
--   operation's URL or path
-- @param timeout seconds (default 10)
-- @return the last operation read and the number of reads, or nil and an
--   error (the read failed, or it was still PENDING at the timeout)
function M.wait_operation(op, timeout)
  local url = operation_url(op)
  local deadline = stockx.now() + (timeout or 10)
  local polls = 0
  while true do
    local ok, cur = pcall(stockx.get, url)
    polls = polls + 1
    if not ok then return nil, cur end
    if cur.operationStatus ~= "PENDING" then return cur, polls end
    if stockx.now() > deadline then
      return nil, "operation still PENDING after " .. polls .. " reads"
    end
    stockx.sleep(POLL_INTERVAL)
  end
end

local BATCH_KINDS = { create = "create-listing", update = "update-listing",
  delete = "delete-listing" }

--- The path of a batch: kind is "create", "update" or "delete" (or
-- "create-listing", ...).
function M.batch_path(kind, id)
  return "/selling/batch/" .. (BATCH_KINDS[kind] or kind) .. "/" .. id
end

--- Polls a batch until its status is COMPLETED.
-- @return the last batch read and the list of distinct statuses seen in
--   order, or nil and an error
function M.wait_batch(kind, id, timeout)
  local path = M.batch_path(kind, id)
  local deadline = stockx.now() + (timeout or 10)
  local seen = {}
  while true do
    local ok, b = pcall(stockx.get, path)
    if not ok then return nil, b end
    if seen[#seen] ~= b.status then seen[#seen + 1] = b.status end
    if b.status == "COMPLETED" then return b, seen end
    if stockx.now() > deadline then
      return nil, "batch still " .. tostring(b.status) .. " after "
        .. (timeout or 10) .. "s"
    end
    stockx.sleep(POLL_INTERVAL)
  end
end

---------------------------------------------------------------------------
-- A test file's frame
---------------------------------------------------------------------------

--- Runs fn(); an error raised inside counts as one failure named desc, and
-- the file goes on with its next part.
function M.part(desc, fn)
  local ok, e = xpcall(fn, debug.traceback)
  if not ok then
    tap.ok(false, desc .. ": raised an error", tostring(e):gsub("\n", "\n#   "))
  end
  return ok
end

--- The start of a test file: tap.setup() (client limiter off, fast
-- retries, POST /_sandbox/reset); remembers the sandbox's config so that
-- finish() can check the file leaves it as it found it.
local initial

function M.start(settings)
  tap.setup(settings)
  local ok, cfg = pcall(M.get_config)
  initial = ok and cfg or nil
end

--- The end of a test file: puts back every config key this file changed,
-- resets the sandbox, and checks that its config (limits, quota, async
-- timings, token lifetime) is as the file found it and, where the sandbox
-- lists them, that no fault is left.
function M.finish()
  M.part("leave the sandbox clean", function()
    local restore = {}
    for k, v in pairs(saved) do
      if v ~= stockx.json.null then restore[k] = v end
    end
    saved = {}
    if next(restore) then stockx.post("/_sandbox/config", restore) end
    M.reset()
    local cfg = M.get_config()
    local changed = {}
    for k, v in pairs(initial or {}) do
      if type(v) ~= "table" and cfg[k] ~= v then
        changed[#changed + 1] = k .. " = " .. tostring(cfg[k]) .. " (was " .. tostring(v) .. ")"
      end
    end
    table.sort(changed)
    tap.ok(initial and #changed == 0, "the sandbox's config is as the file found it",
      table.concat(changed, ", "))
    tap.ok(cfg.rate_limit == "off" or cfg.rate_limit == false,
      "the sandbox's rate limit is off at the end", tostring(cfg.rate_limit))
    local res = stockx.request { path = "/_sandbox/faults" }
    if res and res.status == 200 then
      local faults = stockx.json.decode(res.body).faults
      tap.eq(type(faults) == "table" and #faults, 0, "no fault left at the end")
    end
  end)
end

return M
