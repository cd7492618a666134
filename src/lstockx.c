/*
 * stockx.core (see lstockx.h): assembles the module from the request,
 * settings, task and JSON bindings, and holds what they share: error
 * values, argument errors at the user's line, query encoding, stats,
 * logging, versions, and what progress lines need of the terminal.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lconfig.h"
#include "lcron.h"
#include "ljson.h"
#include "lrequest.h"
#include "lserver.h"
#include "lstockx.h"
#include "version.h" /* SX_VERSION, written by the Makefile */
#include "ltask.h"
#include "sx_buf.h"
#include "sx_file.h"
#include "sx_client.h"
#include "sx_http.h"
#include "sx_log.h"
#include "sx_time.h"
#include "sx_url.h"

#define QUERY_MAX ((size_t)1 << 20)

static const char errmt_key = 'E';

/* ---- error values and argument errors --------------------------------- */

void sx_lstockx_push_error(lua_State *L, const char *kind, const char *msg,
                           const char *method, const char *url,
                           int attempts)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, url);
    lua_setfield(L, -2, "url");
    lua_pushinteger(L, attempts);
    lua_setfield(L, -2, "attempts");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &errmt_key);
    lua_setmetatable(L, -2);
}

static int l_set_error_mt(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &errmt_key);
    return 0;
}

/* 1 if the chunk is part of the stockx library (embedded lua/stockx*). */
static int library_source(const char *src)
{
    return strncmp(src, "@lua/stockx.lua", 15) == 0 ||
           strncmp(src, "@lua/stockx/", 12) == 0;
}

void sx_lstockx_where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0 && !library_source(ar.source)) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "");
}

int sx_lstockx_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    sx_lstockx_where(L);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

int sx_lstockx_vargerror(lua_State *L, const char *fname, const char *name,
                         const char *fmt, va_list ap)
{
    char detail[400];
    vsnprintf(detail, sizeof detail, fmt, ap);
    if (name)
        return sx_lstockx_error(L, "bad argument '%s' to '%s' (%s)", name,
                                fname, detail);
    return sx_lstockx_error(L, "%s: %s", fname, detail);
}

/* core.where() -> "file:line: " of the user's code, for lua/stockx.lua */
static int l_where(lua_State *L)
{
    sx_lstockx_where(L);
    return 1;
}

/* ---- stats ------------------------------------------------------------ */

static void set_int(lua_State *L, const char *k, long v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

/* The shared limiter's fields of stats(); quota_* nil without a quota. */
static void push_quota(lua_State *L, struct sx_client *c)
{
    struct sx_quota q;
    char day[16];
    time_t t;
    struct tm tm;
    sx_client_quota(c, &q);
    lua_pushboolean(L, q.shared);
    lua_setfield(L, -2, "shared");
    lua_pushstring(L, q.path); /* nil when not shared */
    lua_setfield(L, -2, "rate_state");
    lua_pushstring(L, q.error);
    lua_setfield(L, -2, "share_error");
    lua_pushstring(L, q.shared ? q.backend ? q.backend : "host" : NULL);
    lua_setfield(L, -2, "rate_backend");
    if (q.backend) {
        lua_pushboolean(L, q.fallback);
        lua_setfield(L, -2, "rate_fallback");
    }
    t = (time_t)q.day * 86400;
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    lua_pushstring(L, day);
    lua_setfield(L, -2, "quota_day");
    set_num(L, "quota_reset", q.reset);
    if (q.shared)
        set_int(L, "quota_used", q.used);
    if (q.limit >= 0)
        set_int(L, "quota", q.limit);
    if (q.shared && q.left >= 0)
        set_int(L, "quota_left", q.left);
}

/* stats().breakers: {[origin] = {state=, calls=, failures=, ...}} */
static void push_breakers(lua_State *L, struct sx_client *c)
{
    struct sx_breaker_stats b[32];
    int n = sx_client_breakers(c, b, 32);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 7);
        lua_pushstring(L, b[i].state);
        lua_setfield(L, -2, "state");
        set_int(L, "calls", b[i].calls);
        set_int(L, "failures", b[i].failures);
        set_int(L, "in_a_row", b[i].in_a_row);
        set_int(L, "trips", b[i].trips);
        set_num(L, "retry_in", b[i].retry_in);
        if (b[i].budget >= 0)
            set_int(L, "budget", b[i].budget);
        lua_setfield(L, -2, b[i].origin);
    }
    lua_setfield(L, -2, "breakers");
}

static int l_stats(lua_State *L)
{
    struct sx_stats st;
    sx_client_stats(sx_rt_get(L)->client, &st);
    lua_createtable(L, 0, 14);
    set_int(L, "requests", st.requests);
    set_int(L, "attempts", st.attempts);
    set_int(L, "connections", st.connections);
    set_int(L, "retries", st.retries);
    lua_createtable(L, 0, SX_RR_COUNT);
    for (int i = 0; i < SX_RR_COUNT; i++) {
        lua_pushinteger(L, st.retries_by[i]);
        lua_setfield(L, -2, sx_client_retry_reason(i));
    }
    lua_setfield(L, -2, "retries_by");
    set_int(L, "status_429", st.status_429);
    set_int(L, "in_flight", st.in_flight);
    set_int(L, "queued", st.queued);
    set_int(L, "sockets", st.sockets);
    set_int(L, "failed", st.failed);
    set_int(L, "pending", st.pending);
    set_int(L, "circuit_open", st.circuit_open);
    set_int(L, "budget_refused", st.budget_refused);
    push_breakers(L, sx_rt_get(L)->client);
    set_int(L, "tasks", sx_rt_get(L)->tasks);
    set_num(L, "limiter_wait", st.limiter_wait);
    set_num(L, "pause_left", st.pause_left);
    if (st.rate_learned >= 0)
        set_num(L, "rate_learned", st.rate_learned);
    push_quota(L, sx_rt_get(L)->client);
    return 1;
}

/* ---- the terminal, for progress lines (lua/stockx/progress.lua) -------- */

/*
 * core.term(fd) -> is_a_terminal, columns: columns from TIOCGWINSZ, or
 * nil when fd is not a terminal or its size is unknown (a pty of size 0).
 */
static int l_term(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    struct winsize ws;
    int tty = fd >= 0 && fd <= 1024 && isatty((int)fd);
    lua_pushboolean(L, tty);
    if (tty && ioctl((int)fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        lua_pushinteger(L, ws.ws_col);
    else
        lua_pushnil(L);
    return 2;
}

/*
 * core.log_erase(on): while a progress line may be showing on stderr, the
 * log's lines start by erasing it (sx_log_set_erase), so a warning never
 * ends up glued to the line's end.
 */
static int l_log_erase(lua_State *L)
{
    sx_log_set_erase(lua_toboolean(L, 1));
    return 0;
}

/* ---- sorted keys -------------------------------------------------------- */

/* Raises "file:line: stockx: msg" at the user's line. */
static int user_error(lua_State *L, const char *msg)
{
    return sx_lstockx_error(L, "stockx: %s", msg);
}


static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * [-0, +1] The string keys of table t, sorted: pointers in a userdata
 * whose user value is a table holding the strings, so they stay alive
 * whatever happens to t meanwhile (a __tostring may empty it).
 */
static int sorted_keys(lua_State *L, int t, const char ***out)
{
    int n = 0;
    lua_newtable(L);                                  /* strs */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *k = lua_tolstring(L, -1, &len);
            if (memchr(k, '\0', len))
                user_error(L, "a key contains a NUL byte");
            lua_pushvalue(L, -1);
            lua_rawseti(L, -3, ++n);
        }
    }
    const char **keys = lua_newuserdatauv(L, sizeof *keys * (size_t)(n + 1),
                                          1);        /* strs keys */
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -2, i + 1);
        keys[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lua_insert(L, -2);                                /* keys strs */
    lua_setiuservalue(L, -2, 1);                      /* keys */
    qsort(keys, (size_t)n, sizeof *keys, key_cmp);
    *out = keys;
    return n;
}

/* ---- query encoding ----------------------------------------------------- */

static int buf_gc(lua_State *L)
{
    sx_buf_free(lua_touserdata(L, 1));
    return 0;
}

/* [-0, +1] A buffer owned by the Lua stack: freed even if we raise. */
static struct sx_buf *new_boxed_buf(lua_State *L, size_t max)
{
    struct sx_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    sx_buf_init(b, max);
    if (luaL_newmetatable(L, "stockx.buf")) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static int query_error(lua_State *L, const char *k, const char *what)
{
    lua_pushfstring(L, "query %s for '%s'", what, k);
    return user_error(L, lua_tostring(L, -1));
}

/* Appends s[0..n) escaped, refusing NUL and a query over QUERY_MAX. */
static void add_escaped(lua_State *L, struct sx_buf *b, const char *s,
                        size_t n, const char *k)
{
    if (memchr(s, '\0', n))
        query_error(L, k, "contains a NUL byte");
    if (sx_url_escape(b, s, n) < 0)
        query_error(L, k, "too long (the query is limited to 1 MiB)");
}

/* Appends one scalar query value (at index i), escaped. */
static void add_value(lua_State *L, struct sx_buf *b, int i, const char *k)
{
    size_t n;
    int t = lua_type(L, i);
    if (t == LUA_TBOOLEAN) {
        lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false");
    } else if (t == LUA_TNUMBER || t == LUA_TSTRING) {
        lua_pushvalue(L, i);
        lua_tolstring(L, -1, NULL);
    } else {
        lua_pushfstring(L, "query value for '%s' must be a string, number, "
                        "boolean or array (got %s)", k, luaL_typename(L, i));
        user_error(L, lua_tostring(L, -1));
        return;
    }
    const char *v = lua_tolstring(L, -1, &n);
    add_escaped(L, b, v, n, k);
    lua_pop(L, 1);
}

static void add_sep(lua_State *L, struct sx_buf *b, const char *sep,
                    const char *k)
{
    if (sx_buf_add(b, sep, 1) < 0)
        query_error(L, k, "too long (the query is limited to 1 MiB)");
}

/* core.query(t) -> "a=1&b=x%20y&ids=1,2" (sorted keys; arrays joined
 * with commas, StockX's convention) */
static int l_query(lua_State *L)
{
    const char **keys;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    int n = sorted_keys(L, 1, &keys);
    struct sx_buf *b = new_boxed_buf(L, QUERY_MAX);
    for (int i = 0; i < n; i++) {
        lua_getfield(L, 1, keys[i]);
        if (b->len)
            add_sep(L, b, "&", keys[i]);
        add_escaped(L, b, keys[i], strlen(keys[i]), keys[i]);
        add_sep(L, b, "=", keys[i]);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer j = 1; j <= len; j++) {
                lua_rawgeti(L, -1, j);
                if (j > 1)
                    add_sep(L, b, ",", keys[i]);
                add_value(L, b, lua_gettop(L), keys[i]);
                lua_pop(L, 1);
            }
        } else {
            add_value(L, b, lua_gettop(L), keys[i]);
        }
        lua_pop(L, 1);
    }
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 1;
}

/* ---- logging ------------------------------------------------------------ */

/*
 * core.log(level, msg [, fields [, event]]): event "script" unless the
 * library names one (then msg may be nil).  Each value is turned into a string
 * kept in a table of ours (not on the stack: a table may have thousands
 * of fields), so a __tostring that changes `fields` cannot free a string
 * still in use.
 */
static int l_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error",
                                         NULL};
    int lvl = luaL_checkoption(L, 1, NULL, levels);
    const char *event = luaL_optstring(L, 4, "script");
    const char *msg = lua_isnoneornil(L, 4) ? luaL_checkstring(L, 2)
                                            : luaL_optstring(L, 2, NULL);
    const char **keys;
    lua_settop(L, 4);
    if (!lua_isnil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (!sx_log_enabled((enum sx_log_level)lvl))
        return 0;
    if (lua_isnil(L, 3)) {
        lua_newtable(L);
        lua_replace(L, 3);
    }
    int n = sorted_keys(L, 3, &keys);                  /* keys */
    lua_createtable(L, n, 0);                          /* keys vals */
    struct sx_log_field *f = lua_newuserdatauv(L, sizeof *f * (size_t)(n + 1),
                                               0);     /* keys vals f */
    int first = msg ? 1 : 0; /* the library's events may have no msg */
    f[0].key = "msg";
    f[0].value = msg;
    f[0].raw = 0;
    for (int i = 0; i < n; i++) {
        lua_getfield(L, 3, keys[i]);
        int t = lua_type(L, -1);
        luaL_tolstring(L, -1, NULL);                   /* ... v s */
        lua_rawseti(L, -4, i + 1);
        lua_pop(L, 1);
        f[i + 1].key = keys[i];
        f[i + 1].raw = t == LUA_TNUMBER || t == LUA_TBOOLEAN;
    }
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -2, i + 1);
        f[i + 1].value = lua_tostring(L, -1); /* anchored by vals */
        lua_pop(L, 1);
    }
    sx_log((enum sx_log_level)lvl, event, f + 1 - first, n + first);
    return 0;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static int l_version(lua_State *L)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    lua_createtable(L, 0, 5);
    set_str(L, "stockx", SX_VERSION);
    set_str(L, "lua", LUA_RELEASE);
    set_str(L, "curl", v->version);
    set_str(L, "ssl", v->ssl_version);
    set_str(L, "nghttp2", v->nghttp2_version);
    set_str(L, "libevent", event_get_version());
    return 1;
}

/*
 * core.append(path, text) -> true | nil, message: appends text to path
 * (created 0600) and fsyncs it before returning, so a line of an audit
 * log is on disk before the change it records is sent.
 */
static int l_append(lua_State *L)
{
    size_t n, off = 0;
    const char *path = luaL_checkstring(L, 1);
    const char *text = luaL_checklstring(L, 2, &n);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return luaL_fileresult(L, 0, path);
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return luaL_fileresult(L, 0, path);
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return luaL_fileresult(L, 0, path);
    }
    close(fd);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.reason(status) -> the reason phrase, or nil (src/sx_http.c) */
static int l_reason(lua_State *L)
{
    lua_Integer st = luaL_checkinteger(L, 1);
    lua_pushstring(L, st >= 0 && st < 1000 ? sx_http_reason((int)st) : NULL);
    return 1;
}

/* ---- private files (OAuth tokens) ----------------------------------- */

#define LOCK_MT "stockx.lock"

/*
 * core.lock(path) -> a lock (held until :unlock(), <close> or collection)
 * | false when another process holds it | nil, message.  Never blocks:
 * callers retry after a short sleep.
 */
static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int *fd = lua_newuserdatauv(L, sizeof *fd, 0);
    *fd = -1;
    luaL_setmetatable(L, LOCK_MT);
    if ((*fd = sx_file_lock(path)) < 0) {
        if (errno == EWOULDBLOCK) {
            lua_pushboolean(L, 0);
            return 1;
        }
        return luaL_fileresult(L, 0, path);
    }
    return 1;
}

static int lock_unlock(lua_State *L)
{
    int *fd = luaL_checkudata(L, 1, LOCK_MT);
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    return 0;
}

/* core.mkdirs(path) -> true | nil, message: path and its parents, 0700. */
static int l_mkdirs(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return luaL_error(L, "mkdirs: bad path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return luaL_fileresult(L, 0, buf);
        buf[i] = c;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.random(n) -> n bytes from the kernel's CSPRNG (1..256). */
static int l_random(lua_State *L)
{
    unsigned char buf[256];
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= (lua_Integer)sizeof buf, 1,
                  "between 1 and 256");
    size_t got = 0;
    while (got < (size_t)n) {
        ssize_t r = getrandom(buf + got, (size_t)n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return luaL_error(L, "getrandom: %s", strerror(errno));
        got += (size_t)r;
    }
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

/* core.clock() -> wall (UTC seconds), boot (seconds since boot). */
static int l_clock(lua_State *L)
{
    lua_pushnumber(L, sx_time_wall());
    lua_pushnumber(L, sx_time_boot());
    return 2;
}

/* core.graceful(fn): fn runs, as a task, on the first SIGINT/SIGTERM. */
static int l_graceful(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    sx_rt_set_shutdown(L, 1);
    return 0;
}

static const luaL_Reg core_funcs[] = {
    {"reason", l_reason},
    {"append", l_append},
    {"stats", l_stats},
    {"term", l_term},
    {"log_erase", l_log_erase},
    {"query", l_query},
    {"log", l_log},
    {"version", l_version},
    {"where", l_where},
    {"set_error_mt", l_set_error_mt},
    {"clock", l_clock},
    {"save_private", sx_lserver_save_file}, /* the sandbox's --state writer */
    {"lock", l_lock},
    {"random", l_random},
    {"mkdirs", l_mkdirs},
    {"graceful", l_graceful},
    {NULL, NULL}};

int luaopen_stockx_core(lua_State *L)
{
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &errmt_key);
    luaL_newmetatable(L, LOCK_MT);
    lua_pushcfunction(L, lock_unlock);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lock_unlock);
    lua_setfield(L, -2, "__close");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, lock_unlock);
    lua_setfield(L, -2, "unlock");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, core_funcs);
    sx_lrequest_openlib(L);
    sx_lconfig_openlib(L);
    sx_rt_openlib(L);
    sx_task_openlib(L);
    sx_ljson_openlib(L);
    sx_lcron_openlib(L);
    return 1;
}
