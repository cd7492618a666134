/*
 * The stockx command: parses the command line, builds the Lua state with
 * the embedded modules, and runs a script (or -e code) as the first task,
 * or serves the sandbox.  Exit status: 0 ok, 1 script error, 2 usage.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lconffile.h"
#include "lembed.h"
#include "lmetrics.h"
#include "lrepl.h"
#include "lsandbox.h"
#include "lserver.h"
#include "lstockx.h"
#include "version.h" /* SX_VERSION, written by the Makefile */
#include "ltask.h"
#include "sx_client.h"
#include "sx_config.h"
#include "sx_log.h"
#include "sx_time.h"


int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);

enum cmd { CMD_NONE, CMD_RUN, CMD_EVAL, CMD_SANDBOX, CMD_HELP, CMD_VERSION,
           CMD_SETTINGS, CMD_REPL, CMD_CONFIG };

struct cli {
    enum cmd cmd;
    const char *script;     /* file, or code for -e */
    const char *module;     /* an embedded command (stockx reprice), or NULL */
    int script_arg;         /* argv index of the script name */
    int sandbox;            /* run --sandbox, repl --sandbox */
    struct sx_config cfg;   /* defaults, config file, environment, flags */
    struct sx_conffile file;   /* the config file read, where each came from */
    const char *config_path;   /* --config FILE, or NULL */
    const char *profile;       /* --profile NAME, or NULL */
    int flag_at[64], nflags;   /* argv indices of the settings' flags */
    struct sx_sandbox_opts sandbox_opts; /* stockx sandbox / run --sandbox */
    struct sx_sandbox *sb;               /* the running sandbox, or NULL */
    double grace;           /* --grace: seconds scheduled runs may finish in */
};

static const char usage[] =
    "usage: stockx [options] run [--sandbox [sandbox options]] FILE [args...]\n"
    "       stockx [options] FILE [args...]\n"
    "       stockx [options] -e CODE [args...]\n"
    "       stockx [options] repl [--sandbox [sandbox options]]\n"
    "                          (also: stockx with no arguments on a terminal)\n"
    "       stockx sandbox [sandbox options]\n"
    "       stockx [options] reprice [--sandbox [sandbox options]] history AUDIT.jsonl [--since TIME]\n"
    "       stockx [options] reprice [--sandbox [sandbox options]] rollback AUDIT.jsonl [--since TIME]\n"
    "       stockx cron EXPR [--tz ZONE] [--count N] [--from TIME]\n"
    "       stockx [options] login [--port N] [--no-browser]\n"
    "       stockx [options] logout\n"
    "       stockx [options] config [--profile NAME]\n"
    "       stockx --help | --version\n"
    "       stockx --settings   (the settings table, as markdown)\n";

/* --help: the synopsis, then every setting with a flag or a variable. */
static void print_help(void)
{
    fputs(usage, stdout);
    fputs("\noptions (each is also a stockx.configure key):\n", stdout);
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        if (!o->flag && !o->env)
            continue;
        printf("  %-22s %s", o->flag ? o->flag : o->env, o->doc);
        if (o->def)
            printf(" (default %s)", o->def);
        if (o->flag && o->env)
            printf(" [env %s]", o->env);
        putchar('\n');
    }
    fputs("  --config FILE          the config file (default "
          "$XDG_CONFIG_HOME/stockx/config.lua) [env STOCKX_CONFIG]\n"
          "  --profile NAME         apply this profile of the config file "
          "[env STOCKX_PROFILE]\n", stdout);
    fputs("  --grace SECONDS        on SIGINT/SIGTERM, scheduled runs may finish "
          "in this time (default 10)\n", stdout);
    fputs("  --sandbox              (run, repl) serve the StockX sandbox "
          "in-process and point the client at it\n"
          "\nsandbox options (stockx sandbox, and run/repl --sandbox):\n"
          SX_SANDBOX_USAGE
          "\nThe script's arguments are in `arg`, as with the lua command.\n",
          stdout);
}

/* --settings: the README's settings table, from the same descriptors. */
static void print_settings(void)
{
    static const char *const types[] = {"URL", "secret", "file", "seconds",
                                        "integer", "rate", "level", "format",
                                        "boolean", "string", "directory",
                                        "number", "fail/wait",
                                        "host/redis URL"};
    puts("| setting | type | range | default | flag | environment | meaning |");
    puts("|---|---|---|---|---|---|---|");
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        char range[64] = "";
        if (o->type == SX_OPT_SECONDS || o->type == SX_OPT_COUNT ||
            o->type == SX_OPT_NUMBER)
            snprintf(range, sizeof range, "%.15g..%.15g", o->min, o->max);
        printf("| `%s` | %s | %s | %s | %s%s%s | %s%s%s | %s |\n", o->name,
               types[o->type], range, o->def ? o->def : "",
               o->flag ? "`" : "", o->flag ? o->flag : "", o->flag ? "`" : "",
               o->env ? "`" : "", o->env ? o->env : "", o->env ? "`" : "",
               o->doc);
    }
}

static int usage_error(const char *msg, const char *what)
{
    fprintf(stderr, "stockx: %s%s%s\n%s", msg, what ? " " : "",
            what ? what : "", usage);
    return 2;
}

/* ---- command line ----------------------------------------------------- */

/*
 * A global option: a setting's flag (recorded, applied after the config
 * file and the environment by build_config), --config or --profile.  1 if
 * argv[*i] was one, -1 on error.
 */
static int global_flag(struct cli *o, int argc, char **argv, int *i)
{
    const struct sx_opt *opt = sx_config_find_flag(argv[*i]);
    const char **file = !strcmp(argv[*i], "--config") ? &o->config_path
                        : !strcmp(argv[*i], "--profile") ? &o->profile
                                                         : NULL;
    if (!opt && !file)
        return 0;
    if (opt && o->nflags == (int)(sizeof o->flag_at / sizeof *o->flag_at))
        return usage_error("too many options at", argv[*i]), -1;
    if (opt)
        o->flag_at[o->nflags++] = *i;
    if (opt && opt->type == SX_OPT_BOOL) /* a flag alone: on */
        return 1;
    if (*i + 1 >= argc)
        return usage_error("missing value for", argv[*i]), -1;
    ++*i;
    if (file)
        *file = argv[*i];
    return 1;
}

/* --grace SECONDS (0..3600): how long scheduled runs may take to finish
 * after SIGINT/SIGTERM before they are cancelled. */
static int grace_flag(struct cli *o, int argc, char **argv, int *i)
{
    char *end;
    if (*i + 1 >= argc)
        return usage_error("missing value for", argv[*i]), -1;
    const char *v = argv[++*i];
    double g = strtod(v, &end);
    if (end == v || *end || !(g >= 0 && g <= 3600)) {
        fprintf(stderr, "stockx: --grace: '%s' is not a number of seconds "
                "from 0 to 3600\n", v);
        return -1;
    }
    o->grace = g;
    return 0;
}

/* The environment variables of the settings table (v NULL: the URLs'
 * defaults). */
static int config_from_env(struct cli *c, int defaults)
{
    char err[300];
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        const char *v = defaults ? (o->type == SX_OPT_URL ? o->def : NULL)
                                 : o->env ? getenv(o->env) : NULL;
        if (!v || !*v)
            continue;
        if (sx_config_set_text(&c->cfg, o, v, strlen(v), err, sizeof err)) {
            fprintf(stderr, "stockx: %s: %s\n", o->env ? o->env : o->name,
                    err);
            return -1;
        }
        if (!defaults)
            sx_conffile_mark(&c->file, o, SX_SRC_ENV);
    }
    return 0;
}

static const char *env_or(const char *v, const char *name)
{
    v = v ? v : getenv(name);
    return v && *v ? v : NULL;
}

/* Defaults < the config file (its profile) < environment < flags. */
static int build_config(struct cli *o, char **argv)
{
    char err[600];
    const char *path = env_or(o->config_path, "STOCKX_CONFIG");
    if (config_from_env(o, 1) < 0)
        return -1;
    /* the profile also names the OAuth token file (lua/stockx/auth.lua) */
    if (o->profile && setenv("STOCKX_PROFILE", o->profile, 1) < 0)
        return perror("stockx: setenv"), -1;
    if (sx_conffile_load(&o->file, &o->cfg, path,
                         env_or(o->profile, "STOCKX_PROFILE"), err,
                         sizeof err) < 0)
        return fprintf(stderr, "stockx: %s\n", err), -1;
    if (config_from_env(o, 0) < 0)
        return -1;
    for (int n = 0; n < o->nflags; n++) {
        int i = o->flag_at[n];
        const struct sx_opt *opt = sx_config_find_flag(argv[i]);
        const char *v = opt->type == SX_OPT_BOOL ? "true" : argv[i + 1];
        if (sx_config_set_text(&o->cfg, opt, v, strlen(v), err, sizeof err))
            return fprintf(stderr, "stockx: %s: %s\n", argv[i], err), -1;
        sx_conffile_mark(&o->file, opt, SX_SRC_FLAG);
    }
    return 0;
}

/* Sandbox flags from argv[*i] on (all of them for `stockx sandbox`). */
static int sandbox_flags(struct cli *o, int argc, char **argv, int *i,
                         int all)
{
    char err[200];
    int next = sx_sandbox_flags(&o->sandbox_opts, argc, argv, *i, all, err,
                                sizeof err);
    if (next < 0)
        return usage_error(err, NULL);
    *i = next - 1;
    return 0;
}

/* Commands written in Lua (lua/stockx/cmd/NAME.lua): the module, or NULL. */
static const char *embedded_command(const char *name)
{
    static const char *const cmds[][2] = {
        {"reprice", "stockx.cmd.reprice"},
        {"cron", "stockx.cmd.cron"},
        {"login", "stockx.cmd.login"},
        {"logout", "stockx.cmd.logout"}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(name, cmds[i][0]))
            return cmds[i][1];
    return NULL;
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int g = global_flag(o, argc, argv, &i);
        if (g < 0)
            return 2;
        if (g)
            continue;
        if (!strcmp(a, "--grace")) {
            if (grace_flag(o, argc, argv, &i) < 0)
                return 2;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            o->cmd = CMD_HELP;
            return 0;
        }
        if (!strcmp(a, "--settings")) {
            o->cmd = CMD_SETTINGS;
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            o->cmd = CMD_VERSION;
            return 0;
        }
        if (!strcmp(a, "--sandbox") &&
            (o->cmd == CMD_RUN || o->cmd == CMD_REPL)) {
            o->sandbox = 1;
            i++;
            if (sandbox_flags(o, argc, argv, &i, 0))
                return 2;
            continue;
        }
        if (!strcmp(a, "-e")) {
            if (i + 1 >= argc)
                return usage_error("-e needs", "CODE");
            o->cmd = CMD_EVAL;
            o->script = argv[++i];
            o->script_arg = i;
            return 0;
        }
        if (o->cmd == CMD_NONE && !strcmp(a, "sandbox")) {
            o->cmd = CMD_SANDBOX;
            i++;
            return sandbox_flags(o, argc, argv, &i, 1);
        }
        if (o->cmd == CMD_NONE && embedded_command(a)) {
            o->cmd = CMD_RUN; /* the embedded command, run as a script */
            o->module = embedded_command(a);
            o->script = a;
            if (i + 1 < argc && !strcmp(argv[i + 1], "--sandbox")) {
                o->sandbox = 1;
                i += 2;
                if (sandbox_flags(o, argc, argv, &i, 0))
                    return 2;
            }
            o->script_arg = i;
            return 0;
        }
        if (o->cmd == CMD_NONE && !strcmp(a, "run")) {
            o->cmd = CMD_RUN;
            continue;
        }
        if (o->cmd == CMD_NONE && !strcmp(a, "repl")) {
            o->cmd = CMD_REPL;
            continue;
        }
        if (o->cmd == CMD_NONE && !strcmp(a, "config")) {
            o->cmd = CMD_CONFIG;
            continue;
        }
        if (o->cmd == CMD_REPL || o->cmd == CMD_CONFIG)
            return usage_error(o->cmd == CMD_REPL ? "repl takes no FILE:"
                               : "config takes no argument:", a);
        if (a[0] == '-' && a[1])
            return usage_error("unknown option", a);
        o->cmd = CMD_RUN;
        o->script = a;
        o->script_arg = i;
        return 0;
    }
    if (o->cmd == CMD_RUN)
        return usage_error("run needs a", "FILE");
    if (o->cmd == CMD_NONE && isatty(0))
        o->cmd = CMD_REPL;
    if (o->cmd == CMD_NONE)
        return usage_error("nothing to do", NULL);
    return 0;
}

static void print_version(void)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    printf("stockx %s\n%s\nlibcurl %s (%s%s%s)\nlibevent %s\n", SX_VERSION,
           LUA_RELEASE, v->version, v->ssl_version ? v->ssl_version : "",
           v->nghttp2_version ? ", nghttp2/" : "",
           v->nghttp2_version ? v->nghttp2_version : "", event_get_version());
}

/* ---- the Lua state ---------------------------------------------------- */

static const luaL_Reg c_modules[] = {
    {"cjson", luaopen_cjson},
    {"cjson.safe", luaopen_cjson_safe},
    {"stockx.core", luaopen_stockx_core},
    {"stockx.server", luaopen_stockx_server}, /* stockx login's callback */
    {"stockx.metrics.core", luaopen_stockx_metrics_core},
    {NULL, NULL}};

/* Registers the C modules and the embedded Lua ones in package.preload. */
static void preload(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    luaL_setfuncs(L, c_modules, 0);
    lua_pop(L, 1);
    sx_lembed_preload(L, 0);
}

/* [-0, +0] stockx = require "stockx" (the client is already configured). */
static int setup_stockx(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "stockx");
    lua_call(L, 1, 1);
    lua_setglobal(L, "stockx");
    return 0;
}

/*
 * [-0, +0] package.path gets the script's own directory first (so
 * `require "helpers"` works from cron, whatever the working directory),
 * then $XDG_CONFIG_HOME/stockx/lua (default ~/.config) for shared modules.
 */
static void setup_path(lua_State *L, const struct cli *o)
{
    luaL_Buffer b;
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    lua_getglobal(L, "package");
    luaL_buffinit(L, &b);
    if (o->cmd == CMD_RUN && !o->module && strcmp(o->script, "-") != 0) {
        const char *slash = strrchr(o->script, '/');
        size_t n = slash ? (size_t)(slash - o->script) + 1 : 0;
        for (int i = 0; i < 2; i++) {
            luaL_addlstring(&b, o->script, n);
            luaL_addstring(&b, i ? "?/init.lua;" : "?.lua;");
        }
    }
    if (xdg && *xdg)
        lua_pushfstring(L, "%s/stockx/lua/?.lua;", xdg);
    else if (home && *home)
        lua_pushfstring(L, "%s/.config/stockx/lua/?.lua;", home);
    else
        lua_pushliteral(L, "");
    luaL_addvalue(&b);
    lua_getfield(L, -2, "path");
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

/* [-0, +0] stockx.configure{base_url=, api_key=, access_token=, the OAuth
 * server and client}. */
static int point_at_sandbox(lua_State *L)
{
    struct sx_sandbox *sb = lua_touserdata(L, 1);
    lua_getglobal(L, "stockx");
    lua_getfield(L, -1, "configure");
    lua_createtable(L, 0, 7);
    lua_pushstring(L, sx_sandbox_url(sb));
    lua_setfield(L, -2, "base_url");
    lua_pushstring(L, sx_sandbox_api_key(sb));
    lua_setfield(L, -2, "api_key");
    lua_pushstring(L, sx_sandbox_access_token(sb));
    lua_setfield(L, -2, "access_token");
    /* its OAuth server and client (lua/stockx/sandbox/oauth.lua's defaults) */
    lua_pushstring(L, sx_sandbox_url(sb));
    lua_setfield(L, -2, "auth_url");
    lua_pushliteral(L, "sandbox-client-id");
    lua_setfield(L, -2, "client_id");
    lua_pushliteral(L, "sandbox-client-secret");
    lua_setfield(L, -2, "client_secret");
    /* a sandbox of our own, on a port of its own: nothing to share */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "rate_share");
    lua_call(L, 1, 0);
    return 0;
}

/*
 * Starts the sandbox (its own Lua state, on our loop); for run --sandbox,
 * points the client at it.  0, or the exit status (2: a bad flag value).
 */
static int start_sandbox(struct cli *o, struct event_base *base, lua_State *L)
{
    int bad_flag;
    o->sb = sx_sandbox_open(base, &o->sandbox_opts, &bad_flag);
    if (o->sb == NULL)
        return bad_flag ? 2 : 1;
    if (o->cmd == CMD_SANDBOX) {
        printf("stockx sandbox listening on %s\n", sx_sandbox_url(o->sb));
        fflush(stdout);
        return 0;
    }
    lua_pushcfunction(L, point_at_sandbox);
    lua_pushlightuserdata(L, o->sb);
    return sx_rt_pcall(L, 1, 0) < 0 ? 1 : 0;
}

/* [-0, +0] Pushes the arg table and spawns the main chunk as a task. */
static int start_script(lua_State *L)
{
    struct cli *o = lua_touserdata(L, 1);
    char **argv = lua_touserdata(L, 2);
    int argc = (int)lua_tointeger(L, 3), st, n = 0;
    setup_path(L, o);
    if (o->module) { /* require(module) returns the command's function */
        lua_getglobal(L, "require");
        lua_pushstring(L, o->module);
        lua_call(L, 1, 1);
        st = LUA_OK;
    } else if (o->cmd == CMD_EVAL)
        st = luaL_loadbuffer(L, o->script, strlen(o->script), "=(command line)");
    else
        st = luaL_loadfile(L, strcmp(o->script, "-") ? o->script : NULL);
    if (st != LUA_OK)
        return lua_error(L);
    lua_createtable(L, argc - o->script_arg, o->script_arg + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - o->script_arg);
    }
    lua_setglobal(L, "arg");
    for (int i = o->script_arg + 1; i < argc; i++, n++)
        lua_pushstring(L, argv[i]);
    sx_task_spawn(L, n);
    lua_pop(L, 1);
    return 0;
}

/* [-0, +0] The REPL's chunks find modules as -e code does; arg = {}. */
static int start_repl(lua_State *L)
{
    setup_path(L, lua_touserdata(L, 1));
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "stockx");
    lua_rawseti(L, -2, 0);
    lua_setglobal(L, "arg");
    return 0;
}

/* ---- running ---------------------------------------------------------- */

/*
 * SIGINT and SIGTERM.  A plain script stops at once: the handler records
 * the signal, wakes the loop through a pipe, and, like lua.c, sets a hook
 * so that a task busy in Lua code (which never returns to the loop) stops
 * at its next instruction; a second signal gets the default action.
 *
 * A process with scheduled jobs (a shutdown function is registered) shuts
 * down gracefully: the first signal makes the loop run that function (no
 * more runs start) and arms a timer for the grace period (--grace); runs
 * that end within it leave exit status 0.  When the timer fires (SIGALRM)
 * busy code is interrupted and every task left is cancelled, closing its
 * <close> variables.  A second signal stops at once, as for a script.
 */
static volatile sig_atomic_t interrupted; /* the first SIGINT/SIGTERM */
static volatile sig_atomic_t stop_now;    /* stop everything now */
static volatile sig_atomic_t grace_over;  /* the grace period ended */
static struct itimerval grace_timer;      /* the grace period, or zero */
static int sig_pipe[2] = {-1, -1};
static struct sx_rt *sig_rt;

static void on_signal(int sig)
{
    int saved = errno;
    char c = 0;
    if (sig == SIGALRM) {
        grace_over = 1;
        if (sig_rt) /* code busy in Lua now; waiting tasks get cancelled */
            sx_rt_interrupt_busy(sig_rt);
    } else if (!interrupted && sig_rt && sig_rt->graceful) {
        interrupted = sig;
        if (grace_timer.it_value.tv_sec || grace_timer.it_value.tv_usec)
            setitimer(ITIMER_REAL, &grace_timer, NULL);
        else
            grace_over = 1;
    } else {
        if (!interrupted)
            interrupted = sig;
        stop_now = 1;
        signal(sig, SIG_DFL);
        if (sig_rt)
            sx_rt_interrupt(sig_rt);
    }
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: the loop is already being woken */
    }
    errno = saved;
}

static void log_shutdown(const char *event, double grace)
{
    char g[32];
    snprintf(g, sizeof g, "%.3f", grace);
    struct sx_log_field f[] = {
        {"signal", interrupted == SIGINT ? "SIGINT" : "SIGTERM", 0},
        {"grace", g, 1}};
    sx_log(SX_LOG_INFO, event, f, grace >= 0 ? 2 : 1);
}

/* In the loop, after the handler wrote to the pipe: the next step. */
static void on_signal_pipe(evutil_socket_t fd, short what, void *arg)
{
    static int shutdown_started, cancelled;
    struct sx_rt *rt = arg;
    char buf[16];
    (void)what;
    while (read(fd, buf, sizeof buf) > 0) {
    }
    if (stop_now || !rt->graceful) {
        event_base_loopbreak(rt->base);
    } else if (grace_over && !cancelled) {
        cancelled = 1;
        log_shutdown("shutdown.grace_over", -1);
        if (sx_task_cancel_all(rt->L, "shutting down: the grace period is over") < 0)
            event_base_loopbreak(rt->base);
    } else if (interrupted && !shutdown_started) {
        shutdown_started = 1;
        log_shutdown("shutdown.started", (double)grace_timer.it_value.tv_sec +
                                         grace_timer.it_value.tv_usec / 1e6);
        if (sx_rt_shutdown(rt) < 0)
            event_base_loopbreak(rt->base);
        if (grace_over && !cancelled) { /* --grace 0 */
            cancelled = 1;
            sx_task_cancel_all(rt->L, "shutting down: the grace period is over");
        }
    }
}

/* Installs the handlers; the returned event watches the pipe. */
static struct event *catch_signals(struct event_base *base, struct sx_rt *rt,
                                   double grace)
{
    struct sigaction sa;
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return NULL;
    struct event *ev = event_new(base, sig_pipe[0], EV_READ | EV_PERSIST,
                                 on_signal_pipe, rt);
    if (!ev || event_add(ev, NULL) < 0)
        return ev;
    sig_rt = rt;
    memset(&grace_timer, 0, sizeof grace_timer);
    grace_timer.it_value = sx_time_tv(grace);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    return ev;
}

static void release_signals(struct event *ev)
{
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    sig_rt = NULL;
    if (ev)
        event_free(ev);
    for (int i = 0; i < 2; i++) {
        if (sig_pipe[i] >= 0)
            close(sig_pipe[i]);
        sig_pipe[i] = -1;
    }
}

static int protected(lua_State *L, lua_CFunction f, struct cli *o,
                     char **argv, int argc)
{
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, o);
    lua_pushlightuserdata(L, argv);
    lua_pushinteger(L, argc);
    return sx_rt_pcall(L, 3, 0);
}

static int serve_forever(struct event_base *base)
{
    event_base_dispatch(base);
    return 0;
}

static int run(struct cli *o, struct event_base *base, lua_State *L,
               struct sx_rt *rt, int argc, char **argv)
{
    int st;
    /* only the command line and the environment can make this fail */
    if (protected(L, setup_stockx, o, argv, argc) < 0)
        return 1;
    if ((o->cmd == CMD_SANDBOX || o->sandbox) &&
        (st = start_sandbox(o, base, L)) != 0)
        return st;
    if (o->cmd == CMD_SANDBOX)
        return serve_forever(base);
    if (o->cmd == CMD_REPL)
        return protected(L, start_repl, o, argv, argc) < 0 ? 1
                                                           : sx_repl_run(rt);
    if (protected(L, start_script, o, argv, argc) < 0)
        return 1;
    return sx_rt_run(rt);
}

static int run_all(struct cli *o, int argc, char **argv)
{
    char err[200];
    int status = 1;
    struct event_base *base = event_base_new();
    struct sx_client *client = base ? sx_client_new(base, err, sizeof err)
                                    : NULL;
    if (client && sx_client_set_config(client, &o->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "stockx: %s\n", err);
        sx_client_free(client);
        client = NULL;
        status = 2;
    }
    lua_State *L = client ? luaL_newstate() : NULL;
    struct sx_rt *rt = L ? sx_rt_open(L, base, client) : NULL;
    struct event *sigev = NULL;
    if (!rt) {
        if (status != 2)
            fprintf(stderr, "stockx: cannot start: %s\n",
                    client ? "out of memory" : err);
        goto out;
    }
    luaL_openlibs(L);
    preload(L);
    sx_lserver_set_base(L, base);
    sigev = catch_signals(base, rt, o->grace);
    status = run(o, base, L, rt, argc, argv);
    if (interrupted && o->cmd == CMD_SANDBOX) {
        fprintf(stderr, "stockx sandbox: stopped\n");
        status = 0;
    } else if (stop_now || grace_over) {
        sx_log_erase_line(stderr);
        fprintf(stderr, "stockx: interrupted\n");
        status = 128 + interrupted;
    } else if (interrupted) {
        log_shutdown("shutdown.done", -1); /* every run ended in time */
    }
out:
    release_signals(sigev);
    if (L)
        lua_close(L);
    sx_sandbox_close(o->sb);
    sx_rt_close(rt);
    sx_client_free(client);
    if (base)
        event_base_free(base);
    return status;
}

int main(int argc, char **argv)
{
    struct cli o;
    memset(&o, 0, sizeof o);
    o.grace = 10;
    sx_config_defaults(&o.cfg);
    int rc = parse_args(&o, argc, argv);
    if (!rc && o.cmd != CMD_HELP && o.cmd != CMD_SETTINGS &&
        o.cmd != CMD_VERSION && build_config(&o, argv) < 0)
        rc = 2;
    if (rc) {
        sx_config_free(&o.cfg);
        return rc;
    }
    sx_log_setup((enum sx_log_level)o.cfg.log_level, o.cfg.log_json, stderr);
    if (o.cmd == CMD_HELP || o.cmd == CMD_SETTINGS) {
        if (o.cmd == CMD_HELP)
            print_help();
        else
            print_settings();
        sx_config_free(&o.cfg);
        return 0;
    }
    if (o.cmd == CMD_VERSION || o.cmd == CMD_CONFIG) {
        if (o.cmd == CMD_VERSION)
            print_version();
        else
            sx_conffile_report(&o.file, &o.cfg, stdout);
        sx_config_free(&o.cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "stockx: cannot initialise libcurl\n");
        return 1;
    }
    if (!sx_client_asynch_dns())
        sx_log(SX_LOG_WARN, "curl.no_async_dns", NULL, 0);
    rc = run_all(&o, argc, argv);
    sx_config_free(&o.cfg);
    curl_global_cleanup();
    return rc;
}
