-- Writes that are safe to retry: opts.idempotency_key (a UUID v4, or the
-- caller's string, the same on every attempt of one call, which is then
-- retried like an idempotent request), and ambiguous failures (a POST
-- sent and never answered: err.ambiguous), with the listings helper that
-- looks for a listing a lost create may have made.
local tap = require "tap"
tap.setup()
local listings = stockx.listings

local UUID4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local a = stockx.post("/_test/echo", { n = 1 }, { idempotency_key = true })
local b = stockx.post("/_test/echo", { n = 2 }, { idempotency_key = true })
local ka, kb = a.headers["idempotency-key"], b.headers["idempotency-key"]
tap.ok(type(ka) == "string" and ka:match(UUID4) ~= nil,
  "idempotency_key = true sends a UUID v4", tostring(ka))
tap.ok(ka ~= kb, "a new key per call")
tap.ok(stockx.uuid():match(UUID4) ~= nil, "stockx.uuid() is a UUID v4")
local c = stockx.post("/_test/echo", {}, { idempotency_key = "order-42",
  headers = { ["Idempotency-Key"] = "other" } })
tap.eq(c.headers["idempotency-key"], "order-42", "a string key is sent as given (and wins)")
local d = stockx.post("/_test/echo", {})
tap.eq(d.headers["idempotency-key"], nil, "no key unless asked")
tap.raises(function() stockx.post("/_test/echo", {}, { idempotency_key = "a b" }) end,
  "a key with a space is refused", "idempotency_key")
tap.raises(function() stockx.post("/_test/echo", {}, { idempotency_key = 7 }) end,
  "a number is refused", "idempotency_key")
tap.raises(function()
  stockx.post("/_test/echo", {}, { idempotency_key = string.rep("k", 256) })
end, "a key of 256 characters is refused", "idempotency_key")

-- A 503 on a create: retried with the key (the same key on both
-- attempts, which the sandbox's log shows), not without one
local fx = stockx.get("/_sandbox/fixtures")
local variant = fx.variantIds[1]
local body = { variantId = variant, amount = "300", currencyCode = "USD" }
tap.fault { path = "^/selling/listings$", method = "POST", status = 503, count = 1 }
local _, res = stockx.post("/selling/listings", body, { idempotency_key = "retry-me" })
local log = tap.log("^/selling/listings$")
tap.eq(res.attempts, 2, "a POST with a key answered 503 is retried")
tap.ok(#log >= 2 and log[#log - 1].status == 503 and log[#log].status == 201,
  "503, then 201 at the sandbox")
tap.ok(#log >= 2 and log[#log - 1].idempotency_key == "retry-me" and
  log[#log].idempotency_key == "retry-me", "both attempts carry the same key")
tap.fault { path = "^/selling/listings$", method = "POST", status = 503, count = 1 }
_, res = stockx.post("/selling/listings", body, { idempotency_key = true })
tap.eq(res.attempts, 2, "a POST with a generated key is retried too")
log = tap.log("^/selling/listings$")
tap.ok(#log >= 2 and log[#log - 1].idempotency_key ~= nil and
  log[#log - 1].idempotency_key == log[#log].idempotency_key,
  "a generated key is the same on the retry too")
tap.fault { path = "^/selling/listings$", method = "POST", status = 503, count = 1 }
local ok, err = pcall(stockx.post, "/selling/listings", body)
tap.ok(not ok and err.status == 503 and err.attempts == 1,
  "without a key a POST answered 503 is not retried", tostring(err))

-- Ambiguous failures: sent, no answer
ok, err = pcall(stockx.post, "/_test/stall", { n = 4 }, { timeout = 0.3 })
tap.ok(not ok and err.kind == "timeout" and err.ambiguous == true,
  "a POST that timed out after it was sent is ambiguous", tostring(err))
tap.ok(not ok and tostring(err):find("may have taken effect", 1, true) ~= nil,
  "and its message says so", tostring(err))
ok, err = pcall(stockx.get, "/_test/stall", nil, { timeout = 0.3 })
tap.ok(not ok and err.kind == "timeout" and err.ambiguous == nil,
  "a GET that timed out is not (it is retried, and changes nothing)")
stockx.configure { base_url = "http://127.0.0.1:1" }
ok, err = pcall(stockx.post, "/x", {})
tap.ok(not ok and err.kind == "connect" and err.ambiguous == nil,
  "a POST that could not connect is not ambiguous", tostring(err))
stockx.configure { base_url = os.getenv("STOCKX_BASE_URL") }

-- A create whose answer is lost: the listing exists, find_created finds it
variant = fx.variantIds[2] or variant
tap.fault { path = "^/selling/listings$", method = "POST", stall = true, count = 1 }
local listing = { variantId = variant, amount = "321", currencyCode = "USD" }
ok, err = pcall(listings.create, listing, { wait = false })
tap.ok(not ok and err.ambiguous == true and type(err.since) == "number",
  "listings.create: an ambiguous failure with err.since",
  tostring(err))
tap.ok(not ok and tostring(err):find("the listing may exist", 1, true) ~= nil,
  "its message says the listing may exist")
stockx.sleep(0.5) -- the sandbox's operation settles
local found = listings.find_created(listing, err.since)
tap.eq(#found, 1, "find_created finds the listing the lost create made")
tap.eq(found[1] and found[1].variant and found[1].variant.variantId, variant,
  "on that variant")
local none = listings.find_created({ variantId = variant, amount = "322" }, err.since)
tap.eq(#none, 0, "another amount: nothing")
tap.raises(function() listings.find_created({ amount = "1" }, 0) end,
  "find_created names a missing variantId", "variantId")

stockx.post("/_sandbox/reset", {}) -- leave the seeded account for the CLI tests
tap.done()
