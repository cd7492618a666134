--- `stockx login [--port N] [--no-browser]`: StockX's authorization-code
-- flow with PKCE.  Prints the authorize URL (and opens a browser when
-- xdg-open exists and a display is set), listens on 127.0.0.1:PORT for the
-- redirect, checks `state`, exchanges the code (with the PKCE verifier)
-- and stores the tokens in the token file (stockx.auth.path(), 0600).
-- The redirect URI is http://127.0.0.1:PORT/callback (default port 8400):
-- register exactly that in the StockX developer portal.  The client id
-- and secret come from config.lua or STOCKX_CLIENT_ID/STOCKX_CLIENT_SECRET.
-- Exit status 0 logged in, 1 refused or timed out, 2 a usage error.

local core = require "stockx.core"
local server = require "stockx.server"
local auth = require "stockx.auth"
local digest = require "stockx.digest"

local USAGE = [[
usage: stockx [options] login [--port N] [--no-browser]
  --port N      the loopback port of the redirect (default 8400; 0: any free one)
  --no-browser  only print the URL to open
]]
local TIMEOUT = 300

local function usage(msg)
  io.stderr:write("stockx login: ", msg, "\n", USAGE)
  os.exit(2)
end

local function parse(argv)
  local o = { port = 8400 }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--port" then
      local n = tonumber(argv[i + 1] or "")
      if not n or n ~= math.floor(n) or n < 0 or n > 65535 then
        usage("--port needs a port number from 0 to 65535")
      end
      o.port = math.tointeger(n)
      i = i + 1
    elseif a == "--no-browser" then
      o.no_browser = true
    elseif a == "--help" or a == "-h" then
      io.stdout:write(USAGE)
      os.exit(0)
    else
      usage("unexpected argument " .. a)
    end
    i = i + 1
  end
  return o
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function page(status, text)
  return { status = status, headers = { ["Content-Type"] = "text/html; charset=utf-8",
    ["Cache-Control"] = "no-store" },
    body = "<!doctype html><title>stockx login</title><p>" .. text .. "</p>\n" }
end

return function(...)
  local o = parse({ ... })
  local settings = stockx.settings()
  local id = settings.client_id
  if not id or id == "" or not core.secret("client_secret") then
    io.stderr:write("stockx login: client_id and client_secret are needed: set them in ",
      "config.lua or STOCKX_CLIENT_ID and STOCKX_CLIENT_SECRET (the developer ",
      "portal's Keys page)\n")
    os.exit(1)
  end
  local state = digest.b64url(core.random(24))
  local verifier = digest.b64url(core.random(48))
  local got -- {code=} or {error=}
  local srv, err = server.listen { host = "127.0.0.1", port = o.port, handler = function(req)
    if req.path ~= "/callback" then return page(404, "Not found.") end
    local q = req.query or {}
    if got then return page(409, "Already done; you can close this tab.") end
    if q.state ~= state then
      return page(400, "This answer is not for this login (state does not match).")
    end
    if q.error then
      got = { error = q.error .. (q.error_description and (": " .. q.error_description) or "") }
      return page(400, "StockX refused: " .. q.error)
    end
    if not q.code or q.code == "" then return page(400, "No code in the answer.") end
    got = { code = q.code }
    return page(200, "Logged in: you can close this tab and go back to the terminal.")
  end }
  if not srv then
    io.stderr:write("stockx login: cannot listen on 127.0.0.1:", o.port, ": ", err, "\n")
    os.exit(1)
  end
  local redirect = "http://127.0.0.1:" .. srv:port() .. "/callback"
  local url = settings.auth_url .. "/authorize?response_type=code&client_id=" .. urlencode(id)
    .. "&redirect_uri=" .. urlencode(redirect) .. "&scope=" .. urlencode(auth.SCOPE)
    .. "&audience=" .. urlencode(auth.AUDIENCE) .. "&state=" .. state
    .. "&code_challenge=" .. digest.b64url(digest.sha256(verifier))
    .. "&code_challenge_method=S256"
  print("Open this URL in a browser and log in to StockX:")
  print("  " .. url)
  io.stdout:flush()
  local display = os.getenv("DISPLAY") or os.getenv("WAYLAND_DISPLAY")
  if not o.no_browser and display and display ~= ""
    and os.execute("command -v xdg-open >/dev/null 2>&1") then
    os.execute("xdg-open '" .. url:gsub("'", "") .. "' >/dev/null 2>&1 &")
  end
  io.stderr:write("waiting for the redirect to ", redirect, " ...\n")
  local deadline = stockx.now() + TIMEOUT
  while not got and stockx.now() < deadline do stockx.sleep(0.1) end
  srv:close()
  if not got then
    io.stderr:write("stockx login: no redirect came within ", TIMEOUT, " s\n")
    os.exit(1)
  end
  if got.error then
    io.stderr:write("stockx login: ", got.error, "\n")
    os.exit(1)
  end
  local ok, a = pcall(auth.token_request, { grant_type = "authorization_code", code = got.code,
    redirect_uri = redirect, client_id = id, client_secret = core.secret("client_secret"),
    code_verifier = verifier })
  if not ok then
    io.stderr:write("stockx login: ", tostring(a), "\n")
    os.exit(1)
  end
  local tokens = auth.from_answer(a)
  local path = auth.path()
  auth.save(path, tokens)
  print(string.format("Logged in: tokens saved to %s (the access token lasts %s s%s).", path,
    tostring(tokens.expires_in or "?"), tokens.refresh_token and ", refreshed automatically"
    or "; no refresh token: log in again then"))
end
