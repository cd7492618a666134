-- The circuit breaker and the retry budget against the sandbox's 5xx
-- faults: 503s trip it, open fails fast (kind circuit_open, retry_in)
-- with nothing reaching the sandbox, half-open lets exactly one probe
-- through, whose answer reopens (for a doubled period) or closes it;
-- 4xx and 429 never trip it; during a 100% 503 outage the retry budget
-- keeps attempts within 1.1x the calls.
local tap = require "tap"
tap.setup()

local base = stockx.settings().base_url
local origin = base:match("^(%a+://[^/]+)")
-- The sandbox's admin routes through another origin (localhost instead of
-- 127.0.0.1): the base URL's breaker does not hold them back.
local admin = origin:gsub("://127%.0%.0%.1:", "://localhost:", 1)
tap.ok(admin ~= origin, "a second origin for the sandbox's admin routes", admin)

local function admin_req(method, path, body)
  local res, err = stockx.request { method = method, path = admin .. path,
    body = body and stockx.json.encode(body) or nil,
    headers = body and { ["Content-Type"] = "application/json" } or nil }
  assert(res and res.status < 300, "admin " .. path .. ": " ..
    tostring(err or (res and res.status)))
  return res.body ~= "" and stockx.json.decode(res.body) or nil
end

local function fault(f) admin_req("POST", "/_sandbox/faults", f) end
local function clear_faults() admin_req("DELETE", "/_sandbox/faults") end

-- Requests to /catalog/search the sandbox saw.
local function seen()
  local n = 0
  for _, e in ipairs(admin_req("GET", "/_sandbox/stats").log) do
    if e.path == "/catalog/search" then n = n + 1 end
  end
  return n
end

local function search()
  return stockx.request { path = "/catalog/search", query = { query = "Nike" } }
end

local function breaker()
  return stockx.stats().breakers[origin] or {}
end

stockx.configure { breaker = { window = 20, min_calls = 10,
  failure_rate = 0.5, consecutive = 5, open_for = 0.5, open_max = 5,
  probe_timeout = 2 }, retry = { transient_attempts = 1 } }
admin_req("POST", "/_sandbox/reset", {})

-- 503s trip the breaker by failures in a row
fault { path = "^/catalog/search$", status = 503, rate = 1 }
for i = 1, 4 do
  tap.eq(search().status, 503, "503 number " .. i .. " is returned")
end
tap.eq(breaker().state, "closed", "4 failures in a row: still closed")
tap.eq(breaker().in_a_row, 4, "stats count the run")
tap.eq(search().status, 503, "the 5th 503 is returned")
tap.eq(breaker().state, "open", "5 in a row: open")
tap.eq(breaker().trips, 1, "opened once")
tap.eq(seen(), 5, "the sandbox saw 5 searches")

-- open fails fast, nothing reaches the sandbox
local before = stockx.stats()
local fails = 0
for _ = 1, 10 do
  local r, e = search()
  if r == nil and e.kind == "circuit_open" then fails = fails + 1 end
end
tap.eq(fails, 10, "10 calls while open fail with kind circuit_open")
local r, e = search()
tap.ok(r == nil and e.retry_in > 0 and e.retry_in <= 0.5,
  "err.retry_in: seconds until a probe (at most open_for)", e and e.retry_in)
tap.ok(tostring(e):find("circuit_open", 1, true), "tostring names the kind",
  tostring(e))
local err = tap.raises(function()
  stockx.get("/catalog/search", { query = "Nike" })
end, "stockx.get raises")
tap.eq(err and err.kind, "circuit_open", "kind circuit_open")
local after = stockx.stats()
tap.eq(after.attempts - before.attempts, 0, "no attempt was made")
tap.eq(after.circuit_open - before.circuit_open, 12, "stats().circuit_open")
tap.eq(seen(), 5, "the sandbox saw nothing more")
tap.ok(breaker().retry_in > 0, "stats show retry_in", breaker().retry_in)

-- half-open: one probe; its 503 reopens for a doubled period
stockx.sleep(0.6)
tap.eq(search().status, 503, "after open_for the probe goes out: 503")
tap.eq(seen(), 6, "the sandbox saw the probe")
tap.eq(breaker().state, "open", "a failed probe reopens")
tap.eq(breaker().trips, 2, "opened twice")
tap.ok(breaker().retry_in > 0.5 and breaker().retry_in <= 1,
  "for a doubled open period (1 s)", breaker().retry_in)

-- half-open admits exactly one of several concurrent callers
clear_faults()
stockx.sleep(1.1)
local tasks, ok200, open = {}, 0, 0
for i = 1, 5 do
  tasks[i] = stockx.spawn(search)
end
for i = 1, 5 do
  local res, er = tasks[i]:wait()
  if res and res.status == 200 then ok200 = ok200 + 1 end
  if res == nil and er.kind == "circuit_open" then open = open + 1 end
end
tap.eq(ok200, 1, "of 5 concurrent calls in half-open, one probe went out")
tap.eq(open, 4, "the 4 others failed fast")
tap.eq(seen(), 7, "the sandbox saw the one probe")
tap.eq(breaker().state, "closed", "the probe's 200 closed the breaker")
tap.eq(search().status, 200, "closed: calls go through")

-- the failure rate trips it too, once min_calls are in
stockx.configure { breaker = { consecutive = 0 } }
fault { path = "^/catalog/search$", status = 500, rate = 1, count = 5 }
for _ = 1, 5 do search() end -- 5 failures, 0 successes: under min_calls
tap.eq(breaker().state, "closed", "5 failures: under min_calls")
for _ = 1, 4 do search() end
tap.eq(breaker().state, "closed", "5 of 9 failed: under min_calls still")
search()
tap.eq(breaker().state, "open", "5 of 10 failed (500s): 50% trips it")
tap.eq(breaker().calls, 10, "over a window of 10 calls")
stockx.sleep(0.6)
tap.eq(search().status, 200, "the probe's 200")
tap.eq(breaker().state, "closed", "closes it")

-- 4xx and 429 never trip it
stockx.configure { breaker = { consecutive = 3, min_calls = 3 },
  retry = { max_attempts = 1 } }
fault { path = "^/catalog/search$", status = 404, rate = 1 }
for _ = 1, 6 do search() end
tap.eq(breaker().state, "closed", "six 404s: closed")
tap.eq(breaker().failures, 0, "404s are not failures")
clear_faults()
fault { path = "^/catalog/search$", status = 429, rate = 1 }
local n429 = 0
for _ = 1, 6 do
  local res = search()
  if res and res.status == 429 then n429 = n429 + 1 end
end
tap.eq(n429, 6, "six 429s come back")
tap.eq(breaker().state, "closed", "429s do not trip it (the limiter's)")
clear_faults()

-- settings
tap.eq(stockx.settings().breaker.open_for, 0.5, "settings().breaker")
stockx.configure { breaker = false }
tap.eq(stockx.settings().breaker, false, "breaker = false: settings say false")
tap.eq(breaker().state, "off", "stats say off")
tap.raises(function() stockx.configure { breaker = { window = 0 } } end,
  "breaker.window 0 is refused")
tap.raises(function() stockx.configure { breaker = { failure_rate = 2 } } end,
  "breaker.failure_rate 2 is refused")
tap.raises(function() stockx.configure { breaker = { nope = 1 } } end,
  "an unknown breaker key is refused")
tap.raises(function() stockx.configure { retry = { budget = -1 } } end,
  "retry.budget -1 is refused")
tap.eq(stockx.settings().breaker, false, "a refused configure changed nothing")

-- the retry budget in a 100% 503 outage (breaker off, so every call is
-- made): retries stop once the budget is spent
local calls = 100
stockx.configure { retry = { budget = 20, transient_attempts = 3,
  max_attempts = 5 } }
fault { path = "^/catalog/search$", status = 503, rate = 1 }
local s0 = seen()
before = stockx.stats()
local n503 = 0
for _ = 1, calls do
  local res = search()
  if res and res.status == 503 then n503 = n503 + 1 end
end
after = stockx.stats() -- before seen(), itself an attempt
local attempts = after.attempts - before.attempts
tap.eq(n503, calls, "every call gets its 503")
tap.eq(attempts, calls + 4, "budget 20 pays 4 retries at 5, then none")
tap.ok(attempts <= 1.1 * calls, "attempts within 1.1x the calls",
  attempts .. " attempts for " .. calls .. " calls")
tap.eq(after.budget_refused - before.budget_refused, calls - 2,
  "the budget refused a retry of every later call")
tap.eq(seen() - s0, attempts, "the sandbox saw exactly the attempts made")
tap.eq(breaker().budget, 0, "stats show the budget spent")
print(string.format("# outage: %d calls, %d attempts (%.2fx); without the"
  .. " budget %d", calls, attempts, attempts / calls, 3 * calls))

-- successes refill it
clear_faults()
for _ = 1, 10 do search() end
tap.eq(breaker().budget, 10, "10 successes return 10 tokens")

stockx.configure { breaker = true, retry = { budget = 500, max_attempts = 5 } }
tap.eq(stockx.stats().in_flight, 0, "nothing left in flight")
tap.done()
