-- stockx.paginate over the page-number envelope (250 listings) and the
-- cursor envelope (listing operations), one page ahead.
local tap = require "tap"
tap.setup()

local seen, n = {}, 0
for listing in stockx.paginate("/selling/listings") do
  n = n + 1
  seen[listing.listingId] = true
end
local unique = 0
for _ in pairs(seen) do unique = unique + 1 end
tap.eq(n, 250, "250 items over the page-number envelope")
tap.eq(unique, 250, "each listing once")
local pages = tap.log("^/selling/listings$")
tap.eq(#pages, 3, "3 pages: the largest page size (100) is used by default")

-- pageSize from the caller, max_pages
stockx.post("/_sandbox/reset", {})
n = 0
for _ in stockx.paginate("/selling/listings", { pageSize = 20 }, { max_pages = 2 }) do n = n + 1 end
tap.eq(n, 40, "max_pages stops after 2 pages of 20")
tap.eq(#tap.log("^/selling/listings$"), 2, "and fetches no more")

-- pages = true
local sizes = {}
for page in stockx.paginate("/selling/listings", { pageSize = 100 }, { pages = true }) do
  sizes[#sizes + 1] = #page.listings
end
tap.eq(table.concat(sizes, ","), "100,100,50", "pages = true iterates whole pages")

-- one page ahead: page 2 is requested while the caller works on page 1
stockx.post("/_sandbox/reset", {})
local requested_early
for listing, page in stockx.paginate("/selling/listings") do
  if page.pageNumber == 1 and listing == page.listings[1] then
    stockx.sleep(0.2)
    requested_early = #tap.log("^/selling/listings$")
  end
end
tap.eq(requested_early, 2, "page 2 was fetched while page 1 was being consumed")

-- leaving the loop early cancels the page fetched ahead: no wasted request
stockx.post("/_sandbox/reset", {})
stockx.configure { rate = "2/1s" }
stockx.sleep(1)
local seen_items = 0
for _ in stockx.paginate("/selling/listings", { pageSize = 10 }) do
  seen_items = seen_items + 1
  if seen_items == 3 then break end
end
stockx.sleep(1.2) -- a prefetch that was not cancelled would arrive by now
tap.eq(#tap.log("^/selling/listings$"), 1,
  "break cancels the prefetch (it was waiting for the limiter)")
tap.eq(stockx.stats().pending, 0, "and nothing is left pending")
stockx.configure { rate = false }

-- the cursor envelope
local first = stockx.get("/selling/listings", { pageSize = 1 }).listings[1]
local ops = 0
local ids = {}
local ops_path = "/selling/listings/" .. first.listingId .. "/operations"
for op in stockx.paginate(ops_path, { pageSize = 10 }) do
  ops = ops + 1
  ids[op.operationId] = true
end
local all = stockx.get("/selling/listings/" .. first.listingId .. "/operations", { pageSize = 100 })
tap.eq(ops, #all.operations, "the cursor walk yields every operation")
tap.ok(ops > 10, "over more than one page", ops .. " operations")
local distinct = 0
for _ in pairs(ids) do distinct = distinct + 1 end
tap.eq(distinct, ops, "each operation once")

-- an error mid-walk is raised to the caller, after the items before it
stockx.post("/_sandbox/reset", {})
local consumed = 0
local ok, err = pcall(function()
  for _ in stockx.paginate("/selling/listings", { pageSize = 100 }) do
    consumed = consumed + 1
    if consumed == 1 then
      tap.fault { path = "^/selling/listings$", status = 500 }
    end
  end
end)
tap.ok(not ok and stockx.is_error(err) and err.status == 500,
  "a failing page raises its error value", tostring(err))
tap.ok(consumed >= 100 and consumed < 250, "after the items of the pages before it",
  consumed .. " items")
stockx.post("/_sandbox/reset", {})

-- a response without an item array
tap.raises(function() for _ in stockx.paginate("/_test/echo") do end end,
  "a response with no array of items is an error naming opts.key", "opts.key")
tap.raises(function() stockx.paginate(1) end, "paginate checks its path", "'path'")
tap.done()
