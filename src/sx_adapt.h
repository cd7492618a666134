/*
 * The adaptive rate: a controller that learns the server's limit from its
 * 429s (AWS SDK adaptive retry mode, CUBIC growth).  A throttle cuts the
 * rate to beta x the lower of the current rate and the rate the server
 * actually accepted lately (1 / Retry-After while nothing is measured);
 * successes grow it back, cubically, toward and past the rate at the cut,
 * never above the configured rate and never below a floor.  Pure: times
 * are seconds on any monotonic clock, rates requests per second (doubles).
 */
#ifndef SX_ADAPT_H
#define SX_ADAPT_H

#define SX_ADAPT_BETA 0.7          /* the multiplicative decrease */
/*
 * CUBIC's C, relative to w_max: rate(t) = w_max * (1 + SX_ADAPT_C *
 * (t - K)^3), t seconds since the cut, so the time K back to w_max,
 * cbrt((1 - beta) / C) = 6.7 s, does not depend on the rate.
 */
#ifndef SX_ADAPT_C
#define SX_ADAPT_C 0.001
#endif
#define SX_ADAPT_FLOOR (0.5 / 60)  /* requests per second: never stalls */
#define SX_ADAPT_WINDOW 5.0        /* seconds of successes measured */
#define SX_ADAPT_SAMPLES 8         /* at most this many of them */

struct sx_adapt {
    double max_rate; /* the configured rate, requests/s */
    int active;      /* 0: no throttle yet (or grown back to max_rate) */
    double w_max;    /* the rate the last cut was measured against */
    double t_cut;    /* when that cut happened */
    double ok[SX_ADAPT_SAMPLES]; /* times of the latest successes, a ring */
    int n_ok, i_ok;
};

/* An inactive controller for a configured max_rate (> 0) requests/s. */
void sx_adapt_init(struct sx_adapt *a, double max_rate);

/* The configured rate changed: the learned rate stays, capped by it. */
void sx_adapt_set_max(struct sx_adapt *a, double max_rate);

/* The rate to use at now: max_rate when inactive, else in [floor, max]. */
double sx_adapt_rate(const struct sx_adapt *a, double now);

/*
 * The rate the server accepted lately: successes within SX_ADAPT_WINDOW
 * of the latest, (n - 1) / their span; 0 when fewer than two.
 */
double sx_adapt_measured(const struct sx_adapt *a);

/* A request was accepted at now; may make the controller inactive again. */
void sx_adapt_success(struct sx_adapt *a, double now);

/*
 * Another process's cut (w_max requests/s at t_cut, the same clock):
 * taken if newer than ours and still below max_rate at now.  1 if taken.
 */
int sx_adapt_adopt(struct sx_adapt *a, double w_max, double t_cut,
                   double now);

/*
 * A 429 at now (without a long Retry-After): returns the new rate.  The
 * cut is beta x the lowest of the current rate, the measured rate and,
 * when nothing is measured yet and the 429 said Retry-After: retry_after
 * seconds (> 0; -1 none), 1 / retry_after: a server that asks a client
 * to wait R seconds after the first of a burst accepts about one request
 * per R, so the first cut lands there instead of a few 0.7x cuts in a
 * row.  A measured rate wins over 1 / R (a Retry-After is often rounded
 * up to whole seconds).
 */
double sx_adapt_throttle(struct sx_adapt *a, double now, double retry_after);

#endif
