--- Replies and request parsing shared by the sandbox's routes: JSON
-- replies and StockX's {statusCode, message} errors, query parameters
-- (pages, comma-separated lists, dates) and JSON request bodies checked
-- against a list of allowed properties.
local server = require("stockx.server")
local json = require("stockx.sandbox.json")
local util = require("stockx.sandbox.util")

local M = {}

M.JSON = "application/json"

-- StockX's spec says pageSize "starts at 1" by default, but a real search
-- without pageSize answered pageSize 10 and the orders history documents
-- 10; the sandbox uses 10 for every page-number and cursor endpoint.
M.DEFAULT_PAGE_SIZE = 10

--- A JSON reply.
-- @param status HTTP status
-- @param value encoded with the sandbox's encoder
-- @param headers optional extra headers (the table is reused)
function M.reply(status, value, headers)
  headers = headers or {}
  headers["Content-Type"] = M.JSON
  return { status = status, headers = headers, body = json.encode(value) }
end

-- StockX's default messages: its own text for 404, else the reason phrase
-- (src/sx_http.c, one table for the client, the server and the sandbox).
local function default_message(status)
  if status == 404 then return "Resource not found" end
  return server.reason(status)
end

--- StockX's error body {"statusCode":N,"message":"..."}.
function M.err(status, message, headers)
  return M.reply(status, { statusCode = status,
    message = message or default_message(status) or "The request did not succeed" },
    headers)
end

function M.not_found()
  return M.err(404, "Resource not found")
end

--- A 429 as an API gateway sends it (no statusCode), else a StockX error.
function M.limited_or_error(code, retry_after)
  local h = retry_after and { ["Retry-After"] = retry_after } or nil
  if code == 429 then
    return M.reply(429, { message = "Too Many Requests" }, h)
  end
  return M.err(code, nil, h)
end

--------------------------------------------------------------------------
-- Query parameters.
--------------------------------------------------------------------------

function M.int(s)
  local n = tonumber(s)
  return n and math.tointeger(n)
end

-- q[name] as an integer, default when absent, nil when not an integer.
function M.opt_int(q, name, default)
  if q[name] == nil then return default end
  return M.int(q[name])
end

-- A header value from JSON: 1.0 -> "1", strings verbatim.
function M.header_value(v)
  return tostring(M.int(v) or v)
end

--- pageSize/pageNumber -> size, number; or nil, message.
function M.page_params(q, max)
  local size = M.opt_int(q, "pageSize", M.DEFAULT_PAGE_SIZE)
  if not size or size < 1 or size > max then
    return nil, "pageSize must be an integer between 1 and " .. max
  end
  local number = M.opt_int(q, "pageNumber", 1)
  if not number or number < 1 then
    return nil, "pageNumber must be an integer of 1 or more"
  end
  return size, number
end

--- The page-number envelope {count, pageSize, pageNumber, hasNextPage,
-- [key] = items of the page}.
function M.paginate(items, size, number, key, map)
  local first = (number - 1) * size + 1
  local out = json.array()
  for i = first, math.min(#items, first + size - 1) do
    out[#out + 1] = map and map(items[i]) or items[i]
  end
  return { count = #items, pageSize = size, pageNumber = number,
           hasNextPage = first + size - 1 < #items, [key] = out }
end

--- "A,B" -> set {A=true, B=true}; nil when absent; nil, message when the
-- value carries [] or quotes (StockX wants bare comma-separated values).
function M.csv(q, name, allowed)
  local v = q[name]
  if v == nil or v == "" then return nil end
  if v:find('[%[%]"\']') then
    return nil, name .. " must be comma-separated values without [] or quotes"
  end
  local set = {}
  for item in v:gmatch("[^,]+") do
    item = item:match("^%s*(.-)%s*$")
    if allowed and not allowed[item] then
      return nil, "invalid value in " .. name .. ": " .. item
    end
    set[item] = true
  end
  return set
end

--- A YYYY-MM-DD date parameter; nil when absent; nil, message when bad.
function M.date(q, name)
  local v = q[name]
  if v == nil or v == "" then return nil end
  if not v:match("^%d%d%d%d%-%d%d%-%d%d$")
    or not util.parse_iso(v .. "T00:00:00Z") then
    return nil, name .. " must be a date like 2024-01-31"
  end
  return v
end

--- A boolean parameter ("true"/"false"); default when absent.
function M.bool(q, name, default)
  local v = q[name]
  if v == nil or v == "" then return default end
  v = v:lower()
  if v == "true" or v == "1" then return true end
  if v == "false" or v == "0" then return false end
  return nil, name .. " must be true or false"
end

--- "scheme://host" as the client sees this server (Host, or the
-- X-Forwarded-* headers of a proxy), else the server's own URL.
function M.base_url(sb, req)
  local h = req.headers
  local host = h["x-forwarded-host"] or h["host"]
  if not host or host == "" or host:find("[%s/]") then return sb:url() end
  local proto = h["x-forwarded-proto"]
  proto = (proto == "https" or proto == "http") and proto or "http"
  return proto .. "://" .. host:match("^[^,]+")
end

--------------------------------------------------------------------------
-- JSON bodies.
--------------------------------------------------------------------------

--- The request body as a JSON object.  An empty body is {} unless
-- required.  Returns the object, or nil and a 400 reply.
function M.body_object(req, required)
  local body = req.body or ""
  if body:match("^%s*$") then
    if required then return nil, M.err(400, "Request body is required") end
    return {}
  end
  local v, e = json.decode(body)
  if v == nil then return nil, M.err(400, "Malformed JSON body: " .. e) end
  if not json.is_object(v) then
    return nil, M.err(400, "Request body must be a JSON object")
  end
  return v
end

--- The first key of obj not in allowed (a set), or nil.
function M.extra_property(obj, allowed)
  local bad
  for k in pairs(obj) do
    if not allowed[k] and (bad == nil or tostring(k) < bad) then
      bad = tostring(k)
    end
  end
  return bad
end


--- Parses the filters listings and orders share: inventoryTypes (from the
-- allowed set), fromDate and toDate, into f.inventory, f.from and f.to.
-- @return f, or nil and a message naming the bad parameter
function M.shared_filters(q, f, inventory_types)
  local msg
  f.inventory, msg = M.csv(q, "inventoryTypes", inventory_types)
  if msg then return nil, msg end
  f.from, msg = M.date(q, "fromDate")
  if msg then return nil, msg end
  f.to, msg = M.date(q, "toDate")
  if msg then return nil, msg end
  return f
end

return M
