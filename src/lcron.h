/*
 * Lua bindings of the scheduler's arithmetic: core.interval, core.cron
 * (a parsed expression with :next and :wildcard) and core.tz (a zone with
 * :name, :format, :offset).
 */
#ifndef SX_LCRON_H
#define SX_LCRON_H
#include <lua.h>

/* Adds interval, cron and tz to the table on top of the stack. */
void sx_lcron_openlib(lua_State *L);

#endif
