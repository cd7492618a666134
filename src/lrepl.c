/*
 * The REPL (see lrepl.h).  One persistent read event on stdin feeds
 * readline's callback interface, so the loop never blocks on the user:
 * tasks, requests and timers go on while the prompt waits.  A complete
 * chunk takes the prompt down and runs as a task, the runtime's
 * foreground, which Ctrl-C alone stops; once it has ended, this module's
 * waiter source (after_pass) prints its results and puts the prompt back.
 * Lines written meanwhile (print, the log, error reports) go through the
 * log's writer, which clears the prompt and the half-typed line and
 * redraws them below.  The signals are ours: readline catches none.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrepl.h"
#include "lrt.h"
#include "ltask.h"
#include "sx_buf.h"
#include "sx_client.h"
#include "sx_config.h"
#include "sx_log.h"

#define CHUNK_MAX ((size_t)16 << 20) /* a chunk being typed or piped */
#define HISTORY_MAX 1000             /* entries kept, in memory and file */
#define STUCK_SECONDS 2 /* a 2nd Ctrl-C this late, unheard: stop it all */
#define PROMPT_MAX 256

struct repl {
    struct sx_rt *rt;
    lua_State *L;
    int tty;              /* stdin is a terminal: readline */
    int kicked;           /* stdin is a file: read when we want */
    struct event *in_ev;  /* stdin readable, or the kick of a file */
    struct event *sig_ev; /* our signal pipe */
    struct sx_buf chunk;  /* the lines of the chunk being read */
    struct sx_buf input;  /* from a pipe: bytes not yet a line */
    int fg;               /* the chunk's task (a reference) or LUA_NOREF */
    volatile sig_atomic_t interrupted; /* Ctrl-C reached the chunk */
    volatile sig_atomic_t chunk_no;    /* chunks started */
    int reading;          /* the prompt is up / lines are taken */
    int installed;        /* readline's line handler is */
    int resized;          /* the window changed while no prompt was up */
    int eof;              /* the input has ended */
    int done;             /* and the REPL with it */
    char *histfile;       /* NULL: no history file */
    struct sx_rt_source source;
};

/* One per process, as readline is; static, so the runtime's list of
 * sources never points at freed memory. */
static struct repl repl;
static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_int, int_chunk, got_winch, got_cont;
static volatile time_t int_at; /* when the unheard Ctrl-C came */
static volatile sig_atomic_t int_chunk_no; /* the chunk it was meant for */
static struct sigaction old_int, old_winch, old_cont;

static void take_line(struct repl *r, const char *line, size_t n);
static void end_of_input(struct repl *r);

/* ---- output ------------------------------------------------------------ */

/*
 * The log's writer while the prompt is up: clear the prompt and the line
 * being typed, write, draw them again (readline still holds the text).
 */
static void repl_writer(void *ud, FILE *out, const char *s, size_t n)
{
    struct repl *r = ud;
    int hide = r->tty && r->reading;
    if (hide) {
        rl_clear_visible_line();
        fflush(rl_outstream);
    }
    fwrite(s, 1, n, out);
    fflush(out);
    if (hide)
        rl_forced_update_display();
}

static void say(FILE *out, const char *s)
{
    sx_log_write(out, s, strlen(s));
}

/* print(...) in the REPL: as Lua's, through the writer. */
static int l_print(lua_State *L)
{
    int n = lua_gettop(L);
    size_t len;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    const char *s = lua_tolstring(L, -1, &len);
    sx_log_write(stdout, s, len);
    return 0;
}

/* [-0, +1] require "stockx.repl" */
static void push_module(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "stockx.repl");
    lua_call(L, 1, 1);
}

/* ---- signals ----------------------------------------------------------- */

static void wake_loop(void)
{
    char c = 0;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: the loop is already being woken */
    }
}

/*
 * Ctrl-C: the foreground chunk is stopped (a busy one at once, from
 * here); the loop does the rest.  A second one while the loop has not
 * heard the first for STUCK_SECONDS (a background task busy in Lua code
 * holds it) is the script's interrupt: everything stops.
 */
static void on_sigint(int sig)
{
    int saved = errno;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (got_int && now.tv_sec - int_at >= STUCK_SECONDS) {
        if (!(old_int.sa_flags & SA_SIGINFO) &&
            old_int.sa_handler != SIG_DFL && old_int.sa_handler != SIG_IGN) {
            old_int.sa_handler(sig);
        } else {
            signal(sig, SIG_DFL);
            raise(sig);
        }
        errno = saved;
        return;
    }
    if (!got_int)
        int_at = now.tv_sec;
    got_int = 1;
    if (sx_rt_interrupt_foreground(repl.rt)) {
        int_chunk_no = repl.chunk_no;
        int_chunk = 1;
        repl.interrupted = 1;
        if (repl.tty && write(1, "\n", 1) < 0) {
            /* only the line after the terminal's ^C is lost */
        }
    }
    wake_loop();
    errno = saved;
}

/* The terminal resized, or given back after Ctrl-Z (in its shell's
 * modes, not readline's). */
static void on_tty_signal(int sig)
{
    int saved = errno;
    if (sig == SIGWINCH)
        got_winch = 1;
    else
        got_cont = 1;
    wake_loop();
    errno = saved;
}

static int catch_signals(struct repl *r)
{
    struct sigaction sa;
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    r->sig_ev = event_new(r->rt->base, sig_pipe[0], EV_READ | EV_PERSIST,
                          NULL, NULL);
    if (!r->sig_ev)
        return -1;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_int);
    if (r->tty) {
        sa.sa_handler = on_tty_signal;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, &old_winch);
        sigaction(SIGCONT, &sa, &old_cont);
    }
    return 0;
}

/* Ctrl-C is the program's again (after the input ended, or on exit). */
static void release_signals(struct repl *r)
{
    if (!r->sig_ev)
        return;
    sigaction(SIGINT, &old_int, NULL);
    if (r->tty) {
        sigaction(SIGWINCH, &old_winch, NULL);
        sigaction(SIGCONT, &old_cont, NULL);
    }
    event_free(r->sig_ev);
    r->sig_ev = NULL;
    for (int i = 0; i < 2; i++) {
        close(sig_pipe[i]);
        sig_pipe[i] = -1;
    }
}

/* ---- the prompt -------------------------------------------------------- */

/* [-0, +0] (repl, buffer) _PROMPT or _PROMPT2, read raw, as lua does. */
static int l_prompt(lua_State *L)
{
    struct repl *r = lua_touserdata(L, 1);
    char *buf = lua_touserdata(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, r->chunk.len ? "_PROMPT2" : "_PROMPT");
    lua_rawget(L, -2);
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
        snprintf(buf, PROMPT_MAX, "%s", lua_tostring(L, -1));
    return 0;
}

/* The prompt to show: "> ", or ">> " inside a chunk (or _PROMPT...). */
static void prompt_text(struct repl *r, char *buf)
{
    snprintf(buf, PROMPT_MAX, "%s", r->chunk.len ? ">> " : "> ");
    lua_pushcfunction(r->L, l_prompt);
    lua_pushlightuserdata(r->L, r);
    lua_pushlightuserdata(r->L, buf);
    sx_rt_pcall(r->L, 2, 0);
}

static void on_rl_line(char *line);

static void pump(struct repl *r);

/* stdin is watched (a pipe, a terminal) or a read is due (a file). */
static void arm_input(struct repl *r)
{
    if (r->kicked)
        event_active(r->in_ev, EV_READ, 0);
    else
        event_add(r->in_ev, NULL);
}

/* The prompt goes up (a terminal) or lines are taken again (a pipe). */
static void want_input(struct repl *r)
{
    if (r->done)
        return;
    r->reading = 1;
    if (r->tty) {
        char prompt[PROMPT_MAX];
        if (r->resized)
            rl_reset_screen_size();
        r->resized = 0;
        prompt_text(r, prompt);
        rl_callback_handler_install(prompt, on_rl_line);
        r->installed = 1;
        arm_input(r);
        return;
    }
    pump(r);
}

static void stop_input(struct repl *r)
{
    if (r->installed)
        rl_callback_handler_remove(); /* the terminal back as it was */
    r->installed = 0;
    r->reading = 0;
    event_del(r->in_ev);
}

/* Ctrl-C at the prompt: ^C, and a new empty prompt (a chunk dropped). */
static void prompt_interrupted(struct repl *r)
{
    char prompt[PROMPT_MAX];
    rl_callback_sigcleanup(); /* leaves an incremental search */
    rl_point = rl_end;
    rl_redisplay();
    fputs("^C\n", rl_outstream);
    sx_buf_reset(&r->chunk);
    rl_replace_line("", 1);
    rl_point = rl_mark = 0;
    prompt_text(r, prompt);
    rl_set_prompt(prompt);
    rl_on_new_line();
    rl_redisplay();
}

/* ---- history ----------------------------------------------------------- */

/* mkdir -p, each new directory 0700; 0 or -1. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/*
 * $STOCKX_HISTFILE (/dev/null: none), else $XDG_STATE_HOME/stockx/history,
 * else ~/.local/state/stockx/history; its directory is made (0700) unless
 * named by STOCKX_HISTFILE.  NULL: no history file.
 */
static char *history_path(void)
{
    const char *env = getenv("STOCKX_HISTFILE");
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    if (env && *env)
        return strcmp(env, "/dev/null") ? strdup(env) : NULL;
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/stockx", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/stockx", home);
    else
        return NULL;
    if (make_dirs(dir) < 0) {
        fprintf(stderr, "stockx: no history: cannot create %s: %s\n", dir,
                strerror(errno));
        return NULL;
    }
    size_t n = strlen(dir) + sizeof "/history";
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/history", dir);
    return path;
}

/* Loads the history file, made first if need be, always mode 0600. */
static void history_open(struct repl *r)
{
    using_history();
    stifle_history(HISTORY_MAX);
    history_write_timestamps = 1; /* multi-line entries survive */
    history_comment_char = '#';
    if (!(r->histfile = history_path()))
        return;
    int fd = open(r->histfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        fprintf(stderr, "stockx: no history: %s: %s\n", r->histfile,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        free(r->histfile);
        r->histfile = NULL;
        return;
    }
    close(fd);
    read_history(r->histfile);
    if (history_length >= HISTORY_MAX) /* maybe more in the file: trim */
        write_history(r->histfile);
}

/* Case-insensitive: does the identifier [w, w+n) hold a secret's name? */
static int secret_name(const char *w, size_t n)
{
    static const char *const names[] = {"secret", "token", "password",
                                        "passwd", "api_key", "apikey",
                                        "api-key", "authorization", NULL};
    char low[64];
    if (n >= sizeof low)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
    low[n] = '\0';
    for (int i = 0; names[i]; i++)
        if (strstr(low, names[i]))
            return 1;
    return 0;
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * A line that sets a secret: `access_token = "..."`, `client_secret=`,
 * `["x-api-key"] = `, `"refresh_token": `, a Bearer credential, or what
 * looks like a JWT.
 */
static int sets_secret(const char *s)
{
    for (const char *p = s; *p;) {
        if (!word_char(*p)) {
            p++;
            continue;
        }
        const char *w = p;
        while (word_char(*p))
            p++;
        size_t n = (size_t)(p - w);
        if (secret_name(w, n)) {
            const char *q = p;
            while (*q == '"' || *q == '\'' || *q == ']' || *q == ' ' ||
                   *q == '\t')
                q++;
            if ((*q == '=' && q[1] != '=') || *q == ':')
                return 1;
        }
        if (n == 6 && !strncasecmp(w, "bearer", 6) && *p == ' ' &&
            word_char(p[1]))
            return 1;
        if (n >= 24 && !strncmp(w, "eyJ", 3))
            return 1;
    }
    return 0;
}

/* A line the history file must not keep: a configured secret's value,
 * or a secret being set. */
static int is_secret(const struct repl *r, const char *text)
{
    const struct sx_config *k = sx_client_config(r->rt->client);
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        const char *v = o->type == SX_OPT_SECRET ? sx_config_string(k, o)
                                                 : NULL;
        if (v && strlen(v) >= 4 && strstr(text, v))
            return 1;
    }
    return sets_secret(text);
}

/*
 * A chunk is one entry (lines joined by newlines), kept in memory for the
 * arrow keys and appended to the file at once, unless it holds a secret.
 */
static void history_add(struct repl *r, const char *text)
{
    HIST_ENTRY *last = history_length > 0
                           ? history_get(history_base + history_length - 1)
                           : NULL;
    if (!r->tty || (last && strcmp(last->line, text) == 0))
        return;
    add_history(text);
    if (r->histfile && !is_secret(r, text) &&
        append_history(1, r->histfile) != 0) {
        say(stderr, "stockx: cannot write the history file; history "
                    "is no longer saved\n");
        free(r->histfile);
        r->histfile = NULL;
    }
}

/* ---- completion -------------------------------------------------------- */

static char **cands;
static size_t ncands, next_cand;

static void free_cands(void)
{
    for (size_t i = 0; i < ncands; i++)
        free(cands[i]);
    free(cands);
    cands = NULL;
    ncands = next_cand = 0;
}

/* [-0, +0] (text) The candidates of stockx.repl.complete, copied. */
static int l_complete(lua_State *L)
{
    const char *text = lua_touserdata(L, 1);
    push_module(L);
    lua_getfield(L, -1, "complete");
    lua_pushstring(L, text);
    lua_call(L, 1, 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    size_t n = (size_t)lua_rawlen(L, -1);
    if (n == 0 || !(cands = calloc(n, sizeof *cands)))
        return 0;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        const char *s = lua_tostring(L, -1);
        if (s && (cands[ncands] = strdup(s)))
            ncands++;
        lua_pop(L, 1);
    }
    return 0;
}

static char *cand_generator(const char *text, int state)
{
    (void)text;
    if (state == 0)
        next_cand = 0;
    return next_cand < ncands ? strdup(cands[next_cand++]) : NULL;
}

/* Readline's completion: globals, fields, methods; never file names. */
static char **complete(const char *text, int start, int end)
{
    char **matches = NULL;
    lua_State *L = repl.L;
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;
    rl_completion_append_character = '\0';
    free_cands();
    lua_pushcfunction(L, l_complete);
    lua_pushlightuserdata(L, (void *)text);
    if (sx_rt_pcall(L, 1, 0) == 0 && ncands > 0)
        matches = rl_completion_matches(text, cand_generator);
    free_cands();
    return matches;
}

/* ---- chunks ------------------------------------------------------------ */

/*
 * [-0, +3] (chunk buffer) -> function | nil, message, incomplete.  Lua's
 * REPL rules: a leading '=' means return; the text is first tried as
 * `return <text>;`, then as statements; a syntax error ending in
 * "near <eof>" (and only that) means the chunk goes on.
 */
static int l_compile(lua_State *L)
{
    static const char eof_mark[] = " near <eof>";
    const struct sx_buf *b = lua_touserdata(L, 1);
    size_t n, ml;
    if (b->data[0] == '=') {
        lua_pushliteral(L, "return ");
        lua_pushlstring(L, b->data + 1, b->len - 1);
        lua_concat(L, 2);
    } else {
        lua_pushlstring(L, b->data, b->len);
    }
    const char *text = lua_tolstring(L, -1, &n);        /* b text */
    lua_pushliteral(L, "return ");
    lua_pushvalue(L, -2);
    lua_pushliteral(L, ";");
    lua_concat(L, 3);                                   /* b text ret */
    const char *ret = lua_tolstring(L, -1, &ml);
    if (luaL_loadbuffer(L, ret, ml, "=stdin") == LUA_OK)
        return 1;
    lua_pop(L, 2);                                      /* b text */
    if (luaL_loadbuffer(L, text, n, "=stdin") == LUA_OK)
        return 1;
    const char *msg = lua_tolstring(L, -1, &ml);        /* b text msg */
    lua_pushnil(L);
    lua_insert(L, -2);                                  /* b text nil msg */
    lua_pushboolean(L, ml >= sizeof eof_mark - 1 &&
                       !memcmp(msg + ml - (sizeof eof_mark - 1), eof_mark,
                               sizeof eof_mark - 1));
    return 3;
}

/* [-0, +0] (repl, function) The chunk as a task: the foreground. */
static int l_spawn(lua_State *L)
{
    struct repl *r = lua_touserdata(L, 1);
    sx_task_spawn(L, 0);                     /* repl task */
    lua_State *co = sx_task_thread(L, -1);
    r->fg = luaL_ref(L, LUA_REGISTRYINDEX);  /* repl */
    r->chunk_no++;
    r->rt->foreground = co;
    return 0;
}

/* Reports a syntax error on stderr, as lua does. */
static void syntax_error(const char *msg)
{
    char line[1200];
    snprintf(line, sizeof line, "stockx: %s\n", msg);
    say(stderr, line);
}

/*
 * Compiles the chunk read so far and runs it, or waits for more lines
 * (unless the input has ended: then its error is reported).
 */
static void try_chunk(struct repl *r, int at_eof)
{
    lua_State *L = r->L;
    lua_pushcfunction(L, l_compile);
    lua_pushlightuserdata(L, &r->chunk);
    if (sx_rt_pcall(L, 1, 3) < 0) {
        sx_buf_reset(&r->chunk);
        return;
    }
    if (lua_toboolean(L, -1) && !at_eof) { /* incomplete: more lines */
        lua_pop(L, 3);
        return;
    }
    history_add(r, r->chunk.data);
    sx_buf_reset(&r->chunk);
    if (!lua_isfunction(L, -3)) {
        syntax_error(lua_tostring(L, -2));
        lua_pop(L, 3);
        return;
    }
    lua_pop(L, 2);                           /* fn */
    lua_pushcfunction(L, l_spawn);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, r);
    lua_insert(L, -2);                       /* l_spawn r fn */
    if (sx_rt_pcall(L, 2, 0) == 0)
        stop_input(r);
}

/* A line of input (no newline): part of a chunk, or its end. */
static void take_line(struct repl *r, const char *line, size_t n)
{
    size_t i = 0;
    while (r->chunk.len == 0 && i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (r->chunk.len == 0 && i == n)
        return; /* an empty line at the first prompt */
    if ((r->chunk.len && sx_buf_add(&r->chunk, "\n", 1) < 0) ||
        sx_buf_add(&r->chunk, line, n) < 0) {
        say(stderr, "stockx: the chunk is too long (16 MiB at most)\n");
        sx_buf_reset(&r->chunk);
        return;
    }
    try_chunk(r, 0);
}

/* [-0, +0] (repl) The ended chunk's results printed, `_` set. */
static int l_finish(lua_State *L)
{
    struct repl *r = lua_touserdata(L, 1);
    push_module(L);
    lua_getfield(L, -1, "finish");
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->fg);
    lua_pushboolean(L, r->interrupted);
    lua_call(L, 2, 2);                       /* out err */
    if (lua_type(L, -2) == LUA_TSTRING)
        say(stdout, lua_tostring(L, -2));
    if (lua_type(L, -1) == LUA_TSTRING)
        say(stderr, lua_tostring(L, -1));
    return 0;
}

/* The chunk's task has ended: results, then the prompt again. */
static void chunk_ended(struct repl *r)
{
    lua_pushcfunction(r->L, l_finish);
    lua_pushlightuserdata(r->L, r);
    sx_rt_pcall(r->L, 1, 0);
    luaL_unref(r->L, LUA_REGISTRYINDEX, r->fg);
    r->fg = LUA_NOREF;
    r->interrupted = 0;
    if (r->tty && r->eof)
        end_of_input(r);
    else
        want_input(r); /* a pipe: the next line, or its end */
}

/* [-0, +0] (task) task:cancel("interrupted") */
static int l_cancel(lua_State *L)
{
    lua_getfield(L, 1, "cancel");
    lua_pushvalue(L, 1);
    lua_pushliteral(L, "interrupted");
    lua_call(L, 2, 0);
    return 0;
}

/*
 * Ctrl-C, as the loop hears it: for the chunk (a busy one may already
 * have been stopped by its hook), whose wait ends now; or at the prompt.
 */
static void interrupt(struct repl *r, int for_chunk)
{
    if (for_chunk) { /* unless it has ended (a piped line may be next) */
        if (r->fg != LUA_NOREF && r->rt->foreground &&
            r->chunk_no == int_chunk_no) {
            lua_pushcfunction(r->L, l_cancel);
            lua_rawgeti(r->L, LUA_REGISTRYINDEX, r->fg);
            sx_rt_pcall(r->L, 1, 0);
        }
    } else if (r->fg != LUA_NOREF) {
        /* meant for the prompt, but a chunk has started since */
    } else if (r->tty && r->reading) {
        prompt_interrupted(r);
    } else {
        sx_buf_reset(&r->chunk);
    }
}

static void on_signal_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct repl *r = arg;
    char buf[16];
    (void)what;
    while (read(fd, buf, sizeof buf) > 0) {
    }
    if (got_cont) {
        got_cont = 0;
        if (r->installed) {
            (*rl_deprep_term_function)();
            (*rl_prep_term_function)(1);
            rl_forced_update_display();
        }
    }
    if (got_winch) {
        got_winch = 0;
        if (r->installed)
            rl_resize_terminal();
        else
            r->resized = 1; /* read when the prompt goes up */
    }
    if (got_int) {
        int for_chunk = int_chunk;
        int_chunk = 0;
        got_int = 0;
        interrupt(r, for_chunk);
    }
}

/* ---- input ------------------------------------------------------------- */

/* readline's line handler; NULL is Ctrl-D at an empty line. */
static void on_rl_line(char *line)
{
    struct repl *r = &repl;
    r->reading = 0; /* the line is taken: no prompt to move aside */
    if (!line) {
        stop_input(r);
        fputs("\n", stdout);
        end_of_input(r);
        return;
    }
    take_line(r, line, strlen(line));
    free(line);
    if (r->installed) { /* no chunk started: the next line's prompt */
        char prompt[PROMPT_MAX];
        prompt_text(r, prompt);
        rl_set_prompt(prompt);
        r->reading = 1;
    }
}

/* The complete lines read from a pipe, one chunk at a time. */
static void pump(struct repl *r)
{
    while (r->reading && r->fg == LUA_NOREF) {
        char *data = r->input.data;
        char *nl = r->input.len ? memchr(data, '\n', r->input.len) : NULL;
        size_t n = nl ? (size_t)(nl - data) : r->input.len;
        if (!nl && !r->eof) {
            arm_input(r);
            return;
        }
        if (!nl && n == 0) {
            end_of_input(r);
            return;
        }
        size_t used = nl ? n + 1 : n;
        take_line(r, data, n > 0 && data[n - 1] == '\r' ? n - 1 : n);
        memmove(data, data + used, r->input.len - used + 1);
        r->input.len -= used;
    }
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
    struct repl *r = arg;
    char buf[4096];
    (void)fd;
    (void)what;
    if (r->tty) {
        rl_callback_read_char();
        return;
    }
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        arm_input(r);
        return;
    }
    if (n <= 0) {
        r->eof = 1;
        event_del(r->in_ev);
    } else if (sx_buf_add(&r->input, buf, (size_t)n) < 0) {
        say(stderr, "stockx: an input line is too long (16 MiB at most)\n");
        r->eof = 1;
        sx_buf_reset(&r->input);
        event_del(r->in_ev);
    }
    pump(r);
}

/* After the end of input, once the loop has turned: the deadlock check
 * (nothing else would run it if every task is parked). */
static void check_idle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sx_rt_after_pass(arg, 1);
}

/*
 * Ctrl-D, or the end of the pipe: an unfinished chunk is reported as lua
 * does, and then, as after a script, the loop runs until the last task
 * has ended; Ctrl-C and SIGTERM are the program's again.
 */
static void end_of_input(struct repl *r)
{
    static const struct timeval now = {0, 0};
    r->eof = 1;
    if (r->fg != LUA_NOREF || r->done)
        return;
    if (r->chunk.len)
        try_chunk(r, 1); /* "'end' expected near <eof>" */
    r->done = 1;
    stop_input(r);
    release_signals(r);
    sx_log_set_writer(NULL, NULL);
    r->rt->stop_when_idle = 1;
    if (r->rt->tasks == 0) {
        event_base_loopbreak(r->rt->base);
        return;
    }
    if (r->tty) {
        char note[120];
        snprintf(note, sizeof note, "stockx: waiting for %ld task(s) to "
                 "end (Ctrl-C stops them)\n", r->rt->tasks);
        say(stderr, note);
    }
    event_base_once(r->rt->base, -1, EV_TIMEOUT, check_idle, r->rt, &now);
}

/* ---- the waiter source ------------------------------------------------- */

/* Input can still come: the tasks are not deadlocked while it can. */
static long repl_pending(void *ud)
{
    struct repl *r = ud;
    return r->done ? 0 : 1;
}

/* After a pass: has the chunk's task ended? */
static void repl_after_pass(void *ud)
{
    struct repl *r = ud;
    if (r->fg != LUA_NOREF && !r->rt->foreground)
        chunk_ended(r);
}

/* ---- start and end ----------------------------------------------------- */

/* [-0, +0] print through the writer; stockx.repl loads. */
static int l_setup(lua_State *L)
{
    push_module(L);
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    lua_pushliteral(L, "_PROMPT");
    lua_setfield(L, LUA_REGISTRYINDEX, "stockx.repl.prompt");
    lua_pushliteral(L, "_PROMPT2");
    lua_setfield(L, LUA_REGISTRYINDEX, "stockx.repl.prompt2");
    return 0;
}

/* [-0, +0] The terminal's first line (stockx.repl.banner). */
static int l_banner(lua_State *L)
{
    push_module(L);
    lua_getfield(L, -1, "banner");
    lua_call(L, 0, 1);
    fputs(luaL_checkstring(L, -1), stdout);
    fflush(stdout);
    return 0;
}

static void tty_setup(struct repl *r)
{
    rl_readline_name = "stockx";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_attempted_completion_function = complete;
    rl_completer_word_break_characters = " \t\n\"'`@$><=;|&{(+-*/%^~#,[])}";
    /* defaults, before the user's inputrc is read (which may undo them) */
    rl_variable_bind("enable-bracketed-paste", "off");
    rl_variable_bind("show-all-if-ambiguous", "on");
    history_open(r);
    sx_log_set_writer(repl_writer, r);
}

static int start(struct repl *r, struct sx_rt *rt)
{
    struct stat st;
    memset(r, 0, sizeof *r);
    r->rt = rt;
    r->L = rt->L;
    r->fg = LUA_NOREF;
    r->tty = isatty(0);
    sx_buf_init(&r->chunk, CHUNK_MAX);
    sx_buf_init(&r->input, CHUNK_MAX);
    lua_pushcfunction(r->L, l_setup);
    if (sx_rt_pcall(r->L, 0, 0) < 0)
        return -1;
    /* epoll cannot watch a file: read it whenever a line is wanted */
    r->kicked = !r->tty && fstat(0, &st) == 0 &&
                (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) ||
                 S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode));
    r->in_ev = r->kicked ? event_new(rt->base, -1, 0, on_input, r)
                         : event_new(rt->base, 0, EV_READ | EV_PERSIST,
                                     on_input, r);
    if (!r->in_ev || catch_signals(r) < 0) {
        fprintf(stderr, "stockx: cannot start the REPL: %s\n",
                strerror(errno));
        return -1;
    }
    event_assign(r->sig_ev, rt->base, sig_pipe[0], EV_READ | EV_PERSIST,
                 on_signal_pipe, r);
    event_add(r->sig_ev, NULL);
    r->source.name = "repl";
    r->source.pending = repl_pending;
    r->source.after_pass = repl_after_pass;
    r->source.ud = r;
    sx_rt_add_source(rt, &r->source);
    rt->stop_when_idle = 0;
    if (r->tty) {
        tty_setup(r);
        lua_pushcfunction(r->L, l_banner);
        sx_rt_pcall(r->L, 0, 0); /* a failure is reported, not fatal */
    }
    want_input(r);
    return 0;
}

static void finish(struct repl *r)
{
    if (r->installed && r->reading) /* stopped at the prompt (SIGTERM) */
        fputs("\n", rl_outstream);
    stop_input(r);
    release_signals(r);
    sx_log_set_writer(NULL, NULL);
    if (r->in_ev)
        event_free(r->in_ev);
    r->in_ev = NULL;
    r->done = 1;
    r->rt->foreground = NULL;
    sx_buf_free(&r->chunk);
    sx_buf_free(&r->input);
    free_cands();
    free(r->histfile);
    r->histfile = NULL;
    if (r->tty)
        rl_clear_history();
}

int sx_repl_run(struct sx_rt *rt)
{
    struct repl *r = &repl;
    if (start(r, rt) == 0)
        event_base_dispatch(rt->base);
    else
        rt->failed = 1;
    finish(r);
    return rt->failed ? 1 : 0;
}
