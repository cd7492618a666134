/*
 * The runtime (see lrt.h).  It is found through the registry; the loop
 * stops when the last task ends (sx_rt_task_ended) or when a deadlock is
 * found, and every protected call goes through one message handler.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrt.h"
#include "ltask.h"
#include "sx_log.h"

static const char rt_key = 'R';

struct sx_rt *sx_rt_open(lua_State *L, struct event_base *base,
                         struct sx_client *client)
{
    struct sx_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->L = L;
    rt->base = base;
    rt->client = client;
    rt->shutdown_ref = LUA_NOREF;
    lua_pushlightuserdata(L, rt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &rt_key);
    return rt;
}

void sx_rt_close(struct sx_rt *rt)
{
    free(rt);
}

struct sx_rt *sx_rt_get(lua_State *L)
{
    struct sx_rt *rt;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &rt_key);
    rt = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return rt;
}

void sx_rt_add_source(struct sx_rt *rt, struct sx_rt_source *src)
{
    src->next = rt->sources;
    rt->sources = src;
}

int sx_rt_run(struct sx_rt *rt)
{
    rt->stop_when_idle = 1;
    if (rt->tasks > 0)
        event_base_dispatch(rt->base);
    return rt->failed ? 1 : 0;
}

void sx_rt_task_ended(struct sx_rt *rt)
{
    rt->tasks--;
    if (rt->tasks == 0 && rt->stop_when_idle)
        event_base_loopbreak(rt->base);
}

void sx_rt_after_pass(struct sx_rt *rt, int idle)
{
    for (struct sx_rt_source *s = rt->sources; s; s = s->next)
        if (s->after_pass)
            s->after_pass(s->ud);
    if (!idle || rt->tasks == 0)
        return;
    for (struct sx_rt_source *s = rt->sources; s; s = s->next)
        if (s->pending(s->ud) > 0)
            return;
    sx_log_erase_line(stderr);
    fprintf(stderr, "stockx: %ld task(s) are waiting for something that "
                    "can no longer happen (deadlock)\n", rt->tasks);
    rt->failed = 1;
    rt->deadlock = 1;
    event_base_loopbreak(rt->base);
}

/* ---- interrupts --------------------------------------------------------- */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luaL_error(L, "interrupted!");
}

static void set_stop_hook(lua_State *co)
{
    lua_sethook(co, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* The foreground's hook (see lrt.h): yield to the scheduler, or raise. */
static void kill_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (lua_isyieldable(L)) {
        lua_yield(L, 0);
        return;
    }
    luaL_error(L, "interrupted!");
}

static void set_kill_hook(lua_State *co)
{
    lua_sethook(co, kill_hook, LUA_MASKCOUNT, SX_RT_GRACE);
}

void sx_rt_push_running(struct sx_rt *rt, lua_State *co)
{
    if (rt->nrunning < SX_RT_NEST)
        rt->running[rt->nrunning] = co;
    rt->nrunning++;
    if (rt->interrupted)
        set_stop_hook(co);
    else if (rt->stopping && rt->running[0] == rt->foreground)
        set_kill_hook(co);
}

void sx_rt_pop_running(struct sx_rt *rt)
{
    rt->nrunning--;
}

void sx_rt_interrupt_busy(struct sx_rt *rt)
{
    int n = rt->nrunning < SX_RT_NEST ? rt->nrunning : SX_RT_NEST;
    for (int i = 0; i < n; i++)
        set_stop_hook(rt->running[i]);
}

void sx_rt_interrupt(struct sx_rt *rt)
{
    rt->interrupted = 1;
    sx_rt_interrupt_busy(rt);
}

void sx_rt_clear_interrupt(lua_State *co)
{
    lua_sethook(co, NULL, 0, 0);
}

void sx_rt_set_shutdown(lua_State *L, int idx)
{
    struct sx_rt *rt = sx_rt_get(L);
    lua_pushvalue(L, idx);
    if (rt->shutdown_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, rt->shutdown_ref);
    rt->shutdown_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rt->graceful = 1;
    signal(SIGHUP, SIG_IGN); /* a scheduled process outlives its terminal */
}

static int spawn_shutdown(lua_State *L)
{
    struct sx_rt *rt = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->shutdown_ref);
    sx_task_spawn(L, 0);
    return 0;
}

int sx_rt_shutdown(struct sx_rt *rt)
{
    if (rt->shutdown_ref == LUA_NOREF)
        return -1;
    lua_pushcfunction(rt->L, spawn_shutdown);
    lua_pushlightuserdata(rt->L, rt);
    return sx_rt_pcall(rt->L, 1, 0);
}

int sx_rt_interrupt_foreground(struct sx_rt *rt)
{
    int n = rt->nrunning < SX_RT_NEST ? rt->nrunning : SX_RT_NEST;
    if (!rt->foreground)
        return 0;
    rt->stopping = 1;
    if (n > 0 && rt->running[0] == rt->foreground)
        for (int i = 0; i < n; i++)
            set_kill_hook(rt->running[i]);
    return 1;
}

int sx_rt_stopping(const struct sx_rt *rt, const lua_State *co)
{
    return rt->stopping && co && co == rt->foreground;
}

/*
 * core.resume(co, ...) -> true, ... | false, err: coroutine.resume, with
 * co recorded as running so that Ctrl-C stops Lua code busy inside it.
 */
static int l_resume(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    int nres, nargs = lua_gettop(L) - 1;
    luaL_argexpected(L, co, 1, "coroutine");
    if (co == L || (lua_status(co) == LUA_OK && lua_gettop(co) == 0)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, co == L ? "cannot resume non-suspended coroutine"
                                  : "cannot resume dead coroutine");
        return 2;
    }
    if (!lua_checkstack(co, nargs)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "too many arguments to resume");
        return 2;
    }
    lua_xmove(L, co, nargs);
    struct sx_rt *rt = sx_rt_get(L);
    sx_rt_push_running(rt, co);
    int st = lua_resume(co, L, nargs, &nres);
    sx_rt_pop_running(rt);
    if (st != LUA_OK && st != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_xmove(co, L, 1);
        return 2;
    }
    if (!lua_checkstack(L, nres + 1)) {
        lua_pop(co, nres);
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "too many results to resume");
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_xmove(co, L, nres);
    return nres + 1;
}

void sx_rt_openlib(lua_State *L)
{
    lua_pushcfunction(L, l_resume);
    lua_setfield(L, -2, "resume");
}

/* ---- errors ------------------------------------------------------------- */

/*
 * Where every uncaught error ends: on stderr as lua prints it, or, when
 * logs are JSON, as one event with the error and its traceback apart.
 */
static void print_error(const char *event, const char *msg,
                        const char *traceback)
{
    if (sx_log_json()) {
        struct sx_log_field f[] = {{"error", msg, 0},
                                   {"traceback", traceback, 0}};
        sx_log(SX_LOG_ERROR, event, f, 2);
        return;
    }
    /* one write, through the log's writer: a prompt is moved aside */
    sx_log_erase_line(stderr);
    size_t n = strlen(msg) + strlen(traceback) + 10;
    char *text = malloc(n);
    if (!text) {
        fprintf(stderr, "stockx: %s\n%s\n", msg, traceback);
        fflush(stderr);
        return;
    }
    snprintf(text, n, "stockx: %s\n%s\n", msg, traceback);
    sx_log_write(stderr, text, strlen(text));
    free(text);
}

/* [-0, +0] argument 1: the thread that failed, its error value on top. */
static int report_thread(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1);
    const char *msg = luaL_tolstring(L, -1, NULL);
    luaL_traceback(L, co, NULL, 0);
    print_error("task.error", msg, lua_tostring(L, -1));
    return 0;
}

void sx_rt_report(lua_State *L, lua_State *co)
{
    lua_pushcfunction(L, report_thread);
    lua_pushthread(co);
    lua_xmove(co, L, 1);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "stockx: a task failed (its error could not be "
                        "printed)\n");
        lua_pop(L, 1);
    }
}

/*
 * The message handler: the error as a string, then (after a newline) its
 * traceback, so sx_rt_pcall can print them apart.
 */
int sx_rt_msghandler(lua_State *L)
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
    lua_pushcfunction(L, sx_rt_msghandler);
    lua_insert(L, base);
    int st = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (st != LUA_OK) {
        const char *all = lua_tostring(L, -1), *nl = strchr(all, '\n');
        lua_pushlstring(L, all, nl ? (size_t)(nl - all) : strlen(all));
        print_error("error", lua_tostring(L, -1), nl ? nl + 1 : "");
        lua_pop(L, 2);
        return -1;
    }
    return 0;
}
