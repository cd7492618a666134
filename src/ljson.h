/*
 * JSON decoding straight into Lua values: strict RFC 8259, objects and
 * arrays as tables, null as cjson.null, integer literals as Lua integers.
 * Replaces lua-cjson's decoder, which reads every number as a float.
 */
#ifndef SX_LJSON_H
#define SX_LJSON_H
#include <stddef.h>

#include <lua.h>

/*
 * [-0, +(0|1)] Decodes s[0..len) and pushes the value; returns 0.  On bad
 * JSON pushes nothing, writes "invalid JSON at byte N: <what>" (N 1-based)
 * to err and returns -1.  Raises only Lua's own errors (out of memory), so
 * call it where those may be raised.  s needs no terminating NUL.
 */
int sx_ljson_decode(lua_State *L, const char *s, size_t len, char *err,
                   size_t errlen);

/* Adds json_decode(s) -> value to the table on top of the stack. */
void sx_ljson_openlib(lua_State *L);

#endif
