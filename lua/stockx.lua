--- The stockx module: the API that scripts call.
-- HTTP calls go through the pooled C client (stockx.core); this file adds
-- what is StockX knowledge or convenience: JSON, error values, pagination,
-- downloads, tasks, and coroutine wrappers that let waits pass through
-- user coroutines.

local core = require "stockx.core"
local cjson_mod = require "cjson"

local M = {}

local SENTINEL = core.SENTINEL
local co_create, co_resume, co_yield = coroutine.create, coroutine.resume,
  coroutine.yield
local co_status, co_close = coroutine.status, coroutine.close

---------------------------------------------------------------------------
-- JSON: a private cjson instance, so user settings don't change ours.
---------------------------------------------------------------------------

local cjson = cjson_mod.new()
cjson.encode_sparse_array(true)

--- Decodes JSON (strict RFC 8259, src/ljson.c): integer literals come back
-- as Lua integers, other numbers as floats, null as cjson.null.
local json_decode = core.json_decode

M.json = {
  encode = cjson.encode,
  decode = json_decode,
  null = cjson.null,
}

--- Money as integer minor units (lua/stockx/money.lua).
M.money = require "stockx.money"

local dryrun = require "stockx.dryrun"
local cache = require "stockx.cache"

---------------------------------------------------------------------------
-- Errors
---------------------------------------------------------------------------


--- Error values raised by get/post/... (and returned by request for
-- transport failures).  Fields: kind, status, method, url, path, message,
-- body, attempts, retry_after; retry_in (kind circuit_open).
local Error = {}
Error.__index = Error

local function display_path(url)
  local base = core.settings().base_url
  if base and url:sub(1, #base) == base then
    local rest = url:sub(#base + 1)
    if rest == "" or rest:match("^[/?#]") then return rest ~= "" and rest or "/" end
  end
  return url
end

Error.__tostring = function(e)
  local msg = e.message
  if msg == nil or msg == "" then msg = nil end
  if not e.method then -- cancelled, timeout: not about one request
    return e.kind .. (msg and (": " .. msg) or "")
  end
  local where = e.method .. " " .. (e.path or e.url or "?")
  if e.status then
    local s = where .. " -> " .. e.status .. " " .. (core.reason(e.status) or "")
    s = s:gsub(" $", "")
    if e.kind == "bad_response" then
      return s .. ": bad response: " .. (msg or "?")
    end
    s = msg and (s .. ": " .. msg) or s
    if e.kind == "rate_limited" and e.retry_after then
      s = s .. string.format(" (retry after %gs)", e.retry_after)
    end
    return s
  end
  return where .. " -> " .. e.kind .. (msg and (": " .. msg) or "")
end

core.set_error_mt(Error)
M.Error = Error

--- True if v is an error value raised or returned by stockx.
function M.is_error(v)
  return getmetatable(v) == Error
end

-- StockX's message field, then errorMessage, then error, then the raw text.
local function body_message(body, ctype)
  if body == nil or body == "" then return nil end
  local ok, doc = pcall(json_decode, body)
  if ok and type(doc) == "table" then
    for _, k in ipairs { "message", "errorMessage", "error", "error_description" } do
      if type(doc[k]) == "string" and doc[k] ~= "" then return doc[k] end
    end
  end
  if ctype and ctype:find("html", 1, true) then return nil end
  local text = body:gsub("%s+", " ")
  if #text > 200 then text = text:sub(1, 200) .. "..." end
  return text
end

local function http_error(res)
  local kind = res.status == 429 and "rate_limited" or "http"
  return setmetatable({
    kind = kind, status = res.status, method = res.method, url = res.url,
    path = display_path(res.url),
    message = body_message(res.body, res.content_type),
    body = res.body, attempts = res.attempts, retry_after = res.retry_after,
    headers = res.headers,
  }, Error)
end

local function raise(e)
  error(e, 0)
end

---------------------------------------------------------------------------
-- Argument checks
---------------------------------------------------------------------------

-- Argument errors name the argument and point at the user's line (the
-- first frame outside this library), whatever the depth of the call.
local argerror = require("stockx.args").error

local function check(fname, pos, name, v, want, optional)
  local t = type(v)
  if t == want or (optional and v == nil) then return v end
  argerror(fname, pos, name, string.format("%s expected, got %s", want,
    v == nil and "no value" or t))
end

---------------------------------------------------------------------------
-- Requests
---------------------------------------------------------------------------

local function has_header(headers, name)
  for k in pairs(headers) do
    if type(k) == "string" and k:lower() == name then return true end
  end
  return false
end

local function check_opts(fname, o)
  check(fname, 1, "method", o.method, "string", true)
  check(fname, 1, "path", o.path, "string")
  local q = o.query
  if q ~= nil and type(q) ~= "table" and type(q) ~= "string" then
    check(fname, 1, "query", q, "table")
  end
  check(fname, 1, "headers", o.headers, "table", true)
  if o.body ~= nil and type(o.body) ~= "string" and type(o.body) ~= "table" then
    check(fname, 1, "body", o.body, "string or table")
  end
  check(fname, 1, "timeout", o.timeout, "number", true)
  check(fname, 1, "idempotent", o.idempotent, "boolean", true)
  check(fname, 1, "download", o.download, "string", true)
  local key = o.idempotency_key
  if key ~= nil and type(key) ~= "boolean" and type(key) ~= "string" then
    check(fname, 1, "idempotency_key", key, "boolean or string")
  end
  if type(key) == "string" and (#key > 255 or not key:match("^[!-~]+$")) then
    argerror(fname, 1, "idempotency_key",
      "1 to 255 visible ASCII characters expected")
  end
end

--- A random UUID version 4 (RFC 9562), from the kernel's CSPRNG.
function M.uuid()
  local b = { core.random(16):byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local h = string.format(string.rep("%02x", 16), table.unpack(b))
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" ..
    h:sub(17, 20) .. "-" .. h:sub(21)
end

-- opts.idempotency_key: true (a new UUID for this call) or the caller's
-- string, sent as Idempotency-Key on every attempt of the call, which is
-- then retried on transient failures like an idempotent request (unless
-- opts.idempotent is false).
local function idempotency(key, headers, idempotent)
  if not key then return headers, idempotent end
  local h = { ["Idempotency-Key"] = key == true and M.uuid() or key }
  for k, v in pairs(headers or {}) do
    if type(k) ~= "string" or k:lower() ~= "idempotency-key" then h[k] = v end
  end
  if idempotent == nil then idempotent = true end
  return h, idempotent
end

-- stockx.auth when the access token comes from the token file, else false.
local auth_mod
local function managed_auth()
  if auth_mod == nil then
    auth_mod = require "stockx.auth"
  end
  return auth_mod.active() and auth_mod
end

-- Each finished request counts in stockx.metrics (endpoint templates only).
local metrics_mod = require "stockx.metrics"
local function record(method, res, err, path, seconds)
  local url = res and res.url or err and err.url
  metrics_mod.record_request(method, url and display_path(url) or path,
    res and res.status, seconds, res and res.queue_wait)
end

-- The one path to core.request: encodes the query and a table body.
local function send(fname, method, path, query, headers, body, timeout,
                    idempotent, download)
  if type(query) == "table" then query = core.query(query) end
  if type(body) == "table" then
    body = cjson.encode(body)
    if not (headers and has_header(headers, "content-type")) then
      local h = { ["Content-Type"] = "application/json" }
      if headers then for k, v in pairs(headers) do h[k] = v end end
      headers = h
    end
  end
  -- API paths (not absolute URLs) under tokens from `stockx login`: the
  -- token is refreshed before it expires, and once after a 401
  local auth = path and not path:find("^%a[%w+.-]*://") and managed_auth()
  local t0 = core.now()
  if auth then auth.before() end
  local token = auth and auth.current()
  local res, err = core.request(method, path, query, headers, body, timeout,
    idempotent, download, fname)
  if auth and res and res.status == 401 and auth.after_401(token) then
    res, err = core.request(method, path, query, headers, body, timeout,
      idempotent, download, fname)
  end
  record(method, res, err, path, core.now() - t0)
  return res, err
end

--- Low-level request: returns res for any HTTP status, or nil, err for a
-- transport failure.
-- @param o {method=, path=, query=, body=, headers=, timeout=, idempotent=}
function M.request(o)
  check("stockx.request", 1, "options", o, "table")
  check_opts("stockx.request", o)
  local method = o.method and o.method:upper() or "GET"
  local headers, idempotent = idempotency(o.idempotency_key, o.headers,
    o.idempotent)
  if method == "GET" or method == "HEAD" then
    return send("stockx.request", method, o.path, o.query, headers, o.body,
      o.timeout, idempotent, o.download)
  end
  -- a write: the cache forgets what it touches (never read from it)
  cache.on_write(o.path, o.body)
  local res, err = send("stockx.request", method, o.path, o.query, headers,
    o.body, o.timeout, idempotent, o.download)
  cache.on_write(o.path, o.body)
  return res, err
end

local function decode(res)
  local body = res.body
  local ctype = res.content_type or ""
  local looks_json = ctype:find("json", 1, true) or
    (ctype == "" and body:match("^%s*[%[{]"))
  if body == "" or not looks_json then return body end
  local ok, data = pcall(json_decode, body)
  if not ok then
    raise(setmetatable({
      kind = "bad_response", status = res.status, method = res.method,
      url = res.url, path = display_path(res.url),
      message = tostring(data),
      body = body, attempts = res.attempts,
    }, Error))
  end
  return data
end

-- The GET cache (lua/stockx/cache.lua): a GET the rules cache, without
-- opts.cache == false, own headers or a download, is answered from it
-- (no yield, no limiter) or fetched once for every identical caller.

local function cached_get(fname, path, query, ttl, timeout, idempotent)
  if type(query) == "table" then query = core.query(query) end
  local key = (query and query ~= "") and (path .. "?" .. query) or path
  local hit = cache.lookup(key)
  if hit then return hit, true end
  return cache.fetch(key, path, ttl, function()
    local res, err = send(fname, "GET", path, query, nil, nil, timeout,
      idempotent)
    if not res then
      err.path = display_path(err.url or path)
      raise(err)
    end
    return res
  end), false
end

local function cacheable(method, path, opts)
  if method ~= "GET" or (opts and (opts.cache == false or opts.headers or
    opts.download)) then
    return nil
  end
  return cache.ttl(path)
end

local function call(fname, method, path, query, body, opts)
  if type(path) ~= "string" then check(fname, 1, "path", path, "string") end
  local headers, timeout, idempotent, download
  if opts ~= nil then
    check(fname, 3, "opts", opts, "table")
    check_opts(fname, { path = path, headers = opts.headers,
      timeout = opts.timeout, idempotent = opts.idempotent,
      download = opts.download, idempotency_key = opts.idempotency_key })
    check(fname, 3, "opts.cache", opts.cache, "boolean", true)
    headers, timeout, idempotent, download = opts.headers, opts.timeout,
      opts.idempotent, opts.download
    headers, idempotent = idempotency(opts.idempotency_key, headers, idempotent)
  end
  local res, err
  local ttl = cacheable(method, path, opts)
  if ttl then
    local hit
    res, hit = cached_get(fname, path, query, ttl, timeout, idempotent)
    if res.status >= 400 then raise(http_error(res)) end
    if res.dry_run then
      return dryrun.answer("GET", display_path(res.url), nil), res
    end
    if hit then return decode(res), res end
    local ok, data = pcall(decode, res)
    if not ok then
      cache.invalidate("^" .. path:gsub("%W", "%%%0") .. "$")
      error(data, 0)
    end
    return data, res
  end
  local write = method ~= "GET" and method ~= "HEAD"
  if write then cache.on_write(path, body) end
  res, err = send(fname, method, path, query, headers, body, timeout,
    idempotent, download)
  if write then cache.on_write(path, body) end
  if not res then
    err.path = display_path(err.url or path)
    raise(err)
  end
  if res.status >= 400 then raise(http_error(res)) end
  if res.dry_run then
    -- not sent (the dry_run setting): the answer StockX would have given
    return dryrun.answer(method, display_path(res.url), body), res
  end
  if download then
    -- curl does not follow redirects: a 1xx/3xx answer wrote no file
    if res.status < 200 or res.status >= 300 then raise(http_error(res)) end
    return res
  end
  return decode(res), res
end

local function check_body(fname, body)
  if body ~= nil and type(body) ~= "string" and type(body) ~= "table" then
    check(fname, 2, "body", body, "string or table")
  end
end

--- GET path; returns data, res on 2xx and raises an error value otherwise.
function M.get(path, query, opts)
  if query ~= nil and type(query) ~= "table" then
    check("stockx.get", 2, "query", query, "table")
  end
  return call("stockx.get", "GET", path, query, nil, opts)
end

-- post, put and patch: path, body (a table is sent as JSON), opts.
local function with_body(method)
  local fname = "stockx." .. method:lower()
  return function(path, body, opts)
    check_body(fname, body)
    return call(fname, method, path, nil, body, opts)
  end
end

--- POST path with a body.  Never retried on transient failures unless
-- opts.idempotent is true.
M.post = with_body "POST"
M.put = with_body "PUT"
M.patch = with_body "PATCH"

function M.delete(path, opts)
  check("stockx.delete", 2, "opts", opts, "table", true)
  return call("stockx.delete", "DELETE", path, nil, nil, opts)
end

--- Streams a GET into filename atomically; returns res.
function M.download(path, filename, opts)
  check("stockx.download", 1, "path", path, "string")
  check("stockx.download", 2, "filename", filename, "string")
  check("stockx.download", 3, "opts", opts, "table", true)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.download = filename
  return call("stockx.download", "GET", path, o.query, nil, o)
end

---------------------------------------------------------------------------
-- Tasks
---------------------------------------------------------------------------

--- Starts fn(...) as a new task; returns the task.
function M.spawn(fn, ...)
  check("stockx.spawn", 1, "fn", fn, "function")
  return core.spawn(fn, ...)
end

M.sleep = core.sleep
M.now = core.now

--- Runs the functions concurrently; returns their first results in order.
-- The first error (in argument order) is raised after all have finished.
function M.all(fns)
  check("stockx.all", 1, "fns", fns, "table")
  local tasks = {}
  for i, fn in ipairs(fns) do
    check("stockx.all", 1, "fns[" .. i .. "]", fn, "function")
    tasks[i] = core.join(core.spawn(fn))
  end
  local results, first_err, failed = {}, nil, false
  for i, t in ipairs(tasks) do
    local ok, v = pcall(t.wait, t)
    if ok then
      results[i] = v
    elseif not failed then
      failed, first_err = true, v
    end
  end
  if failed then error(first_err, 0) end
  return table.unpack(results, 1, #tasks)
end

local MAX_SECONDS = 1e8

local function is_cancelled(e)
  return getmetatable(e) == Error and e.kind == "cancelled"
end

-- Waits for t; if the waiting task is itself cancelled meanwhile, t is
-- cancelled too (and waited for) before the cancellation goes on up.
local function wait_or_cancel(t)
  local r = table.pack(pcall(t.wait, t))
  local st = t:status()
  if not r[1] and st ~= "done" and st ~= "failed" and st ~= "cancelled" then
    core.cancel(t)
    pcall(t.wait, t)
  end
  return r
end

--- Runs fn(...) in its own task and cancels it after `seconds`: returns
-- fn's results, or raises an error value of kind "timeout".
function M.timeout(seconds, fn, ...)
  if type(seconds) ~= "number" or not (seconds > 0 and seconds <= MAX_SECONDS) then
    argerror("stockx.timeout", 1, "seconds", "a number between 0 and 1e8 expected")
  end
  check("stockx.timeout", 2, "fn", fn, "function")
  local reason = string.format("timed out after %gs", seconds)
  local t = core.join(core.spawn(fn, ...))
  local timer = core.spawn(function()
    core.sleep(seconds)
    core.cancel(t, reason)
  end)
  local r = wait_or_cancel(t)
  core.cancel(timer)
  if r[1] then return table.unpack(r, 2, r.n) end
  local e = r[2]
  if is_cancelled(e) and e.message == reason then
    raise(setmetatable({ kind = "timeout", message = reason }, Error))
  end
  error(e, 0)
end

--- Calls fn(item, index) for every item of list, at most
-- opts.concurrency (default 8) at a time; returns the results in list
-- order.  The first failure stops the rest (running calls are cancelled,
-- the others never start) and is raised once they have all ended.
function M.map(list, fn, opts)
  check("stockx.map", 1, "list", list, "table")
  check("stockx.map", 2, "fn", fn, "function")
  check("stockx.map", 3, "opts", opts, "table", true)
  local conc = opts and opts.concurrency or 8
  if math.type(conc) ~= "integer" or conc < 1 or conc > 10000 then
    argerror("stockx.map", 3, "opts.concurrency", "an integer between 1 and 10000 expected")
  end
  local n, nexti, results, failed, first_err = #list, 0, {}, false, nil
  local workers = {}
  local function stop_others(self)
    for _, w in ipairs(workers) do
      if w ~= self then core.cancel(w) end
    end
  end
  local function worker(self_index)
    while not failed do
      nexti = nexti + 1
      local i = nexti
      if i > n then return end
      local ok, v = pcall(fn, list[i], i)
      if ok then
        results[i] = v
      elseif not failed and not is_cancelled(v) then
        failed, first_err = true, v
        stop_others(workers[self_index])
      elseif is_cancelled(v) then
        error(v, 0)
      end
    end
  end
  for w = 1, math.min(conc, n) do
    workers[w] = core.join(core.spawn(worker, w))
  end
  for _, w in ipairs(workers) do
    local r = wait_or_cancel(w)
    if not r[1] and not failed and not is_cancelled(r[2]) then
      failed, first_err = true, r[2]
    elseif not r[1] and is_cancelled(r[2]) and not failed then
      -- we were cancelled: stop the rest and pass it on
      stop_others(nil)
      for _, o in ipairs(workers) do pcall(o.wait, o) end
      error(r[2], 0)
    end
  end
  if failed then error(first_err, 0) end
  return results
end

---------------------------------------------------------------------------
-- Pagination
---------------------------------------------------------------------------

local array_keys = { "listings", "orders", "products", "operations", "items",
  "variants" }

-- The largest page size each endpoint allows.
local function max_page_size(path)
  if path:find("/catalog/search", 1, true) then return 50 end
  return 100
end

local function find_key(page, key)
  if key then return key end
  for _, k in ipairs(array_keys) do
    if type(page[k]) == "table" then return k end
  end
  for k, v in pairs(page) do
    if type(v) == "table" and (#v > 0 or next(v) == nil) and k ~= "changes" then
      return k
    end
  end
  error("stockx.paginate: no array of items found in the page; pass opts.key", 0)
end

-- The query for the page after `page`, or nil at the end.
local function next_query(page, query)
  local q = {}
  for k, v in pairs(query) do q[k] = v end
  if page.nextCursor ~= nil then
    local c = page.nextCursor
    if c == cjson.null or c == "" then return nil end
    q.cursor = c
    return q
  end
  if page.hasNextPage == true then
    q.pageNumber = (tonumber(page.pageNumber) or tonumber(q.pageNumber) or 1) + 1
    return q
  end
  return nil
end

-- The progress line of a loop (lua/stockx/progress.lua): on a terminal
-- only, unless opts.progress is false; labelled with the path, or with
-- opts.progress when it is a string.
local function paginate_bar(path, opts)
  local p = opts.progress
  if p == false then return nil end
  if p ~= nil and p ~= true and type(p) ~= "string" then
    check("stockx.paginate", 3, "opts.progress", p, "boolean or string")
  end
  local progress = M.progress
  if not progress.enabled() then return nil end
  return progress { label = type(p) == "string" and p or path, unit = "items" }
end

-- A page arrived: the page count, and the total from the envelope's
-- `count` (capped by max_pages) when it has one.
local function bar_page(bar, page, pages, size, max_pages)
  local count = tonumber(page.count)
  local of
  if count and count >= 0 then
    if max_pages and size then count = math.min(count, max_pages * size) end
    if size and size > 0 then of = math.max(math.ceil(count / size), pages) end
  else
    count = nil
  end
  if of ~= 1 then -- one page: nothing to say
    bar:detail(of and string.format("page %d/%d", pages, of)
      or string.format("page %d", pages))
  end
  bar:set(bar.current, count)
end

--- Iterates over the items of a paginated endpoint (page-number envelope
-- or nextCursor envelope), one page ahead.  On a terminal it draws a
-- progress line on stderr once the loop has taken over a second.
-- @param opts {key=, max_pages=, pages=true, headers=, timeout=,
--   progress = false | label}
function M.paginate(path, query, opts)
  check("stockx.paginate", 1, "path", path, "string")
  check("stockx.paginate", 2, "query", query, "table", true)
  check("stockx.paginate", 3, "opts", opts, "table", true)
  opts = opts or {}
  local q = {}
  for k, v in pairs(query or {}) do q[k] = v end
  if q.pageSize == nil then q.pageSize = max_page_size(path) end
  local get_opts = { headers = opts.headers, timeout = opts.timeout }
  local max_pages = opts.max_pages
  local fetched, ahead = 0, nil
  local items, idx, page = nil, 0, nil
  local key
  local bar, received = paginate_bar(path, opts), 0
  local size = tonumber(q.pageSize)

  local function fetch(fq)
    fetched = fetched + 1
    return core.join(core.spawn(function()
      return (M.get(path, fq, get_opts))
    end))
  end

  local function start_ahead()
    local nq = page and next_query(page, q)
    if nq and (not max_pages or fetched < max_pages) then
      ahead = fetch(nq)
    else
      ahead = nil
    end
  end

  local function next_page()
    if not ahead then
      if bar then bar:done() end
      return nil
    end
    page = ahead:wait()
    q.cursor = page.nextCursor ~= cjson.null and page.nextCursor or nil
    if page.pageNumber then q.pageNumber = page.pageNumber end
    start_ahead()
    if bar then
      received = received + 1
      bar_page(bar, page, received, size, max_pages)
    end
    return page
  end

  -- Leaving the loop early (break, error) cancels the page fetched ahead,
  -- so it costs no request: the generic for closes this value.  The
  -- progress line ends there too (erased if an error ends the loop).
  local closer = setmetatable({}, { __close = function(_, err)
    if ahead then core.cancel(ahead) end
    if bar then bar:_close(err) end
  end })

  ahead = fetch(q)
  if opts.pages then
    return function()
      local p = next_page()
      if p and bar then
        local ok, k = pcall(find_key, p, opts.key)
        bar:advance(ok and type(p[k]) == "table" and #p[k] or 0)
      end
      return p
    end, nil, nil, closer
  end
  return function()
    while true do
      if items and idx < #items then
        idx = idx + 1
        if bar then bar:advance() end
        return items[idx], page
      end
      if not next_page() then return nil end
      key = key or find_key(page, opts.key)
      items = page[key]
      if type(items) ~= "table" then items = {} end
      idx = 0
    end
  end, nil, nil, closer
end

---------------------------------------------------------------------------
-- Settings, stats, logging
---------------------------------------------------------------------------

-- Settings that change what a GET answers: the cache starts afresh.
local CACHE_RESET = { "base_url", "api_key", "access_token", "client_id",
  "client_secret" }

function M.configure(settings)
  check("stockx.configure", 1, "settings", settings, "table")
  local r = table.pack(core.configure(settings))
  for _, k in ipairs(CACHE_RESET) do
    if settings[k] ~= nil then cache.clear() break end
  end
  if settings.metrics_addr or settings.metrics_file then
    require("stockx.metrics").apply(core.settings())
  end
  return table.unpack(r, 1, r.n)
end

M.settings = core.settings

--- The client's counters (core.stats) and the GET cache's: cache_hits,
-- cache_misses, cache_evictions, cache_entries.
function M.stats()
  local s = core.stats()
  local c = cache.stats()
  s.cache_hits, s.cache_misses = c.hits, c.misses
  s.cache_evictions, s.cache_entries = c.evictions, c.entries
  return s
end

--- The GET cache: configure, clear, invalidate, stats (lua/stockx/cache.lua).
M.cache = { configure = cache.configure, settings = cache.settings,
  clear = cache.clear, invalidate = cache.invalidate, stats = cache.stats }
M.version = core.version

local function logger(level)
  return function(msg, fields)
    check("stockx.log." .. level, 1, "msg", msg, "string")
    check("stockx.log." .. level, 2, "fields", fields, "table", true)
    core.log(level, msg, fields)
  end
end

M.log = { debug = logger "debug", info = logger "info", warn = logger "warn",
  error = logger "error" }

---------------------------------------------------------------------------
-- Coroutines that let the runtime's waits pass through (cqueues' auxlib).
---------------------------------------------------------------------------

local function pass(co, ok, ...)
  if ok and co_status(co) == "suspended" and select("#", ...) == 1 and
    (...) == SENTINEL then
    -- a stockx wait inside the user's coroutine: wait in our task, then
    -- carry the wake-up back down
    return pass(co, co_resume(co, co_yield(SENTINEL)))
  end
  return ok, ...
end

-- core.resume is coroutine.resume that also records the coroutine as
-- running, so Ctrl-C can stop Lua code busy inside it.
co_resume = core.resume

local function resume(co, ...)
  return pass(co, co_resume(co, ...))
end

local function wrap(f)
  local co = co_create(f)
  return function(...)
    local function finish(ok, ...)
      if ok then return ... end
      local e = ...
      if co_status(co) == "dead" then co_close(co) end
      if type(e) == "string" then error(e, 0) end
      error(e, 0)
    end
    return finish(resume(co, ...))
  end
end

coroutine.resume = resume
coroutine.wrap = wrap

M._internal = { core = core, next_query = next_query, find_key = find_key }

-- The StockX helpers load on first use (stockx.catalog, stockx.listings,
-- ...): they require "stockx" themselves, which must have finished by then.
--- stockx.every(interval, fn [, opts]) and stockx.cron(expr, fn [, opts]):
-- scheduled jobs (lua/stockx/schedule.lua).
function M.every(...) return require("stockx.schedule").every(...) end
function M.cron(...) return require("stockx.schedule").cron(...) end

local lazy = { catalog = "stockx.catalog", listings = "stockx.listings",
  batch = "stockx.batch", orders = "stockx.orders", reprice = "stockx.reprice",
  progress = "stockx.progress", metrics = "stockx.metrics" }
-- __complete names them for the REPL's completion, which calls nothing.
setmetatable(M, { __complete = lazy, __index = function(t, k)
  local name = lazy[k]
  if not name then return nil end
  local mod = require(name)
  rawset(t, k, mod)
  return mod
end })

-- --metrics-addr / --metrics-file (or the config file): serve and write
do
  local s = core.settings()
  if s.metrics_addr or s.metrics_file then
    local ok, e = pcall(require("stockx.metrics").apply, s)
    if not ok then -- a bad setting, said once, like the C settings' errors
      io.stderr:write("stockx: ", tostring(e), "\n")
      os.exit(2)
    end
  end
end

return M
