--- stockx.metrics: Prometheus series for scripts and the built-in ones.
--
--   local sold = stockx.metrics.counter("shop_sold_total", "Pairs sold.", { "brand" })
--   sold:inc({ brand = "nike" })
--
-- The registry and the text format are C (src/sx_metrics.c through
-- src/lmetrics.c); this module defines the built-in series, records each
-- finished request (stockx.lua) and job run (schedule.lua), fills the
-- client's counters from stockx.stats() when the text is rendered, serves
-- GET /metrics (metrics_addr) and writes the textfile (metrics_file).

local core = require "stockx.core"
local loaded = package.loaded -- read at collect time (no require cycle)
local mcore = require "stockx.metrics.core"
-- scripts may clobber globals; every request passes through here
local ipairs, pairs, type, tostring, tonumber, error, require =
  ipairs, pairs, type, tostring, tonumber, error, require

local M = {}

-- client_golang's DefBuckets plus 30 s and 60 s (a request may wait long)
local SECONDS = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60 }
local RETRY_REASONS = { "429", "5xx", "timeout", "connect", "reset", "dns", "tls", "other" }
local JOB_SECONDS = { .1, .5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600 }
M.STEP = 0.1 -- the textfile writer's sleep step, seconds

---------------------------------------------------------------------------
-- The public constructors
---------------------------------------------------------------------------

--- A counter (name ends in _total): m:inc(labels, n), m:value(labels).
function M.counter(name, help, labels) return mcore.family("counter", name, help, labels) end
--- A gauge: m:set(labels, v), m:inc(labels, n) (n may be negative).
function M.gauge(name, help, labels) return mcore.family("gauge", name, help, labels) end
--- A histogram: m:observe(labels, v); buckets: increasing upper bounds.
function M.histogram(name, help, labels, buckets)
  return mcore.family("histogram", name, help, labels, buckets)
end

---------------------------------------------------------------------------
-- Endpoint templates: the label is a StockX path pattern, never a raw path
---------------------------------------------------------------------------

local TEMPLATES = {
  "/catalog/search", "/catalog/ingestion", "/catalog/ingestion/{id}",
  "/catalog/products/{id}", "/catalog/products/{id}/market-data",
  "/catalog/products/{id}/variants", "/catalog/products/{id}/variants/{id}",
  "/catalog/products/{id}/variants/{id}/market-data",
  "/catalog/products/variants/gtins/{id}",
  "/selling/listings", "/selling/listings/{id}", "/selling/listings/{id}/activate",
  "/selling/listings/{id}/deactivate", "/selling/listings/{id}/operations",
  "/selling/listings/{id}/operations/{id}",
  "/selling/orders/active", "/selling/orders/history", "/selling/orders/{id}",
  "/selling/orders/{id}/shipping-document", "/selling/orders/{id}/shipping-document/{id}",
}
for _, op in ipairs({ "create-listing", "update-listing", "delete-listing" }) do
  for _, t in ipairs({ "", "/{id}", "/{id}/items" }) do
    TEMPLATES[#TEMPLATES + 1] = "/selling/batch/" .. op .. t
  end
end

-- by segment count; literal segments win over {id} (orders/active)
local by_count = {}
for _, t in ipairs(TEMPLATES) do
  local segs = {}
  for s in t:gmatch("[^/]+") do segs[#segs + 1] = s end
  local _, params = t:gsub("{id}", "")
  local list = by_count[#segs] or {}
  list[#list + 1] = { segs = segs, params = params, name = t }
  by_count[#segs] = list
end
for _, list in pairs(by_count) do
  table.sort(list, function(a, b)
    if a.params ~= b.params then return a.params < b.params end
    return a.name < b.name
  end)
end

--- The endpoint label of an API path ("/selling/listings/abc?x=1" ->
-- "/selling/listings/{id}"); anything else (other hosts too) is "other".
function M.endpoint(path)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then return "other" end
  path = path:gsub("[?#].*$", "")
  local segs = {}
  for s in path:gmatch("[^/]+") do segs[#segs + 1] = s end
  for _, t in ipairs(by_count[#segs] or {}) do
    local ok = true
    for i, s in ipairs(t.segs) do
      if s ~= "{id}" and s ~= segs[i] then ok = false; break end
    end
    if ok then return t.name end
  end
  return "other"
end

---------------------------------------------------------------------------
-- Built-in series
---------------------------------------------------------------------------

local B = {
  requests = M.counter("stockx_requests_total",
    "Requests finished, by method, endpoint template and status class "
    .. "(error: no HTTP answer).", { "method", "endpoint", "status_class" }),
  duration = M.histogram("stockx_request_duration_seconds",
    "Time from the call to its answer, queueing, limiter waits and retries included.",
    { "method", "endpoint" }, SECONDS),
  attempts = M.counter("stockx_attempts_total", "HTTP attempts (transfers) started."),
  retries = M.counter("stockx_retries_total", "Attempts that were retries, by reason "
    .. "(429, 5xx, timeout, connect, reset, dns, tls, other).", { "reason" }),
  queue_wait = M.histogram("stockx_queue_wait_seconds", "Time each request (all its "
    .. "attempts) waited in the admission queue: the rate limiter, 429 pauses, "
    .. "the connection limit.", nil, SECONDS),
  r429 = M.counter("stockx_responses_429_total", "Answers 429 Too Many Requests."),
  connections = M.counter("stockx_connections_opened_total", "Connections opened."),
  failed = M.counter("stockx_transport_failures_total",
    "Requests that ended with a transport error."),
  in_flight = M.gauge("stockx_requests_in_flight", "Transfers running now."),
  queued = M.gauge("stockx_requests_queued", "Requests waiting in the admission queue."),
  wait = M.gauge("stockx_ratelimit_wait_seconds",
    "How long the head of the queue has been held by the limiter or a 429 pause."),
  pause = M.gauge("stockx_ratelimit_pause_seconds", "What is left of a 429 pause."),
  learned = M.gauge("stockx_ratelimit_learned_rate", "Requests per second the adaptive "
    .. "limiter allows now."),
  quota_left = M.gauge("stockx_quota_left", "Requests left of the UTC day's quota."),
  quota_used = M.gauge("stockx_quota_used", "Requests counted against the UTC day's quota."),
  tasks = M.gauge("stockx_tasks", "Live tasks."),
  build = M.gauge("stockx_build_info", "Versions, as labels; the value is 1.",
    { "version", "lua", "curl" }),
  runs = M.counter("stockx_job_runs_total", "Scheduled job runs by job and outcome "
    .. "(ok, error, timeout, cancelled, skipped).", { "job", "outcome" }),
  job_duration = M.histogram("stockx_job_duration_seconds", "Duration of job runs.",
    { "job" }, JOB_SECONDS),
  job_success = M.gauge("stockx_job_last_success_timestamp_seconds",
    "Unix time of the job's last successful run.", { "job" }),
}
-- optional series from fields other stats() may carry
local breaker_state, cache = nil, nil

do
  local v = core.version()
  B.build:set({ version = v.stockx, lua = v.lua, curl = v.curl }, 1)
  -- visible at 0 from the start, so rate() sees the first increase
  for _, k in ipairs({ "attempts", "r429", "connections", "failed" }) do
    B[k]:inc(nil, 0)
  end
  for _, r in ipairs(RETRY_REASONS) do B.retries:inc({ reason = r }, 0) end
end

local function class_of(status)
  if type(status) ~= "number" or status < 100 or status > 599 then return "error" end
  return (status // 100) .. "xx"
end

local METHODS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true,
  HEAD = true, OPTIONS = true }

--- One finished request (stockx.lua's send): method, path as given (an API
-- path or a URL), the status (nil: transport failure) and seconds taken.
function M.record_request(method, path, status, seconds, queue_wait)
  local labels = { method = METHODS[method] and method or "other", endpoint = M.endpoint(path) }
  B.duration:observe(labels, seconds)
  if type(queue_wait) == "number" then B.queue_wait:observe(nil, queue_wait) end
  labels.status_class = class_of(status)
  B.requests:inc(labels)
end

--- One job run (schedule.lua): outcome ok/error/timeout/cancelled/skipped;
-- seconds nil for a skipped run.
function M.record_job(name, outcome, seconds)
  local job = { job = name }
  B.runs:inc({ job = name, outcome = outcome })
  if seconds then B.job_duration:observe(job, seconds) end
  if outcome == "ok" then B.job_success:set(job, (core.clock())) end
end

-- counters from stats(): add what they grew by since the last scrape
local function catch_up(m, v)
  if type(v) ~= "number" then return end
  local d = v - m:value()
  if d > 0 then m:inc(nil, d) end
end

local function gauge(m, v, labels)
  if type(v) == "number" then m:set(labels, v) end
end

local BREAKER = { closed = 0, half_open = 1, ["half-open"] = 1, open = 2 }

-- stats().breakers, if present: { [origin] = "closed"|"open"|... or {state=} }
local function breakers(st)
  if type(st.breakers) ~= "table" then return end
  breaker_state = breaker_state or M.gauge("stockx_breaker_state",
    "Circuit breaker state by origin: 0 closed, 1 half-open, 2 open.", { "origin" })
  for origin, b in pairs(st.breakers) do
    local s = type(b) == "table" and b.state or b
    local v = type(s) == "number" and s or BREAKER[s]
    if type(origin) == "string" and v then breaker_state:set({ origin = origin }, v) end
  end
end

local function caches(st)
  if type(st.cache_hits) ~= "number" then return end
  cache = cache or {
    hits = M.counter("stockx_cache_hits_total", "Response cache hits."),
    misses = M.counter("stockx_cache_misses_total", "Response cache misses."),
    evictions = M.counter("stockx_cache_evictions_total", "Response cache evictions."),
  }
  catch_up(cache.hits, st.cache_hits)
  catch_up(cache.misses, st.cache_misses)
  catch_up(cache.evictions, st.cache_evictions)
end

--- Fills the series read from stockx.stats() (called before rendering).
function M.collect()
  -- stockx.stats(): the client's counters and the library's (the cache)
  local sx = loaded.stockx
  local st = sx and sx.stats and sx.stats() or core.stats()
  catch_up(B.attempts, st.attempts)
  if type(st.retries_by) == "table" then
    for _, r in ipairs(RETRY_REASONS) do
      local v, l = st.retries_by[r], { reason = r }
      if type(v) == "number" and v > B.retries:value(l) then
        B.retries:inc(l, v - B.retries:value(l))
      end
    end
  end
  catch_up(B.r429, st.status_429)
  catch_up(B.connections, st.connections)
  catch_up(B.failed, st.failed)
  gauge(B.in_flight, st.in_flight)
  gauge(B.queued, st.queued)
  gauge(B.wait, st.limiter_wait)
  gauge(B.pause, st.pause_left)
  gauge(B.learned, st.rate_learned)
  gauge(B.quota_left, st.quota_left)
  gauge(B.quota_used, st.quota_used)
  gauge(B.tasks, st.tasks)
  breakers(st)
  caches(st)
end

--- The exposition (text format 0.0.4), built-in series filled first.
function M.text()
  M.collect()
  return mcore.text()
end

--- Writes the exposition to path (must end in .prom): atomic, mode 0644.
-- @return true | nil, message
function M.write(path)
  M.collect()
  return mcore.write(path)
end

---------------------------------------------------------------------------
-- metrics_addr and metrics_file
---------------------------------------------------------------------------

local CTYPE = "text/plain; version=0.0.4; charset=utf-8"
local server -- the /metrics listener, while serving

local function handler(req)
  if req.path ~= "/metrics" then
    return { status = 404, headers = { ["Content-Type"] = "text/plain" }, body = "not found\n" }
  end
  if req.method ~= "GET" and req.method ~= "HEAD" then
    return { status = 405, headers = { ["Allow"] = "GET, HEAD" }, body = "" }
  end
  return { status = 200, headers = { ["Content-Type"] = CTYPE }, body = M.text() }
end

local LOOPBACK = { ["127.0.0.1"] = true, ["::1"] = true, localhost = true }

--- "HOST:PORT" ("[::1]:9464") -> host, port | raises naming the setting.
function M.parse_addr(addr, public)
  local host, port = addr:match("^%[([%x:]+)%]:(%d+)$")
  if not host then host, port = addr:match("^([%w%.%-]+):(%d+)$") end
  if not host then
    error("metrics_addr: '" .. addr .. "' is not HOST:PORT (127.0.0.1:9464)", 0)
  end
  local n = tonumber(port)
  if #port > 5 or n > 65535 then
    error("metrics_addr: port " .. port .. " is not from 0 to 65535", 0)
  end
  if not public and not LOOPBACK[host] and not host:match("^127%.%d+%.%d+%.%d+$") then
    error("metrics_addr: " .. host .. " is not a loopback address (set metrics_public "
      .. "to serve other interfaces)", 0)
  end
  return host, n
end

--- Starts serving GET /metrics on host:port; returns the port.
function M.serve(addr, public)
  local host, port = M.parse_addr(addr, public)
  if server then server:close() end
  local srv, err = require("stockx.server").listen { host = host, port = port,
    handler = handler }
  if not srv then error("metrics_addr: cannot listen on " .. addr .. ": " .. tostring(err), 0) end
  server = srv
  core.log("info", nil, { addr = host .. ":" .. srv:port() }, "metrics.listen")
  return srv:port()
end

local file, interval, writer -- metrics_file, its period, the writer task

local function write_now()
  local ok, err = M.write(file)
  if not ok then core.log("warn", nil, { error = err }, "metrics.write") end
end

-- Writes every interval while other tasks live, then once more and ends:
-- it never keeps a finished script alive (nor does the listener).
local function write_loop()
  local last = core.now()
  while true do
    core.sleep(M.STEP)
    local alone = core.stats().tasks <= 1
    if alone or core.now() - last >= interval then
      write_now()
      last = core.now()
    end
    if alone then
      writer = nil
      if server then server:close(); server = nil end
      return
    end
  end
end

--- Applies metrics_addr/metrics_file/metrics_interval from settings (at
-- start-up and after stockx.configure); raises naming a bad value.
function M.apply(s)
  if s.metrics_file then
    if not s.metrics_file:match("[^/]%.prom$") then
      error("metrics_file: '" .. s.metrics_file .. "' must end in .prom (node_exporter's "
        .. "textfile collector reads only those)", 0)
    end
    file, interval = s.metrics_file, s.metrics_interval or 15
    if not writer then writer = core.spawn(write_loop) end
  end
  if s.metrics_addr and s.metrics_addr ~= M.addr then
    M.serve(s.metrics_addr, s.metrics_public)
    M.addr = s.metrics_addr
  end
end

M._internal = { class_of = class_of, templates = TEMPLATES }

return M
