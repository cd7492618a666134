--- The sandbox's rate limits, as StockX documents them: a GCRA per API
-- key ("1/1s": one request a second, with 10% of the interval tolerated
-- for arrival jitter) and a daily quota per key reset at 00:00 UTC.
-- Pure state and arithmetic; the caller builds the 429 replies.
local server = require("stockx.server")
local util = require("stockx.sandbox.util")

local M = {}

-- Arrival jitter tolerated, as a fraction of the emission interval.
M.JITTER = 0.1

local function positive(v)
  v = tonumber(v)
  return v and v > 0 and v < math.huge and v or nil
end

--- Parses a rate limit: "N/P[unit]" (unit ms, s, m, h or d; "10/1s",
-- "5/m", "100/60s"), optionally ",burst=B"; a table {rate=, period=,
-- burst=} or {off=true}; "off", false.  The burst defaults to N (at
-- least 1), as in the client's own rate option.
-- @return {rate=, period=, burst=}, or false for off; or nil, message
function M.parse_rate(v)
  if v == false or v == "off" then return false end
  local rate, period, burst
  if type(v) == "table" then
    if v.off then return false end
    rate, period = positive(v.rate or 1), positive(v.period or 1)
    burst = v.burst
  elseif type(v) == "string" then
    -- the client's grammar (src/sx_limiter.c), plus ",burst=B"
    local spec, rest = v:match("^([^,]*)(.*)$")
    rate, period = server.parse_rate(spec)
    if not rate then
      return nil, "rate limit must look like 1/1s, 10/1s, 5/m or off: " .. period
    end
    if rest ~= "" then
      burst = rest:match("^,burst=([%d.]+)$")
      if not burst then return nil, "bad rate limit option: " .. rest end
    end
  else
    return nil, "rate limit must be a string such as 1/1s, a table or off"
  end
  if not rate or not period then
    return nil, "rate and period must be positive numbers"
  end
  burst = burst == nil and math.max(1, math.floor(rate)) or positive(burst)
  if not burst or burst < 1 then return nil, "burst must be at least 1" end
  return { rate = rate, period = period, burst = burst }
end

local function num(v)
  return math.tointeger(v) and string.format("%d", v)
    or string.format("%.6g", v)
end

--- The canonical string of a parsed rate limit: "1/1s", "5/2s,burst=1",
-- or "off".
function M.format_rate(cfg)
  if not cfg then return "off" end
  local s = num(cfg.rate) .. "/" .. num(cfg.period) .. "s"
  if cfg.burst ~= math.max(1, math.floor(cfg.rate)) then
    s = s .. ",burst=" .. num(cfg.burst)
  end
  return s
end

local Limiter = {}
Limiter.__index = Limiter

--- A limiter with no history.
function M.new()
  return setmetatable({ keys = {} }, Limiter)
end

local function gcra(cfg)
  local interval = cfg.period / cfg.rate
  return interval, (cfg.burst - 1) * interval + M.JITTER * interval
end

local function key_state(self, key, day)
  local k = self.keys[key]
  if not k then
    k = { tat = 0, day = day, used = 0 }
    self.keys[key] = k
  end
  if k.day ~= day then k.day, k.used = day, 0 end
  return k
end

--- Admits a request of key, or says why not.
-- @param rate parsed rate limit or false
-- @param quota requests per UTC day, or false
-- @param now monotonic seconds; wall: seconds since the epoch
-- @return nil when admitted; or "rate" or "quota" and the seconds to wait
function Limiter:check(rate, quota, key, now, wall)
  local k = key_state(self, key, math.floor(wall / 86400))
  if rate then
    local interval, tolerance = gcra(rate)
    local tat = math.max(k.tat, now)
    if tat - now > tolerance + 1e-9 then
      return "rate", tat - tolerance - now
    end
    k.tat = tat + interval
  end
  if quota then
    if k.used >= quota then return "quota", (k.day + 1) * 86400 - wall end
    k.used = k.used + 1
  end
  return nil
end

--- The state of every key, for the stats endpoint.
-- @param label function(key) -> a name that does not reveal the key
-- @return {rate_limit = "1/1s" | "off", quota = N | false,
--   quota_reset_at = ISO time, keys = {[label] = {tokens=,
--   next_allowed_in= (seconds; with a rate limit), quota_used=,
--   quota_remaining= (false without a quota)}}}
function Limiter:snapshot(rate, quota, now, wall, label)
  local day = math.floor(wall / 86400)
  local keys = {}
  for key, k in pairs(self.keys) do
    local e = {}
    if rate then
      local interval, tolerance = gcra(rate)
      local ahead = math.max(0, k.tat - now)
      local tokens = math.floor((tolerance + interval - ahead) / interval
        + 1e-9)
      e.tokens = math.max(0, math.min(rate.burst, tokens))
      e.next_allowed_in = math.floor(math.max(0, k.tat - tolerance - now)
        * 1000 + 0.5) / 1000
    end
    e.quota_used = k.day == day and k.used or 0
    e.quota_remaining = quota and math.max(0, quota - e.quota_used) or false
    keys[label(key)] = e
  end
  return { rate_limit = M.format_rate(rate), quota = quota or false,
           quota_reset_at = util.iso((day + 1) * 86400), keys = keys }
end

return M
