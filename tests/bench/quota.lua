-- Benchmark client of `make bench`: requests a repricing pass costs, the
-- real speed limit at StockX's 1 request/s and 25,000 a day.  Runs the
-- toolkit (stockx.reprice: listing pages, product-level market data,
-- batch updates) and a naive per-listing repricer (variant market data,
-- PATCH, operation polls) on the same fresh sandbox account, and prints
-- their request counts next to the floor ceil(A/100) + P + 2*ceil(C/100).
--   stockx --rate off run --sandbox --rate-limit off tests/bench/quota.lua [paced]
-- With "paced", the toolkit's pass runs at 1 request/s and its wall time
-- is printed too.

local reprice = stockx.reprice
local paced = arg[1] == "paced"
local rule = { strategy = "beat", by = "1", floor = "60", ceiling = "1000", max_step = "25%" }

local function requests() return stockx.stats().requests end

-- the toolkit
stockx.post("/_sandbox/reset", {})
if paced then stockx.configure { rate = "1/1s" } end
local r0, t0 = requests(), stockx.now()
local active = stockx.listings.all { listingStatuses = { "ACTIVE" } }
local plan = reprice.plan(active, rule)
local result = reprice.apply(plan)
local ours, wall = requests() - r0, stockx.now() - t0
if paced then stockx.configure { rate = false } end
local products = {}
for _, l in ipairs(active) do products[l.product.productId] = true end
local P = 0
for _ in pairs(products) do P = P + 1 end
local A, C = #active, #plan.changes
local floor = math.ceil(A / 100) + P + 2 * math.ceil(C / 100)
assert(result.failed == 0, "some changes failed")

-- the naive way: per listing, its variant's market data, a PATCH, polls
stockx.post("/_sandbox/reset", {})
local r1 = requests()
local naive_changes = #dofile("tests/bench/naive.lua")()
local naive = requests() - r1

print(string.format("active=%d products=%d changes=%d floor=%d toolkit=%d ratio=%.2f "
  .. "naive=%d naive_changes=%d%s", A, P, C, floor, ours, ours / floor, naive,
  naive_changes, paced and string.format(" wall=%.1f wall_ratio=%.2f", wall,
  wall / ours) or ""))
