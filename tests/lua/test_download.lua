-- stockx.download: atomic files, never partial or empty ones.
local tap = require "tap"
tap.setup()
local dir = os.getenv("TEST_TMP") .. "/dl"
os.execute("mkdir -p " .. dir)

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function leftovers()
  local p = io.popen("ls -A " .. dir)
  local names = {}
  for line in p:lines() do
    if line:find("part", 1, true) then names[#names + 1] = line end
  end
  p:close()
  return names
end

-- a shipping label PDF
local order = stockx.get("/selling/orders/active", { pageSize = 1 }).orders[1]
local detail = stockx.get("/selling/orders/" .. order.orderNumber)
local url = detail.shipment.shippingDocumentUrl
local shipping_id = url:match("[^/]+$")
local res = stockx.download("/selling/orders/" .. order.orderNumber ..
  "/shipping-document/" .. shipping_id, dir .. "/label.pdf")
tap.eq(res.status, 200, "download returns res")
local pdf = read(dir .. "/label.pdf")
tap.ok(pdf and pdf:sub(1, 5) == "%PDF-", "the file is a PDF")
tap.ok(pdf and pdf:find("%%EOF%s*$"), "complete to %%EOF")
tap.eq(res.body, "", "the body went to the file, not memory")

-- bytes
stockx.download("/_test/bytes", dir .. "/bytes.bin", { query = { n = 300000 } })
local b = read(dir .. "/bytes.bin")
tap.eq(b and #b, 300000, "300000 bytes streamed into the file")

-- a dropped connection leaves nothing behind, and keeps an old file
local f = io.open(dir .. "/keep.bin", "wb"); f:write("old contents"); f:close()
local err = tap.raises(function()
  stockx.download("/_test/drop", dir .. "/keep.bin", { query = { n = 200000, after = 50000 } })
end, "a dropped download raises")
tap.eq(err and err.kind, "reset", "kind reset")
tap.eq(read(dir .. "/keep.bin"), "old contents", "the existing file is untouched")
tap.eq(#leftovers(), 0, "no temporary file is left behind")

err = tap.raises(function()
  stockx.download("/_test/drop", dir .. "/new.bin", { query = { n = 200000, after = 50000 } })
end, "a dropped download of a new file raises")
tap.eq(err and err.kind, "reset", "kind reset")
tap.eq(read(dir .. "/new.bin"), nil, "no partial file exists")

-- a 404 leaves nothing
err = tap.raises(function()
  stockx.download("/selling/orders/nope/shipping-document/S-1", dir .. "/missing.pdf")
end, "a 404 download raises")
tap.eq(err and err.status, 404, "with status 404")
tap.eq(err and err.message, "Resource not found", "and StockX's message")
tap.eq(read(dir .. "/missing.pdf"), nil, "no file for a 404")

-- an empty 2xx body is not a label: no empty file
err = tap.raises(function()
  stockx.download("/_test/bytes", dir .. "/empty.bin", { query = { n = 0 } })
end, "an empty download raises")
tap.eq(err and err.kind, "bad_response", "kind bad_response")
tap.eq(read(dir .. "/empty.bin"), nil, "no empty file is left")

-- a directory that does not exist
tap.raises(function() stockx.download("/_test/bytes", dir .. "/no/such/dir/x.bin") end,
  "an unwritable target is an error", "cannot create a file next to")
tap.raises(function() stockx.download("/_test/bytes") end, "filename is required",
  "bad argument #2 'filename'")
tap.eq(#leftovers(), 0, "still no temporary files")
tap.done()
