/*
 * The embedded Lua modules (src/embed.sh, embed.h) as package.preload
 * entries of a Lua state: the script's state gets the library, the
 * sandbox's state only the sandbox.
 */
#ifndef SX_LEMBED_H
#define SX_LEMBED_H
#include <lua.h>

/*
 * Registers, in package.preload, each embedded module whose name is
 * sandbox's ("stockx.sandbox", "stockx.sandbox.*") if sandbox is 1, or
 * every other one if it is 0; the pure shared ones (stockx.money) both
 * times.
 */
void sx_lembed_preload(lua_State *L, int sandbox);

#endif
