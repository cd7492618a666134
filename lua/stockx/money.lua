--- Money without floating point: StockX's decimal strings ("76",
-- "76.0000", "12.5") as integer minor units with the currency attached
-- (ISO 4217: JPY and KRW have none, the others StockX prices in have two),
-- arithmetic and comparison between amounts of one currency, and
-- percentages with a named rounding mode.  Bad amounts raise, naming the
-- value.  Used by the scripts' library and by the sandbox alike.
--
--   local money = require "stockx.money"
--   local ask = money.parse("150", "USD")          -- 15000 cents
--   local new = ask - money.parse("1", "USD")      -- 149
--   money.percent(ask, "2.5", "half_even")         -- 3.75 USD
--   new:amount()                                   -- "149", for StockX

local M = {}

--- Minor-unit digits per currency (ISO 4217), for the currencies StockX
-- lists and a few more.
M.DIGITS = {
  AUD = 2, CAD = 2, CHF = 2, EUR = 2, GBP = 2, HKD = 2, JPY = 0, KRW = 0,
  MXN = 2, NZD = 2, SGD = 2, USD = 2, CNY = 2, DKK = 2, NOK = 2, SEK = 2,
  PLN = 2, CZK = 2, HUF = 2, ILS = 2, INR = 2, MYR = 2, PHP = 2, THB = 2,
  TWD = 2, IDR = 2, AED = 2, SAR = 2, BRL = 2, ZAR = 2,
  CLP = 0, VND = 0, ISK = 0, UGX = 0, MOP = 2, PEN = 2,
  BHD = 3, KWD = 3, OMR = 3, JOD = 3, TND = 3,
}

-- Amounts up to 10^15 minor units: exact in a Lua integer, with room to
-- multiply by a percentage's numerator.
local MAX_MINOR = math.tointeger(10 ^ 15)

local POW = { [0] = 1, 10, 100, 1000 } -- 10^digits, as integers

local Money = {}
Money.__index = Money

local function fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end

local function digits_of(currency, level)
  local d = type(currency) == "string" and M.DIGITS[currency]
  if not d then
    fail(level + 1, "stockx.money: unknown currency %s", tostring(currency))
  end
  return d
end

local function make(minor, currency)
  return setmetatable({ minor = minor, currency = currency }, Money)
end

--- True if v is an amount made by this module.
function M.is_money(v)
  return getmetatable(v) == Money
end

--- An amount of `minor` minor units (an integer) of currency.
function M.new(minor, currency)
  digits_of(currency, 2)
  if math.type(minor) ~= "integer" or math.abs(minor) > MAX_MINOR then
    fail(2, "stockx.money: minor units must be an integer of at most "
      .. "15 digits (got %s)", tostring(minor))
  end
  return make(minor, currency)
end

--- Zero of currency.
function M.zero(currency)
  return M.new(0, currency)
end

--- Parses a decimal string ("76", "-3", "76.0000", "12.5"; a Lua integer
-- too) in currency.  Extra decimals must be zeros: "12.345" USD raises,
-- as does anything that is not a plain decimal number.
function M.parse(s, currency)
  local d = digits_of(currency, 2)
  if math.type(s) == "integer" then s = tostring(s) end
  if type(s) ~= "string" then
    fail(2, "stockx.money: amount must be a decimal string (got %s)", type(s))
  end
  local sign, int, frac = s:match("^(-?)(%d+)%.?(%d*)$")
  if not int or (s:find(".", 1, true) and frac == "") or #int > 15 - d then
    fail(2, "stockx.money: bad amount %q", s)
  end
  local extra = frac:sub(d + 1)
  if extra:find("[^0]") then
    fail(2, "stockx.money: amount %q has more decimals than %s allows (%d)",
      s, currency, d)
  end
  frac = (frac:sub(1, d) .. string.rep("0", d)):sub(1, d)
  local minor = math.tointeger(tonumber(int .. frac))
  return make(sign == "-" and -minor or minor, currency)
end

--- The amount as StockX takes it: "149", "-3", "12.50" (minor digits only
-- when they are not all zero).
function Money:amount()
  local d = M.DIGITS[self.currency]
  local a = math.abs(self.minor)
  local sign = self.minor < 0 and "-" or ""
  local unit = POW[d]
  if d == 0 or a % unit == 0 then
    return sign .. string.format("%d", a // unit)
  end
  return string.format("%s%d.%0" .. d .. "d", sign, a // unit, a % unit)
end

--- For people: "149.00 USD", "1000 JPY".
function Money:__tostring()
  local d = M.DIGITS[self.currency]
  local a, unit = math.abs(self.minor), POW[d]
  local sign = self.minor < 0 and "-" or ""
  if d == 0 then return string.format("%s%d %s", sign, a, self.currency) end
  return string.format("%s%d.%0" .. d .. "d %s", sign, a // unit, a % unit,
    self.currency)
end

local function same(a, b, op)
  if not M.is_money(a) or not M.is_money(b) then
    fail(3, "stockx.money: %s needs two amounts (got %s and %s)", op,
      M.is_money(a) and "money" or type(a), M.is_money(b) and "money" or type(b))
  end
  if a.currency ~= b.currency then
    fail(3, "stockx.money: cannot %s %s and %s", op, a.currency, b.currency)
  end
end

local function checked(minor, currency)
  if math.abs(minor) > MAX_MINOR then
    fail(3, "stockx.money: result out of range")
  end
  return make(minor, currency)
end

function Money.__add(a, b)
  same(a, b, "add")
  return checked(a.minor + b.minor, a.currency)
end

function Money.__sub(a, b)
  same(a, b, "subtract")
  return checked(a.minor - b.minor, a.currency)
end

function Money.__unm(a)
  return make(-a.minor, a.currency)
end

--- money * integer (or integer * money).
function Money.__mul(a, b)
  if M.is_money(b) then a, b = b, a end
  if not M.is_money(a) or math.type(b) ~= "integer" then
    fail(2, "stockx.money: an amount can only be multiplied by an integer")
  end
  if b ~= 0 and math.abs(a.minor) > MAX_MINOR // math.abs(b) then
    fail(2, "stockx.money: result out of range")
  end
  return make(a.minor * b, a.currency)
end

function Money.__eq(a, b)
  return a.currency == b.currency and a.minor == b.minor
end

function Money.__lt(a, b)
  same(a, b, "compare")
  return a.minor < b.minor
end

function Money.__le(a, b)
  same(a, b, "compare")
  return a.minor <= b.minor
end

--- The smaller / larger of two amounts.
function M.min(a, b)
  same(a, b, "compare")
  return a.minor <= b.minor and a or b
end

function M.max(a, b)
  same(a, b, "compare")
  return a.minor >= b.minor and a or b
end

---------------------------------------------------------------------------
-- Rounding: n / d (d > 0) to an integer, in a named mode.
---------------------------------------------------------------------------

--- The rounding modes: "down" (toward zero), "up" (away from zero),
-- "floor", "ceil", "half_up" (half away from zero), "half_even".
M.ROUNDING = { down = true, up = true, floor = true, ceil = true,
  half_up = true, half_even = true }

local function divide(n, d, mode)
  if not M.ROUNDING[mode] then
    fail(3, "stockx.money: rounding must be one of down, up, floor, ceil, "
      .. "half_up, half_even (got %s)", tostring(mode))
  end
  local q, r = n // d, n % d       -- floor division: 0 <= r < d
  if r == 0 then return q end
  local neg = n < 0
  if mode == "floor" then return q end
  if mode == "ceil" then return q + 1 end
  if mode == "down" then return neg and q + 1 or q end
  if mode == "up" then return neg and q or q + 1 end
  local twice = 2 * r
  if twice < d then return q end
  if twice > d then return q + 1 end
  if mode == "half_up" then return neg and q or q + 1 end
  return q % 2 == 0 and q or q + 1  -- half_even
end

-- "2.5" or 2.5 -> numerator, denominator (an exact decimal fraction).
local function decimal(p)
  if math.type(p) == "integer" then return p, 1 end
  if type(p) == "number" then
    if p ~= p or p == math.huge or p == -math.huge then
      fail(3, "stockx.money: bad percentage %s", tostring(p))
    end
    p = string.format("%.10g", p)
    if p:find("e") then fail(3, "stockx.money: bad percentage %s", p) end
  end
  if type(p) ~= "string" then
    fail(3, "stockx.money: percentage must be a number or a decimal string")
  end
  local sign, int, frac = p:match("^(-?)(%d+)%.?(%d*)$")
  if not int or #int + #frac > 12 then
    fail(3, "stockx.money: bad percentage %q", p)
  end
  local n = math.tointeger(tonumber(int .. frac))
  return sign == "-" and -n or n, math.tointeger(10 ^ #frac)
end

--- pct percent of m (pct a number or decimal string: 10, "2.5"), rounded
-- to minor units in the named mode.
function M.percent(m, pct, mode)
  if not M.is_money(m) then fail(2, "stockx.money: percent needs an amount") end
  local n, d = decimal(pct)
  return checked(divide(m.minor * n, d * 100, mode), m.currency)
end

--- m rounded to a multiple of `step` (an amount of the same currency, e.g.
-- 1 USD for whole units) in the named mode.
function M.round(m, step, mode)
  same(m, step, "round")
  if step.minor <= 0 then fail(2, "stockx.money: the step must be positive") end
  return make(divide(m.minor, step.minor, mode) * step.minor, m.currency)
end

--- One major unit of currency (1 USD, 1 JPY).
function M.unit(currency)
  return make(POW[digits_of(currency, 2)], currency)
end

return M
