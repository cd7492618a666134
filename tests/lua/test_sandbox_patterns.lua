-- The path patterns of faults: a malformed one is refused when the fault is
-- added (400 naming the problem), not turned into a 500 on every matching
-- request; '-' is a literal hyphen (a UUID in a pattern matches itself);
-- patterns are searched in the decoded path, without the query.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local function add(f)
  return stockx.request { method = "POST", path = "/_sandbox/faults",
    body = stockx.json.encode(f), headers = { ["Content-Type"] = "application/json" } }
end

local function status(path, query)
  return stockx.request { path = path, query = query }.status
end

scenario.part("malformed patterns are refused", function()
  local bad = {
    { "/selling/[abc", "missing ']'" },
    { "/selling/%", "ends with '%'" },
    { "/selling/(listings", "unfinished capture" },
    { "/selling/listings)", "invalid pattern capture" },
    { "/selling/%f", "missing '[' after '%f'" },
    { "/selling/%b", "missing arguments to '%b'" },
    { "/selling/%1", "invalid capture index" },
    { "(/selling/%1)", "invalid capture index" },
  }
  for _, b in ipairs(bad) do
    local res = add { path = b[1], status = 500 }
    local body = res.status == 400 and stockx.json.decode(res.body) or {}
    tap.ok(res.status == 400 and tostring(body.message):find(b[2], 1, true),
      "fault path " .. b[1] .. ": 400 naming " .. b[2], res.status .. " " .. res.body)
  end
  local res = add { spec = "/selling/[abc:status=500" }
  tap.eq(res.status, 400, "the spec form is checked too")
  local list = stockx.get("/_sandbox/faults").faults
  tap.eq(#list, 0, "none of them was added")
  tap.eq(status("/selling/listings"), 200, "and requests are not turned into 500s")
  tap.eq(add { path = "/selling/[a-z]+$", status = 503 }.status, 200,
    "a set with a range is fine")
  tap.eq(status("/selling/listings"), 503, "and matches")
  scenario.clear_faults()
  tap.eq(add { path = "/(s)elling/li%1tings", status = 503 }.status, 200,
    "a closed capture and a back reference are fine")
  tap.eq(status("/selling/listings"), 503, "and match")
  scenario.clear_faults()
end)

scenario.part("'-' is a literal hyphen", function()
  local id = scenario.fixtures().listingIds[1]
  tap.ok(id:find("-", 1, true), "a listing id holds hyphens", id)
  scenario.fault { path = "^/selling/listings/" .. id .. "$", status = 503 }
  tap.eq(status("/selling/listings/" .. id), 503, "a pattern holding a UUID matches it")
  tap.eq(status("/selling/listings/" .. id:gsub("%-", "")), 404,
    "and not the same id without its hyphens")
  scenario.clear_faults()
  scenario.fault { path = "^/selling/listings/" .. id:gsub("%-", "%%-") .. "$", status = 503 }
  tap.eq(status("/selling/listings/" .. id), 503, "'%-' is a hyphen too")
  scenario.clear_faults()
  scenario.fault { path = "/catalog/products/[%x-]+/market-data$", status = 503 }
  local pid = scenario.fixtures().productIds[1]
  tap.eq(status("/catalog/products/" .. pid .. "/market-data"), 503,
    "'-' inside a set and in a word")
  tap.eq(status("/catalog/products/" .. pid), 200, "the product itself is not matched")
  local list = stockx.get("/_sandbox/faults").faults
  tap.eq(list[1] and list[1].path, "/catalog/products/[%x-]+/market-data$",
    "the fault lists the pattern as given")
  scenario.clear_faults()
end)

scenario.part("what a pattern is matched against", function()
  scenario.fault { path = "listings", status = 503 }
  tap.eq(status("/selling/listings"), 503, "unanchored: found anywhere in the path")
  scenario.clear_faults()
  scenario.fault { path = "pageSize", status = 503 }
  tap.eq(status("/selling/listings", { pageSize = 1 }), 200, "the query is not matched")
  scenario.clear_faults()
  scenario.fault { path = "^/selling/listings$", status = 503 }
  tap.eq(status("/selling/listings", { pageSize = 1 }), 503,
    "'$' anchors at the end of the path, before the query")
  tap.eq(status("/selling/listings/x"), 404, "and a longer path is not matched")
  scenario.clear_faults()
end)

scenario.finish()
tap.done()
