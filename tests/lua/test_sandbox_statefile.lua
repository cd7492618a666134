-- How `stockx sandbox --state FILE` writes FILE (it holds issued OAuth
-- tokens): never through a symlink planted at a predictable temporary
-- name, mode 0600, and a write that fails leaves the previous state whole.
-- The sandboxes here are our own processes, stopped at the end.
local tap = require "tap"
local scenario = require "scenario"
scenario.start()

local STOCKX = os.getenv("STOCKX") or "./stockx"
local TMP = (os.getenv("TEST_TMP") or "/tmp") .. "/statefile"
local BASE = os.getenv("STOCKX_BASE_URL")
local running = {}

os.execute("rm -rf '" .. TMP .. "'; mkdir -p '" .. TMP .. "'")

--- Starts `PREFIX stockx sandbox --port 0 --state FILE` under sh (killed
-- after 120 s at most); returns {pid=, url=, f=} or nil.
local function start(file, prefix)
  local cmd = string.format("sh -c 'echo $$; %s exec timeout 120 %s sandbox --port 0"
    .. " --rate-limit off --quota off --state %s 2>>%s/sandboxes.err'",
    prefix or "", STOCKX, file, TMP)
  local f = io.popen(cmd, "r")
  local pid = f:read("l")
  local line = f:read("l") or ""
  local sb = { pid = tonumber(pid), f = f, url = line:match("listening on (http%S+)") }
  running[#running + 1] = sb
  return sb.url and sb or nil
end

local function stop(sb)
  if not sb or sb.stopped then return end
  if sb.pid then os.execute("kill " .. sb.pid .. " 2>/dev/null") end
  sb.f:close()
  sb.stopped = true
end

local function on(sb, fn)
  stockx.configure { base_url = sb.url }
  local r = table.pack(pcall(fn))
  stockx.configure { base_url = BASE }
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

-- Creates a listing (the state changes and is saved); returns its id.
local function create(sb)
  return on(sb, function()
    local fx = stockx.get("/_sandbox/fixtures")
    local c = stockx.post("/selling/listings",
      { variantId = fx.variantIds[1], amount = "123" })
    return c.listingId, stockx.get("/_sandbox/stats").save_error
  end)
end

scenario.part("a symlink at the old temporary name is not followed", function()
  local file, victim = TMP .. "/a.json", TMP .. "/victim"
  local v = io.open(victim, "wb"); v:write("precious\n"); v:close()
  os.execute(string.format("ln -s '%s' '%s.tmp'", victim, file))
  local sb = start(file)
  tap.ok(sb, "a sandbox with --state started")
  if not sb then return end
  create(sb)
  stop(sb)
  tap.eq(slurp(victim), "precious\n", "the symlink's target was not overwritten")
  tap.ok(#(slurp(file) or "") > 100, "the state file was written")
  tap.eq(sh("stat -c %F '" .. file .. "'"), "regular file", "as a regular file")
  tap.eq(sh("ls -A '" .. TMP .. "' | grep -c '^a\\.json\\..'"), "1",
    "no temporary file is left next to it (only the planted a.json.tmp)")
end)

scenario.part("the state file is private", function()
  local file = TMP .. "/b.json"
  local sb = start(file, "umask 022;")
  tap.ok(sb, "a sandbox with --state started (umask 022)")
  if not sb then return end
  tap.eq(sh("stat -c %a '" .. file .. "'"), "600", "the new state file is mode 0600")
  stop(sb)
  os.execute("chmod 644 '" .. file .. "'")
  sb = start(file, "umask 022;")
  if sb then create(sb) end
  stop(sb)
  tap.eq(sh("stat -c %a '" .. file .. "'"), "600",
    "rewritten, a 0644 state file becomes 0600")
end)

scenario.part("a failed write leaves the old state intact", function()
  local file = TMP .. "/c.json"
  local sb = start(file)
  tap.ok(sb, "a sandbox with --state started")
  if not sb then return end
  stop(sb)
  local before = slurp(file) or ""
  tap.ok(#before > 1024, "the first state was written", #before .. " bytes")
  -- Files larger than the original cannot be written: the next save fails.
  local blocks = #before // 1024
  sb = start(file, "trap \"\" XFSZ; ulimit -f " .. blocks .. ";")
  tap.ok(sb, "a second sandbox started under ulimit -f " .. blocks)
  if not sb then return end
  local id, save_error = create(sb)
  tap.ok(id and save_error, "a write there is answered, and the save fails",
    tostring(save_error))
  stop(sb)
  tap.eq(slurp(file), before, "the old state file is byte for byte intact")
  tap.eq(sh("ls -A '" .. TMP .. "' | grep -c '^c\\.json.'"), "0",
    "and no temporary file is left")
  local again = start(file)
  tap.ok(again, "a third sandbox loads the old state")
  if again then
    on(again, function()
      tap.eq(stockx.request { path = "/selling/listings/" .. id }.status, 404,
        "without the listing whose save failed")
    end)
  end
  stop(again)
end)

for _, sb in ipairs(running) do stop(sb) end
scenario.finish()
tap.done()
