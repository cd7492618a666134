-- Benchmark client of `make bench`: N GETs of one path, CONCURRENCY tasks
-- in flight, every body decoded by stockx.get.  Prints the same line as
-- build/bench/plain so that run.sh can compare the two.
--   stockx --rate off --base-url URL run tests/bench/get.lua N CONCURRENCY PATH

local n = math.tointeger(tonumber(arg[1])) or 50000
local concurrency = math.tointeger(tonumber(arg[2])) or 50
local path = arg[3] or "/bench.json"
assert(n >= 1 and concurrency >= 1, "usage: get.lua N CONCURRENCY PATH")
if concurrency > n then
  concurrency = n
end

local done = 0

local function worker(count)
  for _ = 1, count do
    local data, res = stockx.get(path)
    if res.status ~= 200 then
      error(("GET %s: status %s"):format(path, tostring(res.status)))
    end
    if type(data) ~= "table" or data.productId == nil then
      error(("GET %s: no productId in the decoded body"):format(path))
    end
    done = done + 1
  end
end

local t0 = stockx.now()
local tasks = {}
for i = 1, concurrency do
  -- n // concurrency each, the remainder spread over the first tasks
  local share = n // concurrency + (i <= n % concurrency and 1 or 0)
  tasks[i] = stockx.spawn(worker, share)
end
for _, task in ipairs(tasks) do
  task:wait()
end
local seconds = stockx.now() - t0

assert(done == n, ("only %d of %d requests completed"):format(done, n))
local stats = stockx.stats()
print(("requests=%d seconds=%.3f rps=%.0f connections=%d"):format(
  done, seconds, done / seconds, stats.connections))
