/*
 * Preloading the embedded modules (see lembed.h).  Each entry is a closure
 * over its sx_embed record that compiles the chunk on first require.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "embed.h"
#include "lembed.h"

static int load_embedded(lua_State *L)
{
    const struct sx_embed *e = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, e->code, e->len, e->chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static int is_sandbox(const char *name)
{
    return strcmp(name, "stockx.sandbox") == 0 ||
           strncmp(name, "stockx.sandbox.", 15) == 0;
}

/* Pure modules both states may load (no client, no sandbox inside). */
static int is_shared(const char *name)
{
    return strcmp(name, "stockx.money") == 0 ||
           strcmp(name, "stockx.digest") == 0;
}

void sx_lembed_preload(lua_State *L, int sandbox)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const struct sx_embed *e = sx_embedded; e->name; e++) {
        if (is_sandbox(e->name) != sandbox && !is_shared(e->name))
            continue;
        lua_pushlightuserdata(L, (void *)e);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, e->name);
    }
    lua_pop(L, 1);
}
