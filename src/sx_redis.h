/*
 * One connection to a Redis server that runs one Lua script, on the
 * libevent loop through hiredis's adapter.  Debian 12's hiredis (0.14)
 * has no timeouts for asynchronous commands, so the handshake and each
 * command have a timer of their own; a timeout, an error reply to the
 * handshake, a failed connect or a dropped connection make the
 * connection down, and it is tried again after a backoff (0.5 s doubling
 * to 8 s).  The hiredis context is never freed inside a hiredis callback.
 * Layer 2: libevent and hiredis, never Lua.
 */
#ifndef SX_REDIS_H
#define SX_REDIS_H
#include <event2/event.h>

#include "sx_url.h"

enum sx_redis_state { SX_REDIS_DOWN, SX_REDIS_CONNECTING, SX_REDIS_UP };

#define SX_REDIS_INTS 12

/* A script's answer: an array of integers, or why there is none. */
struct sx_redis_reply {
    int ok;                   /* 1: v[0..n) is the array */
    int n;
    long long v[SX_REDIS_INTS];
    const char *err;          /* ok == 0: the reason (valid in the call) */
};

/* Called exactly once per sx_redis_eval (never after sx_redis_free). */
typedef void (*sx_redis_fn)(void *ud, const struct sx_redis_reply *rep);
/* The connection went up, or down (why: a reason without the password). */
typedef void (*sx_redis_state_fn)(void *ud, enum sx_redis_state st,
                                  const char *why);

/*
 * A connection to a that runs script (loaded with SCRIPT LOAD after
 * AUTH and SELECT); timeout bounds the connect, the handshake and each
 * command, in seconds.  Starts connecting at once.  NULL: out of memory.
 * on_state and the reply callbacks may not free r.
 */
struct sx_redis *sx_redis_new(struct event_base *base,
                              const struct sx_redis_addr *a,
                              const char *script, double timeout,
                              sx_redis_state_fn on_state, void *ud);
enum sx_redis_state sx_redis_state(const struct sx_redis *r);

/*
 * Runs the script with argv[0..nkeys) as KEYS and the rest as ARGV
 * (EVALSHA; EVAL if the server forgot the script).  0, or -1 when the
 * connection is not up (fn is then never called).
 */
int sx_redis_eval(struct sx_redis *r, int nkeys, int argc,
                  const char *const *argv, sx_redis_fn fn, void *ud);

/* Closes the connection; pending callbacks are dropped, not called. */
void sx_redis_free(struct sx_redis *r);

#endif
