-- Memory benchmark of `make bench`: TASKS tasks each parked on one slow GET
-- at the same time, then the process's peak RSS (VmHWM).
--   stockx --rate off --base-url SANDBOX run tests/bench/tasks.lua TASKS [PATH]

local n = math.tointeger(tonumber(arg[1])) or 10000
local path = arg[2] or "/_test/delay?s=1"
assert(n >= 1, "usage: tasks.lua TASKS [PATH]")

-- Peak resident set size in MiB, from /proc/self/status.
local function peak_rss_mb()
  local f = assert(io.open("/proc/self/status", "r"))
  local status = f:read("a")
  f:close()
  local kb = assert(status:match("VmHWM:%s*(%d+)%s*kB"), "no VmHWM")
  return tonumber(kb) / 1024
end

local ok = 0

local function slow_get()
  local _, res = stockx.get(path)
  if res.status == 200 then
    ok = ok + 1
  end
end

local t0 = stockx.now()
local tasks = {}
for i = 1, n do
  tasks[i] = stockx.spawn(slow_get)
end
for i = 1, n do
  tasks[i]:wait()
end
local seconds = stockx.now() - t0

assert(ok == n, ("only %d of %d GETs returned 200"):format(ok, n))
print(("tasks=%d peak_rss_mb=%.1f seconds=%.1f"):format(
  n, peak_rss_mb(), seconds))
