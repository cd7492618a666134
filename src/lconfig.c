/*
 * core.configure and core.settings (see lconfig.h).  configure parses
 * every key into a copy of the settings, and only when all are valid
 * hands the copy to the client: a failed call changes nothing.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lconfig.h"
#include "lstockx.h"
#include "ltask.h"
#include "sx_client.h"
#include "sx_config.h"
#include "sx_log.h"

#define CONFIG_MT "stockx.config"

static int config_gc(lua_State *L)
{
    struct sx_config *k = lua_touserdata(L, 1);
    sx_config_free(k);
    return 0;
}

static int fail(lua_State *L, const char *msg)
{
    return sx_lstockx_error(L, "stockx.configure: %s", msg);
}

static int is_false(lua_State *L, int i)
{
    return lua_type(L, i) == LUA_TBOOLEAN && !lua_toboolean(L, i);
}

/* rate = {rate=, period=, burst=} */
static int set_rate_table(lua_State *L, struct sx_config *k, int i,
                          char *err, size_t errlen)
{
    double v[3] = {0, 1, -1};
    static const char *const names[] = {"rate", "period", "burst"};
    for (int j = 0; j < 3; j++) {
        int t = lua_getfield(L, i, names[j]);
        if (t == LUA_TNUMBER)
            v[j] = lua_tonumber(L, -1);
        else if (t != LUA_TNIL || j == 0)
            return snprintf(err, errlen, "'rate.%s' must be a number",
                            names[j]), -1;
        lua_pop(L, 1);
    }
    return sx_config_set_rate(k, v[0], v[1], v[2], err, errlen);
}

/* Sets o from the value at index i; -1 with err (see lconfig.h). */
int sx_lconfig_set(lua_State *L, struct sx_config *k, const struct sx_opt *o,
                   int i, char *err, size_t errlen)
{
    size_t len = 0;
    int t = lua_type(L, i);
    if (o->type == SX_OPT_BOOL) {
        if (t != LUA_TBOOLEAN)
            return snprintf(err, errlen, "'%s' must be a boolean (got %s)",
                            o->name, luaL_typename(L, i)), -1;
        const char *v = lua_toboolean(L, i) ? "true" : "false";
        return sx_config_set_text(k, o, v, strlen(v), err, errlen);
    }
    if (o->type == SX_OPT_RATE && (is_false(L, i)))
        return sx_config_set_text(k, o, "off", 3, err, errlen);
    if (o->type == SX_OPT_RATE && t == LUA_TTABLE)
        return set_rate_table(L, k, i, err, errlen);
    if (o->type == SX_OPT_SECONDS || o->type == SX_OPT_COUNT ||
        o->type == SX_OPT_NUMBER) {
        if (t != LUA_TNUMBER)
            return snprintf(err, errlen, "'%s' must be a number (got %s)",
                            o->name, luaL_typename(L, i)), -1;
        return sx_config_set_number(k, o, lua_tonumber(L, i), err, errlen);
    }
    int clearable = sx_config_is_string(o);
    if (clearable && is_false(L, i))
        return sx_config_set_text(k, o, NULL, 0, err, errlen);
    if (t != LUA_TSTRING)
        return snprintf(err, errlen, "'%s' must be a string%s (got %s)",
                        o->name, clearable ? " (or false to clear it)"
                        : o->type == SX_OPT_RATE ? " like \"10/1s\", a "
                        "table {rate=, period=, burst=}, or false" : "",
                        luaL_typename(L, i)), -1;
    const char *v = lua_tolstring(L, i, &len);
    return sx_config_set_text(k, o, v, len, err, errlen);
}

/* 1 if name is a group of dotted settings ("retry", "breaker"). */
static int is_group(const char *name)
{
    return !strcmp(name, "retry") || !strcmp(name, "breaker");
}

/* Applies table i (keys prefixed by group: "", "retry.", "breaker.") to k. */
static void apply(lua_State *L, struct sx_config *k, int i,
                  const char *group)
{
    char name[64], sub[72], err[300];
    lua_pushnil(L);
    while (lua_next(L, i)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            fail(L, "keys must be strings");
        snprintf(name, sizeof name, "%s%s", group, lua_tostring(L, -2));
        const struct sx_opt *o = sx_config_find(name);
        if (!*group && is_group(name) && lua_type(L, -1) == LUA_TTABLE) {
            if (!strcmp(name, "breaker"))
                k->breaker_on = 1; /* breaker = {...} turns it on */
            snprintf(sub, sizeof sub, "%s.", name);
            apply(L, k, lua_gettop(L), sub);
        } else if (!o || (!*group && strchr(name, '.'))) {
            lua_pushfstring(L, "unknown setting '%s'", name);
            fail(L, lua_tostring(L, -1));
        } else if (sx_lconfig_set(L, k, o, lua_gettop(L), err,
                                  sizeof err) < 0) {
            fail(L, err);
        }
        lua_pop(L, 1);
    }
}

static int l_configure(lua_State *L)
{
    char err[300];
    struct sx_client *c = sx_rt_get(L)->client;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    struct sx_config *k = lua_newuserdatauv(L, sizeof *k, 0);
    memset(k, 0, sizeof *k);
    luaL_setmetatable(L, CONFIG_MT);
    if (sx_config_copy(k, sx_client_config(c)) < 0)
        return fail(L, "out of memory");
    apply(L, k, 1, "");
    if (sx_client_set_config(c, k, err, sizeof err) < 0)
        return fail(L, err);
    sx_log_setup((enum sx_log_level)k->log_level, k->log_json, stderr);
    sx_config_free(k); /* wipe the copy's secrets now, not at some GC */
    return 0;
}

/* [-0, +1] The value of o in k, as settings() shows it. */
static void push_value(lua_State *L, const struct sx_config *k,
                       const struct sx_opt *o)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    switch (o->type) {
    case SX_OPT_SECRET:
        lua_pushboolean(L, sx_config_string(k, o) != NULL);
        break;
    case SX_OPT_BACKEND: {
        char buf[600];
        lua_pushstring(L, sx_config_format(k, o, buf, sizeof buf));
        break;
    }
    case SX_OPT_URL:
    case SX_OPT_FILE:
    case SX_OPT_STRING:
    case SX_OPT_DIR:
        lua_pushstring(L, sx_config_string(k, o));
        break;
    case SX_OPT_COUNT:
        lua_pushinteger(L, (lua_Integer)sx_config_number(k, o));
        break;
    case SX_OPT_SECONDS:
    case SX_OPT_NUMBER:
        lua_pushnumber(L, sx_config_number(k, o));
        break;
    case SX_OPT_RATE:
        if (!k->rate_on) {
            lua_pushboolean(L, 0);
            break;
        }
        lua_createtable(L, 0, 3);
        lua_pushnumber(L, k->rate);
        lua_setfield(L, -2, "rate");
        lua_pushnumber(L, k->period);
        lua_setfield(L, -2, "period");
        lua_pushnumber(L, k->burst);
        lua_setfield(L, -2, "burst");
        break;
    case SX_OPT_LEVEL:
        lua_pushstring(L, levels[k->log_level & 3]);
        break;
    case SX_OPT_ONQUOTA:
        lua_pushstring(L, k->on_quota_wait ? "wait" : "fail");
        break;
    case SX_OPT_FORMAT:
        lua_pushstring(L, k->log_json ? "json" : "text");
        break;
    case SX_OPT_BOOL:
        lua_pushboolean(L, *(const int *)(const void *)((const char *)k +
                                                         o->offset));
        break;
    }
}

/* [-1, +0] Sets the value on top in its group's table of settings()
 * (just below it), the table named by o's prefix, made if new. */
static void group_table(lua_State *L, const struct sx_opt *o, size_t len)
{
    lua_pushlstring(L, o->name, len);               /* settings value key */
    if (lua_rawget(L, -3) != LUA_TTABLE) {          /* settings value grp */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushlstring(L, o->name, len);
        lua_pushvalue(L, -2);                       /* ... grp key grp */
        lua_rawset(L, -5);
    }
    lua_insert(L, -2);                              /* settings grp value */
    lua_setfield(L, -2, strchr(o->name, '.') + 1);
    lua_pop(L, 1);                                  /* settings */
}

/*
 * core.settings() -> every setting, secrets only as has_<name>; dotted
 * ones in their group's table (retry = {...}); breaker = false when off.
 */
static int l_settings(lua_State *L)
{
    const struct sx_config *k = sx_client_config(sx_rt_get(L)->client);
    lua_newtable(L);
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        const char *dot = strchr(o->name, '.');
        if (!strcmp(o->name, "breaker"))
            continue; /* its group's table, or false below */
        push_value(L, k, o);
        if (dot) {
            group_table(L, o, (size_t)(dot - o->name));
        } else if (o->type == SX_OPT_SECRET) {
            lua_pushfstring(L, "has_%s", o->name);
            lua_insert(L, -2);
            lua_rawset(L, -3);
        } else {
            lua_setfield(L, -2, o->name);
        }
    }
    if (!k->breaker_on) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "breaker");
    }
    return 1;
}

/*
 * core.secret(name) -> the current value of a secret setting (api_key,
 * access_token, client_secret), or nil: for the library's OAuth code,
 * which must send the client secret; settings() never shows them.
 */
static int l_secret(lua_State *L)
{
    const struct sx_config *k = sx_client_config(sx_rt_get(L)->client);
    const struct sx_opt *o = sx_config_find(luaL_checkstring(L, 1));
    const char *v;
    luaL_argcheck(L, o && o->type == SX_OPT_SECRET, 1, "not a secret setting");
    v = sx_config_string(k, o);
    lua_pushstring(L, v);
    return 1;
}

void sx_lconfig_openlib(lua_State *L)
{
    if (luaL_newmetatable(L, CONFIG_MT)) {
        lua_pushcfunction(L, config_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_configure);
    lua_setfield(L, -2, "configure");
    lua_pushcfunction(L, l_secret);
    lua_setfield(L, -2, "secret");
    lua_pushcfunction(L, l_settings);
    lua_setfield(L, -2, "settings");
}
