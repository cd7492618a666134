-- Contract: each of the 32 operations of StockX's OpenAPI file, called on
-- the sandbox through the real client with valid inputs, answers with a
-- body that matches the documented schema; the documented error statuses
-- (401, 404, 400) answer with PublicApiError bodies.  So the sandbox
-- cannot drift from StockX without this file failing.
local tap = require "tap"
local schema = require "schema"
local scenario = require "scenario"
scenario.start()

local null = stockx.json.null
local doc = schema.load("tests/contract/stockx-openapi.json")
local ops, by_id = schema.operations(doc)
tap.eq(#ops, 32, "the OpenAPI file has 32 operations")

---------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------

local exercised = {}   -- operationId -> true once a 2xx body was checked

local function first_errors(errs)
  local out = {}
  for i = 1, math.min(#errs, 8) do out[i] = errs[i] end
  if #errs > 8 then out[#out + 1] = "... " .. (#errs - 8) .. " more" end
  return table.concat(out, "\n#   ")
end

local function escape(v)
  return (tostring(v):gsub("[^%w%-._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- The path of an operation with its {params} filled in.
local function fill(op, params)
  return (op.path:gsub("{(%w+)}", function(k)
    return escape(assert(params[k], op.id .. " needs {" .. k .. "}"))
  end))
end

local function call(id, params, o)
  local op = assert(by_id[id], "no operation " .. id)
  o = o or {}
  local headers = o.headers
  if type(o.body) == "string" then
    headers = { ["Content-Type"] = "application/json" }
  end
  return stockx.request { method = op.method, path = fill(op, params or {}),
    query = o.query, body = o.body, headers = headers }, op
end

-- StockX's conventions that the schema leaves as plain strings: times are
-- ISO-8601 UTC with milliseconds, money is a decimal string, ids are UUIDs
-- and askId is a numeric string.
local ID_KEYS = { listingId = true, operationId = true, productId = true,
  variantId = true, batchId = true, itemId = true }
local MONEY_KEYS = { amount = true, salePrice = true, totalPayout = true,
  totalAdjustments = true, lowestAsk = true, sellFaster = true,
  earnMore = true, beatUS = true }
local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

local function convention_errors(v, path, errs)
  if type(v) ~= "table" then return errs end
  for k, x in pairs(v) do
    local p = path .. "/" .. tostring(k)
    if type(x) == "string" and type(k) == "string" then
      if k:match("At$") and not schema._internal.date_time(x) then
        errs[#errs + 1] = p .. ": " .. x .. " is not like 2021-11-09T12:44:31.000Z"
      elseif (MONEY_KEYS[k] or k:match("Amount$"))
        and not (x:match("^%-?%d+$") or x:match("^%-?%d+%.%d+$")) then
        errs[#errs + 1] = p .. ": " .. x .. " is not a decimal string"
      elseif ID_KEYS[k] and not x:find(UUID) then
        errs[#errs + 1] = p .. ": " .. x .. " is not a UUID"
      elseif k == "askId" and not x:match("^%d+$") then
        errs[#errs + 1] = p .. ": " .. x .. " is not a numeric string"
      end
    elseif type(x) == "table" then
      convention_errors(x, p, errs)
    end
  end
  return errs
end

-- Decodes res and checks it against the documented schema of status;
-- returns the data, and the list of problems (empty when it conforms).
local function conform(op, status, res)
  local problems = {}
  local ct = res.headers["content-type"] or ""
  if not ct:find("application/json", 1, true) then
    problems[1] = "Content-Type is " .. ct .. ", not application/json"
  end
  local ok, data = pcall(stockx.json.decode, res.body)
  if not ok then
    problems[#problems + 1] = "body is not JSON: " .. res.body:sub(1, 200)
    return nil, problems
  end
  local s, e = schema.response(doc, op.method, op.path, status)
  if not s then
    problems[#problems + 1] = e
    return data, problems
  end
  local _, errs = schema.check(doc, s, data)
  for _, x in ipairs(errs) do problems[#problems + 1] = x end
  if status < 300 then convention_errors(data, "#", problems) end
  return data, problems
end

--- Calls operation id; passes if the status is `status` and the body
-- matches its schema.  Returns the decoded body (nil on a wrong status).
local function expect(id, params, o, status, desc)
  status = status or 200
  local res, op = call(id, params, o)
  local what = id .. " (" .. op.method .. " " .. op.path .. ")"
    .. (desc and (" " .. desc) or "")
  if not tap.eq(res and res.status, status, what .. " -> " .. status) then
    if res then print("#   body: " .. res.body:sub(1, 300)) end
    return nil
  end
  if status < 300 then exercised[id] = true end
  local data, problems = conform(op, status, res)
  tap.ok(#problems == 0, what .. ": " .. status .. " body matches the schema",
    first_errors(problems))
  return data, res
end

--- Checks a list of calls of one operation with one assertion.
local function sweep(id, list, desc)
  local problems, n = {}, 0
  for _, c in ipairs(list) do
    local res, op = call(id, c.params, c.o)
    n = n + 1
    if not res or res.status ~= 200 then
      problems[#problems + 1] = fill(op, c.params) .. " -> "
        .. tostring(res and res.status)
    else
      local _, p = conform(op, 200, res)
      for _, x in ipairs(p) do problems[#problems + 1] = fill(op, c.params) .. " " .. x end
    end
  end
  tap.ok(n > 0 and #problems == 0, id .. ": " .. desc .. " (" .. n .. " calls) match the schema",
    first_errors(problems))
end

-- Also checks the request body we send against the documented input
-- schema, so the contract calls are made with valid (or, for the 400
-- checks, invalid) inputs.
local function body_conforms(id, body)
  local op = by_id[id]
  local s = schema.request(doc, op.method, op.path)
  return schema.check(doc, s, body)
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end

local function wait(op)
  local done, e = scenario.wait_operation(op)
  tap.ok(done and done.operationStatus == "SUCCEEDED",
    "operation " .. tostring(op and op.operationType) .. " reaches SUCCEEDED",
    done and done.operationStatus or tostring(e))
  return done
end

-- Ids gathered along the way, for the later calls and the 401 sweep.
local ids = { productId = "00000000-0000-4000-8000-000000000001",
  variantId = "00000000-0000-4000-8000-000000000002",
  listingId = "00000000-0000-4000-8000-000000000003",
  operationId = "00000000-0000-4000-8000-000000000004",
  batchId = "00000000-0000-4000-8000-000000000005",
  ingestionId = "00000000-0000-4000-8000-000000000006",
  orderNumber = "10000000-10000001", shippingId = "S-1", gtin = "194502875966" }
local UNKNOWN = "00000000-0000-4000-8000-00000000dead"

---------------------------------------------------------------------------
-- The validator itself catches drift (on a real body, mutated).
---------------------------------------------------------------------------

scenario.part("validator", function()
  local good = stockx.get("/selling/orders/history", { pageSize = 5 })
  local s = schema.response(doc, "GET", "/selling/orders/history", 200)
  tap.ok(s and s["$ref"] == "#/components/schemas/Orders",
    "schema.response finds the 200 schema of a path")
  tap.ok(schema.check(doc, s, good), "a sandbox body that conforms passes")
  local function rejects(mutate, want, desc)
    local bad = deep_copy(good)
    mutate(bad, bad.orders[1])
    local ok, errs = schema.check(doc, s, bad)
    tap.ok(not ok and table.concat(errs, "\n"):find(want, 1, true) ~= nil,
      "validator: " .. desc, first_errors(errs))
  end
  rejects(function(_, o) o.amount = 150 end, "#/orders/0/amount: expected string",
    "a number for a string")
  rejects(function(_, o) o.askId = nil end, "#/orders/0/askId: required property missing",
    "a missing required property")
  rejects(function(_, o) o.bogus = 1 end, "#/orders/0/bogus: property not allowed",
    "an extra property where additionalProperties is false")
  rejects(function(_, o) o.inventoryType = "CONSIGNED" end, "#/orders/0/inventoryType:",
    "a value outside an enum")
  rejects(function(_, o) o.askId = null end, "#/orders/0/askId: expected string, got null",
    "null where not nullable")
  rejects(function(_, o) o.createdAt = "2024-01-01 10:00:00" end, "#/orders/0/createdAt:",
    "a date-time without milliseconds and Z")
  rejects(function(_, o) o.status = 7 end, "matches none of anyOf", "anyOf with no match")
  rejects(function(b) b.hasNextPage = "yes" end, "#/hasNextPage: expected boolean",
    "a string for a boolean")
  rejects(function(b) b.orders = { x = 1 } end, "#/orders: expected array",
    "an object for an array")
  rejects(function(_, o) o.product = "p" end, "#/orders/0/product: expected object",
    "a string for an object")
  local empty = deep_copy(good)
  empty.orders = {}
  tap.ok(schema.check(doc, s, empty), "an empty table is accepted as an empty array")
  local nullable = deep_copy(good)
  nullable.orders[1].listingId = null
  tap.ok(schema.check(doc, s, nullable), "null is accepted where nullable")
  tap.ok(not schema.check(doc, "GetListingCreateBatchResponse", {
    batchId = "not-a-uuid", status = "QUEUED", completedAt = null,
    createdAt = "x", updatedAt = "x", totalItems = 1, itemStatuses = {} }),
    "pattern: a batchId that is not a UUID is rejected")
  tap.ok(schema.check(doc, "BatchStatusCounts", { queued = 1, failed = 2 })
    and not schema.check(doc, "BatchStatusCounts", { queued = "1" }),
    "additionalProperties as a schema")
end)

---------------------------------------------------------------------------
-- Catalog
---------------------------------------------------------------------------

local fx = scenario.fixtures()
local pid = fx.productIds[1]
local vid = fx.variantIds[1]
ids.productId, ids.variantId = pid, vid
local other_vid     -- a variant of another product

scenario.part("catalog", function()
  local product = expect("GetProduct", { productId = pid })
  local word = product and product.title and product.title:match("%a+") or "Nike"
  local found = expect("Search", nil, { query = { query = word, pageSize = 50 } })
  tap.ok(found and #found.products > 0, "Search finds products for '" .. word .. "'")
  expect("Search", nil, { query = { query = "zzzzqqqq" } }, 200, "(no match)")
  local variants = expect("GetVariants", { productId = pid })
  tap.ok(variants and #variants > 0, "GetVariants returns a bare array of variants")
  expect("GetVariant", { productId = pid, variantId = vid })
  local m = expect("GetVariantMarketData", { productId = pid, variantId = vid })
  tap.eq(m and m.variantId, vid, "market data is for the variant asked")
  local eur = expect("GetVariantMarketData", { productId = pid, variantId = vid },
    { query = { currencyCode = "EUR" } }, 200, "currencyCode=EUR")
  tap.eq(eur and eur.currencyCode, "EUR", "market data in the currency asked")
  local pm = expect("GetProductMarketData", { productId = pid })
  tap.eq(pm and #pm, variants and #variants, "product market data: one entry per variant")

  local gtin, calls, vcalls = nil, {}, {}
  for i, p in ipairs(fx.productIds) do
    calls[#calls + 1] = { params = { productId = p } }
    local vs = stockx.get("/catalog/products/" .. p .. "/variants")
    if i == 2 then other_vid = vs[1].variantId end
    for _, v in ipairs(vs) do
      vcalls[#vcalls + 1] = { params = { productId = p, variantId = v.variantId } }
      if not gtin and #v.gtins > 0 then gtin = v.gtins[1].identifier end
    end
  end
  sweep("GetProduct", calls, "every product")
  sweep("GetVariants", calls, "the variants of every product")
  sweep("GetProductMarketData", calls, "the market data of every product")
  sweep("GetVariantMarketData", vcalls, "the market data of every variant")
  tap.ok(gtin, "a variant has a GTIN")
  if gtin then
    ids.gtin = gtin
    local v = expect("GetVariantsByGtin", { gtin = gtin })
    local has = false
    for _, g in ipairs(v and v.gtins or {}) do has = has or g.identifier == gtin end
    tap.ok(has, "the variant found by GTIN carries that GTIN")
  end

  local item = { category = "sneakers", productTitle = "Acme Runner 1 Black",
    brand = "Acme", productImages = { "https://example.com/acme-runner.jpg" },
    variants = { "9", "10", "11" }, retailPrice = "120",
    releaseDate = "2026-03-01", countryOfOrigin = "US",
    colorway = "Black/White", gtin = "00012345678905", gender = "men",
    styleCode = "AR1-001" }
  tap.ok(body_conforms("Ingestion", { items = { item } }),
    "the ingestion input conforms to CatalogIngestionInput")
  local ing = expect("Ingestion", nil, { body = { items = { item } } }, 201)
  if ing then
    ids.ingestionId = ing.ingestionId
    local items = expect("IngestionItems", { ingestionId = ing.ingestionId })
    tap.ok(items and #items.items == 1, "IngestionItems lists the item sent")
  end
end)

---------------------------------------------------------------------------
-- Listings: reads, then every write on a listing we create
---------------------------------------------------------------------------

scenario.part("listing reads", function()
  local page = expect("GetAllListings", nil, { query = { pageSize = 100 } })
  tap.ok(page and page.count == fx.listingCount, "GetAllListings counts every listing",
    page and (page.count .. " vs " .. tostring(fx.listingCount)))
  local pages = {}
  for n = 1, math.ceil((fx.listingCount or 250) / 100) do
    pages[#pages + 1] = { o = { query = { pageSize = 100, pageNumber = n } } }
  end
  sweep("GetAllListings", pages, "every page of listings")
  expect("GetAllListings", nil, { query = { listingStatuses = { "ACTIVE", "INACTIVE" },
    inventoryTypes = "STANDARD", pageSize = 5 } }, 200, "with filters")
  local expired = fx.expiredListingIds or {}
  if #expired > 0 then
    expect("GetAllListings", nil, { query = { isExpired = true, pageSize = 100 } },
      200, "isExpired=true")
    local with, without = false, false
    for l in stockx.paginate("/selling/listings", { isExpired = true }) do
      with = with or l.listingId == expired[1]
    end
    for l in stockx.paginate("/selling/listings") do
      without = without or l.listingId == expired[1]
    end
    tap.ok(with and not without,
      "an expired listing is listed with isExpired=true, and not by default")
  end
  local lid = fx.listingIds[1]
  ids.listingId = lid
  expect("FindById", { listingId = lid })
  local calls = {}
  for _, l in ipairs(fx.listingIds) do calls[#calls + 1] = { params = { listingId = l } } end
  for _, l in ipairs(page and page.listings or {}) do
    calls[#calls + 1] = { params = { listingId = l.listingId } }
  end
  sweep("FindById", calls, "the fixture listings and the first page")
  local opcalls = {}
  for _, l in ipairs(fx.listingIds) do
    opcalls[#opcalls + 1] = { params = { listingId = l }, o = { query = { pageSize = 100 } } }
  end
  sweep("GetListingOperations", opcalls, "the operations of the fixture listings")
  local opsp = expect("GetListingOperations", { listingId = lid }, { query = { pageSize = 10 } })
  if opsp and opsp.nextCursor ~= null then
    expect("GetListingOperations", { listingId = lid },
      { query = { pageSize = 10, cursor = opsp.nextCursor } }, 200, "next cursor page")
  end
  local first = opsp and opsp.operations[1]
  tap.ok(first, "the listing has operations")
  if first then
    ids.operationId = first.operationId
    local op = expect("FindOperationById", { listingId = lid, operationId = first.operationId })
    tap.eq(op and op.operationId, first.operationId, "FindOperationById returns that operation")
  end
end)

local created   -- listingId of the listing the write checks create

scenario.part("listing writes", function()
  local input = { amount = "150", variantId = vid, currencyCode = "USD",
    inventoryType = "STANDARD", active = true,
    expiresAt = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() + 30 * 86400) }
  tap.ok(body_conforms("Create", input), "the create input conforms to CreateListingInput")
  local op = expect("Create", nil, { body = input }, 201)
  if not op then return end
  created = op.listingId
  tap.eq(op.operationStatus, "PENDING", "Create answers a PENDING operation")
  tap.eq(op.operationType, "CREATE", "of type CREATE")
  local pending = expect("FindOperationById", { listingId = op.listingId,
    operationId = op.operationId }, nil, 200, "(a new operation)")
  tap.ok(pending and pending.error == null or (pending and type(pending.error) == "string"),
    "an operation carries error (null or text)")
  wait(op)
  expect("FindById", { listingId = created }, nil, 200, "(the created listing)")

  local function write(id, body, want_type)
    if body ~= nil then
      tap.ok(body_conforms(id, body), "the " .. id .. " input conforms to its schema")
    end
    local o = expect(id, { listingId = created }, { body = body }, 200)
    tap.eq(o and o.operationType, want_type, id .. " answers a " .. want_type .. " operation")
    if o then wait(o) end
  end
  write("Update", { amount = "155" }, "UPDATE")
  write("DeactivateListing", nil, "DEACTIVATE")
  write("ActivateListing", {}, "ACTIVATE")
  write("DeleteListing", nil, "DELETE")
  local after = expect("FindById", { listingId = created }, nil, 200, "(after DELETE)")
  tap.eq(after and after.status, "DELETED", "a deleted listing reads as DELETED")
end)

---------------------------------------------------------------------------
-- Batches
---------------------------------------------------------------------------

scenario.part("batches", function()
  local function batch(kind, body, create_id, status_id, items_id)
    tap.ok(body_conforms(create_id, body), "the " .. create_id .. " input conforms to its schema")
    local b = expect(create_id, nil, { body = body })
    if not b then return nil end
    ids.batchId = b.batchId
    expect(status_id, { batchId = b.batchId })
    local done, e = scenario.wait_batch(kind, b.batchId)
    tap.ok(done, kind .. " batch reaches COMPLETED", tostring(e))
    expect(status_id, { batchId = b.batchId }, nil, 200, "(COMPLETED)")
    local items = expect(items_id, { batchId = b.batchId })
    expect(items_id, { batchId = b.batchId }, { query = { status = "COMPLETED" } }, 200,
      "?status=COMPLETED")
    return items
  end
  local items = batch("create", { items = { { variantId = vid, amount = "121",
    quantity = 2, currencyCode = "USD", active = true } } },
    "CreateListings", "GetListingCreateBatch", "GetListingCreateBatchItems")
  local made = {}
  for _, it in ipairs(items and items.items or {}) do
    if type(it.result) == "table" and type(it.result.listingId) == "string" then
      made[#made + 1] = it.result.listingId
    end
  end
  tap.eq(#made, 2, "the create batch made 2 listings (quantity 2)")
  if #made < 2 then return end
  batch("update", { items = { { listingId = made[1], amount = "131" } } },
    "UpdateListings", "GetListingUpdateBatch", "GetListingUpdateBatchItems")
  batch("delete", { items = { { listingId = made[2] } } },
    "DeleteListings", "GetListingDeleteBatch", "GetListingDeleteBatchItems")
end)

---------------------------------------------------------------------------
-- Orders
---------------------------------------------------------------------------

scenario.part("orders", function()
  local active = expect("GetOrders", nil, { query = { pageSize = 100 } })
  local history = expect("GetHistoricalOrders", nil, { query = { pageSize = 100 } })
  expect("GetOrders", nil, { query = { sortOrder = "SHIPBYDATE", pageSize = 3 } }, 200,
    "sortOrder=SHIPBYDATE")
  expect("GetHistoricalOrders", nil, { query = { orderStatus = "COMPLETED", pageSize = 3 } },
    200, "orderStatus=COMPLETED")
  local all, calls = {}, {}
  for _, list in ipairs { active and active.orders or {}, history and history.orders or {} } do
    for _, o in ipairs(list) do
      all[#all + 1] = o
      calls[#calls + 1] = { params = { orderNumber = o.orderNumber } }
    end
  end
  local number = fx.activeOrderNumbers[1] or (all[1] and all[1].orderNumber)
  ids.orderNumber = number
  local order = expect("GetOrder", { orderNumber = number })
  sweep("GetOrder", calls, "every active and historical order")

  -- the shipping label of the first order with a shipping document
  local url = order and order.shipment ~= null and order.shipment.shippingDocumentUrl
  for _, o in ipairs(all) do
    if type(url) == "string" then break end
    local d = stockx.get("/selling/orders/" .. o.orderNumber)
    number = o.orderNumber
    url = d.shipment ~= null and d.shipment.shippingDocumentUrl
  end
  tap.ok(type(url) == "string", "an order has a shippingDocumentUrl")
  if type(url) == "string" then
    ids.shippingId = url:match("([^/]+)$")
    tap.ok(url:find("/selling/orders/" .. number .. "/shipping-document/", 1, true),
      "shippingDocumentUrl is the order's shipping-document path", url)
    local res = call("GetOrderShipment", { orderNumber = number, shippingId = ids.shippingId })
    exercised.GetOrderShipment = true
    tap.eq(res and res.status, 200, "GetOrderShipment -> 200")
    tap.eq(res and res.headers["content-type"], "application/pdf",
      "GetOrderShipment answers application/pdf")
    tap.ok(res and res.body:sub(1, 5) == "%PDF-", "the label starts with %PDF-")
    tap.ok(res and res.body:find("%%%%EOF%s*$") ~= nil, "the label ends with %%EOF")
  end

  -- shipping documents: Direct orders only
  local direct, standard
  for _, o in ipairs(all) do
    if o.inventoryType == "DIRECT" then direct = direct or o.orderNumber
    else standard = standard or o.orderNumber end
  end
  direct = direct or fx.directOrderNumber
  tap.ok(direct, "the sandbox has a DIRECT order")
  if direct then
    expect("GetOrderShipmentDocuments", { orderNumber = direct })
  end
  if standard then
    expect("GetOrderShipmentDocuments", { orderNumber = standard }, nil, 400,
      "(not a Direct order)")
  end
end)

---------------------------------------------------------------------------
-- Documented errors
---------------------------------------------------------------------------

local function sample_body(id)
  local bodies = {
    Create = { amount = "150", variantId = vid },
    Update = { amount = "150" }, ActivateListing = {},
    CreateListings = { items = { { variantId = vid, amount = "150", quantity = 1 } } },
    UpdateListings = { items = { { listingId = ids.listingId, amount = "150" } } },
    DeleteListings = { items = { { listingId = ids.listingId } } },
    Ingestion = '{"items": []}',
  }
  return bodies[id]
end

scenario.part("401 without credentials", function()
  local problems, n = {}, 0
  stockx.configure { api_key = false, access_token = false }
  for _, op in ipairs(ops) do
    local res = call(op.id, ids, { body = sample_body(op.id) })
    n = n + 1
    if not res or res.status ~= 401 then
      problems[#problems + 1] = op.id .. " -> " .. tostring(res and res.status)
    else
      local _, p = conform(op, 401, res)
      for _, x in ipairs(p) do problems[#problems + 1] = op.id .. " " .. x end
    end
  end
  stockx.configure { api_key = os.getenv("STOCKX_API_KEY") }
  local key_only = stockx.request { path = "/selling/listings" }
  stockx.configure { api_key = false, access_token = os.getenv("STOCKX_ACCESS_TOKEN") }
  local token_only = stockx.request { path = "/selling/listings" }
  stockx.configure { api_key = os.getenv("STOCKX_API_KEY") }
  tap.ok(#problems == 0, "every operation (" .. n
    .. ") answers 401 PublicApiError without credentials", first_errors(problems))
  tap.eq(key_only and key_only.status, 401, "the API key alone gets 401")
  tap.eq(token_only and token_only.status, 401, "the bearer token alone gets 401")
  local body = token_only and stockx.json.decode(token_only.body)
  tap.eq(body and body.statusCode, 401, "the 401 body has statusCode 401")
  tap.eq(stockx.get("/selling/listings", { pageSize = 1 }).pageSize, 1,
    "with both, the API answers again")
end)

local checked = { [404] = {}, [400] = {} }

local function expect_error(status, id, params, o, desc)
  checked[status][id] = true
  local data = expect(id, params, o, status, desc)
  if data then
    tap.eq(data.statusCode, status, id .. " " .. desc .. ": statusCode " .. status)
  end
end

scenario.part("404 unknown ids", function()
  expect_error(404, "GetProduct", { productId = UNKNOWN }, nil, "unknown product")
  expect_error(404, "GetVariants", { productId = UNKNOWN }, nil, "unknown product")
  expect_error(404, "GetVariant", { productId = UNKNOWN, variantId = vid }, nil,
    "unknown product")
  expect_error(404, "GetVariant", { productId = pid, variantId = UNKNOWN }, nil,
    "unknown variant")
  expect_error(404, "GetVariantsByGtin", { gtin = "000000000017" }, nil, "unknown GTIN")
  expect_error(404, "FindById", { listingId = UNKNOWN }, nil, "unknown listing")
  expect_error(404, "ActivateListing", { listingId = UNKNOWN }, { body = {} },
    "unknown listing")
  expect_error(404, "DeactivateListing", { listingId = UNKNOWN }, nil, "unknown listing")
  expect_error(404, "FindOperationById", { listingId = ids.listingId, operationId = UNKNOWN },
    nil, "unknown operation")
  expect_error(404, "FindOperationById", { listingId = UNKNOWN, operationId = ids.operationId },
    nil, "unknown listing")
end)

scenario.part("400 variant not in product", function()
  other_vid = other_vid or stockx.get("/catalog/products/" .. fx.productIds[2]
    .. "/variants")[1].variantId
  expect_error(400, "GetVariant", { productId = pid, variantId = other_vid }, nil,
    "variant not in product")
  expect_error(400, "GetVariantMarketData", { productId = pid, variantId = other_vid }, nil,
    "variant not in product")
end)

scenario.part("400 input errors", function()
  expect_error(400, "GetVariantsByGtin", { gtin = "not-a-gtin" }, nil, "invalid GTIN")
  local no_amount = { variantId = vid, currencyCode = "USD" }
  tap.ok(not body_conforms("Create", no_amount),
    "an input without amount breaks CreateListingInput")
  expect_error(400, "Create", nil, { body = no_amount }, "missing amount")
  expect_error(400, "Update", { listingId = ids.listingId }, { body = { amount = 150 } },
    "amount as a number")
  expect_error(400, "ActivateListing", { listingId = ids.listingId },
    { body = { amount = "150", colour = "red" } }, "unknown property")
  expect_error(400, "GetAllListings", nil, { query = { pageSize = 101 } }, "pageSize 101")
  expect_error(400, "GetListingOperations", { listingId = ids.listingId },
    { query = { pageSize = 101 } }, "pageSize 101")
  expect_error(400, "GetOrders", nil, { query = { orderStatus = "BOGUS" } }, "unknown orderStatus")
  expect_error(400, "GetHistoricalOrders", nil, { query = { pageSize = 0 } }, "pageSize 0")
  expect_error(400, "CreateListings", nil, { body = '{"items": []}' }, "no items")
  expect_error(400, "UpdateListings", nil, { body = '{"items": []}' }, "no items")
  expect_error(400, "DeleteListings", nil, { body = '{"items": []}' }, "no items")
  expect_error(400, "Ingestion", nil, { body = "{not json" }, "malformed JSON")
  expect_error(400, "GetVariantMarketData", { productId = pid, variantId = vid },
    { query = { currencyCode = "XYZ" } }, "unknown currencyCode")
end)

scenario.part("declared 404s are all checked", function()
  local missing = {}
  for _, op in ipairs(ops) do
    if op.responses["404"] and not checked[404][op.id] then missing[#missing + 1] = op.id end
  end
  tap.ok(#missing == 0, "every operation that documents a 404 was checked for it",
    table.concat(missing, ", "))
end)

---------------------------------------------------------------------------
-- Every operation of the file was exercised
---------------------------------------------------------------------------

for _, op in ipairs(ops) do
  tap.ok(exercised[op.id], "operation " .. op.id .. " (" .. op.method .. " " .. op.path
    .. ") was exercised with a 2xx answer")
end

scenario.finish()
tap.done()
