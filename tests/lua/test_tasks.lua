-- Tasks: spawn/wait/all, sleep, many requests in flight, waits inside
-- user coroutines, and errors.
local tap = require "tap"
tap.setup()

local t = stockx.spawn(function(a, b) return a + b, "x" end, 2, 3)
local x, y = t:wait()
tap.eq(x, 5, "task:wait returns the results")
tap.eq(y, "x", "all of them")
tap.eq(t:status(), "done", "status done")
tap.eq(select("#", t:wait()), 2, "wait again returns the same results")

local a, b, c = stockx.all {
  function() stockx.sleep(0.05) return "one" end,
  function() return "two" end,
  function() return (stockx.get("/_test/echo")).method end,
}
tap.eq(a, "one", "all: first result")
tap.eq(b, "two", "all: second result")
tap.eq(c, "GET", "all: a task that did a request")

tap.raises(function()
  stockx.all { function() return 1 end, function() error("second failed") end }
end, "all re-raises a task's error", "second failed")

local failing = stockx.spawn(function() stockx.sleep(0.01); error({ code = 7 }) end)
local ok, e = pcall(failing.wait, failing)
tap.ok(not ok and type(e) == "table" and e.code == 7,
  "wait re-raises the task's error value")

local t0 = stockx.now()
stockx.sleep(0.1)
tap.ok(stockx.now() - t0 >= 0.09, "sleep waits (monotonic now)")

-- 300 tasks at once: the pool runs max_connections of them in parallel
stockx.configure { max_connections = 100 }
local peak, done = 0, false
local sampler = stockx.spawn(function()
  while not done do
    peak = math.max(peak, stockx.stats().in_flight)
    stockx.sleep(0.02)
  end
end)
local tasks = {}
for i = 1, 300 do
  tasks[i] = stockx.spawn(function() return (stockx.get("/_test/delay", { s = 0.3 })).ok end)
end
local all_ok = true
for i = 1, 300 do all_ok = all_ok and tasks[i]:wait() == true end
done = true
sampler:wait()
tap.ok(all_ok, "300 concurrent requests all succeeded")
tap.eq(peak, 100, "requests beyond max_connections wait in the queue")
local st = stockx.stats()
tap.eq(st.in_flight, 0, "no request left in flight")
tap.ok(st.sockets <= 100, "sockets bounded by the pool")

-- waits inside the user's own coroutines
local gen = coroutine.wrap(function()
  for page = 1, 3 do
    local d = stockx.get("/selling/listings", { pageSize = 10, pageNumber = page })
    coroutine.yield(d.pageNumber, #d.listings)
  end
end)
local pages = {}
for _ = 1, 3 do
  local n, count = gen()
  pages[#pages + 1] = n .. ":" .. count
end
tap.eq(table.concat(pages, ","), "1:10,2:10,3:10",
  "a coroutine.wrap generator can call stockx.get")

local co = coroutine.create(function(v)
  stockx.sleep(0.01)
  local got = coroutine.yield(v + 1)
  local d = stockx.get("/_test/echo")
  return got .. d.method
end)
local ok1, v1 = coroutine.resume(co, 1)
local ok2, v2 = coroutine.resume(co, "via ")
tap.ok(ok1 and v1 == 2, "coroutine.resume passes runtime waits through")
tap.ok(ok2 and v2 == "via GET", "and resumes with the user's values")
tap.eq(coroutine.status(co), "dead", "the user coroutine finished")

local nested = coroutine.wrap(function()
  local inner = coroutine.wrap(function()
    stockx.sleep(0.01)
    coroutine.yield((stockx.get("/_test/echo")).method)
  end)
  coroutine.yield("inner:" .. inner())
end)
tap.eq(nested(), "inner:GET", "waits pass through two levels of coroutines")

tap.raises(function()
  local g = coroutine.wrap(function() error("gen broke") end)
  g()
end, "errors in a wrapped coroutine propagate", "gen broke")

-- not yieldable contexts give a clear error
tap.raises(function()
  table.sort({ 3, 1, 2 }, function(p, q) stockx.sleep(0); return p < q end)
end, "waiting in a table.sort comparator is refused", "cannot wait here")

-- a plain coroutine.yield in a task just lets others run
local order = {}
local p = stockx.spawn(function()
  order[#order + 1] = "p1"
  coroutine.yield()
  order[#order + 1] = "p2"
end)
local q = stockx.spawn(function() order[#order + 1] = "q1" end)
p:wait(); q:wait()
tap.eq(table.concat(order, ","), "p1,q1,p2", "coroutine.yield in a task yields to the scheduler")

tap.raises(function() stockx.sleep(-1) end, "sleep(-1) is refused", "'seconds' to 'stockx.sleep'")
tap.raises(function() stockx.spawn("nope") end, "spawn needs a function")
tap.eq(stockx.stats().tasks, 1, "only the main task is left")
tap.done()
