-- The sandbox's state across processes: the same --seed gives identical
-- bodies in two sandbox processes and another seed gives other data;
-- --state FILE keeps writes across a restart.  The sandboxes here are our
-- own processes, stopped at the end.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local STOCKX = os.getenv("STOCKX") or "./stockx"
local TMP = os.getenv("TEST_TMP") or "/tmp"
local BASE = os.getenv("STOCKX_BASE_URL")
local running = {}

--- Starts `stockx sandbox --port 0 ARGS` (killed after 120 s at most, so
-- that a sandbox that never answers cannot hang the suite); returns
-- {pid=, url=, f=} or nil.
local function start(args)
  local cmd = string.format("sh -c 'echo $$; exec timeout 120 %s sandbox --port 0"
    .. " --rate-limit off %s 2>>%s/state-sandboxes.err'", STOCKX, args, TMP)
  local f = io.popen(cmd, "r")
  local pid = f:read("l")
  local line = f:read("l") or ""
  local sb = { pid = tonumber(pid), f = f, url = line:match("listening on (http%S+)") }
  running[#running + 1] = sb
  return sb.url and sb or nil
end

local function stop(sb)
  if not sb or sb.stopped then return end
  if sb.pid then os.execute("kill " .. sb.pid .. " 2>/dev/null") end
  sb.f:close()   -- waits for the process to exit
  sb.stopped = true
end

--- Runs fn() with the client pointed at sandbox sb; returns its results.
local function on(sb, fn)
  stockx.configure { base_url = sb.url }
  local r = table.pack(pcall(fn))
  stockx.configure { base_url = BASE }
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

local function raw(path, query)
  local res = stockx.request { path = path, query = query }
  return res.status == 200 and res.body or ("status " .. res.status)
end

-- Raw bodies of a few reads that carry no URL of the sandbox's own.
local function snapshot(sb)
  return on(sb, function()
    local fx = stockx.get("/_sandbox/fixtures")
    local s = {
      fixtures = raw("/_sandbox/fixtures"),
      listings = raw("/selling/listings", { pageSize = 100, pageNumber = 2 }),
      product = raw("/catalog/products/" .. fx.productIds[1]),
      market = raw("/catalog/products/" .. fx.productIds[1] .. "/market-data"),
      history = raw("/selling/orders/history", { pageSize = 50 }),
      operations = raw("/selling/listings/" .. fx.listingIds[1] .. "/operations",
        { pageSize = 50 }),
    }
    return s
  end)
end

scenario.part("the same seed gives the same data", function()
  local a, b, c = start("--seed 7"), start("--seed 7"), start("--seed 8")
  tap.ok(a and b and c, "three sandboxes started (seeds 7, 7, 8)")
  if not (a and b and c) then return end
  tap.ok(a.url ~= b.url, "on their own ports")
  local sa, sb, sc = snapshot(a), snapshot(b), snapshot(c)
  for _, k in ipairs { "fixtures", "listings", "product", "market", "history", "operations" } do
    tap.ok(sa[k] == sb[k] and #sa[k] > 100, "seed 7 twice: identical " .. k .. " bodies",
      sa[k]:sub(1, 80) .. " | " .. sb[k]:sub(1, 80))
  end
  tap.ok(sa.fixtures ~= sc.fixtures, "seed 8: other ids")
  tap.ok(sa.listings ~= sc.listings, "seed 8: other listings")
  stop(a); stop(b); stop(c)
end)

scenario.part("--state keeps writes across a restart", function()
  local file = TMP .. "/sandbox-state.json"
  os.remove(file)
  local args = "--seed 7 --state " .. file
  local d = start(args)
  tap.ok(d, "a sandbox with --state started")
  if not d then return end
  local created, op, target = on(d, function()
    local fx = stockx.get("/_sandbox/fixtures")
    local c = stockx.post("/selling/listings", { variantId = fx.variantIds[1], amount = "123" })
    local done = scenario.wait_operation(c)
    tap.eq(done and done.operationStatus, "SUCCEEDED", "a create there succeeds")
    local u = stockx.patch("/selling/listings/" .. fx.listingIds[1], { amount = "321" })
    done = scenario.wait_operation(u)
    tap.eq(done and done.operationStatus, "SUCCEEDED", "an update there succeeds")
    return c.listingId, c.operationId, fx.listingIds[1]
  end)
  stop(d)
  local f = io.open(file, "rb")
  local size = f and #f:read("a") or 0
  if f then f:close() end
  tap.ok(size > 0, "the state file was written", size .. " bytes")

  local e = start(args)
  tap.ok(e, "a second sandbox on the same state file started")
  if not e then return end
  on(e, function()
    local r = stockx.request { path = "/selling/listings/" .. created }
    tap.eq(r.status, 200, "the created listing is there after the restart")
    local l = r.status == 200 and stockx.json.decode(r.body) or {}
    tap.eq(l.amount, "123", "with its amount")
    tap.eq(l.status, "ACTIVE", "and ACTIVE")
    local o = stockx.request { path = "/selling/listings/" .. created .. "/operations/" .. op }
    tap.ok(o.status == 200 and stockx.json.decode(o.body).operationStatus == "SUCCEEDED",
      "its operation is still SUCCEEDED", o.body)
    tap.eq(stockx.get("/selling/listings/" .. target).amount, "321",
      "the updated listing kept its new amount")
  end)
  stop(e)
  local fresh = start("--seed 7")
  if fresh then
    on(fresh, function()
      tap.eq(stockx.request { path = "/selling/listings/" .. created }.status, 404,
        "a sandbox without --state does not have it")
    end)
  end
end)

for _, sb in ipairs(running) do stop(sb) end
scenario.finish()
tap.done()
