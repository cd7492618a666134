/*
 * Tasks: Lua coroutines resumed by the libevent loop (see ltask.h).  A
 * waiting C function yields a sentinel; user coroutines (coroutine.wrap,
 * coroutine.resume, replaced in lua/stockx.lua) pass that yield up to the
 * task, as cqueues' auxlib does, so waits work inside generators too.
 * Ready tasks are resumed from one event callback, each in its own
 * protected call, never from inside curl or an I/O callback.
 */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "ltask.h"
#include "sx_client.h"
#include "sx_log.h"

#define TASK_MT "stockx.task"

enum task_state { T_READY, T_RUNNING, T_PARKED, T_DONE, T_FAILED };

struct sx_task {
    struct sx_rt *rt;
    lua_State *co;
    int ref;                 /* anchors the handle while the task lives */
    enum task_state state;
    int nargs;               /* arguments for the first resume */
    int wake_pending;        /* woken while it was running */
    int joined;              /* a waiter takes its error: don't report */
    struct sx_task *next_ready;
    struct sx_task *waiters; /* tasks waiting for this one */
    struct sx_task *next_waiter;
    struct event sleep_ev;
    int sleeping;
    int nres;
    int cancelled;
    void (*cancel)(void *);  /* stops the current wait */
    void *cancel_ud;
};

static const char rt_key = 'R';
static const char sentinel = 'S';

/* ---- runtime ---------------------------------------------------------- */

struct sx_rt *sx_rt_get(lua_State *L)
{
    struct sx_rt *rt;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &rt_key);
    rt = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return rt;
}

struct event_base *sx_rt_base(lua_State *L) { return sx_rt_get(L)->base; }

static void enqueue(struct sx_rt *rt, struct sx_task *t)
{
    t->state = T_READY;
    t->next_ready = NULL;
    if (rt->ready_tail)
        rt->ready_tail->next_ready = t;
    else
        rt->ready_head = t;
    rt->ready_tail = t;
    event_active(rt->ready_ev, 0, 0);
}

void sx_task_wake(struct sx_rt *rt, struct sx_task *t)
{
    if (t->state == T_RUNNING)
        t->wake_pending = 1;
    else if (t->state == T_PARKED)
        enqueue(rt, t);
}

/* ---- finishing -------------------------------------------------------- */

/*
 * [-0, +0] Reports an uncaught task error with its traceback: as lua does
 * on stderr, or as one task.error event when logs are JSON.
 */
static int report_error(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    const char *msg = luaL_tolstring(L, 2, NULL);
    if (sx_log_json()) {
        luaL_traceback(L, co, NULL, 0);
        struct sx_log_field f[] = {{"error", msg, 0},
                                   {"traceback", lua_tostring(L, -1), 0}};
        sx_log(SX_LOG_ERROR, "task.error", f, 2);
        return 0;
    }
    luaL_traceback(L, co, msg, 0);
    fprintf(stderr, "stockx: %s\n", lua_tostring(L, -1));
    fflush(stderr);
    return 0;
}

/*
 * [-0, +0] A finished task keeps only its outcome (results, or the error
 * value) in a table that replaces its coroutine as the handle's user
 * value: the coroutine and its stack can then be collected, which matters
 * when thousands of finished tasks wait to be joined.
 */
static void keep_outcome(lua_State *L, struct sx_task *t)
{
    int top = lua_gettop(t->co);
    int n = t->state == T_FAILED ? 1 : t->nres;
    luaL_checkstack(L, 3, NULL);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);        /* handle */
    lua_createtable(L, n, 0);                          /* handle outcome */
    lua_checkstack(t->co, 1);
    for (int i = 0; i < n; i++) {
        lua_pushvalue(t->co, top - n + 1 + i);
        lua_xmove(t->co, L, 1);
        lua_rawseti(L, -2, i + 1);
    }
    t->nres = n;
    lua_setiuservalue(L, -2, 1);                       /* handle */
    lua_pop(L, 1);
    t->co = NULL;
}

static void finish(lua_State *L, struct sx_task *t, enum task_state st)
{
    struct sx_rt *rt = t->rt;
    t->state = st;
    if (st == T_FAILED && !t->joined && !t->waiters) {
        rt->failed = 1;
        lua_pushcfunction(L, report_error);
        lua_pushthread(t->co);
        lua_xmove(t->co, L, 1);
        lua_pushvalue(t->co, -1);
        lua_xmove(t->co, L, 1);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            fprintf(stderr, "stockx: task failed (error object could not "
                            "be printed)\n");
            lua_pop(L, 1);
        }
    }
    for (struct sx_task *w = t->waiters, *n; w; w = n) {
        n = w->next_waiter;
        w->next_waiter = NULL;
        sx_task_wake(rt, w);
    }
    t->waiters = NULL;
    keep_outcome(L, t);
    rt->tasks--;
    if (rt->tasks == 0 && rt->stop_when_idle)
        event_base_loopbreak(rt->base);
    /* last: the handle may be collected from here on */
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
}

/* [-0, +0] Resumes one task (argument 1, light userdata). */
static int resume_one(lua_State *L)
{
    struct sx_task *t = lua_touserdata(L, 1);
    struct sx_rt *rt = t->rt;
    int nres, nargs = t->nargs;
    t->nargs = 0;
    t->state = T_RUNNING;
    rt->current = t;
    int st = lua_resume(t->co, L, nargs, &nres);
    rt->current = NULL;
    if (st == LUA_YIELD) {
        int parked = nres >= 1 &&
                     lua_touserdata(t->co, -nres) == (void *)&sentinel;
        lua_pop(t->co, nres);
        if (parked && !t->wake_pending) {
            t->state = T_PARKED;
        } else {
            t->wake_pending = 0;
            enqueue(rt, t); /* a plain yield lets the others run */
        }
    } else if (st == LUA_OK) {
        t->nres = nres;
        finish(L, t, T_DONE);
    } else {
        finish(L, t, T_FAILED);
    }
    return 0;
}

/*
 * Every task is parked and nothing can wake one: no request pending, no
 * task sleeping.  The loop would otherwise wait forever (signal events
 * keep it from seeing that it is empty).
 */
static void check_deadlock(struct sx_rt *rt)
{
    struct sx_stats st;
    if (rt->tasks == 0 || rt->ready_head || rt->sleepers > 0)
        return;
    sx_client_stats(rt->client, &st);
    if (st.pending > 0)
        return;
    fprintf(stderr, "stockx: %ld task(s) are waiting for something that "
                    "can no longer happen (deadlock)\n", rt->tasks);
    rt->failed = 1;
    rt->deadlock = 1;
    event_base_loopbreak(rt->base);
}

/*
 * Runs the tasks that were ready when the pass began; tasks woken meanwhile
 * wait for the next pass, so I/O is polled between passes.
 */
static void run_ready(evutil_socket_t fd, short what, void *arg)
{
    struct sx_rt *rt = arg;
    lua_State *L = rt->L;
    struct sx_task *t = rt->ready_head;
    (void)fd;
    (void)what;
    rt->ready_head = rt->ready_tail = NULL;
    while (t) {
        struct sx_task *next = t->next_ready;
        lua_pushcfunction(L, resume_one);
        lua_pushlightuserdata(L, t);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            fprintf(stderr, "stockx: scheduler: %s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
            rt->failed = 1;
        }
        t = next;
    }
    /* the requests these tasks made start now, not one loop pass later */
    sx_client_flush(rt->client);
    check_deadlock(rt);
}

/* ---- waiting ---------------------------------------------------------- */

struct sx_task *sx_task_current(lua_State *L, const char *what)
{
    struct sx_rt *rt = sx_rt_get(L);
    if (!rt || !rt->current)
        luaL_error(L, "%s must be called from a task (the script's main "
                      "chunk or a function given to stockx.spawn)", what);
    if (!lua_isyieldable(L))
        luaL_error(L, "%s cannot wait here: it was called from code that "
                      "cannot yield (a metamethod such as __tostring, a "
                      "require'd chunk, a table.sort or string.gsub "
                      "callback)", what);
    return rt->current;
}

int sx_task_park(lua_State *L, lua_KFunction k, lua_KContext ctx)
{
    lua_pushlightuserdata(L, (void *)&sentinel);
    return lua_yieldk(L, 1, ctx, k);
}

static struct sx_task *check_task(lua_State *L, int i)
{
    return luaL_checkudata(L, i, TASK_MT);
}

/* Pushes a finished task's results (handle at index h), or raises its
 * error. */
static int push_outcome(lua_State *L, int h, struct sx_task *t)
{
    luaL_checkstack(L, t->nres + 1, "too many results");
    lua_getiuservalue(L, h, 1);                        /* outcome */
    int tab = lua_gettop(L);
    for (int i = 1; i <= t->nres; i++)
        lua_rawgeti(L, tab, i);
    lua_remove(L, tab);
    if (t->state == T_FAILED)
        return lua_error(L);
    return t->nres;
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    struct sx_task *t = check_task(L, 1);
    (void)status;
    (void)ctx;
    if (t->state == T_DONE || t->state == T_FAILED)
        return push_outcome(L, 1, t);
    struct sx_task *me = sx_task_current(L, "task:wait");
    if (me == t)
        return luaL_error(L, "a task cannot wait for itself");
    me->next_waiter = t->waiters;
    t->waiters = me;
    return sx_task_park(L, wait_k, 0);
}

static int task_wait(lua_State *L)
{
    lua_settop(L, 1);
    return wait_k(L, LUA_OK, 0);
}

void sx_task_on_cancel(struct sx_task *t, void (*fn)(void *), void *ud)
{
    t->cancel = fn;
    t->cancel_ud = ud;
}

int sx_task_cancelled(const struct sx_task *t) { return t->cancelled; }

/* core.cancel(task): stops the task's request; its waits fail from now. */
static int l_cancel(lua_State *L)
{
    struct sx_task *t = check_task(L, 1);
    if (t->state == T_DONE || t->state == T_FAILED)
        return 0;
    t->cancelled = 1;
    if (t->cancel) {
        void (*fn)(void *) = t->cancel;
        t->cancel = NULL;
        fn(t->cancel_ud);
    }
    return 0;
}

static int task_status(lua_State *L)
{
    static const char *const names[] = {"ready", "running", "waiting",
                                        "done", "failed"};
    lua_pushstring(L, names[check_task(L, 1)->state]);
    return 1;
}

static int task_tostring(lua_State *L)
{
    struct sx_task *t = check_task(L, 1);
    lua_pushfstring(L, "task (%p)", (void *)t);
    return 1;
}

static int task_gc(lua_State *L)
{
    struct sx_task *t = check_task(L, 1);
    if (t->sleeping) {
        event_del(&t->sleep_ev);
        t->sleeping = 0;
        t->rt->sleepers--;
    }
    return 0;
}

/* ---- spawning --------------------------------------------------------- */

void sx_task_spawn(lua_State *L, int nargs)
{
    struct sx_rt *rt = sx_rt_get(L);
    int fn = lua_gettop(L) - nargs;
    struct sx_task *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    t->rt = rt;
    t->ref = LUA_NOREF;
    luaL_setmetatable(L, TASK_MT);
    t->co = lua_newthread(L);
    lua_setiuservalue(L, -2, 1);       /* handle.uv1 = co */
    lua_insert(L, fn);                 /* handle fn args */
    lua_xmove(L, t->co, nargs + 1);    /* handle */
    t->nargs = nargs;
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rt->tasks++;
    enqueue(rt, t);
}

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    sx_task_spawn(L, lua_gettop(L) - 1);
    return 1;
}

/* join(task): its errors go to whoever waits for it, not to stderr. */
static int l_join(lua_State *L)
{
    check_task(L, 1)->joined = 1;
    lua_settop(L, 1);
    return 1;
}

static void on_sleep(evutil_socket_t fd, short what, void *arg)
{
    struct sx_task *t = arg;
    (void)fd;
    (void)what;
    t->sleeping = 0;
    t->rt->sleepers--;
    sx_task_wake(t->rt, t);
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)L;
    (void)status;
    (void)ctx;
    return 0;
}

static int l_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be >= 0");
    struct sx_task *t = sx_task_current(L, "stockx.sleep");
    if (s == 0) {
        t->wake_pending = 1; /* back of the ready queue */
    } else {
        struct timeval tv;
        tv.tv_sec = (time_t)s;
        tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
        evtimer_assign(&t->sleep_ev, t->rt->base, on_sleep, t);
        evtimer_add(&t->sleep_ev, &tv);
        t->sleeping = 1;
        t->rt->sleepers++;
    }
    return sx_task_park(L, sleep_k, 0);
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, sx_client_now());
    return 1;
}

static int l_in_task(lua_State *L)
{
    struct sx_rt *rt = sx_rt_get(L);
    lua_pushboolean(L, rt && rt->current && lua_isyieldable(L));
    return 1;
}

static const luaL_Reg task_methods[] = {
    {"wait", task_wait},
    {"status", task_status},
    {NULL, NULL}};

static const luaL_Reg task_meta[] = {
    {"__index", NULL},
    {"__tostring", task_tostring},
    {"__gc", task_gc},
    {NULL, NULL}};

static const luaL_Reg task_funcs[] = {
    {"spawn", l_spawn},
    {"join", l_join},
    {"cancel", l_cancel},
    {"sleep", l_sleep},
    {"now", l_now},
    {"in_task", l_in_task},
    {NULL, NULL}};

/* Adds the task functions to the table on top of the stack. */
void sx_task_openlib(lua_State *L)
{
    luaL_setfuncs(L, task_funcs, 0);
    lua_pushlightuserdata(L, (void *)&sentinel);
    lua_setfield(L, -2, "SENTINEL");
    luaL_newmetatable(L, TASK_MT);
    luaL_setfuncs(L, task_meta, 0);
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* ---- life cycle ------------------------------------------------------- */

struct sx_rt *sx_rt_open(lua_State *L, struct event_base *base,
                         struct sx_client *client)
{
    struct sx_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->L = L;
    rt->base = base;
    rt->client = client;
    rt->ready_ev = event_new(base, -1, 0, run_ready, rt);
    if (!rt->ready_ev) {
        free(rt);
        return NULL;
    }
    lua_pushlightuserdata(L, rt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &rt_key);
    return rt;
}

void sx_rt_close(struct sx_rt *rt)
{
    if (!rt)
        return;
    event_free(rt->ready_ev);
    free(rt);
}

int sx_rt_run(struct sx_rt *rt)
{
    rt->stop_when_idle = 1;
    if (rt->tasks > 0)
        event_base_dispatch(rt->base);
    return rt->failed ? 1 : 0;
}

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

void sx_rt_interrupt(struct sx_rt *rt)
{
    struct sx_task *t = rt->current;
    if (t && t->co)
        lua_sethook(t->co, stop_hook,
                    LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int sx_rt_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int st = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (st != LUA_OK) {
        fprintf(stderr, "stockx: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}
