/*
 * The sandbox runner behind lsandbox.h: reads its flags, builds a Lua
 * state with only the sandbox's modules (the embedded stockx.sandbox*,
 * stockx.server, cjson), and serves on the caller's event_base until
 * sx_sandbox_close().  Scripts never see this state.
 */
#include "lsandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lembed.h"
#include "lserver.h"
#include "lrt.h" /* sx_rt_pcall: needs only a lua_State */

int luaopen_cjson(lua_State *L);

struct sx_sandbox {
    lua_State *L;
    int ref; /* the sandbox object (stockx.sandbox.serve's result) */
    char *url, *api_key, *access_token;
};

/* ---- flags ------------------------------------------------------------ */

static const char *const flags[][2] = {
    {"--port", "port"},   {"--seed", "seed"},
    {"--state", "state"}, {"--rate-limit", "rate_limit"},
    {"--quota", "quota"}, {"--fault", "faults"}};

/* The option name for flag a, or NULL. */
static const char *flag_key(const char *a)
{
    for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
        if (strcmp(a, flags[k][0]) == 0)
            return flags[k][1];
    return NULL;
}

int sx_sandbox_flags(struct sx_sandbox_opts *o, int argc, char **argv, int i,
                     int all, char *err, size_t errlen)
{
    o->argv = argv;
    o->first = i;
    for (; i < argc; i += 2) {
        if (flag_key(argv[i]) == NULL) {
            if (!all)
                break;
            snprintf(err, errlen, "bad sandbox option %s", argv[i]);
            return -1;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "missing value for %s", argv[i]);
            return -1;
        }
    }
    o->end = i;
    return i;
}

/* [-0, +1] {port=, seed=, state=, rate_limit=, quota=, faults={...}}. */
static void push_flags(lua_State *L, const struct sx_sandbox_opts *o)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_setfield(L, -2, "faults");
    for (int i = o->first; i < o->end; i += 2) {
        const char *k = flag_key(o->argv[i]);
        if (strcmp(k, "faults") == 0) {
            lua_getfield(L, -1, "faults");
            lua_pushstring(L, o->argv[i + 1]);
            lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            lua_pop(L, 1);
        } else {
            lua_pushstring(L, o->argv[i + 1]); /* the last one wins */
            lua_setfield(L, -2, k);
        }
    }
}

/* ---- the Lua state ---------------------------------------------------- */

/* The one protected call (with a traceback, errors printed): 0 or -1. */
static int protected_call(lua_State *L, int nargs, int nresults)
{
    return sx_rt_pcall(L, nargs, nresults);
}

/* Only the sandbox's own modules: no client module can be required. */
static void preload(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_stockx_server);
    lua_setfield(L, -2, "stockx.server");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pop(L, 1);
    sx_lembed_preload(L, 1);
}

/*
 * Protected: lightuserdata opts -> false, message (a bad flag), or the
 * sandbox object, its URL, API key and access token.
 */
static int start(lua_State *L)
{
    const struct sx_sandbox_opts *o = lua_touserdata(L, 1);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "stockx.sandbox");
    lua_call(L, 1, 1);                         /* o M */
    lua_getfield(L, -1, "cli_options");
    push_flags(L, o);
    lua_call(L, 1, 2);                         /* o M opts|nil msg */
    if (lua_isnil(L, -2)) {
        lua_pushboolean(L, 0);
        lua_replace(L, -3);
        return 2;
    }
    lua_pop(L, 1);
    lua_getfield(L, -2, "serve");
    lua_insert(L, -2);
    lua_call(L, 1, 1);                         /* o M sb */
    lua_getfield(L, -1, "url");
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);                         /* o M sb url */
    lua_getfield(L, -2, "api_key");
    lua_getfield(L, -3, "access_token");       /* o M sb url key token */
    return 4;
}

static char *dup_field(lua_State *L, int idx)
{
    const char *s = lua_tostring(L, idx);

    return strdup(s ? s : "");
}

/* Takes the results of start(); 0, or -1 when out of memory. */
static int keep(struct sx_sandbox *sb)
{
    lua_State *L = sb->L;

    sb->url = dup_field(L, -3);
    sb->api_key = dup_field(L, -2);
    sb->access_token = dup_field(L, -1);
    lua_pop(L, 3);
    sb->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return sb->url && sb->api_key && sb->access_token ? 0 : -1;
}

struct sx_sandbox *sx_sandbox_open(struct event_base *base,
                                   const struct sx_sandbox_opts *o,
                                   int *usage)
{
    struct sx_sandbox *sb = calloc(1, sizeof *sb);

    *usage = 0;
    if (sb == NULL || (sb->L = luaL_newstate()) == NULL)
        goto oom;
    sb->ref = LUA_NOREF;
    luaL_openlibs(sb->L);
    preload(sb->L);
    sx_lserver_set_base(sb->L, base);
    lua_pushcfunction(sb->L, start);
    lua_pushlightuserdata(sb->L, (void *)o);
    if (protected_call(sb->L, 1, 4) < 0)
        goto err;
    if (!lua_toboolean(sb->L, -4)) {
        fprintf(stderr, "stockx sandbox: %s\n", lua_tostring(sb->L, -3));
        *usage = 1;
        goto err;
    }
    if (keep(sb) < 0)
        goto oom;
    return sb;
oom:
    fprintf(stderr, "stockx sandbox: out of memory\n");
err:
    sx_sandbox_close(sb);
    return NULL;
}

const char *sx_sandbox_url(const struct sx_sandbox *sb)
{
    return sb->url;
}

const char *sx_sandbox_api_key(const struct sx_sandbox *sb)
{
    return sb->api_key;
}

const char *sx_sandbox_access_token(const struct sx_sandbox *sb)
{
    return sb->access_token;
}

/* Protected: sb:close() saves pending state and stops the server. */
static int stop(lua_State *L)
{
    lua_getfield(L, 1, "close");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 0);
    return 0;
}

void sx_sandbox_close(struct sx_sandbox *sb)
{
    if (sb == NULL)
        return;
    if (sb->L) {
        if (sb->ref != LUA_NOREF) {
            lua_pushcfunction(sb->L, stop);
            lua_rawgeti(sb->L, LUA_REGISTRYINDEX, sb->ref);
            protected_call(sb->L, 1, 0);
        }
        lua_close(sb->L); /* collects the server, should close not have */
    }
    free(sb->url);
    free(sb->api_key);
    free(sb->access_token);
    free(sb);
}
