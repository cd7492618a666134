--- stockx.auth: OAuth tokens as StockX issues them (an Auth0 tenant at
-- accounts.stockx.com).  `stockx login` stores an access and a refresh
-- token in $XDG_STATE_HOME/stockx/token.json (token-PROFILE.json for a
-- profile; mode 0600, replaced atomically).  When no access token is set
-- by the environment or a flag, the client uses that file's: it refreshes
-- it with the refresh_token grant a little before it expires, and once
-- when a request is answered 401, then sends that request again once.
-- Concurrent tasks share one refresh; processes take a lock file and
-- re-read the token file under it, so two of them never refresh the same
-- token at once.

local core = require "stockx.core"
local stockx = require "stockx"

local M = {}

M.AUDIENCE = "gateway.stockx.com"
M.SCOPE = "offline_access openid"
M.EARLY = 60        -- refresh this many seconds before expiry (at most)
M.LOCK_WAIT = 30    -- seconds to wait for another process's refresh

local state = { loaded = false, tokens = nil, path = nil, flight = nil }

local function fail(fmt, ...)
  error("stockx auth: " .. string.format(fmt, ...), 0)
end

--- The directory of the token files: $XDG_STATE_HOME/stockx, else
-- ~/.local/state/stockx.
function M.dir()
  local xdg = os.getenv("XDG_STATE_HOME")
  if xdg and xdg ~= "" then return xdg .. "/stockx" end
  local home = os.getenv("HOME")
  if not home or home == "" then fail("neither XDG_STATE_HOME nor HOME is set") end
  return home .. "/.local/state/stockx"
end

--- The token file of a profile (nil or "default": token.json).
function M.path(profile)
  profile = profile or os.getenv("STOCKX_PROFILE")
  if profile and profile ~= "" and profile ~= "default" then
    if not profile:match("^[%w_%-]+$") then fail("bad profile name %q", profile) end
    return M.dir() .. "/token-" .. profile .. ".json"
  end
  return M.dir() .. "/token.json"
end

local function read_file(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local ok, t = pcall(stockx.json.decode, text)
  if not ok or type(t) ~= "table" or type(t.access_token) ~= "string" then
    fail("%s is not a token file (run `stockx login` again)", path)
  end
  return t
end

--- Writes tokens to path (directory created 0700; file 0600, atomic).
function M.save(path, t)
  local dir = path:match("^(.*)/[^/]*$")
  if dir then
    local ok, err = core.mkdirs(dir)
    if not ok then fail("cannot create %s: %s", dir, err) end
  end
  local ok, err = core.save_private(path, stockx.json.encode(t))
  if not ok then fail("cannot save the tokens: %s", err) end
end

local function adopt(t)
  state.tokens = t
  stockx.configure { access_token = t.access_token }
end

-- The seconds before expiry at which to refresh: M.EARLY, or a tenth of
-- the token's lifetime when that is shorter.
local function margin(t)
  local life = tonumber(t.expires_in) or 3600
  return math.min(M.EARLY, life / 10)
end

local function expiring(t)
  local at = tonumber(t.expires_at)
  return at and os.time() >= at - margin(t)
end

--- True when the client manages the access token (it came from the token
-- file); loads the file on first use.
function M.active()
  if not state.loaded then
    state.loaded = true
    if not stockx.settings().has_access_token then
      local path = M.path()
      local t = read_file(path)
      if t then
        state.path = path
        adopt(t)
      end
    end
  end
  return state.tokens ~= nil
end

local function form(t)
  local parts, keys = {}, {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = k .. "=" .. tostring(t[k]):gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", c:byte())
    end)
  end
  return table.concat(parts, "&")
end

local function client()
  local id = stockx.settings().client_id
  local secret = core.secret("client_secret")
  if not id or id == "" or not secret then
    fail("client_id and client_secret are needed (config.lua, or STOCKX_CLIENT_ID "
      .. "and STOCKX_CLIENT_SECRET)")
  end
  return id, secret
end

--- POSTs a grant to the token URL; the decoded answer, or raises with the
-- server's error and description (invalid_grant: run `stockx login`).
function M.token_request(params)
  local url = stockx.settings().auth_url .. "/oauth/token"
  local res, err = stockx.request { method = "POST", path = url, body = form(params),
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }
  if not res then fail("the token request failed: %s", tostring(err)) end
  local ok, body = pcall(stockx.json.decode, res.body)
  if res.status ~= 200 or not ok or type(body) ~= "table" then
    local code = ok and type(body) == "table" and body.error or ("HTTP " .. res.status)
    local desc = ok and type(body) == "table" and body.error_description or ""
    if code == "invalid_grant" and params.grant_type == "refresh_token" then
      fail("the refresh token was refused (invalid_grant: %s); run `stockx login`", desc)
    end
    fail("the token request was refused: %s %s", code, desc)
  end
  if type(body.access_token) ~= "string" then fail("the token answer has no access_token") end
  return body
end

--- Tokens from a token answer (keeps old's refresh token when the answer
-- has none).
function M.from_answer(a, old)
  return { access_token = a.access_token,
    refresh_token = a.refresh_token or (old and old.refresh_token),
    expires_in = a.expires_in, expires_at = os.time() + (tonumber(a.expires_in) or 3600),
    token_type = a.token_type, scope = a.scope }
end

-- The lock that keeps two processes from refreshing one token at once.
local function take_lock(path)
  local deadline = stockx.now() + M.LOCK_WAIT
  while true do
    local lock, err = core.lock(path .. ".lock")
    if lock then return lock end
    if lock == nil then fail("cannot lock %s.lock: %s", path, err) end
    if stockx.now() > deadline then fail("%s.lock is held for over %d s", path, M.LOCK_WAIT) end
    stockx.sleep(0.05)
  end
end

local function do_refresh(force)
  local path = state.path
  local _ <close> = take_lock(path) -- held until this function returns
  local t = read_file(path) or state.tokens
  -- another process (or an earlier refresh) may have done it meanwhile
  if t.access_token ~= state.tokens.access_token and not expiring(t) then
    adopt(t)
    return "adopted"
  end
  if not force and not expiring(t) then return "fresh" end
  if not t.refresh_token then fail("no refresh token in %s; run `stockx login`", path) end
  local id, secret = client()
  local a = M.token_request { grant_type = "refresh_token", refresh_token = t.refresh_token,
    client_id = id, client_secret = secret, audience = M.AUDIENCE }
  local new = M.from_answer(a, t)
  M.save(path, new)
  adopt(new)
  core.log("info", nil, { expires_in = new.expires_in, path = path }, "auth.refreshed")
  return "refreshed"
end

--- Refreshes the access token (single flight: concurrent callers wait
-- for one refresh).  force: even if it has not expired (after a 401).
function M.refresh(force)
  if not state.flight then
    state.flight = core.join(core.spawn(do_refresh, force))
  end
  local flight = state.flight
  local ok, r = pcall(flight.wait, flight)
  if state.flight == flight then state.flight = nil end
  if not ok then error(r, 0) end
  return r
end

--- Before a request to the API: refreshes a token about to expire.
function M.before()
  if state.tokens and expiring(state.tokens) then M.refresh(false) end
end

--- After a 401 from the API: true if the token was refreshed, so the
-- request may be sent once more.
function M.after_401(sent_token)
  if not state.tokens then return false end
  if state.tokens.access_token ~= sent_token then return true end -- refreshed meanwhile
  M.refresh(true)
  return true
end

--- The token in use (for after_401), or nil.
function M.current() return state.tokens and state.tokens.access_token end

--- Forgets the loaded tokens (logout, tests).
function M.reset()
  state.loaded, state.tokens, state.path, state.flight = false, nil, nil, nil
end

return M
