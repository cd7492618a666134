--- Progress lines: `stockx.progress{total=, label=}` and the line
-- `stockx.paginate` draws.  One line on stderr, redrawn in place ("\r"
-- and erase-line), fitted to the terminal's width, at most ten times a
-- second, and only once the work has taken over a second, so quick runs
-- print nothing.  When stderr is not a terminal (a file, a pipe, cron),
-- or STOCKX_PROGRESS=0, or TERM=dumb, nothing at all is written: no
-- summary either (a script that wants one logs it).  stdout is never
-- written, except by M.print, which is print that keeps clear of the
-- line.
--
-- While requests wait (the limiter, a 429 pause) the task that advances
-- a bar is parked, so a bar keeps a small refresher task that redraws it
-- every half second and says "waiting for the rate limit" when the
-- oldest queued request has waited over a second (stockx.stats():
-- limiter_wait, pause_left).  The refresher never keeps the process
-- alive or hides a deadlock for more than one period: it exits when the
-- bar is done, when no request is pending (the next update starts
-- another), and when it is the last task alive (it then finishes the
-- bar, which its owner forgot to do).

local core = require "stockx.core"
local args = require "stockx.args"
local argerror = args.error

local M = {}

local DELAY = 1.0        -- seconds of work before a line first shows
local INTERVAL = 0.1     -- at most ten redraws a second
local REFRESH = 0.5      -- the refresher's period
local WINDOW = 10        -- seconds of history behind the rate
local WAIT_NOTE = 1.0    -- a limiter wait longer than this is shown
local BAR_MIN, BAR_MAX = 10, 30 -- the bar's width inside its brackets
local ERASE = "\r\27[K"  -- to column 0, erase to the end of the line

--- Every byte of progress output goes through here (stderr), so that a
-- REPL can route it around its prompt by replacing this function.
function M.write(s)
  io.stderr:write(s)
end

---------------------------------------------------------------------------
-- The terminal
---------------------------------------------------------------------------

--- True if progress lines are drawn: stderr is a terminal, TERM is not
-- "dumb" and STOCKX_PROGRESS is not 0 (or off, false, no).
function M.enabled()
  local v = os.getenv("STOCKX_PROGRESS")
  if v == "0" or v == "off" or v == "false" or v == "no" then return false end
  if os.getenv("TERM") == "dumb" then return false end
  return (core.term(2))
end

-- Columns: $COLUMNS when it is a sensible integer, else the terminal's
-- own width (TIOCGWINSZ), else 80.
local function term_width()
  local c = math.tointeger(tonumber(os.getenv("COLUMNS") or ""))
  if c and c >= 1 and c <= 10000 then return c end
  local _, cols = core.term(2)
  return cols or 80
end

---------------------------------------------------------------------------
-- Rendering: pure functions of a view, tested in tests/lua/test_progress.lua
---------------------------------------------------------------------------

local function cols(s)
  return utf8.len(s) or #s
end

-- The first n columns of s (characters when s is UTF-8, else bytes).
local function head(s, n)
  if n <= 0 then return "" end
  if not utf8.len(s) then return s:sub(1, n) end
  local stop = utf8.offset(s, n + 1)
  return stop and s:sub(1, stop - 1) or s
end

local function fmt_number(x)
  if math.type(x) == "integer" or x == math.floor(x) and math.abs(x) < 2^53 then
    return string.format("%d", math.floor(x))
  end
  return string.format("%.1f", x)
end

--- 42 -> "42s", 125 -> "2m05s", 7300 -> "2h01m"; rounded to the
-- nearest second, or up with `up` (a time left never says 0s too early).
local function fmt_duration(s, up)
  s = math.max(0, up and math.ceil(s) or math.floor(s + 0.5))
  if s < 60 then return string.format("%ds", s) end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  return string.format("%dh%02dm", s // 3600, s % 3600 // 60)
end

local function fmt_rate(r, unit)
  local n
  if r >= 10 then
    n = string.format("%d", math.floor(r + 0.5))
  elseif r >= 1 then
    n = string.format("%.1f", r)
  else
    n = string.format("%.2f", r)
  end
  return n .. (unit and (" " .. unit .. "/s") or "/s")
end

local function percent(v)
  if v.total <= 0 then return 100 end
  return math.max(0, math.min(100, math.floor(v.current * 100 / v.total)))
end

-- The parts of a line, in order; `drop` ranks what goes first when the
-- line is too wide (the bar, then the rate, the detail, the percentage,
-- the time); label, count and the waiting note stay.
local function parts_of(v)
  local p = {}
  local function add(key, text, drop)
    if text then p[#p + 1] = { key = key, text = text, drop = drop } end
  end
  add("label", v.label ~= "" and (v.label .. ":") or nil)
  add("detail", v.detail, 3)
  local count = fmt_number(v.current)
  if v.total then count = count .. "/" .. fmt_number(v.total) end
  add("count", v.unit and (count .. " " .. v.unit) or count)
  if v.total then
    add("pct", percent(v) .. "%", 4)
    add("bar", "", 1)
  end
  add("rate", v.rate and v.rate > 0 and fmt_rate(v.rate, v.unit) or nil, 2)
  local time
  if v.final then
    time = "done in " .. fmt_duration(v.elapsed)
  elseif v.eta then
    time = fmt_duration(v.eta, true) .. " left"
  elseif v.elapsed then
    time = fmt_duration(v.elapsed) .. " elapsed"
  end
  add("time", time, 5)
  add("wait", v.wait)
  if v.wait then p[#p].short = v.wait_short or v.wait end
  return p
end

local function join(p, bar_inner, fraction)
  local out = {}
  for _, part in ipairs(p) do
    if part.key == "bar" then
      local full = math.floor(fraction * bar_inner)
      out[#out + 1] = "[" .. string.rep("#", full) ..
        string.rep("-", bar_inner - full) .. "]"
    else
      out[#out + 1] = part.text
    end
  end
  return table.concat(out, " ")
end

-- Width of the parts but the bar, separators included.
local function width_without_bar(p)
  local n, k = 0, 0
  for _, part in ipairs(p) do
    if part.key ~= "bar" then
      n = n + cols(part.text)
      k = k + 1
    end
  end
  return n + math.max(k - 1, 0)
end

local function drop_next(p)
  local best
  for i, part in ipairs(p) do
    if part.drop and (not best or part.drop < p[best].drop) then best = i end
  end
  if best then table.remove(p, best) end
  return best ~= nil
end

--- The line for view v, in at most width - 1 columns (a terminal may
-- wrap when the last column is written).  v = {label=, detail=, current=,
-- total=, unit=, rate=, eta=, elapsed=, wait=, wait_short=, final=}.
local function render(v, width)
  local max = math.max(width - 1, 1)
  local p = parts_of(v)
  local fraction = v.total and percent(v) / 100 or 0
  while true do
    local rest, has_bar = width_without_bar(p), false
    for _, part in ipairs(p) do has_bar = has_bar or part.key == "bar" end
    if has_bar then
      local room = max - rest - 1 - 2 -- a separator and the brackets
      if room >= BAR_MIN then return join(p, math.min(room, BAR_MAX), fraction) end
      drop_next(p) -- the bar goes first
    elseif rest <= max or not drop_next(p) then
      break
    end
  end
  -- still too wide: the waiting note's short form, a shorter label, then
  -- cut the line
  if p[#p].short and width_without_bar(p) > max then p[#p].text = p[#p].short end
  local over = width_without_bar(p) - max
  if over > 0 and p[1].key == "label" then
    local keep = cols(p[1].text) - 1 - over - 3 -- ":" and "..."
    if keep >= 4 then p[1].text = head(p[1].text, keep) .. "...:" end
  end
  return head(join(p, 0, 0), max)
end

--- What the line says about the limiter, from stockx.stats(): a 429
-- pause of the base URL that holds a request back, or a request held by
-- the limiter for over a second; nil otherwise.  Then a short form, for
-- a narrow terminal.
local function wait_note(st)
  local w, left = st.limiter_wait or 0, st.pause_left or 0
  if left > 0 and w > 0 and (left >= 1 or w > WAIT_NOTE) then
    local s = math.ceil(left)
    return string.format("waiting: rate limited by the server, retry in %d s", s),
      string.format("429: retry in %d s", s)
  end
  if w > WAIT_NOTE then return "waiting for the rate limit", "rate limit wait" end
  return nil
end

---------------------------------------------------------------------------
-- Bars
---------------------------------------------------------------------------

local Bar = {}
Bar.__index = Bar

-- The real terminal.  A test passes its own environment (clock, width,
-- writer, stats, screen) to M._internal.new.
local screen = { active = setmetatable({}, { __mode = "k" }), owner = nil }
local seq = 0

local function default_env()
  return {
    enabled = M.enabled(),
    now = core.now,
    width = term_width,
    write = function(s) M.write(s) end,
    stats = core.stats,
    erase_logs = core.log_erase,
    spawn = core.spawn,
    sleep = core.sleep,
    cancel = core.cancel,
    screen = screen,
  }
end

-- Records (now, current) once a second, keeping WINDOW seconds of them.
local function sample(b, now)
  local s = b.samples
  if now - s[#s].t >= 1 then s[#s + 1] = { t = now, n = b.current } end
  while #s > 1 and now - s[2].t >= WINDOW do table.remove(s, 1) end
end

-- Items a second over the last WINDOW seconds, or nil this early.
local function rate(b, now)
  local s = b.samples[1]
  if now - s.t < 0.5 then return nil end
  return (b.current - s.n) / (now - s.t)
end

local function view(b, now, st)
  local r = rate(b, now)
  local eta
  if b.total and r and r > 0 and b.current < b.total then
    eta = (b.total - b.current) / r
  end
  local wait, wait_short
  if st then wait, wait_short = wait_note(st) end
  return { label = b.text, detail = b.detail_text, current = b.current,
    total = b.total, unit = b.unit, rate = r, eta = eta,
    elapsed = now - b.started, wait = wait, wait_short = wait_short,
    final = b.finished }
end

-- The newest unfinished bar owns the line; the others wait their turn.
local function top(scr)
  local best
  for b in pairs(scr.active) do
    if not best or b.seq > best.seq then best = b end
  end
  return best
end

local function take_line(b)
  local scr = b.env.screen
  if scr.owner == nil then b.env.erase_logs(true) end
  scr.owner = b.seq
end

local function release_line(env)
  if env.screen.owner ~= nil then
    env.screen.owner = nil
    env.erase_logs(false)
  end
end

local function draw(b, now, st)
  if b.finished or now - b.started < DELAY then return end
  if b.last_draw and now - b.last_draw < INTERVAL then return end
  if top(b.env.screen) ~= b then return end
  b.last_draw = now
  sample(b, now)
  local text = render(view(b, now, st or b.env.stats()), b.env.width())
  take_line(b)
  b.env.write(ERASE .. text)
  b.shown = true
end

local function refresh(b)
  local env = b.env
  while not b.finished do
    env.sleep(REFRESH)
    if b.finished then break end
    local st = env.stats()
    if st.tasks <= 1 then -- every other task has ended: finish the line
      b.refresher = nil
      b:done()
      return
    end
    if st.pending == 0 then break end -- nothing to wait for now
    draw(b, env.now(), st)
  end
  b.refresher = nil
end

local function update(b)
  if not b.env.enabled or b.finished then return end
  local now = b.env.now()
  sample(b, now)
  draw(b, now)
  if not b.refresher and b.env.spawn then
    b.refresher = b.env.spawn(refresh, b)
  end
end

local function check_count(fname, pos, name, v, optional)
  if v == nil and optional then return nil end
  if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
    argerror(fname, pos, name, "a number >= 0 expected, got " ..
      (type(v) == "number" and tostring(v) or args.typename(v)))
  end
  return v
end

local function check_string(fname, pos, name, v)
  if v ~= nil and type(v) ~= "string" then
    argerror(fname, pos, name, "string expected, got " .. type(v))
  end
  return v
end

local function new(opts, env)
  local fname = "stockx.progress"
  if opts ~= nil and type(opts) ~= "table" then
    argerror(fname, 1, "opts", "table expected, got " .. type(opts))
  end
  opts = opts or {}
  seq = seq + 1
  local now = env.now()
  local b = setmetatable({
    env = env, seq = seq, started = now, current = 0,
    total = check_count(fname, 1, "opts.total", opts.total, true),
    text = check_string(fname, 1, "opts.label", opts.label) or "",
    unit = check_string(fname, 1, "opts.unit", opts.unit),
    samples = { { t = now, n = 0 } },
  }, Bar)
  if env.enabled then
    env.screen.active[b] = true
    update(b) -- starts the refresher: the first request may take a while
  end
  return b
end

--- Adds n (default 1) to the work done.
function Bar:advance(n)
  if n == nil then n = 1 else check_count("bar:advance", 1, "n", n) end
  self.current = self.current + n
  update(self)
  return self
end

--- Sets the work done (and the total, when given: a count learnt late).
function Bar:set(current, total)
  self.current = check_count("bar:set", 1, "done", current)
  if total ~= nil then self.total = check_count("bar:set", 2, "total", total) end
  update(self)
  return self
end

--- Changes the label (shown from the next redraw).
function Bar:label(s)
  self.text = check_string("bar:label", 1, "label", s) or ""
  return self
end

--- Text after the label ("page 2/3"), shown from the next redraw.
function Bar:detail(s)
  self.detail_text = check_string("bar:detail", 1, "detail", s)
  return self
end

-- Ends the bar: the final line and a newline when it was shown or the
-- work took over DELAY seconds (erase_only: just erase a line shown).
local function finish(b, erase_only)
  if b.finished then return end
  local env = b.env
  local now = env.now()
  b.finished = true
  env.screen.active[b] = nil
  if b.refresher then
    local r = b.refresher
    b.refresher = nil
    env.cancel(r)
  end
  if not env.enabled then return end
  if erase_only then
    if b.shown and env.screen.owner == b.seq then
      env.write(ERASE)
      release_line(env)
    end
    return
  end
  if b.shown or now - b.started >= DELAY then
    sample(b, now)
    env.write(ERASE .. render(view(b, now, nil), env.width()) .. "\n")
    release_line(env)
  end
end

--- Prints the final line and a newline (when the line was shown);
-- idempotent.
function Bar:done()
  finish(self, false)
  return self
end

-- For <close> and paginate's closer: a normal end is done(); leaving by
-- an error erases the line (the error says what happened).
function Bar:_close(err)
  finish(self, err ~= nil)
end

Bar.__close = function(b, err) b:_close(err) end

-- A bar dropped while its line shows (Ctrl-C, an iterator never
-- finished): erase the line, so the next output starts on a clean one
-- (after "stockx: interrupted", which ends the line, that adds no blank
-- line).  Nothing else: at exit the tasks and the loop may be gone.
Bar.__gc = function(b)
  local env = b.env
  if not b.finished and env.enabled and env.screen.owner == b.seq then
    env.write(ERASE)
    release_line(env)
  end
end

Bar.__name = "stockx.progress"

---------------------------------------------------------------------------
-- Output that keeps clear of the line
---------------------------------------------------------------------------

--- Erases the progress line now showing, if any (it is drawn again at
-- its next update): call it before writing to the terminal yourself.
function M.hide()
  if screen.owner ~= nil then
    M.write(ERASE)
    screen.owner = nil
    core.log_erase(false)
  end
end

--- print(...) on stdout, clear of the progress line.
function M.print(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do t[i] = tostring((select(i, ...))) end
  M.hide()
  io.stdout:write(table.concat(t, "\t", 1, n), "\n")
  io.stdout:flush()
end

M._internal = { new = new, render = render, wait_note = wait_note,
  view = view, fmt_duration = fmt_duration, screen = screen,
  DELAY = DELAY, INTERVAL = INTERVAL }

--- stockx.progress{total=, label=, unit=} -> a bar.
return setmetatable(M, { __call = function(_, opts)
  return new(opts, default_env())
end })
