/*
 * Unit tests for sx_gcra, x/time/rate style: tables of requests at
 * explicit times with the slot each must get, simultaneous requests, the
 * burst, penalties, the daily quota and its UTC reset, clock jumps back,
 * saturation at absurd values, and the window bound B + W/T.
 */
#include <string.h>

#include "sx_gcra.h"
#include "testhelp.h"

#define S SX_GCRA_NS
#define MS 1000000LL
#define DAY0 (20000 * SX_GCRA_DAY_S) /* a UTC midnight (2024-10-04) */

struct step {
    int64_t now;      /* monotonic ns */
    int64_t want_at;  /* the slot, or -1: quota spent */
};

static void fresh(struct sx_gcra_state *s)
{
    memset(s, 0, sizeof *s);
    s->spent_day = -1;
}

/* Runs the table; every slot must be exactly the one expected. */
static int run(struct sx_gcra_state *s, const struct sx_gcra_params *p,
               const struct step *t, int n, int64_t utc)
{
    struct sx_gcra_verdict v;
    for (int i = 0; i < n; i++) {
        sx_gcra_reserve(s, p, t[i].now, utc, &v);
        if (t[i].want_at < 0 ? v.admitted : !v.admitted || v.at_ns !=
                                                               t[i].want_at) {
            printf("  step %d: now %lld admitted %d at %lld, want %lld\n", i,
                   (long long)t[i].now, v.admitted, (long long)v.at_ns,
                   (long long)t[i].want_at);
            return 0;
        }
    }
    return 1;
}

static void test_spacing(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {1 * S, 1, 0, 0};
    static const struct step t[] = {
        {100 * S, 100 * S},          /* idle: at once */
        {100 * S, 101 * S},          /* simultaneous: reserved behind */
        {100 * S, 102 * S},
        {100 * S + 500 * MS, 103 * S},
        {110 * S, 110 * S},          /* idle again: at once */
        {110 * S + 999 * MS, 111 * S}, /* 1 ns early is early: no +0.5 */
        {112 * S, 112 * S},          /* exactly on the tat: goes */
    };
    fresh(&s);
    test_cond("burst 1: one per interval, reserved in order",
              run(&s, &p, t, 7, DAY0));
    test_cond("count", s.day_count == 7);
}

static void test_burst(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {100 * MS, 3, 0, 0}; /* 10/s, burst 3 */
    static const struct step t[] = {
        {5 * S, 5 * S}, {5 * S, 5 * S}, {5 * S, 5 * S}, /* burst of 3 */
        {5 * S, 5 * S + 100 * MS},                     /* then spaced */
        {5 * S, 5 * S + 200 * MS},
        {6 * S, 6 * S}, /* tat 5.3 s: idle since, full burst again */
        {6 * S, 6 * S}, {6 * S, 6 * S}, {6 * S, 6 * S + 100 * MS},
    };
    fresh(&s);
    test_cond("burst 3 at one instant, then one per 100 ms",
              run(&s, &p, t, 9, DAY0));
}

/* N simultaneous callers get N distinct slots, burst of them at once. */
static void test_simultaneous(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {250 * MS, 4, 0, 0};
    struct sx_gcra_verdict v;
    int now_ok = 0, spaced = 1;
    int64_t last = 0;
    fresh(&s);
    for (int i = 0; i < 20; i++) {
        sx_gcra_reserve(&s, &p, 7 * S, DAY0, &v);
        now_ok += v.at_ns == 7 * S;
        if (i >= 4 && v.at_ns != last + 250 * MS)
            spaced = 0;
        last = v.at_ns;
    }
    test_cond("exactly burst of 20 go at once", now_ok == 4);
    test_cond("the rest one interval apart", spaced);
    test_cond("the last slot", last == 7 * S + 16 * 250 * MS);
}

/* Against a random arrival pattern, any window W holds <= B + W/T. */
static void test_window_bound(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {100 * MS, 5, 0, 0};
    struct sx_gcra_verdict v;
    static int64_t at[2000];
    uint64_t x = 88172645463325252ULL;
    int64_t now = 1 * S, worst_excess = -1;
    fresh(&s);
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        now += (int64_t)(x % (300 * MS)); /* bursty and idle phases */
        sx_gcra_reserve(&s, &p, now, DAY0, &v);
        at[i] = v.at_ns;
    }
    for (int i = 0; i < 2000; i++)
        for (int j = i; j < 2000; j++) {
            int64_t w = at[j] - at[i];
            /* count j-i+1 <= B + W/T  <=>  (j-i+1-B)*T <= W */
            int64_t excess = (j - i + 1 - p.burst) * p.interval_ns - w;
            if (excess > worst_excess)
                worst_excess = excess;
        }
    test_cond("no window holds more than B + W/T", worst_excess <= 0);
}

static void test_penalty(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {1 * S, 2, 0, 0};
    struct sx_gcra_verdict v;
    fresh(&s);
    sx_gcra_penalty(&s, &p, 10 * S, 5 * S, DAY0);
    sx_gcra_reserve(&s, &p, 11 * S, DAY0, &v);
    test_cond("held to the penalty", v.admitted && v.at_ns == 15 * S);
    sx_gcra_reserve(&s, &p, 11 * S, DAY0, &v);
    test_cond("no burst after it", v.at_ns == 16 * S);
    sx_gcra_penalty(&s, &p, 11 * S, 1 * S, DAY0);
    test_cond("an earlier deadline changes nothing", s.penalty_ns == 15 * S);
    p.max_penalty_ns = 3 * S;
    sx_gcra_reserve(&s, &p, 11 * S, DAY0, &v);
    test_cond("a penalty past max_penalty: refused, retry rounded up",
              !v.admitted && v.penalty && v.retry_s == 4 && s.day_count == 2);
    sx_gcra_reserve(&s, &p, 12 * S - 1, DAY0, &v);
    test_cond("3 s + 1 ns away: still refused", !v.admitted && v.retry_s == 4);
    sx_gcra_reserve(&s, &p, 12 * S, DAY0, &v);
    test_cond("exactly max_penalty away: reserved behind it",
              v.admitted && v.at_ns == 17 * S);
    p.max_penalty_ns = 0;
    test_cond("short penalty: the day is not spent", s.spent_day == -1);
    sx_gcra_penalty(&s, &p, 20 * S, 3600 * S, DAY0 + 50);
    test_cond("an hour: the day is spent", s.spent_day == DAY0 / 86400);
    sx_gcra_reserve(&s, &p, 21 * S, DAY0 + 100, &v);
    test_cond("spent: refused until 00:00 UTC",
              !v.admitted && v.retry_s == 86400 - 100 && v.left == 0);
    sx_gcra_reserve(&s, &p, 4000 * S, DAY0 + 86400, &v);
    test_cond("the next day: admitted again", v.admitted);
}

static void test_quota(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {1 * MS, 1, 3, 0};
    struct sx_gcra_verdict v;
    int64_t t = 1 * S;
    fresh(&s);
    test_cond("left on a fresh state", sx_gcra_left(&s, &p, DAY0) == 3);
    for (int i = 0; i < 3; i++, t += S) {
        sx_gcra_reserve(&s, &p, t, DAY0 + 3600, &v);
        test_cond("within quota", v.admitted && v.left == 2 - i);
    }
    sx_gcra_reserve(&s, &p, t, DAY0 + 3600, &v);
    test_cond("quota spent", !v.admitted && v.retry_s == 86400 - 3600);
    test_cond("nothing reserved when refused", s.day_count == 3);
    sx_gcra_reserve(&s, &p, t, DAY0 - 10, &v);
    test_cond("wall clock stepped back a day: still spent", !v.admitted);
    test_cond("left 0", sx_gcra_left(&s, &p, DAY0 + 7) == 0);
    test_cond("left next day", sx_gcra_left(&s, &p, DAY0 + 86400) == 3);
    sx_gcra_reserve(&s, &p, t, DAY0 + 86400, &v);
    test_cond("new UTC day: count reset", v.admitted && s.day_count == 1 &&
                                              v.left == 2);
    p.quota = 0;
    sx_gcra_reserve(&s, &p, t, DAY0 + 86400, &v);
    test_cond("quota 0: none", v.admitted && v.left == -1);
    test_cond("day before 1970", sx_gcra_day(-1) == -1 &&
                                     sx_gcra_day(-86400) == -1 &&
                                     sx_gcra_day(86399) == 0);
}

static void test_clock_back(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {1 * S, 1, 0, 0};
    struct sx_gcra_verdict v;
    fresh(&s);
    sx_gcra_reserve(&s, &p, 100 * S, DAY0, &v);
    sx_gcra_reserve(&s, &p, 90 * S, DAY0, &v); /* the clock went back 10 s */
    test_cond("jump back: waits longer, never earlier",
              v.admitted && v.at_ns == 101 * S);
    s.tat_ns = 1000000 * S; /* a state from another clock */
    sx_gcra_reserve(&s, &p, 50 * S, DAY0, &v);
    test_cond("tat days ahead: reset", v.at_ns == 50 * S &&
                                           s.tat_ns == 51 * S);
    s.penalty_ns = INT64_MAX;
    sx_gcra_reserve(&s, &p, 60 * S, DAY0, &v);
    test_cond("absurd penalty: reset", v.at_ns == 60 * S);
}

static void test_saturation(void)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p = {INT64_MAX / 2, 1000000, 0, 0};
    struct sx_gcra_verdict v;
    fresh(&s);
    sx_gcra_reserve(&s, &p, 1 * S, DAY0, &v);
    test_cond("huge interval and burst: admitted, no overflow",
              v.admitted && v.at_ns == 1 * S && s.tat_ns == INT64_MAX / 2 + S);
    sx_gcra_reserve(&s, &p, 1 * S, DAY0, &v);
    test_cond("burst credit", v.at_ns == 1 * S);
    p.interval_ns = 0;
    p.burst = -5;
    fresh(&s);
    sx_gcra_reserve(&s, &p, 1 * S, DAY0, &v);
    sx_gcra_reserve(&s, &p, 1 * S, DAY0, &v);
    test_cond("interval 0 and burst < 1 clamp to 1", v.at_ns == 1 * S + 1);
    sx_gcra_penalty(&s, &p, 1 * S, INT64_MAX, DAY0);
    test_cond("penalty saturates", s.penalty_ns == INT64_MAX);
}

int main(void)
{
    test_spacing();
    test_burst();
    test_simultaneous();
    test_window_bound();
    test_penalty();
    test_quota();
    test_clock_back();
    test_saturation();
    return test_report();
}
