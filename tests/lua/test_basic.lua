-- The request API: responses, decoded data, error values, inputs.
local tap = require "tap"
tap.setup()

-- get: data and res
local data, res = stockx.get("/selling/listings", { pageSize = 2 })
tap.eq(res.status, 200, "get returns res.status 200")
tap.eq(type(data), "table", "get decodes JSON")
tap.eq(#data.listings, 2, "query pageSize reached the server")
tap.eq(res.headers["content-type"]:match("json") ~= nil, true,
  "header names are lower-case")
tap.eq(res.http_version, "1.1", "http_version is 1.1 against the sandbox")
tap.eq(res.content_type, "application/json", "res.content_type")
tap.eq(type(res.headers), "table", "res.headers is a table (built on first use)")
tap.eq(rawget(res, "headers"), res.headers, "and stays built")
tap.ok(res.headers["content-length"] ~= nil, "with every header of the response")
tap.eq(res.attempts, 1, "one attempt")
tap.ok(type(res.elapsed) == "number" and res.elapsed >= 0, "elapsed is seconds")
tap.ok(res.url:find("/selling/listings?", 1, true) ~= nil, "res.url is the full URL")
tap.eq(type(res.body), "string", "res.body is the raw body")

-- JSON null stays distinguishable
local found_null = false
for _, l in ipairs(stockx.get("/selling/listings", { pageSize = 20 }).listings) do
  if l.batch == stockx.json.null then found_null = true end
end
tap.ok(found_null, "JSON null decodes to stockx.json.null, not nil")

-- auth headers are sent, and never come back in res
local echo, eres = stockx.get("/_test/echo", { ids = { "a", "b c" }, n = 5, flag = true })
tap.eq(echo.auth_ok, true, "x-api-key and bearer token were sent")
tap.eq(echo.raw_query, "flag=true&ids=a,b%20c&n=5",
  "query: sorted keys, arrays joined with commas, values escaped")
tap.ok(not eres.body:find(os.getenv("STOCKX_API_KEY"), 1, true),
  "the echo does not return the key")
tap.eq(eres.headers["x-api-key"], nil, "request headers are not in res")

-- bodies
local e = stockx.post("/_test/echo", { amount = "150", active = true })
tap.eq(e.headers["content-type"], "application/json", "table body sent as JSON")
tap.eq(stockx.json.decode(e.body).amount, "150", "JSON body arrived intact")
e = stockx.post("/_test/echo", "raw=1", { headers = { ["Content-Type"] = "text/plain" } })
tap.eq(e.body, "raw=1", "string body sent as given")
tap.eq(e.headers["content-type"], "text/plain", "caller's content-type kept")
e = stockx.patch("/_test/echo", { x = 1 })
tap.eq(e.method, "PATCH", "patch sends PATCH")
e = stockx.put("/_test/echo", {})
tap.eq(e.method, "PUT", "put sends PUT")
e = stockx.delete("/_test/echo")
tap.eq(e.method, "DELETE", "delete sends DELETE")

-- non-JSON and malformed bodies
local text, tres = stockx.get("/_test/text")
tap.eq(text, "hello", "a non-JSON body is returned as the raw string")
tap.eq(tres.status, 200, "with its res")
local err = tap.raises(function() stockx.get("/_test/malformed") end,
  "malformed JSON raises", "200 OK: bad response: invalid JSON at byte %d+: ")
tap.eq(err and err.kind, "bad_response", "kind bad_response")

-- HTTP errors as values
err = tap.raises(function() stockx.get("/selling/listings/nope") end,
  "404 raises")
tap.ok(stockx.is_error(err), "the error is a stockx error value")
tap.eq(err.kind, "http", "kind http")
tap.eq(err.status, 404, "status 404")
tap.eq(err.method, "GET", "method")
tap.eq(err.message, "Resource not found", "message is StockX's message field")
tap.ok(err.url:find("/selling/listings/nope", 1, true), "url")
tap.eq(err.attempts, 1, "attempts")
tap.eq(tostring(err), "GET /selling/listings/nope -> 404 Not Found: Resource not found",
  "tostring is one readable line")
tap.ok(err.body:find("statusCode", 1, true), "body is kept")

-- request returns res for any status
local r404 = stockx.request { path = "/selling/listings/nope" }
tap.eq(r404.status, 404, "request returns res for a 404")
local r401 = stockx.request { path = "/selling/listings",
  headers = { ["x-api-key"] = "wrong" } }
tap.eq(r401.status, 401, "a wrong key gets 401 from the sandbox")

-- bad inputs
tap.raises(function() stockx.get(42) end, "path must be a string",
  "bad argument #1 'path' to 'stockx.get' %(string expected, got number%)")
tap.raises(function() stockx.get("/x", "q=1") end, "query must be a table",
  "bad argument #2 'query'")
tap.raises(function() stockx.post("/x", 5) end, "body must be string or table",
  "'body'")
tap.raises(function() stockx.request { path = "/x", timeout = "soon" } end,
  "timeout must be a number", "'timeout' to 'stockx.request' %(number expected, got string%)")
tap.raises(function() stockx.get("/x", nil, { headers = { ["X-A"] = "a\r\nX-B: b" } }) end,
  "CR/LF in a header value is rejected", "CR or LF")
tap.raises(function() stockx.get("/x", nil, { headers = { ["X\nA"] = "a" } }) end,
  "CR/LF in a header name is rejected", "CR or LF")
tap.raises(function() stockx.get("/has space") end, "a path with a space is rejected",
  "'path' to 'stockx.get' %(space in path")
tap.raises(function() stockx.get("ftp://example.com/x") end,
  "a non-http URL is rejected")
tap.raises(function() stockx.get("/x", { a = print }) end,
  "a function query value is rejected", "query value for 'a'")
tap.raises(function() stockx.configure { nonsense = 1 } end,
  "unknown setting is named", "unknown setting 'nonsense'")
tap.raises(function() stockx.configure { base_url = "api.stockx.com" } end,
  "base_url must be http(s)", "base_url must start with")
tap.raises(function() stockx.configure { rate = "lots" } end,
  "a bad rate is named", "bad rate 'lots'")

-- absolute URLs
local abs = stockx.get(os.getenv("STOCKX_BASE_URL") .. "/_test/echo")
tap.eq(abs.path, "/_test/echo", "an absolute URL under the base works")

-- json helpers
tap.eq(stockx.json.decode('{"a":[1,2]}').a[2], 2, "stockx.json.decode")
tap.eq(stockx.json.encode({ a = "x" }), '{"a":"x"}', "stockx.json.encode")

-- stats
local s = stockx.stats()
tap.ok(s.requests > 10, "stats counts requests")
tap.eq(s.in_flight, 0, "nothing in flight at the end")
tap.eq(s.queued, 0, "nothing queued at the end")
tap.done()
