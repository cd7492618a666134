-- The scheduler (stockx.every, stockx.cron) on a simulated clock: the
-- drivers' clock and sleep are replaced, so hours pass in milliseconds and
-- suspends and clock jumps happen on cue.  Checks runs, overlap skips,
-- coalesced missed runs, jitter, errors and max_runtime, cancel, handles
-- and argument errors.  The real-clock and signal behaviour is in
-- tests/cli_schedule.sh; the cron arithmetic in tests/unit/test_cron.c.

local tap = require "tap"
local sched = require "stockx.schedule"
local core = require "stockx.core"

-- The simulation: wall and boot time; sleepers wait for boot deadlines.
local sim = { wall = 1798761600, boot = 5000 } -- 2027-01-01T00:00:00Z
local sleepers = {}
sched.clock.now = function() return sim.wall, sim.boot end
sched.clock.sleep = function(s)
  local me = { t = sim.boot + s }
  sleepers[me] = true
  while sim.boot < me.t do stockx.sleep(0) end
  sleepers[me] = nil
end

local function settle() for _ = 1, 6 do stockx.sleep(0) end end

-- Lets simulated time pass: seconds of boot (and wall) time, waking the
-- sleepers in deadline order.
local function pass(seconds)
  local target = sim.boot + seconds
  while true do
    settle()
    local nxt = target
    for w in pairs(sleepers) do
      if w.t > sim.boot and w.t < nxt then nxt = w.t end
    end
    sim.wall = sim.wall + (nxt - sim.boot)
    sim.boot = nxt
    if sim.boot >= target then break end
  end
  settle()
end

-- The scheduler's log events, captured.
local events = {}
local real_log = core.log
core.log = function(level, msg, fields, event)
  if event and event:match("^job%.") then
    events[#events + 1] = { level = level, event = event, fields = fields or {} }
    return
  end
  return real_log(level, msg, fields, event)
end
local function count(event, pred)
  local n = 0
  for _, e in ipairs(events) do
    if e.event == event and (not pred or pred(e.fields)) then n = n + 1 end
  end
  return n
end
local function reset() events = {} end

-- every: runs on a fixed grid --------------------------------------------
reset()
local runs = {}
local job = stockx.every(60, function(ctx) runs[#runs + 1] = { ctx.run, sim.boot } end,
  { name = "grid" })
tap.eq(job:runs(), 0, "no run before the first interval")
tap.near(job:next_run(), sim.wall + 60, 1e-6, "next_run is one interval away")
pass(60 * 5 + 1)
tap.eq(#runs, 5, "every 60 s: five runs in five minutes")
tap.eq(job:runs(), 5, "job:runs() counts them")
tap.eq(runs[5][2] - runs[1][2], 240, "on a fixed grid, 60 s apart")
tap.eq(count("job.run", function(f) return f.outcome == "ok" end), 5,
  "each run is logged with its outcome")
tap.ok(tostring(job):find("^job grid %(60s, next ") ~= nil, "tostring names the job",
  tostring(job))

-- a suspend (wall and boot jump together): one run, the rest coalesced
reset()
local before = #runs
sim.wall, sim.boot = sim.wall + 3600, sim.boot + 3600
pass(1)
tap.eq(#runs - before, 1, "after a one-hour suspend the job runs once, not 60 times")
tap.eq(count("job.missed", function(f) return f.count >= 59 end), 1,
  "and logs the runs it coalesced")
pass(60)
tap.eq(#runs - before, 2, "then keeps its interval")

-- a wall-clock jump does not move an interval job (it measures elapsed time)
before = #runs
sim.wall = sim.wall - 7200
pass(120)
tap.eq(#runs - before, 2, "a clock set back two hours changes nothing for every()")
job:cancel()
pass(600)
tap.eq(#runs - before, 2, "cancel stops further runs")
tap.eq(job:next_run(), nil, "a cancelled job has no next run")
tap.eq(count("job.cancelled"), 1, "cancelling is logged")

-- overlap: a run still going when the next is due is skipped, not stacked
reset()
local active, most, started = 0, 0, 0
job = stockx.every(10, function()
  started = started + 1
  active = active + 1
  most = math.max(most, active)
  sched.clock.sleep(25)
  active = active - 1
end, { name = "slow", run_now = true })
pass(100)
job:cancel()
pass(60)
tap.eq(most, 1, "runs never overlap")
tap.ok(started >= 3 and started <= 4, "a 25 s run every 10 s runs every 30 s",
  "started " .. started)
tap.ok(count("job.skipped", function(f) return f.reason == "overlap" end) >= 5,
  "the skipped runs are logged with reason overlap")
tap.eq(count("job.run") , started, "every started run logs its end")

-- errors: logged with a traceback, the job keeps its schedule
reset()
local n = 0
stockx.configure { log_format = "json" }
job = stockx.every(5, function()
  n = n + 1
  if n % 2 == 1 then error("bad run " .. n) end
end, { name = "flaky" })
pass(30)
job:cancel()
stockx.configure { log_format = "text" }
tap.eq(n, 6, "a failing job keeps running on schedule")
local errs = {}
for _, e in ipairs(events) do
  if e.event == "job.run" and e.fields.outcome == "error" then errs[#errs + 1] = e end
end
tap.eq(#errs, 3, "each failure is logged")
tap.ok(errs[1] and errs[1].level == "error" and errs[1].fields.error:find("bad run 1")
  and errs[1].fields.traceback:find("test_schedule.lua:%d+: in function"),
  "at level error, with the message and a traceback to the job's line",
  errs[1] and errs[1].fields.traceback)
tap.ok(errs[1] and not errs[1].fields.traceback:find("stockx/schedule.lua", 1, true),
  "the traceback leaves the scheduler's own frames out",
  errs[1] and errs[1].fields.traceback)

-- max_runtime: a run that takes longer is cancelled and logged
reset()
local closed = 0
job = stockx.every(30, function()
  local _ <close> = setmetatable({}, { __close = function() closed = closed + 1 end })
  stockx.sleep(5) -- real time: longer than max_runtime
end, { name = "stuck", run_now = true, max_runtime = 0.05 })
settle()
stockx.sleep(0.3)
job:cancel()
tap.eq(count("job.run", function(f) return f.outcome == "timeout" end), 1,
  "a run over max_runtime is cancelled with outcome timeout")
tap.eq(closed, 1, "its <close> variables ran")

-- jitter: a fixed offset per job name, the same every run
local function jitter_of(name)
  local j = stockx.every(60, function() end, { name = name, jitter = 30 })
  local off = j:next_run() - sim.wall - 60
  j:cancel()
  return off
end
local a1, a2, b = jitter_of("alpha"), jitter_of("alpha"), jitter_of("beta")
tap.ok(a1 >= 0 and a1 < 30, "jitter is within [0, jitter)", tostring(a1))
tap.eq(a1, a2, "the same name gets the same offset (stable across restarts)")
tap.ok(a1 ~= b, "another name another offset")
reset()
local times = {}
job = stockx.every(60, function() times[#times + 1] = sim.boot end,
  { name = "spread", jitter = 30 })
pass(60 * 4 + 31)
job:cancel()
tap.eq(#times, 4, "a jittered job runs once per interval")
tap.eq(times[2] - times[1], 60, "evenly spaced: the offset is fixed, not re-rolled")

-- argument errors point at the caller's line
for _, case in ipairs {
  { function() stockx.every(0, function() end) end,
    "bad argument #1 'interval' to 'stockx.every'" },
  { function() stockx.every("5x", function() end) end, "'interval' to 'stockx.every'" },
  { function() stockx.every(60) end, "bad argument #2 'fn' to 'stockx.every'" },
  { function() stockx.every(60, print, { nmae = "x" }) end, "unknown option 'nmae'" },
  { function() stockx.every(60, print, { jitter = -1 }) end, "opts.jitter" },
  { function() stockx.every(60, print, { max_runtime = "soon" }) end, "opts.max_runtime" },
  { function() stockx.every(60, print, { tz = "UTC" }) end, "unknown option 'tz'" },
} do
  tap.raises(case[1], "refused: " .. case[2], case[2]:gsub("[%(%)%.%-%#]", "%%%0"))
end
tap.raises(function() stockx.every(0, print) end, "the error names the caller's line",
  "test_schedule%.lua:%d+:")

-- cron on the simulated wall clock ---------------------------------------
sched.STEP = 60
local function fmt(tz, t) return require("stockx.core").tz(tz):format(t) end

reset()
sim.wall = 1798761600 -- 2027-01-01T00:00:00Z
local at = {}
job = stockx.cron("*/15 * * * *", function(ctx) at[#at + 1] = ctx.scheduled end,
  { tz = "UTC", name = "quarter" })
tap.eq(fmt("UTC", job:next_run()), "2027-01-01T00:15:00+00:00", "next_run of */15")
pass(3600 + 1)
tap.eq(#at, 4, "*/15 runs four times an hour")
tap.eq(fmt("UTC", at[4]), "2027-01-01T01:00:00+00:00", "on the quarter hours")
-- the wall clock jumps forward 3 hours (not a suspend: boot time does not)
before = #at
sim.wall = sim.wall + 3 * 3600
pass(61)
tap.eq(#at - before, 1, "a 3-hour jump forward runs the job once, not 12 times")
tap.eq(count("job.clock_jump"), 1, "the jump is logged")
tap.eq(count("job.missed", function(f) return f.count >= 10 end), 1,
  "with the runs it coalesced")
-- the wall clock goes back 2 hours: a wildcard job follows the new time
before = #at
sim.wall = sim.wall - 2 * 3600
pass(3600)
tap.eq(#at - before, 4, "after the clock went back, */15 keeps running every 15 min")
job:cancel()

-- a fixed-time job is not repeated when the clock goes back
reset()
sim.wall = 1798761600 + 3 * 3600 - 30 -- 02:59:30Z
local fixed = 0
job = stockx.cron("0 3 * * *", function() fixed = fixed + 1 end, { tz = "UTC" })
pass(60)
tap.eq(fixed, 1, "0 3 * * * ran at 03:00")
sim.wall = sim.wall - 3600
pass(2 * 3600)
tap.eq(fixed, 1, "and not again when the clock went back an hour")
job:cancel()

-- through a DST change: 02:30 does not exist in Berlin on 2026-03-29
reset()
sim.wall = 1774569600 -- 2026-03-27T00:00:00Z
local dst = {}
job = stockx.cron("30 2 * * *", function(ctx) dst[#dst + 1] = ctx.scheduled end,
  { tz = "Europe/Berlin", name = "nightly" })
pass(3 * 86400)
job:cancel()
tap.eq(#dst, 3, "a nightly job runs once a night across the spring change")
tap.eq(fmt("Europe/Berlin", dst[2] or 0), "2026-03-28T02:30:00+01:00", "02:30 before it")
tap.eq(fmt("Europe/Berlin", dst[3] or 0), "2026-03-29T03:00:00+02:00",
  "and at the jump (03:00 CEST) on the night 02:30 is skipped")
tap.eq(count("job.missed"), 0, "nothing is reported missed on a DST night")

-- run_now, and cron's argument errors
reset()
local now_runs = 0
job = stockx.cron("0 0 1 1 *", function() now_runs = now_runs + 1 end,
  { run_now = true, tz = "UTC" })
settle()
tap.eq(now_runs, 1, "run_now runs at once")
job:cancel()
tap.raises(function() stockx.cron("x * * * *", print) end, "a bad expression names the field",
  "bad argument #1 'expr' to 'stockx.cron' %(cron 'x %* %* %* %*': minute: bad value 'x'")
tap.raises(function() stockx.cron("0 0 30 2 *", print) end, "an impossible date is refused",
  "never occurs")
tap.raises(function() stockx.cron("@daily", print, { tz = "Mars/Base" }) end,
  "an unknown zone is refused", "unknown time zone 'Mars/Base'")
tap.raises(function() stockx.cron(5, print) end, "expr must be a string",
  "'expr' to 'stockx.cron' %(string expected")
local s = stockx.every("1h30m", function() end)
tap.near(s:next_run() - sim.wall, 5400, 1e-6, "every takes a duration string")
s:cancel()

tap.done()
