-- reprice.lua: the repricer.  Reads your ACTIVE listings, plans new prices
-- from rules (a CSV file, or the defaults below), prints the plan, and
-- applies it as batch updates, writing every change to an audit log.
-- Safe first: run it with --dry-run and nothing is sent.
--
--   stockx run --sandbox scripts/reprice.lua                  offline
--   stockx --dry-run run scripts/reprice.lua scripts/rules.csv   your account, no writes
--   stockx run scripts/reprice.lua rules.csv audit.jsonl       for real
--
-- On a schedule, in one long-running process (the CSV is read again for
-- every run, so edits take effect; a run still going when the next is due
-- makes that one skipped; SIGTERM lets a run finish, see --grace):
--
--   stockx run scripts/reprice.lua --every 15m rules.csv audit.jsonl
--   stockx run scripts/reprice.lua --cron '*/15 8-22 * * *' --tz UTC rules.csv
--
-- Undo a run: `stockx reprice rollback audit.jsonl --since 1h` (see the
-- README).

local reprice = stockx.reprice

-- The arguments: [--every INTERVAL | --cron EXPR [--tz ZONE]] [RULES.csv] [AUDIT.jsonl]
local opt, pos = {}, {}
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--every" or a == "--cron" or a == "--tz" then
      opt[a:sub(3)] = arg[i + 1] or error(a .. " needs a value", 0)
      i = i + 1
    elseif a:sub(1, 2) == "--" then
      error("reprice.lua: unknown option " .. a .. " (--every, --cron, --tz)", 0)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
end
local rules_file = pos[1]
local log = pos[2] or os.getenv("REPRICE_LOG") or "reprice-audit.jsonl"

-- Rules for listings the CSV does not name (or for all, without a CSV):
-- beat the lowest ask of your channel by 1, never under 60 or over 1000,
-- never more than 25% in one run.
local default = { strategy = "beat", by = "1", floor = "60", ceiling = "1000",
  max_step = "25%" }
local function load_rules()
  local rules = rules_file and reprice.rules_csv(rules_file) or {}
  rules[#rules + 1] = default
  return rules
end
load_rules() -- a bad CSV stops here, before anything is scheduled or sent

local function say(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
end

-- Shows where a slow step is while the 1 request/s limiter paces it: a
-- progress line per stage (stockx.progress; on a terminal only).
local bar, bar_stage
local function progress(stage, done, total)
  if stage ~= bar_stage then
    if bar then bar:done() end
    bar, bar_stage = stockx.progress { label = stage, total = total }, stage
  end
  bar:set(done, total)
  if done >= total then
    bar:done()
    bar, bar_stage = nil, nil
  end
end

-- One repricing pass: true, or false and why nothing (or not everything)
-- was applied.
local function reprice_once()
  local before = stockx.stats().requests
  local rules = load_rules()
  say("reading your active listings ...")
  local listings = stockx.listings.all { listingStatuses = { "ACTIVE" } }
  say("  %d listings", #listings)

  say("planning (one market-data request per product) ...")
  local plan = reprice.plan(listings, rules, { progress = progress, history = log })
  print(plan)

  if plan.blocked then return false, "not applied: " .. plan.blocked end
  if #plan.changes == 0 then
    say("nothing to change")
    return true
  end

  say("applying %d changes (audit log: %s) ...", #plan.changes, log)
  local result = reprice.apply(plan, { log = log, progress = progress })
  say("done: %d changed, %d failed%s", result.ok, result.failed,
    stockx.settings().dry_run and " (dry run: nothing was sent)" or "")
  for _, r in ipairs(result.results) do
    if not r.ok then say("  failed: %s: %s", r.item.listingId, tostring(r.error)) end
  end
  say("%d requests made", stockx.stats().requests - before)
  if result.failed > 0 then return false, result.failed .. " changes failed" end
  return true
end

if opt.every or opt.cron then
  -- each run's failure is logged by the scheduler (job.run outcome=error)
  local function run()
    local ok, why = reprice_once()
    if not ok then error(why, 0) end
  end
  local job = opt.every
    and stockx.every(opt.every, run, { name = "reprice", run_now = true })
    or stockx.cron(opt.cron, run, { name = "reprice", tz = opt.tz })
  say("scheduled: %s (Ctrl-C or SIGTERM to stop)", tostring(job))
  return
end

local ok, why = reprice_once()
if not ok then
  say("%s", why)
  os.exit(1)
end
