/*
 * The scheduler's arithmetic for Lua (stockx.core): interval strings,
 * cron expressions and their next run, time zones.  The work is done by
 * the pure sx_cron and sx_tz; this file only checks arguments and wraps
 * the results as userdata (stockx.cron, stockx.tz).
 */
#include <math.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "lcron.h"
#include "sx_cron.h"
#include "sx_tz.h"

#define CRON_MT "stockx.cron"
#define TZ_MT "stockx.tz"

/* core.interval(text) -> seconds; raises with sx_cron_interval's text. */
static int l_interval(lua_State *L)
{
    char err[200];
    double secs;
    const char *s = luaL_checkstring(L, 1);
    if (sx_cron_interval(s, &secs, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    lua_pushnumber(L, secs);
    return 1;
}

/* core.cron(expr) -> a parsed expression. */
static int l_cron(lua_State *L)
{
    char err[300];
    const char *expr = luaL_checkstring(L, 1);
    struct sx_cron *c = lua_newuserdatauv(L, sizeof *c, 0);
    if (sx_cron_parse(c, expr, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    luaL_setmetatable(L, CRON_MT);
    return 1;
}

static struct sx_tz *check_tz(lua_State *L, int i)
{
    struct sx_tz **p = luaL_checkudata(L, i, TZ_MT);
    if (*p == NULL)
        luaL_argerror(L, i, "closed time zone");
    return *p;
}

/* A UTC time from Lua, range-checked before the cast. */
static int64_t check_time(lua_State *L, int i)
{
    double t = luaL_checknumber(L, i);
    if (!(t >= (double)SX_TZ_TIME_MIN && t <= (double)SX_TZ_TIME_MAX))
        luaL_argerror(L, i, "time out of range (years 1 to 9999)");
    return (int64_t)floor(t);
}

/* cron:next(after, tz) -> the first run after `after`, or nil. */
static int cron_next(lua_State *L)
{
    const struct sx_cron *c = luaL_checkudata(L, 1, CRON_MT);
    int64_t after = check_time(L, 2);
    int64_t t = sx_cron_next(c, check_tz(L, 3), after);
    if (t < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

/* cron:wildcard() -> true if the minute or hour field starts with '*'. */
static int cron_wildcard(lua_State *L)
{
    const struct sx_cron *c = luaL_checkudata(L, 1, CRON_MT);
    lua_pushboolean(L, (c->flags & (SX_CRON_MIN_STAR | SX_CRON_HOUR_STAR)) != 0);
    return 1;
}

/* core.tz([name]) -> a time zone: "UTC", "local" (default), an IANA name. */
static int l_tz(lua_State *L)
{
    char err[300];
    const char *name = luaL_optstring(L, 1, "local");
    struct sx_tz **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, TZ_MT);
    if (!(*p = sx_tz_open(name, err, sizeof err)))
        return luaL_error(L, "%s", err);
    return 1;
}

static int tz_gc(lua_State *L)
{
    struct sx_tz **p = luaL_checkudata(L, 1, TZ_MT);
    sx_tz_close(*p);
    *p = NULL;
    return 0;
}

static int tz_name(lua_State *L)
{
    lua_pushstring(L, sx_tz_name(check_tz(L, 1)));
    return 1;
}

/* tz:format(t) -> "2026-03-29T03:00:00+02:00". */
static int tz_format(lua_State *L)
{
    char buf[SX_TZ_FORMAT_LEN];
    struct sx_tz *tz = check_tz(L, 1);
    sx_tz_format(tz, check_time(L, 2), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

/* tz:offset(t) -> seconds east of UTC, is_dst. */
static int tz_offset(lua_State *L)
{
    int dst = 0;
    struct sx_tz *tz = check_tz(L, 1);
    lua_pushinteger(L, sx_tz_offset(tz, check_time(L, 2), &dst));
    lua_pushboolean(L, dst);
    return 2;
}

static const luaL_Reg cron_methods[] = {
    {"next", cron_next},
    {"wildcard", cron_wildcard},
    {NULL, NULL}};

static const luaL_Reg tz_methods[] = {
    {"name", tz_name},
    {"format", tz_format},
    {"offset", tz_offset},
    {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"interval", l_interval},
    {"cron", l_cron},
    {"tz", l_tz},
    {NULL, NULL}};

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
}

void sx_lcron_openlib(lua_State *L)
{
    new_class(L, CRON_MT, cron_methods);
    lua_pop(L, 1);
    new_class(L, TZ_MT, tz_methods);
    lua_pushcfunction(L, tz_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
