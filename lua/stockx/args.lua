--- Argument checks for the StockX helpers (catalog, listings, batch,
-- orders, reprice), in the README's one format, pointing at the user's
-- line: "script.lua:12: bad argument #1 'path' to 'stockx.get' (...)".

local core = require "stockx.core"

local M = {}

--- Raises an argument error of function fname at the user's line (the
-- first caller outside the stockx library).
function M.error(fname, pos, name, detail)
  error(string.format("%sbad argument #%d '%s' to '%s' (%s)", core.where(),
    pos, name, fname, detail), 0)
end

--- The type of v for a message: "no value", "float 1.5", "string", ...
function M.typename(v)
  if v == nil then return "no value" end
  if math.type(v) == "float" then return "float " .. tostring(v) end
  return type(v)
end

--- v if it has type want (or is nil and optional), else an argument error.
function M.check_type(fname, pos, name, v, want, optional)
  if type(v) == want or (optional and v == nil) then return v end
  M.error(fname, pos, name, want .. " expected, got " .. M.typename(v))
end

--- An id that goes into a path: letters, digits, '-' and '_' only, so no
-- value can add a segment, a query or a dot segment.
function M.check_id(fname, pos, name, v, what)
  if type(v) ~= "string" then
    M.error(fname, pos, name, "string expected, got " .. M.typename(v))
  end
  if not v:match("^[%w_%-]+$") then
    M.error(fname, pos, name, string.format("not %s: %q", what or "an id", v))
  end
  return v
end

local DURATION_UNITS = { d = 86400, h = 3600, m = 60, s = 1 }

--- Seconds of a duration such as "90m", "2h", "1d12h" (up to 366 days),
-- or nil.
function M.duration(text)
  if not text:match("^%d+[dhms]") or text:match("[^%ddhms]") then return nil end
  local total = 0
  local rest = text:gsub("(%d+)([dhms])", function(n, u)
    total = total + tonumber(n) * DURATION_UNITS[u]
    return ""
  end)
  if rest ~= "" or total <= 0 or total > 366 * 86400 then return nil end
  return total
end

--- UTC seconds of "2026-12-01", "2026-12-01T10:00", "...T10:00:00Z" or
-- with an offset ("+02:00"; a space may stand for the T), or nil.
function M.timestamp(text)
  local y, mo, d, rest = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, sec, zone = 0, 0, 0, "Z"
  if rest ~= "" then
    local sep
    sep, h, mi, rest = rest:match("^([T ])(%d%d):(%d%d)(.*)$")
    if not sep then return nil end
    sec = rest:match("^:(%d%d)") or 0
    rest = rest:gsub("^:%d%d", "")
    zone = rest == "" and "Z" or rest
  end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h),
    tonumber(mi), tonumber(sec)
  local mdays = { 31, (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28,
    31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if mo < 1 or mo > 12 or d < 1 or d > mdays[mo] or h > 23 or mi > 59 or sec > 59 then
    return nil
  end
  local off = 0
  if zone ~= "Z" then
    local sign, oh, om = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign or tonumber(oh) > 23 or tonumber(om) > 59 then return nil end
    off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  -- days from the civil date (proleptic Gregorian), then seconds
  local yy = mo <= 2 and y - 1 or y
  local era = yy // 400
  local yoe = yy - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + h * 3600 + mi * 60 + sec - off
end

return M
