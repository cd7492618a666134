-- download_labels.lua: the shipping labels of your active orders that
-- still need one (status CREATED), one PDF per order in a directory,
-- soonest ship-by date first.  A label already on disk is skipped with no
-- request, and a download is written atomically, so it is safe to rerun
-- (from cron, after a crash, ...).
--
--   stockx run --sandbox scripts/download_labels.lua [DIR]   (default ./labels)
--
-- On a terminal a progress line follows the orders (stockx.paginate draws
-- it); stockx.progress.print writes each label's line clear of it.

local orders, say = stockx.orders, stockx.progress.print
local dir = arg[1] or "labels"
os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")

local got, skipped, failed = 0, 0, 0
for o in orders.active({ orderStatus = "CREATED", sortOrder = "SHIPBYDATE" },
  { progress = "labels" }) do
  if orders.needs_label(o) then
    local file = ("%s/%s.pdf"):format(dir, o.orderNumber)
    local ok, name, res = pcall(orders.label, o, file, { skip_existing = true })
    if not ok then
      failed = failed + 1
      stockx.progress.hide()
      io.stderr:write(("  %s: %s\n"):format(o.orderNumber, tostring(name)))
    elseif res then
      got = got + 1
      say(("%s  %s"):format(o.orderNumber, name))
    else
      skipped = skipped + 1
    end
  end
end
print(("%d labels downloaded, %d already there, %d failed"):format(got, skipped, failed))
if failed > 0 then os.exit(1) end
