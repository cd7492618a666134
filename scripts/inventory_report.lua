-- inventory_report.lua: your active listings with their market position:
-- the lowest ask of the listing's own channel, whether yours is it (or
-- how far above), the highest bid, and the payout after StockX's fees
-- (seller level 1: 9% + 3% processing; the table is stockx.reprice.FEES).
-- A terminal table, and the same as CSV when a file is named.  Reads only.
--
--   stockx run --sandbox scripts/inventory_report.lua [report.csv] [LEVEL]

local catalog, listings, money = stockx.catalog, stockx.listings, stockx.money
local fees = stockx.reprice.FEES
local csv_path, level = arg[1], arg[2] or "1"
local fee = fees.levels[level] or error("seller level must be 1 to 5", 0)

-- payout = amount minus the transaction fee and processing, each rounded
-- to the cent as StockX shows them
local function payout(a)
  return a - money.percent(a, fee, "half_up") - money.percent(a, fees.processing, "half_up")
end

-- one market-data request per product: on a terminal, a progress line
-- follows the listings meanwhile (stockx.paginate draws it)
local rows, market = {}, {}
for l in listings.list { listingStatuses = { "ACTIVE" } } do
  local pid = l.product.productId
  market[pid] = market[pid] or catalog.market_data(pid)
  local m = catalog.market_for(l, market[pid])
  local ask = listings.amount(l)
  local position = "no other ask"
  if m.lowest_ask then
    position = ask <= m.lowest_ask and "lowest"
      or ("+" .. (ask - m.lowest_ask):amount() .. " above")
  end
  rows[#rows + 1] = { l.listingId, l.product.productName, tostring(l.variant.variantValue),
    m.channel, ask:amount(), m.lowest_ask and m.lowest_ask:amount() or "-", position,
    m.highest_bid and m.highest_bid:amount() or "-", payout(ask):amount(), ask.currency }
end
table.sort(rows, function(a, b) return a[2] < b[2] or (a[2] == b[2] and a[3] < b[3]) end)

local head = { "listing", "product", "size", "channel", "ask", "lowest", "position",
  "bid", "payout", "currency" }
local width = {}
for _, r in ipairs({ head, table.unpack(rows) }) do
  for i, v in ipairs(r) do width[i] = math.min(math.max(width[i] or 0, #v), i == 2 and 34 or 40) end
end
local function line(r)
  local cells = {}
  for i, v in ipairs(r) do
    if i == 1 then v = v:sub(1, 8) end
    if #v > width[i] then v = v:sub(1, width[i] - 1) .. "~" end
    cells[i] = v .. string.rep(" ", (i == 1 and 8 or width[i]) - #v)
  end
  return (table.concat(cells, "  "):gsub("%s+$", ""))
end
print(line(head))
for _, r in ipairs(rows) do print(line(r)) end

local lowest = 0
for _, r in ipairs(rows) do if r[7] == "lowest" then lowest = lowest + 1 end end
print(("%d listings, %d of them the lowest ask of their channel"):format(#rows, lowest))

if csv_path then
  local f = assert(io.open(csv_path .. ".part", "w"))
  local function field(v)
    return v:find('[,"\n]') and '"' .. v:gsub('"', '""') .. '"' or v
  end
  for _, r in ipairs({ head, table.unpack(rows) }) do
    local out = {}
    for i, v in ipairs(r) do out[i] = field(v) end
    f:write(table.concat(out, ","), "\n")
  end
  f:close()
  assert(os.rename(csv_path .. ".part", csv_path))
  print("written to " .. csv_path)
end
