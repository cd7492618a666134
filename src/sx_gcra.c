/*
 * The shared limiter's decision (see sx_gcra.h): GCRA on integer
 * nanoseconds, compared with the tat before it advances, no rounding
 * anywhere, saturating additions so that no input can overflow.
 */
#include "sx_gcra.h"

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t sat_mul(int64_t a, int64_t b) /* a, b >= 0 */
{
    if (a != 0 && b > INT64_MAX / a)
        return INT64_MAX;
    return a * b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int64_t sx_gcra_day(int64_t utc_s)
{
    int64_t d = utc_s / SX_GCRA_DAY_S;
    return utc_s % SX_GCRA_DAY_S < 0 ? d - 1 : d;
}

static int64_t interval(const struct sx_gcra_params *p)
{
    return p->interval_ns >= 1 ? p->interval_ns : 1;
}

static int64_t tolerance(const struct sx_gcra_params *p)
{
    int64_t b = p->burst >= 1 ? p->burst : 1;
    return sat_mul(b - 1, interval(p));
}

/* A new UTC day starts a new count; an older one keeps the newer day. */
static void roll_day(struct sx_gcra_state *s, int64_t utc_s)
{
    int64_t day = sx_gcra_day(utc_s);
    if (day > s->day) {
        s->day = day;
        s->day_count = 0;
    }
    if (s->day_count < 0)
        s->day_count = 0;
}

/* Deadlines too far ahead of now come from another clock: dropped. */
static void sanitize(struct sx_gcra_state *s, int64_t now_ns)
{
    int64_t lim = sat_add(now_ns, SX_GCRA_AHEAD_MAX);
    if (s->tat_ns > lim)
        s->tat_ns = 0;
    if (s->penalty_ns > lim)
        s->penalty_ns = 0;
}

static int64_t left_of(const struct sx_gcra_state *s,
                       const struct sx_gcra_params *p, int64_t day)
{
    if (s->spent_day == day) /* the server's word, quota or not */
        return 0;
    if (p->quota <= 0)
        return -1;
    if (s->day != day)
        return p->quota;
    return s->day_count >= p->quota ? 0 : p->quota - s->day_count;
}

int64_t sx_gcra_left(const struct sx_gcra_state *s,
                     const struct sx_gcra_params *p, int64_t utc_s)
{
    int64_t day = sx_gcra_day(utc_s);
    return left_of(s, p, day > s->day ? day : s->day);
}

void sx_gcra_reserve(struct sx_gcra_state *s, const struct sx_gcra_params *p,
                     int64_t now_ns, int64_t utc_s,
                     struct sx_gcra_verdict *out)
{
    int64_t t = interval(p), tau = tolerance(p), at;
    roll_day(s, utc_s);
    sanitize(s, now_ns);
    out->left = left_of(s, p, s->day);
    out->penalty = 0;
    if (out->left != 0 && p->max_penalty_ns > 0 &&
        s->penalty_ns - now_ns > p->max_penalty_ns) {
        out->admitted = 0;
        out->penalty = 1;
        out->at_ns = 0;
        out->retry_s = (s->penalty_ns - now_ns + SX_GCRA_NS - 1) / SX_GCRA_NS;
        return;
    }
    if (out->left == 0) {
        out->admitted = 0;
        out->at_ns = 0;
        out->retry_s = (s->day + 1) * SX_GCRA_DAY_S - utc_s;
        if (out->retry_s < 1)
            out->retry_s = 1;
        return;
    }
    at = max64(max64(now_ns, sat_add(s->tat_ns, -tau)), s->penalty_ns);
    s->tat_ns = sat_add(max64(s->tat_ns, at), t);
    s->day_count++;
    out->admitted = 1;
    out->at_ns = at;
    out->retry_s = 0;
    if (out->left > 0)
        out->left--;
}

void sx_gcra_penalty(struct sx_gcra_state *s, const struct sx_gcra_params *p,
                     int64_t now_ns, int64_t retry_ns, int64_t utc_s)
{
    int64_t until;
    if (retry_ns < 0)
        retry_ns = 0;
    until = sat_add(now_ns, retry_ns);
    sanitize(s, now_ns);
    if (until > s->penalty_ns)
        s->penalty_ns = until;
    s->tat_ns = max64(s->tat_ns, sat_add(until, tolerance(p)));
    if (retry_ns >= SX_GCRA_SPENT_S * SX_GCRA_NS) {
        roll_day(s, utc_s);
        s->spent_day = s->day;
    }
}
