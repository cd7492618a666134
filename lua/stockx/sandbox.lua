--- The local StockX sandbox: a fake of the StockX API v2 (at the root of
-- http://127.0.0.1:PORT, no /v2) served on the program's event loop, in a
-- Lua state of its own (src/lsandbox.c).
-- The routes live in stockx.sandbox.*; this module routes, authenticates,
-- limits, injects faults, settles pending work and keeps the state.
local server = require("stockx.server")
local admin = require("stockx.sandbox.admin")
local batch = require("stockx.sandbox.batch")
local catalog = require("stockx.sandbox.catalog")
local data = require("stockx.sandbox.data")
local faults = require("stockx.sandbox.faults")
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")
local limits = require("stockx.sandbox.limits")
local listings = require("stockx.sandbox.listings")
local oauth = require("stockx.sandbox.oauth")
local orders = require("stockx.sandbox.orders")
local testing = require("stockx.sandbox.testing")
local util = require("stockx.sandbox.util")

local M = {}

local DEFAULT_API_KEY = "sandbox-api-key"
local DEFAULT_ACCESS_TOKEN = "sandbox-access-token"
local LOG_MAX = 20000

M.DEFAULTS = { async_polls = 2, async_ms = 300, token_ttl = 43200,
  rate_limit = "1/1s", quota = 25000, retry_after = true, body_429 = "api" }

--------------------------------------------------------------------------
-- Routing.  Each route: method ("*": any), path template, handler, and
-- kind: "stockx" (API key + bearer, rate limit, faults), "oauth" (faults
-- only), "test" or "admin" (neither; admin requests are not counted in
-- the stats).  Routes are grouped by their first path segment; the first
-- match in a group wins.
--------------------------------------------------------------------------

local function compile_routes(modules)
  local groups = {}
  for _, mod in ipairs(modules) do
    for _, r in ipairs(mod.routes) do
      local pattern = "^" .. r[2]:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
        :gsub("{[%w]+}", "([^/]+)") .. "$"
      local seg = r[2]:match("^/([^/]*)")
      groups[seg] = groups[seg] or {}
      table.insert(groups[seg], { method = r[1], name = r[1] .. " " .. r[2],
        pattern = pattern, fn = r[3], kind = r.kind or "stockx",
        write = r.write })
    end
  end
  return groups
end

local ROUTES = compile_routes{ catalog, listings, batch, orders, oauth,
                               testing, admin }

-- -> route, {captures}; HEAD is routed as GET.
local function match_route(method, path)
  if method == "HEAD" then method = "GET" end
  for _, r in ipairs(ROUTES[path:match("^/([^/]*)") or ""] or {}) do
    if r.method == method or r.method == "*" then
      local caps = { path:match(r.pattern) }
      if caps[1] then return r, caps end
    end
  end
end

--------------------------------------------------------------------------
-- Configuration: async_polls, async_ms, token_ttl, rate_limit, quota,
-- retry_after, body_429.
--------------------------------------------------------------------------

local function check(ok, msg)
  if not ok then error(msg, 0) end
end

local CHECK_CONFIG = {
  async_polls = function(v)
    check(v == false or (math.tointeger(v) and v >= 0),
          "async_polls must be an integer >= 0, or false")
    return v and math.tointeger(v)
  end,
  async_ms = function(v)
    check(v == false or (type(v) == "number" and v >= 0 and v < math.huge),
          "async_ms must be milliseconds >= 0, or false")
    return v
  end,
  token_ttl = function(v)
    check(math.tointeger(v) and v >= 1 and v <= 10 * 365 * 86400,
          "token_ttl must be seconds (an integer >= 1)")
    return math.tointeger(v)
  end,
  rate_limit = function(v)
    local r, e = limits.parse_rate(v)
    check(r ~= nil, e)
    return r
  end,
  quota = function(v)
    if v == false or v == "off" then return false end
    v = tonumber(v)
    check(v and math.tointeger(v) and v >= 1,
          "quota must be an integer >= 1, or false")
    return math.tointeger(v)
  end,
  retry_after = function(v)
    check(type(v) == "boolean", "retry_after must be true or false")
    return v
  end,
  body_429 = function(v)
    check(v == "api" or v == "gateway", 'body_429 must be "api" or "gateway"')
    return v
  end,
}

-- A checked copy of cfg with the changes in t applied; raises on bad ones.
local function merged_config(cfg, t)
  local out = {}
  for k, v in pairs(cfg) do out[k] = v end
  for k, v in pairs(t) do
    check(CHECK_CONFIG[k], "unknown config option " .. tostring(k))
    if v == json.null then v = false end
    out[k] = CHECK_CONFIG[k](v)
  end
  return out
end

--------------------------------------------------------------------------
-- The sandbox object.
--------------------------------------------------------------------------

local Sandbox = {}
Sandbox.__index = Sandbox

--- True when the request carries the sandbox's x-api-key and a bearer
-- token that is the static one or an unexpired issued one.
function Sandbox:auth_ok(req)
  local h = req.headers
  local auth = h["authorization"] or ""
  local token = auth:match("^[Bb][Ee][Aa][Rr][Ee][Rr] +(.-)%s*$")
  if h["x-api-key"] ~= self.api_key or not token then return false end
  return token == self.access_token or oauth.token_ok(self, token)
end

--- A new UUID from the state's generator.
function Sandbox:new_id()
  return self.rng:uuid()
end

function Sandbox:new_ask_id()
  return self.rng:ask_id()
end

--- Marks the state as changed (saved at the end of the request).
function Sandbox:changed()
  self.dirty = true
end

--- Queues work for Sandbox:settle: kind "op", "batch" or "ingestion".
function Sandbox:add_pending(kind, id)
  local p = self.state.pending
  p[#p + 1] = { kind = kind, id = id }
  self:changed()
end

--- How far pending work (with _polls and _t0) has come, 0..1: the larger
-- of reads/async_polls and elapsed/async_ms (false turns a rule off).
function Sandbox:progress(obj)
  local c, p = self.cfg, 0
  if c.async_polls then
    p = c.async_polls <= 0 and 1 or (obj._polls or 0) / c.async_polls
  end
  if c.async_ms then
    local q = c.async_ms <= 0 and 1
      or (util.now() - (obj._t0 or 0)) * 1000 / c.async_ms
    if q > p then p = q end
  end
  return math.min(p, 1)
end

local function settle_one(sb, e)
  if e.kind == "op" then
    local op = sb.idx.op_by_id[e.id]
    if not op or op.operationStatus ~= "PENDING" then return true end
    if sb:progress(op) < 1 then return false end
    listings.settle_op(sb, op)
    return true
  elseif e.kind == "batch" then
    local b = sb.state.batches[e.id]
    if not b or b.status == "COMPLETED" then return true end
    return batch.progress(sb, b, sb:progress(b))
  elseif e.kind == "ingestion" then
    local job = sb.state.ingestions[e.id]
    if not job then return true end
    return catalog.progress_ingestion(sb, job, sb:progress(job))
  end
  return true
end

--- Moves pending operations, batches and ingestion jobs along; called
-- before every StockX request, so the work is done lazily but on time.
function Sandbox:settle()
  local pend = self.state.pending
  if #pend == 0 then return end
  local keep = json.array()
  for _, e in ipairs(pend) do
    if not settle_one(self, e) then keep[#keep + 1] = e end
  end
  if #keep ~= #pend then
    self.state.pending = keep
    self:changed()
  end
end

--- The text of the next operation_fail fault matching req, or nil.
function Sandbox:take_operation_fail(req)
  return self.faults:take_operation_fail(req, self.fault_rng, server.now())
end

local function limited_reply(cfg, kind, wait)
  local msg = kind == "rate" and "Too Many Requests" or "Limit Exceeded"
  local h = cfg.retry_after
    and { ["Retry-After"] = tostring(math.max(1, math.ceil(wait))) } or nil
  if cfg.body_429 == "gateway" then
    return http.reply(429, { message = msg }, h)
  end
  return http.err(429, msg, h)
end

--- The rate limit and daily quota of the request's API key: nil, or a
-- 429 reply.
function Sandbox:limit(req)
  local c = self.cfg
  if not c.rate_limit and not c.quota then return nil end
  local kind, wait = self.limiter:check(c.rate_limit, c.quota,
    req.headers["x-api-key"] or "", server.now(), util.now())
  return kind and limited_reply(c, kind, wait) or nil
end

-- A StockX or OAuth route: auth and limits (StockX only), pending work,
-- faults, then the route.
function Sandbox:call_api(route, req, caps)
  if route.kind == "stockx" then
    if not self:auth_ok(req) then return http.err(401, "Unauthorized") end
    local limited = self:limit(req)
    if limited then return limited end
  end
  self:settle()
  local f = self.faults:take(req, self.fault_rng, server.now())
  local reply
  if f and f.status then
    reply = faults.status_reply(f)
  else
    reply = route.fn(self, req, table.unpack(caps))
  end
  return f and faults.apply(f, reply, self.fault_rng) or reply
end

function Sandbox:record(req, route, reply, t)
  local st = self.counters
  local status = reply.stall and 0 or reply.status or 200
  st.requests = st.requests + 1
  if status == 429 then st.status_429 = st.status_429 + 1 end
  local name = route and route.name or "unmatched"
  st.routes[name] = (st.routes[name] or 0) + 1
  st.nlog = st.nlog + 1
  -- StockX documents no Idempotency-Key and ignores one; the log keeps
  -- it, so tests can see what the client sent on each attempt
  st.log[(st.nlog - 1) % LOG_MAX + 1] = { method = req.method,
    path = req.path, t = t, status = status,
    idempotency_key = req.headers["idempotency-key"] }
end

local function dispatch(sb, route, req, caps)
  if not route then return http.not_found() end
  if route.kind == "stockx" or route.kind == "oauth" then
    return sb:call_api(route, req, caps)
  end
  return route.fn(sb, req, table.unpack(caps))
end

--- Answers one request (the stockx.server handler).  A Lua error in a
-- route is counted as a 500 and re-raised: stockx.server logs it and
-- answers 500 {"statusCode":500,"message":"sandbox error: ..."}.
function Sandbox:handle(req)
  local t = server.now()
  local route, caps = match_route(req.method, req.path)
  local ok, reply = xpcall(dispatch, debug.traceback, self, route, req, caps)
  if not route or route.kind ~= "admin" then
    self:record(req, route, ok and reply or { status = 500 }, t)
  end
  if self.dirty then self:save() end
  if not ok then error(reply, 0) end
  return reply
end

--------------------------------------------------------------------------
-- Stats, state, config, faults.
--------------------------------------------------------------------------

-- A name for an API key that does not reveal it.
function Sandbox:key_label(key)
  if key == self.api_key then return "default" end
  return "key-" .. util.fnv32(key)
end

--- The counters since the last reset (connections: since the start), the
-- rate-limit and quota state per API key, and the pending work.
function Sandbox:stats()
  local st, log = self.counters, json.array()
  for n = math.max(1, st.nlog - LOG_MAX + 1), st.nlog do
    log[#log + 1] = st.log[(n - 1) % LOG_MAX + 1]
  end
  local limits_now = self.limiter:snapshot(self.cfg.rate_limit,
    self.cfg.quota, server.now(), util.now(),
    function(k) return self:key_label(k) end)
  return { connections = self.srv and self.srv:connections() or 0,
    requests = st.requests, status_429 = st.status_429, routes = st.routes,
    log = log, limits = limits_now, pending = #self.state.pending,
    save_error = self.save_error }
end

--- Writes the state to the --state file, if any.
function Sandbox:save()
  self.dirty = false
  if not self.state_path then return end
  self.state.rng = self.rng:save()
  local ok, e = data.save(self.state_path, self.state)
  if not ok and e ~= self.save_error and self.srv then
    io.stderr:write("stockx sandbox: cannot save state to ",
                    self.state_path, ": ", tostring(e), "\n")
  end
  self.save_error = not ok and e or nil
end

-- Uses st as the state (seed and epoch come with it).
function Sandbox:use_state(st)
  if st.seed ~= self.seed or not self.catalog then
    self.seed = st.seed
    self.catalog = data.catalog(st.seed)
  end
  self.epoch = st.epoch
  self.state, self.idx = st, data.index(st)
  self.rng = util.restore_rng(st.rng) or util.new_rng(st.seed, 9, 0)
end

-- Counters, config, limiter state and faults as serve{} set them.
function Sandbox:reset_runtime()
  self.counters = { requests = 0, status_429 = 0, routes = {}, log = {},
                    nlog = 0 }
  self.flaky = {}
  self.cfg = merged_config(self.initial_cfg, {})
  self.limiter = limits.new()
  self.fault_rng = util.new_rng(self.seed, 3, 0)
  self.faults = faults.new_set()
  for _, f in ipairs(self.initial_faults) do
    self.faults:add(f, server.now())
  end
end

--- Clears counters, the log, flaky counters, limiter state and faults;
-- puts config, rate limit and faults back to what serve{} set; restores
-- the seeded account (listings, orders, operations, batches, tokens).
function Sandbox:reset()
  self:reset_runtime()
  self:use_state(data.account(self.seed, self.catalog, self.epoch))
  self:changed()
end

--- The current config, as GET /_sandbox/config shows it.
function Sandbox:config()
  local c = self.cfg
  return { async_polls = c.async_polls, async_ms = c.async_ms,
    token_ttl = c.token_ttl, rate_limit = limits.format_rate(c.rate_limit),
    quota = c.quota, retry_after = c.retry_after, body_429 = c.body_429 }
end

--- Changes some config options (see M.serve); raises on a bad one and
-- then changes nothing.  A new rate limit starts with no history.
function Sandbox:set_config(t)
  local cfg = merged_config(self.cfg, t)
  if t.rate_limit ~= nil then
    for _, k in pairs(self.limiter.keys) do k.tat = 0 end
  end
  self.cfg = cfg
end

--- Sets the rate limit as POST /_sandbox/rate_limit does:
-- {rate=1, period=1, burst=, retry_after=true, body="api"|"gateway"} or
-- {off=true}; false or nil also turn it off.
function Sandbox:set_rate_limit(cfg)
  cfg = cfg or { off = true }
  local rate, e = limits.parse_rate(cfg)
  check(rate ~= nil, e)
  check(cfg.body == nil or cfg.body == "api" or cfg.body == "gateway",
        'body must be "api" or "gateway"')
  self.limiter = limits.new()
  self.cfg.rate_limit = rate
  if rate then
    self.cfg.retry_after = cfg.retry_after ~= false
    self.cfg.body_429 = cfg.body or "api"
  end
end

--- Adds a fault (a table, or a spec string for M.parse_fault); returns
-- its id; raises when it is bad.
function Sandbox:add_fault(f)
  return self.faults:add(f, server.now())
end

function Sandbox:clear_faults()
  self.faults = faults.new_set()
end

--- How many listings the default GET /selling/listings counts.
function Sandbox:visible_listings()
  local n, now = 0, util.iso(util.now())
  for _, l in ipairs(self.state.listings) do
    if l.status ~= "DELETED" and not (l.ask ~= json.null
      and l.ask.askExpiresAt and l.ask.askExpiresAt <= now) then
      n = n + 1
    end
  end
  return n
end

--- The ids of listings whose ask has expired.
function Sandbox:expired_listings()
  local out, now = json.array(), util.iso(util.now())
  for _, l in ipairs(self.state.listings) do
    if l.ask ~= json.null and l.ask.askExpiresAt
      and l.ask.askExpiresAt <= now then
      out[#out + 1] = l.listingId
    end
  end
  return out
end

function Sandbox:port()
  return self.srv:port()
end

--- The base URL for clients: "http://127.0.0.1:PORT" (no /v2).
function Sandbox:url()
  local host = self.host == "0.0.0.0" and "127.0.0.1" or self.host
  return "http://" .. host .. ":" .. self.srv:port()
end

function Sandbox:close()
  if self.dirty then self:save() end
  self.srv:close()
end

Sandbox.__close = Sandbox.close

--------------------------------------------------------------------------
-- Starting.
--------------------------------------------------------------------------

-- serve{} options -> the initial config (raises on bad ones).
local function initial_config(opts)
  local t = {}
  for k in pairs(CHECK_CONFIG) do
    if opts[k] ~= nil then t[k] = opts[k] end
  end
  local rl = opts.rate_limit
  if type(rl) == "table" then
    if rl.retry_after ~= nil and t.retry_after == nil then
      t.retry_after = rl.retry_after ~= false
    end
    if rl.body ~= nil and t.body_429 == nil then t.body_429 = rl.body end
  end
  local base = {}
  for k, v in pairs(M.DEFAULTS) do base[k] = CHECK_CONFIG[k](v) end
  return merged_config(base, t)
end

local function default_epoch()
  return (math.floor(util.now() / 86400) - 90) * 86400
end

--- Starts a sandbox.
-- @param opts {port=0, host="127.0.0.1", seed=1, api_key=, access_token=,
--   client_id=, client_secret=, state=path or nil (load it if it exists,
--   save it after every change), epoch=seconds (the seeded data's time
--   origin; default: 90 days before today, 00:00 UTC),
--   rate_limit="1/1s" | "N/Ps[,burst=B]" | "off" | false |
--   {rate=, period=, burst=, retry_after=, body=}, quota=25000 | false,
--   retry_after=true, body_429="api"|"gateway", async_polls=2,
--   async_ms=300, token_ttl=43200, faults={spec string or table, ...}}
-- @return the sandbox: :port(), :url(), :close(), :stats(), :reset(),
--   :add_fault(f), :clear_faults(), :set_rate_limit(cfg), :config(),
--   :set_config(t), :save(), .api_key, .access_token, .client_id,
--   .client_secret
function M.serve(opts)
  opts = opts or {}
  local seed = math.tointeger(tonumber(opts.seed or 1))
  if not seed then error("stockx.sandbox.serve: seed must be an integer", 2) end
  local ok, cfg = pcall(initial_config, opts)
  if not ok then error("stockx.sandbox.serve: " .. cfg, 2) end
  local sb = setmetatable({
    host = opts.host or "127.0.0.1", seed = seed,
    api_key = opts.api_key or DEFAULT_API_KEY,
    access_token = opts.access_token or DEFAULT_ACCESS_TOKEN,
    client_id = opts.client_id or oauth.DEFAULT_CLIENT_ID,
    client_secret = opts.client_secret or oauth.DEFAULT_CLIENT_SECRET,
    state_path = opts.state, initial_cfg = cfg,
    initial_faults = opts.faults or {},
  }, Sandbox)
  local fok, ferr = pcall(Sandbox.reset_runtime, sb)
  if not fok then error("stockx.sandbox.serve: bad fault: " .. ferr, 2) end
  local st, e
  if sb.state_path then
    st, e = data.load(sb.state_path)
    if e then error("stockx.sandbox.serve: " .. e, 2) end
  end
  if st then
    sb:use_state(st)
  else
    sb.catalog = data.catalog(seed)
    sb:use_state(data.account(seed, sb.catalog, tonumber(opts.epoch)
      or default_epoch()))
    sb:changed()
  end
  local srv, lerr = server.listen{ host = sb.host, port = opts.port or 0,
    handler = function(req) return sb:handle(req) end }
  if not srv then error("stockx.sandbox.serve: " .. lerr, 2) end
  if sb.dirty then sb:save() end
  sb.srv = srv
  if sb.save_error then
    srv:close()
    error("stockx.sandbox.serve: cannot save state to " .. sb.state_path
      .. ": " .. tostring(sb.save_error), 2)
  end
  return sb
end

local function bad_flag(flag, v, why)
  return nil, "bad " .. flag .. " '" .. tostring(v) .. "'"
    .. (why and ": " .. why or "")
end

-- --quota: true and the value (nil: the default, false: off), or nil and
-- a message.
local function cli_quota(v)
  if v == nil or v == "off" then return true, v and false end
  local q = math.tointeger(tonumber(v))
  if not q or q < 1 then
    return bad_flag("--quota", v, "an integer >= 1, or off")
  end
  return true, q
end

--- serve{} options from the command line's strings (`stockx sandbox` and
-- `stockx run --sandbox`).
-- @param o {port=, seed=, state=, rate_limit=, quota=, faults={spec...}}
-- @return the options, or nil and a message naming the flag and value
function M.cli_options(o)
  local port = math.tointeger(tonumber(o.port or "0"))
  if not port or port < 0 or port > 65535 then
    return bad_flag("--port", o.port, "a port number in 0..65535")
  end
  local seed = o.seed and math.tointeger(tonumber(o.seed))
  if o.seed and not seed then return bad_flag("--seed", o.seed, "an integer") end
  local qok, quota = cli_quota(o.quota)
  if not qok then return nil, quota end
  if o.rate_limit ~= nil then
    local r, e = limits.parse_rate(o.rate_limit)
    if r == nil and e then return bad_flag("--rate-limit", o.rate_limit, e) end
  end
  local list = {}
  for i, spec in ipairs(o.faults or {}) do
    local f, e = faults.parse(spec)
    if not f then return bad_flag("--fault", spec, e) end
    list[i] = f
  end
  return { port = port, seed = seed, state = o.state,
    rate_limit = o.rate_limit, quota = quota, faults = list }
end

--- Parses a fault spec string ("[METHOD ]PATH:key=value,...").
-- @return the fault table, or nil and a message
M.parse_fault = faults.parse

M.DEFAULT_API_KEY = DEFAULT_API_KEY
M.DEFAULT_ACCESS_TOKEN = DEFAULT_ACCESS_TOKEN
M.DEFAULT_CLIENT_ID = oauth.DEFAULT_CLIENT_ID
M.DEFAULT_CLIENT_SECRET = oauth.DEFAULT_CLIENT_SECRET

-- For tests of this module only.
M._internal = { encode = json.encode, new_rng = util.new_rng,
  money = util.money, label_pdf = orders.label_pdf,
  b64encode = util.b64encode, b64decode = util.b64decode,
  catalog = data.catalog, account = data.account, parse_iso = util.parse_iso,
  parse_rate = limits.parse_rate, deterministic_bytes =
    testing.deterministic_bytes }

return M
