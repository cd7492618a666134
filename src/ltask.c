/*
 * Tasks: Lua coroutines resumed by the runtime's loop (see ltask.h).  A
 * waiting C function yields a sentinel; user coroutines (coroutine.wrap,
 * coroutine.resume, replaced in lua/stockx.lua) pass that yield up to the
 * task, as cqueues' auxlib does, so waits work inside generators too.
 * Ready tasks are resumed from one event callback, each in its own
 * protected call, never from inside curl or an I/O callback.  A task that
 * ends with an error or is cancelled has its thread reset, so its <close>
 * variables run.
 */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lstockx.h"
#include "ltask.h"
#include "sx_list.h"
#include "sx_time.h"

#define TASK_MT "stockx.task"
#define SCHED_MT "stockx.sched"

enum task_state { T_READY, T_RUNNING, T_PARKED, T_DONE, T_FAILED,
                  T_CANCELLED };

/* The scheduler of one Lua state: the ready queue and the sleepers. */
struct sx_sched {
    struct sx_rt *rt;
    struct event *ready_ev;  /* runs the ready queue */
    struct sx_task *ready_head, *ready_tail;
    struct sx_task *current; /* the task being resumed, or NULL */
    long sleepers;           /* tasks in stockx.sleep */
    struct sx_list live;     /* every task not finished yet */
    struct sx_rt_source source;
};

struct sx_task {
    struct sx_sched *s;
    lua_State *co;
    int ref;                 /* anchors the handle while the task lives */
    enum task_state state;
    int nargs;               /* arguments for the first resume */
    int started;
    int wake_pending;        /* woken while it was running */
    int joined;              /* a waiter takes its error: don't report */
    struct sx_task *next_ready;
    struct sx_task *waiters; /* tasks waiting for this one */
    struct sx_task *next_waiter;
    struct sx_task *waiting_for; /* the task this one waits for */
    struct event sleep_ev;
    int sleeping;
    int nres;
    int cancelled;
    void (*cancel)(void *);  /* stops the current wait */
    void *cancel_ud;
    struct sx_list node;     /* on s->live while it lives */
};

static const char sched_key = 'T';
static const char sentinel = 'S';

static struct sx_sched *get_sched(lua_State *L)
{
    struct sx_sched *s;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sched_key);
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

static void enqueue(struct sx_sched *s, struct sx_task *t)
{
    t->state = T_READY;
    t->next_ready = NULL;
    if (s->ready_tail)
        s->ready_tail->next_ready = t;
    else
        s->ready_head = t;
    s->ready_tail = t;
    /*
     * A zero timer, not event_active: libevent runs events activated
     * during a callback in the same round, so a task that keeps yielding
     * (stockx.sleep(0) in a loop) would starve every timer and socket.
     * A timer waits for the loop's next iteration, after the poll.
     */
    if (!evtimer_pending(s->ready_ev, NULL)) {
        static const struct timeval now = {0, 0};
        evtimer_add(s->ready_ev, &now);
    }
}

void sx_task_wake(struct sx_task *t)
{
    if (t->state == T_RUNNING)
        t->wake_pending = 1;
    else if (t->state == T_PARKED)
        enqueue(t->s, t);
}

static int finished(const struct sx_task *t)
{
    return t->state == T_DONE || t->state == T_FAILED ||
           t->state == T_CANCELLED;
}

/* ---- finishing -------------------------------------------------------- */

/*
 * An uncaught error: reported with its traceback, the run fails (but not
 * for the REPL's foreground chunk, whose errors are the user's answers).
 */
static void report(lua_State *L, struct sx_task *t)
{
    if (t->co != t->s->rt->foreground)
        t->s->rt->failed = 1;
    sx_rt_report(L, t->co);
}

/* [-0, +1] t's cancellation error value. */
static void push_cancelled(lua_State *L, struct sx_task *t)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);        /* handle */
    lua_getiuservalue(L, -1, 2);                       /* handle reason */
    const char *reason = lua_tostring(L, -1);
    sx_lstockx_push_error(L, "cancelled", reason ? reason
                          : "the task was cancelled", NULL, NULL, 0);
    lua_replace(L, -3);
    lua_pop(L, 1);
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
    int n = t->state == T_DONE ? t->nres : 1;
    luaL_checkstack(L, 3, NULL);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);        /* handle */
    lua_createtable(L, n, 0);                          /* handle outcome */
    if (t->state == T_CANCELLED) {
        push_cancelled(L, t);
        lua_rawseti(L, -2, 1);
    } else {
        for (int i = 0; i < n; i++) {
            lua_pushvalue(t->co, top - n + 1 + i);
            lua_xmove(t->co, L, 1);
            lua_rawseti(L, -2, i + 1);
        }
    }
    t->nres = n;
    lua_setiuservalue(L, -2, 1);                       /* handle */
    lua_pop(L, 1);
}

/* Runs the <close> variables a failed or cancelled task left pending. */
static void close_thread(lua_State *L, struct sx_task *t)
{
    int failed = lua_status(t->co) != LUA_OK && lua_status(t->co) !=
                                                 LUA_YIELD;
    sx_rt_clear_interrupt(t->co);
    lua_pushnil(L);
    if (failed) { /* the error that ended it, to tell it from a new one */
        lua_pushvalue(t->co, -1);
        lua_xmove(t->co, L, 1);
        lua_replace(L, -2);
    }
    if (lua_resetthread(t->co) != LUA_OK) {
        lua_xmove(t->co, L, 1);
        if (!lua_rawequal(L, -1, -2)) {
            fprintf(stderr, "stockx: error in a <close> handler: %s\n",
                    luaL_tolstring(L, -1, NULL));
            lua_pop(L, 1);
            t->s->rt->failed = 1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void finish(lua_State *L, struct sx_task *t, enum task_state st)
{
    struct sx_sched *s = t->s;
    if (sx_rt_stopping(s->rt, t->co))
        t->cancelled = 1; /* interrupted: never reported as a failure */
    t->state = t->cancelled ? T_CANCELLED : st;
    if (t->state == T_FAILED && !t->joined && !t->waiters)
        report(L, t);
    for (struct sx_task *w = t->waiters, *n; w; w = n) {
        n = w->next_waiter;
        w->next_waiter = NULL;
        w->waiting_for = NULL;
        sx_task_wake(w);
    }
    t->waiters = NULL;
    sx_list_remove(&t->node);
    keep_outcome(L, t);
    if (t->state != T_DONE)
        close_thread(L, t);
    if (s->rt->foreground == t->co) {
        s->rt->foreground = NULL;
        s->rt->stopping = 0;
    }
    t->co = NULL;
    sx_rt_task_ended(s->rt);
    /* last: the handle may be collected from here on */
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
}

/* [-0, +0] Resumes one task (argument 1, light userdata). */
static int resume_one(lua_State *L)
{
    struct sx_task *t = lua_touserdata(L, 1);
    struct sx_sched *s = t->s;
    int nres, nargs = t->nargs;
    if (t->cancelled && !t->started) {
        finish(L, t, T_CANCELLED); /* never ran: nothing to unwind */
        return 0;
    }
    t->nargs = 0;
    t->started = 1;
    t->state = T_RUNNING;
    s->current = t;
    sx_rt_push_running(s->rt, t->co);
    int st = lua_resume(t->co, L, nargs, &nres);
    sx_rt_pop_running(s->rt);
    s->current = NULL;
    if (st == LUA_YIELD) {
        int parked = nres >= 1 &&
                     lua_touserdata(t->co, -nres) == (void *)&sentinel;
        lua_pop(t->co, nres);
        if (!parked && sx_rt_stopping(s->rt, t->co)) {
            /* the interrupted foreground, yielding from its hook: closed
             * where it is (a wait instead is cancelled, so that its
             * continuation releases what it holds) */
            finish(L, t, T_CANCELLED);
        } else if (parked && !t->wake_pending) {
            t->state = T_PARKED;
        } else {
            t->wake_pending = 0;
            enqueue(s, t); /* a plain yield lets the others run */
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
 * Runs the tasks that were ready when the pass began; tasks woken meanwhile
 * wait for the next pass, so I/O is polled between passes.
 */
static void run_ready(evutil_socket_t fd, short what, void *arg)
{
    struct sx_sched *s = arg;
    lua_State *L = s->rt->L;
    struct sx_task *t = s->ready_head;
    (void)fd;
    (void)what;
    s->ready_head = s->ready_tail = NULL;
    while (t) {
        struct sx_task *next = t->next_ready;
        lua_pushcfunction(L, resume_one);
        lua_pushlightuserdata(L, t);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            fprintf(stderr, "stockx: scheduler: %s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
            s->rt->failed = 1;
        }
        t = next;
    }
    sx_rt_after_pass(s->rt, s->ready_head == NULL);
}

/* The source of wake-ups the tasks themselves hold: sleeps. */
static long sched_pending(void *ud)
{
    struct sx_sched *s = ud;
    return s->sleepers + (s->ready_head != NULL);
}

/* ---- waiting ---------------------------------------------------------- */

int sx_task_raise_cancelled(lua_State *L, struct sx_task *t)
{
    push_cancelled(L, t);
    return lua_error(L);
}

struct sx_task *sx_task_current(lua_State *L, const char *what)
{
    struct sx_sched *s = get_sched(L);
    if (!s || !s->current)
        luaL_error(L, "%s must be called from a task (the script's main "
                      "chunk or a function given to stockx.spawn)", what);
    if (!lua_isyieldable(L))
        luaL_error(L, "%s cannot wait here: it was called from code that "
                      "cannot yield (a metamethod such as __tostring, a "
                      "require'd chunk, a table.sort or string.gsub "
                      "callback)", what);
    if (s->current->cancelled)
        sx_task_raise_cancelled(L, s->current);
    return s->current;
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
    if (t->state != T_DONE)
        return lua_error(L);
    return t->nres;
}

/* Takes me off the waiter list of the task it waits for. */
static void unlink_waiter(struct sx_task *me)
{
    struct sx_task *t = me->waiting_for, **p;
    if (!t)
        return;
    for (p = &t->waiters; *p; p = &(*p)->next_waiter) {
        if (*p == me) {
            *p = me->next_waiter;
            break;
        }
    }
    me->next_waiter = NULL;
    me->waiting_for = NULL;
}

static void cancel_wait(void *ud)
{
    struct sx_task *me = ud;
    unlink_waiter(me);
    sx_task_wake(me);
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    struct sx_task *t = check_task(L, 1);
    (void)status;
    (void)ctx;
    if (finished(t))
        return push_outcome(L, 1, t);
    struct sx_task *me = sx_task_current(L, "task:wait");
    if (me == t)
        return luaL_error(L, "a task cannot wait for itself");
    me->next_waiter = t->waiters;
    me->waiting_for = t;
    t->waiters = me;
    sx_task_on_cancel(me, cancel_wait, me);
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

static void stop_sleep(struct sx_task *t)
{
    if (t->sleeping) {
        event_del(&t->sleep_ev);
        t->sleeping = 0;
        t->s->sleepers--;
    }
}

static int cancel_argerror(lua_State *L)
{
    return sx_lstockx_error(L, "bad argument #1 'reason' to 'task:cancel' "
                            "(string expected, got %s)", luaL_typename(L, 2));
}

/*
 * task:cancel([reason]) (also core.cancel): the task's current wait ends
 * at once (a request is abandoned, a sleep cut short) and raises an error
 * value of kind "cancelled"; so does every later wait.  A finished task
 * is left as it is.
 */
/* Cancels t (its handle on top of L's stack, popped) with the reason
 * at index r, or none if r is 0. */
static void cancel(lua_State *L, struct sx_task *t, int r)
{
    if (r) {
        lua_pushvalue(L, r);
        lua_setiuservalue(L, -2, 2);
    }
    lua_pop(L, 1);
    t->cancelled = 1;
    stop_sleep(t);
    if (t->cancel) {
        void (*fn)(void *) = t->cancel;
        t->cancel = NULL;
        fn(t->cancel_ud);
    }
    if (t->state == T_PARKED)
        sx_task_wake(t);
}

static int l_cancel(lua_State *L)
{
    struct sx_task *t = check_task(L, 1);
    if (finished(t) || t->cancelled)
        return 0;
    if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TSTRING)
        return cancel_argerror(L);
    lua_settop(L, 2);
    lua_pushvalue(L, 1);
    cancel(L, t, lua_isnil(L, 2) ? 0 : 2);
    return 0;
}

/* [-0, +0] Cancels every live task, with the reason on top (popped). */
static int cancel_all(lua_State *L)
{
    struct sx_sched *s = get_sched(L);
    struct sx_list *it, *tmp;
    int r = lua_gettop(L);
    sx_list_foreach_safe(&s->live, it, tmp) {
        struct sx_task *t = sx_list_entry(it, struct sx_task, node);
        if (t->cancelled)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
        cancel(L, t, r);
    }
    return 0;
}

int sx_task_cancel_all(lua_State *L, const char *reason)
{
    lua_pushcfunction(L, cancel_all);
    lua_pushstring(L, reason);
    return sx_rt_pcall(L, 1, 0);
}

lua_State *sx_task_thread(lua_State *L, int idx)
{
    struct sx_task *t = luaL_testudata(L, idx, TASK_MT);
    return t && !finished(t) ? t->co : NULL;
}

static int task_status(lua_State *L)
{
    static const char *const names[] = {"ready", "running", "waiting",
                                        "done", "failed", "cancelled"};
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
    stop_sleep(check_task(L, 1));
    return 0;
}

/* ---- spawning --------------------------------------------------------- */

void sx_task_spawn(lua_State *L, int nargs)
{
    struct sx_sched *s = get_sched(L);
    int fn = lua_gettop(L) - nargs;
    struct sx_task *t = lua_newuserdatauv(L, sizeof *t, 2);
    memset(t, 0, sizeof *t);
    t->s = s;
    t->ref = LUA_NOREF;
    sx_list_init(&t->node);
    luaL_setmetatable(L, TASK_MT);
    t->co = lua_newthread(L);
    lua_setiuservalue(L, -2, 1);       /* handle.uv1 = co */
    lua_insert(L, fn);                 /* handle fn args */
    lua_xmove(L, t->co, nargs + 1);    /* handle */
    t->nargs = nargs;
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->rt->tasks++;
    sx_list_push_back(&s->live, &t->node);
    enqueue(s, t);
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
    t->s->sleepers--;
    sx_task_wake(t);
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
    struct sx_task *t = (struct sx_task *)ctx;
    (void)status;
    if (t->cancelled)
        return sx_task_raise_cancelled(L, t);
    return 0;
}

static int sleep_error(lua_State *L, const char *detail)
{
    return sx_lstockx_error(L, "bad argument #1 'seconds' to 'stockx.sleep' "
                            "(%s)", detail);
}

static int l_sleep(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TNUMBER)
        return sleep_error(L, lua_isnoneornil(L, 1) ? "number expected, "
                           "got no value" : "number expected");
    double secs = lua_tonumber(L, 1);
    if (!(secs >= 0 && secs <= SX_TIME_MAX))
        return sleep_error(L, "must be between 0 and 1e8");
    struct sx_task *t = sx_task_current(L, "stockx.sleep");
    if (secs == 0) {
        t->wake_pending = 1; /* back of the ready queue */
    } else {
        struct timeval tv = sx_time_tv(secs);
        evtimer_assign(&t->sleep_ev, t->s->rt->base, on_sleep, t);
        evtimer_add(&t->sleep_ev, &tv);
        t->sleeping = 1;
        t->s->sleepers++;
    }
    return sx_task_park(L, sleep_k, (lua_KContext)t);
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, sx_time_now());
    return 1;
}

static int l_in_task(lua_State *L)
{
    struct sx_sched *s = get_sched(L);
    lua_pushboolean(L, s && s->current && lua_isyieldable(L));
    return 1;
}

static const luaL_Reg task_methods[] = {
    {"wait", task_wait},
    {"status", task_status},
    {"cancel", l_cancel},
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

static int sched_gc(lua_State *L)
{
    struct sx_sched *s = lua_touserdata(L, 1);
    if (s->ready_ev)
        event_free(s->ready_ev);
    s->ready_ev = NULL;
    return 0;
}

/* The scheduler, created once per state and anchored in the registry. */
static void open_sched(lua_State *L)
{
    struct sx_rt *rt = sx_rt_get(L);
    if (get_sched(L))
        return;
    if (!rt)
        luaL_error(L, "stockx.core: no runtime in this Lua state");
    struct sx_sched *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_newmetatable(L, SCHED_MT);
    lua_pushcfunction(L, sched_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    s->rt = rt;
    sx_list_init(&s->live);
    if (!(s->ready_ev = event_new(rt->base, -1, 0, run_ready, s)))
        luaL_error(L, "stockx.core: out of memory");
    s->source.name = "tasks";
    s->source.pending = sched_pending;
    s->source.ud = s;
    sx_rt_add_source(rt, &s->source);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sched_key);
}

/* Adds the task functions to the table on top of the stack. */
void sx_task_openlib(lua_State *L)
{
    open_sched(L);
    luaL_setfuncs(L, task_funcs, 0);
    lua_pushlightuserdata(L, (void *)&sentinel);
    lua_setfield(L, -2, "SENTINEL");
    luaL_newmetatable(L, TASK_MT);
    luaL_setfuncs(L, task_meta, 0);
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
