--- A tiny test helper for stockx Lua tests, in the manner of luv's tap.lua:
-- ok/eq/near/raises print "ok - ..." or "not ok - ...", done() prints the
-- "N passed, N failed" line and raises if anything failed.  Sandbox helpers
-- state a test's scenario in a line.

local M = {}
local passed, failed = 0, 0

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function M.ok(cond, desc, detail)
  if cond then
    passed = passed + 1
    print("ok - " .. desc)
  else
    failed = failed + 1
    print("not ok - " .. desc .. (detail and ("\n#   " .. detail) or ""))
  end
  return cond
end

function M.eq(got, want, desc)
  return M.ok(got == want, desc,
    "got " .. show(got) .. ", want " .. show(want))
end

function M.near(got, want, tol, desc)
  return M.ok(type(got) == "number" and math.abs(got - want) <= tol, desc,
    "got " .. show(got) .. ", want " .. show(want) .. " +- " .. tol)
end

--- Calls fn; passes if it raises.  Returns the error value.
function M.raises(fn, desc, pattern)
  local ok, err = pcall(fn)
  if ok then
    M.ok(false, desc, "no error raised")
    return nil
  end
  if pattern then
    M.ok(tostring(err):find(pattern) ~= nil, desc,
      "error " .. show(tostring(err)) .. " does not match " .. show(pattern))
  else
    M.ok(true, desc)
  end
  return err
end

function M.done()
  print(string.format("%d passed, %d failed", passed, failed))
  if failed > 0 then error(failed .. " test(s) failed", 0) end
end

---------------------------------------------------------------------------
-- The sandbox, through its admin endpoints.
---------------------------------------------------------------------------

--- Resets the sandbox and sets the fast test defaults: no client limiter,
-- short backoff, no circuit breaker (the tests of retries and faults make
-- the sandbox fail on purpose, one after another: a breaker would open
-- and fail what they check fast; tests/lua/test_breaker.lua turns it on).
function M.setup(settings)
  stockx.configure { rate = false, breaker = false, retry = {
    backoff_base = 0.05, backoff_cap = 0.2, max_attempts = 5,
    transient_attempts = 3, max_retry_after = 300 } }
  if settings then stockx.configure(settings) end
  stockx.post("/_sandbox/reset", {})
end

function M.stats()
  return (stockx.get("/_sandbox/stats"))
end

function M.fault(f)
  return (stockx.post("/_sandbox/faults", f))
end

--- The sandbox's request log entries whose path matches pattern.
function M.log(pattern)
  local out = {}
  for _, e in ipairs(M.stats().log) do
    if e.path:find(pattern) then out[#out + 1] = e end
  end
  return out
end

return M
