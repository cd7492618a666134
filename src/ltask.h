/*
 * Tasks: every script runs as Lua coroutines ("tasks") that the runtime's
 * loop resumes.  C code that must wait (an HTTP request, a timer) parks the
 * running task with sx_task_park() and later, from any C callback, calls
 * sx_task_wake(); the task is resumed from the loop's top level, never
 * from inside a curl or libevent I/O callback.  A task can be cancelled:
 * its current wait ends with an error value of kind "cancelled".
 */
#ifndef SX_LTASK_H
#define SX_LTASK_H
#include <lua.h>

#include "lrt.h"

struct sx_task;

/*
 * Starts fn (at the top of L's stack, followed by nargs arguments, all
 * popped) as a new task; it first runs on the next loop pass.  Pushes the
 * task handle.
 */
void sx_task_spawn(lua_State *L, int nargs);

/*
 * The running task: raises a Lua error if L is not inside a task (or
 * cannot yield), naming `what` ("stockx.get"), and raises the task's
 * cancellation error if it was cancelled.
 */
struct sx_task *sx_task_current(lua_State *L, const char *what);
/*
 * Parks the running task: yields, and when the task is woken, k(L, ctx)
 * is called in L to produce the results.  Returns what lua_yieldk returns.
 */
int sx_task_park(lua_State *L, lua_KFunction k, lua_KContext ctx);

/*
 * Cancellation: a parked C wait registers how to stop itself; cancelling
 * the task calls it (the wait's done callback then wakes the task), and
 * marks the task so that the continuation and every later wait raise.
 */
void sx_task_on_cancel(struct sx_task *t, void (*fn)(void *), void *ud);
int sx_task_cancelled(const struct sx_task *t);
/* Raises t's cancellation error value (call from a continuation). */
int sx_task_raise_cancelled(lua_State *L, struct sx_task *t);

/*
 * Cancels every task still alive (shutdown after the grace period), with
 * reason as their error's message; each unwinds on the next pass, closing
 * its <close> variables.  Call from the loop's top level; -1 on error.
 */
int sx_task_cancel_all(lua_State *L, const char *reason);

/*
 * The thread of the task whose handle is at idx, while it lives (NULL
 * once it has finished, or for anything else): what rt->foreground holds.
 */
lua_State *sx_task_thread(lua_State *L, int idx);

/* Schedules a parked task to resume; safe from any C callback. */
void sx_task_wake(struct sx_task *t);

/*
 * Adds spawn, join, cancel, sleep, now, in_task, SENTINEL to the
 * table on top of the stack; the runtime must exist.
 */
void sx_task_openlib(lua_State *L);

#endif
