/*
 * stockx.core: the C half of the `stockx` Lua module (request, configure,
 * settings, stats, log, query encoding, version, tasks, JSON), plus the
 * helpers its bindings share: error values and argument errors that point
 * at the user's line.  lua/stockx.lua builds the user-facing API on top.
 */
#ifndef SX_LSTOCKX_H
#define SX_LSTOCKX_H
#include <stdarg.h>

#include <lua.h>


int luaopen_stockx_core(lua_State *L);

/* [-0, +1] A transport error value {kind, message, method, url, ...}. */
void sx_lstockx_push_error(lua_State *L, const char *kind, const char *msg,
                           const char *method, const char *url,
                           int attempts);

/*
 * [-0, +1] "file:line: " of the first Lua frame outside the stockx library
 * (the user's line), or "".
 */
void sx_lstockx_where(lua_State *L);

/*
 * Raises "file:line: " followed by the message (lua_pushfstring's
 * formats: %s, %d, ...) at the user's line.
 */
int sx_lstockx_error(lua_State *L, const char *fmt, ...);

/*
 * Raises "file:line: bad argument 'name' to 'fname' (detail)" at the
 * user's line; name NULL gives "file:line: fname: detail".
 */
int sx_lstockx_vargerror(lua_State *L, const char *fname, const char *name,
                         const char *fmt, va_list ap);

#endif
