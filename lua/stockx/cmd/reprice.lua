--- `stockx reprice ...`: the repricer's audit log from the command line.
--
--   stockx [options] reprice history AUDIT.jsonl [--since TIME]
--   stockx [options] reprice rollback AUDIT.jsonl [--since TIME]
--
-- history prints the changes the log records (applied and failed);
-- rollback plans the old prices back for the listings changed since TIME
-- and applies that plan like any other: brakes, staleness check, batch
-- updates, the same audit log.  Under --dry-run nothing is sent.  TIME is
-- anything stockx.reprice.since accepts (2026-12-01T10:00:00Z,
-- 2026-12-01 10:00, 30m, 2h, 1d).  Exit status: 0 done, 1 a failure or a
-- blocked plan, 2 a usage error.

local USAGE = [[
usage: stockx [options] reprice history AUDIT.jsonl [--since TIME]
       stockx [options] reprice rollback AUDIT.jsonl [--since TIME]
TIME: 2026-12-01T10:00:00Z, 2026-12-01 10:00 (UTC), or ago: 30m, 2h, 1d
]]

local function say(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
end

local function usage(msg)
  io.stderr:write("stockx reprice: ", msg, "\n", USAGE)
  os.exit(2)
end

-- {command, log, since} from the arguments; exits 2 on a bad one.
local function parse(args)
  local o = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--since" then
      o.since = args[i + 1] or usage("--since needs a TIME")
      i = i + 1
    elseif a:match("^%-%-since=") then
      o.since = a:sub(9)
    elseif a == "--help" or a == "-h" then
      io.stdout:write(USAGE)
      os.exit(0)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      usage("unknown option " .. a)
    elseif not o.command then
      o.command = a
    elseif not o.log then
      o.log = a
    else
      usage("unexpected argument " .. a)
    end
    i = i + 1
  end
  if o.command ~= "history" and o.command ~= "rollback" then
    usage(o.command and ("unknown command " .. o.command) or "history or rollback?")
  end
  if not o.log then usage(o.command .. " needs the AUDIT.jsonl file") end
  if o.since then
    local ok, t = pcall(stockx.reprice.since, o.since)
    if not ok then usage("--since: " .. tostring(t):gsub("^stockx%.reprice: ", "")) end
    o.since = t
  end
  return o
end

-- The log's records at or after since, in order; exits 1 if unreadable.
local function records(path, since)
  local f, e = io.open(path, "r")
  if not f then say("stockx reprice: %s", e) os.exit(1) end
  local out, n = {}, 0
  for line in f:lines() do
    n = n + 1
    local ok, rec = pcall(stockx.json.decode, line)
    if not ok or type(rec) ~= "table" or type(rec.time) ~= "string" then
      say("stockx reprice: %s:%d: not an audit record, skipped", path, n)
    elseif not since or rec.time >= since then
      out[#out + 1] = rec
    end
  end
  f:close()
  return out
end

local function history(o)
  local rows = { { "time", "listing", "old", "new", "currency", "result", "reason" } }
  for _, r in ipairs(records(o.log, o.since)) do
    if r.state == "done" then
      rows[#rows + 1] = { r.time, tostring(r.listingId), tostring(r.old), tostring(r.new),
        tostring(r.currency), tostring(r.result) .. (r.error and (": " .. r.error) or ""),
        tostring(r.reason or "") }
    end
  end
  if #rows == 1 then
    say("no applied changes in %s%s", o.log, o.since and (" since " .. o.since) or "")
    return 0
  end
  local width = {}
  for _, row in ipairs(rows) do
    for c, v in ipairs(row) do width[c] = math.max(width[c] or 0, #v) end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for c, v in ipairs(row) do
      cells[c] = c == #row and v or v .. string.rep(" ", width[c] - #v)
    end
    print(table.concat(cells, "  "))
  end
  return 0
end

local function rollback(o)
  local reprice = stockx.reprice
  say("reading your active listings ...")
  local listings = stockx.listings.all { listingStatuses = { "ACTIVE" } }
  local plan = reprice.rollback(o.log, listings, { since = o.since })
  print(plan)
  if plan.blocked then
    say("not applied: %s", plan.blocked)
    return 1
  end
  if #plan.changes == 0 then
    say("nothing to roll back")
    return 0
  end
  local result = reprice.apply(plan, { log = o.log })
  say("%d prices restored, %d failed%s", result.ok, result.failed,
    stockx.settings().dry_run and " (dry run: nothing was sent)" or "")
  for _, r in ipairs(result.results) do
    if not r.ok then say("  failed: %s: %s", r.item.listingId, tostring(r.error)) end
  end
  return result.failed == 0 and 0 or 1
end

return function(...)
  local o = parse({ ... })
  local status = (o.command == "history" and history or rollback)(o)
  if status ~= 0 then os.exit(status) end
end
