-- stockx.progress: the line's rendering (width fit, percent, rate, ETA,
-- the waiting notes) as pure functions; bars on an injected clock, width
-- and writer (shown only after a second, throttled, final line, <close>,
-- one line for nested bars); the refresher task's lifetime; and the
-- client's limiter_wait / pause_left, measured against the sandbox.
-- What a real terminal shows is checked through a pty by tests/progress.sh.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local progress = stockx.progress
local P = progress._internal
local render, wait_note, fmt = P.render, P.wait_note, P.fmt_duration
local ERASE = "\r\27[K"

local function cols(s) return utf8.len(s) or #s end

---------------------------------------------------------------------------
-- rendering
---------------------------------------------------------------------------

local v = { label = "market data", current = 12, total = 24, rate = 2, eta = 6,
  elapsed = 6 }
tap.eq(render(v, 120), "market data: 12/24 50% [" .. ("#"):rep(15) .. ("-"):rep(15)
  .. "] 2.0/s 6s left", "a wide terminal: label, count, percent, a 30-column bar, rate, ETA")
tap.eq(render(v, 60), "market data: 12/24 50% [" .. ("#"):rep(10) .. ("-"):rep(10)
  .. "] 2.0/s 6s left", "the bar takes the room left (59 columns in all)")
tap.eq(cols(render(v, 60)), 59, "the last column is left free")
tap.eq(render(v, 40), "market data: 12/24 50% 2.0/s 6s left",
  "too narrow for a 10-column bar: the bar goes first")
tap.eq(render(v, 30), "market data: 12/24 6s left", "then the rate and the percentage")
tap.eq(render(v, 15), "mark...: 12/24", "then the label is shortened")
tap.eq(render(v, 4), "mar", "a tiny width still fits")

local worst = { label = "/selling/orders/history", detail = "page 12/40",
  current = 1234, total = 4000, unit = "items", rate = 33.3, eta = 83,
  elapsed = 37, wait = "waiting: rate limited by the server, retry in 12 s" }
local fits = true
for w = 1, 200 do
  if cols(render(worst, w)) > math.max(w - 1, 1) then fits = false end
end
tap.ok(fits, "every width from 1 to 200 columns: the line never passes width - 1")
tap.ok(render(worst, 200):find("retry in 12 s$") ~= nil, "the waiting note ends the line")
worst.wait_short = "429: retry in 12 s"
tap.eq(render(worst, 60), "/selling/orders/history: 1234/4000 items 429: retry in 12 s",
  "at 60 columns the rest makes room for the waiting note, in its short form")
tap.eq(render(worst, 50), "/selling/o...: 1234/4000 items 429: retry in 12 s",
  "narrower: the label is shortened")

local function line(t) return render(t, 200) end
tap.eq(line { label = "x", current = 0, total = 10, elapsed = 0.4 },
  "x: 0/10 0% [" .. ("-"):rep(30) .. "] 0s elapsed", "0%, no rate yet: time elapsed")
tap.eq(line { label = "x", current = 12, total = 10 }:match("%d+%%"), "100%",
  "past the total: 100%")
tap.eq(line { label = "x", current = 0, total = 0 }:match("%d+%%"), "100%",
  "a total of 0 is complete")
tap.eq(line { label = "x", current = 199, total = 200 }:match("%d+%%"), "99%",
  "percent rounds down (100% only when done)")
tap.eq(line { label = "/selling/orders/active", detail = "page 3", current = 250,
  unit = "items", rate = 40, elapsed = 6 },
  "/selling/orders/active: page 3 250 items 40 items/s 6s elapsed",
  "no total (cursor envelope): no percent, bar or ETA")
tap.eq(line { label = "", current = 3, total = 4, rate = 0.5, eta = 2, elapsed = 6 },
  "3/4 75% [" .. ("#"):rep(22) .. ("-"):rep(8) .. "] 0.50/s 2s left", "no label")
tap.eq(line { label = "x", current = 10, total = 10, rate = 2.5, elapsed = 4,
  final = true, unit = "items" },
  "x: 10/10 items 100% [" .. ("#"):rep(30) .. "] 2.5 items/s done in 4s",
  "the final line says how long it took")
tap.eq(line { label = "x", current = 2.5, elapsed = 1 }, "x: 2.5 1s elapsed",
  "a fractional count")

tap.eq(fmt(42), "42s", "42 s")
tap.eq(fmt(125), "2m05s", "125 s")
tap.eq(fmt(7300), "2h01m", "7300 s")
tap.eq(fmt(0.2, true), "1s", "a time left is rounded up")
tap.eq(fmt(0.2), "0s", "an elapsed time to the nearest second")

tap.eq(wait_note { limiter_wait = 0, pause_left = 0 }, nil, "nothing waits: no note")
tap.eq(wait_note { limiter_wait = 0.8, pause_left = 0 }, nil,
  "a wait under a second: no note (the limiter's normal pace)")
tap.eq(wait_note { limiter_wait = 1.5, pause_left = 0 }, "waiting for the rate limit",
  "a wait over a second is named")
tap.eq(select(2, wait_note { limiter_wait = 1.5, pause_left = 0 }), "rate limit wait",
  "and has a short form")
tap.eq(wait_note { limiter_wait = 0.1, pause_left = 11.2 },
  "waiting: rate limited by the server, retry in 12 s", "a 429 pause, with its time left")
tap.eq(wait_note { limiter_wait = 0, pause_left = 5 }, nil,
  "a pause that holds nobody back: no note")

---------------------------------------------------------------------------
-- bars on an injected clock
---------------------------------------------------------------------------

-- An environment: the clock is `t`, writes go to `out`, no refresher.
local function env(over)
  local e = { enabled = true, t = 0, out = {}, erased = {},
    screen = { active = setmetatable({}, { __mode = "k" }) } }
  e.now = function() return e.t end
  e.width = function() return e.columns or 120 end
  e.write = function(s) e.out[#e.out + 1] = s end
  e.stats = function() return e.st or { limiter_wait = 0, pause_left = 0 } end
  e.erase_logs = function(on) e.erased[#e.erased + 1] = on end
  e.cancel = function() end
  for k, x in pairs(over or {}) do e[k] = x end
  return e
end

local e = env()
local b = P.new({ total = 100, label = "test" }, e)
e.t = 0.5; b:advance(10)
e.t = 0.9; b:advance(10)
tap.eq(#e.out, 0, "under a second: nothing drawn")
e.t = 1; b:advance(0)
tap.eq(#e.out, 1, "after a second the line shows")
tap.eq(e.out[1]:sub(1, 4), ERASE, "redrawn in place: \\r and erase-line")
tap.ok(not e.out[1]:find("\n"), "no newline while it runs")
tap.eq(e.erased[1], true, "log lines erase it meanwhile")
e.t = 1.0625; b:advance()
tap.eq(#e.out, 1, "a redraw 62 ms later is skipped (at most 10 a second)")
e.t = 1.125; b:advance()
tap.eq(#e.out, 2, "and made after 100 ms")
e.t = 2; b:set(10)
tap.eq(e.out[#e.out], ERASE .. "test: 10/100 10% [###" .. ("-"):rep(27) .. "] 5.0/s 18s left",
  "rate over the window and the time left at that rate")
e.st = { limiter_wait = 2.5, pause_left = 0 }
e.t = 2.5; b:advance(0)
tap.ok(e.out[#e.out]:find("waiting for the rate limit$") ~= nil,
  "a limiter wait over a second is on the line")
e.st = nil
e.t = 4; b:set(100)
b:done()
tap.eq(e.out[#e.out], ERASE .. "test: 100/100 100% [" .. ("#"):rep(30)
  .. "] 25/s done in 4s\n", "done: the final line and a newline")
tap.eq(e.erased[#e.erased], false, "and logs no longer erase")
local n = #e.out
b:done()
tap.eq(#e.out, n, "done is idempotent")
b:advance()
tap.eq(#e.out, n, "a finished bar draws no more")

e = env()
b = P.new({ label = "quick" }, e)
e.t = 0.6; b:advance(); b:done()
tap.eq(#e.out, 0, "a bar done within a second prints nothing at all")

e = env { enabled = false }
b = P.new({ label = "pipe", total = 3 }, e)
e.t = 5; b:advance(); b:done()
tap.eq(#e.out, 0, "not a terminal: nothing, not even at done")
tap.eq(b.current, 1, "but it still counts")

e = env()
b = P.new({ label = "slow" }, e)
e.t = 3; b:done()
tap.eq(#e.out, 1, "work over a second that never redrew: the final line at done")

e = env { columns = 40 }
b = P.new({ label = "a rather long label for forty columns", total = 7, unit = "items" }, e)
for i = 1, 7 do e.t = i; b:advance() end
b:done()
local narrow = true
for _, s in ipairs(e.out) do
  if cols((s:gsub("^\r\27%[K", ""):gsub("\n$", ""))) > 39 then narrow = false end
end
tap.ok(narrow, "every line fits 40 columns: " .. e.out[#e.out]:gsub("[\r\n]", ""))

-- <close>
e = env()
do
  local c <close> = P.new({ label = "closing", total = 2 }, e)
  e.t = 2; c:advance()
end
tap.ok(e.out[#e.out]:find("closing: 1/2.*\n$") ~= nil, "<close> finishes the bar")
e = env()
local ok = pcall(function()
  local c <close> = P.new({ label = "failing", total = 2 }, e)
  e.t = 2; c:advance()
  error("boom")
end)
tap.ok(not ok and e.out[#e.out] == ERASE, "closed by an error: the line is erased")
tap.eq(e.erased[#e.erased], false, "and logs no longer erase")

-- nested bars share the line: the newest draws, the outer waits its turn
e = env()
local outer = P.new({ label = "outer", total = 10 }, e)
e.t = 1; outer:advance()
local inner = P.new({ label = "inner", total = 2 }, e)
e.t = 2.5; outer:advance(); inner:advance()
tap.ok(e.out[#e.out]:find("^\r\27%[Kinner") ~= nil, "an inner bar takes the line")
local before = #e.out
e.t = 3; outer:advance()
tap.eq(#e.out, before, "the outer one does not draw meanwhile")
inner:done()
tap.ok(e.out[#e.out]:find("inner: 1/2.*\n$") ~= nil, "the inner one leaves its final line")
e.t = 3.5; outer:advance()
tap.ok(e.out[#e.out]:find("^\r\27%[Kouter: 4/10") ~= nil, "then the outer one draws again")
outer:done()

-- label and detail
e = env()
b = P.new({ total = 4 }, e)
e.t = 1; b:label("renamed"):detail("page 1/2"):advance()
tap.ok(e.out[#e.out]:find("renamed: page 1/2 1/4") ~= nil, "label and detail")
b:done()

-- argument errors
tap.raises(function() progress { total = -1 } end, "a negative total",
  "bad argument #1 'opts.total' to 'stockx.progress' %(a number >= 0 expected")
tap.raises(function() progress "x" end, "opts must be a table",
  "test_progress.lua:%d+: bad argument #1 'opts' to 'stockx.progress'")
tap.raises(function() progress { label = 3 } end, "a label must be a string",
  "'opts.label'")
tap.raises(function() progress {}:advance("2") end, "advance takes a number",
  "bad argument #1 'n' to 'bar:advance'")
tap.raises(function() progress {}:set(0 / 0) end, "set refuses NaN", "'done'")

-- the public constructor: stderr is a file here, so the bar is inert
b = progress { total = 3, label = "x" }
tap.eq(progress.enabled(), false, "stderr is not a terminal under the test runner")
b:advance(2)
tap.eq(b.current, 2, "stockx.progress{} counts")
tap.eq(b.refresher, nil, "and starts no task when it draws nothing")
b:done()
tap.eq(require("stockx.progress"), progress, "require 'stockx.progress' is stockx.progress")

---------------------------------------------------------------------------
-- the refresher: a real task, fake stats
---------------------------------------------------------------------------

local function live(st)
  local x = env { now = stockx.now, spawn = stockx.spawn, sleep = stockx.sleep,
    cancel = function(t) t:cancel() end }
  x.stats = function() return st end
  return x
end

local st = { pending = 1, tasks = 2, limiter_wait = 3, pause_left = 0 }
e = live(st)
b = P.new({ label = "refreshed", total = 5 }, e)
b.started = stockx.now() - 5
local r = b.refresher
tap.ok(r ~= nil, "a drawing bar keeps a refresher task")
stockx.sleep(1.2)
tap.ok(#e.out >= 1, "it redraws while the bar's task is parked (" .. #e.out .. " draws)")
tap.ok(e.out[#e.out]:find("waiting for the rate limit") ~= nil,
  "and says what the requests wait for")
b:done()
stockx.sleep(0)
tap.eq(r:status(), "cancelled", "done cancels it at once")
tap.eq(b.refresher, nil, "and forgets it")

st = { pending = 0, tasks = 2, limiter_wait = 0, pause_left = 0 }
e = live(st)
b = P.new({ label = "idle" }, e)
r = b.refresher
stockx.sleep(1)
tap.eq(r:status(), "done", "with no request pending the refresher ends (no deadlock hidden)")
tap.eq(b.refresher, nil, "so the bar has none")
st.pending = 1
b:advance()
tap.ok(b.refresher ~= nil and b.refresher ~= r, "the next update starts another")
b:done()

st = { pending = 1, tasks = 1, limiter_wait = 0, pause_left = 0 }
e = live(st)
b = P.new({ label = "forgotten", total = 9 }, e)
b.started = stockx.now() - 5
r = b.refresher
stockx.sleep(1)
tap.ok(b.finished, "left as the last task, the refresher finishes the bar itself")
tap.ok(e.out[#e.out]:find("forgotten: 0/9.*\n$") ~= nil, "ending its line")
tap.eq(r:status(), "done", "and ends")

---------------------------------------------------------------------------
-- the client's side: stockx.stats().limiter_wait and pause_left
---------------------------------------------------------------------------

scenario.part("limiter_wait: how long the head of the queue has been held", function()
  local s0 = stockx.stats()
  tap.eq(s0.limiter_wait, 0, "nothing queued: 0")
  tap.eq(s0.pause_left, 0, "no 429 pause: 0")
  stockx.configure { rate = { rate = 1, period = 2, burst = 1 } }
  stockx.sleep(2) -- an idle limiter
  local held
  stockx.all {
    function() stockx.get("/_test/echo") end,
    function() stockx.get("/_test/echo") end,
    function()
      stockx.sleep(1.3)
      held = stockx.stats()
    end,
  }
  tap.ok(held.limiter_wait > 0.8 and held.limiter_wait < 1.5,
    "the second request has waited ~1.3 s for the limiter", tostring(held.limiter_wait))
  tap.eq(held.queued, 1, "it is the one queued")
  tap.eq(wait_note(held), "waiting for the rate limit", "which the line names")
  tap.eq(stockx.stats().limiter_wait, 0, "0 again once it went")
  stockx.configure { rate = false }
end)

scenario.part("pause_left: a 429 pause of the base URL", function()
  local held
  stockx.all {
    function()
      stockx.get("/_test/flaky", { id = "progress", fail = 1, code = 429, retry_after = 2 })
    end,
    function()
      stockx.sleep(0.6)
      held = stockx.stats()
    end,
  }
  tap.ok(held.pause_left > 0.9 and held.pause_left <= 2,
    "about 1.4 s of the 2 s pause are left", tostring(held.pause_left))
  tap.ok(held.limiter_wait > 0, "and the retried request is held by it")
  tap.eq(wait_note(held), "waiting: rate limited by the server, retry in 2 s",
    "which the line names, with the time left")
  tap.eq(stockx.stats().pause_left, 0, "0 once the pause is over")
end)

scenario.finish()
tap.done()
