/*
 * The task scheduler: every script runs as Lua coroutines ("tasks") that
 * the libevent loop resumes.  C code that must wait (an HTTP request, a
 * timer) parks the running task with sx_task_park() and later, from any C
 * callback, calls sx_task_wake(); the task is resumed from the loop's top
 * level, never from inside a curl or libevent I/O callback.
 */
#ifndef SX_LTASK_H
#define SX_LTASK_H
#include <lua.h>

struct event_base;
struct sx_client;
struct sx_task;

/* One per lua_State, found through the registry. */
struct sx_rt {
    lua_State *L;
    struct event_base *base;
    struct sx_client *client;
    struct event *ready_ev;  /* runs the ready queue */
    struct sx_task *ready_head, *ready_tail;
    struct sx_task *current; /* the task being resumed, or NULL */
    long tasks;              /* tasks alive */
    long sleepers;           /* tasks in stockx.sleep */
    int failed;              /* an uncaught error happened in some task */
    int deadlock;            /* the loop stopped on a deadlock */
    int stop_when_idle;      /* break the loop when tasks reaches 0 */
};

/* Creates the runtime for L (must be called once, before any task). */
struct sx_rt *sx_rt_open(lua_State *L, struct event_base *base,
                         struct sx_client *client);
void sx_rt_close(struct sx_rt *rt);
struct sx_rt *sx_rt_get(lua_State *L);
struct event_base *sx_rt_base(lua_State *L);

/*
 * Starts fn (at the top of L's stack, followed by nargs arguments, all
 * popped) as a new task; it first runs on the next loop pass.  Pushes the
 * task handle.
 */
void sx_task_spawn(lua_State *L, int nargs);

/*
 * Parks the running task: raises a Lua error if L is not inside a task (or
 * cannot yield); otherwise yields, and when the task is woken, k(L, ctx) is
 * called in L to produce the results.  `what` names the caller for the
 * error message ("stockx.get").  Returns what lua_yieldk returns.
 */
struct sx_task *sx_task_current(lua_State *L, const char *what);
int sx_task_park(lua_State *L, lua_KFunction k, lua_KContext ctx);

/*
 * Cancellation: a parked C wait registers how to stop itself; cancelling
 * the task calls it (the wait then ends with an error), and marks the
 * task so that its next wait fails at once.
 */
void sx_task_on_cancel(struct sx_task *t, void (*fn)(void *), void *ud);
int sx_task_cancelled(const struct sx_task *t);

/* Schedules a parked task to resume; safe from any C callback. */
void sx_task_wake(struct sx_rt *rt, struct sx_task *t);

/* Adds spawn, join, sleep, now, in_task, SENTINEL to the table on top. */
void sx_task_openlib(lua_State *L);

/* Runs the loop until every task is done (or forever, for servers). */
int sx_rt_run(struct sx_rt *rt);

/*
 * From a signal handler (lua_sethook is safe there, as lua.c relies on):
 * the running task, if any, raises "interrupted!" at its next instruction.
 */
void sx_rt_interrupt(struct sx_rt *rt);

/* Calls the function at the top of L in protected mode with a traceback;
 * on error logs it and returns -1 (the stack is left balanced). */
int sx_rt_pcall(lua_State *L, int nargs, int nresults);

#endif
