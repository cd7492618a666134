--- An Auth0-style OAuth server on the sandbox's origin (StockX's is
-- accounts.stockx.com): single-use codes valid 10 minutes, refresh tokens
-- with offline_access (not rotated), access tokens that expire after
-- token_ttl seconds, and Auth0's {error, error_description} errors.
local http = require("stockx.sandbox.http")
local json = require("stockx.sandbox.json")
local util = require("stockx.sandbox.util")

local reply = http.reply

local M = {}

M.DEFAULT_CLIENT_ID = "sandbox-client-id"
M.DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
M.CODE_TTL = 600
M.AUDIENCE = "gateway.stockx.com"

local function oauth_error(status, code, description)
  return reply(status, { error = code, error_description = description },
               { ["Cache-Control"] = "no-store" })
end

--- True when token is an issued access token that has not expired; an
-- expired one is forgotten.
function M.token_ok(sb, token)
  local access = sb.state.oauth.access
  local exp = token and access[token]
  if not exp then return false end
  if exp <= util.now() then
    access[token] = nil
    sb:changed()
    return false
  end
  return true
end

-- Known scopes first, in a fixed order; the rest as asked.
local SCOPE_ORDER = { openid = 1, profile = 2, email = 3, offline_access = 4 }

local function normalise_scope(s)
  local list, seen = {}, {}
  for w in (s or ""):gmatch("%S+") do
    if not seen[w] then list[#list + 1], seen[w] = w, true end
  end
  table.sort(list, function(a, b)
    local x, y = SCOPE_ORDER[a] or 99, SCOPE_ORDER[b] or 99
    if x ~= y then return x < y end
    return a < b
  end)
  return table.concat(list, " "), seen
end

--------------------------------------------------------------------------
-- GET /authorize
--------------------------------------------------------------------------

local function authorize(sb, req)
  local q = req.query
  if not q.client_id or q.client_id == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: client_id")
  end
  if q.client_id ~= sb.client_id then
    return oauth_error(400, "invalid_request", "Unknown client: "
      .. q.client_id)
  end
  if q.response_type ~= "code" then
    return oauth_error(400, "unsupported_response_type",
      "Unsupported response type: " .. tostring(q.response_type or ""))
  end
  local uri = q.redirect_uri
  if not uri or not uri:match("^[%a][%w+.-]*://[^%s]+$") then
    return oauth_error(400, "invalid_request",
      "Missing or invalid redirect_uri")
  end
  local challenge, method = q.code_challenge, q.code_challenge_method
  if challenge == "" then challenge = nil end
  method = challenge and (method or "plain")
  if challenge and method ~= "S256" and method ~= "plain" then
    return oauth_error(400, "invalid_request",
      "code_challenge_method must be S256 or plain")
  end
  local scope = normalise_scope(q.scope)
  local code, codes = sb.rng:token(32), sb.state.oauth.codes
  sb.codes_issued = (sb.codes_issued or 0) + 1
  if sb.codes_issued % 100 == 0 then
    for c, v in pairs(codes) do
      if v.exp <= util.now() then codes[c] = nil end
    end
  end
  codes[code] = { client_id = q.client_id,
    redirect_uri = uri, scope = scope, audience = q.audience or M.AUDIENCE,
    exp = util.now() + M.CODE_TTL, challenge = challenge, method = method }
  sb:changed()
  local sep = uri:find("?", 1, true) and "&" or "?"
  local location = uri .. sep .. "code=" .. util.urlencode(code)
  if q.state then location = location .. "&state=" .. util.urlencode(q.state) end
  return { status = 302, body = "Found. Redirecting to " .. location,
    headers = { Location = location, ["Content-Type"] = "text/plain" } }
end

--------------------------------------------------------------------------
-- POST /oauth/token
--------------------------------------------------------------------------

-- The body's parameters: JSON or (by default) form-encoded.
local function params(req)
  local ctype = (req.headers["content-type"] or ""):lower()
  local body = req.body or ""
  if ctype:find("json", 1, true) then
    local v = json.decode(body)
    if not json.is_object(v) then return nil end
    local out = {}
    for k, val in pairs(v) do
      if type(val) == "string" then out[k] = val end
    end
    return out
  end
  return util.parse_form(body)
end

-- client_secret_basic or client_secret_post.
local function client_credentials(req, p)
  local auth = req.headers["authorization"] or ""
  local b64 = auth:match("^[Bb]asic%s+(%S+)")
  if b64 then
    local raw = util.b64decode(b64) or ""
    local id, secret = raw:match("^([^:]*):(.*)$")
    if id then return util.urldecode(id), util.urldecode(secret) end
  end
  return p.client_id, p.client_secret
end

local function jwt(sb, claims)
  local header = { alg = "RS256", typ = "JWT", kid = "sandbox" }
  return util.b64url(json.encode(header)) .. "."
    .. util.b64url(json.encode(claims)) .. "." .. sb.rng:token(43)
end

local function prune(access, now)
  for t, exp in pairs(access) do
    if exp <= now then access[t] = nil end
  end
end

-- Issues an access token (and an id token) for a grant.
local function issue(sb, req, grant, refresh_token)
  local now, ttl = util.now(), sb.cfg.token_ttl
  local base = http.base_url(sb, req)
  local iat = math.floor(now)
  local access = jwt(sb, { iss = base .. "/", sub = "auth0|sandbox-seller",
    aud = json.array{ grant.audience or M.AUDIENCE, base .. "/userinfo" },
    iat = iat, exp = iat + ttl, scope = grant.scope, azp = grant.client_id,
    jti = sb:new_id() })
  local oauth = sb.state.oauth
  sb.issued = (sb.issued or 0) + 1
  if sb.issued % 100 == 0 then prune(oauth.access, now) end
  oauth.access[access] = now + ttl
  sb:changed()
  local out = { access_token = access, token_type = "Bearer",
    expires_in = ttl, scope = grant.scope,
    id_token = jwt(sb, { iss = base .. "/", sub = "auth0|sandbox-seller",
      aud = grant.client_id, iat = iat, exp = iat + 36000,
      name = "Sandbox Seller", email = "seller@sandbox.invalid" }) }
  if refresh_token then out.refresh_token = refresh_token end
  return reply(200, out, { ["Cache-Control"] = "no-store",
                           Pragma = "no-cache" })
end

-- A public client (PKCE, no secret) passes here; the code check decides.
local function check_client(sb, id, secret, public)
  if not id or id == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: client_id")
  end
  if id ~= sb.client_id or (secret ~= sb.client_secret and not public) then
    return oauth_error(401, "invalid_client", "Client authentication failed")
  end
end

local GRANTS = {}

-- nil when the PKCE verifier matches the code's challenge (or the code
-- has none and the client authenticated), else an error reply.
local function check_pkce(c, p, public)
  if not c.challenge then
    if public then
      return oauth_error(401, "invalid_client", "Client authentication failed")
    end
    return nil
  end
  local v = p.code_verifier
  if not v or v == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: code_verifier")
  end
  local expect = c.method == "S256" and util.b64url(util.sha256(v)) or v
  if expect ~= c.challenge then
    return oauth_error(400, "invalid_grant", "Failed to verify code verifier")
  end
end

function GRANTS.authorization_code(sb, req, p, client_id, public)
  if not p.code or p.code == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: code")
  end
  local codes = sb.state.oauth.codes
  local c = codes[p.code]
  if c then codes[p.code] = nil; sb:changed() end
  if not c or c.exp <= util.now() or c.client_id ~= client_id then
    return oauth_error(400, "invalid_grant", "Invalid authorization code")
  end
  if p.redirect_uri ~= c.redirect_uri then
    return oauth_error(400, "invalid_grant",
      "The redirect_uri MUST match the registered callback URL for this "
        .. "application.")
  end
  local bad = check_pkce(c, p, public)
  if bad then return bad end
  local rt
  if (" " .. c.scope .. " "):find(" offline_access ", 1, true) then
    rt = "v1." .. sb.rng:token(64)
    sb.state.oauth.refresh[rt] = { client_id = client_id, scope = c.scope,
                                   audience = c.audience }
  end
  return issue(sb, req, c, rt)
end

function GRANTS.refresh_token(sb, req, p, client_id)
  if not p.refresh_token or p.refresh_token == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: refresh_token")
  end
  local g = sb.state.oauth.refresh[p.refresh_token]
  if not g or g.client_id ~= client_id then
    return oauth_error(400, "invalid_grant",
                       "Unknown or invalid refresh token.")
  end
  return issue(sb, req, g, p.refresh_token)
end

local function token(sb, req)
  local p = params(req)
  if not p then
    return oauth_error(400, "invalid_request", "The body must be "
      .. "application/x-www-form-urlencoded or a JSON object")
  end
  local grant = p.grant_type
  if not grant or grant == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: grant_type")
  end
  if grant == "client_credentials" or grant == "password" then
    return oauth_error(403, "unauthorized_client", "Grant type '" .. grant
      .. "' not allowed for the client.")
  end
  local fn = GRANTS[grant]
  if not fn then
    return oauth_error(400, "unsupported_grant_type",
                       "Unsupported grant type: " .. grant)
  end
  local id, secret = client_credentials(req, p)
  local public = grant == "authorization_code" and (secret == nil
    or secret == "") and p.code_verifier ~= nil
  local bad = check_client(sb, id, secret, public)
  if bad then return bad end
  return fn(sb, req, p, id, public)
end

--------------------------------------------------------------------------
-- Revocation and discovery.
--------------------------------------------------------------------------

local function revoke(sb, req)
  local p = params(req) or {}
  local id, secret = client_credentials(req, p)
  local bad = check_client(sb, id, secret)
  if bad then return bad end
  if not p.token or p.token == "" then
    return oauth_error(400, "invalid_request",
                       "Missing required parameter: token")
  end
  local refresh = sb.state.oauth.refresh
  if refresh[p.token] and refresh[p.token].client_id == id then
    refresh[p.token] = nil
    sb:changed()
  end
  return reply(200, {})
end

local function discovery(sb, req)
  local base = http.base_url(sb, req)
  return reply(200, {
    issuer = base .. "/",
    authorization_endpoint = base .. "/authorize",
    token_endpoint = base .. "/oauth/token",
    revocation_endpoint = base .. "/oauth/revoke",
    jwks_uri = base .. "/.well-known/jwks.json",
    response_types_supported = json.array{ "code" },
    grant_types_supported = json.array{ "authorization_code",
                                        "refresh_token" },
    scopes_supported = json.array{ "openid", "offline_access" },
    token_endpoint_auth_methods_supported = json.array{
      "client_secret_basic", "client_secret_post", "none" },
    code_challenge_methods_supported = json.array{ "S256", "plain" },
    subject_types_supported = json.array{ "public" },
    id_token_signing_alg_values_supported = json.array{ "RS256" },
  })
end

local function jwks()
  return reply(200, { keys = json.array() })
end

M.routes = {
  { "GET", "/authorize", authorize, kind = "oauth" },
  { "POST", "/oauth/token", token, kind = "oauth" },
  { "POST", "/oauth/revoke", revoke, kind = "oauth" },
  { "GET", "/.well-known/openid-configuration", discovery, kind = "oauth" },
  { "GET", "/.well-known/jwks.json", jwks, kind = "oauth" },
}

return M
