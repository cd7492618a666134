-- The REPL's printer and completion (lua/stockx/repl.lua), without a
-- terminal: sorted keys, layout, depth and length limits, shared tables
-- and cycles, strings, null, amounts, error values and responses (from the
-- sandbox), __tostring failures; completion reads raw, follows __index
-- tables and __complete, and calls nothing.
local tap = require "tap"
local repl = require "stockx.repl"

local show = repl.show

---------------------------------------------------------------------------
-- Layout and order
---------------------------------------------------------------------------

tap.eq(show({}), "{}", "an empty table")
tap.eq(show({ 3, 2, 1 }), "{ 3, 2, 1 }", "an array in order")
tap.eq(show({ b = 1, a = 2, [10] = "x", [2.5] = "y", [true] = 0, "first" }),
  '{ "first", [2.5] = "y", [10] = "x", a = 2, b = 1, [true] = 0 }',
  "sorted keys: the array part, numbers, strings, then the rest")
tap.eq(show({ ["two words"] = 1, ["end"] = 2, _x = 3 }),
  '{ _x = 3, ["end"] = 2, ["two words"] = 1 }',
  "keys that are not names (or are keywords) are bracketed")
local wide = show({ alpha = string.rep("a", 40), beta = string.rep("b", 40) })
tap.eq(wide, '{\n  alpha = "' .. string.rep("a", 40) .. '",\n  beta = "' ..
  string.rep("b", 40) .. '"\n}', "a table wider than 80 columns is indented")
tap.eq(show({ a = { b = { c = 1 } } }), "{ a = { b = { c = 1 } } }",
  "nested tables on one line when they fit")

---------------------------------------------------------------------------
-- Limits
---------------------------------------------------------------------------

local big = {}
for i = 1, 340 do big[i] = i end
local text = show(big)
tap.ok(text:find("\n  ... 240 more\n}$") ~= nil, "340 items: 100 shown, then '... 240 more'")
tap.ok(text:find(", 100,") ~= nil and not text:find("101"), "the first 100 are shown")
local lines = 0
for line in text:gmatch("[^\n]+") do
  lines = lines + 1
  tap.ok(#line <= 80, "short array items fill lines of at most 80 columns", line)
  if lines > 3 then break end
end
local keyed = {}
for i = 1, 150 do keyed["k" .. string.format("%03d", i)] = i end
local kt = show(keyed)
tap.ok(kt:find("k100 = 100,\n  ... 50 more") ~= nil, "keys past the limit are counted")

local deep = { 1, { 2, { 3, { 4, { 5, { 6, { 7 } } } } } } }
tap.eq(show(deep), "{ 1, { 2, { 3, { 4, { 5, { 6, {...} } } } } } }",
  "nesting past the depth limit is {...}")
tap.eq(show({ { { { { { {} } } } } } }), "{ { { { { { {} } } } } } }",
  "an empty table at the limit is still {}")

---------------------------------------------------------------------------
-- Shared tables and cycles
---------------------------------------------------------------------------

local cyc = { name = "loop" }
cyc.self = cyc
tap.eq(show(cyc), '<1>{ name = "loop", self = <table 1> }', "a cycle is labelled")
local s = { 1 }
tap.eq(show({ s, s, { s } }), "{ <1>{ 1 }, <table 1>, { <table 1> } }",
  "a table shown twice is labelled where first shown")
local a, b = {}, {}
a.b, b.a = b, a
tap.eq(show({ a, b }), "{ <1>{ b = <2>{ a = <table 1> } }, <table 2> }",
  "two tables pointing at each other")
tap.eq(show({ s }), "{ { 1 } }", "labels start afresh at each printing")
local k = { "key" }
tap.eq(show({ [k] = k }), '{ [<1>{ "key" }] = <table 1> }', "a table as a key")

---------------------------------------------------------------------------
-- Values
---------------------------------------------------------------------------

tap.eq(show("a\nb\t\"c\"\\\0\27"), '"a\\nb\\t\\"c\\"\\\\\\000\\027"',
  "strings are quoted and control characters escaped")
local long = string.rep("x", 300)
tap.eq(show(long), '"' .. long .. '"', "a string on its own is shown whole")
tap.ok(show({ long }):find('\n  "' .. string.rep("x", repl.STRLEN) .. '"%.%.%. %(300 bytes%)\n}$'),
  "a long string inside a table is cut, with its size")
tap.eq(show(stockx.json.null), "null", "stockx.json.null is null")
tap.eq(show({ stockx.json.null }), "{ null }", "also inside a table")
tap.eq(show(stockx.money.parse("76", "USD")), "76.00 USD", "an amount")
tap.eq(show({ ask = stockx.money.parse("12.5", "EUR") }), "{ ask = 12.50 EUR }",
  "an amount inside a table")
tap.eq(show(1.0), "1.0", "floats stay floats")
tap.eq(show(nil), "nil", "nil")
tap.ok(show(print):match("^function: 0x%x+$") ~= nil, "a function")
local failing = setmetatable({}, { __tostring = function() error("no text") end })
tap.ok(show(failing):find("__tostring failed: .*no text") ~= nil,
  "a failing __tostring is shown, not raised")
local hidden = setmetatable({ x = 1 }, { __metatable = false,
  __index = function() error("called") end, __pairs = function() error("called") end })
tap.eq(show(hidden), "{ x = 1 }", "tables are read raw: no __index, no __pairs")
tap.eq(repl.show_all(1, "a", nil), '1\t"a"\tnil', "several values, tab-separated")

local ok, err = pcall(stockx.get, "/selling/listings/no-such-listing")
tap.ok(not ok and stockx.is_error(err), "the sandbox answers 404")
local line = show(err)
tap.eq(line, tostring(err), "an error value prints as its one line")
tap.ok(not line:find("\n"), "on one line", line)
tap.ok(show({ err = err }):find("err = " .. tostring(err), 1, true), "also inside a table")

local data, res = stockx.get("/selling/listings", { pageSize = 2 })
tap.eq(#data.listings, 2, "a page of listings")
local r = show(res)
tap.ok(r:match("^<response 200 OK GET http://[^ ]+/selling/listings%?pageSize=2, " ..
  "[%d.]+ s, %d+ bytes>$") ~= nil, "a response: status, URL, time, size", r)
tap.eq(rawget(res, "headers"), nil, "printing it built no headers")
tap.ok(show({ res }):find("^{%s+<response 200") ~= nil, "a response inside a table")

---------------------------------------------------------------------------
-- Completion
---------------------------------------------------------------------------

local function cands(word, env)
  return table.concat(repl.complete(word, env), " ")
end

tap.eq(cands("stockx.pa"), "stockx.paginate( stockx.patch(",
  "fields of a table, functions with '('")
tap.eq(cands("stockx.cat"), "stockx.catalog",
  "a module loaded on first use is named by __complete")
tap.eq(rawget(stockx, "catalog"), nil, "and not loaded")
_G.res = res
tap.eq(cands("res.hea"), "res.headers", "res.headers, made on first read")
tap.eq(rawget(res, "headers"), nil, "and not made")
_G.tk = stockx.spawn(function() end)
tap.eq(cands("tk:ca"), "tk:cancel(", "a method of a userdata, after ':'")
tap.eq(cands("tk:"), "tk:cancel( tk:status( tk:wait(", "every method")
local calls = 0
local function boom() calls = calls + 1 end
local env = {
  obj = setmetatable({ own = 1 }, { __index = setmetatable({ inherited = 2 },
    { __index = { deeper = 3 } }) }),
  lazy = setmetatable({}, { __index = boom, __pairs = boom, __len = boom }),
  data = { x = 1, fn = function() end, _private = 1 },
}
tap.eq(cands("obj.", env), "obj.deeper obj.inherited obj.own",
  "__index tables are followed")
tap.eq(cands("lazy.", env), "", "an __index function is never called")
tap.eq(cands("lazy.x.y", env), "", "not while walking a path either")
tap.eq(calls, 0, "no function was called")
tap.eq(cands("data.", env), "data.fn( data.x", "names starting with _ are hidden")
tap.eq(cands("data._", env), "data._private", "unless _ was typed")
tap.eq(cands("data:", env), "data:fn(", "after ':' only functions")
tap.eq(cands("da", env), "data", "globals of the environment")
tap.eq(cands("whi"), "while", "keywords")
tap.eq(cands("nosuch.x"), "", "an unknown path: nothing")
tap.eq(cands("a[1].b"), "", "not a path: nothing")

tap.done()
