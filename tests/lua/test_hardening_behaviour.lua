-- Hardening, behaviour: logs without fields, <close> in failed tasks,
-- download failures as error values, 429s from another origin, 503 with
-- Retry-After, header names, range checks, argument error positions,
-- settings().  (CLI-level behaviour is in tests/cli_hardening.sh.)
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local url = os.getenv("STOCKX_BASE_URL")
local TMP = os.getenv("TEST_TMP") or "/tmp"
local FILE = "test_hardening_behaviour.lua"
local function msg(e) return tostring(e) end

-- Puts back the settings this file relies on, one key at a time, so that
-- a value the client should have refused cannot block the others.
local function restore()
  for _, c in ipairs {
    { timeout = 30 }, { connect_timeout = 10 }, { max_connections = 100 },
    { max_idle = 20 }, { idle_timeout = 300 }, { max_body = 64 * 1024 * 1024 },
    { retry = { max_attempts = 5 } }, { base_url = url }, { ca_file = false },
    { log_level = "info" }, { log_format = "text" },
  } do pcall(stockx.configure, c) end
  pcall(tap.setup)
end

local function files_in(dir)
  local p = io.popen("ls -A " .. dir .. " 2>/dev/null")
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  return names
end

---------------------------------------------------------------------------
-- stockx.log without fields
---------------------------------------------------------------------------

scenario.part("stockx.log.* without a fields table", function()
  for _, level in ipairs { "info", "warn", "error", "debug" } do
    local ok, e = pcall(stockx.log[level], "no fields at " .. level)
    tap.ok(ok, "stockx.log." .. level .. "(msg) works", not ok and msg(e) or nil)
  end
end)

---------------------------------------------------------------------------
-- <close> variables of tasks that fail or are cancelled
---------------------------------------------------------------------------

scenario.part("a failing task runs its <close> variables", function()
  local closed = false
  local t = stockx.spawn(function()
    local x <close> = setmetatable({}, { __close = function() closed = true end })
    stockx.sleep(0.01)
    error("boom")
  end)
  local ok, e = pcall(t.wait, t)
  tap.ok(not ok and msg(e):find("boom"), "the task's error is re-raised")
  tap.ok(closed, "its <close> variable ran")
end)

scenario.part("a cancelled task runs its <close> variables", function()
  local closed = false
  local t = stockx.spawn(function()
    local x <close> = setmetatable({}, { __close = function() closed = true end })
    stockx.sleep(0.3)
  end)
  stockx.sleep(0.01)
  local ok, e = pcall(function() t:cancel() end)
  tap.ok(ok, "task:cancel() exists and works", not ok and msg(e) or nil)
  stockx.sleep(0.01)
  tap.ok(closed, "the cancelled task's <close> variable ran (before its sleep ended)")
  pcall(t.wait, t)
end)

scenario.part("paginate's prefetch is cancelled when the loop body raises", function()
  stockx.post("/_sandbox/reset", {})
  -- the first page is fast, the one fetched ahead is slow
  tap.fault { path = "^/selling/listings$", latency = 0, count = 1 }
  tap.fault { path = "^/selling/listings$", latency = 1 }
  local t0 = stockx.now()
  local ok, e = pcall(function()
    for _ in stockx.paginate("/selling/listings", { pageSize = 10 }) do
      stockx.sleep(0.05) -- the page ahead is now in flight
      error("body failed")
    end
  end)
  tap.ok(not ok and msg(e):find("body failed"), "the body's error comes out")
  stockx.sleep(0.05)
  local st = stockx.stats()
  tap.eq(st.pending, 0, "no request pending soon after")
  tap.eq(st.in_flight, 0, "none in flight")
  tap.ok(stockx.now() - t0 < 0.8, "the slow page was not waited for")
  stockx.delete("/_sandbox/faults")
end)

---------------------------------------------------------------------------
-- download failures are error values, and leave no file
---------------------------------------------------------------------------

scenario.part("download failures are error values", function()
  local dir = TMP .. "/beh_dl"
  os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
  local function io_error(desc, target)
    local ok, e = pcall(stockx.download, "/_test/bytes", target, { query = { n = 10 } })
    tap.ok(not ok, desc .. ": raises")
    tap.ok(stockx.is_error(e), desc .. ": an error value (stockx.is_error)", msg(e))
    tap.eq(type(e) == "table" and e.kind or nil, "io", desc .. ": kind io")
  end
  io_error("into a directory that does not exist", dir .. "/nodir/x.bin")
  io_error("with a 300-character name", dir .. "/" .. ("a"):rep(300))
  tap.eq(#files_in(dir), 0, "no file was created")

  local p = io.popen("id -u")
  local uid = p:read("l")
  p:close()
  if uid == "0" then
    print("# skip: a read-only directory (running as root, which ignores permissions)")
  else
    os.execute("mkdir -p " .. dir .. "/ro && chmod 555 " .. dir .. "/ro")
    io_error("into a read-only directory", dir .. "/ro/x.bin")
    tap.eq(#files_in(dir .. "/ro"), 0, "nothing was created in it")
    os.execute("chmod 755 " .. dir .. "/ro")
  end

  for _, code in ipairs { 302, 304 } do
    local target = dir .. "/s" .. code
    local ok, e = pcall(stockx.download, "/_test/status", target,
      { query = { code = code } })
    tap.ok(not ok, "a " .. code .. " answer to a download raises")
    tap.ok(stockx.is_error(e), code .. ": an error value", msg(e))
    tap.eq(type(e) == "table" and e.kind or nil, "http", code .. ": kind http")
    tap.eq(type(e) == "table" and e.status or nil, code, code .. ": status " .. code)
    tap.eq(#files_in(dir), 0, code .. ": no file was created")
  end
end)

---------------------------------------------------------------------------
-- 429 from another origin
---------------------------------------------------------------------------

scenario.part("a 429 from another origin pauses only that origin", function()
  restore()
  local other = url:gsub("127%.0%.0%.1", "localhost")
  local id = "beh429-" .. os.time() .. "-" .. math.random(1e9)
  local t = stockx.spawn(function()
    return stockx.request { path = other .. "/_test/flaky?id=" .. id
      .. "&fail=1&code=429&retry_after=1" }
  end)
  stockx.sleep(0.2)
  local t0 = stockx.now()
  local _, res2 = stockx.get("/_test/echo")
  local base_elapsed = stockx.now() - t0
  tap.ok(base_elapsed < 0.5, "a request to the base URL meanwhile is not delayed",
    string.format("it took %.3fs", base_elapsed))
  tap.ok(res2.elapsed < 0.5, "(res.elapsed agrees)", tostring(res2.elapsed))
  local ok, res = pcall(t.wait, t)
  tap.ok(ok and res and res.status == 200, "the other origin's request succeeds after a retry")
  tap.eq(ok and res and res.attempts, 2, "two attempts")
  tap.ok(ok and res and res.elapsed >= 0.9, "its Retry-After (1s) was honoured",
    ok and res and ("elapsed " .. tostring(res.elapsed)) or nil)
end)

scenario.part("err.retry_after for a 503 with Retry-After", function()
  restore()
  stockx.configure { retry = { transient_attempts = 2 } }
  local id = "beh503-" .. os.time() .. "-" .. math.random(1e9)
  local ok, e = pcall(stockx.get, "/_test/flaky",
    { id = id, fail = 100, code = 503, retry_after = 1 })
  tap.ok(not ok and stockx.is_error(e), "a persistent 503 raises an error value")
  tap.eq(type(e) == "table" and e.status or nil, 503, "status 503")
  tap.eq(type(e) == "table" and e.retry_after or nil, 1, "err.retry_after is 1")
  restore()
end)

---------------------------------------------------------------------------
-- Headers
---------------------------------------------------------------------------

scenario.part("response header names over 64 characters are lower-cased", function()
  local okreq, server = pcall(require, "stockx.server")
  if not okreq then
    print("# skip: no stockx.server module to serve a long header name")
    return
  end
  local name = "X-" .. ("Abcdefghij"):rep(7) -- 72 characters
  local srv = assert(server.listen { port = 0, handler = function()
    return { status = 200, headers = { [name] = "long", ["X-Short-Name"] = "short" },
      body = "ok" }
  end })
  local res = stockx.request { path = "http://127.0.0.1:" .. srv:port() .. "/" }
  srv:close()
  tap.eq(res and res.headers["x-short-name"], "short", "a short name is lower-cased")
  tap.eq(res and res.headers[name:lower()], "long", "a 72-character name is lower-cased")
  tap.eq(res and res.headers[name], nil, "and not kept as sent")
end)

scenario.part("a ':' in a header name is reported as a bad name", function()
  local ok, e = pcall(stockx.get, "/_test/echo", nil, { headers = { ["X:Y"] = "v" } })
  tap.ok(not ok, "a header name with ':' is refused")
  tap.ok(msg(e):find("name") ~= nil, "the message says it is the header name", msg(e))
end)

---------------------------------------------------------------------------
-- Query keys
---------------------------------------------------------------------------

scenario.part("a 1 MiB query key is not silently dropped", function()
  local k = ("k"):rep(1024 * 1024)
  local ok, d = pcall(stockx.get, "/_test/echo", { [k] = "", a = "1" })
  if ok then
    tap.ok(type(d.raw_query) == "string" and d.raw_query:find(k, 1, true) ~= nil,
      "the request was sent with the key", "raw_query " .. tostring(d.raw_query):sub(1, 40))
  else
    tap.ok(msg(d):find("too long") ~= nil, "an error says the query is too long",
      msg(d):sub(1, 200))
  end
end)

---------------------------------------------------------------------------
-- Range checks
---------------------------------------------------------------------------

local function range_error(e, name, desc)
  local m = msg(e)
  tap.ok(m:find(name, 1, true) ~= nil, desc .. ": the message names " .. name, m)
  tap.ok(not m:find("invalid option", 1, true) and not m:find("lua_pushfstring", 1, true),
    desc .. ": no stray Lua API message", m)
end

local stuck = false
scenario.part("stockx.sleep range checks", function()
  for _, v in ipairs { { 1e19, "1e19" }, { -1, "-1" }, { 0 / 0, "nan" }, { math.huge, "inf" } } do
    local t = stockx.spawn(function() return pcall(stockx.sleep, v[1]) end)
    stockx.sleep(0.2)
    if t:status() ~= "done" then
      stuck = true
      tap.ok(false, "sleep(" .. v[2] .. ") raises at once (it is still sleeping)")
    else
      local ok, e = t:wait()
      tap.ok(not ok, "sleep(" .. v[2] .. ") raises")
      tap.ok(not ok and msg(e):find("'seconds' to 'stockx.sleep'", 1, true),
        "sleep(" .. v[2] .. "): the message names 'seconds' and 'stockx.sleep'", msg(e))
    end
  end
end)

scenario.part("absurd settings are range-checked", function()
  for _, c in ipairs {
    { { timeout = 1e300 }, "timeout" },
    { { retry = { max_attempts = 1e300 } }, "max_attempts" },
    { { max_body = 1e300 }, "max_body" },
    { { max_connections = 1e300 }, "max_connections" },
  } do
    local ok, e = pcall(stockx.configure, c[1])
    tap.ok(not ok, c[2] .. " = 1e300 is refused")
    if not ok then range_error(e, c[2], c[2] .. " = 1e300") end
    restore()
  end
end)

---------------------------------------------------------------------------
-- Argument errors point at the caller's line
---------------------------------------------------------------------------

scenario.part("argument errors point at the user's line", function()
  -- one line each: the error must name the line of the call itself
  -- luacheck: no max line length
  local line1 = debug.getinfo(1, "l").currentline; local ok1, e1 = pcall(function() local r = stockx.post("/x", function() end); return r end)
  local line2 = debug.getinfo(1, "l").currentline; local ok2, e2 = pcall(function() local r = stockx.get("/x", nil, { headers = { X = "a\r\nb" } }); return r end)
  local line3 = debug.getinfo(1, "l").currentline; local ok3, e3 = pcall(function() local r = stockx.request { path = "/x", headers = { X = "a\r\nb" } }; return r end)
  for _, c in ipairs { { ok1, e1, line1, "a function as a POST body" },
    { ok2, e2, line2, "a CR/LF header (stockx.get)" },
    { ok3, e3, line3, "a CR/LF header (stockx.request)" } } do
    local ok, e, line, desc = c[1], c[2], c[3], c[4]
    tap.ok(not ok, desc .. ": raises")
    tap.ok(msg(e):find(FILE .. ":" .. line .. ":", 1, true) ~= nil,
      desc .. ": the message names " .. FILE .. ":" .. line, msg(e))
    tap.ok(not msg(e):find("stockx.lua", 1, true), desc .. ": and not stockx.lua", msg(e))
  end
  local ok, e = pcall(stockx.sleep, -1)
  tap.ok(not ok and msg(e):find("bad argument #1 'seconds' to 'stockx.sleep'", 1, true),
    "sleep(-1): bad argument #1 'seconds' to 'stockx.sleep'", msg(e))
end)

---------------------------------------------------------------------------
-- settings()
---------------------------------------------------------------------------

scenario.part("settings() reports max_body, log_level, log_format, ca_file", function()
  local ca = os.getenv("TEST_CA_FILE") or "/etc/ssl/certs/ca-certificates.crt"
  stockx.configure { max_body = 1000000, log_level = "warn", log_format = "json",
    ca_file = ca }
  local s = stockx.settings()
  restore()
  tap.eq(s.max_body, 1000000, "settings().max_body")
  tap.eq(s.log_level, "warn", "settings().log_level")
  tap.eq(s.log_format, "json", "settings().log_format")
  tap.eq(s.ca_file, ca, "settings().ca_file")
end)

restore()
scenario.finish()
if stuck then
  -- a sleep that never ends would keep the process alive
  print("# a stockx.sleep call never returned")
  tap.ok(false, "no stuck sleep")
  pcall(tap.done)
  os.exit(1)
end
tap.done()
