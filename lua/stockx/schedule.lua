--- stockx.every and stockx.cron: jobs that run a function on a schedule,
-- in the process's own loop, never overlapping.
--
--   local job = stockx.every("15m", reprice_once, { name = "reprice" })
--   stockx.cron("0 6 * * MON-FRI", report, { tz = "UTC" })
--
-- Each job has a driver task that sleeps until the next run is due (in
-- steps of at most M.STEP seconds, rechecking the clock, so a suspend or a
-- clock jump is noticed) and starts the run as a task of its own.  A run
-- still going when the next is due makes that one skipped (logged); runs
-- missed while the machine slept or the clock jumped are coalesced into
-- one.  `every` measures elapsed time (CLOCK_BOOTTIME: counts suspend,
-- ignores clock changes); `cron` follows the wall clock of its zone (the
-- DST rules are the C layer's, src/sx_cron.h).  Errors of a run are logged
-- with their traceback and the job keeps its schedule.

local core = require "stockx.core"
local stockx = require "stockx"
local args = require "stockx.args"
local metrics = require "stockx.metrics"

local M = {}

M.STEP = 10    -- longest single sleep of a driver, seconds
M.JUMP = 5     -- a wall-clock change beyond this (s) is a jump, not drift

-- The clocks and the sleep the drivers use; tests replace them.
M.clock = {
  now = function() return core.clock() end, -- wall (UTC s), boot (s)
  sleep = function(s) return stockx.sleep(s) end,
}

local jobs = {}        -- job -> true, while scheduled
local stopping = false -- the process is shutting down

local Job = {}
Job.__index = Job

local function log(level, event, fields)
  core.log(level, nil, fields, event)
end

local function rfc3339(job, t)
  if not t then return "none" end
  if job.tz then return job.tz:format(math.floor(t)) end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

-- Seconds from a number or a duration string ("90s", "15m", "1h30m").
local function seconds(fname, pos, name, v, min)
  local s = v
  if type(v) == "string" then
    local ok, r = pcall(core.interval, v)
    if not ok then args.error(fname, pos, name, tostring(r)) end
    s = r
  elseif type(v) ~= "number" then
    args.error(fname, pos, name, "seconds or a duration such as \"15m\" expected, got "
      .. args.typename(v))
  end
  if s ~= s or s < min or s > 366 * 86400 then
    args.error(fname, pos, name, string.format("out of range (%g..%d seconds)", min,
      366 * 86400))
  end
  return s
end

-- A stable fraction in [0, 1) from a job's name, so that its jitter is
-- the same on every run and across restarts (systemd's FixedRandomDelay).
local function name_fraction(name)
  local h = 2166136261
  for i = 1, #name do h = ((h ~ name:byte(i)) * 16777619) & 0xffffffff end
  return h / 4294967296.0
end

local function check_opts(fname, opts, kind)
  args.check_type(fname, 3, "opts", opts, "table", true)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "name" and k ~= "jitter" and k ~= "run_now" and k ~= "max_runtime"
      and not (k == "tz" and kind == "cron") then
      args.error(fname, 3, "opts", "unknown option '" .. tostring(k) .. "'")
    end
  end
  args.check_type(fname, 3, "opts.name", opts.name, "string", true)
  args.check_type(fname, 3, "opts.run_now", opts.run_now, "boolean", true)
  args.check_type(fname, 3, "opts.tz", opts.tz, "string", true)
  return opts
end

---------------------------------------------------------------------------
-- A run
---------------------------------------------------------------------------

-- The error and its traceback, down to the job's function (the
-- scheduler's own frames below it are left out).
local function catch(e)
  local msg = type(e) == "string" and e or tostring(e)
  local tb = debug.traceback(msg, 2)
  tb = tb:gsub("\n\t%(%.%.%.tail calls%.%.%.%)\n\t%[C%]: in function 'xpcall'.*$", "")
    :gsub("\n\t%[C%]: in function 'xpcall'.*$", "")
  return { value = e, traceback = tb }
end

-- outcome ("ok", "error", "timeout", "cancelled") of a failed run's error
local function outcome_of(e)
  local kind = type(e) == "table" and rawget(e, "kind")
  if kind == "timeout" or kind == "cancelled" then return kind end
  return "error"
end

local function run_body(job, ctx)
  local wall0, boot0 = M.clock.now()
  local ok, caught = xpcall(function()
    if job.max_runtime then
      return stockx.timeout(job.max_runtime, job.fn, ctx)
    end
    return job.fn(ctx)
  end, catch)
  local _, boot1 = M.clock.now()
  local fields = { name = job.name, run = ctx.run, duration = string.format("%.3f",
    boot1 - boot0), scheduled = rfc3339(job, ctx.scheduled), started = rfc3339(job, wall0) }
  if ok then
    fields.outcome = "ok"
    log("info", "job.run", fields)
    metrics.record_job(job.name, "ok", boot1 - boot0)
    return
  end
  job.failures = job.failures + 1
  fields.outcome = outcome_of(caught.value)
  metrics.record_job(job.name, fields.outcome, boot1 - boot0)
  fields.error = tostring(caught.value)
  if fields.outcome == "timeout" then
    fields.max_runtime = job.max_runtime
    log("warn", "job.run", fields)
  elseif fields.outcome == "cancelled" then
    log("warn", "job.run", fields)
  elseif stockx.settings().log_format == "json" then
    fields.traceback = caught.traceback
    log("error", "job.run", fields)
  else -- the line, then the traceback as lua prints it
    log("error", "job.run", fields)
    io.stderr:write(caught.traceback, "\n")
  end
end

local function busy(job)
  local t = job.current
  if not t then return false end
  local st = t:status()
  return st ~= "done" and st ~= "failed" and st ~= "cancelled"
end

local function start_run(job, scheduled)
  if busy(job) then
    job.skipped = job.skipped + 1
    metrics.record_job(job.name, "skipped")
    log("warn", "job.skipped", { name = job.name, reason = "overlap",
      scheduled = rfc3339(job, scheduled), run = job.nruns })
    return
  end
  job.nruns = job.nruns + 1
  local ctx = { name = job.name, run = job.nruns, scheduled = scheduled, job = job,
    shutting_down = false }
  job.ctx = ctx
  job.current = core.spawn(run_body, job, ctx)
end

---------------------------------------------------------------------------
-- Drivers
---------------------------------------------------------------------------

-- Sleeps until the chosen clock ("wall" or "boot") reaches t, in steps of
-- at most M.STEP.  Returns early with "jump" when the wall clock moved
-- by more than M.JUMP against elapsed time (callers that follow the wall
-- clock recompute); else "due".
local function wait_until(t, which)
  local wall, boot = M.clock.now()
  local offset = wall - boot
  while true do
    local now = which == "wall" and wall or boot
    if now >= t then return "due" end
    M.clock.sleep(math.min(t - now, M.STEP))
    wall, boot = M.clock.now()
    local moved = (wall - boot) - offset
    if which == "wall" and (moved > M.JUMP or moved < -M.JUMP) then
      return "jump", moved
    end
    offset = wall - boot
  end
end

local function every_driver(job)
  local _, boot = M.clock.now()
  local due = boot + job.jitter + (job.run_now and 0 or job.interval)
  if job.run_now then due = boot end
  while not job.cancelled do
    local wall
    wall, boot = M.clock.now()
    job.next = wall + (due - boot)
    wait_until(due, "boot")
    if job.cancelled or stopping then break end
    wall, boot = M.clock.now()
    local missed = math.floor((boot - due) / job.interval)
    if missed >= 1 then
      log("warn", "job.missed", { name = job.name, count = missed,
        reason = "the process was suspended or busy; coalesced into one run" })
    end
    start_run(job, wall - (boot - due))
    due = due + job.interval * (missed + 1)
  end
  job.next = nil
end

-- The next wall-clock run strictly after wall time t, jitter added.
local function cron_next(job, t)
  local n = job.cron:next(math.floor(t), job.tz)
  if not n then return nil end
  return n + job.jitter
end

-- How many runs the cron schedule had in (from, to), at most 1000.
local function count_missed(job, from, to)
  local n, t = 0, from
  while n < 1000 do
    t = job.cron:next(math.floor(t), job.tz)
    if not t or t + job.jitter >= to then break end
    n = n + 1
  end
  return n
end

local function cron_driver(job)
  local wall = M.clock.now()
  local due = job.run_now and wall or cron_next(job, wall - job.jitter)
  while due and not job.cancelled do
    job.next = due
    local why, moved = wait_until(due, "wall")
    if job.cancelled or stopping then break end
    wall = M.clock.now()
    if why == "jump" then
      log("warn", "job.clock_jump", { name = job.name, seconds = string.format("%.0f",
        moved), next = rfc3339(job, due) })
      if moved < 0 and job.cron:wildcard() then
        -- the wall clock went back: a wildcard job follows the new time
        due = cron_next(job, wall - job.jitter)
      end
    else
      local missed = count_missed(job, due - job.jitter, wall)
      if missed >= 1 then
        log("warn", "job.missed", { name = job.name, count = missed,
          reason = "the clock jumped or the machine slept; coalesced into one run" })
      end
      start_run(job, due)
      due = cron_next(job, math.max(due, wall) - job.jitter)
    end
  end
  job.next = nil
end

---------------------------------------------------------------------------
-- The handle
---------------------------------------------------------------------------

--- Stops the job: no further runs (a run in progress finishes).
function Job:cancel()
  if self.cancelled then return end
  self.cancelled = true
  self.next = nil
  jobs[self] = nil
  self.driver:cancel("job cancelled")
  log("info", "job.cancelled", { name = self.name, runs = self.nruns })
end

--- The next run's time (UTC seconds), or nil when there is none.
function Job:next_run() return self.next end

--- Runs started so far.
function Job:runs() return self.nruns end

--- A run in progress, or nil.
function Job:running() return busy(self) and self.current or nil end

function Job:__tostring()
  return string.format("job %s (%s, next %s, %d runs)", self.name, self.spec,
    rfc3339(self, self.next), self.nruns)
end

local function driver_main(job, driver)
  local ok, e = pcall(driver, job)
  if not ok and not (type(e) == "table" and rawget(e, "kind") == "cancelled") then
    error(e, 0)
  end
end

local function start(job, driver)
  jobs[job] = true
  core.graceful(M.shutdown)
  job.driver = core.spawn(driver_main, job, driver)
  return job
end

local function new_job(kind, spec, fn, opts, fname)
  local name = opts.name or (kind .. " " .. spec)
  local jitter = opts.jitter and seconds(fname, 3, "opts.jitter", opts.jitter, 0) or 0
  local job = setmetatable({ name = name, spec = spec, fn = fn, nruns = 0,
    skipped = 0, failures = 0, run_now = opts.run_now,
    jitter = jitter * name_fraction(name),
    max_runtime = opts.max_runtime
      and seconds(fname, 3, "opts.max_runtime", opts.max_runtime, 0.001) }, Job)
  return job
end

--- stockx.every(interval, fn [, opts]): fn(ctx) every interval (seconds
-- or "30s", "5m", "1h30m"), measured from the job's start.
function M.every(interval, fn, opts)
  local fname = "stockx.every"
  local s = seconds(fname, 1, "interval", interval, 0.001)
  args.check_type(fname, 2, "fn", fn, "function")
  opts = check_opts(fname, opts, "every")
  local job = new_job("every", type(interval) == "string" and interval or
    string.format("%gs", s), fn, opts, fname)
  job.interval = s
  job.next = M.clock.now() + (job.run_now and 0 or s + job.jitter)
  start(job, every_driver)
  log("info", "job.scheduled", { name = job.name, every = job.spec,
    jitter = string.format("%.1f", job.jitter), run_now = job.run_now or false })
  return job
end

--- stockx.cron(expr, fn [, opts]): fn(ctx) at the times of a 5-field cron
-- expression, in local time or opts.tz.
function M.cron(expr, fn, opts)
  local fname = "stockx.cron"
  args.check_type(fname, 1, "expr", expr, "string")
  args.check_type(fname, 2, "fn", fn, "function")
  opts = check_opts(fname, opts, "cron")
  local ok, c = pcall(core.cron, expr)
  if not ok then args.error(fname, 1, "expr", tostring(c)) end
  local tz
  ok, tz = pcall(core.tz, opts.tz or "local")
  if not ok then args.error(fname, 3, "opts.tz", tostring(tz)) end
  local job = new_job("cron", expr, fn, opts, fname)
  job.cron, job.tz = c, tz
  local first = job.run_now and M.clock.now() or cron_next(job, M.clock.now() - job.jitter)
  job.next = first
  start(job, cron_driver)
  log("info", "job.scheduled", { name = job.name, cron = expr, tz = tz:name(),
    next = rfc3339(job, first), jitter = string.format("%.1f", job.jitter) })
  return job
end

--- The scheduled jobs, in no particular order.
function M.jobs()
  local out = {}
  for j in pairs(jobs) do out[#out + 1] = j end
  return out
end

--- Called by the runtime on the first SIGINT/SIGTERM: no more runs start;
-- the drivers end, runs in progress see ctx.shutting_down and have the
-- grace period to finish.
function M.shutdown()
  stopping = true
  local running = 0
  for j in pairs(jobs) do
    j.cancelled = true
    if j.ctx then j.ctx.shutting_down = true end
    if busy(j) then running = running + 1 end
    j.driver:cancel("shutting down")
  end
  jobs = {}
  log("info", "shutdown", { runs_in_progress = running })
end

return M
