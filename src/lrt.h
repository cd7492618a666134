/*
 * The runtime: one Lua state on one libevent loop.  It owns the loop's
 * lifetime (run until the last task ends, or forever for servers), the one
 * message handler every protected call uses, the interrupt that stops Lua
 * code busy in any coroutine, and the deadlock check.  Anything that can
 * wake a task later (HTTP requests, timers, ...) registers as a waiter
 * source; the runtime asks the sources, it knows none of them.
 */
#ifndef SX_LRT_H
#define SX_LRT_H
#include <lua.h>

struct event_base;
struct sx_client;

#define SX_RT_NEST 64 /* coroutines resumed inside each other we track */

struct sx_rt_source {
    const char *name;
    long (*pending)(void *ud); /* waits that will end by themselves */
    void (*after_pass)(void *ud); /* after the ready tasks ran, or NULL */
    void *ud;
    struct sx_rt_source *next;
};

struct sx_rt {
    lua_State *L;
    struct event_base *base;
    struct sx_client *client;  /* the HTTP client the bindings use */
    struct sx_rt_source *sources;
    long tasks;                /* tasks alive (kept by ltask) */
    int failed;                /* an uncaught error happened somewhere */
    int deadlock;              /* the loop stopped on a deadlock */
    int stop_when_idle;        /* break the loop when tasks reaches 0 */
    lua_State *running[SX_RT_NEST]; /* threads being resumed, outermost first */
    int nrunning;
    volatile int interrupted;  /* set from a signal handler */
    volatile int graceful;     /* a shutdown function is registered */
    int shutdown_ref;          /* that function (registry), or LUA_NOREF */
    lua_State *foreground;     /* the task thread Ctrl-C stops, or NULL */
    volatile int stopping;     /* foreground must stop (a signal handler) */
};

/* Creates the runtime for L (once, before anything else uses L). */
struct sx_rt *sx_rt_open(lua_State *L, struct event_base *base,
                         struct sx_client *client);
void sx_rt_close(struct sx_rt *rt);
struct sx_rt *sx_rt_get(lua_State *L); /* NULL in a state without one */

void sx_rt_add_source(struct sx_rt *rt, struct sx_rt_source *src);

/* Runs the loop until every task is done; 0, or 1 if anything failed. */
int sx_rt_run(struct sx_rt *rt);
/* A task ended: stops the loop when it was the last one. */
void sx_rt_task_ended(struct sx_rt *rt);
/*
 * After a pass of the scheduler: each source's after_pass runs (the client
 * starts the requests the tasks made), then, if every task is waiting and
 * no source has anything pending, nothing can wake one: the deadlock is
 * reported and the loop stops.  idle: no task is ready.
 */
void sx_rt_after_pass(struct sx_rt *rt, int idle);

/* Threads being resumed (a task's, then the user coroutines inside it). */
void sx_rt_push_running(struct sx_rt *rt, lua_State *co);
void sx_rt_pop_running(struct sx_rt *rt);

/*
 * From a signal handler (lua_sethook is safe there, as lua.c relies on):
 * every thread being resumed raises "interrupted!" at its next
 * instruction, and keeps raising it (a pcall cannot swallow it) until the
 * task is gone.  sx_rt_clear_interrupt removes the hook from a thread.
 */
void sx_rt_interrupt(struct sx_rt *rt);
/* The same for the threads being resumed now only (not later ones). */
void sx_rt_interrupt_busy(struct sx_rt *rt);
void sx_rt_clear_interrupt(lua_State *co);

/*
 * Graceful shutdown, for processes with scheduled jobs: the scheduler
 * registers a Lua function (the value at idx) that the first SIGINT or
 * SIGTERM runs as a task, instead of stopping everything at once.
 * sx_rt_shutdown spawns it; -1 if there is none or it could not start.
 */
void sx_rt_set_shutdown(lua_State *L, int idx);
int sx_rt_shutdown(struct sx_rt *rt);

/*
 * The REPL's Ctrl-C stops only the foreground task (rt->foreground, its
 * thread), from a signal handler too.  From then on every thread of that
 * task that is resumed (the task's, and the user coroutines inside it)
 * gets a hook that, after SX_RT_GRACE instructions (time to unwind the
 * cancellation the task is given, through library cleanups and <close>
 * handlers), yields when it can, so that the scheduler closes the task
 * where it is, and otherwise raises "interrupted!" again every SX_RT_GRACE
 * instructions: neither pcall nor a user coroutine can keep it alive.
 * Threads being resumed when the signal comes (a busy loop) get the hook
 * at once.  0 if there is no foreground task.
 */
#define SX_RT_GRACE 100000
int sx_rt_interrupt_foreground(struct sx_rt *rt);
/* 1 if co is the foreground task's thread and it must stop. */
int sx_rt_stopping(const struct sx_rt *rt, const lua_State *co);

/* Adds resume (coroutine.resume that records the thread as running). */
void sx_rt_openlib(lua_State *L);

/* The message handler: the error (tostring'd) with a traceback. */
int sx_rt_msghandler(lua_State *L);
/*
 * Reports the error that ended thread co (its error value on co's top)
 * with co's traceback: on stderr as lua does, or as a task.error event
 * when logs are JSON.  Every uncaught error goes through here or
 * sx_rt_pcall.
 */
void sx_rt_report(lua_State *L, lua_State *co);
/*
 * Calls a function (below its nargs arguments on L's stack) in
 * protected mode with the message handler; on error prints it and
 * returns -1 (the stack is left balanced).
 */
int sx_rt_pcall(lua_State *L, int nargs, int nresults);

#endif
