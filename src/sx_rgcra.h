/*
 * The shared limiter inside Redis (rate_backend = redis://...): the Lua
 * script that makes sx_gcra's decision atomically in Redis, on Redis's
 * own clock (TIME), in integer microseconds; the arguments of one call
 * and the decoding of its answer.  Pure: sx_rshare sends and receives.
 */
#ifndef SX_RGCRA_H
#define SX_RGCRA_H
#include <stdint.h>

/* The script's text (Redis runs Lua 5.1: every number is a double, and
 * microseconds since 1970 stay exact in one until the year 2255). */
extern const char sx_rgcra_script[];

/* One call: KEYS are the key's state hash and its hosts and clients. */
struct sx_rgcra_args {
    const char *op;          /* "reserve", "penalty" or "read" */
    const char *hash;        /* of API key and origin (sx_ratefile_hash) */
    const char *host;        /* this host's id */
    long pid;                /* with host: this client's id */
    int64_t interval_us;     /* T, >= 1 */
    int64_t burst;           /* >= 1 */
    int64_t quota;           /* per UTC day, 0: none */
    int64_t max_penalty_us;  /* a longer penalty refuses (0: no limit) */
    int64_t retry_us;        /* penalty: the 429's wait */
    int spent;               /* penalty: the day's quota is spent */
    int64_t lead_us;         /* reserve after the host decided (-1: it
                                did not): the tat is at least now + this
                                + tau, so no burst follows an outage */
    int64_t extra;           /* admissions counted while Redis was away */
    int64_t adapt_wmax;      /* our adaptive cut (micro-requests/s), 0 */
    int64_t adapt_ago_us;    /* how long ago it was made */
};

#define SX_RGCRA_ARGC 16 /* 3 keys + 13 arguments */
#define SX_RGCRA_NKEYS 3
#define SX_RGCRA_ARGLEN 96

/* argv[0..SX_RGCRA_ARGC) for sx_redis_eval, pointing into buf. */
void sx_rgcra_argv(const struct sx_rgcra_args *a,
                   char buf[SX_RGCRA_ARGC][SX_RGCRA_ARGLEN],
                   const char *argv[SX_RGCRA_ARGC]);

/* The script's answer, checked. */
struct sx_rgcra_answer {
    int admitted;            /* reserve: a slot was reserved */
    int penalty;             /* refused for a penalty past max_penalty */
    int64_t wait_us;         /* admitted: the slot is this far ahead */
    int64_t retry_s;         /* refused: seconds to wait */
    int64_t left;            /* the day's quota left (-1: no quota) */
    int64_t used;            /* admissions counted today */
    int64_t hosts;           /* hosts seen on the key in the last minute */
    int64_t adapt_wmax;      /* the key's last adaptive cut, 0: none */
    int64_t adapt_age_us;    /* its age (-1: none) */
    int64_t reset_s;         /* seconds to 00:00 UTC, on Redis's clock */
    int64_t clients;         /* processes seen in the last minute */
    int64_t tat_lead_us;     /* the next free slot (tat - tau) is this
                                far ahead */
};

#define SX_RGCRA_REPLY 12 /* integers in the answer */

/* 0, or -1 if v[0..n) is not an answer of the script. */
int sx_rgcra_decode(const long long *v, int n, struct sx_rgcra_answer *out);

#endif
