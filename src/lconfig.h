/*
 * core.configure and core.settings: the client's settings from Lua,
 * driven by the descriptor table of sx_config.h.
 */
#ifndef SX_LCONFIG_H
#define SX_LCONFIG_H
#include <lua.h>
#include <stddef.h>

struct sx_config;
struct sx_opt;

/* Adds configure and settings to the table on top of the stack. */
void sx_lconfig_openlib(lua_State *L);

/*
 * Sets o in k from the Lua value at index i, as stockx.configure takes it
 * (a rate also as a table or false, a string cleared by false); 0, or -1
 * with a message naming the setting in err.  Raises nothing.
 */
int sx_lconfig_set(lua_State *L, struct sx_config *k, const struct sx_opt *o,
                   int i, char *err, size_t errlen);

#endif
