/*
 * The configuration file (see lconffile.h).  The chunk runs in a Lua
 * state of its own: no io, os, require, load or debug, pcall or
 * metatables, string patterns left out (a C loop no hook can stop), a
 * 16 MB memory cap and a budget of 10 million instructions, its _ENV a
 * fresh table.  It must return a table; that table is then applied in C
 * through the same descriptors as stockx.configure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lconffile.h"
#include "lconfig.h"

#define MEM_LIMIT ((size_t)16 << 20)
#define FILE_LIMIT ((size_t)1 << 20)
#define HOOK_STEP 1000
#define MAX_STEPS 10000 /* times HOOK_STEP instructions */
#define MAX_PROFILES 64

/* The evaluation's state: the allocator's and the hook's accounts. */
struct eval {
    size_t used;
    int steps;
    int out_of_memory, too_long, syntax;
    struct sx_conffile *f;
    struct sx_config *k;
    const char *buf;   /* the file's text */
    size_t len;
};

/* Counts, caps, and wipes what it frees: the file's secrets live here. */
static void *eval_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct eval *e = ud;
    void *p;
    if (!ptr)
        osize = 0; /* then osize is a type tag */
    if (nsize == 0) {
        if (ptr) {
            memset(ptr, 0, osize);
            free(ptr);
            e->used -= osize;
        }
        return NULL;
    }
    if (nsize > osize && nsize - osize > MEM_LIMIT - e->used) {
        e->out_of_memory = 1;
        return NULL;
    }
    if (!(p = malloc(nsize)))
        return nsize <= osize ? ptr : NULL; /* a shrink cannot fail */
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        memset(ptr, 0, osize);
        free(ptr);
    }
    e->used = e->used - osize + nsize;
    return p;
}

static void eval_hook(lua_State *L, lua_Debug *ar)
{
    struct eval *e;
    (void)ar;
    lua_getallocf(L, (void **)&e);
    if (++e->steps > MAX_STEPS) {
        e->too_long = 1;
        luaL_error(L, "too long");
    }
}

static const char *path_of(lua_State *L)
{
    struct eval *e;
    lua_getallocf(L, (void **)&e);
    return e->f->path;
}

/* [-0, +1] The chunk's _ENV: values and pure functions only. */
static void push_env(lua_State *L)
{
    static const char *const base[] = {"assert", "error", "ipairs", "next",
                                       "pairs", "select", "tonumber",
                                       "tostring", "type", NULL};
    static const char *const no_string[] = {"find", "match", "gmatch",
                                            "gsub", "dump", NULL};
    lua_newtable(L);
    luaL_requiref(L, "_G", luaopen_base, 0);
    for (int i = 0; base[i]; i++) {
        lua_getfield(L, -1, base[i]);
        lua_setfield(L, -3, base[i]);
    }
    lua_pop(L, 1);
    luaL_requiref(L, "string", luaopen_string, 0); /* also strings' __index */
    for (int i = 0; no_string[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, no_string[i]);
    }
    lua_setfield(L, -2, "string");
    luaL_requiref(L, "math", luaopen_math, 0);
    lua_setfield(L, -2, "math");
    luaL_requiref(L, "table", luaopen_table, 0);
    lua_setfield(L, -2, "table");
}

/* Raises "FILE: WHERE+NAME: what" (o's own name left out of what). */
static int bad(lua_State *L, const char *where, const char *name,
               const char *what)
{
    size_t n = strlen(name);
    if (what[0] == '\'' && !strncmp(what + 1, name, n) &&
        !strncmp(what + 1 + n, "' ", 2))
        what += n + 3;
    return luaL_error(L, "%s: %s%s: %s", path_of(L), where, name, what);
}

static int unknown(lua_State *L, const char *where, const char *name)
{
    const char *names[SX_CONFFILE_MAXOPTS + 3], *near;
    size_t n = 0;
    for (const struct sx_opt *o = sx_config_opts; o->name; o++)
        names[n++] = o->name;
    names[n++] = "retry";
    names[n++] = *where ? "retry" : "profiles";
    names[n] = NULL;
    near = sx_config_suggest(name, names);
    lua_pushfstring(L, "unknown setting%s%s%s", near ? " (did you mean " : "",
                    near ? near : "", near ? "?)" : "");
    return bad(L, where, name, lua_tostring(L, -1));
}

/* Applies table t (keys under group: "" or "retry.") to the settings. */
static void apply(lua_State *L, struct eval *e, int t, const char *where,
                  const char *group)
{
    char err[300];
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: %skeys must be strings (got %s)", e->f->path,
                       where, luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        const char *name = lua_pushfstring(L, "%s%s", group, key);
        const struct sx_opt *o = sx_config_find(name);
        lua_pop(L, 1);
        if (!*group && !strcmp(key, "profiles")) {
            if (*where)
                bad(L, where, key, "a profile cannot hold profiles");
        } else if (!*group && !strcmp(key, "retry")) {
            if (!lua_istable(L, -1))
                bad(L, where, key, "must be a table {max_attempts = 5, ...}");
            apply(L, e, lua_gettop(L), where, "retry.");
        } else if (!*group && !strcmp(key, "breaker") && lua_istable(L, -1)) {
            e->k->breaker_on = 1; /* breaker = {...}; false: the setting */
            sx_conffile_mark(e->f, o, *where ? SX_SRC_PROFILE : SX_SRC_FILE);
            apply(L, e, lua_gettop(L), where, "breaker.");
        } else if (!*group && strchr(key, '.')) {
            bad(L, where, key, "no dotted keys: write retry = {...}");
        } else if (!o) {
            unknown(L, where, lua_pushfstring(L, "%s%s", group, key));
        } else if (sx_lconfig_set(L, e->k, o, lua_gettop(L), err,
                                  sizeof err) < 0) {
            bad(L, where, o->name, err);
        } else {
            sx_conffile_mark(e->f, o, *where ? SX_SRC_PROFILE : SX_SRC_FILE);
        }
        lua_pop(L, 1);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if table t sets a secret. */
static int has_secret(lua_State *L, int t)
{
    int found = 0;
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        if (lua_getfield(L, t, o->name) == LUA_TSTRING &&
            sx_config_holds_secret(o, lua_tostring(L, -1)))
            found = 1;
        lua_pop(L, 1);
    }
    return found;
}

/* Checks profiles (t.profiles), lists their names; 1 if one sets a
 * secret. */
static int list_profiles(lua_State *L, struct eval *e, int t)
{
    const char *names[MAX_PROFILES];
    size_t n = 0, used = 0;
    int secret = 0;
    if (lua_getfield(L, t, "profiles") == LUA_TNIL)
        return lua_pop(L, 1), 0;
    if (!lua_istable(L, -1))
        bad(L, "", "profiles", "must be a table {name = {...}, ...}");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            luaL_error(L, "%s: profiles: each must be name = {...}",
                       e->f->path);
        if (n == MAX_PROFILES)
            luaL_error(L, "%s: profiles: more than %d", e->f->path,
                       MAX_PROFILES);
        names[n++] = lua_tostring(L, -2);
        secret |= has_secret(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(e->f->profiles + used, sizeof e->f->profiles - used,
                         "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof e->f->profiles - used)
            break;
        used += (size_t)w;
    }
    lua_pop(L, 1);
    return secret;
}

/* Writes "file holds a secret and is readable by group or others". */
static void warn_mode(const struct sx_conffile *f, mode_t mode)
{
    fprintf(stderr, "stockx: warning: %s holds a secret and can be read by "
            "group or others (mode %04o); fix it with: chmod 600 %s\n",
            f->path, (unsigned)(mode & 07777), f->path);
}

/* Protected: runs the chunk, then applies its table (and the profile's). */
static int run_file(lua_State *L)
{
    struct eval *e = lua_touserdata(L, 1);
    const mode_t *mode = lua_touserdata(L, 2);
    lua_settop(L, 0);
    lua_pushfstring(L, "@%s", e->f->path);
    if (luaL_loadbufferx(L, e->buf, e->len, lua_tostring(L, 1), "t")) {
        e->syntax = 1;
        return lua_error(L);
    }
    push_env(L);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: must return a table of settings, as in "
                   "return { timeout = 10 } (got %s)", e->f->path,
                   luaL_typename(L, -1));
    int t = lua_gettop(L);
    int secret = list_profiles(L, e, t) | has_secret(L, t);
    if (secret && (*mode & 077))
        warn_mode(e->f, *mode);
    apply(L, e, t, "", "");
    if (!e->f->profile)
        return 0;
    lua_getfield(L, t, "profiles");
    if (!lua_istable(L, -1) || lua_getfield(L, -1, e->f->profile) == LUA_TNIL)
        luaL_error(L, "%s: unknown profile '%s' (%s%s)", e->f->path,
                   e->f->profile, *e->f->profiles ? "profiles: " : "the "
                   "file has no profiles", e->f->profiles);
    const char *where = lua_pushfstring(L, "profiles.%s.", e->f->profile);
    apply(L, e, lua_gettop(L) - 1, where, "");
    return 0;
}

/*
 * Copies the error message, minus what could quote the file's text (a
 * secret): a syntax error's " near 'token'", a "(constant 'text')".
 */
static void clean_message(const char *msg, int syntax, char *err,
                          size_t errlen)
{
    const char *c;
    snprintf(err, errlen, "%s", msg);
    if (syntax && (c = strstr(err, " near ")))
        err[c - err] = '\0';
    if ((c = strstr(err, "(constant '")))
        snprintf(err + (c - err), errlen - (size_t)(c - err), "(a constant)");
}

static int evaluate(struct sx_conffile *f, struct sx_config *k,
                    const char *buf, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    struct eval e = {0, 0, 0, 0, 0, f, k, buf, len};
    lua_State *L = lua_newstate(eval_alloc, &e);
    if (!L)
        return snprintf(err, errlen, "%s: out of memory", f->path), -1;
    lua_sethook(L, eval_hook, LUA_MASKCOUNT, HOOK_STEP);
    lua_pushcfunction(L, run_file);
    lua_pushlightuserdata(L, &e);
    lua_pushlightuserdata(L, &mode);
    int st = lua_pcall(L, 2, 0, 0);
    if (st != LUA_OK && e.too_long)
        snprintf(err, errlen, "%s: ran more than %d million instructions: "
                 "a config file can only compute values", f->path,
                 MAX_STEPS * HOOK_STEP / 1000000);
    else if (st != LUA_OK && (e.out_of_memory || st == LUA_ERRMEM))
        snprintf(err, errlen, "%s: needs more than %zu MB of memory",
                 f->path, MEM_LIMIT >> 20);
    else if (st != LUA_OK && lua_type(L, -1) == LUA_TSTRING)
        clean_message(lua_tostring(L, -1), e.syntax, err, errlen);
    else if (st != LUA_OK)
        snprintf(err, errlen, "%s: error object is a %s value", f->path,
                 luaL_typename(L, -1));
    if (st != LUA_OK && strstr(err, "a nil value (global '"))
        snprintf(err + strlen(err), errlen - strlen(err), " (a config file "
                 "has no io, os, require or load: it can only compute "
                 "values)");
    lua_close(L);
    return st == LUA_OK ? 0 : -1;
}

/* The default path, $XDG_CONFIG_HOME or ~/.config; "" if neither. */
static void default_path(struct sx_conffile *f)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(f->path, sizeof f->path, "%s/stockx/config.lua", xdg);
    else if (home && *home)
        snprintf(f->path, sizeof f->path, "%s/.config/stockx/config.lua",
                 home);
}

/* Refuses what is not a regular file of ours (or root's) that only we
 * can write, as ssh does; reads it whole.  0, or -1 with err. */
static int read_file(struct sx_conffile *f, int fd, struct stat *st,
                     char **buf, size_t *len, char *err, size_t errlen)
{
    ssize_t n = 0;
    if (fstat(fd, st) < 0)
        return snprintf(err, errlen, "%s: %s", f->path, strerror(errno)), -1;
    if (!S_ISREG(st->st_mode))
        return snprintf(err, errlen, "%s: not a regular file", f->path), -1;
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return snprintf(err, errlen, "%s: owned by another user (uid %u); "
                        "stockx reads only a config file of yours", f->path,
                        (unsigned)st->st_uid), -1;
    if (st->st_mode & 022)
        return snprintf(err, errlen, "%s: writable by group or others; fix "
                        "it with: chmod go-w %s", f->path, f->path), -1;
    if ((size_t)st->st_size > FILE_LIMIT)
        return snprintf(err, errlen, "%s: larger than %zu bytes", f->path,
                        FILE_LIMIT), -1;
    if (!(*buf = malloc((size_t)st->st_size + 1)))
        return snprintf(err, errlen, "%s: out of memory", f->path), -1;
    for (*len = 0; *len <= (size_t)st->st_size; *len += (size_t)n)
        if ((n = read(fd, *buf + *len, (size_t)st->st_size + 1 - *len)) <= 0)
            break;
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
        free(*buf);
        return -1;
    }
    return 0;
}

int sx_conffile_load(struct sx_conffile *f, struct sx_config *k,
                     const char *path, const char *profile, char *err,
                     size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    memset(f, 0, sizeof *f);
    f->profile = profile;
    if (sx_config_nopts > SX_CONFFILE_MAXOPTS)
        return snprintf(err, errlen, "too many settings"), -1;
    if (path)
        snprintf(f->path, sizeof f->path, "%s", path);
    else
        default_path(f);
    int fd = *f->path ? open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
    if (fd < 0 && (path || (*f->path && errno != ENOENT)))
        return snprintf(err, errlen, "%s: %s", f->path, strerror(errno)), -1;
    if (fd < 0 && profile)
        return snprintf(err, errlen, "unknown profile '%s' (there is no "
                        "config file%s%s)", profile, *f->path ? " " : "",
                        f->path), -1;
    if (fd < 0)
        return 0;
    int rc = read_file(f, fd, &st, &buf, &len, err, errlen);
    close(fd);
    if (rc < 0)
        return -1;
    f->found = 1;
    rc = evaluate(f, k, buf, len, st.st_mode, err, errlen);
    memset(buf, 0, len);
    free(buf);
    return rc;
}

void sx_conffile_mark(struct sx_conffile *f, const struct sx_opt *o,
                      enum sx_conffile_src src)
{
    size_t i = (size_t)(o - sx_config_opts);
    if (i < SX_CONFFILE_MAXOPTS)
        f->src[i] = (unsigned char)src;
}

void sx_conffile_report(const struct sx_conffile *f,
                        const struct sx_config *k, FILE *out)
{
    char v[256];
    fprintf(out, "config file: %s%s\n", *f->path ? f->path : "none",
            !*f->path ? " (neither XDG_CONFIG_HOME nor HOME is set)"
            : f->found ? "" : " (not found)");
    fprintf(out, "profiles: %s", *f->profiles ? f->profiles : "none");
    if (f->profile)
        fprintf(out, " (selected: %s)", f->profile);
    fprintf(out, "\n\n%-26s %-30s %s\n", "setting", "value", "from");
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        size_t i = (size_t)(o - sx_config_opts);
        int src = i < SX_CONFFILE_MAXOPTS ? f->src[i] : SX_SRC_DEFAULT;
        fprintf(out, "%-26s %-30s ", o->name,
                sx_config_format(k, o, v, sizeof v));
        if (src == SX_SRC_FILE)
            fprintf(out, "config %s\n", f->path);
        else if (src == SX_SRC_PROFILE)
            fprintf(out, "profile %s\n", f->profile);
        else if (src == SX_SRC_ENV)
            fprintf(out, "env %s\n", o->env);
        else if (src == SX_SRC_FLAG)
            fprintf(out, "flag %s\n", o->flag);
        else
            fprintf(out, "default\n");
    }
}
