-- sync_orders.lua: an incremental export of your orders (active and
-- history) to JSON lines, or CSV when the file name ends in .csv.  A
-- rerun appends only orders that are new or whose status changed.  Each
-- line is appended and fsynced before the state file is saved, and on
-- start the export itself is read back, so a crash anywhere loses nothing
-- and duplicates nothing.
--
--   stockx run --sandbox scripts/sync_orders.lua orders.jsonl [STATE]
--   (STATE defaults to the export's name plus .state)

local orders, append = stockx.orders, stockx._internal.core.append
local out = arg[1] or error("usage: sync_orders.lua OUT.jsonl|OUT.csv [STATE]", 0)
local state_path = arg[2] or out .. ".state"
local csv = out:match("%.csv$") ~= nil
local COLUMNS = { "orderNumber", "status", "amount", "currencyCode", "createdAt",
  "updatedAt", "productName", "styleId", "size", "inventoryType", "listingId" }

local function row_of(o)
  return { orderNumber = o.orderNumber, status = o.status, amount = o.amount,
    currencyCode = o.currencyCode, createdAt = o.createdAt, updatedAt = o.updatedAt,
    productName = o.product and o.product.productName, styleId = o.product and o.product.styleId,
    size = o.variant and o.variant.variantValue, inventoryType = o.inventoryType,
    listingId = o.listingId }
end

local function key(r) return r.orderNumber .. "|" .. tostring(r.status) end

local function csv_field(v)
  v = v == nil and "" or tostring(v)
  return v:find('[,"\n]') and '"' .. v:gsub('"', '""') .. '"' or v
end

local function line_of(r)
  if not csv then return stockx.json.encode(r) .. "\n" end
  local f = {}
  for i, c in ipairs(COLUMNS) do f[i] = csv_field(r[c]) end
  return table.concat(f, ",") .. "\n"
end

-- What the export already holds: the truth, whatever the state says.
local have, had = {}, 0
local f = io.open(out, "r")
if f then
  for line in f:lines() do
    local num, status
    if csv then
      num, status = line:match("^([^,]*),([^,]*),")
    else
      local ok, r = pcall(stockx.json.decode, line)
      if ok and type(r) == "table" then num, status = r.orderNumber, r.status end
    end
    if num and num ~= "orderNumber" then
      have[num .. "|" .. tostring(status)] = true
      had = had + 1
    end
  end
  f:close()
elseif csv then
  assert(append(out, table.concat(COLUMNS, ",") .. "\n"))
end

local crash_after = tonumber(os.getenv("SYNC_ORDERS_CRASH_AFTER")) -- for tests
local added = 0
-- on a terminal, a progress line per list (stockx.paginate draws it)
for _, list in ipairs { { orders.active, "active orders" }, { orders.history, "order history" } } do
  for o in list[1](nil, { progress = list[2] }) do
    local r = row_of(o)
    if not have[key(r)] then
      assert(append(out, line_of(r)))
      have[key(r)] = true
      added = added + 1
      if crash_after and added >= crash_after then os.exit(3) end
    end
  end
end

-- the state: when, and how much (written atomically; a cache, not the truth)
local tmp = state_path .. ".part"
local sf = assert(io.open(tmp, "w"))
sf:write(stockx.json.encode { synced_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  orders = (function() local n = 0 for _ in pairs(have) do n = n + 1 end return n end)(),
  added = added }, "\n")
sf:close()
assert(os.rename(tmp, state_path))
print(("%d orders added to %s (%d were there)"):format(added, out, had))
