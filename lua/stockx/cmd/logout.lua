--- `stockx logout`: removes the token file that `stockx login` wrote
-- (of --profile's profile), so nothing uses or refreshes it any more.

local auth = require "stockx.auth"

return function(...)
  if select("#", ...) > 0 then
    io.stderr:write("stockx logout: takes no arguments (use --profile NAME before it)\n")
    os.exit(2)
  end
  local path = auth.path()
  local ok, err = os.remove(path)
  os.remove(path .. ".lock")
  if ok then
    print("Logged out: " .. path .. " removed.")
  elseif io.open(path, "r") then
    io.stderr:write("stockx logout: ", err, "\n")
    os.exit(1)
  else
    print("Not logged in (no " .. path .. ").")
  end
end
