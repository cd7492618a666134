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
/* save_file(path, data) -> true | nil, message: atomic, 0600 (sx_file);
 * also stockx.core's save_private, for the OAuth token file. */
int sx_lserver_save_file(lua_State *L);

/* The loop listen() serves in; set it before the first listen(). */
void sx_lserver_set_base(lua_State *L, struct event_base *base);

#endif
