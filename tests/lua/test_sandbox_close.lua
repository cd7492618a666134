-- Replies sent in pieces on connections that close after the reply
-- (Connection: close): HEAD and GET, on /_test/slow and under a
-- chunk_size fault.  Regression test for a double free in sx_server.c when
-- ending the reply closed the connection; afterwards the sandbox must
-- still answer.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local CLOSE = { Connection = "close" }
local ROUNDS = 8

local function req(method, path, query)
  return stockx.request { method = method, path = path, query = query,
    headers = CLOSE, timeout = 10 }
end

local function alive(what)
  local res, err = stockx.request { path = "/_sandbox/stats", timeout = 5 }
  tap.ok(res and res.status == 200, "the sandbox still answers after " .. what,
    tostring(err))
end

scenario.part("HEAD, slow body", function()
  local ok = 0
  for _ = 1, ROUNDS do
    local res = req("HEAD", "/_test/slow", { n = 300, chunk = 100, delay = 0.01 })
    if res and res.status == 200 and res.body == "" then ok = ok + 1 end
  end
  tap.eq(ok, ROUNDS, "HEAD /_test/slow with Connection: close: 200, no body")
  alive("HEAD on /_test/slow")
end)

scenario.part("HEAD and GET under a chunk_size fault", function()
  scenario.fault { path = "^/selling/", chunk_size = 100 }
  local heads, gets, whole = 0, 0, 0
  local plain
  for _ = 1, ROUNDS do
    local h = req("HEAD", "/selling/listings", { pageSize = 2 })
    if h and h.status == 200 then heads = heads + 1 end
    local g = req("GET", "/selling/listings", { pageSize = 2 })
    if g and g.status == 200 then
      gets = gets + 1
      plain = plain or g.body
      if g.body == plain and #g.body > 100 then whole = whole + 1 end
    end
  end
  tap.eq(heads, ROUNDS, "HEAD /selling/listings, chunked and closing: 200")
  tap.eq(gets, ROUNDS, "GET /selling/listings, chunked and closing: 200")
  tap.eq(whole, ROUNDS, "every GET body came whole, in more than one piece")
  scenario.clear_faults()
  alive("HEAD and GET under chunk_size")
end)

scenario.part("HTTP/1.0-style close after a delayed answer", function()
  scenario.fault { path = "^/selling/", latency = 0.01, chunk_size = 50 }
  local n = 0
  for _ = 1, ROUNDS do
    local h = req("HEAD", "/selling/orders/active")
    if h and h.status == 200 then n = n + 1 end
  end
  tap.eq(n, ROUNDS, "HEAD after a latency fault, chunked and closing: 200")
  scenario.clear_faults()
  alive("delayed HEADs")
end)

scenario.finish()
tap.done()
