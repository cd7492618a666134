-- reprice.lua: the repricer.  Reads your ACTIVE listings, plans new prices
-- from rules (a CSV file, or the defaults below), prints the plan, and
-- applies it as batch updates, writing every change to an audit log.
-- Safe first: run it with --dry-run and nothing is sent.
--
--   stockx run --sandbox scripts/reprice.lua                  offline
--   stockx --dry-run run scripts/reprice.lua scripts/rules.csv   your account, no writes
--   stockx run scripts/reprice.lua rules.csv audit.jsonl       for real
--
-- Undo a run: reprice.rollback("audit.jsonl", listings) plans the old
-- prices back (see the README).

local reprice = stockx.reprice
local rules_file, log = arg[1], arg[2] or os.getenv("REPRICE_LOG") or "reprice-audit.jsonl"

-- Rules for listings the CSV does not name (or for all, without a CSV):
-- beat the lowest ask of your channel by 1, never under 60 or over 1000,
-- never more than 25% in one run.
local default = { strategy = "beat", by = "1", floor = "60", ceiling = "1000",
  max_step = "25%" }
local rules = rules_file and reprice.rules_csv(rules_file) or {}
rules[#rules + 1] = default

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

say("reading your active listings ...")
local listings = stockx.listings.all { listingStatuses = { "ACTIVE" } }
say("  %d listings", #listings)

say("planning (one market-data request per product) ...")
local plan = reprice.plan(listings, rules, { progress = progress, history = log })
print(plan)

if plan.blocked then
  say("not applied: %s", plan.blocked)
  os.exit(1)
end
if #plan.changes == 0 then
  say("nothing to change")
  return
end

say("applying %d changes (audit log: %s) ...", #plan.changes, log)
local result = reprice.apply(plan, { log = log, progress = progress })
say("done: %d changed, %d failed%s", result.ok, result.failed,
  stockx.settings().dry_run and " (dry run: nothing was sent)" or "")
for _, r in ipairs(result.results) do
  if not r.ok then say("  failed: %s: %s", r.item.listingId, tostring(r.error)) end
end
local st = stockx.stats()
say("%d requests made", st.requests)
