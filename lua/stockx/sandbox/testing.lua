--- Test routes (/_test/...): no auth, no limits, no faults; they let the
-- client's tests ask for a given status, delay, size, flaky sequence,
-- truncated or slow body, a stall or malformed JSON, and echo requests.
local http = require("stockx.sandbox.http")

local err, reply = http.err, http.reply

local M = {}

local MAX_TEST_BYTES = 64 * 1024 * 1024
local OCTETS = { ["Content-Type"] = "application/octet-stream" }

local function redacted_headers(h)
  local out = {}
  for k, v in pairs(h) do
    out[k] = (k == "x-api-key" or k == "authorization") and "[redacted]" or v
  end
  return out
end

local function echo(sb, req)
  return reply(200, { method = req.method, path = req.path,
    query = req.query, raw_query = req.raw_query, body = req.body,
    headers = redacted_headers(req.headers), auth_ok = sb:auth_ok(req) })
end

local block
local function deterministic_bytes(n)
  if not block then
    local b = {}
    for i = 0, 255 do b[i + 1] = string.char((i * 37 + 11) % 256) end
    block = table.concat(b)
  end
  return (block:rep(n // 256 + 1)):sub(1, n)
end

local function count_param(q, name, default)
  local n = http.opt_int(q, name, default)
  if not n or n < 0 or n > MAX_TEST_BYTES then return nil end
  return n
end

local function bytes(_, req)
  local n = count_param(req.query, "n", 0)
  if not n then
    return err(400, "n must be an integer in 0.." .. MAX_TEST_BYTES)
  end
  return { status = 200, headers = OCTETS, body = deterministic_bytes(n) }
end

local function status(_, req)
  local code = http.int(req.query.code or "")
  if not code or code < 100 or code > 599 then
    return err(400, "code must be an HTTP status")
  end
  return err(code)
end

local function delay(_, req)
  local s = tonumber(req.query.s or "0")
  if not s or not (s >= 0 and s <= 3600) then
    return err(400, "s must be seconds in 0..3600")
  end
  local r = reply(200, { ok = true, delay = s })
  r.delay = s
  return r
end

local function flaky(sb, req)
  local q = req.query
  local id, fail = q.id or "", http.int(q.fail or "1")
  local code = http.int(q.code or "503")
  if not fail or not code or code < 100 or code > 599 then
    return err(400, "fail and code must be integers")
  end
  local k = (sb.flaky[id] or 0) + 1
  sb.flaky[id] = k
  if k <= fail then return http.limited_or_error(code, q.retry_after) end
  return reply(200, { ok = true, attempts = k })
end

local function drop(_, req)
  local n = count_param(req.query, "n", 1000)
  local after = count_param(req.query, "after", 100)
  if not n or not after then return err(400, "n and after must be sizes") end
  return { status = 200, headers = OCTETS, body = deterministic_bytes(n),
           drop_after = after }
end

local function slow(_, req)
  local n = count_param(req.query, "n", 1000)
  local chunk = count_param(req.query, "chunk", 100)
  local d = tonumber(req.query.delay or "0.1")
  if not n or not chunk or chunk < 1 or not d
    or not (d >= 0 and d <= 3600) then
    return err(400, "n, chunk and delay must be positive numbers")
  end
  return { status = 200, headers = OCTETS, body = deterministic_bytes(n),
           chunk_size = chunk, chunk_delay = d }
end

local function stall()
  return { stall = true }
end

local function malformed()
  return { status = 200, headers = { ["Content-Type"] = http.JSON },
           body = '{"count": 3, "listings": [{"listingId": "abc", ' }
end

local function text()
  return { status = 200, headers = { ["Content-Type"] = "text/plain" },
           body = "hello" }
end

M.deterministic_bytes = deterministic_bytes

-- Test routes answer any method.
M.routes = {
  { "*", "/_test/echo", echo, kind = "test" },
  { "*", "/_test/bytes", bytes, kind = "test" },
  { "*", "/_test/status", status, kind = "test" },
  { "*", "/_test/delay", delay, kind = "test" },
  { "*", "/_test/flaky", flaky, kind = "test" },
  { "*", "/_test/drop", drop, kind = "test" },
  { "*", "/_test/slow", slow, kind = "test" },
  { "*", "/_test/stall", stall, kind = "test" },
  { "*", "/_test/malformed", malformed, kind = "test" },
  { "*", "/_test/text", text, kind = "test" },
}

return M
