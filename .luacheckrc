-- luacheck configuration for lua/, scripts/ and tests/lua/.
std = "lua54"
max_line_length = 100
-- the host API: a global set by the stockx binary before scripts run
read_globals = { "stockx" }
-- lua/stockx.lua replaces coroutine.resume and coroutine.wrap on purpose,
-- so that the runtime's waits pass through user coroutines
files["lua/stockx.lua"] = { globals = { "coroutine" } }
-- a <close> variable is used by being closed: luacheck cannot tell
files["tests/lua"] = { ignore = { "211/c", "211/x" } }
