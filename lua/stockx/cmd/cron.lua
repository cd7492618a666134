--- `stockx cron EXPR [--tz ZONE] [--count N] [--from TIME]`: the next runs
-- of a cron expression as stockx.cron would start them, daylight-saving
-- rules included, to check a schedule before a job depends on it:
--
--   $ stockx cron '30 2 * * *' --tz Europe/Berlin --from 2026-03-27
--   # 30 2 * * * in Europe/Berlin, a fixed-time job: a skipped time runs ...
--   2026-03-27T02:30:00+01:00  Fri  01:30Z
--   2026-03-28T02:30:00+01:00  Sat  01:30Z
--   2026-03-29T03:00:00+02:00  Sun  01:00Z  (UTC offset changes to +02:00)
--
-- Exit status 0, or 2 for a bad expression, zone, count or time.

local core = require "stockx.core"
local args = require "stockx.args"

local USAGE = [[
usage: stockx cron EXPR [--tz ZONE] [--count N] [--from TIME]
  EXPR   five fields (minute hour day-of-month month day-of-week) or
         @hourly, @daily, @weekly, @monthly, @yearly; quote it
  ZONE   UTC, local (the default) or a tz database name (Europe/Berlin)
  N      how many runs to show (default 10, at most 1000)
  TIME   start after this time: 2026-03-27, 2026-03-27T10:00Z, ... (default now)
]]

local function usage(msg)
  io.stderr:write("stockx cron: ", msg, "\n", USAGE)
  os.exit(2)
end

local function parse(argv)
  local o = { count = 10 }
  local i = 1
  while i <= #argv do
    local a, v = argv[i], argv[i + 1]
    if a == "--tz" or a == "--count" or a == "--from" then
      if not v then usage(a .. " needs a value") end
      o[a:sub(3)] = v
      i = i + 1
    elseif a == "--help" or a == "-h" then
      io.stdout:write(USAGE)
      os.exit(0)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      usage("unknown option " .. a)
    elseif o.expr then
      usage("one expression, quoted: stockx cron '" .. o.expr .. " " .. a .. " ...'")
    else
      o.expr = a
    end
    i = i + 1
  end
  if not o.expr then usage("which expression?") end
  local n = tonumber(o.count)
  if not n or n ~= math.floor(n) or n < 1 or n > 1000 then
    usage("--count: '" .. tostring(o.count) .. "' is not a whole number from 1 to 1000")
  end
  o.count = math.tointeger(n)
  if o.from then
    local t = args.timestamp(o.from)
    if not t then
      usage("--from: '" .. o.from .. "' is not a time (2026-03-27, 2026-03-27T10:00Z)")
    end
    o.from = t
  end
  return o
end

local DAYS = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }

return function(...)
  local o = parse({ ... })
  local ok, c = pcall(core.cron, o.expr)
  if not ok then usage(tostring(c)) end
  local tz
  ok, tz = pcall(core.tz, o.tz or "local")
  if not ok then usage(tostring(tz)) end
  local t = o.from and o.from - 1 or os.time()
  local kind = c:wildcard() and "a wildcard job: it follows the wall clock"
    or "a fixed-time job: a skipped time runs at the jump, a repeated one once"
  print(string.format("# %s in %s, %s", o.expr, tz:name(), kind))
  local prev_off
  for _ = 1, o.count do
    t = c:next(t, tz)
    if not t then
      print("# no further run")
      break
    end
    local local_time = tz:format(t)
    local off = tz:offset(t)
    local days = (t + off) // 86400
    local note = ""
    if prev_off and off ~= prev_off then
      note = string.format("  (UTC offset changes to %s)", local_time:sub(20))
    end
    prev_off = off
    print(string.format("%s  %s  %sZ%s", local_time, DAYS[(days + 4) % 7 + 1],
      os.date("!%H:%M", t), note))
  end
end
