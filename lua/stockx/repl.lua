--- The REPL's Lua half (src/lrepl.c is the terminal side): the value
-- printer, the completion candidates, and what to show when a chunk ends.
-- The printer reads tables raw (next, rawget) and calls no metamethod but
-- __tostring (under pcall); completion calls no function at all.
--
--   local repl = require "stockx.repl"
--   print(repl.show({ b = 2, a = { 1, 2 } }))   --> { a = { 1, 2 }, b = 2 }

local core = require "stockx.core"
local json_null = require("stockx").json.null

local M = {}

-- Limits: nesting shown, items shown per table, one-line width, and the
-- bytes of a string shown inside a table.
M.DEPTH, M.ITEMS, M.WIDTH, M.STRLEN = 6, 100, 80, 200

local getmetatable = debug.getmetatable -- raw: ignores __metatable
local rawget, next, type, tostring, pcall = rawget, next, type, tostring, pcall
local fmt, concat, sort = string.format, table.concat, table.sort

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[w] = true
end

local function is_name(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and
    not KEYWORDS[s]
end

---------------------------------------------------------------------------
-- Printing
---------------------------------------------------------------------------

local ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s, limit)
  local extra = ""
  if limit and #s > limit then
    extra = fmt("... (%d bytes)", #s)
    s = s:sub(1, limit)
  end
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or fmt("\\%03d", c:byte())
  end) .. '"' .. extra
end

local function metafield(v, name)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, name) or nil
end

-- A response of stockx.request/get/...: one line, not its fields.
local function response(v)
  local st, url = rawget(v, "status"), rawget(v, "url")
  local s = fmt("<response %s %s %s %s, %.3f s", tostring(st),
    core.reason(math.tointeger(st) or 0) or "", tostring(rawget(v, "method")),
    tostring(url), tonumber(rawget(v, "elapsed")) or 0)
  local attempts = rawget(v, "attempts")
  if math.type(attempts) == "integer" and attempts > 1 then
    s = s .. fmt(", %d attempts", attempts)
  end
  local body = rawget(v, "body")
  if type(body) == "string" then s = s .. fmt(", %d bytes", #body) end
  if rawget(v, "dry_run") then s = s .. ", dry run" end
  return s:gsub("  +", " ") .. ">"
end

-- The text of a value that prints as one word (not a plain table), or nil.
local function atom(v, nested)
  local t = type(v)
  if t == "string" then return quote(v, nested and M.STRLEN) end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  if rawequal(v, json_null) then return "null" end
  if t == "function" then return fmt("function: %p", v) end
  if t == "table" and metafield(v, "__name") == "stockx.response" then
    return response(v)
  end
  if metafield(v, "__tostring") then
    local ok, s = pcall(tostring, v)
    if ok and type(s) == "string" then return s end
    return fmt("<%s %p: __tostring failed: %s>", t, v, tostring(s))
  end
  if t ~= "table" then return fmt("%s: %p", t, v) end
  return nil
end

local TYPE_ORDER = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  local oa, ob = TYPE_ORDER[ta] or 4, TYPE_ORDER[tb] or 4
  if oa ~= ob then return oa < ob end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return not a and b end
  return fmt("%s %p", ta, a) < fmt("%s %p", tb, b)
end

-- The keys of t to show, in order, and how many there are in all: the
-- array part 1..n first, then the others sorted (unsorted past 10000).
local function keys_of(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local rest = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      rest[#rest + 1] = k
    end
  end
  local total = n + #rest
  if #rest <= 10000 then sort(rest, key_less) end
  local keys = {}
  for i = 1, math.min(n, M.ITEMS) do keys[i] = i end
  for i = 1, math.min(#rest, M.ITEMS - #keys) do keys[#keys + 1] = rest[i] end
  return keys, n, total
end

-- keys_of(t), computed once per printing.
local function shape(t, cache)
  local s = cache[t]
  if not s then
    s = table.pack(keys_of(t))
    cache[t] = s
  end
  return s[1], s[2], s[3]
end

-- A table printed with its fields (not as one word).
local function plain(v)
  return type(v) == "table" and not metafield(v, "__tostring") and
    metafield(v, "__name") ~= "stockx.response"
end

-- A walk that shows a table: how many times each table is reached within
-- the limits, so that a shared table (or a cycle) gets a label.
local function count(v, depth, seen, cache)
  if not plain(v) or depth >= M.DEPTH then return end
  seen[v] = (seen[v] or 0) + 1
  if seen[v] > 1 then return end
  for _, k in ipairs((shape(v, cache))) do
    count(k, depth + 1, seen, cache)
    count(rawget(v, k), depth + 1, seen, cache)
  end
end

local render

local function key_text(k, st, indent, depth)
  if is_name(k) then return k end
  return "[" .. render(k, st, indent, depth + 1) .. "]"
end

-- The text of v at this indent and depth; st holds the labels.
function render(v, st, indent, depth)
  local a = atom(v, depth > 0)
  if a then return a end
  local label = st.labels[v]
  if label then return "<table " .. label .. ">" end
  if depth >= M.DEPTH then return next(v) == nil and "{}" or "{...}" end
  local prefix = ""
  if (st.seen[v] or 0) > 1 then
    st.next_label = st.next_label + 1
    st.labels[v] = st.next_label
    prefix = "<" .. st.next_label .. ">"
  end
  local keys, n, total = shape(v, st.cache)
  if #keys == 0 then return prefix .. "{}" end
  local inner = indent .. "  "
  local items, in_array, width, multi = {}, {}, #prefix + 4, false
  for i, k in ipairs(keys) do
    in_array[i] = math.type(k) == "integer" and k >= 1 and k <= n
    local key = not in_array[i] and key_text(k, st, inner, depth)
    local val = render(rawget(v, k), st, inner, depth + 1)
    local item = key and key .. " = " .. val or val
    items[i] = item
    width = width + #item + 2
    if item:find("\n", 1, true) then multi = true end
  end
  if total > #keys then
    items[#items + 1] = fmt("... %d more", total - #keys)
    width = width + #items[#items] + 2
  end
  if not multi and #indent + width <= M.WIDTH then
    return prefix .. "{ " .. concat(items, ", ") .. " }"
  end
  -- one item a line, but runs of short array items fill their lines
  local lines, line = {}, nil
  for i, item in ipairs(items) do
    local short = in_array[i] and not item:find("\n", 1, true)
    if line and short and #inner + #line + #item + 3 <= M.WIDTH then
      line = line .. ", " .. item
    else
      if line then lines[#lines + 1] = line end
      line = item
      if not short then
        lines[#lines + 1] = line
        line = nil
      end
    end
  end
  lines[#lines + 1] = line
  return prefix .. "{\n" .. inner .. concat(lines, ",\n" .. inner) .. "\n" ..
    indent .. "}"
end

--- The value as the REPL prints it: tables with sorted keys, indented,
-- one line when they fit; shared tables and cycles labelled (<1> where
-- first shown, <table 1> after); nesting past M.DEPTH as {...}; at most
-- M.ITEMS items a table, then "... N more"; null, amounts, error values
-- (their __tostring) and responses as one line.
-- @param v any value
-- @return string
function M.show(v)
  local st = { seen = {}, cache = {}, labels = {}, next_label = 0 }
  count(v, 0, st.seen, st.cache)
  return render(v, st, "", 0)
end

--- Several values, as lua's REPL prints them: separated by tabs.
function M.show_all(...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = M.show((select(i, ...))) end
  return concat(out, "\t")
end

--- The first line on a terminal: the version and, when the daily quota
-- is shared (see "Running several jobs on one key"), what is left of it.
function M.banner()
  local line = "stockx " .. core.version().stockx .. " (" .. _VERSION .. ")"
  local s = require("stockx").stats()
  if s.quota_left and s.quota then
    line = line .. fmt(", %d of %d requests left today (UTC)", s.quota_left, s.quota)
  end
  return line .. "; Ctrl-D exits, Ctrl-C cancels a chunk\n"
end

--- What to print when the chunk's task has ended: its results (and `_`
-- set to the first), "interrupted" if Ctrl-C stopped it, nothing if it
-- failed (the runtime has printed the error).
-- @param task the chunk's task
-- @param interrupted true if Ctrl-C stopped it
-- @return text for stdout or nil, text for stderr or nil
function M.finish(task, interrupted)
  local status = task:status()
  if status == "cancelled" then
    return nil, interrupted and "stockx: interrupted\n" or
      "stockx: the chunk was cancelled\n"
  end
  if status ~= "done" then return nil, nil end
  local r = table.pack(task:wait())
  if r.n == 0 then return nil, nil end
  rawset(_G, "_", r[1])
  return M.show_all(table.unpack(r, 1, r.n)) .. "\n", nil
end

---------------------------------------------------------------------------
-- Completion
---------------------------------------------------------------------------

local LEVELS, SCAN = 20, 2000 -- __index hops, keys read per table

-- v[k] read raw, then through __index tables (never a function).
local function lookup(v, k)
  for _ = 1, LEVELS do
    if type(v) == "table" then
      local r = rawget(v, k)
      if r ~= nil then return r end
    end
    local idx = metafield(v, "__index")
    if type(idx) ~= "table" then return nil end
    v = idx
  end
  return nil
end

-- Adds the names (string keys) of table t that start with prefix.
local function add_keys(t, prefix, out, methods)
  local n = 0
  for k, val in next, t do
    n = n + 1
    if n > SCAN then break end
    if is_name(k) and k:sub(1, #prefix) == prefix and out[k] == nil and
      (prefix:sub(1, 1) == "_" or k:sub(1, 1) ~= "_") and
      (not methods or type(val) == "function" or val == true) then
      out[k] = type(val) == "function" and "(" or ""
    end
  end
end

-- The fields of v: its own, those of its __index tables, and the names
-- its metatables' __complete tables list (fields made by functions).
local function fields(v, prefix, out, methods)
  for _ = 1, LEVELS do
    if type(v) == "table" then add_keys(v, prefix, out, methods) end
    local extra = metafield(v, "__complete")
    if type(extra) == "table" then
      local names = {}
      for k in next, extra do if is_name(k) then names[k] = true end end
      add_keys(names, prefix, out, false)
    end
    local idx = metafield(v, "__index")
    if type(idx) ~= "table" then return end
    v = idx
  end
end

--- Completion candidates for the word before the cursor: a global, or
-- a field or method path (`stockx.pa`, `res.hea`, `task:ca`).  Functions
-- get "(" after their name; after ":" only functions are offered.
-- @param word the text to complete
-- @param env the globals (default _G)
-- @return array of full candidates, sorted
function M.complete(word, env)
  env = env or _G
  local path, sep, last = word:match("^(.-)([.:]?)([%w_]*)$")
  if not path then return {} end
  local out = {}
  if sep == "" then
    if path ~= "" then return {} end
    fields(env, last, out, false)
    for k in next, KEYWORDS do
      if k:sub(1, #last) == last then out[k] = "" end
    end
  else
    local v = env
    for seg in (path .. "."):gmatch("(.-)%.") do
      if not is_name(seg) then return {} end
      v = lookup(v, seg)
      if v == nil then return {} end
    end
    fields(v, last, out, sep == ":")
  end
  local list = {}
  for k, suffix in next, out do
    list[#list + 1] = path .. sep .. k .. suffix
  end
  sort(list)
  return list
end

return M
