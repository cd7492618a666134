-- stockx.money: property tests over random amounts and currencies (round
-- trips through StockX's strings, arithmetic laws, percentages against an
-- exact reference, no float drift), and bad amounts raising by name.
local tap = require "tap"
local money = require "stockx.money"

math.randomseed(20261201) -- a fixed seed: the same cases every run

local currencies = { "USD", "EUR", "GBP", "JPY", "KRW", "CAD", "AUD", "CHF",
  "HKD", "MXN", "NZD", "SGD", "KWD" }

local function rand_minor(limit)
  local v = math.random(0, limit)
  return math.random(2) == 1 and -v or v
end

local function all(n, prop)
  for i = 1, n do
    local ok, why = prop(i)
    if not ok then return false, why end
  end
  return true
end

---------------------------------------------------------------------------
-- Round trips
---------------------------------------------------------------------------

tap.ok(all(5000, function()
  local c = currencies[math.random(#currencies)]
  local m = money.new(rand_minor(10 ^ 12 // 1), c)
  local back = money.parse(m:amount(), c)
  return back == m, tostring(m) .. " -> " .. m:amount() .. " -> " .. tostring(back)
end), "parse(m:amount()) == m for 5000 random amounts in 13 currencies")

tap.ok(all(2000, function()
  local c = currencies[math.random(#currencies)]
  local d = money.DIGITS[c]
  local m = money.new(rand_minor(10 ^ 10 // 1), c)
  -- StockX also writes "76.0000": trailing zeros parse to the same amount
  local s = m:amount()
  s = s .. (s:find(".", 1, true) and "00" or (d > 0 and ".0000" or ".0"))
  return money.parse(s, c) == m, s
end), "trailing zeros (\"76.0000\") parse to the same amount")

tap.eq(money.parse("76", "USD").minor, 7600, "\"76\" USD is 7600 cents")
tap.eq(money.parse("76.0000", "USD").minor, 7600, "\"76.0000\" USD is 7600 cents")
tap.eq(money.parse("12.5", "USD").minor, 1250, "\"12.5\" USD is 1250 cents")
tap.eq(money.parse("1000", "JPY").minor, 1000, "JPY has no minor units")
tap.eq(money.parse("1000", "KRW").minor, 1000, "KRW has no minor units")
tap.eq(money.parse("1.234", "KWD").minor, 1234, "KWD has three")
tap.eq(money.new(1250, "USD"):amount(), "12.50", "12.50 for StockX")
tap.eq(money.new(7600, "USD"):amount(), "76", "whole amounts without decimals")
tap.eq(tostring(money.new(-5, "USD")), "-0.05 USD", "tostring shows the sign")
tap.eq(tostring(money.new(1000, "JPY")), "1000 JPY", "and the currency")

---------------------------------------------------------------------------
-- Arithmetic
---------------------------------------------------------------------------

tap.ok(all(5000, function()
  local c = currencies[math.random(#currencies)]
  local a = money.new(rand_minor(10 ^ 12 // 1), c)
  local b = money.new(rand_minor(10 ^ 12 // 1), c)
  local k = math.random(-50, 50)
  return (a + b) - b == a and a + b == b + a and (a < b) == (a.minor < b.minor)
    and (a <= b) == (a.minor <= b.minor) and (a * k).minor == a.minor * k
    and money.min(a, b).minor == math.min(a.minor, b.minor)
    and -(-a) == a,
    tostring(a) .. ", " .. tostring(b)
end), "addition, subtraction, comparison, scaling on 5000 random pairs")

local cent = money.parse("0.01", "USD")
local sum = money.zero("USD")
for _ = 1, 10000 do sum = sum + cent end
tap.eq(sum:amount(), "100", "10,000 cents add up to exactly 100 (no float drift)")
tap.ok(money.parse("0.1", "USD") + money.parse("0.2", "USD") == money.parse("0.3", "USD"),
  "0.1 + 0.2 == 0.3")

---------------------------------------------------------------------------
-- Percentages against an exact reference
---------------------------------------------------------------------------

-- the exact quotient n/d as floor and remainder (d > 0)
local function ref(n, d, mode)
  local q, r = n // d, n % d
  if r == 0 then return q end
  local lower, upper = q, q + 1 -- n/d lies strictly between them
  if mode == "floor" then return lower end
  if mode == "ceil" then return upper end
  if mode == "down" then return n < 0 and upper or lower end
  if mode == "up" then return n < 0 and lower or upper end
  if 2 * r ~= d then return 2 * r < d and lower or upper end
  if mode == "half_up" then return n < 0 and lower or upper end
  return lower % 2 == 0 and lower or upper
end

local modes = { "down", "up", "floor", "ceil", "half_up", "half_even" }
tap.ok(all(6000, function(i)
  local mode = modes[i % #modes + 1]
  local m = money.new(rand_minor(10 ^ 9 // 1), "USD")
  local tenths = math.random(-1000, 1000)                 -- -100.0 .. 100.0
  local pct = string.format("%s%d.%d", tenths < 0 and "-" or "",
    math.abs(tenths) // 10, math.abs(tenths) % 10)
  local got = money.percent(m, pct, mode)
  local want = ref(m.minor * tenths, 1000, mode)
  return got.minor == want, tostring(m) .. " * " .. pct .. "% " .. mode ..
    " = " .. tostring(got) .. ", want " .. want
end), "percent() matches exact rational arithmetic in all six rounding modes")

tap.eq(money.percent(money.parse("0.05", "USD"), 10, "half_up"):amount(), "0.01",
  "half_up: 0.005 -> 0.01")
tap.eq(money.percent(money.parse("0.05", "USD"), 10, "half_even"):amount(), "0",
  "half_even: 0.005 -> 0.00")
tap.eq(money.percent(money.parse("150", "USD"), 2.5, "half_even"):amount(), "3.75",
  "a number percentage (2.5)")
tap.eq(money.round(money.parse("149.50", "USD"), money.unit("USD"), "floor"):amount(),
  "149", "round to whole units, floor")
tap.eq(money.round(money.parse("149.50", "USD"), money.unit("USD"), "half_even"):amount(),
  "150", "half_even to whole units")

---------------------------------------------------------------------------
-- Bad input raises, naming the value
---------------------------------------------------------------------------

for _, bad in ipairs { "", "12.", ".5", "1e3", "0x10", " 12", "12 ", "1,000",
  "12.345", "abc", "--1", "+1", "1234567890123456" } do
  tap.raises(function() money.parse(bad, "USD") end,
    ("parse(%q, USD) raises"):format(bad), "stockx.money")
end
tap.raises(function() money.parse("12.345", "USD") end,
  "extra decimals name the value and the currency", '"12.345" has more decimals than USD')
tap.raises(function() money.parse("1.5", "JPY") end, "JPY has no decimals", "JPY")
tap.raises(function() money.parse("1", "XYZ") end, "unknown currency", "unknown currency XYZ")
tap.raises(function() money.parse(12.5, "USD") end, "a float is not an amount",
  "decimal string")
tap.raises(function() return money.parse("1", "USD") + money.parse("1", "EUR") end,
  "different currencies do not add", "cannot add USD and EUR")
tap.raises(function() return money.parse("1", "USD") < 1 end,
  "an amount does not compare with a number")
tap.raises(function() return money.parse("1", "USD") * 1.5 end,
  "amounts multiply by integers only", "integer")
tap.raises(function() money.percent(money.parse("1", "USD"), "5", "nearest") end,
  "the rounding mode must be named", "rounding must be one of")
tap.raises(function() money.new(1.5, "USD") end, "minor units are integers")
tap.raises(function() return money.new(math.tointeger(10 ^ 15), "USD") * 10 end,
  "overflow is refused", "out of range")
tap.ok(all(1000, function()
  local c = currencies[math.random(#currencies)]
  local a = money.new(rand_minor(10 ^ 9 // 1), c)
  local r = money.round(money.percent(a, math.random(0, 300), "half_even"),
    money.unit(c), "floor")
  return math.type(r.minor) == "integer" and math.type(money.unit(c).minor) == "integer"
end), "results stay integers (no float creeps in)")
tap.ok(money.is_money(money.zero("USD")) and not money.is_money({ minor = 1 }),
  "is_money")

tap.done()
