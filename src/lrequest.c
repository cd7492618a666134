/*
 * core.request: queues a request on the pooled client, parks the calling
 * task and, once woken, returns a response table or nil plus an error
 * value.  Downloads stream into a temporary file next to the target that
 * is renamed into place only after a complete 2xx response; temporary
 * files are removed on every other path, os.exit included.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrequest.h"
#include "lstockx.h"
#include "ltask.h"
#include "sx_buf.h"
#include "sx_client.h"
#include "sx_list.h"

#define STATE_MT "stockx.core.state"

/* One request in flight from Lua. */
struct lreq {
    struct sx_req *r;
    struct sx_task *task;
    int fd;               /* download: temporary file, else -1 */
    char *tmp, *final;    /* download paths */
    struct sx_list link;  /* on lstate.live */
};

/* Anchored in the registry; its __gc cleans up what is still in flight. */
struct lstate {
    struct sx_list live;        /* every struct lreq not yet freed */
    struct sx_rt_source source; /* the client, for the runtime */
};

static const char state_key = 'S';
static const char rawhdr_key = 'H';
static struct lstate *exit_state; /* for the atexit handler */

static struct lstate *get_state(lua_State *L)
{
    struct lstate *s;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &state_key);
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

/* ---- lreq life cycle -------------------------------------------------- */

static void lreq_free(struct lreq *q)
{
    sx_list_remove(&q->link);
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
    while (!sx_list_empty(&s->live))
        lreq_free(sx_list_entry(s->live.next, struct lreq, link));
    if (exit_state == s)
        exit_state = NULL;
    return 0;
}

/* os.exit() skips lua_close: partial downloads are removed here. */
static void unlink_parts(void)
{
    struct sx_list *it, *tmp;
    if (!exit_state)
        return;
    sx_list_foreach_safe(&exit_state->live, it, tmp) {
        struct lreq *q = sx_list_entry(it, struct lreq, link);
        if (q->tmp)
            unlink(q->tmp);
    }
}

/* ---- responses -------------------------------------------------------- */

/* Pushes name lower-cased (header names are case-insensitive). */
static void push_lower(lua_State *L, const char *p, size_t n)
{
    char small[64];
    char *out = n <= sizeof small ? small : NULL;
    luaL_Buffer b;
    if (!out)
        out = luaL_buffinitsize(L, &b, n);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    if (out == small)
        lua_pushlstring(L, small, n);
    else
        luaL_pushresultsize(&b, n);
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

/*
 * Response field names, interned once: they are upvalues of core.request
 * (its continuation runs in the same frame), so each response is built
 * with lua_rawset instead of a lua_setfield that hashes the name again.
 */
enum { K_STATUS = 1, K_CTYPE, K_BODY, K_URL, K_METHOD, K_VERSION,
       K_ATTEMPTS, K_ELAPSED, K_RETRY_AFTER, K_QUEUE_WAIT, K_RESMT, K_RAWHDR,
       K_COUNT = K_RAWHDR };
static const char *const res_keys[] = {
    "status", "content_type", "body", "url", "method", "http_version",
    "attempts", "elapsed", "retry_after", "queue_wait"};

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
    const char *ct = sx_req_find_header(res->headers, "content-type", &ctlen);
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
    lua_pushnumber(L, res->queue_wait);
    set_key(L, K_QUEUE_WAIT);
    if (res->retry_after >= 0) {
        lua_pushnumber(L, res->retry_after);
        set_key(L, K_RETRY_AFTER);
    }
    if (res->dry_run) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "dry_run");
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

/*
 * A request that is not retried on its own (POST, PATCH) failed after it
 * went out, with no answer: the server may have acted on it.  The error
 * value on top of the stack gets ambiguous = true and says so.
 */
static void mark_ambiguous(lua_State *L, const struct sx_result *res)
{
    if (res->idempotent || !res->sent || res->status != 0 ||
        (res->err != SX_E_TIMEOUT && res->err != SX_E_RESET &&
         res->err != SX_E_OTHER))
        return;
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ambiguous");
    lua_getfield(L, -1, "message");
    lua_pushliteral(L, " (the request was sent and no answer came: it may "
                       "have taken effect)");
    lua_concat(L, 2);
    lua_setfield(L, -2, "message");
}

/* [-0, +2] nil, error value. */
static int push_fail(lua_State *L, const char *kind, const char *msg,
                     const struct sx_result *res)
{
    lua_pushnil(L);
    sx_lstockx_push_error(L, kind, msg, res->method, res->url,
                          res->attempts);
    if (res->status) {
        lua_pushinteger(L, res->status);
        lua_setfield(L, -2, "status");
    }
    return 2;
}

static int request_k(lua_State *L, int status, lua_KContext ctx)
{
    struct lreq *q = (struct lreq *)ctx;
    struct sx_result res;
    char msg[600];
    int nret = 1, ok2xx;
    (void)status;
    if (sx_task_cancelled(q->task)) {
        struct sx_task *t = q->task;
        lreq_free(q);
        return sx_task_raise_cancelled(L, t);
    }
    sx_req_result(q->r, &res);
    ok2xx = res.status >= 200 && res.status < 300;
    if (res.err != SX_OK) {
        lua_pushnil(L);
        sx_lstockx_push_error(L, sx_client_err_name(res.err), res.message,
                              res.method, res.url, res.attempts);
        if ((res.err == SX_E_QUOTA || res.err == SX_E_RATE) &&
            res.retry_after >= 0) {
            lua_pushnumber(L, res.retry_after);
            lua_setfield(L, -2, "retry_after");
        }
        mark_ambiguous(L, &res);
        if (res.err == SX_E_CIRCUIT) {
            lua_pushnumber(L, res.retry_after); /* until a probe */
            lua_setfield(L, -2, "retry_in");
        }
        nret = 2;
    } else if (q->tmp && ok2xx && download_size(q) == 0) {
        nret = push_fail(L, "bad_response", "empty body: nothing was "
                         "written", &res);
    } else if (q->tmp && ok2xx && commit_download(q) < 0) {
        snprintf(msg, sizeof msg, "cannot write %s: %s", q->final,
                 strerror(errno));
        nret = push_fail(L, "io", msg, &res);
    } else {
        push_response(L, &res);
    }
    lreq_free(q);
    return nret;
}

static void on_done(struct sx_req *r, void *ud)
{
    struct lreq *q = ud;
    (void)r;
    sx_task_on_cancel(q->task, NULL, NULL);
    sx_task_wake(q->task);
}

static void on_cancel(void *ud)
{
    struct lreq *q = ud;
    sx_req_cancel(q->r);
}

/* ---- checking the arguments (before anything is allocated) ------------ */

/* Raises an argument error of the call named by argument 9. */
static int argerr(lua_State *L, const char *name, const char *fmt, ...)
{
    va_list ap;
    const char *fname = lua_type(L, 9) == LUA_TSTRING ? lua_tostring(L, 9)
                                                       : "stockx.request";
    va_start(ap, fmt);
    sx_lstockx_vargerror(L, fname, name, fmt, ap);
    va_end(ap);
    return 0;
}

/* Argument i: nil, or a string without NUL; its bytes in *s, *n. */
static int opt_bytes(lua_State *L, int i, const char *name,
                     const char **s, size_t *n)
{
    *s = NULL;
    *n = 0;
    if (lua_isnoneornil(L, i))
        return 0;
    if (lua_type(L, i) != LUA_TSTRING && lua_type(L, i) != LUA_TNUMBER)
        return argerr(L, name, "string expected, got %s",
                                   luaL_typename(L, i));
    *s = lua_tolstring(L, i, n);
    if (memchr(*s, '\0', *n))
        return argerr(L, name, "contains a NUL byte");
    return 1;
}

/* The caller's headers (argument 4): names and values, all strings. */
static void check_headers(lua_State *L)
{
    if (lua_isnoneornil(L, 4))
        return;
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 4)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            argerr(L, "headers", "names and values must be "
                                "strings (got %s = %s)",
                                luaL_typename(L, -2), luaL_typename(L, -1));
        lua_pop(L, 1);
    }
}

/* Timeout (argument 6): nil or seconds in (0, the timeout setting's max]. */
static double check_timeout(lua_State *L)
{
    if (lua_isnoneornil(L, 6))
        return -1;
    double t = lua_tonumber(L, 6), max = sx_config_find("timeout")->max;
    if (lua_type(L, 6) != LUA_TNUMBER || !(t > 0 && t <= max))
        argerr(L, "timeout", "must be a number of seconds "
                            "between 0 and %g", max);
    return t;
}

/* ---- building a request (errors come back as text, nothing raised) ---- */

static int add_headers(lua_State *L, struct sx_req *r, char *err,
                       size_t errlen)
{
    if (lua_isnoneornil(L, 4))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, 4)) {
        size_t nl, vl;
        const char *n = lua_tolstring(L, -2, &nl);
        const char *v = lua_tolstring(L, -1, &vl);
        if (sx_req_header(r, n, nl, v, vl, err, errlen) < 0) {
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Opens the temporary file of a download next to it; -1 sets errno. */
static int open_download(struct lreq *q, const char *f)
{
    size_t n = strlen(f);
    if (!(q->final = strdup(f)) || !(q->tmp = malloc(n + 16)))
        return -1;
    snprintf(q->tmp, n + 16, "%s.part-XXXXXX", f);
    q->fd = mkstemp(q->tmp);
    if (q->fd < 0) {
        free(q->tmp);
        q->tmp = NULL;
        return -1;
    }
    mode_t um = umask(0);
    umask(um);
    if (fchmod(q->fd, 0666 & ~um) < 0) {
        /* keeps mkstemp's 0600: safe, only less shared */
    }
    sx_req_sink(q->r, q->fd);
    return 0;
}

static struct lreq *lreq_new(lua_State *L, struct sx_task *t)
{
    struct lstate *s = get_state(L);
    struct lreq *q = calloc(1, sizeof *q);
    if (!q || !(q->r = sx_req_new(sx_rt_get(L)->client))) {
        free(q);
        return NULL;
    }
    q->fd = -1;
    q->task = t;
    sx_list_push_front(&s->live, &q->link);
    return q;
}

struct args {
    const char *method, *path, *query, *body, *file;
    size_t body_len, n;
    double timeout;
    int idempotent;
};

static void check_args(lua_State *L, struct args *a)
{
    opt_bytes(L, 1, "method", &a->method, &a->n);
    if (!opt_bytes(L, 2, "path", &a->path, &a->n))
        argerr(L, "path", "string expected, got no value");
    opt_bytes(L, 3, "query", &a->query, &a->n);
    check_headers(L);
    if (!lua_isnoneornil(L, 5) && lua_type(L, 5) != LUA_TSTRING)
        argerr(L, "body", "string expected, got %s",
                            luaL_typename(L, 5));
    a->body = lua_tolstring(L, 5, &a->body_len);
    a->timeout = check_timeout(L);
    a->idempotent = lua_isnoneornil(L, 7) ? -1 : lua_toboolean(L, 7);
    if (opt_bytes(L, 8, "filename", &a->file, &a->n) && a->n == 0)
        argerr(L, "filename", "empty file name");
    if (!a->method)
        a->method = "GET";
}

/*
 * Builds the request; on failure frees it and returns -1 with err set.
 * A download whose file cannot be created is an error value (kind io),
 * the others are argument errors.
 */
static int build(lua_State *L, struct lreq *q, const struct args *a,
                 char *err, size_t errlen, const char **what)
{
    *what = "path";
    if (sx_req_set(q->r, a->method, a->path, a->query, err, errlen) < 0)
        return -1;
    *what = "headers";
    if (add_headers(L, q->r, err, errlen) < 0)
        return -1;
    *what = "body";
    sx_req_options(q->r, a->timeout, a->idempotent);
    if (a->body && sx_req_body(q->r, a->body, a->body_len) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (a->file && open_download(q, a->file) < 0) {
        snprintf(err, errlen, "cannot create a file next to %s: %s",
                 a->file, strerror(errno));
        *what = NULL; /* not an argument error: an error value */
        return -1;
    }
    return 0;
}

/*
 * core.request(method, path, query, headers, body, timeout, idempotent,
 * download, fname) -> res | nil, err.  Positional, for speed:
 * lua/stockx.lua has named the user's arguments; fname names the call in
 * argument errors, which point at the user's line.
 */
static int l_request(lua_State *L)
{
    char err[300];
    struct args a;
    const char *what;
    lua_settop(L, 9);
    check_args(L, &a);
    struct sx_task *t = sx_task_current(L, "stockx.request");
    struct lreq *q = lreq_new(L, t);
    if (!q)
        return luaL_error(L, "stockx.request: out of memory");
    if (build(L, q, &a, err, sizeof err, &what) < 0) {
        lreq_free(q);
        if (what)
            return argerr(L, what, "%s", err);
        lua_pushnil(L);
        sx_lstockx_push_error(L, "io", err, a.method, a.path, 0);
        return 2;
    }
    lua_settop(L, 0);
    if (sx_client_submit(q->r, on_done, q) < 0) {
        lreq_free(q);
        return luaL_error(L, "stockx.request: out of memory");
    }
    sx_task_on_cancel(t, on_cancel, q);
    return sx_task_park(L, request_k, (lua_KContext)q);
}

static long client_pending(void *ud)
{
    struct sx_stats st;
    sx_client_stats(ud, &st);
    return st.pending;
}

/* The requests the tasks just made start now, not one loop pass later. */
static void client_flush(void *ud)
{
    sx_client_flush(ud);
}

void sx_lrequest_openlib(lua_State *L)
{
    struct sx_rt *rt = sx_rt_get(L);
    struct lstate *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    sx_list_init(&s->live);
    s->source.name = "http";
    s->source.pending = client_pending;
    s->source.after_pass = client_flush;
    s->source.ud = rt->client;
    sx_rt_add_source(rt, &s->source);
    luaL_newmetatable(L, STATE_MT);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &state_key);
    if (!exit_state) {
        static int registered;
        exit_state = s;
        if (!registered++)
            atexit(unlink_parts);
    }
    for (int k = 0; k < K_RESMT - 1; k++)
        lua_pushstring(L, res_keys[k]);
    lua_createtable(L, 0, 4);                   /* the responses' metatable */
    lua_pushcfunction(L, res_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "stockx.response");      /* for printers */
    lua_setfield(L, -2, "__name");
    lua_createtable(L, 0, 1);                   /* for completion: the */
    lua_pushboolean(L, 1);                      /* field __index makes */
    lua_setfield(L, -2, "headers");
    lua_setfield(L, -2, "__complete");
    lua_createtable(L, 0, 1);                   /* weak: response -> raw */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &rawhdr_key);
    lua_pushcclosure(L, l_request, K_COUNT);
    lua_setfield(L, -2, "request");
}
