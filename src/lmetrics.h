/*
 * Lua binding for the Prometheus registry (sx_metrics.h): main.c preloads
 * it as "stockx.metrics.core"; lua/stockx/metrics.lua builds
 * stockx.metrics and the built-in series on it.
 */
#ifndef SX_LMETRICS_H
#define SX_LMETRICS_H
#include <lua.h>

int luaopen_stockx_metrics_core(lua_State *L);

#endif
