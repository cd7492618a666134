/*
 * The adaptive rate controller (see sx_adapt.h): multiplicative decrease
 * against the measured accepted rate (or the Retry-After's), CUBIC
 * growth, clamped to [SX_ADAPT_FLOOR, max_rate].
 */
#include "sx_adapt.h"

#include <math.h>

static double clamp(const struct sx_adapt *a, double r)
{
    double floor_ = a->max_rate < SX_ADAPT_FLOOR ? a->max_rate
                                                 : SX_ADAPT_FLOOR;
    if (!(r >= floor_)) /* NaN too */
        return floor_;
    return r > a->max_rate ? a->max_rate : r;
}

void sx_adapt_init(struct sx_adapt *a, double max_rate)
{
    a->max_rate = max_rate > 0 ? max_rate : SX_ADAPT_FLOOR;
    a->active = 0;
    a->w_max = a->max_rate;
    a->t_cut = 0;
    a->n_ok = 0;
    a->i_ok = 0;
}

void sx_adapt_set_max(struct sx_adapt *a, double max_rate)
{
    a->max_rate = max_rate > 0 ? max_rate : SX_ADAPT_FLOOR;
}

double sx_adapt_rate(const struct sx_adapt *a, double now)
{
    if (!a->active)
        return a->max_rate;
    double k = cbrt((1 - SX_ADAPT_BETA) / SX_ADAPT_C);
    double t = now - a->t_cut;
    if (!(t >= 0)) /* a clock behind the cut: still the cut rate */
        t = 0;
    return clamp(a, a->w_max * (1 + SX_ADAPT_C * pow(t - k, 3)));
}

double sx_adapt_measured(const struct sx_adapt *a)
{
    if (a->n_ok < 2)
        return 0;
    int last = (a->i_ok + SX_ADAPT_SAMPLES - 1) % SX_ADAPT_SAMPLES;
    double newest = a->ok[last], oldest = newest;
    int n = 1;
    for (int i = 1; i < a->n_ok; i++) {
        double t = a->ok[(last + SX_ADAPT_SAMPLES - i) % SX_ADAPT_SAMPLES];
        if (newest - t > SX_ADAPT_WINDOW)
            break;
        oldest = t;
        n++;
    }
    return n >= 2 && newest > oldest ? (n - 1) / (newest - oldest) : 0;
}

void sx_adapt_success(struct sx_adapt *a, double now)
{
    if (!isfinite(now))
        return;
    a->ok[a->i_ok] = now;
    a->i_ok = (a->i_ok + 1) % SX_ADAPT_SAMPLES;
    if (a->n_ok < SX_ADAPT_SAMPLES)
        a->n_ok++;
    if (a->active && sx_adapt_rate(a, now) >= a->max_rate)
        a->active = 0;
}

double sx_adapt_throttle(struct sx_adapt *a, double now, double retry_after)
{
    double cur = sx_adapt_rate(a, now), m = sx_adapt_measured(a);
    if (!isfinite(now))
        return cur;
    if (!(m > 0) && retry_after > 0 && isfinite(retry_after))
        m = 1 / retry_after; /* the server's hint, when nothing is measured */
    double base = m > 0 && m < cur ? m : cur;
    a->w_max = clamp(a, base);
    a->t_cut = now;
    a->active = 1;
    return sx_adapt_rate(a, now);
}

int sx_adapt_adopt(struct sx_adapt *a, double w_max, double t_cut,
                   double now)
{
    struct sx_adapt b = *a;
    if (!(w_max > 0) || !isfinite(t_cut) || (a->active && t_cut <= a->t_cut))
        return 0;
    b.w_max = clamp(a, w_max);
    b.t_cut = t_cut;
    b.active = 1;
    if (sx_adapt_rate(&b, now) >= b.max_rate)
        return 0; /* grown back already */
    *a = b;
    return 1;
}
