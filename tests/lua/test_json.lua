-- The JSON decoder (src/ljson.c, stockx.json.decode): values, numbers,
-- strings and escapes, strict RFC 8259 errors with byte positions, depth,
-- large containers, agreement with cjson, and no memory growth.  Needs no
-- sandbox.
local tap = require "tap"
local cjson = require "cjson"

local decode = stockx.json.decode
local null = stockx.json.null

-- The error message of decode(s), or nil if it succeeds.
local function err_of(s)
  local ok, e = pcall(decode, s)
  if ok then return nil end
  return e
end

local function bad(s, pos, what, desc)
  tap.eq(err_of(s), ("invalid JSON at byte %d: %s"):format(pos, what),
    desc or ("rejects " .. ("%q"):format(s:sub(1, 40)):gsub("\n", "n")))
end

-- Deep equality; numbers compare by value (250 == 250.0), types must match.
local function same(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " vs " .. type(b)
  end
  if type(a) ~= "table" then
    if a == b or (a ~= a and b ~= b) then return true end
    return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. " missing" end
  end
  return true
end

local function same_ok(a, b, desc)
  local ok, why = same(a, b)
  return tap.ok(ok, desc, why)
end

local BENCH = '{"productId":"5e6a1e57-1c7d-435a-82bd-5666a13560fe","variantId":' ..
  '"55da4110-5983-439f-9ae4-d7d054f67723","currencyCode":"USD","highestBidAmount":"127",' ..
  '"lowestAskAmount":"141","flexLowestAskAmount":"139","earnMoreAmount":"150",' ..
  '"sellFasterAmount":"133","standardMarketData":{"lowestAsk":"141","highestBidAmount":' ..
  '"127","sellFaster":"133","earnMore":"150","beatUS":"140"},"flexMarketData":{"lowestAsk"' ..
  ':"139","highestBidAmount":"127","sellFaster":"131","earnMore":"148","beatUS":"138"},' ..
  '"directMarketData":{"lowestAsk":null,"highestBidAmount":"127","sellFaster":null,' ..
  '"earnMore":null,"beatUS":null}}'

---------------------------------------------------------------------------
-- Values
---------------------------------------------------------------------------

tap.eq(decode, require("stockx.core").json_decode, "stockx.json.decode is core.json_decode")
tap.eq(null, cjson.null, "stockx.json.null is cjson.null")
tap.eq(decode("null"), null, "null decodes to the cjson.null sentinel")
tap.eq(type(decode("null")), "userdata", "a light userdata, as in cjson")
tap.eq(decode("true"), true, "true")
tap.eq(decode("false"), false, "false")
tap.eq(decode('"x"'), "x", "a top-level string")
tap.eq(decode(" \t\r\n42 \t\r\n"), 42, "white space around a top-level value")
same_ok(decode("[]"), {}, "empty array")
same_ok(decode("{}"), {}, "empty object")
same_ok(decode('[1,"a",true,false,[],{}]'), { 1, "a", true, false, {}, {} }, "mixed array")
local t = decode(' { "a" : [ 1 , 2 ] , "b" : { "c" : null } , "d" : "" } ')
tap.eq(t.a[2], 2, "white space between every token")
tap.eq(t.b.c, null, "null inside an object is kept as the sentinel")
tap.eq(t.d, "", "empty string value")
t = decode("[null,1,null]")
tap.ok(t[1] == null and t[2] == 1 and t[3] == null and #t == 3,
  "nulls in arrays keep their places")
t = decode('{"a":1,"a":2,"b":3,"a":4}')
tap.eq(t.a, 4, "duplicate keys: the last one wins")
tap.eq(decode(123), 123, "a number argument is read as its string, like cjson")
tap.raises(function() decode(nil) end, "nil argument raises", "bad argument #1")
tap.raises(function() decode({}) end, "table argument raises", "string expected")

local d = decode(BENCH)
tap.eq(d.productId, "5e6a1e57-1c7d-435a-82bd-5666a13560fe", "benchmark body: productId")
tap.eq(d.flexMarketData.earnMore, "148", "benchmark body: nested value")
tap.eq(d.directMarketData.lowestAsk, null, "benchmark body: null")
same_ok(d, cjson.decode(BENCH), "benchmark body: same as cjson")

---------------------------------------------------------------------------
-- Numbers
---------------------------------------------------------------------------

local function num(s, want, mtype, desc)
  local v = decode(s)
  tap.ok(v == want and math.type(v) == mtype,
    desc or (s .. " -> " .. mtype .. " " .. tostring(want)),
    "got " .. tostring(v) .. " (" .. tostring(math.type(v)) .. ")")
end

num("0", 0, "integer")
num("250", 250, "integer", "an integer literal is a Lua integer (cjson: 250.0)")
num("-17", -17, "integer")
num("9223372036854775807", math.maxinteger, "integer", "maxinteger stays an integer")
num("-9223372036854775808", math.mininteger, "integer", "mininteger stays an integer")
num("9223372036854775808", 9223372036854775808.0, "float", "2^63 overflows to a float")
num("-9223372036854775809", -9223372036854775809.0, "float", "below mininteger: a float")
num("9007199254740993", 9007199254740993, "integer", "2^53+1 is exact as an integer")
num("123456789012345678901234567890", tonumber("123456789012345678901234567890"), "float",
  "30 digits: a float, as strtod reads it")
num("1.0", 1.0, "float", "1.0 is a float")
num("1e2", 100.0, "float", "an exponent makes a float")
num("1E2", 100.0, "float", "upper-case E")
num("1e+2", 100.0, "float", "exponent with +")
num("-1.5e-3", -0.0015, "float")
num("0.1", 0.1, "float", "0.1 rounds like strtod")
num("0.30000000000000004", 0.1 + 0.2, "float", "17 significant digits")
num("3.141592653589793", math.pi, "float", "pi")
num("1.7976931348623157e308", 1.7976931348623157e308, "float", "largest double")
num("2.2250738585072014e-308", 2.2250738585072014e-308, "float", "smallest normal")
num("5e-324", 5e-324, "float", "smallest subnormal")
num("1e400", math.huge, "float", "1e400 overflows to inf, as cjson and strtod")
num("-1e400", -math.huge, "float", "-1e400 is -inf")
num("1e-400", 0.0, "float", "1e-400 underflows to 0.0")
num("0e99999999999", 0.0, "float", "zero with a huge exponent")
num("1" .. ("0"):rep(400), math.huge, "float", "a 401-digit integer is inf")
num("1." .. ("0"):rep(300) .. "1", 1.0, "float", "a 300-digit fraction")
num("0." .. ("0"):rep(30) .. "123", 1.23e-31, "float", "leading fraction zeros")
num("-0", 0, "integer", "-0 is the integer 0 (integer literal rule)")
local nz = decode("-0.0")
tap.ok(math.type(nz) == "float" and nz == 0 and 1 / nz == -math.huge, "-0.0 is a float -0.0")
nz = decode("-0e5")
tap.ok(math.type(nz) == "float" and 1 / nz == -math.huge, "-0e5 is a float -0.0")

-- every valid literal reads as Lua's own tonumber reads it (strtod for
-- floats, integers while they fit), fast paths included
math.randomseed(20240601)
local function rnd_digits(n, first_nonzero)
  local out = {}
  for i = 1, n do
    out[i] = tostring(math.random(i == 1 and first_nonzero and 1 or 0, 9))
  end
  return table.concat(out)
end
local mismatch
for _ = 1, 5000 do
  local lit = (math.random(2) == 1 and "-" or "")
  local r = math.random(10)
  if r == 1 then lit = lit .. "0" else lit = lit .. rnd_digits(math.random(1, 22), true) end
  if math.random(2) == 1 then lit = lit .. "." .. rnd_digits(math.random(1, 20)) end
  if math.random(3) == 1 then
    lit = lit .. (math.random(2) == 1 and "e" or "E") ..
      ({ "", "+", "-" })[math.random(3)] .. math.random(0, 330)
  end
  local got, want = decode(lit), tonumber(lit)
  if not (got == want and math.type(got) == math.type(want) and
      (got ~= 0 or 1 / got == 1 / want)) then
    mismatch = lit .. ": got " .. tostring(got) .. ", want " .. tostring(want)
    break
  end
end
tap.ok(mismatch == nil, "5000 random literals read exactly as tonumber reads them", mismatch)

-- integers vs floats as values in containers
t = decode('{"count":250,"price":12.5,"list":[1,2.0,3e0]}')
tap.eq(math.type(t.count), "integer", "count is an integer")
tap.eq(math.type(t.price), "float", "price is a float")
tap.ok(math.type(t.list[1]) == "integer" and math.type(t.list[2]) == "float" and
  math.type(t.list[3]) == "float", "array: 1 integer, 2.0 and 3e0 floats")

bad("01", 1, "leading zero in a number")
bad("-01", 2, "leading zero in a number")
bad("00", 1, "leading zero in a number")
bad("+1", 1, "expected a value")
bad(".5", 1, "expected a value")
bad("-.5", 2, "expected a digit")
bad("1.", 3, "unexpected end of input")
bad("[1.]", 4, "expected a digit after '.'")
bad("1.e5", 3, "expected a digit after '.'")
bad("1e", 3, "unexpected end of input")
bad("[1e]", 4, "expected a digit in the exponent")
bad("[1e+]", 5, "expected a digit in the exponent")
bad("-", 2, "unexpected end of input")
bad("--1", 2, "expected a digit")
bad("- 1", 2, "expected a digit")
bad("0x10", 2, "unexpected data after the value")
bad("1 2", 3, "unexpected data after the value")
bad("Infinity", 1, "expected a value")
bad("-Infinity", 2, "expected a digit")
bad("NaN", 1, "expected a value")
bad("nan", 1, "invalid literal")

---------------------------------------------------------------------------
-- Strings
---------------------------------------------------------------------------

tap.eq(decode([["\"\\\/\b\f\n\r\t"]]), '"\\/\b\f\n\r\t', "all short escapes")
tap.eq(decode([["\u0041\u00e9\u20AC"]]), "A\u{e9}\u{20ac}", "\\u escapes to UTF-8 (1-3 bytes)")
tap.eq(decode([["\ud83d\ude00"]]), "\u{1F600}", "a surrogate pair is one 4-byte character")
tap.eq(decode([["\uD83D\uDE00"]]), "\xF0\x9F\x98\x80", "upper-case hex digits")
tap.eq(decode([["\udbff\udfff"]]), "\u{10FFFF}", "the last code point")
tap.eq(decode([["\u0000"]]), "\0", "\\u0000 is a NUL byte")
tap.eq(decode([["a\u0000b"]]), "a\0b", "NUL inside a string")
-- lone surrogates: encoded on their own (WTF-8), as Lua's "\u{D800}" does
tap.eq(decode([["\ud800"]]), "\xED\xA0\x80", "a lone high surrogate: 3 bytes")
tap.eq(decode([["\udc00"]]), "\xED\xB0\x80", "a lone low surrogate: 3 bytes")
tap.eq(decode([["\ud800\u0041"]]), "\xED\xA0\x80A", "high surrogate then a non-surrogate")
tap.eq(decode([["\ud800\ud800\udc00"]]), "\xED\xA0\x80\u{10000}", "lone high, then a pair")
tap.eq(decode([["\udc00\ud800"]]), "\xED\xB0\x80\xED\xA0\x80", "a reversed pair: two lone ones")
tap.eq(decode([["\ud800x"]]), "\xED\xA0\x80x", "high surrogate then a plain byte")
tap.eq(decode('"\xff\xfe\xc3"'), "\xff\xfe\xc3", "invalid UTF-8 passes through as bytes")
tap.eq(decode('"\u{e9}\u{1F600}"'), "\u{e9}\u{1F600}", "raw UTF-8 passes through")
tap.eq(decode('"\x7f"'), "\x7f", "DEL is not a control character for JSON")
local long = ("abc\\n\\u00e9\\\""):rep(500)
tap.eq(decode('"' .. long .. '"'), ("abc\n\u{e9}\""):rep(500),
  "a long string with escapes (past the scratch buffer)")
tap.eq(decode('"' .. ("x"):rep(100000) .. '"'), ("x"):rep(100000), "a 100 KB plain string")
tap.eq(decode('["' .. ("y"):rep(1022) .. '\\n"]')[1], ("y"):rep(1022) .. "\n",
  "an escaped string of exactly the scratch buffer's size")
tap.eq(decode('["' .. ("y"):rep(1023) .. '\\n"]')[1], ("y"):rep(1023) .. "\n",
  "an escaped string one byte longer")

-- a special byte at every offset around the 8-byte word scan
local offsets_ok, offsets_why = true, nil
for n = 0, 24 do
  for i = 0, n do
    local pre, post = ("p"):rep(i), ("q"):rep(n - i)
    local cases = {
      { '"' .. pre .. post .. '"', pre .. post },
      { '"' .. pre .. '\\n' .. post .. '"', pre .. "\n" .. post },
      { '"' .. pre .. '\\"' .. post .. '"', pre .. '"' .. post },
      { '{"' .. pre .. post .. '":1}', nil },
    }
    for _, c in ipairs(cases) do
      local v = decode(c[1])
      if c[2] == nil then v, c[2] = next(v), pre .. post end
      if v ~= c[2] then offsets_ok, offsets_why = false, ("%q"):format(c[1]) end
    end
    if err_of('"' .. pre .. "\1" .. post .. '"') ~=
        ("invalid JSON at byte %d: control character in string"):format(i + 2) then
      offsets_ok, offsets_why = false, "control char at " .. i .. " of " .. n
    end
  end
end
tap.ok(offsets_ok, "quotes, escapes and control characters found at every offset", offsets_why)

bad('"a\nb"', 3, "control character in string")
bad('"a\tb"', 3, "control character in string")
bad('"\0"', 2, "control character in string")
bad('"a\\', 1, "unterminated string")
bad('"abc', 1, "unterminated string")
bad('["abc\\"]', 2, "unterminated string")
bad('"\\x"', 2, "invalid escape")
bad('"\\\'"', 2, "invalid escape")
bad('"ab\\\n"', 4, "invalid escape")
bad('"\\u12"', 2, "invalid \\u escape")
bad('"\\u12G4"', 2, "invalid \\u escape")
bad('"\\U0041"', 2, "invalid escape")
bad('"\\ud800\\u12"', 8, "invalid \\u escape")

---------------------------------------------------------------------------
-- Objects, arrays, structure
---------------------------------------------------------------------------

-- sizes around the 32-pair and 64-item chunks the decoder fills tables in
for _, n in ipairs { 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000 } do
  local items, pairs_ = {}, {}
  for i = 1, n do
    items[i] = tostring(i)
    pairs_[i] = ('"k%d":%d'):format(i, i)
  end
  local a = decode("[" .. table.concat(items, ",") .. "]")
  local ok = #a == n and a[1] == 1 and a[n] == n and a[n + 1] == nil
  for i = 1, n do ok = ok and a[i] == i end
  tap.ok(ok, ("array of %d items"):format(n))
  local o = decode("{" .. table.concat(pairs_, ",") .. "}")
  local count = 0
  for k, v in pairs(o) do count = count + (k == "k" .. v and 1 or 1000) end
  tap.eq(count, n, ("object of %d members"):format(n))
end
local members = { '"dup":1' }
for i = 1, 40 do members[#members + 1] = ('"x%d":0'):format(i) end
members[#members + 1] = '"dup":2'
t = decode("{" .. table.concat(members, ",") .. "}")
tap.eq(t.dup, 2, "duplicate key across a chunk boundary: the last one wins")
local big = {}
for i = 1, 100000 do big[i] = i % 7 end
t = decode("[" .. table.concat(big, ",") .. "]")
tap.ok(#t == 100000 and t[100000] == 100000 % 7, "an array of 100,000 items")

bad("", 1, "unexpected end of input", "empty input is an error")
bad("   ", 4, "unexpected end of input", "blank input is an error")
bad("[", 2, "unexpected end of input")
bad("[1", 3, "unexpected end of input")
bad("[1,", 4, "unexpected end of input")
bad("[1,]", 4, "expected a value", "trailing comma in an array")
bad("[,1]", 2, "expected a value")
bad("[1 2]", 4, "expected ',' or ']'")
bad("[1:2]", 3, "expected ',' or ']'")
bad("{", 2, "unexpected end of input")
bad('{"a"}', 5, "expected ':'")
bad('{"a":}', 6, "expected a value")
bad('{"a":1,}', 8, "expected a string key", "trailing comma in an object")
bad('{"a":1 "b":2}', 8, "expected ',' or '}'")
bad("{1:2}", 2, "expected a string key")
bad("{'a':1}", 2, "expected a string key")
bad("{,}", 2, "expected a string key")
bad("]", 1, "expected a value")
bad("}", 1, "expected a value")
bad("[]]", 3, "unexpected data after the value")
bad("{} x", 4, "unexpected data after the value")
bad("nul", 1, "invalid literal")
bad("tru", 1, "invalid literal")
bad("True", 1, "expected a value")
bad("truee", 5, "unexpected data after the value")
bad("[true false]", 7, "expected ',' or ']'")
bad("\f1", 1, "expected a value", "form feed is not JSON white space")
bad("\v1", 1, "expected a value", "vertical tab is not JSON white space")
bad("\xc2\xa01", 1, "expected a value", "NBSP is not JSON white space")
bad("1\0", 2, "unexpected data after the value")
bad("\xef\xbb\xbf{}", 1, "expected a value", "a byte order mark is rejected")

-- depth: 1000 nested containers are fine, 1001 are an error
local function nest(n) return ("["):rep(n) .. ("]"):rep(n) end
t = decode(nest(1000))
local depth = 0
while type(t) == "table" do depth, t = depth + 1, t[1] end
tap.eq(depth, 1000, "1000 nested arrays decode")
bad(nest(1001), 1001, "nested deeper than 1000")
t = decode(('{"a":'):rep(1000) .. "1" .. ("}"):rep(1000))
tap.ok(type(t) == "table", "1000 nested objects decode")
bad(('{"a":'):rep(1001) .. "1" .. ("}"):rep(1001), 5001, "nested deeper than 1000")
bad(("["):rep(200000), 1001, "nested deeper than 1000", "200,000 open brackets: an error")
bad(('[{"k":'):rep(600), 3001, "nested deeper than 1000", "arrays in objects, 1200 deep")
t = decode(("[1,"):rep(999) .. "2" .. ("]"):rep(999))
tap.ok(type(t) == "table", "deep and wide: stack slots at every level")

---------------------------------------------------------------------------
-- Object keys (the decoder caches keys between decodes)
---------------------------------------------------------------------------

t = decode('{"":1,"a\\u0062c":2,"a\\u0000b":3}')
tap.ok(t[""] == 1 and t.abc == 2 and t["a\0b"] == 3, "empty key, escaped key, NUL in a key")
local long_key = ("k"):rep(100)
tap.eq(decode('{"' .. long_key .. '":1}')[long_key], 1, "a key longer than 40 bytes")
-- keys that share length and first and last bytes, decoded twice
local keys = {}
for i = 1, 3000 do keys[i] = ('"head_%06d_tail":%d'):format(i, i) end
local doc = "{" .. table.concat(keys, ",") .. "}"
local ok_keys = true
for _ = 1, 2 do
  t = decode(doc)
  for i = 1, 3000 do
    if t[("head_%06d_tail"):format(i)] ~= i then ok_keys = false end
  end
end
tap.ok(ok_keys, "3000 look-alike keys, decoded twice, map to the right values")
t = decode('[{"id":1,"name":"a"},{"id":2,"name":"b"},{"name":"c","id":3}]')
tap.ok(t[1].id == 1 and t[2].name == "b" and t[3].id == 3, "repeated keys in an array")

---------------------------------------------------------------------------
-- Agreement with cjson and round trips
---------------------------------------------------------------------------

-- A random value and its JSON text, with random white space and escapes.
local gen
local function ws() return ({ "", "", "", " ", "\n  ", "\t", "\r\n" })[math.random(7)] end
local short_esc = { [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r",
  [34] = '\\"', [92] = "\\\\", [47] = "\\/" }
local function gen_string()
  local text, want = {}, {}
  for i = 1, math.random(0, 30) do
    local r = math.random(10)
    local cp
    if r <= 5 then cp = math.random(32, 126)
    elseif r == 6 then cp = math.random(0, 31)
    elseif r == 7 then cp = ({ 34, 92, 47 })[math.random(3)]
    elseif r == 8 then cp = math.random(0x80, 0x7ff)
    elseif r == 9 then cp = math.random(0x800, 0xd7ff)
    else cp = math.random(0x10000, 0x10ffff) end
    want[i] = utf8.char(cp)
    local mode = math.random(3)
    if cp < 32 or cp == 34 or cp == 92 then mode = math.random(2, 3) end
    if mode == 1 then
      text[i] = utf8.char(cp)
    elseif mode == 2 and short_esc[cp] then
      text[i] = short_esc[cp]
    elseif cp >= 0x10000 then
      local c = cp - 0x10000
      text[i] = ("\\u%04x\\u%04X"):format(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff))
    else
      text[i] = ("\\u%04" .. (math.random(2) == 1 and "x" or "X")):format(cp)
    end
  end
  return '"' .. table.concat(text) .. '"', table.concat(want)
end
local function gen_number()
  local r = math.random(4)
  if r == 1 then
    local v = math.random(-2 ^ 53, 2 ^ 53)
    return tostring(v), v
  elseif r == 2 then
    local v = math.random(-1000, 1000)
    return tostring(v), v
  end
  local v = (math.random() - 0.5) * 10 ^ math.random(-30, 30)
  local s = ("%.17g"):format(v)
  return s, tonumber(s)
end
function gen(level)
  local r = math.random(level > 4 and 6 or 8)
  if r == 1 then return "null", null end
  if r == 2 then local b = math.random(2) == 1; return tostring(b), b end
  if r <= 4 then return gen_number() end
  if r <= 6 then return gen_string() end
  local parts, value = {}, {}
  if r == 7 then
    for i = 1, math.random(0, 8) do
      local text, v = gen(level + 1)
      parts[i], value[i] = ws() .. text .. ws(), v
    end
    return "[" .. table.concat(parts, ",") .. ws() .. "]", value
  end
  for i = 1, math.random(0, 8) do
    local ktext, k = gen_string()
    local text, v = gen(level + 1)
    parts[i], value[k] = ws() .. ktext .. ws() .. ":" .. ws() .. text .. ws(), v
  end
  return "{" .. table.concat(parts, ",") .. ws() .. "}", value
end

local agree, agree_why, orig_ok, orig_why = true, nil, true, nil
for _ = 1, 1500 do
  local text, value = gen(0)
  local ours, theirs = decode(text), cjson.decode(text)
  local ok, why = same(ours, theirs)
  if not ok and agree then agree, agree_why = false, why .. " in " .. text end
  ok, why = same(ours, value)
  if not ok and orig_ok then orig_ok, orig_why = false, why .. " in " .. text end
end
tap.ok(agree, "1500 random documents decode as cjson decodes them", agree_why)
tap.ok(orig_ok, "and to the values they were generated from", orig_why)

local listing = {}
for i = 1, 100 do
  listing[i] = { listingId = ("%08x-aaaa"):format(i), amount = tostring(100 + i),
    status = "ACTIVE", batch = null, count = i, price = i + 0.25,
    product = { productName = "Nike \"Air\" / \u{e9}\u{1F600}", styleId = "CW2288-111" },
    tags = { "a", "b", i % 2 == 0 } }
end
local page = cjson.encode({ count = 250, hasNextPage = true, listings = listing })
same_ok(decode(page), cjson.decode(page), "a 100-listing page decodes as cjson decodes it")
same_ok(decode(page).listings, listing, "and round-trips cjson.encode")
tap.eq(math.type(decode(page).listings[7].count), "integer", "counts come back as integers")

---------------------------------------------------------------------------
-- Resources
---------------------------------------------------------------------------

local function grows(fn, n)
  for _ = 1, 100 do fn() end
  collectgarbage()
  collectgarbage()
  local before = collectgarbage("count")
  for _ = 1, n do fn() end
  collectgarbage()
  collectgarbage()
  return collectgarbage("count") - before
end
local g = grows(function() decode(BENCH) end, 10000)
tap.ok(g < 64, "10,000 decodes of the benchmark body: memory stable",
  ("grew %.1f KB"):format(g))
local escaped = '{"a":"' .. ("x\\n"):rep(2000) .. '","b":[1,2,3]}'
g = grows(function() decode(escaped) end, 2000)
tap.ok(g < 64, "2,000 decodes with a long escaped string: memory stable",
  ("grew %.1f KB"):format(g))
g = grows(function() pcall(decode, '{"a":[1,2,{"b":"' .. ("x\\n"):rep(800) .. '\\q"}]}') end,
  10000)
tap.ok(g < 64, "10,000 failing decodes (mid-string, mid-table): memory stable",
  ("grew %.1f KB"):format(g))
g = grows(function() pcall(decode, nest(1001)) end, 200)
tap.ok(g < 64, "200 too-deep documents: memory stable", ("grew %.1f KB"):format(g))

-- inside a coroutine, and the state still works after many errors
local co = coroutine.wrap(function() return decode('{"in":"coroutine"}') end)
tap.eq(co()["in"], "coroutine", "decodes inside a coroutine")
tap.eq(decode('[1,2,3]')[3], 3, "still decodes after the failures above")

tap.done()
