/*
 * Rate-limiter arithmetic: GCRA, the leaky bucket of aiolimiter.  `rate`
 * requests per `period` seconds with a burst of `burst`: an idle limiter
 * admits `burst` requests at once, then one every period/rate seconds.
 * This is not "at most N per fixed window": a window of length period can
 * see burst + rate requests.  Times are seconds on any monotonic clock.
 */
#ifndef SX_LIMITER_H
#define SX_LIMITER_H

struct sx_limiter {
    double interval;     /* period / rate: the emission interval */
    double tolerance;    /* (burst - 1) * interval */
    double tat;          /* theoretical arrival time of the next request */
    double paused_until; /* nothing is admitted before this */
};

/* rate > 0, period > 0, burst >= 1 (callers validate). */
void sx_limiter_init(struct sx_limiter *g, double rate, double period,
                  double burst);

/* Seconds from now until one request can be admitted; 0 if it can now. */
double sx_limiter_wait(const struct sx_limiter *g, double now);

/* Records one admission at now (call only when sx_limiter_wait(now) == 0). */
void sx_limiter_admit(struct sx_limiter *g, double now);

/*
 * Admits nothing before `until` (server feedback such as a 429 with
 * Retry-After), and no burst right after it: from `until` on, requests are
 * spaced by the interval again.  An earlier `until` than a pause already in
 * force changes nothing.
 */
void sx_limiter_pause(struct sx_limiter *g, double until);

#endif
