--- Small pure helpers for the sandbox: deterministic random numbers,
-- money as decimal strings and currency conversion, ISO-8601 times with
-- milliseconds, base64, URL encoding and a wall clock derived from the
-- server's monotonic clock (so times carry milliseconds).
local digest = require("stockx.digest")
local money = require("stockx.money")
local server = require("stockx.server")

local M = {}

--------------------------------------------------------------------------
-- Deterministic random numbers: splitmix64 on Lua's wrapping integers,
-- one generator per entity so that data for listing i depends only on
-- the seed and i.
--------------------------------------------------------------------------

local Rng = {}
Rng.__index = Rng

--- A generator for (seed, kind, i).
function M.new_rng(seed, kind, i)
  local s = seed * 0x9E3779B97F4A7C15 + (kind or 0) * 0x632BE59BD9B4E019
    + (i or 0) * 0x2545F4914F6CDD1D
  return setmetatable({ state = s }, Rng)
end

--- A generator continuing from a saved state (see Rng:save()).
function M.restore_rng(saved)
  local s = math.tointeger(tonumber(saved))
  return s and setmetatable({ state = s }, Rng) or nil
end

function Rng:save()
  return string.format("%d", self.state)
end

function Rng:next()
  self.state = self.state + 0x9E3779B97F4A7C15
  local z = self.state
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end

--- An integer in lo..hi.
function Rng:int(lo, hi)
  return lo + (self:next() >> 11) % (hi - lo + 1)
end

--- A float in [0, 1).
function Rng:float()
  return (self:next() >> 11) * 2.0 ^ -53
end

function Rng:bits(n)
  return self:next() >> (64 - n)
end

function Rng:pick(t)
  return t[self:int(1, #t)]
end

--- A version-4 UUID string.
function Rng:uuid()
  return string.format("%08x-%04x-4%03x-%04x-%012x", self:bits(32),
    self:bits(16), self:bits(12), 0x8000 | self:bits(14), self:bits(48))
end

--- n random decimal digits.
function Rng:digits(n)
  local out = {}
  for i = 1, n do out[i] = string.char(48 + self:int(0, 9)) end
  return table.concat(out)
end

local TOKEN_CHARS =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

--- n random URL-safe characters.
function Rng:token(n)
  local out = {}
  for i = 1, n do
    local k = self:int(1, 64)
    out[i] = TOKEN_CHARS:sub(k, k)
  end
  return table.concat(out)
end

--- A StockX askId: a numeric string of 19 or 20 digits.
function Rng:ask_id()
  return string.format("%d%010d", self:int(1000000000, 1999999999),
                       self:int(0, 9999999999))
end

-- Picks the key of {{key, weight}, ...} with probability weight / total.
function Rng:weighted(list)
  local total = 0
  for _, e in ipairs(list) do total = total + e[2] end
  local x = self:int(1, total)
  for _, e in ipairs(list) do
    x = x - e[2]
    if x <= 0 then return e[1] end
  end
end

--------------------------------------------------------------------------
-- Money: amounts are kept as integer minor units (cents for USD) and
-- written as StockX does: "150", "59.45", "-16.55".
--------------------------------------------------------------------------

-- Units of each market-data currency per US dollar (fixed sandbox rates)
-- and the number of decimals it is written with.
M.FX = {
  AUD = 1.52, BRL = 5.0, CAD = 1.36, CHF = 0.88, CLP = 930, CNY = 7.2,
  DKK = 6.9, EUR = 0.92, GBP = 0.79, HKD = 7.8, HUF = 360, IDR = 15800,
  ILS = 3.7, JPY = 150, KRW = 1350, KWD = 0.31, MOP = 8.05, MXN = 17.1,
  MYR = 4.7, NOK = 10.6, NZD = 1.65, PEN = 3.75, PHP = 56, PLN = 4.0,
  SEK = 10.5, SGD = 1.34, THB = 35.5, TWD = 31.5, USD = 1, VND = 24500,
}
local ZERO_DECIMALS = { CLP = true, HUF = true, IDR = true, JPY = true,
  KRW = true, TWD = true, VND = true }

--- Integer cents -> "150" or "59.45" or "-16.55".
function M.money(cents)
  return money.new(cents, "USD"):amount()
end

--- US cents -> the amount in currency c as a string.
function M.money_in(usd_cents, c)
  local rate = M.FX[c] or 1
  if ZERO_DECIMALS[c] then
    return tostring(math.floor(usd_cents * rate / 100 + 0.5))
  end
  return M.money(math.floor(usd_cents * rate + 0.5))
end

--- An amount in currency c (string) -> US cents (integer).
function M.to_usd_cents(amount, c)
  local v = tonumber(amount) or 0
  return math.floor(v * 100 / (M.FX[c] or 1) + 0.5)
end

--- A decimal string greater than 0 with at most 2 decimals -> cents; or
-- nil.  "150", "59.45", "0.5".
function M.parse_amount(s)
  if type(s) ~= "string" or #(s:match("^%d*") or "") > 9 then return nil end
  local ok, m = pcall(money.parse, s, "USD")
  if not ok or m.minor <= 0 then return nil end
  return m.minor
end

--------------------------------------------------------------------------
-- Time.  The sandbox's clock is the wall clock at start plus the
-- monotonic time since, so it has sub-second resolution.
--------------------------------------------------------------------------

local wall0, mono0 = os.time(), server.now()

--- Seconds since the epoch (a float).
function M.now()
  return wall0 + (server.now() - mono0)
end

--- Seconds since the epoch -> "2021-11-09T12:44:31.000Z".
function M.iso(t)
  local s = math.floor(t)
  local ms = math.floor((t - s) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", ms)
end

-- Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local MONTH_DAYS = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- "2021-11-09T12:44:31.000Z" (fraction and zone optional; Z or +hh:mm)
-- -> seconds since the epoch; nil when not a valid time.
function M.parse_iso(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d),
    tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > MONTH_DAYS[mo] or h > 23 or mi > 59
    or sec > 60 then
    return nil
  end
  local frac, zone = rest:match("^%.(%d+)(.*)$")
  if frac then rest = zone end
  local offset = 0
  if rest ~= "Z" and rest ~= "z" and rest ~= "" then
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60
    if sign == "-" then offset = -offset end
  end
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
  if frac then t = t + tonumber("0." .. frac) end
  return t - offset
end

--------------------------------------------------------------------------
-- Strings.
--------------------------------------------------------------------------

function M.slug(s)
  return (s:gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", ""))
end

function M.set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

--- 32-bit FNV-1a of s as 8 hex digits (for labels that hide a secret).
function M.fnv32(s)
  local h = 0x811C9DC5
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 0x01000193) & 0xFFFFFFFF
  end
  return string.format("%08x", h)
end

-- SHA-256 and base64 live in stockx.digest, shared with the client.
M.sha256 = digest.sha256
M.b64encode = digest.b64encode
M.b64url = digest.b64url
M.b64decode = digest.b64decode

--- Percent-encodes everything but unreserved characters.
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

--- Decodes a form value ('+' is a space).
function M.urldecode(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end))
end

--- "a=1&b=2" -> {a="1", b="2"}; repeated keys: the last.
function M.parse_form(s)
  local out = {}
  for pair in s:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    if k ~= "" then out[M.urldecode(k)] = M.urldecode(v) end
  end
  return out
end

return M
