/*
 * core.configure and core.settings: the client's settings from Lua,
 * driven by the descriptor table of sx_config.h.
 */
#ifndef SX_LCONFIG_H
#define SX_LCONFIG_H
#include <lua.h>

/* Adds configure and settings to the table on top of the stack. */
void sx_lconfig_openlib(lua_State *L);

#endif
