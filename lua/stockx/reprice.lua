--- The repricing toolkit: rules, a plan that says what would change and
-- why, run-wide brakes, and an apply that refuses a stale plan, sends the
-- changes as batch updates and writes every change to an audit log first.
-- No floating point touches a price (stockx.money).
--
--   local reprice = require "stockx.reprice"
--   local plan = reprice.plan(listings, { strategy = "beat", by = "1",
--     floor = "90", ceiling = "400" })
--   print(plan)                  -- an aligned table
--   local result = reprice.apply(plan, { log = "reprice.log" })

local stockx = require "stockx"
local money = require "stockx.money"

local M = {}

---------------------------------------------------------------------------
-- Rules
---------------------------------------------------------------------------

--- StockX's seller fees: transaction fee by seller level, plus processing
-- (percent strings; a configurable table: StockX changes them).
M.FEES = { levels = { ["1"] = "9", ["2"] = "8.5", ["3"] = "8", ["4"] = "7.5",
  ["5"] = "7" }, processing = "3" }

--- The brakes on a whole run: a run over them applies nothing.
M.BRAKES = {
  max_changes = 200,        -- changes in one run
  max_lowered_share = 20,   -- percent of the listings ...
  lowered_by = 30,          -- ... lowered by more than this percent
  max_per_day = 4,          -- changes of one listing in 24 h (opts.history)
  band = 3,                 -- a new price stays within earnMore * band and
                            -- sellFaster / band (two rules that multiply
                            -- prices cannot run away)
}

--- A plan expires: apply refuses it after this many seconds.
M.PLAN_TTL = 15 * 60

local STRATEGIES = { beat = true, match = true, sell_faster = true,
  earn_more = true, highest_bid = true }

local RULE_KEYS = { strategy = true, by = true, floor = true, ceiling = true,
  cost = true, margin = true, seller_level = true, max_step = true,
  min_change = true, tick = true, channel = true, match = true, exact = true }

local args = require "stockx.args"
local argerror = args.error

-- "10%" -> "10", true; "5" -> "5", false
local function percent_of(v)
  if type(v) == "string" then
    local p = v:match("^(%d+%.?%d*)%%$")
    if p then return p, true end
  end
  return v, false
end

-- A rule value as money in currency c (a string, an integer or money).
local function amount_in(v, c, what)
  if v == nil then return nil end
  if money.is_money(v) then
    if v.currency ~= c then
      error(string.format("stockx.reprice: %s is in %s, the listing in %s",
        what, v.currency, c), 0)
    end
    return v
  end
  return money.parse(v, c)
end

--- Checks a rule table (what plan() takes) and returns it.  Keys:
-- strategy ("beat", "match", "sell_faster", "earn_more", "highest_bid", or
-- a function(listing, market) -> money or nil, why), by (beat: an amount
-- "1" or a percentage "2%"), floor, ceiling (amounts; both required, or a
-- floor from cost: cost + margin ("10%" or an amount) after StockX's fees
-- for seller_level 1-5), max_step (an amount or "10%": a bigger change is
-- skipped, not clamped), min_change (default one tick), tick (default one
-- major unit: prices are rounded to it), channel (only listings of that
-- inventory type), match (a function(listing) -> true for the listings the
-- rule is for).
function M.rule(t)
  if type(t) ~= "table" then argerror("stockx.reprice.rule", 1, "rule", "table expected") end
  for k in pairs(t) do
    if not RULE_KEYS[k] then
      error(string.format("stockx.reprice: unknown rule key '%s'", tostring(k)), 2)
    end
  end
  local s = t.strategy or "beat"
  if type(s) ~= "function" and not STRATEGIES[s] then
    error(string.format("stockx.reprice: unknown strategy '%s' (beat, match, "
      .. "sell_faster, earn_more, highest_bid, or a function)", tostring(s)), 2)
  end
  if t.floor == nil and t.cost == nil then
    error("stockx.reprice: a rule needs a floor (or a cost to compute one)", 2)
  end
  if t.ceiling == nil then
    error("stockx.reprice: a rule needs a ceiling", 2)
  end
  if t.seller_level ~= nil and not M.FEES.levels[tostring(t.seller_level)] then
    error("stockx.reprice: seller_level must be 1 to 5", 2)
  end
  return t
end

-- The floor a cost implies: the lowest price whose payout after fees
-- covers cost plus margin (rounded up to the tick).
local function cost_floor(r, c, tick)
  local cost = amount_in(r.cost, c, "cost")
  local want = cost
  if r.margin then
    local p, is_pct = percent_of(r.margin)
    want = is_pct and cost + money.percent(cost, p, "ceil")
      or cost + amount_in(p, c, "margin")
  end
  local fee = M.FEES.levels[tostring(r.seller_level or 1)]
  -- price * (100 - fee - processing) / 100 >= want
  -- the fee table's percentages (not prices) as integer thousandths
  local keep_n = 100 * 1000 - math.floor(tonumber(fee) * 1000 + 0.5)
    - math.floor(tonumber(M.FEES.processing) * 1000 + 0.5)
  local minor = (want.minor * 100 * 1000 + keep_n - 1) // keep_n
  return money.round(money.new(minor, c), tick, "ceil")
end

---------------------------------------------------------------------------
-- CSV rules
---------------------------------------------------------------------------

local CSV_COLUMNS = { sku = true, style_id = true, size = true, cost = true,
  floor = true, ceiling = true, strategy = true, step = true, by = true,
  margin = true, seller_level = true, channel = true }

-- Splits one CSV line (RFC 4180 quotes) into fields and their columns.
local function csv_fields(line)
  local out, cols, i, n = {}, {}, 1, #line
  while i <= n + 1 do
    cols[#cols + 1] = i
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while true do
        local q = line:find('"', j, true)
        if not q then return nil, i, "unterminated quote" end
        buf[#buf + 1] = line:sub(j, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          j = q + 1
          break
        end
      end
      out[#out + 1] = table.concat(buf)
      if j <= n and line:sub(j, j) ~= "," then return nil, j, "text after a quote" end
      i = j + 1
    else
      local c = line:find(",", i, true) or n + 1
      out[#out + 1] = line:sub(i, c - 1)
      i = c + 1
    end
  end
  return out, cols
end

local function csv_error(path, line, col, msg)
  error(string.format("%s:%d:%d: %s", path, line, col, msg), 0)
end

--- Reads rules from a CSV file with a header line (columns: sku or
-- style_id, size, cost, floor, ceiling, strategy, step (max_step), by,
-- margin, seller_level, channel).  Every row is checked; the first bad
-- one raises "FILE:LINE:COLUMN: what", and no rule is returned then.
-- @return an array of rules, each with a match function
function M.rules_csv(path)
  local f, e = io.open(path, "r")
  if not f then error("stockx.reprice: " .. e, 2) end
  local header, rules, ln = nil, {}, 0
  for line in f:lines() do
    ln = ln + 1
    line = line:gsub("\r$", "")
    if line:match("^%s*$") or line:match("^#") then goto continue end
    local fields, cols, why = csv_fields(line)
    if not fields then f:close(); csv_error(path, ln, cols, why) end
    if not header then
      header = {}
      for k, name in ipairs(fields) do
        name = name:lower():gsub("^%s+", ""):gsub("%s+$", "")
        if not CSV_COLUMNS[name] then
          f:close()
          csv_error(path, ln, cols[k], "unknown column '" .. name .. "'")
        end
        header[k] = name
      end
    else
      local row = {}
      for k, v in ipairs(fields) do
        if not header[k] then
          f:close()
          csv_error(path, ln, cols[k], "more fields than columns")
        end
        v = v:gsub("^%s+", ""):gsub("%s+$", "")
        if v ~= "" then row[header[k]] = { v = v, col = cols[k] } end
      end
      local ok, r = pcall(M._csv_rule, row)
      if not ok then
        f:close()
        local col, msg = r:match("^(%d+):(.*)$")
        csv_error(path, ln, tonumber(col) or 1, msg or r)
      end
      rules[#rules + 1] = r
    end
    ::continue::
  end
  f:close()
  if not header then error("stockx.reprice: " .. path .. ": no header line", 2) end
  return rules
end

-- One CSV row -> a rule; raises "COLUMN:message".
function M._csv_rule(row)
  local function col_err(name, msg)
    error((row[name] and row[name].col or 1) .. ":" .. msg, 0)
  end
  local function val(name) return row[name] and row[name].v end
  local sku, size = val("sku") or val("style_id"), val("size")
  if not sku then col_err("sku", "a row needs a sku (style id)") end
  local r = { strategy = val("strategy") or "beat", by = val("by"),
    floor = val("floor"), ceiling = val("ceiling"), cost = val("cost"),
    margin = val("margin"), max_step = val("step"), channel = val("channel"),
    seller_level = val("seller_level") }
  for _, k in ipairs { "floor", "ceiling", "cost" } do
    if r[k] and not pcall(money.parse, r[k], "USD") then
      col_err(k, "bad amount '" .. r[k] .. "' in column " .. k)
    end
  end
  for _, k in ipairs { "by", "margin", "step" } do
    local v = val(k)
    if v and not pcall(money.parse, (percent_of(v)), "USD") then
      col_err(k, "bad amount or percentage '" .. v .. "' in column " .. k)
    end
  end
  if not STRATEGIES[r.strategy] then
    col_err("strategy", "unknown strategy '" .. r.strategy .. "'")
  end
  if not r.floor and not r.cost then col_err("floor", "a row needs a floor or a cost") end
  if not r.ceiling then col_err("ceiling", "a row needs a ceiling") end
  local want_size = size and (size:gsub("^[Uu][Ss]%s*[MmWw]?%s*", ""))
  r.match = function(l)
    return l.product and l.product.styleId == sku
      and (not want_size or tostring(l.variant.variantValue) == want_size)
  end
  return M.rule(r)
end

---------------------------------------------------------------------------
-- Planning
---------------------------------------------------------------------------

local Plan = {}
Plan.__index = Plan

local function rule_for(rules, l)
  if rules.strategy or rules.floor or rules.cost then return rules end
  for _, r in ipairs(rules) do
    if (not r.match or r.match(l))
      and (not r.channel or r.channel == (l.inventoryType or "STANDARD")) then
      return r
    end
  end
end

local function channel_of(l) return l.inventoryType or "STANDARD" end

-- The seller's cheapest ACTIVE ask per variant and channel.
local function own_lowest(listings)
  local low = {}
  for _, l in ipairs(listings) do
    if l.status == "ACTIVE" and l.amount and l.amount ~= stockx.json.null then
      local k = l.variant.variantId .. "/" .. channel_of(l)
      local a = money.parse(l.amount, l.currencyCode or "USD")
      if not low[k] or a < low[k].amount then
        low[k] = { amount = a, listingId = l.listingId }
      end
    end
  end
  return low
end

-- The target price of rule r for listing l in market m; nil and why.
local function target(r, l, m, cur)
  local s = r.strategy or "beat"
  if type(s) == "function" then
    local v, why = s(l, m)
    if v == nil then return nil, why or "strategy_skipped" end
    return amount_in(v, cur.currency, "the strategy's price")
  end
  if s == "sell_faster" then return m.sell_faster, "no_market_data" end
  if s == "earn_more" then return m.earn_more, "no_market_data" end
  if s == "highest_bid" then return m.highest_bid, "no_bid" end
  if not m.lowest_ask then return nil, "no_competition" end
  if s == "match" then return m.lowest_ask end
  local by, pct = percent_of(r.by or "1")
  local step = pct and money.percent(m.lowest_ask, by, "ceil")
    or amount_in(by, cur.currency, "by")
  return m.lowest_ask - step
end

-- Every guard, in a fixed order; returns the new price, or nil and the
-- named outcome.
-- Outside the market's own references?  A price over band x earnMore or
-- under sellFaster / band is a pricing bug, not a price.
local function outside_band(new, m, band)
  if m.earn_more and new > m.earn_more * band then return true end
  if m.sell_faster and new * band < m.sell_faster then return true end
  return false
end

local function guard(r, l, m, own, cur, ctx)
  local c = cur.currency
  local tick = r.tick and amount_in(r.tick, c, "tick") or money.unit(c)
  local floor = r.floor and amount_in(r.floor, c, "floor") or cost_floor(r, c, tick)
  local ceiling = amount_in(r.ceiling, c, "ceiling")
  if floor > ceiling then return nil, "floor_above_ceiling" end
  local mine = own[l.variant.variantId .. "/" .. channel_of(l)]
  if mine and mine.listingId ~= l.listingId and not r.exact then
    -- your cheaper listing on this variant and channel stands for you:
    -- a second one never competes with it
    return nil, "own_listing_lower"
  end
  local lowest_is_mine = m.lowest_ask and mine and mine.amount <= m.lowest_ask
  if lowest_is_mine and (r.strategy == "beat" or r.strategy == "match"
      or r.strategy == nil) then
    return nil, "already_lowest" -- hold: nobody to beat but yourself
  end
  local new, why = target(r, l, m, cur)
  if not new then return nil, why end
  if new < cur and lowest_is_mine then
    return nil, "already_lowest" -- never undercut your own lowest ask
  end
  if not r.exact then new = money.round(new, tick, new < cur and "floor" or "ceil") end
  if new < floor then
    return nil, (m.lowest_ask and m.lowest_ask < floor) and "competitor_below_floor"
      or "below_floor"
  end
  if new > ceiling then new = ceiling end
  local diff = new > cur and new - cur or cur - new
  if r.max_step then
    local s, pct = percent_of(r.max_step)
    local max = pct and money.percent(cur, s, "floor") or amount_in(s, c, "max_step")
    if diff > max then return nil, "step_too_large" end
  end
  if diff == money.zero(c) then return nil, "unchanged" end
  local min_change = r.min_change and amount_in(r.min_change, c, "min_change") or tick
  if diff < min_change then return nil, "change_too_small" end
  if not r.exact and outside_band(new, m, ctx.brakes.band) then
    return nil, "outside_market_band"
  end
  if (ctx.recent[l.listingId] or 0) >= ctx.brakes.max_per_day then
    return nil, "changed_too_often"
  end
  return new, (new < cur and "lower" or "raise") .. " (" .. (type(r.strategy) ==
    "function" and "custom" or r.strategy or "beat") .. ")"
end

-- Market data for every product of the listings: one request a product.
local function fetch_markets(listings, currency, progress)
  local catalog = stockx.catalog
  local pids, seen, out = {}, {}, {}
  for _, l in ipairs(listings) do
    local pid = l.product.productId
    if not seen[pid] then
      seen[pid] = true
      pids[#pids + 1] = pid
    end
  end
  if progress then progress("market data", 0, #pids) end
  for i, pid in ipairs(pids) do
    local md = catalog.market_data(pid, currency and { currency = currency } or nil)
    for vid, rec in pairs(md) do out[vid] = rec end
    if progress then progress("market data", i, #pids) end
  end
  return out
end

--- Plans a repricing run: for each listing, the new price and why, or why
-- it is left alone.  Makes one market-data request per product (the
-- product-level call covers every size) unless opts.market gives the
-- market of a listing (function(listing) -> {lowest_ask=, highest_bid=,
-- sell_faster=, earn_more=} as money).
-- @param listings the seller's ACTIVE listings (StockX's listing tables)
-- @param rules a rule (see M.rule), or an array of rules (first match wins)
-- @param opts {market=, currency=, brakes = {max_changes=, ...},
--   history = an audit log (for brakes.max_per_day), ttl = seconds the
--   plan stays valid (default M.PLAN_TTL), progress = function(stage,
--   done, total): called with done = 0 first, then after each product's
--   market data}
-- @return a plan: {changes = {...}, skipped = {...}, blocked = nil | why}
function M.plan(listings, rules, opts)
  if type(listings) ~= "table" then
    argerror("stockx.reprice.plan", 1, "listings", "table expected")
  end
  if type(rules) ~= "table" then argerror("stockx.reprice.plan", 2, "rules", "table expected") end
  opts = opts or {}
  if rules.strategy or rules.floor or rules.cost then
    M.rule(rules)
  else
    for _, r in ipairs(rules) do M.rule(r) end
  end
  local market = opts.market
  if not market then
    local recs = fetch_markets(listings, opts.currency, opts.progress)
    market = function(l) return stockx.catalog.market(recs[l.variant.variantId] or {}, l) end
  end
  local own = own_lowest(listings)
  local brakes = setmetatable(opts.brakes or {}, { __index = M.BRAKES })
  local ctx = { brakes = brakes, recent = M.recent_changes(opts.history) }
  local now = stockx.now()
  local plan = setmetatable({ changes = {}, skipped = {}, created = os.time(),
    expires = now + (opts.ttl or M.PLAN_TTL),
    id = string.format("%x-%x", os.time(), math.random(0, 0xffffff)) }, Plan)
  for _, l in ipairs(listings) do
    local r = rule_for(rules, l)
    local cur = money.parse(l.amount, l.currencyCode or "USD")
    local entry = { listing = l, listingId = l.listingId, old = cur,
      observed = { amount = l.amount, status = l.status } }
    if not r then
      entry.why = "no_rule"
    elseif l.status ~= "ACTIVE" then
      entry.why = "not_active"
    else
      entry.rule = r
      local ok, new, why = pcall(guard, r, l, market(l) or {}, own, cur, ctx)
      if not ok then
        entry.why = "error: " .. tostring(new)
      elseif new then
        entry.new, entry.reason = new, why
      else
        entry.why = why
      end
    end
    local list = entry.new and plan.changes or plan.skipped
    list[#list + 1] = entry
  end
  plan.blocked = M.check_brakes(plan, #listings, opts.brakes)
  return plan
end

--- Changes per listing in the last 24 hours, from an audit log (nil: none).
function M.recent_changes(log_path)
  local out = {}
  local f = log_path and io.open(log_path, "r")
  if not f then return out end
  local since = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 86400)
  for line in f:lines() do
    local ok, rec = pcall(stockx.json.decode, line)
    if ok and type(rec) == "table" and rec.state == "done" and rec.result == "ok"
      and type(rec.time) == "string" and rec.time >= since then
      out[rec.listingId] = (out[rec.listingId] or 0) + 1
    end
  end
  f:close()
  return out
end

--- The run-wide brakes: nil, or why the plan must not be applied.
function M.check_brakes(plan, total, brakes)
  local b = setmetatable(brakes or {}, { __index = M.BRAKES })
  if #plan.changes > b.max_changes then
    return string.format("%d changes, more than max_changes (%d)", #plan.changes,
      b.max_changes)
  end
  local big = 0
  for _, c in ipairs(plan.changes) do
    if c.new < c.old then
      local drop = c.old - c.new
      if drop > money.percent(c.old, b.lowered_by, "floor") then big = big + 1 end
    end
  end
  if total > 0 and big * 100 > b.max_lowered_share * total then
    return string.format("%d of %d listings would be lowered by more than %s%% "
      .. "(at most %s%% may be)", big, total, b.lowered_by, b.max_lowered_share)
  end
  return nil
end

--- The plan as an aligned table (what print(plan) shows).
function Plan:format()
  local rows = { { "listing", "product", "size", "now", "new", "why" } }
  local function name(l)
    local n = l.product and (l.product.productName or l.product.styleId) or "?"
    return #n > 32 and n:sub(1, 31) .. "~" or n
  end
  for _, c in ipairs(self.changes) do
    rows[#rows + 1] = { c.listingId:sub(1, 8), name(c.listing),
      tostring(c.listing.variant.variantValue), c.old:amount(), c.new:amount(), c.reason }
  end
  for _, s in ipairs(self.skipped) do
    rows[#rows + 1] = { s.listingId:sub(1, 8), name(s.listing),
      tostring(s.listing.variant and s.listing.variant.variantValue or "?"),
      s.old:amount(), "-", s.why }
  end
  local w = {}
  for _, r in ipairs(rows) do
    for i, v in ipairs(r) do w[i] = math.max(w[i] or 0, #v) end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local cells = {}
    for i, v in ipairs(r) do
      cells[i] = (i == 4 or i == 5) and string.rep(" ", w[i] - #v) .. v
        or v .. string.rep(" ", w[i] - #v)
    end
    out[#out + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  out[#out + 1] = string.format("%d to change, %d left alone%s", #self.changes,
    #self.skipped, self.blocked and (": BLOCKED, " .. self.blocked) or "")
  return table.concat(out, "\n")
end

Plan.__tostring = Plan.format

---------------------------------------------------------------------------
-- Applying
---------------------------------------------------------------------------

local function audit(path, rec)
  if not path then return end
  local ok, e = stockx._internal.core.append(path, stockx.json.encode(rec) .. "\n")
  if not ok then error("stockx.reprice: cannot write the audit log: " .. tostring(e), 0) end
end

-- Re-reads the planned listings: the ids whose amount or status moved.
local function stale(plan)
  local pids, now = {}, {}
  for _, c in ipairs(plan.changes) do pids[c.listing.product.productId] = true end
  local ids = {}
  for pid in pairs(pids) do ids[#ids + 1] = pid end
  for i = 1, #ids, 100 do
    local chunk = { table.unpack(ids, i, math.min(i + 99, #ids)) }
    for l in stockx.paginate("/selling/listings", { productIds = chunk }) do
      now[l.listingId] = l
    end
  end
  local moved = {}
  for _, c in ipairs(plan.changes) do
    local l = now[c.listingId]
    if not l or l.amount ~= c.observed.amount or l.status ~= c.observed.status then
      moved[#moved + 1] = c.listingId
    end
  end
  return moved
end

--- Applies a plan: refuses a blocked, already applied or stale plan (a
-- listing's amount or status changed since it was planned), appends each
-- change to the audit log (JSON lines, fsynced) before sending, sends the
-- changes as batch updates of up to 100, waits for them, and logs each
-- item's outcome.
-- @param opts {log = path, timeout = seconds per batch,
--   progress = function(stage, done, total): 0 before the batches are
--   sent, total once they are done}
-- @return {ok = n, failed = n, results = {...}}
function M.apply(plan, opts)
  if getmetatable(plan) ~= Plan then
    argerror("stockx.reprice.apply", 1, "plan", "a plan expected")
  end
  opts = opts or {}
  if plan.blocked then error("stockx.reprice: the plan is blocked: " .. plan.blocked, 2) end
  if plan.applied then error("stockx.reprice: the plan was already applied", 2) end
  if stockx.now() > plan.expires then
    error("stockx.reprice: the plan has expired (plans last "
      .. M.PLAN_TTL // 60 .. " minutes); plan again", 2)
  end
  plan.applied = true
  if #plan.changes == 0 then return { ok = 0, failed = 0, results = {} } end
  local moved = stale(plan)
  if #moved > 0 then
    plan.applied = false
    error(string.format("stockx.reprice: the plan is stale: %d listing(s) changed "
      .. "since it was planned (%s); plan again", #moved, table.concat(moved, ", ", 1,
      math.min(#moved, 3))), 2)
  end
  local t = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local items = {}
  for i, c in ipairs(plan.changes) do
    audit(opts.log, { plan = plan.id, time = t, listingId = c.listingId,
      old = c.old:amount(), new = c.new:amount(), currency = c.new.currency,
      reason = c.reason, state = "sending" })
    items[i] = { listingId = c.listingId, amount = c.new:amount(),
      currencyCode = c.new.currency }
  end
  if opts.progress then opts.progress("sending changes", 0, #items) end
  local results, summary = stockx.batch.update(items, { timeout = opts.timeout })
  if opts.progress then opts.progress("sending changes", #items, #items) end
  for i, r in ipairs(results) do
    local c = plan.changes[i]
    audit(opts.log, { plan = plan.id, time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
      listingId = c.listingId, old = c.old:amount(), new = c.new:amount(),
      currency = c.new.currency, reason = c.reason, batch = r.batchId,
      result = r.ok and "ok" or "failed", error = r.error, state = "done" })
  end
  return { ok = summary.ok, failed = summary.failed, results = results }
end

--- The audit log's time format ("2026-12-01T10:00:00Z") for a time given
-- as an ISO-8601 date or time (UTC unless it has an offset) or as a
-- duration ago ("30m", "2h", "1d"); a bad one raises, naming it.
function M.since(text, now)
  if type(text) ~= "string" then
    error("stockx.reprice: since must be a string, got " .. type(text), 2)
  end
  local ago = args.duration(text)
  local t = ago and (now or os.time()) - ago or args.timestamp(text)
  if not t then
    error(string.format("stockx.reprice: since %q is not a time: give "
      .. "2026-12-01T10:00:00Z, 2026-12-01 10:00 (UTC), 2026-12-01T12:00+02:00 "
      .. "or a duration ago such as 30m, 2h, 1d", text), 2)
  end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

--- A plan that puts back the amounts an audit log recorded as changed
-- (the earliest "old" of each listing changed at or after opts.since, any
-- time M.since accepts).  It is checked and applied like any plan.
-- @param listings the seller's current listings
function M.rollback(log_path, listings, opts)
  opts = opts or {}
  local since = opts.since and M.since(opts.since)
  local f, e = io.open(log_path, "r")
  if not f then error("stockx.reprice: " .. e, 2) end
  local back = {}
  for line in f:lines() do
    local ok, rec = pcall(stockx.json.decode, line)
    if ok and type(rec) == "table" and rec.state == "done" and rec.result == "ok"
      and type(rec.time) == "string" and (not since or rec.time >= since)
      and not back[rec.listingId] then
      back[rec.listingId] = rec
    end
  end
  f:close()
  local mine = {}
  for _, l in ipairs(listings) do
    if back[l.listingId] then mine[#mine + 1] = l end
  end
  return M.plan(mine, { strategy = function(l)
    return money.parse(back[l.listingId].old, back[l.listingId].currency), nil
  end, floor = "1", ceiling = "1000000000", exact = true },
    { market = function() return {} end, brakes = opts.brakes })
end

return M
