-- Benchmark client of `make bench`: the adaptive limiter's case, N GETs
-- (sequential, or through stockx.map with "map") against a server that
-- takes fewer than the client's rate, here `stockx sandbox --rate-limit
-- 1/1s` asked by a client at --rate 5/1s.  Prints the 429s, the requests
-- sent (attempts, retries included) and the wall time next to the ideal
-- (N - 1) / RATE seconds of a client that knew the server's rate.
--   stockx --rate 5/1s run tests/bench/adaptive.lua [N [seq|map [RATE]]]

local n = math.tointeger(tonumber(arg[1])) or 20
local mode = arg[2] or "seq"
local server_rate = tonumber(arg[3]) or 1
assert(n >= 1 and (mode == "seq" or mode == "map") and server_rate > 0,
  "usage: adaptive.lua [N [seq|map [RATE]]]")

local failed = 0
local function one(i)
  local ok = pcall(stockx.get, "/catalog/search", { query = "nike" .. i })
  if not ok then failed = failed + 1 end
end

local t0 = stockx.now()
if mode == "seq" then
  for i = 1, n do one(i) end
else
  local items = {}
  for i = 1, n do items[i] = i end
  stockx.map(items, one)
end
local wall = stockx.now() - t0
local s = stockx.stats()
local ideal = (n - 1) / server_rate

print(string.format("gets=%d failed=%d status_429=%d sent=%d wall=%.2f "
  .. "ideal=%.0f wall_ratio=%.2f rate_learned=%s", n, failed, s.status_429,
  s.attempts, wall, ideal, ideal > 0 and wall / ideal or 0,
  s.rate_learned and string.format("%.3g", s.rate_learned) or "off"))
