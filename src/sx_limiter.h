/*
 * Rate-limiter arithmetic: GCRA, the leaky bucket of aiolimiter.  `rate`
 * requests per `period` seconds with a burst of `burst`: an idle limiter
 * admits `burst` requests at once, then one every period/rate seconds.
 * This is not "at most N per fixed window": a window of length period can
 * see burst + rate requests.  Times are seconds on any monotonic clock.
 * Also the one parser of rate strings such as "10/1s".
 */
#ifndef SX_LIMITER_H
#define SX_LIMITER_H
#include <stddef.h>

/*
 * Bounds on the configuration.  They keep every value the limiter computes
 * finite: the emission interval period/rate is in [1e-9 s, 3.2e13 s].
 */
#define SX_LIMITER_RATE_MIN 1e-6            /* requests per period */
#define SX_LIMITER_RATE_MAX 1e6
#define SX_LIMITER_PERIOD_MIN 0.001         /* seconds */
#define SX_LIMITER_PERIOD_MAX (365 * 86400.0) /* one year */
#define SX_LIMITER_BURST_MAX 1e6            /* burst >= 1 */
#define SX_LIMITER_WAIT_MAX 1e8             /* longest wait reported */

struct sx_limiter {
    double interval;     /* period / rate: the emission interval */
    double tolerance;    /* (burst - 1) * interval */
    double tat;          /* theoretical arrival time of the next request */
    double paused_until; /* nothing is admitted before this */
};

/*
 * Parses "N/Pu": N requests (a decimal number, optionally with an
 * exponent) per P units of time, P optional (1); the unit u is s, m (60 s)
 * or h (3600 s), and required.  "10/1s", "10/s", "100/60s", "5/m",
 * "1000/h", "1/0.5s".  No blanks, signs, hex, inf or nan.  N must be in
 * [SX_LIMITER_RATE_MIN, SX_LIMITER_RATE_MAX] and P in seconds in
 * [SX_LIMITER_PERIOD_MIN, SX_LIMITER_PERIOD_MAX].  Returns 0 and *rate,
 * *period (seconds), or -1 with a message naming the bad part in err.
 */
int sx_limiter_parse_rate(const char *s, double *rate, double *period,
                          char *err, size_t errlen);

/* 0 if rate, period and burst are within the bounds, else -1 and err. */
int sx_limiter_check(double rate, double period, double burst, char *err,
                     size_t errlen);

/*
 * Callers validate with sx_limiter_check; as a last defence, values out
 * of bounds are clamped into them, and NaN takes the most restrictive
 * bound (lowest rate, longest period, burst 1), so the state stays finite.
 */
void sx_limiter_init(struct sx_limiter *g, double rate, double period,
                     double burst);

/*
 * Seconds from now until one request can be admitted; 0 if it can now.
 * Always finite, in [0, SX_LIMITER_WAIT_MAX]: a longer wait is reported
 * as the maximum (the caller asks again then).  A NaN now gives the
 * interval, never 0.
 */
double sx_limiter_wait(const struct sx_limiter *g, double now);

/*
 * Records one admission at now (call only when sx_limiter_wait(now) ==
 * 0).  A non-finite now is ignored.
 */
void sx_limiter_admit(struct sx_limiter *g, double now);

/*
 * Admits nothing before `until` (server feedback such as a 429 with
 * Retry-After), and no burst right after it: from `until` on, requests are
 * spaced by the interval again.  An earlier `until` than a pause already in
 * force changes nothing; a NaN or infinite one is ignored.
 */
void sx_limiter_pause(struct sx_limiter *g, double until);

#endif
