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

return M
