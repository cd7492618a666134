-- rollback.lua: undoes repricing runs.  Reads an audit log written by
-- reprice.lua (or stockx.reprice.apply), plans the old prices back for
-- the listings it changed (since a time, if given), prints the plan and
-- applies it the way every plan is applied: the brakes, the staleness
-- check, batch updates, and the same audit log.
--
--   stockx run scripts/rollback.lua AUDIT.jsonl [SINCE]    SINCE: 2026-12-01T10:00:00Z, 2h
--
-- (`stockx reprice rollback AUDIT.jsonl --since SINCE` does the same with no
-- script; this one shows how to build it from the library.)
--   stockx --dry-run run scripts/rollback.lua AUDIT.jsonl  see it first

local reprice = stockx.reprice
local log, since = arg[1], arg[2]
if not log then error("usage: rollback.lua AUDIT.jsonl [SINCE]", 0) end

local listings = stockx.listings.all { listingStatuses = { "ACTIVE" } }
local plan = reprice.rollback(log, listings, { since = since })
print(plan)
if plan.blocked then
  io.stderr:write("not applied: ", plan.blocked, "\n")
  os.exit(1)
end
if #plan.changes == 0 then return end
local result = reprice.apply(plan, { log = log })
print(("%d prices restored, %d failed"):format(result.ok, result.failed))
