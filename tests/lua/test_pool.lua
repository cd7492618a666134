-- The connection pool: keep-alive over HTTP/1.1, HTTP/2 multiplexing
-- through nginx (TLS verified against the test CA).
local tap = require "tap"
tap.setup()

local before = tap.stats().connections
local c0 = stockx.stats().connections
for _ = 1, 1000 do
  local d = stockx.get("/_test/echo")
  assert(d.method == "GET")
end
local after = tap.stats().connections
tap.eq(after - before, 0, "1000 sequential requests opened no new connection at the server")
tap.eq(stockx.stats().connections - c0, 0, "and the client opened none")
tap.eq(stockx.stats().connections, 1, "the whole test used one connection")

-- HTTP/2 through nginx
local h2 = os.getenv("TEST_H2_URL")
tap.ok(h2 ~= nil, "nginx (HTTPS, HTTP/2) is running in front of the sandbox")
if h2 then
  stockx.configure { base_url = h2, ca_file = os.getenv("TEST_CA_FILE") }
  local conns0 = stockx.stats().connections
  local tasks = {}
  for i = 1, 100 do
    tasks[i] = stockx.spawn(function()
      local d, res = stockx.get("/_test/delay", { s = 0.05 })
      return res.http_version, d.ok
    end)
  end
  local all2, allok = true, true
  for i = 1, 100 do
    local v, okv = tasks[i]:wait()
    all2 = all2 and v == "2"
    allok = allok and okv
  end
  tap.ok(all2 and allok, "100 concurrent HTTPS requests answered over HTTP/2")
  tap.eq(stockx.stats().connections - conns0, 1, "they shared one connection")

  tap.raises(function() stockx.configure { ca_file = "/nonexistent/ca.pem" } end,
    "a CA file that does not exist is refused at once, naming it",
    "cannot read ca_file '/nonexistent/ca.pem'")
  stockx.configure { ca_file = false }
  local res2, err2 = stockx.request { path = "/_test/echo" }
  tap.ok(res2 == nil and err2.kind == "tls",
    "without the test CA the certificate is not trusted (verification is on)",
    err2 and (err2.kind .. ": " .. err2.message))
end
tap.done()
