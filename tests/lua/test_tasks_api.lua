-- The task API beyond spawn/wait/all: task:cancel([reason]),
-- stockx.timeout(seconds, fn, ...) and stockx.map(list, fn [, opts]).
-- Each part runs on its own, so a missing function fails its checks only.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local function msg(e) return tostring(e) end
local function closer(flag)
  return setmetatable({}, { __close = function() flag.closed = true end })
end

-- The request a cancelled task was waiting on is abandoned soon after.
local function settled()
  for _ = 1, 20 do
    local st = stockx.stats()
    if st.pending == 0 and st.in_flight == 0 then return true end
    stockx.sleep(0.01)
  end
  return false
end

local function kind_of(e) return type(e) == "table" and e.kind or nil end

---------------------------------------------------------------------------
-- task:cancel
---------------------------------------------------------------------------

scenario.part("task:cancel on a task waiting for a request", function()
  local flag = {}
  local t = stockx.spawn(function()
    local c <close> = closer(flag)
    return stockx.get("/_test/delay", { s = 1 })
  end)
  stockx.sleep(0.05)
  tap.eq(stockx.stats().pending, 1, "the task's request is pending")
  tap.eq(type(t.cancel), "function", "task:cancel exists")
  local t0 = stockx.now()
  local ok, e = pcall(function() t:cancel("no longer needed") end)
  tap.ok(ok, "task:cancel(reason) does not raise", not ok and msg(e) or nil)
  tap.ok(settled(), "its request is abandoned (stats().pending back to 0)")
  local wok, werr = pcall(t.wait, t)
  tap.ok(flag.closed, "its <close> variables ran (by the time task:wait returns)")
  tap.ok(stockx.now() - t0 < 0.5, "task:wait returns at once, not after the request")
  tap.ok(not wok, "task:wait raises")
  tap.ok(stockx.is_error(werr), "an error value", msg(werr))
  tap.eq(kind_of(werr), "cancelled", "of kind cancelled")
  tap.ok(type(werr) == "table" and msg(werr.message or werr):find("no longer needed", 1, true),
    "with the reason in its message", msg(werr))
  local s = t:status()
  tap.ok(s == "cancelled" or s == "failed", "status is cancelled (or failed)", s)
end)

scenario.part("task:cancel on a sleeping task, without a reason", function()
  local flag = {}
  local t = stockx.spawn(function()
    local c <close> = closer(flag)
    stockx.sleep(1)
    return "woke"
  end)
  stockx.sleep(0.01)
  local t0 = stockx.now()
  local ok, e = pcall(function() t:cancel() end)
  tap.ok(ok, "task:cancel() does not raise", not ok and msg(e) or nil)
  local wok, werr = pcall(t.wait, t)
  tap.ok(not wok and kind_of(werr) == "cancelled", "wait raises kind cancelled", msg(werr))
  tap.ok(stockx.now() - t0 < 0.5, "without waiting for the sleep to end")
  tap.ok(flag.closed, "its <close> variables ran")
end)

scenario.part("task:cancel on a finished task is a no-op", function()
  local t = stockx.spawn(function() return 1, 2 end)
  local a, b = t:wait()
  local ok, e = pcall(function() t:cancel("too late") end)
  tap.ok(ok, "cancelling a finished task does not raise", not ok and msg(e) or nil)
  tap.eq(t:status(), "done", "it stays done")
  local ok2, x, y = pcall(t.wait, t)
  tap.ok(ok2 and x == a and y == b and x == 1 and y == 2, "and wait still returns its results")
end)

---------------------------------------------------------------------------
-- stockx.timeout
---------------------------------------------------------------------------

scenario.part("stockx.timeout", function()
  tap.eq(type(stockx.timeout), "function", "stockx.timeout exists")
  local ok, a, b = pcall(stockx.timeout, 1, function(x, y)
    stockx.sleep(0.01)
    return x + y, "fast"
  end, 2, 3)
  tap.ok(ok and a == 5 and b == "fast", "returns fn's results when it finishes in time",
    not ok and msg(a) or nil)

  local flag = {}
  local t0 = stockx.now()
  local ok2, e = pcall(stockx.timeout, 0.2, function()
    local c <close> = closer(flag)
    return stockx.get("/_test/delay", { s = 2 })
  end)
  local took = stockx.now() - t0
  tap.ok(not ok2, "raises when fn runs too long")
  tap.ok(stockx.is_error(e), "an error value", msg(e))
  tap.eq(kind_of(e), "timeout", "of kind timeout")
  tap.ok(took >= 0.18 and took < 0.6, "after about the given seconds",
    string.format("took %.3fs", took))
  tap.ok(flag.closed, "fn's <close> variables ran")
  tap.ok(settled(), "fn's request is abandoned (stats().pending back to 0)")

  for _, bad in ipairs { { -1, "-1" }, { "x", "a string" }, { 0 / 0, "nan" } } do
    local okb, eb = pcall(stockx.timeout, bad[1], function() end)
    tap.ok(not okb and msg(eb):find("bad argument", 1, true),
      "timeout(" .. bad[2] .. ", fn) is an argument error", msg(eb))
  end
  local okf, ef = pcall(stockx.timeout, 1, "not a function")
  tap.ok(not okf and msg(ef):find("bad argument", 1, true),
    "timeout(1, not a function) is an argument error", msg(ef))
end)

---------------------------------------------------------------------------
-- stockx.map
---------------------------------------------------------------------------

scenario.part("stockx.map", function()
  tap.eq(type(stockx.map), "function", "stockx.map exists")
  local running, peak = 0, 0
  local items = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j" }
  local ok, out = pcall(stockx.map, items, function(item, i)
    running = running + 1
    peak = math.max(peak, running)
    stockx.sleep(0.02 + (10 - i) * 0.003) -- later items finish first
    running = running - 1
    return item .. i
  end, { concurrency = 3 })
  tap.ok(ok, "map runs", not ok and msg(out) or nil)
  local want = {}
  for i, v in ipairs(items) do want[i] = v .. i end
  tap.eq(ok and type(out) == "table" and table.concat(out, ","), table.concat(want, ","),
    "results are fn(item, index) in list order")
  tap.ok(ok and peak <= 3, "never more than concurrency = 3 at once", "peak " .. peak)
  tap.eq(peak, 3, "and 3 at once when there is work for 3")

  local okr, res = pcall(stockx.map, { 0.02, 0.02 }, function(s)
    return (stockx.get("/_test/delay", { s = s })).ok
  end, { concurrency = 2 })
  tap.ok(okr and res[1] == true and res[2] == true, "fn may make requests",
    not okr and msg(res) or nil)

  local oke, empty = pcall(stockx.map, {}, function() error("never called") end)
  tap.ok(oke and type(empty) == "table" and next(empty) == nil, "an empty list returns {}",
    not oke and msg(empty) or nil)

  -- the first failure is raised after the others finished or were cancelled
  local live = 0
  local okf, ef = pcall(stockx.map, { 1, 2, 3, 4 }, function(n)
    live = live + 1
    local c <close> = setmetatable({}, { __close = function() live = live - 1 end })
    if n == 2 then stockx.sleep(0.01); error("item 2 failed") end
    if n == 3 then stockx.sleep(0.02); error("item 3 failed") end
    stockx.sleep(0.1)
    return n
  end, { concurrency = 4 })
  tap.ok(not okf and msg(ef):find("item 2 failed", 1, true), "the first failure is raised",
    msg(ef))
  local has_map = type(stockx.map) == "function"
  tap.ok(has_map and live == 0, "after every other item finished or was cancelled",
    "live " .. live)
  stockx.sleep(0.15)
  tap.ok(has_map and live == 0, "and nothing runs on afterwards", "live " .. live)

  for _, bad in ipairs {
    { function() return stockx.map("nope", function() end) end, "a string as the list" },
    { function() return stockx.map({ 1 }, "nope") end, "a string as fn" },
    { function() return stockx.map({ 1 }, function() end, { concurrency = 0 }) end,
      "concurrency = 0" },
    { function() return stockx.map({ 1 }, function() end, { concurrency = "x" }) end,
      "concurrency = 'x'" },
  } do
    local okb, eb = pcall(bad[1])
    tap.ok(not okb and msg(eb):find("bad argument", 1, true), bad[2] .. " is an argument error",
      msg(eb))
  end
end)

-- A task that keeps yielding (stockx.sleep(0) in a loop) must not starve
-- timers: the sleeper wakes while the spinner still spins.
do
  local spins, stop, LIMIT = 0, false, 200000
  local spinner = stockx.spawn(function()
    while not stop and spins < LIMIT do
      spins = spins + 1
      stockx.sleep(0)
    end
  end)
  stockx.sleep(0.02)
  local at_wake = spins
  stop = true
  spinner:wait()
  tap.ok(at_wake > 0 and at_wake < LIMIT,
    "a timer fires while another task spins on sleep(0)", "spins at wake: " .. at_wake)
end

tap.ok(settled(), "nothing is left pending at the end")
scenario.finish()
tap.done()
