/*
 * core.request, the binding of one pooled HTTP request (see lrequest.c).
 */
#ifndef SX_LREQUEST_H
#define SX_LREQUEST_H
#include <lua.h>

/* Adds request to the table on top of the stack. */
void sx_lrequest_openlib(lua_State *L);

#endif
