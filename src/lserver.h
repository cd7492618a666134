/*
 * Lua binding for the local HTTP server (sx_server.h), the base of the
 * StockX sandbox.  main.c registers it as package.preload["stockx.server"].
 */
#ifndef SX_LSERVER_H
#define SX_LSERVER_H
#include <lua.h>

int luaopen_stockx_server(lua_State *L);

#endif
