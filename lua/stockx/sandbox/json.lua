--- JSON for the sandbox.  The encoder sorts object keys (byte-identical
-- output for a seed) and writes tables marked with array() as arrays, so
-- an empty one comes out as [] and not {} (Debian's cjson 2.1.0 cannot).
-- decode() never raises: it returns nil and a message on bad input.
local cjson = require("cjson")

local M = {}

M.null = cjson.null

local array_mt = {}

--- Marks t (or a new table) as a JSON array; returns it.
-- @param t a sequence, or nil for an empty array
-- @return t
function M.array(t)
  return setmetatable(t or {}, array_mt)
end

--- True when t was marked with array().
function M.is_array(t)
  return getmetatable(t) == array_mt
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t", ["\b"] = "\\b", ["\f"] = "\\f",
}

local function escape_char(c)
  return escapes[c] or string.format("\\u%04x", c:byte())
end

local encode_value

-- '"key":', escaped once per key; the cache is capped because keys can
-- come from clients (echoed query parameters and headers).
local key_cache, key_cache_size = {}, 0

local function key_prefix(k)
  local s = key_cache[k]
  if s then return s end
  s = '"' .. tostring(k):gsub('[%c"\\]', escape_char) .. '":'
  if key_cache_size < 4096 then
    key_cache[k], key_cache_size = s, key_cache_size + 1
  end
  return s
end

-- Sorted key lists, cached per table while its set of keys is unchanged.
local sorted_keys = setmetatable({}, { __mode = "k" })

local function keys_of(t)
  local keys, n = sorted_keys[t], 0
  for _ in pairs(t) do n = n + 1 end
  if keys and #keys == n then
    for i = 1, n do
      if t[keys[i]] == nil then keys = nil; break end
    end
    if keys then return keys end
  end
  keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  sorted_keys[t] = keys
  return keys
end

local function encode_array(t, out, n)
  n = n + 1; out[n] = "["
  for i = 1, #t do
    if i > 1 then n = n + 1; out[n] = "," end
    n = encode_value(t[i], out, n)
  end
  n = n + 1; out[n] = "]"
  return n
end

-- True while encoding without sorting keys (M.encode_fast).
local unsorted = false

local function encode_object(t, out, n)
  n = n + 1; out[n] = "{"
  if unsorted then
    local first = true
    for k, v in pairs(t) do
      if not first then n = n + 1; out[n] = "," end
      first = false
      n = n + 1; out[n] = key_prefix(k)
      n = encode_value(v, out, n)
    end
  else
    for i, k in ipairs(keys_of(t)) do
      if i > 1 then n = n + 1; out[n] = "," end
      n = n + 1; out[n] = key_prefix(k)
      n = encode_value(t[k], out, n)
    end
  end
  n = n + 1; out[n] = "}"
  return n
end

local function encode_number(v)
  if v ~= v or v == math.huge or v == -math.huge then
    error("cannot encode " .. tostring(v) .. " as JSON")
  end
  if math.type(v) == "integer" then return string.format("%d", v) end
  local i = math.tointeger(v)
  if i and math.abs(v) < 2 ^ 53 then return string.format("%d", i) end
  return string.format("%.14g", v)
end

-- Appends the JSON for v to out[n+1...]; returns the new n.
function encode_value(v, out, n)
  local t = type(v)
  if t == "string" then
    if v:find('[%c"\\]') then v = v:gsub('[%c"\\]', escape_char) end
    out[n + 1], out[n + 2], out[n + 3] = '"', v, '"'
    return n + 3
  elseif t == "table" then
    if getmetatable(v) == array_mt or v[1] ~= nil then
      return encode_array(v, out, n)
    end
    return encode_object(v, out, n)
  elseif t == "number" then
    out[n + 1] = encode_number(v)
  elseif t == "boolean" then
    out[n + 1] = v and "true" or "false"
  elseif v == M.null or v == nil then
    out[n + 1] = "null"
  else
    error("cannot encode a " .. t .. " as JSON")
  end
  return n + 1
end

--- Encodes a Lua value as JSON.
-- @param v nil, null, a boolean, number, string or table
-- @return the JSON text
function M.encode(v)
  local out = {}
  encode_value(v, out, 0)
  return table.concat(out)
end

--- Encodes like M.encode but in pairs() order, which is faster (for the
-- state file, where no one compares bytes).
function M.encode_fast(v)
  unsorted = true
  local ok, s = pcall(M.encode, v)
  unsorted = false
  if not ok then error(s, 0) end
  return s
end

-- The binary's strict decoder (integers stay integers), which
-- stockx.server carries for the sandbox; cjson's without it.  The sandbox
-- requires no client module.
local decoder = require("stockx.server").json_decode or cjson.decode

--- Decodes JSON text without raising.
-- @param s the text
-- @return the value, or nil and a message
function M.decode(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local ok, v = pcall(decoder, s)
  if not ok then return nil, (tostring(v):gsub("^.-:%d+: ", "")) end
  return v
end

--- True for a decoded JSON object (a table that is not a non-empty
-- sequence; cjson cannot tell an empty [] from {}).
function M.is_object(v)
  return type(v) == "table" and v[1] == nil and getmetatable(v) ~= array_mt
end

--- True for a decoded JSON array (a non-empty sequence, or {}).
function M.is_list(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

return M
