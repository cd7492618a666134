-- Hardening, security: a failed configure changes nothing; credentials
-- never leave the base path through dot segments; NUL bytes are refused.
-- Only true/false is printed about credentials, never their values.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local url = os.getenv("STOCKX_BASE_URL")
local TOKEN = os.getenv("STOCKX_ACCESS_TOKEN")
local TMP = os.getenv("TEST_TMP") or "/tmp"

-- Puts back the settings this file relies on, whatever a check left.
local function restore()
  for _, c in ipairs { { access_token = TOKEN }, { base_url = url }, { rate = false },
    { timeout = 30 }, { connect_timeout = 10 }, { idle_timeout = 300 }, { max_idle = 20 },
    { max_connections = 100 }, { retry = { backoff_cap = 0.2 } } } do
    pcall(stockx.configure, c)
  end
end

local function msg(e) return tostring(e) end

-- A range error names the setting and its range, and is not a stray
-- message from the Lua API.
local function range_error(e, name, desc)
  local m = msg(e)
  tap.ok(m:find(name, 1, true) ~= nil, desc .. ": the message names " .. name, m)
  tap.ok(m:find("%d") ~= nil, desc .. ": the message gives the range", m)
  tap.ok(not m:find("invalid option", 1, true) and not m:find("lua_pushfstring", 1, true),
    desc .. ": no stray Lua API message", m)
end

---------------------------------------------------------------------------
-- A failed configure changes nothing
---------------------------------------------------------------------------

scenario.part("a refused token is not installed", function()
  tap.raises(function()
    stockx.configure { access_token = "evil\r\nX-Injected: yes" }
  end, "a token with CR/LF is refused")
  local ok, d = pcall(stockx.post, "/_test/echo", { a = 1 })
  tap.ok(ok, "requests still work after the refused configure", not ok and msg(d) or nil)
  tap.ok(ok and d.headers["x-injected"] == nil, "no x-injected header was sent")
  tap.ok(ok and d.auth_ok == true, "the old token is still sent (auth ok)")
  restore()
end)

-- The settings a refused configure must leave alone.
local function snapshot()
  local s = stockx.settings()
  local r = s.rate
  return table.concat({ "timeout=" .. tostring(s.timeout),
    "connect_timeout=" .. tostring(s.connect_timeout),
    "idle_timeout=" .. tostring(s.idle_timeout), "max_idle=" .. tostring(s.max_idle),
    "max_connections=" .. tostring(s.max_connections),
    "backoff_cap=" .. tostring(s.retry.backoff_cap), "base_url=" .. tostring(s.base_url),
    "rate=" .. (type(r) == "table" and (r.rate .. "/" .. r.period) or tostring(r)) }, " ")
end

-- configure applies its keys in table (hash) order, which changes from
-- run to run.  Each case is tried in tables of 1 to 2^14 slots (filled
-- with keys then emptied, so that the keys given land in different
-- orders), with and without good keys beside the bad one, so that a
-- partial update shows whatever the order.
local function shaped(bits, keys)
  local t = {}
  for i = 1, 2 ^ bits do t["_d" .. i] = true end
  for i = 1, 2 ^ bits do t["_d" .. i] = nil end
  for k, v in pairs(keys) do t[k] = v end
  return t
end

local function atomic(desc, bad, pattern, setup)
  local fillers = { {}, { connect_timeout = 7 }, { connect_timeout = 7, idle_timeout = 9 },
    { idle_timeout = 9, max_idle = 3, retry = { backoff_cap = 9 } },
    { timeout = 6, connect_timeout = 7, idle_timeout = 9, max_idle = 3 } }
  local tries, raised, changed, first_err = 0, 0, {}, nil
  for bits = 0, 14 do
    local c = {}
    for k, v in pairs(fillers[bits % #fillers + 1]) do c[k] = v end
    for k, v in pairs(bad) do c[k] = v end
    c = shaped(bits, c)
    if setup then setup() end
    local before = snapshot()
    tries = tries + 1
    local ok, e = pcall(stockx.configure, c)
    if not ok then raised = raised + 1; first_err = first_err or e end
    local after = snapshot()
    if after ~= before then changed[#changed + 1] = bits .. ": " .. after end
    restore()
  end
  tap.eq(raised, tries, desc .. ": refused")
  if pattern then
    tap.ok(first_err and msg(first_err):find(pattern, 1, true), desc .. ": the error names "
      .. pattern, msg(first_err))
  end
  tap.ok(#changed == 0, desc .. ": no setting changed (" .. tries .. " key orders)",
    "before: " .. snapshot() .. "; after " .. table.concat(changed, "; "))
  return first_err
end

scenario.part("a configure with one bad value changes no other", function()
  restore()
  local e = atomic("{timeout = 5, max_connections = 0}", { timeout = 5, max_connections = 0 })
  if e then range_error(e, "max_connections", "max_connections = 0") end

  atomic("{rate = '10/1s', base_url = 'ftp://x'}", { rate = "10/1s", base_url = "ftp://x" },
    "base_url", function() stockx.configure { rate = "3/1s" } end)
  restore()

  local before = stockx.settings().timeout
  e = tap.raises(function() stockx.configure { timeout = -1 } end,
    "timeout = -1 is refused")
  if e then range_error(e, "timeout", "timeout = -1") end
  tap.eq(stockx.settings().timeout, before, "timeout is unchanged")
  restore()
end)

---------------------------------------------------------------------------
-- Dot segments: credentials stay under the base path
---------------------------------------------------------------------------

scenario.part("dot segments do not carry credentials out of the base path", function()
  stockx.configure { base_url = url .. "/_sandbox" }
  for _, path in ipairs { "/../_test/echo", "/%2e%2e/_test/echo", "/%2E%2E/_test/echo",
    "/.%2e/_test/echo", "/%2e./_test/echo", "/stats/../../_test/echo",
    "/./../_test/echo" } do
    local ok, res, err = pcall(stockx.request, { path = path })
    if not ok or res == nil then
      -- refused: the error should say why
      local m = msg(ok and err or res):lower()
      tap.ok(m:find("dot", 1, true) ~= nil,
        path .. ": refused, naming dot segments", msg(ok and err or res))
    else
      local d = res.status == 200 and stockx.json.decode(res.body) or nil
      local leaked = type(d) == "table" and d.path == "/_test/echo" and
        (d.headers["x-api-key"] ~= nil or d.headers.authorization ~= nil)
      tap.ok(not leaked, path .. ": /_test/echo (outside the base path) got no credentials",
        "status " .. res.status .. ", url " .. res.url)
    end
  end
  restore()
end)

---------------------------------------------------------------------------
-- NUL bytes
---------------------------------------------------------------------------

scenario.part("NUL bytes are refused with a clear error", function()
  local function nul(desc, fn)
    local ok, e = pcall(fn)
    tap.ok(not ok, desc .. ": refused")
    tap.ok(not ok and msg(e):find("NUL") ~= nil, desc .. ": the error mentions NUL",
      ok and "no error" or msg(e))
  end
  nul("a NUL in the path", function() return stockx.get("/a\0/../../b") end)
  nul("a NUL in a header value", function()
    return stockx.get("/_test/echo", nil, { headers = { X = "va\0lue" } })
  end)
  nul("a NUL in a header name", function()
    return stockx.get("/_test/echo", nil, { headers = { ["X\0Y"] = "v" } })
  end)
  nul("a NUL in the method", function()
    return stockx.request { method = "GET\0X", path = "/_test/echo" }
  end)
  nul("a NUL in a query key", function()
    return stockx.get("/_test/echo", { ["k\0x"] = "v" })
  end)
  nul("a NUL in a query value", function()
    return stockx.get("/_test/echo", { k = "v\0x" })
  end)
  local dir = TMP .. "/sec_nul"
  os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
  nul("a NUL in a download file name", function()
    return stockx.download("/_test/bytes", dir .. "/dl\0.evil", { query = { n = 10 } })
  end)
  local p = io.popen("ls -A " .. dir)
  local files = p:read("a")
  p:close()
  tap.eq(files, "", "no file (dl, dl.part...) was created")
  restore()
end)

scenario.finish()
tap.done()
