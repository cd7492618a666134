/*
 * Lua binding for the local HTTP server (sx_server.h), the base of the
 * StockX sandbox.  lsandbox.c preloads it as "stockx.server" in the
 * sandbox's own Lua state and gives it the event loop.
 */
#ifndef SX_LSERVER_H
#define SX_LSERVER_H
#include <lua.h>

struct event_base;

int luaopen_stockx_server(lua_State *L);

/* The loop listen() serves in; set it before the first listen(). */
void sx_lserver_set_base(lua_State *L, struct event_base *base);

#endif
