/*
 * Module "stockx.metrics.core": family(kind, name, help, labels, buckets)
 * returns a metric object with :inc/:set/:observe/:value, each taking a
 * table of label values; text() renders the exposition; write(path)
 * replaces a .prom file atomically (0644, for node_exporter).  One
 * registry per Lua state, a userdata in the registry table.
 */
#include "lmetrics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "sx_buf.h"
#include "sx_file.h"
#include "sx_metrics.h"

#define REG_KEY "stockx.metrics.registry"
#define METRIC_MT "stockx.metric"
#define MAX_SERIES 200          /* label combinations per metric */
#define MAX_TEXT (16u << 20)    /* the exposition, bytes */

struct lregistry {
    struct sx_metrics *m; /* NULL once closed */
};

struct lmetric {
    int fam;
    char name[64];
};

static int registry_gc(lua_State *L)
{
    struct lregistry *r = lua_touserdata(L, 1);
    sx_metrics_free(r->m);
    r->m = NULL;
    return 0;
}

/* The state's registry, created on first use. */
static struct sx_metrics *registry(lua_State *L)
{
    struct lregistry *r;
    if (lua_getfield(L, LUA_REGISTRYINDEX, REG_KEY) == LUA_TUSERDATA) {
        r = lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (!r->m)
            luaL_error(L, "metrics: the registry is closed");
        return r->m;
    }
    lua_pop(L, 1);
    r = lua_newuserdatauv(L, sizeof *r, 0); /* first the userdata */
    r->m = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, registry_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (!(r->m = sx_metrics_new(MAX_SERIES)))
        luaL_error(L, "metrics: out of memory");
    lua_setfield(L, LUA_REGISTRYINDEX, REG_KEY);
    return r->m;
}

/* ---- family(kind, name, help, labels, buckets) ----------------------- */

static enum sx_metric_type check_kind(lua_State *L, int arg)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram",
                                        NULL};
    static const enum sx_metric_type types[] = {
        SX_METRIC_COUNTER, SX_METRIC_GAUGE, SX_METRIC_HISTOGRAM};
    return types[luaL_checkoption(L, arg, NULL, kinds)];
}

/* Label names from an array at arg (nil: none) into names[]. */
static int check_names(lua_State *L, int arg, const char **names)
{
    int n;
    if (lua_isnoneornil(L, arg))
        return 0;
    luaL_checktype(L, arg, LUA_TTABLE);
    n = (int)luaL_len(L, arg);
    luaL_argcheck(L, n >= 0 && n <= SX_METRICS_MAX_LABELS, arg,
                  "too many label names");
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, arg, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, arg, "label names must be strings");
        names[i] = lua_tostring(L, -1); /* anchored by the table */
        lua_pop(L, 1);
    }
    return n;
}

static int check_buckets(lua_State *L, int arg, double *le)
{
    int n;
    if (lua_isnoneornil(L, arg))
        return 0;
    luaL_checktype(L, arg, LUA_TTABLE);
    n = (int)luaL_len(L, arg);
    luaL_argcheck(L, n >= 1 && n <= SX_METRICS_MAX_BUCKETS, arg,
                  "1 to 32 bucket bounds expected");
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, arg, i + 1);
        if (!lua_isnumber(L, -1))
            luaL_argerror(L, arg, "bucket bounds must be numbers");
        le[i] = (double)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return n;
}

static int l_family(lua_State *L)
{
    enum sx_metric_type t = check_kind(L, 1);
    const char *name = luaL_checkstring(L, 2);
    size_t hlen;
    const char *help = luaL_checklstring(L, 3, &hlen);
    const char *names[SX_METRICS_MAX_LABELS];
    double le[SX_METRICS_MAX_BUCKETS];
    int n = check_names(L, 4, names), nb = 0, fam;
    char err[300];
    struct sx_metrics *m = registry(L);
    if (t == SX_METRIC_HISTOGRAM)
        nb = check_buckets(L, 5, le);
    luaL_argcheck(L, strlen(help) == hlen && hlen <= 1000, 3,
                  "help: at most 1000 bytes, no NUL");
    struct lmetric *lm = lua_newuserdatauv(L, sizeof *lm, 0);
    fam = sx_metrics_family(m, name, help, t, names, n, nb ? le : NULL, nb,
                            err, sizeof err);
    if (fam < 0)
        return luaL_error(L, "%s", err);
    lm->fam = fam;
    snprintf(lm->name, sizeof lm->name, "%s", name);
    luaL_setmetatable(L, METRIC_MT);
    return 1;
}

/* ---- metric methods -------------------------------------------------- */

/* The series for the label table at arg (nil: no labels). */
static int series_of(lua_State *L, struct sx_metrics *m, struct lmetric *lm,
                     int arg, const char *const *names, int n)
{
    const char *values[SX_METRICS_MAX_LABELS];
    char err[300];
    int given = 0, s;
    if (!lua_isnoneornil(L, arg)) {
        luaL_checktype(L, arg, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, arg)) {
            given++;
            lua_pop(L, 1);
        }
    }
    for (int i = 0; i < n; i++) {
        size_t len;
        if (given)
            lua_getfield(L, arg, names[i]);
        else
            lua_pushnil(L);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "metric %s: label %s: missing (a string "
                              "expected)",
                              lm->name, names[i]);
        values[i] = lua_tolstring(L, -1, &len);
        if (strlen(values[i]) != len)
            return luaL_error(L, "metric %s: label %s: NUL in the value",
                              lm->name, names[i]);
        lua_replace(L, arg + 2 + i); /* keep the string alive */
    }
    if (given != n)
        return luaL_error(L, "metric %s: labels %d given, %d expected",
                          lm->name, given, n);
    if ((s = sx_metrics_series(m, lm->fam, values, err, sizeof err)) < 0)
        return luaL_error(L, "%s", err);
    return s;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE, OP_VALUE };

static int metric_op(lua_State *L, enum op op)
{
    struct lmetric *lm = luaL_checkudata(L, 1, METRIC_MT);
    struct sx_metrics *m = registry(L);
    const char *names[SX_METRICS_MAX_LABELS];
    char err[300];
    int n, s, rc = 0;
    double v = op == OP_ADD ? luaL_optnumber(L, 3, 1)
               : op == OP_VALUE ? 0 : luaL_checknumber(L, 3);
    n = sx_metrics_label_names(m, lm->fam, names);
    lua_settop(L, 3);
    luaL_checkstack(L, n, "labels");
    for (int i = 0; i < n; i++)
        lua_pushnil(L); /* slots for the label strings */
    s = series_of(L, m, lm, 2, names, n);
    if (op == OP_VALUE) {
        lua_pushnumber(L, sx_metrics_value(m, lm->fam, s));
        return 1;
    }
    rc = op == OP_ADD ? sx_metrics_add(m, lm->fam, s, v, err, sizeof err)
         : op == OP_SET ? sx_metrics_set(m, lm->fam, s, v, err, sizeof err)
                        : sx_metrics_observe(m, lm->fam, s, v, err,
                                             sizeof err);
    if (rc < 0)
        return luaL_error(L, "%s", err);
    lua_settop(L, 1);
    return 1; /* the metric, for chaining */
}

static int metric_inc(lua_State *L) { return metric_op(L, OP_ADD); }
static int metric_set(lua_State *L) { return metric_op(L, OP_SET); }
static int metric_observe(lua_State *L) { return metric_op(L, OP_OBSERVE); }
static int metric_value(lua_State *L) { return metric_op(L, OP_VALUE); }

static int metric_tostring(lua_State *L)
{
    struct lmetric *lm = luaL_checkudata(L, 1, METRIC_MT);
    lua_pushfstring(L, "metric %s", lm->name);
    return 1;
}

/* ---- text, write ------------------------------------------------------ */

static int render(lua_State *L, struct sx_buf *b)
{
    sx_buf_init(b, MAX_TEXT);
    if (sx_metrics_render(registry(L), b) < 0) {
        sx_buf_free(b);
        return luaL_error(L, "metrics: the exposition is over %d bytes",
                          (int)MAX_TEXT);
    }
    return 0;
}

static int l_text(lua_State *L)
{
    struct sx_buf b;
    render(L, &b);
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    sx_buf_free(&b);
    return 1;
}

/* write(path) -> true | nil, message */
static int l_write(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    struct sx_buf b;
    int rc, saved;
    luaL_argcheck(L, len == strlen(path) && len > 5 &&
                  !strcmp(path + len - 5, ".prom"), 1,
                  "a file name ending in .prom expected");
    render(L, &b);
    rc = sx_file_replace_mode(path, b.data ? b.data : "", b.len, 0644);
    saved = errno;
    sx_buf_free(&b);
    if (rc < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(saved));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg methods[] = {
    {"inc", metric_inc},
    {"set", metric_set},
    {"observe", metric_observe},
    {"value", metric_value},
    {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"family", l_family},
    {"text", l_text},
    {"write", l_write},
    {NULL, NULL}};

int luaopen_stockx_metrics_core(lua_State *L)
{
    if (luaL_newmetatable(L, METRIC_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, metric_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
