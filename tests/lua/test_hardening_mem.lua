-- Hardening, memory safety: configure while a request is in flight, and
-- stockx.log with many fields.  Each snippet that crashed stockx runs in
-- a child process, so that one crash does not hide the other results.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local STOCKX = os.getenv("STOCKX") or "./stockx"
local TMP = os.getenv("TEST_TMP") or "/tmp"
local SECRETS = { os.getenv("STOCKX_API_KEY"), os.getenv("STOCKX_ACCESS_TOKEN") }

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Never show a secret, even in the detail of a failure.
local function redact(s)
  for _, v in ipairs(SECRETS) do
    if v and v ~= "" then s = s:gsub(v:gsub("%p", "%%%0"), "[secret]") end
  end
  return s
end

local function tail(s, n)
  local lines = {}
  for l in s:gmatch("[^\n]*") do lines[#lines + 1] = l end
  return redact(table.concat(lines, "\n", math.max(1, #lines - (n or 8))))
end

-- child(name, code): runs `stockx run FILE` with code in FILE (the
-- environment, so the sandbox URL and credentials, is inherited).
-- Returns the exit status (128+N for signal N), stdout, stderr.
local seq = 0
local function child(code)
  seq = seq + 1
  local base = TMP .. "/mem_child_" .. seq
  local f = assert(io.open(base .. ".lua", "wb"))
  f:write(code)
  f:close()
  local ok, how, st = os.execute(string.format("%s run %s.lua > %s.out 2> %s.err",
    STOCKX, base, base, base))
  if how == "signal" then st = 128 + st end
  if ok then st = 0 end
  return st, read(base .. ".out"), read(base .. ".err")
end

-- A crash: killed by a signal, or a sanitizer report (ASan exits 1).
local function crashed(st, err)
  return st >= 128 or err:find("Sanitizer", 1, true) ~= nil
    or err:find("runtime error:", 1, true) ~= nil
end

---------------------------------------------------------------------------
-- configure{access_token=} 10 times while a request is in flight
---------------------------------------------------------------------------

scenario.part("configure while a request is in flight (spawned request)", function()
  local st, out, err = child [[
stockx.configure { rate = false }
local token = os.getenv("STOCKX_ACCESS_TOKEN")
local t = stockx.spawn(function()
  return (stockx.get("/_test/delay", { s = 0.3 })).ok
end)
stockx.sleep(0)
for i = 1, 10 do stockx.configure { access_token = "not-the-token-" .. i } end
local ok, v = pcall(t.wait, t)
print("completed", ok and v == true)
-- the latest token is a wrong one: the sandbox refuses it
print("latest_bogus_refused", (stockx.get("/_test/echo")).auth_ok == false)
for i = 1, 6 do stockx.configure { access_token = "again-" .. i } end
stockx.configure { access_token = token }
print("latest_real_accepted", (stockx.get("/_test/echo")).auth_ok == true)
]]
  tap.ok(not crashed(st, err),
    "10 configure calls during a request do not crash (exit " .. st .. ")", tail(err))
  tap.eq(st, 0, "the script finishes normally")
  tap.ok(out:find("completed\ttrue"), "the in-flight request completes", tail(out))
  tap.ok(out:find("latest_bogus_refused\ttrue"),
    "a later request carries the latest token (a wrong one: refused)", tail(out))
  tap.ok(out:find("latest_real_accepted\ttrue"),
    "a later request carries the latest token (the right one: accepted)", tail(out))
end)

scenario.part("configure while a request is in flight (request just started)", function()
  local st, out, err = child [[
stockx.configure { rate = false }
local token = os.getenv("STOCKX_ACCESS_TOKEN")
-- the main task starts a request; before the loop sends it, another task
-- replaces the token ten times
local t = stockx.spawn(function()
  stockx.sleep(0)
  for i = 1, 10 do stockx.configure { access_token = "tok" .. i } end
  stockx.configure { access_token = token }
end)
local d = stockx.get("/_test/delay", { s = 0.3 })
t:wait()
print("completed", d.ok == true)
print("latest_real_accepted", (stockx.get("/_test/echo")).auth_ok == true)
]]
  tap.ok(not crashed(st, err), "configure just after a request started does not crash (exit "
    .. st .. ")", tail(err))
  tap.eq(st, 0, "that script finishes normally")
  tap.ok(out:find("completed\ttrue"), "that request completes", tail(out))
  tap.ok(out:find("latest_real_accepted\ttrue"), "and the next carries the latest token",
    tail(out))
end)

---------------------------------------------------------------------------
-- stockx.log with many fields
---------------------------------------------------------------------------

for _, n in ipairs { 16, 17, 100, 1000 } do
  scenario.part("stockx.log.error with " .. n .. " fields", function()
    local st, _, err = child(([[
local t = {}
for i = 1, %d do t["k" .. i] = i end
stockx.log.error("x", t)
]]):format(n))
    tap.ok(not crashed(st, err), "log.error with " .. n .. " fields does not crash (exit " .. st
      .. ")", tail(err, 3):sub(1, 300))
    tap.eq(st, 0, "log.error with " .. n .. " fields: exit 0")
    local lines, line = 0, nil
    for l in err:gmatch("[^\n]+") do
      if l:find("event=script", 1, true) then lines = lines + 1; line = l end
    end
    tap.eq(lines, 1, n .. " fields: one log line")
    local seen = {}
    for k in (line or ""):gmatch(" (k%d+)=") do seen[k] = true end
    local all = true
    for i = 1, n do all = all and seen["k" .. i] == true end
    tap.ok(all and (line or ""):find("msg=x", 1, true), n .. " fields: the line has every field")
  end)
end

scenario.part("a field whose __tostring empties the fields table", function()
  local st, out, err = child [[
local t = {}
for i = 1, 10 do t["k" .. i] = "v" .. i end
t.a_first = setmetatable({}, { __tostring = function()
  for k in pairs(t) do t[k] = nil end
  collectgarbage(); collectgarbage()
  return "emptied"
end })
stockx.log.error("x", t)
collectgarbage()
print("survived")
]]
  tap.ok(not crashed(st, err), "__tostring emptying the table does not crash (exit " .. st .. ")",
    tail(err))
  tap.ok(st == 0 and out:find("survived", 1, true), "and the script goes on (exit " .. st .. ")")
end)

scenario.finish()
tap.done()
