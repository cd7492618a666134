-- watch_market.lua: alerts when a product's lowest ask falls to (or
-- below) a price, or its highest bid rises to (or above) one.  Every
-- INTERVAL seconds it reads the product's market data (one request for
-- every size), and on each crossing logs one line and, if a command is
-- given, runs it with the details in its environment (STOCKX_ALERT,
-- STOCKX_PRODUCT, STOCKX_SIZE, STOCKX_PRICE, STOCKX_THRESHOLD).  An alert
-- fires once per crossing, not on every read while the price stays there.
--
--   stockx run --sandbox scripts/watch_market.lua PRODUCT_ID ask=150 bid=120 \
--       [interval=60] [rounds=N] [command='notify-send "$STOCKX_ALERT"']

local catalog, money = stockx.catalog, stockx.money
local product = arg[1] or error("usage: watch_market.lua PRODUCT_ID ask=N bid=N "
  .. "[interval=S] [rounds=N] [command=CMD]", 0)
local opt = {}
for i = 2, #arg do
  local k, v = arg[i]:match("^(%w+)=(.*)$")
  if not k then error("bad argument " .. arg[i] .. " (want key=value)", 0) end
  opt[k] = v
end
local currency = opt.currency or "USD"
local ask_at = opt.ask and money.parse(opt.ask, currency)
local bid_at = opt.bid and money.parse(opt.bid, currency)
local interval = tonumber(opt.interval) or 60
local rounds = tonumber(opt.rounds)
if not (ask_at or bid_at) then error("give ask=PRICE and/or bid=PRICE", 0) end

local sizes = {}
for _, v in ipairs(catalog.variants(product)) do sizes[v.variantId] = v.variantValue end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function alert(kind, vid, price, threshold)
  local text = ("%s %s size %s at %s (threshold %s)"):format(kind, product,
    sizes[vid] or "?", tostring(price), tostring(threshold))
  stockx.log.warn("market alert", { kind = kind, productId = product,
    size = sizes[vid], price = price:amount(), threshold = threshold:amount() })
  if opt.command then
    os.execute(("STOCKX_ALERT=%s STOCKX_PRODUCT=%s STOCKX_SIZE=%s STOCKX_PRICE=%s "
      .. "STOCKX_THRESHOLD=%s sh -c %s"):format(sh_quote(text), sh_quote(product),
      sh_quote(sizes[vid]), sh_quote(price:amount()), sh_quote(threshold:amount()),
      sh_quote(opt.command)))
  end
end

local crossed = {} -- "ask/variantId" -> true while the price stays across
local n = 0
while not rounds or n < rounds do
  n = n + 1
  for vid, md in pairs(catalog.market_data(product, { currency = currency })) do
    local m = catalog.market(md, "STANDARD")
    for _, c in ipairs {
      { "ask", m.lowest_ask, ask_at, function(p, t) return p <= t end },
      { "bid", m.highest_bid, bid_at, function(p, t) return p >= t end },
    } do
      local key, price, threshold, across = c[1] .. "/" .. vid, c[2], c[3], c[4]
      local now = price and threshold and across(price, threshold) or false
      if now and not crossed[key] then alert(c[1], vid, price, threshold) end
      crossed[key] = now
    end
  end
  if not rounds or n < rounds then stockx.sleep(interval) end
end
