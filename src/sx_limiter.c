/*
 * GCRA rate-limiter arithmetic.  The only state is the theoretical arrival
 * time (tat) of the next request and the end of any server-imposed pause;
 * a request may go when now >= tat - tolerance and now >= paused_until.
 */
#include "sx_limiter.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * tat is built by repeated additions, so at a large `now` (seconds of
 * uptime) it carries rounding error of a few ulps per admission.  A wait
 * below this slack is a rounding artefact, not a real wait: without it the
 * last request of a burst could be told to wait 1e-7 s.
 */
static double gcra_slack(double now)
{
    return 1e-6 + 1024 * DBL_EPSILON * fabs(now);
}

/* tat = 0 means idle: it is never ahead of a non-negative clock. */
void sx_limiter_init(struct sx_limiter *g, double rate, double period,
                  double burst)
{
    g->interval = period / rate;
    g->tolerance = (burst - 1) * g->interval;
    g->tat = 0;
    g->paused_until = 0;
}

double sx_limiter_wait(const struct sx_limiter *g, double now)
{
    double w = g->tat - g->tolerance - now;
    double p = g->paused_until - now;

    if (p > w)
        w = p;
    return w > gcra_slack(now) ? w : 0;
}

void sx_limiter_admit(struct sx_limiter *g, double now)
{
    g->tat = (g->tat > now ? g->tat : now) + g->interval;
}

/*
 * Pushing tat to until + tolerance leaves no burst credit at `until`: the
 * first request then goes at once and the next one interval later.  Both
 * fields only move forward, so an earlier pause is a no-op.
 */
void sx_limiter_pause(struct sx_limiter *g, double until)
{
    if (until > g->paused_until)
        g->paused_until = until;
    if (until + g->tolerance > g->tat)
        g->tat = until + g->tolerance;
}

int sx_limiter_check(double rate, double period, char *err, size_t errlen)
{
    if (!(rate >= SX_LIMITER_MIN_RATE && rate <= SX_LIMITER_MAX_RATE)) {
        snprintf(err, errlen, "the rate must be between %g and %g requests "
                 "(got %g)", SX_LIMITER_MIN_RATE, SX_LIMITER_MAX_RATE, rate);
        return -1;
    }
    if (!(period >= SX_LIMITER_MIN_PERIOD &&
          period <= SX_LIMITER_MAX_PERIOD)) {
        snprintf(err, errlen, "the period must be between %g and %g seconds "
                 "(got %g)", SX_LIMITER_MIN_PERIOD, SX_LIMITER_MAX_PERIOD,
                 period);
        return -1;
    }
    return 0;
}

int sx_limiter_parse_rate(const char *s, double *rate, double *period,
                          char *err, size_t errlen)
{
    char *end;
    const char *p = s;
    double r = strtod(p, &end), n = 1;
    if (end == p || *end != '/') {
        snprintf(err, errlen, "'%s': expected a number of requests, then '/'",
                 s);
        return -1;
    }
    p = end + 1;
    if ((*p >= '0' && *p <= '9') || *p == '.') {
        n = strtod(p, &end);
        p = end;
    }
    double unit = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : 0;
    if (!unit || p[1]) {
        snprintf(err, errlen, "'%s': the period must end in s, m or h", s);
        return -1;
    }
    if (sx_limiter_check(r, n * unit, err, errlen) < 0)
        return -1;
    *rate = r;
    *period = n * unit;
    return 0;
}
