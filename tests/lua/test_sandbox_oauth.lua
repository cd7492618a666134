-- The sandbox's OAuth2 authorization-code flow, as StockX's Auth0 tenant
-- runs it: /authorize redirects with a code and the state, /oauth/token
-- exchanges the code and refreshes, reused codes and bad refresh tokens
-- get invalid_grant; issued tokens work on the API until they expire.
local tap = require "tap"
local schema = require "schema"
local scenario = require "scenario"
scenario.start()

local doc = schema.load("tests/contract/stockx-openapi.json")
local base = os.getenv("STOCKX_BASE_URL")
local CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
local REDIRECT = "https://seller.example/callback"

local function escape(s)
  return (tostring(s):gsub("[^%w%-._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end))
end

-- x-www-form-urlencoded, keys sorted.
local function form(t)
  local keys, out = {}, {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = escape(k) .. "=" .. escape(t[k]) end
  return table.concat(out, "&")
end

local function query_of(url)
  local q = {}
  for k, v in (url:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do
    q[unescape(k)] = unescape(v)
  end
  return q
end

local function authorize(state)
  return stockx.request { path = base .. "/authorize", query = {
    response_type = "code", client_id = CLIENT_ID, redirect_uri = REDIRECT,
    scope = "offline_access openid", audience = "gateway.stockx.com",
    state = state } }
end

-- POST /oauth/token; returns the status and the decoded body.
local function token(fields)
  local res = stockx.request { method = "POST", path = base .. "/oauth/token",
    body = form(fields),
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }
  local ok, data = pcall(stockx.json.decode, res.body)
  return res.status, ok and data or {}, res
end

local function exchange(code)
  return token { grant_type = "authorization_code", code = code,
    redirect_uri = REDIRECT, client_id = CLIENT_ID, client_secret = CLIENT_SECRET }
end

local function refresh(rt)
  return token { grant_type = "refresh_token", refresh_token = rt,
    client_id = CLIENT_ID, client_secret = CLIENT_SECRET,
    audience = "gateway.stockx.com" }
end

local function new_code(state)
  local res = authorize(state or "s")
  return query_of(res.headers.location or "").code
end

-- A GET of the API with this bearer token (and the suite's API key).
local function api_status(access_token)
  stockx.configure { access_token = access_token }
  local res = stockx.request { path = "/selling/listings", query = { pageSize = 1 } }
  stockx.configure { access_token = os.getenv("STOCKX_ACCESS_TOKEN") }
  return res.status, res
end

local tokens

scenario.part("authorize redirects with a code and the state", function()
  local res = authorize("xyz-123")
  tap.eq(res.status, 302, "GET /authorize answers 302")
  local loc = res.headers.location or ""
  tap.eq(loc:sub(1, #REDIRECT + 1), REDIRECT .. "?", "to the redirect_uri", loc)
  local q = query_of(loc)
  tap.ok(type(q.code) == "string" and #q.code >= 8, "with a code", q.code)
  tap.eq(q.state, "xyz-123", "and the state given")
  tap.ok(new_code() ~= q.code, "each authorize issues a new code")
  local bad = stockx.request { path = base .. "/authorize", query = {
    response_type = "code", client_id = "someone-else", redirect_uri = REDIRECT, state = "s" } }
  tap.ok(bad.status >= 400 and bad.status < 500, "an unknown client_id is refused",
    tostring(bad.status))

  local status, body, tres = exchange(q.code)
  tap.eq(status, 200, "exchanging the code answers 200")
  tap.ok((tres.headers["content-type"] or ""):find("application/json", 1, true),
    "as JSON")
  tap.ok(type(body.access_token) == "string" and #body.access_token > 0, "an access_token")
  tap.ok(type(body.refresh_token) == "string" and #body.refresh_token > 0,
    "a refresh_token (offline_access was asked)")
  tap.eq(body.token_type, "Bearer", "token_type Bearer")
  tap.eq(body.expires_in, 43200, "expires_in is the token_ttl (12 hours by default)")
  tokens = body

  status, body = exchange(q.code)
  tap.eq(status, 400, "a reused code is refused with 400")
  tap.eq(body.error, "invalid_grant", "error invalid_grant")
  tap.ok(type(body.error_description) == "string", "with an error_description")

  status, body = exchange("not-a-code")
  tap.eq(status, 400, "an unknown code is refused with 400")
  tap.eq(body.error, "invalid_grant", "an unknown code: invalid_grant")

  status, body = token { grant_type = "authorization_code", code = new_code(),
    redirect_uri = REDIRECT, client_id = CLIENT_ID, client_secret = "wrong" }
  tap.ok(status == 401 or status == 403 or status == 400,
    "a wrong client_secret is refused", tostring(status))
  tap.ok(type(body.error) == "string", "with an Auth0 error field", tostring(body.error))
end)

scenario.part("issued tokens work on the API; refresh", function()
  if not tokens then return tap.ok(false, "a token was issued") end
  tap.eq(api_status(tokens.access_token), 200, "the issued access token works on the API")
  tap.eq(api_status("not-a-token"), 401, "an unknown token gets 401")

  local status, body = refresh(tokens.refresh_token)
  tap.eq(status, 200, "refresh_token grant answers 200")
  tap.ok(type(body.access_token) == "string" and body.access_token ~= tokens.access_token,
    "with a new access token")
  tap.eq(api_status(body.access_token or "-"), 200, "the refreshed token works on the API")

  status, body = refresh("not-a-refresh-token")
  tap.eq(status, 400, "a bad refresh token is refused with 400")
  tap.eq(body.error, "invalid_grant", "error invalid_grant")

  status, body = token { grant_type = "client_credentials", client_id = CLIENT_ID,
    client_secret = CLIENT_SECRET }
  tap.ok(status >= 400 and status < 500 and type(body.error) == "string",
    "the client_credentials grant is not allowed", tostring(status))
end)

scenario.part("an expired token gets 401", function()
  scenario.config { token_ttl = 2 }
  local status, body = exchange(new_code())
  tap.eq(status, 200, "a code exchanged with token_ttl = 2")
  tap.eq(body.expires_in, 2, "expires_in follows token_ttl")
  tap.eq(api_status(body.access_token or "-"), 200, "the token works at first")
  stockx.sleep(2.6)
  local st, res = api_status(body.access_token or "-")
  tap.eq(st, 401, "after expiry the token gets 401")
  local ok, err = pcall(stockx.json.decode, res.body)
  tap.ok(ok and schema.check(doc, "PublicApiError", err), "with a PublicApiError body", res.body)
  tap.eq(api_status(os.getenv("STOCKX_ACCESS_TOKEN")), 200,
    "the suite's own token is not affected")
end)

scenario.finish()
tap.done()
