/*
 * GCRA rate-limiter arithmetic.  The only state is the theoretical arrival
 * time (tat) of the next request and the end of any server-imposed pause;
 * a request may go when now >= tat - tolerance and now >= paused_until.
 */
#include "sx_limiter.h"

#include <float.h>
#include <math.h>

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
