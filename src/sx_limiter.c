/*
 * GCRA rate-limiter arithmetic.  The only state is the theoretical arrival
 * time (tat) of the next request and the end of any server-imposed pause;
 * a request may go when now >= tat - tolerance and now >= paused_until.
 * Also the rate-string parser, with the bounds that keep that state finite.
 */
#include "sx_limiter.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* How much of the user's string a message quotes. */
#define QUOTE_MAX 40

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

/* v clamped into [lo, hi]; NaN becomes nan_to. */
static double clamp(double v, double lo, double hi, double nan_to)
{
    if (isnan(v))
        return nan_to;
    return v < lo ? lo : v > hi ? hi : v;
}

/* tat = 0 means idle: it is never ahead of a non-negative clock. */
void sx_limiter_init(struct sx_limiter *g, double rate, double period,
                     double burst)
{
    rate = clamp(rate, SX_LIMITER_RATE_MIN, SX_LIMITER_RATE_MAX,
                 SX_LIMITER_RATE_MIN);
    period = clamp(period, SX_LIMITER_PERIOD_MIN, SX_LIMITER_PERIOD_MAX,
                   SX_LIMITER_PERIOD_MAX);
    burst = clamp(burst, 1, SX_LIMITER_BURST_MAX, 1);
    g->interval = period / rate;
    g->tolerance = (burst - 1) * g->interval;
    g->tat = 0;
    g->paused_until = 0;
}

double sx_limiter_wait(const struct sx_limiter *g, double now)
{
    double w, p;

    if (isnan(now))
        return g->interval;
    w = g->tat - g->tolerance - now;
    p = g->paused_until - now;
    if (p > w)
        w = p;
    if (!(w > gcra_slack(now)))
        return 0;
    return w < SX_LIMITER_WAIT_MAX ? w : SX_LIMITER_WAIT_MAX;
}

void sx_limiter_admit(struct sx_limiter *g, double now)
{
    if (isfinite(now))
        g->tat = (g->tat > now ? g->tat : now) + g->interval;
}

/*
 * Pushing tat to until + tolerance leaves no burst credit at `until`: the
 * first request then goes at once and the next one interval later.  Both
 * fields only move forward, so an earlier pause is a no-op.
 */
void sx_limiter_pause(struct sx_limiter *g, double until)
{
    if (!isfinite(until))
        return;
    if (until > g->paused_until)
        g->paused_until = until;
    if (until + g->tolerance > g->tat)
        g->tat = until + g->tolerance;
}

/* ---- configuration ---------------------------------------------------- */

int sx_limiter_check(double rate, double period, double burst, char *err,
                     size_t errlen)
{
    if (!(rate >= SX_LIMITER_RATE_MIN && rate <= SX_LIMITER_RATE_MAX))
        snprintf(err, errlen, "rate %g is out of range [%g, %g]", rate,
                 SX_LIMITER_RATE_MIN, SX_LIMITER_RATE_MAX);
    else if (!(period >= SX_LIMITER_PERIOD_MIN &&
               period <= SX_LIMITER_PERIOD_MAX))
        snprintf(err, errlen, "period %g s is out of range [%g s, 1 year]",
                 period, SX_LIMITER_PERIOD_MIN);
    else if (!(burst >= 1 && burst <= SX_LIMITER_BURST_MAX))
        snprintf(err, errlen, "burst %g is out of range [1, %g]", burst,
                 SX_LIMITER_BURST_MAX);
    else
        return 0;
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_digits(const char *p)
{
    while (is_digit(*p))
        p++;
    return p;
}

/*
 * The end of the decimal number at p (digits, an optional fraction, an
 * optional exponent), or p itself if there is none.  strtod then converts
 * exactly that span; anything it reads differently (hex, inf, a locale's
 * decimal comma) is refused by the caller.
 */
static const char *scan_number(const char *p)
{
    const char *q = skip_digits(p);

    if (*q == '.' && (q > p || is_digit(q[1])))
        q = skip_digits(q + 1);
    if (q == p)
        return p;
    if (*q == 'e' || *q == 'E') {
        const char *e = q + 1;

        if (*e == '+' || *e == '-')
            e++;
        if (is_digit(*e))
            q = skip_digits(e);
    }
    return q;
}

/* Converts [p, end) as scanned; -1 if strtod does not agree on the span. */
static int to_double(const char *p, const char *end, double *v)
{
    char *e;

    *v = strtod(p, &e);
    return e == end ? 0 : -1;
}

static double unit_seconds(char u)
{
    return u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : 0;
}

/* The count: "N/" at the start of s; *next is just past the '/'. */
static int parse_count(const char *s, double *rate, const char **next,
                       char *err, size_t errlen)
{
    const char *end = scan_number(s);

    if (end == s || to_double(s, end, rate) < 0) {
        snprintf(err, errlen, "bad rate '%.*s': the count must be a "
                 "positive decimal number", QUOTE_MAX, s);
        return -1;
    }
    if (*end != '/') {
        snprintf(err, errlen, "bad rate '%.*s': expected '/' after the "
                 "count '%.*s'", QUOTE_MAX, s, (int)(end - s), s);
        return -1;
    }
    if (!(*rate >= SX_LIMITER_RATE_MIN && *rate <= SX_LIMITER_RATE_MAX)) {
        snprintf(err, errlen, "bad rate '%.*s': the count '%.*s' is out "
                 "of range [%g, %g]", QUOTE_MAX, s, (int)(end - s), s,
                 SX_LIMITER_RATE_MIN, SX_LIMITER_RATE_MAX);
        return -1;
    }
    *next = end + 1;
    return 0;
}

/* The period after the '/': "[P]u", whole string s for messages. */
static int parse_period(const char *s, const char *p, double *period,
                        char *err, size_t errlen)
{
    const char *end = scan_number(p);
    double n = 1, unit;

    if (end != p && to_double(p, end, &n) < 0)
        end = p; /* not a number as we read it: report it as junk */
    unit = unit_seconds(*end);
    if (unit == 0) {
        snprintf(err, errlen, "bad rate '%.*s': the period '%.*s' must be "
                 "a number followed by s, m or h", QUOTE_MAX, s, QUOTE_MAX,
                 p);
        return -1;
    }
    if (end[1] != '\0') {
        snprintf(err, errlen, "bad rate '%.*s': trailing '%.*s' after the "
                 "period", QUOTE_MAX, s, QUOTE_MAX, end + 1);
        return -1;
    }
    *period = n * unit;
    if (!(*period >= SX_LIMITER_PERIOD_MIN &&
          *period <= SX_LIMITER_PERIOD_MAX)) {
        snprintf(err, errlen, "bad rate '%.*s': the period '%.*s' is out "
                 "of range [%g s, 1 year]", QUOTE_MAX, s, (int)(end + 1 - p),
                 p, SX_LIMITER_PERIOD_MIN);
        return -1;
    }
    return 0;
}

int sx_limiter_parse_rate(const char *s, double *rate, double *period,
                          char *err, size_t errlen)
{
    const char *p;
    double r, t;

    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty rate (expected N/period such as "
                 "10/1s, 100/60s, 5/m)");
        return -1;
    }
    if (parse_count(s, &r, &p, err, errlen) < 0 ||
        parse_period(s, p, &t, err, errlen) < 0)
        return -1;
    *rate = r;
    *period = t;
    return 0;
}
