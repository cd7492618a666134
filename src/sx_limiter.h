/*
 * Rate-limiter arithmetic: GCRA, the leaky bucket of aiolimiter.  `rate`
 * requests per `period` seconds with a burst of `burst`: an idle limiter
 * admits `burst` requests at once, then one every period/rate seconds.
 * This is not "at most N per fixed window": a window of length period can
 * see burst + rate requests.  Times are seconds on any monotonic clock.
 */
#ifndef SX_LIMITER_H
#define SX_LIMITER_H
#include <stddef.h>

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

/* Bounds of a rate: requests per period seconds. */
#define SX_LIMITER_MIN_RATE 1e-6
#define SX_LIMITER_MAX_RATE 1e6
#define SX_LIMITER_MIN_PERIOD 0.001
#define SX_LIMITER_MAX_PERIOD 31536000.0 /* a year */

/* 0 if rate and period are within the bounds, else -1 with a reason. */
int sx_limiter_check(double rate, double period, char *err, size_t errlen);

/*
 * Parses "10/1s", "10/s", "100/60s", "5/m", "1000/h", "1/0.5s" into a
 * rate and a period in seconds, both within the bounds.  0, or -1 with a
 * message naming the bad part.
 */
int sx_limiter_parse_rate(const char *s, double *rate, double *period,
                          char *err, size_t errlen);

#endif
