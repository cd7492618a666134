--- A small OpenAPI 3.0 schema validator for the contract tests: checks a
-- decoded JSON value (stockx.json.decode: null is stockx.json.null, arrays
-- are sequences, an empty array is {}) against a schema of the StockX
-- OpenAPI file, and reports every mismatch with a JSON-pointer path.
--
-- Supported: $ref (any "#/..." pointer into the document), type (string,
-- number, integer, boolean, object, array), nullable, enum, required,
-- properties, additionalProperties (false, true or a schema), items,
-- allOf, anyOf, oneOf, pattern (a regex subset; others are ignored) and
-- format uuid and date-time (StockX's "2021-11-09T12:44:31.000Z"); other
-- formats ("double") are accepted as they are.

local M = {}

local null = stockx and stockx.json.null

---------------------------------------------------------------------------
-- Loading and lookups
---------------------------------------------------------------------------

--- Reads an OpenAPI JSON file.
-- @param path file name
-- @return the decoded document; raises if the file is unreadable or bad
function M.load(path)
  local f, e = io.open(path, "rb")
  if not f then error("schema.load: " .. e, 2) end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(stockx.json.decode, text)
  if not ok or type(doc) ~= "table" then
    error("schema.load: " .. path .. " is not JSON: " .. tostring(doc), 2)
  end
  return doc
end

local function unescape_token(s)
  return (s:gsub("~1", "/"):gsub("~0", "~"))
end

--- The value a "#/a/b/c" pointer names in doc.
-- @return the value, or nil and a message
function M.resolve(doc, ref)
  if type(ref) ~= "string" or ref:sub(1, 2) ~= "#/" then
    return nil, "unsupported $ref " .. tostring(ref)
  end
  local node = doc
  for token in ref:sub(3):gmatch("[^/]+") do
    if type(node) ~= "table" then break end
    node = node[unescape_token(token)]
  end
  if node == nil or node == null then return nil, "unresolved $ref " .. ref end
  return node
end

--- The documented JSON schema of one response.
-- @param method "GET", "post", ...
-- @param path_template as in the file, e.g. "/selling/listings/{listingId}"
-- @param status 200 or "200"
-- @return the schema (a table), or nil and a message
function M.response(doc, method, path_template, status)
  local item = doc.paths and doc.paths[path_template]
  if not item then return nil, "no path " .. path_template end
  local op = item[method:lower()]
  if not op then return nil, "no " .. method .. " " .. path_template end
  local r = op.responses and op.responses[tostring(status)]
  if not r then
    return nil, method .. " " .. path_template .. " documents no " .. status
  end
  if r["$ref"] then
    local e
    r, e = M.resolve(doc, r["$ref"])
    if not r then return nil, e end
  end
  local c = r.content and r.content["application/json"]
  if not c or not c.schema then
    return nil, method .. " " .. path_template .. " " .. status
      .. " has no application/json schema"
  end
  return c.schema
end

--- The documented JSON schema of an operation's request body.
-- @return the schema, or nil and a message when it takes no JSON body
function M.request(doc, method, path_template)
  local item = doc.paths and doc.paths[path_template]
  local op = item and item[method:lower()]
  if not op then return nil, "no " .. method .. " " .. path_template end
  local rb = op.requestBody
  if rb and rb["$ref"] then rb = M.resolve(doc, rb["$ref"]) end
  local c = rb and rb.content and rb.content["application/json"]
  if not c or not c.schema then
    return nil, method .. " " .. path_template .. " takes no JSON body"
  end
  return c.schema
end

local METHODS = { "get", "put", "post", "delete", "patch", "head", "options" }

--- Every operation of the file, sorted by operationId.
-- @return list of {id=, method="GET", path=, responses=}, and a map by id
function M.operations(doc)
  local list, by_id = {}, {}
  for path, item in pairs(doc.paths or {}) do
    for _, m in ipairs(METHODS) do
      local op = item[m]
      if op then
        local o = { id = op.operationId or (m:upper() .. " " .. path),
                    method = m:upper(), path = path,
                    responses = op.responses or {} }
        list[#list + 1], by_id[o.id] = o, o
      end
    end
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  return list, by_id
end

---------------------------------------------------------------------------
-- Value helpers
---------------------------------------------------------------------------

local function is_array(v)
  if type(v) ~= "table" or v == null then return false end
  local n = 0
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #v
end

local function is_object(v)
  if type(v) ~= "table" or v == null then return false end
  -- an empty table may be {} or []; a non-empty sequence is an array
  return next(v) == nil or v[1] == nil
end

local function kind(v)
  if v == null then return "null" end
  local t = type(v)
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  if t == "table" then
    if next(v) == nil then return "empty table" end
    return is_array(v) and "array" or "object"
  end
  return t
end

local TYPES = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" end,
  integer = function(v)
    return math.type(v) == "integer"
      or (math.type(v) == "float" and v == math.floor(v))
  end,
  boolean = function(v) return type(v) == "boolean" end,
  object = is_object,
  array = is_array,
}

local function show(v)
  if type(v) == "string" then
    if #v > 60 then v = v:sub(1, 60) .. "..." end
    return string.format("%q", v)
  end
  if v == null then return "null" end
  if type(v) == "table" then return kind(v) end
  if type(v) == "number" then return kind(v) .. " " .. tostring(v) end
  return tostring(v)
end

local function pointer(path, key)
  key = tostring(key):gsub("~", "~0"):gsub("/", "~1")
  return path .. "/" .. key
end

---------------------------------------------------------------------------
-- Formats and patterns
---------------------------------------------------------------------------

local function in_range(s, lo, hi)
  local n = tonumber(s)
  return n and n >= lo and n <= hi
end

-- StockX's timestamps: 2021-11-09T12:44:31.000Z (milliseconds, UTC).
local function date_time(s)
  local y, mo, d, h, mi, sec = s:match(
    "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.%d%d%dZ$")
  return y ~= nil and in_range(mo, 1, 12) and in_range(d, 1, 31)
    and in_range(h, 0, 23) and in_range(mi, 0, 59) and in_range(sec, 0, 60)
end

local H4 = "%x%x%x%x"
local UUID = "^" .. H4 .. H4 .. "%-" .. H4 .. "%-" .. H4 .. "%-" .. H4
  .. "%-" .. H4 .. H4 .. H4 .. "$"

local FORMATS = {
  ["date-time"] = { date_time, "an ISO-8601 UTC time with milliseconds" },
  uuid = { function(s) return s:find(UUID) ~= nil end, "a UUID" },
}

-- Regex -> Lua pattern, for the subset a schema's pattern usually uses:
-- literals, [classes], \d \w \s, ., the quantifiers ? * + {n} {n,m} on a
-- single atom, ^ and $.  Returns nil for anything else (groups,
-- alternation), and the caller then skips the check.
local ESCAPES = { d = "%d", w = "[%w_]", s = "%s", D = "%D", S = "%S" }

local function regex_atom(re, i)
  local c = re:sub(i, i)
  if c == "[" then
    local j = re:find("]", i + 2, true)
    if not j then return nil end
    local body = re:sub(i + 1, j - 1)
    if body:find("\\", 1, true) or body:find("[", 1, true) then return nil end
    local neg = body:sub(1, 1) == "^"
    if neg then body = body:sub(2) end
    body = body:gsub("%%", "%%%%")
    return "[" .. (neg and "^" or "") .. body .. "]", j + 1
  elseif c == "\\" then
    local e = re:sub(i + 1, i + 1)
    if ESCAPES[e] then return ESCAPES[e], i + 2 end
    if e:match("%p") then return "%" .. e, i + 2 end
    return nil
  elseif c == "." then
    return ".", i + 1
  elseif c:match("[%(%)|]") then
    return nil
  elseif c:match("%p") then
    return "%" .. c, i + 1
  end
  return c, i + 1
end

local function regex_to_lua(re)
  local out, i, n = {}, 1, #re
  if re:sub(1, 1) == "^" then out[1], i = "^", 2 end
  while i <= n do
    if i == n and re:sub(i, i) == "$" then out[#out + 1] = "$"; break end
    local atom, j = regex_atom(re, i)
    if not atom then return nil end
    local q = re:sub(j, j)
    if q == "?" or q == "*" or q == "+" then
      out[#out + 1] = atom .. (q == "+" and "+" or q == "*" and "*" or "?")
      j = j + 1
    elseif q == "{" then
      local lo, hi, k = re:match("^{(%d+),?(%d*)}()", j)
      if not lo then return nil end
      lo = tonumber(lo)
      hi = hi ~= "" and tonumber(hi) or (re:sub(j, k - 1):find(",") and -1 or lo)
      if hi == -1 then
        out[#out + 1] = atom:rep(lo) .. atom .. "*"
      else
        out[#out + 1] = atom:rep(lo) .. (atom .. "?"):rep(hi - lo)
      end
      j = k
    else
      out[#out + 1] = atom
    end
    i = j
  end
  return table.concat(out)
end

local pattern_cache = {}

local function lua_pattern(re)
  local p = pattern_cache[re]
  if p == nil then
    p = regex_to_lua(re) or false
    pattern_cache[re] = p
  end
  return p
end

---------------------------------------------------------------------------
-- Validation
---------------------------------------------------------------------------

local validate

local function add(errs, path, msg)
  errs[#errs + 1] = (path == "" and "#" or "#" .. path) .. ": " .. msg
end

local function check_object(doc, s, v, path, errs)
  local props = s.properties or {}
  for _, name in ipairs(s.required or {}) do
    if v[name] == nil then add(errs, pointer(path, name), "required property missing") end
  end
  local extra = s.additionalProperties
  local names = {}
  for k in pairs(v) do names[#names + 1] = tostring(k) end
  table.sort(names)
  for _, k in ipairs(names) do
    local p = pointer(path, k)
    if props[k] ~= nil then
      validate(doc, props[k], v[k], p, errs)
    elseif extra == false then
      add(errs, p, "property not allowed (additionalProperties is false)")
    elseif type(extra) == "table" then
      validate(doc, extra, v[k], p, errs)
    end
  end
end

local function check_array(doc, s, v, path, errs)
  if s.items == nil then return end
  for i = 1, #v do
    validate(doc, s.items, v[i], pointer(path, i - 1), errs)
  end
end

local function errors_of(doc, sub, v, path)
  local e = {}
  validate(doc, sub, v, path, e)
  return e
end

local function check_composites(doc, s, v, path, errs)
  for _, sub in ipairs(s.allOf or {}) do validate(doc, sub, v, path, errs) end
  for _, key in ipairs { "anyOf", "oneOf" } do
    local subs = s[key]
    if subs then
      local matched, best = 0, nil
      for _, sub in ipairs(subs) do
        local e = errors_of(doc, sub, v, path)
        if #e == 0 then matched = matched + 1
        elseif not best or #e < #best then best = e end
      end
      if matched == 0 then
        add(errs, path, show(v) .. " matches none of " .. key
          .. " (closest: " .. (best and best[1] or "?") .. ")")
      elseif key == "oneOf" and matched > 1 then
        add(errs, path, show(v) .. " matches " .. matched .. " schemas of oneOf")
      end
    end
  end
end

local function check_enum(s, v, path, errs)
  for _, e in ipairs(s.enum) do
    if e == v then return end
  end
  local shown = {}
  for i, e in ipairs(s.enum) do
    if i > 8 then shown[#shown + 1] = "..."; break end
    shown[#shown + 1] = type(e) == "string" and string.format("%q", e) or tostring(e)
  end
  add(errs, path, show(v) .. " is not one of " .. table.concat(shown, ", "))
end

local function check_string(s, v, path, errs)
  local f = s.format and FORMATS[s.format]
  if f and not f[1](v) then
    add(errs, path, show(v) .. " is not " .. f[2])
  end
  local p = s.pattern and lua_pattern(s.pattern)
  if p and not v:find(p) then
    add(errs, path, show(v) .. " does not match pattern " .. s.pattern)
  end
end

-- Appends to errs every way in which v breaks schema s.
function validate(doc, s, v, path, errs)
  if type(s) ~= "table" then return end
  if v == nil then v = null end
  if v == null and s.nullable == true then return end
  if s["$ref"] then
    local target, e = M.resolve(doc, s["$ref"])
    if not target then add(errs, path, e); return end
    return validate(doc, target, v, path, errs)
  end
  local t = s.type
  if t then
    if not TYPES[t] then add(errs, path, "unknown schema type " .. tostring(t)); return end
    if not TYPES[t](v) then
      add(errs, path, "expected " .. t .. (s.nullable and " or null" or "")
        .. ", got " .. show(v))
      return
    end
  end
  if s.enum and v ~= null then check_enum(s, v, path, errs) end
  if type(v) == "string" then check_string(s, v, path, errs) end
  if is_object(v) and (t == "object" or s.properties or s.required
    or s.additionalProperties ~= nil) then
    check_object(doc, s, v, path, errs)
  end
  if t == "array" or (t == nil and s.items and is_array(v)) then
    check_array(doc, s, v, path, errs)
  end
  check_composites(doc, s, v, path, errs)
end

--- Checks value against a schema of doc.
-- @param doc the OpenAPI document (from schema.load)
-- @param s a schema table, a "#/..." reference or a component name
--   ("Listings" for "#/components/schemas/Listings")
-- @param value the decoded JSON value
-- @return true, {} when it conforms; false and a list of messages
--   ("#/listings/0/amount: expected string, got integer") otherwise
function M.check(doc, s, value)
  if type(s) == "string" then
    local ref = s:sub(1, 2) == "#/" and s or "#/components/schemas/" .. s
    s = { ["$ref"] = ref }
  end
  local errs = {}
  validate(doc, s, value, "", errs)
  return #errs == 0, errs
end

M._internal = { regex_to_lua = regex_to_lua, date_time = date_time,
  is_array = is_array, is_object = is_object }

return M
