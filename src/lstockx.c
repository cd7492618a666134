/*
 * stockx.core: Lua bindings of the pooled client.  core.request{...}
 * queues a request, parks the calling task and, once woken, returns a
 * response table or nil plus an error value.  Downloads stream into a
 * temporary file next to the target that is renamed into place only after
 * a complete 2xx response.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "ljson.h"
#include "lstockx.h"
#include "ltask.h"
#include "sx_buf.h"
#include "sx_client.h"
#include "sx_log.h"
#include "sx_url.h"

#define STATE_MT "stockx.core.state"

/* One request in flight from Lua. */
struct lreq {
    struct sx_req *r;
    struct sx_task *task;
    struct sx_rt *rt;
    int fd;               /* download: temporary file, else -1 */
    char *tmp, *final;    /* download paths */
    struct lreq *prev, *next;
};

/* Anchored in the registry; its __gc cleans up what is still in flight. */
struct lstate {
    struct lreq *live;
};

static const char state_key = 'S';
static const char rawhdr_key = 'H';
static const char errmt_key = 'E';

static struct lstate *get_state(lua_State *L)
{
    struct lstate *s;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &state_key);
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

static struct sx_client *get_client(lua_State *L)
{
    return sx_rt_get(L)->client;
}

/* ---- lreq life cycle -------------------------------------------------- */

static void lreq_free(struct lstate *s, struct lreq *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        s->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->fd >= 0)
        close(q->fd);
    if (q->tmp)
        unlink(q->tmp); /* never leave a partial download behind */
    free(q->tmp);
    free(q->final);
    sx_req_free(q->r);
    free(q);
}

static int state_gc(lua_State *L)
{
    struct lstate *s = lua_touserdata(L, 1);
    while (s->live)
        lreq_free(s, s->live);
    return 0;
}

/* ---- error values ----------------------------------------------------- */

/* [-0, +1] A transport error value {kind, message, method, url, ...}. */
static void push_error(lua_State *L, const char *kind, const char *msg,
                       const char *method, const char *url, int attempts)
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

/* ---- responses -------------------------------------------------------- */

/* Pushes name lower-cased (header names are case-insensitive). */
static void push_lower(lua_State *L, const char *p, size_t n)
{
    char small[64];
    if (n > sizeof small) {
        lua_pushlstring(L, p, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        small[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    lua_pushlstring(L, small, n);
}

/* [-0, +1] Header table: lower-case names, repeats joined with ", ". */
static void push_headers(lua_State *L, const char *p, size_t len)
{
    const char *end = p + len;
    lua_createtable(L, 0, 8);
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && colon > p) {
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            push_lower(L, p, (size_t)(colon - p));      /* hdrs name */
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TSTRING) {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            }
            lua_rawset(L, -3);
        }
        p = eol ? eol + 1 : end;
    }
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, long v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/*
 * Response field names, interned once: they are upvalues of core.request
 * (its continuation runs in the same frame), so each response is built
 * with lua_rawset instead of a lua_setfield that hashes the name again.
 */
enum { K_STATUS = 1, K_CTYPE, K_BODY, K_URL, K_METHOD, K_VERSION,
       K_ATTEMPTS, K_ELAPSED, K_RETRY_AFTER, K_RESMT, K_RAWHDR,
       K_COUNT = K_RAWHDR };
static const char *const res_keys[] = {
    "status", "content_type", "body", "url", "method", "http_version",
    "attempts", "elapsed", "retry_after"};

/* [-1, +0] t[key k] = value on top (t just below it). */
static void set_key(lua_State *L, int k)
{
    lua_pushvalue(L, lua_upvalueindex(k));
    lua_insert(L, -2);
    lua_rawset(L, -3);
}

/*
 * res.headers is built on first use: most scripts never read it, and its
 * strings (dates, ids) are the costliest part of a response.  Until then
 * the raw block waits in a weak table keyed by the response.
 */
static int res_index(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2),
                                                 "headers") != 0)
        return 0;
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &rawhdr_key);  /* res raws */
    lua_pushvalue(L, 1);
    if (lua_rawget(L, 2) != LUA_TSTRING)              /* res raws raw */
        return 0;
    size_t len;
    const char *raw = lua_tolstring(L, 3, &len);
    push_headers(L, raw, len);                        /* res raws raw hdrs */
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "headers");
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    lua_rawset(L, 2);
    return 1;
}

/* [-0, +1] The response table of a request that got an HTTP answer. */
static void push_response(lua_State *L, const struct sx_result *res)
{
    size_t ctlen = 0;
    const char *ct = sx_header_find(res->headers, "content-type", &ctlen);
    lua_createtable(L, 0, 10);
    lua_pushvalue(L, lua_upvalueindex(K_RESMT));
    lua_setmetatable(L, -2);
    lua_pushinteger(L, res->status);
    set_key(L, K_STATUS);
    if (ct) {
        lua_pushlstring(L, ct, ctlen);
        set_key(L, K_CTYPE);
    }
    lua_pushvalue(L, lua_upvalueindex(K_RAWHDR));     /* res raws */
    lua_pushvalue(L, -2);
    lua_pushlstring(L, res->headers->data ? res->headers->data : "",
                    res->headers->len);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushlstring(L, res->body->data ? res->body->data : "",
                    res->body->len);
    set_key(L, K_BODY);
    lua_pushstring(L, res->url);
    set_key(L, K_URL);
    lua_pushstring(L, res->method);
    set_key(L, K_METHOD);
    lua_pushstring(L, res->http_version);
    set_key(L, K_VERSION);
    lua_pushinteger(L, res->attempts);
    set_key(L, K_ATTEMPTS);
    lua_pushnumber(L, res->elapsed);
    set_key(L, K_ELAPSED);
    if (res->retry_after >= 0) {
        lua_pushnumber(L, res->retry_after);
        set_key(L, K_RETRY_AFTER);
    }
}

/* Bytes in the download's temporary file (-1 if unknown). */
static off_t download_size(const struct lreq *q)
{
    struct stat st;
    return fstat(q->fd, &st) == 0 ? st.st_size : -1;
}

/* Moves a finished download into place; 0 or -1 with errno. */
static int commit_download(struct lreq *q)
{
    int rc = fsync(q->fd);
    close(q->fd);
    q->fd = -1;
    if (rc == 0)
        rc = rename(q->tmp, q->final);
    if (rc == 0) {
        free(q->tmp);
        q->tmp = NULL;
    }
    return rc;
}

static int request_k(lua_State *L, int status, lua_KContext ctx)
{
    struct lreq *q = (struct lreq *)ctx;
    struct sx_result res;
    char msg[300];
    int nret = 2;
    (void)status;
    sx_req_result(q->r, &res);
    if (res.err != SX_OK) {
        lua_pushnil(L);
        push_error(L, sx_err_name(res.err), res.message, res.method,
                   res.url, res.attempts);
    } else if (q->tmp && res.status >= 200 && res.status < 300 &&
               download_size(q) == 0) {
        lua_pushnil(L);
        push_error(L, "bad_response", "empty body: nothing was written",
                   res.method, res.url, res.attempts);
    } else if (q->tmp && res.status >= 200 && res.status < 300 &&
               commit_download(q) < 0) {
        snprintf(msg, sizeof msg, "cannot write %s: %s", q->final,
                 strerror(errno));
        lua_pushnil(L);
        push_error(L, "io", msg, res.method, res.url, res.attempts);
    } else {
        push_response(L, &res);
        nret = 1;
    }
    lreq_free(get_state(L), q);
    return nret;
}

static void on_done(struct sx_req *r, void *ud)
{
    struct lreq *q = ud;
    (void)r;
    sx_task_on_cancel(q->task, NULL, NULL);
    sx_task_wake(q->rt, q->task);
}

static void on_cancel(void *ud)
{
    struct lreq *q = ud;
    sx_req_cancel(q->r);
}

/* ---- building a request ----------------------------------------------- */

/* Argument i: nil, or of the given type (the Lua layer names the option). */
static int optarg_is(lua_State *L, int i, int type, const char *what)
{
    int t = lua_type(L, i);
    if (t != LUA_TNIL && t != type)
        luaL_typeerror(L, i, what);
    return t != LUA_TNIL;
}

/* Adds the caller's headers (table at index i). */
static void add_headers(lua_State *L, int i, struct sx_req *r)
{
    char err[128];
    if (!optarg_is(L, i, LUA_TTABLE, "table"))
        return;
    lua_pushnil(L);
    while (lua_next(L, i)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            luaL_error(L, "stockx.request: headers must map names to "
                          "strings");
        const char *name = lua_tostring(L, -2);
        if (sx_req_header(r, name, lua_tostring(L, -1), err, sizeof err))
            luaL_error(L, "stockx.request: %s (header '%s')", err, name);
        lua_pop(L, 1);
    }
}

/* Arguments 5-7: body, timeout, idempotent. */
static void add_misc(lua_State *L, struct sx_req *r)
{
    double timeout = -1;
    int idem = -1;
    if (optarg_is(L, 6, LUA_TNUMBER, "number")) {
        timeout = lua_tonumber(L, 6);
        if (!(timeout > 0) || !isfinite(timeout))
            luaL_error(L, "stockx.request: 'timeout' must be > 0");
    }
    if (optarg_is(L, 7, LUA_TBOOLEAN, "boolean"))
        idem = lua_toboolean(L, 7);
    sx_req_options(r, timeout, idem);
    if (optarg_is(L, 5, LUA_TSTRING, "string")) {
        size_t n;
        const char *b = lua_tolstring(L, 5, &n);
        if (sx_req_body(r, b, n) < 0)
            luaL_error(L, "stockx.request: out of memory");
    }
}

/* Argument 8: opens the temporary file of a download next to it. */
static void add_download(lua_State *L, struct lreq *q)
{
    if (!optarg_is(L, 8, LUA_TSTRING, "string"))
        return;
    const char *f = lua_tostring(L, 8);
    if (!*f)
        luaL_error(L, "stockx.download: empty file name");
    size_t n = strlen(f);
    q->final = strdup(f);
    q->tmp = malloc(n + 16);
    if (!q->final || !q->tmp)
        luaL_error(L, "stockx.download: out of memory");
    snprintf(q->tmp, n + 16, "%s.part-XXXXXX", f);
    q->fd = mkstemp(q->tmp);
    if (q->fd < 0) {
        free(q->tmp);
        q->tmp = NULL;
        luaL_error(L, "stockx.download: cannot create a file next to %s: %s",
                   f, strerror(errno));
    }
    mode_t um = umask(0);
    umask(um);
    fchmod(q->fd, 0666 & ~um);
    sx_req_sink(q->r, q->fd);
}

static struct lreq *lreq_new(lua_State *L, struct sx_task *t)
{
    struct lstate *s = get_state(L);
    struct lreq *q = calloc(1, sizeof *q);
    if (!q || !(q->r = sx_req_new(get_client(L)))) {
        free(q);
        luaL_error(L, "stockx.request: out of memory");
    }
    q->fd = -1;
    q->task = t;
    q->rt = sx_rt_get(L);
    q->next = s->live;
    if (s->live)
        s->live->prev = q;
    s->live = q;
    return q;
}

/*
 * core.request(method, path, query, headers, body, timeout, idempotent,
 * download) -> res | nil, err.  Positional, for speed: lua/stockx.lua has
 * checked the user's arguments and named them.  `query` is encoded.
 */
static int l_request(lua_State *L)
{
    char err[200];
    lua_settop(L, 8);
    struct sx_task *t = sx_task_current(L, "stockx.request");
    const char *method = luaL_optstring(L, 1, "GET");
    const char *path = luaL_checkstring(L, 2);
    if (sx_task_cancelled(t)) {
        lua_pushnil(L);
        push_error(L, "cancelled", "the task was cancelled", method, path, 0);
        return 2;
    }
    const char *query = luaL_optstring(L, 3, NULL);
    struct lreq *q = lreq_new(L, t);
    /* q is owned by the state from here: errors below free it at exit */
    if (sx_req_set(q->r, method, path, query, err, sizeof err) < 0) {
        lreq_free(get_state(L), q);
        return luaL_error(L, "stockx.request: bad path '%s': %s", path, err);
    }
    add_headers(L, 4, q->r);
    add_misc(L, q->r);
    add_download(L, q);
    lua_settop(L, 0);
    if (sx_client_submit(q->r, on_done, q) < 0) {
        lreq_free(get_state(L), q);
        return luaL_error(L, "stockx.request: out of memory");
    }
    sx_task_on_cancel(t, on_cancel, q);
    return sx_task_park(L, request_k, (lua_KContext)q);
}

/* ---- configuration ---------------------------------------------------- */

static double cfg_number(lua_State *L, const char *k, double min)
{
    if (!lua_isnumber(L, -1))
        luaL_error(L, "stockx.configure: '%s' must be a number (got %s)", k,
                   luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    if (!(v >= min) || !isfinite(v))
        luaL_error(L, "stockx.configure: '%s' must be >= %g", k, min);
    return v;
}

/* "10/1s", "10/s", "100/60s", "5/m", "1000/h" */
static int parse_rate(const char *s, double *rate, double *period)
{
    char *end;
    *rate = strtod(s, &end);
    if (end == s || *end != '/' || !(*rate > 0))
        return -1;
    s = end + 1;
    *period = 1;
    if (*s >= '0' && *s <= '9') {
        *period = strtod(s, &end);
        s = end;
    }
    double unit = *s == 's' ? 1 : *s == 'm' ? 60 : *s == 'h' ? 3600 : 0;
    if (!unit || s[1] || !(*period > 0))
        return -1;
    *period *= unit;
    return 0;
}

static void cfg_rate(lua_State *L, struct sx_config *k)
{
    int t = lua_type(L, -1);
    if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        k->rate_on = 0;
        return;
    }
    if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "off") == 0) {
        k->rate_on = 0;
        return;
    }
    if (t == LUA_TSTRING) {
        if (parse_rate(lua_tostring(L, -1), &k->rate, &k->period) < 0)
            luaL_error(L, "stockx.configure: bad rate '%s' (expected "
                          "N/period such as 10/1s, 100/60s, 5/m, or off)",
                       lua_tostring(L, -1));
        k->burst = k->rate >= 1 ? floor(k->rate) : 1;
    } else if (t == LUA_TTABLE) {
        lua_getfield(L, -1, "rate");
        k->rate = cfg_number(L, "rate.rate", 1e-9);
        lua_getfield(L, -2, "period");
        k->period = lua_isnil(L, -1) ? 1 : cfg_number(L, "rate.period", 1e-9);
        lua_getfield(L, -3, "burst");
        k->burst = lua_isnil(L, -1) ? (k->rate >= 1 ? floor(k->rate) : 1)
                                    : cfg_number(L, "rate.burst", 1);
        lua_pop(L, 3);
    } else {
        luaL_error(L, "stockx.configure: 'rate' must be false, \"off\", a "
                      "string like \"10/1s\" or a table {rate=, period=, "
                      "burst=}");
    }
    k->rate_on = 1;
}

static void cfg_retry(lua_State *L, struct sx_config *k)
{
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *f = lua_tostring(L, -2);
        if (!f)
            luaL_error(L, "stockx.configure: bad key in 'retry'");
        if (!strcmp(f, "max_attempts"))
            k->max_attempts = (int)cfg_number(L, "retry.max_attempts", 1);
        else if (!strcmp(f, "max_retry_after"))
            k->max_retry_after = cfg_number(L, "retry.max_retry_after", 0);
        else if (!strcmp(f, "transient_attempts"))
            k->transient_attempts =
                (int)cfg_number(L, "retry.transient_attempts", 1);
        else if (!strcmp(f, "backoff_base"))
            k->backoff_base = cfg_number(L, "retry.backoff_base", 0);
        else if (!strcmp(f, "backoff_cap"))
            k->backoff_cap = cfg_number(L, "retry.backoff_cap", 0);
        else
            luaL_error(L, "stockx.configure: unknown key 'retry.%s'", f);
        lua_pop(L, 1);
    }
}

static void cfg_log(lua_State *L, const char *key)
{
    int level = (int)sx_log_min(), json = sx_log_json();
    const char *v = luaL_checkstring(L, -1);
    if (!strcmp(key, "log_level") && (level = sx_log_level_parse(v)) < 0)
        luaL_error(L, "stockx.configure: bad log_level '%s' (debug, info, "
                      "warn, error)", v);
    if (!strcmp(key, "log_format") && (json = sx_log_format_parse(v)) < 0)
        luaL_error(L, "stockx.configure: bad log_format '%s' (text, json)", v);
    sx_log_setup((enum sx_log_level)level, json, stderr);
}

static int cfg_string(lua_State *L, struct sx_config *k, const char *f)
{
    char **slot = !strcmp(f, "base_url") ? &k->base_url
                  : !strcmp(f, "api_key") ? &k->api_key
                  : !strcmp(f, "access_token") ? &k->access_token
                  : !strcmp(f, "ca_file") ? &k->ca_file : NULL;
    if (!slot)
        return 0;
    int t = lua_type(L, -1);
    if (t != LUA_TSTRING && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
        luaL_error(L, "stockx.configure: '%s' must be a string (or false "
                      "to clear it)", f);
    const char *v = lua_tostring(L, -1);
    if (v && !strcmp(f, "ca_file") && access(v, R_OK) != 0)
        luaL_error(L, "stockx.configure: cannot read ca_file '%s': %s", v,
                   strerror(errno));
    if (v && !strcmp(f, "base_url")) {
        if (!sx_url_is_absolute(v))
            luaL_error(L, "stockx.configure: base_url must start with "
                          "http:// or https:// (got '%s')", v);
        size_t n = strlen(v);
        while (n > 1 && v[n - 1] == '/')
            n--;
        lua_pushlstring(L, v, n);
        lua_replace(L, -2);
        v = lua_tostring(L, -1);
    }
    sx_config_set_str(slot, v);
    return 1;
}

static void cfg_one(lua_State *L, struct sx_config *k, const char *f)
{
    if (cfg_string(L, k, f))
        return;
    if (!strcmp(f, "timeout"))
        k->timeout = cfg_number(L, f, 0.001);
    else if (!strcmp(f, "connect_timeout"))
        k->connect_timeout = cfg_number(L, f, 0.001);
    else if (!strcmp(f, "max_connections"))
        k->max_connections = (long)cfg_number(L, f, 1);
    else if (!strcmp(f, "max_idle"))
        k->max_idle = (long)cfg_number(L, f, 0);
    else if (!strcmp(f, "idle_timeout"))
        k->idle_timeout = cfg_number(L, f, 1);
    else if (!strcmp(f, "max_body"))
        k->max_body = (size_t)cfg_number(L, f, 1);
    else if (!strcmp(f, "rate"))
        cfg_rate(L, k);
    else if (!strcmp(f, "retry"))
        cfg_retry(L, k);
    else if (!strcmp(f, "log_level") || !strcmp(f, "log_format"))
        cfg_log(L, f);
    else
        luaL_error(L, "stockx.configure: unknown setting '%s'", f);
}

static int l_configure(lua_State *L)
{
    char err[160];
    struct sx_client *c = get_client(L);
    struct sx_config *k = sx_client_config(c);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "stockx.configure: keys must be strings");
        cfg_one(L, k, lua_tostring(L, -2));
        lua_settop(L, 2);
    }
    if (sx_client_reconfigure(c, err, sizeof err) < 0)
        return luaL_error(L, "stockx.configure: %s", err);
    return 0;
}

/* core.settings() -> the current settings, secrets left out */
static int l_settings(lua_State *L)
{
    const struct sx_config *k = sx_client_config(get_client(L));
    lua_newtable(L);
    set_str(L, "base_url", k->base_url);
    set_str(L, "ca_file", k->ca_file);
    lua_pushboolean(L, k->api_key != NULL);
    lua_setfield(L, -2, "has_api_key");
    lua_pushboolean(L, k->access_token != NULL);
    lua_setfield(L, -2, "has_access_token");
    set_num(L, "timeout", k->timeout);
    set_num(L, "connect_timeout", k->connect_timeout);
    set_int(L, "max_connections", k->max_connections);
    set_int(L, "max_idle", k->max_idle);
    set_num(L, "idle_timeout", k->idle_timeout);
    if (k->rate_on) {
        lua_createtable(L, 0, 3);
        set_num(L, "rate", k->rate);
        set_num(L, "period", k->period);
        set_num(L, "burst", k->burst);
    } else {
        lua_pushboolean(L, 0);
    }
    lua_setfield(L, -2, "rate");
    lua_createtable(L, 0, 5);
    set_int(L, "max_attempts", k->max_attempts);
    set_num(L, "max_retry_after", k->max_retry_after);
    set_int(L, "transient_attempts", k->transient_attempts);
    set_num(L, "backoff_base", k->backoff_base);
    set_num(L, "backoff_cap", k->backoff_cap);
    lua_setfield(L, -2, "retry");
    return 1;
}

static int l_stats(lua_State *L)
{
    struct sx_stats st;
    sx_client_stats(get_client(L), &st);
    lua_createtable(L, 0, 9);
    set_int(L, "requests", st.requests);
    set_int(L, "attempts", st.attempts);
    set_int(L, "connections", st.connections);
    set_int(L, "retries", st.retries);
    set_int(L, "status_429", st.status_429);
    set_int(L, "in_flight", st.in_flight);
    set_int(L, "queued", st.queued);
    set_int(L, "sockets", st.sockets);
    set_int(L, "failed", st.failed);
    set_int(L, "pending", st.pending);
    lua_pushinteger(L, sx_rt_get(L)->tasks);
    lua_setfield(L, -2, "tasks");
    return 1;
}

/* ---- small helpers -------------------------------------------------- */

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* [-0, +1] The string keys of table t, sorted, in a new table. */
static int sorted_keys(lua_State *L, int t, const char ***out)
{
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            n++;
    }
    const char **keys = lua_newuserdatauv(L, sizeof *keys * (size_t)(n + 1), 0);
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            keys[n++] = lua_tostring(L, -1); /* anchored by t */
    }
    qsort(keys, (size_t)n, sizeof *keys, key_cmp);
    *out = keys;
    return n;
}

/* Appends one scalar query value, escaped. */
static void add_value(lua_State *L, struct sx_buf *b, int i, const char *k)
{
    size_t n;
    int t = lua_type(L, i);
    if (t == LUA_TBOOLEAN) {
        lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false");
    } else if (t == LUA_TNUMBER || t == LUA_TSTRING) {
        luaL_tolstring(L, i, NULL);
    } else {
        luaL_error(L, "stockx: query value for '%s' must be a string, "
                      "number, boolean or array (got %s)", k,
                   luaL_typename(L, i));
        return;
    }
    const char *v = lua_tolstring(L, -1, &n);
    if (sx_url_escape(b, v, n) < 0)
        luaL_error(L, "stockx: query too long");
    lua_pop(L, 1);
}

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

/* core.query(t) -> "a=1&b=x%20y&ids=1,2" (sorted keys; arrays joined
 * with commas, StockX's convention) */
static int l_query(lua_State *L)
{
    const char **keys;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    int n = sorted_keys(L, 1, &keys);
    struct sx_buf *b = new_boxed_buf(L, 1 << 20);
    for (int i = 0; i < n; i++) {
        lua_getfield(L, 1, keys[i]);
        if (b->len)
            sx_buf_add(b, "&", 1);
        sx_url_escape(b, keys[i], strlen(keys[i]));
        sx_buf_add(b, "=", 1);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer j = 1; j <= len; j++) {
                lua_rawgeti(L, -1, j);
                if (j > 1)
                    sx_buf_add(b, ",", 1);
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

/* core.log(level, msg [, fields]) */
static int l_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error",
                                         NULL};
    int lvl = luaL_checkoption(L, 1, NULL, levels);
    const char *msg = luaL_checkstring(L, 2);
    const char **keys;
    if (!sx_log_enabled((enum sx_log_level)lvl))
        return 0;
    if (lua_isnoneornil(L, 3))
        lua_newtable(L);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    int n = sorted_keys(L, 3, &keys);
    struct sx_log_field *f = lua_newuserdatauv(L, sizeof *f * (size_t)(n + 1), 0);
    f[0].key = "msg";
    f[0].value = msg;
    f[0].raw = 0;
    for (int i = 0; i < n; i++) {
        lua_getfield(L, 3, keys[i]);
        int t = lua_type(L, -1);
        f[i + 1].key = keys[i];
        f[i + 1].value = luaL_tolstring(L, -1, NULL); /* stays on stack */
        f[i + 1].raw = t == LUA_TNUMBER || t == LUA_TBOOLEAN;
    }
    sx_log((enum sx_log_level)lvl, "script", f, n + 1);
    return 0;
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

static const luaL_Reg core_funcs[] = {
    {"request", NULL},
    {"configure", l_configure},
    {"settings", l_settings},
    {"stats", l_stats},
    {"query", l_query},
    {"log", l_log},
    {"version", l_version},
    {"set_error_mt", l_set_error_mt},
    {NULL, NULL}};

int luaopen_stockx_core(lua_State *L)
{
    struct lstate *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->live = NULL;
    luaL_newmetatable(L, STATE_MT);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &state_key);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &errmt_key);
    luaL_newlib(L, core_funcs);
    for (int k = 0; k < K_RESMT - 1; k++)
        lua_pushstring(L, res_keys[k]);
    lua_createtable(L, 0, 2);                   /* the responses' metatable */
    lua_pushcfunction(L, res_index);
    lua_setfield(L, -2, "__index");
    lua_createtable(L, 0, 1);                   /* weak: response -> raw */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &rawhdr_key);
    lua_pushcclosure(L, l_request, K_COUNT);
    lua_setfield(L, -2, "request");
    sx_task_openlib(L);
    sx_json_openlib(L);
    return 1;
}
