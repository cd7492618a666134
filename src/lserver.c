/*
 * Module "stockx.server": listen{host=, port=, handler=} runs an HTTP
 * server (sx_server.c) in the state's event loop (sx_lserver_set_base) and
 * calls a Lua handler for every request, in protected mode; now() is a
 * monotonic clock; save_file() replaces a file atomically (--state);
 * json_decode() is ljson's strict decoder.
 */
#include "lserver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "ljson.h"
#include "sx_buf.h"
#include "sx_file.h"
#include "sx_http.h"
#include "sx_json.h"
#include "sx_limiter.h"
#include "sx_log.h"
#include "sx_server.h"

#define SERVER_MT "stockx.server"
#define MAX_DELAY 86400 /* seconds, for reply.delay and reply.chunk_delay */

/*
 * One listening server.  While open, the userdata anchors itself and its
 * handler in the registry, so a server nobody references keeps serving
 * until :close() (like a luv handle); L is the main thread, the only one
 * safe to call into from a libevent callback.
 */
struct lserver {
    struct sx_server *srv; /* NULL once closed */
    lua_State *L;
    int handler_ref;
    int self_ref;
};

/* ---- the request table ---------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Pushes s[0..n) with '+' as space and %XX decoded. */
static void push_decoded(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    size_t i;

    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            luaL_addchar(&b, ' ');
        } else if (s[i] == '%' && i + 2 < n &&
                   (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            luaL_addchar(&b, (char)(hi * 16 + lo));
            i += 2;
        } else {
            luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
}

/* Pushes a table of the decoded query parameters; repeated keys: last. */
static void push_query(lua_State *L, const char *q)
{
    lua_newtable(L);
    while (*q) {
        size_t n = strcspn(q, "&;");
        const char *eq = memchr(q, '=', n);
        size_t klen = eq ? (size_t)(eq - q) : n;
        if (n > 0) {
            push_decoded(L, q, klen);
            if (eq)
                push_decoded(L, eq + 1, n - klen - 1);
            else
                lua_pushliteral(L, "");
            lua_settable(L, -3);
        }
        q += n;
        if (*q)
            q++;
    }
}

static void push_lower(lua_State *L, const char *s)
{
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (; *s; s++)
        luaL_addchar(&b, (*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
    luaL_pushresult(&b);
}

/* Pushes {lower-case name = value}; a repeated header is joined by ", ". */
static void push_headers(lua_State *L, struct sx_server_req *req)
{
    const void *it = NULL;
    const char *name, *value;

    lua_newtable(L);
    while ((it = sx_server_req_header_next(req, it, &name, &value))) {
        push_lower(L, name);                     /* t key */
        lua_pushvalue(L, -1);                    /* t key key */
        if (lua_rawget(L, -3) == LUA_TSTRING) {  /* t key old */
            lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), value);
            lua_remove(L, -2);                   /* t key new */
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, value);            /* t key value */
        }
        lua_rawset(L, -3);
    }
}

static void push_request(lua_State *L, struct sx_server_req *req)
{
    const char *body;
    size_t len;

    lua_createtable(L, 0, 6);
    lua_pushstring(L, sx_server_req_method(req));
    lua_setfield(L, -2, "method");
    lua_pushstring(L, sx_server_req_path(req));
    lua_setfield(L, -2, "path");
    lua_pushstring(L, sx_server_req_query(req));
    lua_setfield(L, -2, "raw_query");
    push_query(L, sx_server_req_query(req));
    lua_setfield(L, -2, "query");
    push_headers(L, req);
    lua_setfield(L, -2, "headers");
    body = sx_server_req_body(req, &len);
    lua_pushlstring(L, body, len);
    lua_setfield(L, -2, "body");
}

/* ---- the reply table ------------------------------------------------ */

/* Seconds in 0..MAX_DELAY (NaN and inf rejected); 0 when absent. */
static lua_Number opt_seconds(lua_State *L, int t, const char *k)
{
    lua_Number v = 0;

    if (lua_getfield(L, t, k) != LUA_TNIL) {
        v = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || !(v >= 0 && v <= MAX_DELAY))
            luaL_error(L, "reply.%s must be seconds in 0..%d", k, MAX_DELAY);
    }
    lua_pop(L, 1);
    return v;
}

/* -1 when absent. */
static lua_Integer opt_size(lua_State *L, int t, const char *k)
{
    lua_Integer v = -1;
    int isint = 0;

    if (lua_getfield(L, t, k) != LUA_TNIL) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0)
            luaL_error(L, "reply.%s must be an integer >= 0", k);
    }
    lua_pop(L, 1);
    return v;
}

/*
 * Fills r->headers from reply.headers {name = value}.  Leaves the headers
 * table, the array (a userdata) and a table anchoring converted numbers on
 * the stack, so every pointer stays valid until the caller pops them.
 */
static void check_headers(lua_State *L, int t, struct sx_server_reply *r)
{
    struct sx_server_header *h;
    int n = 0, ht;

    if (lua_getfield(L, t, "headers") == LUA_TNIL)
        return;
    if (!lua_istable(L, -1))
        luaL_error(L, "reply.headers must be a table");
    ht = lua_gettop(L);
    for (lua_pushnil(L); lua_next(L, ht); lua_pop(L, 1))
        n++;
    h = lua_newuserdatauv(L, (size_t)n * sizeof *h + 1, 0); /* ht+1 */
    lua_newtable(L);                                          /* ht+2 */
    for (lua_pushnil(L); lua_next(L, ht); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            luaL_error(L, "reply.headers must map names to strings");
        h[r->nheaders].name = lua_tostring(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_pushvalue(L, -1);
            h[r->nheaders].value = lua_tostring(L, -1); /* converts copy */
            lua_rawseti(L, ht + 2, r->nheaders + 1);
        } else {
            h[r->nheaders].value = lua_tostring(L, -1);
        }
        r->nheaders++;
    }
    r->headers = h;
}

static void check_reply(lua_State *L, int t, struct sx_server_reply *r)
{
    lua_Integer v;

    if (!lua_istable(L, t))
        luaL_error(L, "the handler must return a reply table, not %s",
                   luaL_typename(L, t));
    v = lua_getfield(L, t, "status") == LUA_TNIL ? 200 : lua_tointeger(L, -1);
    if (v < 100 || v > 599)
        luaL_error(L, "reply.status must be an integer in 100..599");
    r->status = (int)v;
    if (lua_getfield(L, t, "body") != LUA_TNIL) {
        if (!lua_isstring(L, -1))
            luaL_error(L, "reply.body must be a string");
        r->body = lua_tolstring(L, -1, &r->len);
        lua_replace(L, t + 1); /* keep the string: it may be converted */
    }
    lua_settop(L, t + 1);
    r->delay = opt_seconds(L, t, "delay");
    r->chunk_delay = opt_seconds(L, t, "chunk_delay");
    v = opt_size(L, t, "chunk_size");
    r->chunk_size = v > 0 ? (size_t)v : 0;
    v = opt_size(L, t, "drop_after");
    r->drop = v >= 0;
    r->drop_after = v >= 0 ? (size_t)v : 0;
    lua_getfield(L, t, "stall");
    r->stall = lua_toboolean(L, -1);
    lua_pop(L, 1);
    check_headers(L, t, r);
}

/* ---- calling the handler -------------------------------------------- */

/* The traceback message handler of lua.c. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs protected: lightuserdata server, lightuserdata request. */
static int dispatch(lua_State *L)
{
    struct lserver *s = lua_touserdata(L, 1);
    struct sx_server_req *req = lua_touserdata(L, 2);
    struct sx_server_reply r;

    memset(&r, 0, sizeof r);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->handler_ref);
    push_request(L, req);
    lua_call(L, 1, 1);                      /* s req reply */
    lua_pushnil(L);                         /* s req reply body */
    check_reply(L, 3, &r);
    sx_server_respond(req, &r);
    return 0;
}

/* A handler error: log it (with its traceback) and answer 500. */
static void fail(struct sx_server_req *req, const char *msg)
{
    static const struct sx_server_header json = {"Content-Type",
                                                 "application/json"};
    struct sx_buf body;
    struct sx_server_reply r;
    struct sx_log_field f[3] = {
        {"method", sx_server_req_method(req), 0},
        {"path", sx_server_req_path(req), 0},
        {"error", msg, 0}};

    sx_log(SX_LOG_ERROR, "server.handler_error", f, 3);
    sx_buf_init(&body, 4096);
    sx_buf_addstr(&body, "{\"statusCode\":500,\"message\":\"sandbox error: ");
    sx_json_escape(&body, msg, strcspn(msg, "\n")); /* not the traceback */
    sx_buf_addstr(&body, "\"}");
    memset(&r, 0, sizeof r);
    r.status = 500;
    r.headers = &json;
    r.nheaders = 1;
    r.body = body.data;
    r.len = body.len;
    sx_server_respond(req, &r);
    sx_buf_free(&body);
}

/* Called by sx_server from a libevent callback: nothing may escape. */
static void on_request(struct sx_server_req *req, void *ud)
{
    struct lserver *s = ud;
    lua_State *L = s->L;
    int top = lua_gettop(L);
    const char *msg;

    if (!lua_checkstack(L, 4)) {
        fail(req, "Lua stack overflow");
        return;
    }
    lua_pushcfunction(L, msghandler);
    lua_pushcfunction(L, dispatch);
    lua_pushlightuserdata(L, s);
    lua_pushlightuserdata(L, req);
    if (lua_pcall(L, 2, 0, top + 1) != LUA_OK) {
        msg = lua_tostring(L, -1);
        fail(req, msg ? msg : "(no message)");
    }
    lua_settop(L, top);
}

/* ---- the server userdata -------------------------------------------- */

static struct lserver *toserver(lua_State *L)
{
    struct lserver *s = luaL_checkudata(L, 1, SERVER_MT);

    if (s->srv == NULL)
        luaL_error(L, "attempt to use a closed server");
    return s;
}

/* close, __gc and __close: idempotent. */
static int server_close(lua_State *L)
{
    struct lserver *s = luaL_checkudata(L, 1, SERVER_MT);

    if (s->srv != NULL) {
        sx_server_free(s->srv);
        s->srv = NULL;
        luaL_unref(L, LUA_REGISTRYINDEX, s->handler_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, s->self_ref);
        s->handler_ref = s->self_ref = LUA_NOREF;
    }
    return 0;
}

static int server_port(lua_State *L)
{
    lua_pushinteger(L, sx_server_port(toserver(L)->srv));
    return 1;
}

static int server_connections(lua_State *L)
{
    lua_pushinteger(L, sx_server_connections(toserver(L)->srv));
    return 1;
}

/* Requests accepted but not yet fully answered (delayed, slow, stalled). */
static int server_pending(lua_State *L)
{
    lua_pushinteger(L, sx_server_pending(toserver(L)->srv));
    return 1;
}

static int server_tostring(lua_State *L)
{
    struct lserver *s = luaL_checkudata(L, 1, SERVER_MT);

    if (s->srv == NULL)
        lua_pushliteral(L, "stockx.server (closed)");
    else
        lua_pushfstring(L, "stockx.server (port %d)", sx_server_port(s->srv));
    return 1;
}

static const char *opt_field_string(lua_State *L, const char *k,
                                    const char *def)
{
    const char *v = def;

    if (lua_getfield(L, 1, k) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 1, lua_pushfstring(L, "'%s' must be a string", k));
        v = lua_tostring(L, -1); /* anchored by the options table */
    }
    lua_pop(L, 1);
    return v;
}

static int opt_field_port(lua_State *L)
{
    lua_Integer port = 0;
    int isint = 1;

    if (lua_getfield(L, 1, "port") != LUA_TNIL)
        port = lua_tointegerx(L, -1, &isint);
    if (!isint || port < 0 || port > 65535)
        luaL_argerror(L, 1, "'port' must be an integer in 0..65535");
    lua_pop(L, 1);
    return (int)port;
}

/* The event loop servers run in: sx_lserver_set_base() puts it here. */
static const char base_key = 'b';

void sx_lserver_set_base(lua_State *L, struct event_base *base)
{
    lua_pushlightuserdata(L, base);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &base_key);
}

static struct event_base *get_base(lua_State *L)
{
    struct event_base *base;

    lua_rawgetp(L, LUA_REGISTRYINDEX, &base_key);
    base = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (base == NULL)
        luaL_error(L, "stockx.server: this Lua state has no event loop");
    return base;
}

/*
 * listen{host="127.0.0.1", port=0, handler=function(req) return reply end}
 * -> server, or nil, message when the address cannot be bound.
 */
static int l_listen(lua_State *L)
{
    const char *host;
    int port;
    struct lserver *s;
    char err[256];
    struct event_base *base = get_base(L);

    luaL_checktype(L, 1, LUA_TTABLE);
    host = opt_field_string(L, "host", "127.0.0.1");
    port = opt_field_port(L);
    if (lua_getfield(L, 1, "handler") != LUA_TFUNCTION)
        luaL_argerror(L, 1, "'handler' must be a function");
    s = lua_newuserdatauv(L, sizeof *s, 0);       /* opts handler ud */
    s->srv = NULL;
    s->handler_ref = s->self_ref = LUA_NOREF;
    luaL_setmetatable(L, SERVER_MT);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    s->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    s->srv = sx_server_new(base, host, port, on_request, s, err,
                           sizeof err);
    if (s->srv == NULL) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushvalue(L, -2);
    s->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1);
    s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* ---- saving files ----------------------------------------------------- */

/* Writes s[0..n) to fd; 0, or -1 with errno set. */
/*
 * save_file(path, data) -> true, or nil, message, errno (as io.open).
 * Replaces path atomically: data goes to a new file next to it whose name
 * mkstemp makes unpredictable and creates exclusively (so a planted
 * symlink is never followed), mode 0600, fsync'ed, then renamed over path.
 * On failure the temporary file is removed and path is left as it was.
 */
int sx_lserver_save_file(lua_State *L)
{
    size_t n;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &n);
    if (sx_file_replace(path, data, n) < 0)
        return luaL_fileresult(L, 0, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* now() -> seconds (float) on a monotonic clock, for durations only. */
static int l_now(lua_State *L)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static const luaL_Reg methods[] = {
    {"port", server_port},
    {"connections", server_connections},
    {"pending", server_pending},
    {"close", server_close},
    {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
    {"__index", NULL}, /* set to the methods table below */
    {"__gc", server_close},
    {"__close", server_close},
    {"__tostring", server_tostring},
    {NULL, NULL}
};

static void createmeta(lua_State *L)
{
    if (luaL_newmetatable(L, SERVER_MT)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* reason(status) -> "Too Many Requests" | nil (src/sx_http.c) */
static int l_reason(lua_State *L)
{
    lua_Integer st = luaL_checkinteger(L, 1);
    lua_pushstring(L, st >= 0 && st < 1000 ? sx_http_reason((int)st) : NULL);
    return 1;
}

/* parse_rate("10/1s") -> rate, period | nil, message (src/sx_limiter.c) */
static int l_parse_rate(lua_State *L)
{
    char err[200];
    double rate, period;
    if (sx_limiter_parse_rate(luaL_checkstring(L, 1), &rate, &period, err,
                              sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushnumber(L, rate);
    lua_pushnumber(L, period);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"listen", l_listen},
    {"reason", l_reason},
    {"parse_rate", l_parse_rate},
    {"now", l_now},
    {"save_file", sx_lserver_save_file},
    {NULL, NULL}
};

int luaopen_stockx_server(lua_State *L)
{
    createmeta(L);
    luaL_newlib(L, funcs);
    sx_ljson_openlib(L); /* json_decode, for the sandbox's own JSON module */
    return 1;
}
