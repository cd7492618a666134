/*
 * stockx.core: the C half of the `stockx` Lua module (request, configure,
 * stats, log, query encoding, version); lua/stockx.lua builds the
 * user-facing API on top of it.
 */
#ifndef SX_LSTOCKX_H
#define SX_LSTOCKX_H
#include <lua.h>

#define SX_VERSION "0.1.0"

int luaopen_stockx_core(lua_State *L);

#endif
