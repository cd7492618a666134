--- Fault injection scoped to a path pattern and method, limited by count,
-- seconds or a seeded probability: error statuses, latency, cut, stalled,
-- slow or garbled bodies, failed operations; and the compact syntax of
-- --fault, "[METHOD ]PATH:key=value,key=value,flag".
local http = require("stockx.sandbox.http")

local M = {}

-- Option -> kind of value.
local KEYS = {
  path = "string", method = "string", status = "int", retry_after = "any",
  latency = "latency", count = "int", seconds = "seconds",
  duration = "seconds", rate = "prob",
  drop_after = "int", stall = "flag", malformed = "flag", chunk_size = "int",
  chunk_delay = "seconds", body = "string", operation_fail = "string",
}
local EFFECTS = { "status", "latency", "drop_after", "stall", "malformed",
  "chunk_size", "chunk_delay", "operation_fail" }
local METHODS = { GET = true, POST = true, PUT = true, PATCH = true,
  DELETE = true, HEAD = true, OPTIONS = true }

local function check(ok, msg)
  if not ok then error(msg, 0) end
end

-- latency: seconds, {min, max} / {min=, max=}, or "min-max".
local function latency_range(v)
  local lo, hi = v, v
  if type(v) == "table" then
    lo, hi = v[1] or v.min, v[2] or v.max
  elseif type(v) == "string" then
    lo, hi = v:match("^%s*([%d.]+)%s*%-%s*([%d.]+)%s*$")
    if not lo then lo = v; hi = v end
  end
  lo, hi = tonumber(lo), tonumber(hi)
  check(lo and hi and lo >= 0 and hi >= lo and hi <= 3600,
        "latency must be seconds or a range min-max, at most 3600")
  return lo, hi
end

local function check_value(f, k, kind)
  local v = f[k]
  if kind == "string" then
    check(type(v) == "string" and v ~= "", k .. " must be a non-empty string")
  elseif kind == "int" then
    local n = http.int(v)
    check(n and n >= 0, k .. " must be an integer >= 0")
    f[k] = n
  elseif kind == "seconds" then
    local n = tonumber(v)
    check(n and n >= 0 and n <= 3600, k .. " must be seconds in 0..3600")
    f[k] = n
  elseif kind == "prob" then
    local n = tonumber(v)
    check(n and n >= 0 and n <= 1, k .. " must be a probability in 0..1")
    f[k] = n
  elseif kind == "flag" then
    if v == 1 or v == "true" or v == "1" then v = true end
    if v == 0 or v == "false" or v == "0" then v = false end
    check(type(v) == "boolean", k .. " must be true or false")
    f[k] = v
  elseif kind == "latency" then
    local lo, hi = latency_range(v)
    f[k] = lo == hi and lo or { lo, hi }
  end
end

--------------------------------------------------------------------------
-- Path patterns: Lua patterns, checked when a fault is added (string.find
-- reports a malformed item only when a match reaches it, so a bad pattern
-- would turn requests into 500s), and with '-' outside a set always a
-- literal hyphen, as in UUIDs and "market-data".  For a yes/no search the
-- lazy quantifier '-' matches what '*' does, so nothing is lost.
--------------------------------------------------------------------------

local MAX_CAPTURES = 32 -- LUA_MAXCAPTURES

-- The index after the set that starts at p[i] ("["), or nil: Lua's rule,
-- a ']' right after '[' or '[^' belongs to the set.
local function set_end(p, i)
  local j = i + 1
  if p:sub(j, j) == "^" then j = j + 1 end
  repeat
    if j > #p then return nil end
    j = j + (p:sub(j, j) == "%" and j < #p and 2 or 1)
  until p:sub(j, j) == "]"
  return j + 1
end

-- The item "%x" at p[i]: the index after it, or nil and Lua's message.
local function escape_end(p, i, caps)
  local d = p:sub(i + 1, i + 1)
  if d == "" then return nil, "malformed pattern (ends with '%')" end
  if d == "b" then
    if i + 3 > #p then return nil, "missing arguments to '%b'" end
    return i + 4
  elseif d == "f" then
    if p:sub(i + 2, i + 2) ~= "[" then
      return nil, "missing '[' after '%f' in pattern"
    end
    return set_end(p, i + 2) or nil, "malformed pattern (missing ']')"
  elseif d:match("%d") then
    local k = tonumber(d)
    if k == 0 or k > #caps or caps[k] then
      return nil, "invalid capture index %" .. d
    end
  end
  return i + 2
end

--- Checks a path pattern and returns the pattern to search with ('-'
-- outside sets escaped), or nil and the error Lua would raise.
function M.compile_pattern(p)
  local out, caps, i = {}, {}, 1 -- caps[k]: true while capture k is open
  while i <= #p do
    local c, j, e = p:sub(i, i), i + 1, nil
    if c == "%" then
      j, e = escape_end(p, i, caps)
    elseif c == "[" then
      j, e = set_end(p, i), "malformed pattern (missing ']')"
    elseif c == "(" then
      if #caps >= MAX_CAPTURES then return nil, "too many captures" end
      caps[#caps + 1] = p:sub(j, j) ~= ")" -- "()": a position, closed
      if not caps[#caps] then j = j + 1 end
    elseif c == ")" then
      local k = #caps
      while k > 0 and not caps[k] do k = k - 1 end
      if k == 0 then return nil, "invalid pattern capture" end
      caps[k] = false
    end
    if not j then return nil, e end
    out[#out + 1] = c == "-" and "%-" or p:sub(i, j - 1)
    i = j
  end
  for k = 1, #caps do
    if caps[k] then return nil, "unfinished capture" end
  end
  return table.concat(out)
end

--- Checks and normalises a fault table; raises a message when it is bad.
-- @return the same table
function M.validate(f)
  check(type(f) == "table", "a fault must be a table")
  for k in pairs(f) do
    check(KEYS[k], "unknown fault option " .. tostring(k))
  end
  check(type(f.path) == "string", "path (a Lua pattern) is required")
  local pattern, perr = M.compile_pattern(f.path)
  check(pattern, "bad path pattern '" .. f.path .. "': " .. tostring(perr))
  for k, kind in pairs(KEYS) do
    if f[k] ~= nil and k ~= "path" then check_value(f, k, kind) end
  end
  if f.method then
    f.method = f.method:upper()
    check(METHODS[f.method], "method must be an HTTP method")
  end
  check(f.status == nil or (f.status >= 100 and f.status <= 599),
        "status must be an HTTP status")
  local effect = false
  for _, k in ipairs(EFFECTS) do effect = effect or (f[k] ~= nil) end
  check(effect, "a fault needs an effect: status, latency, drop_after, "
    .. "stall, malformed, chunk_size, chunk_delay or operation_fail")
  f._pattern = pattern
  return f
end

-- "value" -> a Lua value for option k of the string syntax.
local function spec_value(k, v)
  if KEYS[k] == "flag" then
    if v == nil or v == "true" or v == "1" or v == "yes" then return true end
    if v == "false" or v == "0" or v == "no" then return false end
    return v
  end
  return v
end

--- Parses the compact fault syntax:
-- "[METHOD ]PATH:key=value,key=value,flag", e.g.
-- "/selling/listings:status=503,rate=0.2", ".*:latency=0.1-0.3",
-- "/catalog/.*:drop_after=100,count=3",
-- "POST /selling/listings:operation_fail=Item is not sellable".
-- An empty PATH means ".*".  Values run to the next ",key=" so a text may
-- hold commas.
-- @return the fault table, or nil and a message
function M.parse(spec)
  if type(spec) ~= "string" then return nil, "a fault spec must be a string" end
  local cut
  for i in spec:gmatch("():") do
    local rest = spec:sub(i + 1)
    local word = rest:match("^([%a_]+)")
    if rest:match("^[%a_]+=") or (KEYS[word] == "flag"
      and (rest == word or rest:sub(#word + 1, #word + 1) == ",")) then
      cut = i
      break
    end
  end
  if not cut then
    return nil, "expected PATH:key=value[,key=value...] in '" .. spec .. "'"
  end
  local f = {}
  local head = spec:sub(1, cut - 1)
  local method, path = head:match("^(%u+)%s+(.*)$")
  if method and METHODS[method] then
    f.method, head = method, path
  end
  f.path = head ~= "" and head or ".*"
  local last
  for token in (spec:sub(cut + 1) .. ","):gmatch("(.-),") do
    local k, v = token:match("^%s*([%a_]+)%s*=(.*)$")
    if not k and KEYS[token:match("^%s*(.-)%s*$")] == "flag" then
      k = token:match("^%s*(.-)%s*$")
    end
    if k then
      if not KEYS[k] then return nil, "unknown fault option " .. k end
      f[k], last = spec_value(k, v), k
    elseif last and type(f[last]) == "string" then
      f[last] = f[last] .. "," .. token
    elseif token:match("%S") then
      return nil, "cannot parse '" .. token .. "'"
    end
  end
  local ok, e = pcall(M.validate, f)
  if not ok then return nil, e end
  return f
end

local Set = {}
Set.__index = Set

--- An empty, ordered set of faults.
function M.new_set()
  return setmetatable({ list = {}, next_id = 0 }, Set)
end

--- Adds a fault (validated; a string is parsed); raises when it is bad.
-- @param f fault table or spec string
-- @param now monotonic seconds (duration starts now)
-- @return the fault's id
function Set:add(f, now)
  if type(f) == "string" then
    local parsed, e = M.parse(f)
    if not parsed then error(e, 0) end
    f = parsed
  else
    local copy = {}
    for k, v in pairs(f) do
      if type(k) ~= "string" or k:sub(1, 1) ~= "_" then copy[k] = v end
    end
    f = M.validate(copy)
  end
  self.next_id = self.next_id + 1
  f.id = self.next_id
  local span = f.seconds or f.duration
  if span then f._until = now + span end
  self.list[#self.list + 1] = f
  return f.id
end

--- The faults as JSON-able tables (without internal fields).
function Set:public()
  local out = {}
  for i, f in ipairs(self.list) do
    local t = {}
    for k, v in pairs(f) do
      if type(k) ~= "string" or k:sub(1, 1) ~= "_" then t[k] = v end
    end
    out[i] = t
  end
  return out
end

local function live(f, now)
  return (f.count == nil or f.count > 0) and (f._until == nil
    or now < f._until)
end

-- The first live fault matching req whose operation_fail-ness is want;
-- its count is taken.
local function take(self, req, rng, now, want)
  for _, f in ipairs(self.list) do
    if (f.operation_fail ~= nil) == want and live(f, now)
      and req.path:find(f._pattern) and (f.method == nil or f.method == req.method)
      and (f.rate == nil or rng:float() < f.rate) then
      if f.count then f.count = f.count - 1 end
      return f
    end
  end
end

--- The fault to apply to a request, or nil.
function Set:take(req, rng, now)
  return take(self, req, rng, now, false)
end

--- The failure text of the next matching operation_fail fault, or nil.
function Set:take_operation_fail(req, rng, now)
  local f = take(self, req, rng, now, true)
  return f and f.operation_fail
end

--- The reply for a fault with a status: a 429 as an API gateway sends it,
-- other codes as StockX errors; f.body replaces the body.
function M.status_reply(f)
  local r = http.limited_or_error(f.status,
    f.retry_after and http.header_value(f.retry_after))
  if f.body then r.body = f.body end
  return r
end

--- Adds the transport effects of f to reply.
function M.apply(f, reply, rng)
  if f.malformed then
    local b = reply.body or ""
    reply.body = #b > 2 and b:sub(1, #b // 2) or "{"
  end
  if f.latency then
    local lat = f.latency
    reply.delay = type(lat) == "table" and lat[1] + (lat[2] - lat[1])
      * rng:float() or lat
  end
  if f.drop_after then reply.drop_after = f.drop_after end
  if f.stall then reply.stall = true end
  if f.chunk_size then reply.chunk_size = f.chunk_size end
  if f.chunk_delay then reply.chunk_delay = f.chunk_delay end
  return reply
end

return M
