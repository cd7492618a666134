/*
 * A Redis connection for one script (see sx_redis.h).  Every command is a
 * struct cmd owned by hiredis until its callback, which hiredis calls
 * exactly once (with a NULL reply when the context goes away); our own
 * timer may answer the caller first, and the late callback then only
 * frees the command.  A context is freed by hiredis itself (after a
 * failed connect or a dropped connection), by a timer callback of ours,
 * or, when the decision is taken inside a hiredis callback, by a
 * zero-timeout event afterwards: never inside the callback.
 */
#include "sx_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "sx_time.h"

#define BACKOFF_FIRST 0.5
#define BACKOFF_MAX 8.0

enum cmd_kind { CMD_EVAL, CMD_AUTH, CMD_SELECT, CMD_LOAD };

struct sx_redis {
    struct event_base *base;
    struct sx_redis_addr addr;
    char *script;
    double timeout, backoff;
    redisAsyncContext *ac;   /* the current context, or NULL */
    redisAsyncContext *dead; /* to free on close_ev */
    struct event *hs_timer;  /* the connect and handshake deadline */
    struct event *retry_ev;  /* the next connect */
    struct event *close_ev;  /* frees dead */
    enum sx_redis_state state;
    int closing;             /* sx_redis_free: drop every callback */
    char sha[41];
    sx_redis_state_fn on_state;
    void *ud;
};

struct cmd {
    struct sx_redis *r;
    enum cmd_kind kind;
    struct event *timer;
    sx_redis_fn fn;
    void *ud;
    int answered, evalled;
    int argc;
    char **argv; /* EVALSHA's, kept for EVAL */
    size_t *lens;
};

enum sx_redis_state sx_redis_state(const struct sx_redis *r)
{
    return r->state;
}

/* ---- commands ----------------------------------------------------------- */

static void cmd_free(struct cmd *m)
{
    if (m->timer)
        event_free(m->timer);
    for (int i = 0; i < m->argc; i++)
        free(m->argv[i]);
    free(m->argv);
    free(m->lens);
    free(m);
}

static void answer_error(struct cmd *m, const char *why)
{
    struct sx_redis_reply rep = {0, 0, {0}, why};
    if (m->answered || m->r->closing || !m->fn)
        return;
    m->answered = 1;
    m->fn(m->ud, &rep);
}

static void answer(struct cmd *m, const redisReply *x)
{
    struct sx_redis_reply rep;
    memset(&rep, 0, sizeof rep);
    if (x->type == REDIS_REPLY_ERROR) {
        answer_error(m, x->str);
        return;
    }
    if (x->type != REDIS_REPLY_ARRAY || x->elements > SX_REDIS_INTS) {
        answer_error(m, "the script's answer is not an array of integers");
        return;
    }
    for (size_t i = 0; i < x->elements; i++) {
        if (x->element[i]->type != REDIS_REPLY_INTEGER) {
            answer_error(m, "the script's answer is not an array of "
                            "integers");
            return;
        }
        rep.v[i] = x->element[i]->integer;
    }
    rep.ok = 1;
    rep.n = (int)x->elements;
    if (!m->answered && !m->r->closing) {
        m->answered = 1;
        m->fn(m->ud, &rep);
    }
}

/* ---- going down and up -------------------------------------------------- */

enum { FREE_NONE, FREE_NOW, FREE_LATER };

static void arm(struct event *ev, double s)
{
    struct timeval tv = sx_time_tv(s);
    event_add(ev, &tv);
}

/*
 * The connection is unusable: how says who frees the context (hiredis,
 * we now, or we after the current callback).  Tried again after the
 * backoff.
 */
static void go_down(struct sx_redis *r, const char *why, int how)
{
    redisAsyncContext *ac = r->ac;
    enum sx_redis_state was = r->state;
    r->ac = NULL;
    r->state = SX_REDIS_DOWN;
    event_del(r->hs_timer);
    if (ac && how == FREE_NOW)
        redisAsyncFree(ac);
    else if (ac && how == FREE_LATER && !r->dead) {
        r->dead = ac;
        arm(r->close_ev, 0);
    }
    if (!event_pending(r->retry_ev, EV_TIMEOUT, NULL)) {
        arm(r->retry_ev, r->backoff);
        r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX
                                                  : r->backoff * 2;
    }
    if (was != SX_REDIS_DOWN && !r->closing)
        r->on_state(r->ud, SX_REDIS_DOWN, why);
}

static void on_close(evutil_socket_t fd, short what, void *arg)
{
    struct sx_redis *r = arg;
    redisAsyncContext *ac = r->dead;
    (void)fd;
    (void)what;
    r->dead = NULL;
    if (ac)
        redisAsyncFree(ac);
}

static void go_up(struct sx_redis *r, const char *sha, size_t len)
{
    if (len != 40) {
        go_down(r, "SCRIPT LOAD gave no SHA-1", FREE_LATER);
        return;
    }
    memcpy(r->sha, sha, 40);
    r->sha[40] = '\0';
    event_del(r->hs_timer);
    r->state = SX_REDIS_UP;
    r->backoff = BACKOFF_FIRST;
    r->on_state(r->ud, SX_REDIS_UP, NULL);
}

/* The reply to a handshake command (AUTH, SELECT, SCRIPT LOAD). */
static void handshake_reply(struct cmd *m, redisAsyncContext *ac,
                            const redisReply *x)
{
    struct sx_redis *r = m->r;
    char why[300];
    static const char *const names[] = {"", "AUTH", "SELECT", "SCRIPT LOAD"};
    if (r->closing || ac != r->ac || r->state != SX_REDIS_CONNECTING)
        return;
    if (!x) {
        go_down(r, ac->errstr[0] ? ac->errstr : "connection closed",
                FREE_NONE);
        return;
    }
    if (x->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof why, "%s: %s", names[m->kind], x->str);
        go_down(r, why, FREE_LATER);
        return;
    }
    if (m->kind == CMD_LOAD)
        go_up(r, x->type == REDIS_REPLY_STRING ? x->str : "",
              x->type == REDIS_REPLY_STRING ? x->len : 0);
}

static int send_eval(struct cmd *m);

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct cmd *m = priv;
    struct sx_redis *r = m->r;
    const redisReply *x = reply;
    if (m->kind != CMD_EVAL) {
        handshake_reply(m, ac, x);
        cmd_free(m);
        return;
    }
    if (x && x->type == REDIS_REPLY_ERROR && !m->evalled &&
        strncmp(x->str, "NOSCRIPT", 8) == 0 && ac == r->ac && !r->closing &&
        send_eval(m) == 0)
        return; /* the same command again, as EVAL; same deadline */
    if (!x || ac != r->ac) {
        answer_error(m, "the connection to Redis closed");
        if (ac == r->ac && !r->closing)
            go_down(r, ac->errstr[0] ? ac->errstr : "connection closed",
                    FREE_NONE);
    } else {
        answer(m, x);
    }
    cmd_free(m);
}

/* ---- connecting --------------------------------------------------------- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct sx_redis *r = ac->data;
    if (status != REDIS_OK && r && ac == r->ac && !r->closing)
        go_down(r, ac->errstr[0] ? ac->errstr : "connect failed", FREE_NONE);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct sx_redis *r = ac->data;
    (void)status;
    if (r && ac == r->ac && !r->closing)
        go_down(r, ac->errstr[0] ? ac->errstr : "Redis closed the "
                "connection", FREE_NONE);
}

static struct cmd *cmd_new(struct sx_redis *r, enum cmd_kind kind)
{
    struct cmd *m = calloc(1, sizeof *m);
    if (m) {
        m->r = r;
        m->kind = kind;
    }
    return m;
}

/* Queues one handshake command; -1 if it could not be. */
static int handshake(struct sx_redis *r, enum cmd_kind kind, int argc,
                     const char **argv)
{
    struct cmd *m = cmd_new(r, kind);
    if (!m)
        return -1;
    if (redisAsyncCommandArgv(r->ac, on_reply, m, argc, argv, NULL) !=
        REDIS_OK) {
        cmd_free(m);
        return -1;
    }
    return 0;
}

static int start_handshake(struct sx_redis *r)
{
    char db[16];
    const char *auth[] = {"AUTH", r->addr.user, r->addr.pass};
    const char *sel[] = {"SELECT", db};
    const char *load[] = {"SCRIPT", "LOAD", r->script};
    int user = r->addr.user[0] != '\0';
    snprintf(db, sizeof db, "%d", r->addr.db);
    if (!user)
        auth[1] = r->addr.pass; /* AUTH password */
    if (r->addr.pass[0] && handshake(r, CMD_AUTH, user ? 3 : 2, auth) < 0)
        return -1;
    if (r->addr.db && handshake(r, CMD_SELECT, 2, sel) < 0)
        return -1;
    return handshake(r, CMD_LOAD, 3, load);
}

static void connect_now(struct sx_redis *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->addr.host, r->addr.port);
    char why[300];
    r->state = SX_REDIS_CONNECTING;
    if (!ac || ac->err) {
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        go_down(r, why, FREE_NONE);
        return;
    }
    ac->data = r;
    r->ac = ac;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK ||
        start_handshake(r) < 0) {
        go_down(r, "cannot set up the connection", FREE_NOW);
        return;
    }
    arm(r->hs_timer, r->timeout);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void on_hs_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct sx_redis *r = arg;
    char why[80];
    (void)fd;
    (void)what;
    snprintf(why, sizeof why, "no answer within %gs", r->timeout);
    if (r->state == SX_REDIS_CONNECTING)
        go_down(r, why, FREE_NOW);
}

struct sx_redis *sx_redis_new(struct event_base *base,
                              const struct sx_redis_addr *a,
                              const char *script, double timeout,
                              sx_redis_state_fn on_state, void *ud)
{
    struct sx_redis *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    r->addr = *a;
    r->timeout = timeout;
    r->backoff = BACKOFF_FIRST;
    r->on_state = on_state;
    r->ud = ud;
    r->script = strdup(script);
    r->hs_timer = evtimer_new(base, on_hs_timeout, r);
    r->retry_ev = evtimer_new(base, on_retry, r);
    r->close_ev = evtimer_new(base, on_close, r);
    if (!r->script || !r->hs_timer || !r->retry_ev || !r->close_ev) {
        sx_redis_free(r);
        return NULL;
    }
    connect_now(r);
    return r;
}

/* ---- eval --------------------------------------------------------------- */

static void on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct cmd *m = arg;
    struct sx_redis *r = m->r;
    char why[80];
    (void)fd;
    (void)what;
    snprintf(why, sizeof why, "Redis did not answer within %gs", r->timeout);
    if (m->answered || r->closing) /* m stays hiredis's until its callback */
        return;
    sx_redis_fn fn = m->fn;
    void *ud = m->ud;
    struct sx_redis_reply rep = {0, 0, {0}, why};
    m->answered = 1;
    if (r->state == SX_REDIS_UP) /* down first (frees m), then the answer */
        go_down(r, why, FREE_NOW);
    fn(ud, &rep);
}

/* Sends m as EVAL with the script's text in place of its SHA-1. */
static int send_eval(struct cmd *m)
{
    const char **argv = malloc((size_t)m->argc * sizeof *argv);
    size_t *lens = malloc((size_t)m->argc * sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        memcpy(argv, m->argv, (size_t)m->argc * sizeof *argv);
        memcpy(lens, m->lens, (size_t)m->argc * sizeof *lens);
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = m->r->script;
        lens[1] = strlen(m->r->script);
        m->evalled = 1;
        rc = redisAsyncCommandArgv(m->r->ac, on_reply, m, m->argc, argv,
                                   lens) == REDIS_OK ? 0 : -1;
    }
    free(argv);
    free(lens);
    return rc;
}

/* m's argv: EVALSHA sha nkeys argv... */
static int cmd_args(struct cmd *m, const char *sha, int nkeys, int argc,
                    const char *const *argv)
{
    char n[16];
    snprintf(n, sizeof n, "%d", nkeys);
    m->argc = argc + 3;
    m->argv = calloc((size_t)m->argc, sizeof *m->argv);
    m->lens = calloc((size_t)m->argc, sizeof *m->lens);
    if (!m->argv || !m->lens)
        return -1;
    for (int i = 0; i < m->argc; i++) {
        const char *s = i == 0 ? "EVALSHA" : i == 1 ? sha : i == 2 ? n
                                                              : argv[i - 3];
        if (!(m->argv[i] = strdup(s)))
            return -1;
        m->lens[i] = strlen(s);
    }
    return 0;
}

int sx_redis_eval(struct sx_redis *r, int nkeys, int argc,
                  const char *const *argv, sx_redis_fn fn, void *ud)
{
    struct cmd *m;
    if (r->state != SX_REDIS_UP || !(m = cmd_new(r, CMD_EVAL)))
        return -1;
    m->fn = fn;
    m->ud = ud;
    if (cmd_args(m, r->sha, nkeys, argc, argv) < 0 ||
        !(m->timer = evtimer_new(r->base, on_cmd_timeout, m)) ||
        redisAsyncCommandArgv(r->ac, on_reply, m, m->argc,
                              (const char **)m->argv, m->lens) != REDIS_OK) {
        cmd_free(m);
        return -1;
    }
    arm(m->timer, r->timeout);
    return 0;
}

/*
 * Writes what hiredis still holds for the server (a 429's penalty sent
 * just before exit), without waiting: a few tries on the non-blocking
 * socket, which on a healthy connection takes the few bytes at once.
 */
static void write_pending(redisAsyncContext *ac)
{
    int done = 0;
    for (int i = 0; i < 8 && !done; i++)
        if (redisBufferWrite(&ac->c, &done) != REDIS_OK)
            return;
}

void sx_redis_free(struct sx_redis *r)
{
    if (!r)
        return;
    r->closing = 1;
    if (r->ac && r->state == SX_REDIS_UP)
        write_pending(r->ac);
    if (r->ac)
        redisAsyncFree(r->ac);
    if (r->dead)
        redisAsyncFree(r->dead);
    if (r->hs_timer)
        event_free(r->hs_timer);
    if (r->retry_ev)
        event_free(r->retry_ev);
    if (r->close_ev)
        event_free(r->close_ev);
    free(r->script);
    memset(&r->addr, 0, sizeof r->addr); /* the password */
    free(r);
}
