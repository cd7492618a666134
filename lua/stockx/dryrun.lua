--- The answers of a dry run.  The C client refuses to send a POST, PUT,
-- PATCH or DELETE when the dry_run setting is on (no code path can get
-- around it) and answers 200 with an empty body; this module gives that
-- answer the shape StockX would have given, so a whole repricing run works
-- end to end: a listing write gets an operation that has already
-- SUCCEEDED, a batch one that is already COMPLETED, with its items.  Every
-- value it makes has dry_run = true; ids start with "dry-run-".

local M = {}

local seq = 0

local function id()
  seq = seq + 1
  return string.format("dry-run-%08d", seq)
end

local function now()
  return os.date("!%Y-%m-%dT%H:%M:%S.000Z")
end

-- An operation that SUCCEEDED at once (StockX's ListingAsyncOperationResponse).
local function operation(ty, listing_id, input)
  local t = now()
  return {
    listingId = listing_id or id(), operationId = id(), operationType = ty,
    operationStatus = "SUCCEEDED", operationInitiatedBy = "USER",
    operationInitiatedVia = "PUBLIC-API", createdAt = t, updatedAt = t,
    changes = { additions = {}, updates = input or {}, removals = {} },
    error = nil, operationUrl = nil, dry_run = true,
  }
end

-- A batch COMPLETED at once, with one COMPLETED item per input item.
local function batch(kind, body)
  local items, out = type(body) == "table" and body.items or {}, {}
  for i, item in ipairs(items) do
    local lid = item.listingId or id()
    out[i] = { itemId = id(), status = "COMPLETED", listingInput = item,
      result = { listingId = lid, askId = nil } }
  end
  local t = now()
  return { batchId = id(), status = "COMPLETED", createdAt = t, updatedAt = t,
    completedAt = t, totalItems = #out,
    itemStatuses = { queued = 0, completed = #out, failed = 0 },
    items = out, kind = kind, dry_run = true }
end

local routes = {
  { "POST", "^/selling/listings$", function(_, body)
    return operation("CREATE", nil, body)
  end },
  { "PATCH", "^/selling/listings/([^/]+)$", function(lid, body)
    return operation("UPDATE", lid, body)
  end },
  { "DELETE", "^/selling/listings/([^/]+)$", function(lid)
    return operation("DELETE", lid)
  end },
  { "PUT", "^/selling/listings/([^/]+)/activate$", function(lid, body)
    return operation("ACTIVATE", lid, body)
  end },
  { "PUT", "^/selling/listings/([^/]+)/deactivate$", function(lid)
    return operation("DEACTIVATE", lid)
  end },
  { "POST", "^/selling/batch/(%a+)%-listing$", function(kind, body)
    return batch(kind, body)
  end },
}

--- The value a dry-run write returns.
-- @param method "POST", "PUT", "PATCH" or "DELETE"
-- @param path the request's path relative to the base URL ("/selling/...")
-- @param body the body as given (a table is StockX JSON)
function M.answer(method, path, body)
  path = path:gsub("[?#].*$", "")
  for _, r in ipairs(routes) do
    local cap = r[1] == method and path:match(r[2])
    if cap then return r[3](cap, body) end
  end
  return { dry_run = true }
end

--- True if v (an operation or batch) was made by a dry run.
function M.is_dry_run(v)
  return type(v) == "table" and v.dry_run == true
end

return M
