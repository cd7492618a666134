-- stockx.reprice end to end against the sandbox: a plan from the real
-- account (product-level market data, one request a product), apply
-- changes exactly the planned prices (read back) and never undercuts the
-- seller's own ask, the audit log has every change, a stale or reused
-- plan is refused, rollback puts the old prices back, and a dry run sends
-- no mutation.
local tap = require "tap"
local reprice = require "stockx.reprice"
tap.setup()

local dir = os.getenv("TEST_TMP") or "/tmp"
local log = dir .. "/reprice-audit.jsonl"
os.remove(log)

local fx = stockx.get("/_sandbox/fixtures")
local function active_on(pids)
  return stockx.listings.all { listingStatuses = { "ACTIVE" }, productIds = pids }
end

-- the products of the two-listings-on-one-variant case and two others
local same = stockx.listings.get(fx.sameVariantListingIds[1])
local pids = { same.product.productId, fx.noAsksProductId }
local listings = active_on(pids)
tap.ok(#listings >= 3, "some ACTIVE listings to reprice (" .. #listings .. ")")

local rule = { strategy = "beat", by = "1", floor = "20", ceiling = "2000", max_step = "60%" }
local r0 = stockx.stats().requests
local plan = reprice.plan(listings, rule)
tap.eq(stockx.stats().requests - r0, #pids, "one market-data request per product")
tap.ok(not plan.blocked, "the plan passes the brakes", plan.blocked)

local why = {}
for _, s in ipairs(plan.skipped) do why[s.listingId] = s.why end
local second = fx.sameVariantListingIds[2]
tap.ok(why[second] == "own_listing_lower" or why[second] == "already_lowest",
  "the dearer of the two listings on one variant does not chase the other", why[second])
tap.ok(why[fx.noAsksListingId] == "already_lowest" or why[fx.noAsksListingId] == "no_competition",
  "the product nobody else asks for is left alone", why[fx.noAsksListingId])
tap.ok(#plan.changes >= 1, "some listings are above the lowest ask and get a change")
print(plan)

-- apply: exactly the planned prices, read back
local result = reprice.apply(plan, { log = log })
tap.eq(result.failed, 0, "every change succeeded")
tap.eq(result.ok, #plan.changes, "all of them")
local after = {}
for _, l in ipairs(active_on(pids)) do after[l.listingId] = l end
local exact, untouched = true, true
for _, c in ipairs(plan.changes) do
  if not after[c.listingId] or after[c.listingId].amount ~= c.new:amount() then exact = false end
end
for _, s in ipairs(plan.skipped) do
  local now = after[s.listingId]
  if now and now.amount ~= s.observed.amount then untouched = false end
end
tap.ok(exact, "each planned listing now has its planned price")
tap.ok(untouched, "and the skipped ones kept theirs")

-- the seller never undercuts itself: a second plan changes nothing it just set
local again = reprice.plan(active_on(pids), rule)
local chased = 0
for _, c in ipairs(again.changes) do
  for _, d in ipairs(plan.changes) do
    if c.listingId == d.listingId then chased = chased + 1 end
  end
end
tap.eq(chased, 0, "a second run does not lower what the first just lowered (no self-chase)")

-- the audit log: a line before sending and one with the outcome, per change
local lines, done = 0, 0
for line in io.lines(log) do
  local rec = stockx.json.decode(line)
  lines = lines + 1
  if rec.state == "done" and rec.result == "ok" and rec.old and rec.new and rec.reason then
    done = done + 1
  end
end
tap.eq(lines, 2 * #plan.changes, "the audit log has two lines per change")
tap.eq(done, #plan.changes, "each with old, new, reason and outcome")

tap.raises(function() reprice.apply(plan) end, "a plan cannot be applied twice",
  "already applied")

-- a stale plan: a listing moves between plan and apply
local fresh = reprice.plan(active_on(pids), { floor = "20", ceiling = "2000",
  strategy = function(l) return stockx.listings.amount(l) + stockx.money.unit("USD") end })
if #fresh.changes > 0 then
  local c = fresh.changes[1]
  stockx.listings.update(c.listingId, { amount = "1999" }, { wait = true })
  tap.raises(function() reprice.apply(fresh) end, "a stale plan is refused", "stale")
  tap.eq(stockx.listings.get(c.listingId).amount, "1999", "and nothing was applied")
  stockx.listings.update(c.listingId, { amount = c.observed.amount }, { wait = true })
else
  tap.ok(false, "a plan with a change to make stale")
end

-- rollback: the old prices back, through the same apply
local back = reprice.rollback(log, active_on(pids))
tap.eq(#back.changes, #plan.changes, "rollback plans one change per applied change")
local rb = reprice.apply(back, { log = log })
tap.eq(rb.failed, 0, "the rollback applied")
local restored = true
for _, l in ipairs(active_on(pids)) do after[l.listingId] = l end
for _, c in ipairs(plan.changes) do
  if after[c.listingId].amount ~= c.old:amount() then restored = false end
end
tap.ok(restored, "every changed listing has its old price again")

-- dry run: the whole run works, the server receives no mutation
local log0 = #tap.stats().log
stockx.configure { dry_run = true }
local dry = reprice.plan(active_on(pids), rule)
local dres = reprice.apply(dry)
stockx.configure { dry_run = false }
local mutations = 0
local entries = tap.stats().log
for i = log0 + 1, #entries do
  if entries[i].method ~= "GET" then mutations = mutations + 1 end
end
tap.ok(#dry.changes > 0 and dres.ok == #dry.changes, "a dry-run apply reports every change done")
tap.eq(mutations, 0, "and the server received no mutation")

tap.done()
