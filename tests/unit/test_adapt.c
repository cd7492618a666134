/*
 * Unit tests for sx_adapt at explicit times: a burst of 429s converges
 * (one cut each, to the floor at worst), the cut is measured against the
 * accepted rate, successes grow the rate back past w_max, never above
 * the configured rate and never below the floor; another process's cut
 * is taken when newer; a Retry-After is the first cut's hint (a table).
 */
#include "sx_adapt.h"
#include "testhelp.h"

static void successes(struct sx_adapt *a, double from, double every, int n)
{
    for (int i = 0; i < n; i++)
        sx_adapt_success(a, from + i * every);
}

/*
 * A 429 with Retry-After: a configured rate max, n successes every
 * `every` s from 0 (n < 2: nothing measured), then a 429 at `at` saying
 * Retry-After: ra; the cut's w_max and the rate right after it.
 */
static const struct {
    const char *name;
    double max;
    int n;
    double every, at, ra, w_max, rate;
} cuts[] = {
    {"no Retry-After: 0.7 x the current rate", 5, 1, 0, 0.2, -1, 5, 3.5},
    {"Retry-After 1, nothing measured: 1/R", 5, 1, 0, 0.2, 1, 1, 0.7},
    {"no success at all: 1/R", 5, 0, 0, 0.2, 1, 1, 0.7},
    {"Retry-After 2: 1/2", 5, 1, 0, 0.2, 2, 0.5, 0.35},
    {"Retry-After 0 is no hint", 5, 1, 0, 0.2, 0, 5, 3.5},
    {"1/R above the current rate: the current rate", 5, 1, 0, 0.2, 0.1, 5,
     3.5},
    {"an infinite Retry-After is no hint", 5, 1, 0, 0.2, 1.0 / 0.0, 5, 3.5},
    {"a measured 2/s wins over 1/R (R rounded up)", 5, 4, 0.5, 1.6, 1, 2,
     1.4},
    {"a measured 0.5/s wins over 1/R", 5, 3, 2, 4.1, 1, 0.5, 0.35},
    {"a huge Retry-After: the floor", 5, 1, 0, 0.2, 1e9, SX_ADAPT_FLOOR,
     SX_ADAPT_FLOOR},
    {"configured below 1/R: the configured rate", 0.5, 1, 0, 0.2, 1, 0.5,
     0.35},
};

static void test_retry_after_cuts(void)
{
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        struct sx_adapt a;
        sx_adapt_init(&a, cuts[i].max);
        successes(&a, 0, cuts[i].every, cuts[i].n);
        double r = sx_adapt_throttle(&a, cuts[i].at, cuts[i].ra);
        test_cond(cuts[i].name, a.active &&
                                    th_near(a.w_max, cuts[i].w_max, 1e-9) &&
                                    th_near(r, cuts[i].rate, 1e-9));
    }

    /* the issue's case: one cut to 1/R, then back to 1/s after K */
    struct sx_adapt a;
    double k = cbrt((1 - SX_ADAPT_BETA) / SX_ADAPT_C);
    sx_adapt_init(&a, 5);
    sx_adapt_success(&a, 0);
    sx_adapt_throttle(&a, 0.01, 1);
    test_cond("one cut to the server's 1/s, back to it at K",
              th_near(sx_adapt_rate(&a, 0.01 + k), 1, 1e-9));
    sx_adapt_init(&a, 5); /* accepted at 1/s, then a 429 saying R = 0.25 */
    successes(&a, 0, 1, 5);
    test_cond("the next cut measures, R is not needed",
              th_near(sx_adapt_throttle(&a, 4.5, 0.25), 0.7, 1e-9));
}

int main(void)
{
    struct sx_adapt a;
    double r;

    sx_adapt_init(&a, 5);
    test_cond("inactive: the configured rate", sx_adapt_rate(&a, 0) == 5);
    test_cond("nothing measured yet", sx_adapt_measured(&a) == 0);

    /* one success, then a 429: nothing measured, 5 x beta */
    sx_adapt_success(&a, 0);
    r = sx_adapt_throttle(&a, 0.2, -1);
    test_cond("first cut: 5 x 0.7", th_near(r, 3.5, 1e-9));
    test_cond("the cut rate holds at the cut", th_near(sx_adapt_rate(&a, 0.2),
                                                       3.5, 1e-9));

    /* successes 1 s apart: the next cut is measured against 1/s */
    successes(&a, 1, 1, 4);
    test_cond("measured 1/s", th_near(sx_adapt_measured(&a), 1, 1e-9));
    r = sx_adapt_throttle(&a, 4.3, -1);
    test_cond("second cut: 0.7 x the measured 1/s", th_near(r, 0.7, 1e-9));
    test_cond("w_max is the measured rate", th_near(a.w_max, 1, 1e-9));

    /* CUBIC growth: back to w_max after K = cbrt(0.3 / C) s, then past */
    double k = cbrt((1 - SX_ADAPT_BETA) / SX_ADAPT_C);
    test_cond("grows after the cut", sx_adapt_rate(&a, 4.3 + 2) > 0.7);
    test_cond("concave: most of the way back by K/2",
              sx_adapt_rate(&a, 4.3 + k / 2) > 0.95);
    test_cond("w_max at K", th_near(sx_adapt_rate(&a, 4.3 + k), 1, 1e-9));
    test_cond("a plateau near w_max", sx_adapt_rate(&a, 4.3 + k + 2) < 1.01);
    test_cond("then convex past it", sx_adapt_rate(&a, 4.3 + k + 8) > 1.4);
    test_cond("never above the configured rate",
              sx_adapt_rate(&a, 4.3 + 1000) == 5);
    sx_adapt_success(&a, 4.3 + 1000);
    test_cond("grown back: inactive again", !a.active);

    /* a burst of 429s, each measured against the last: converges */
    sx_adapt_init(&a, 5);
    for (int i = 0; i < 60; i++)
        r = sx_adapt_throttle(&a, 100 + i * 0.01, -1);
    test_cond("a burst of 429s ends at the floor",
              th_near(r, SX_ADAPT_FLOOR, 1e-12));
    test_cond("never below the floor",
              sx_adapt_rate(&a, 100.6) >= SX_ADAPT_FLOOR);
    r = sx_adapt_throttle(&a, 101, -1);
    test_cond("a 429 at the floor stays there",
              th_near(r, SX_ADAPT_FLOOR, 1e-12));

    /* a configured rate below the floor is the floor */
    sx_adapt_init(&a, 0.001);
    r = sx_adapt_throttle(&a, 1, -1);
    test_cond("configured below the floor: the configured rate",
              th_near(r, 0.001, 1e-12));

    /* the configured rate lowered: the learned rate is capped by it */
    sx_adapt_init(&a, 5);
    sx_adapt_throttle(&a, 0, -1);
    sx_adapt_set_max(&a, 1);
    test_cond("capped by a lower configured rate", sx_adapt_rate(&a, 0) == 1);

    /* a clock behind the cut, NaN: finite, within the bounds */
    sx_adapt_init(&a, 5);
    sx_adapt_throttle(&a, 10, -1);
    r = sx_adapt_rate(&a, 5);
    test_cond("a clock behind the cut: the cut rate", th_near(r, 3.5, 1e-9));
    r = sx_adapt_rate(&a, 0.0 / 0.0);
    test_cond("NaN now: within the bounds", r >= SX_ADAPT_FLOOR && r <= 5);
    sx_adapt_success(&a, 1.0 / 0.0);
    test_cond("an infinite success time is ignored", a.n_ok == 0);

    /* another process's cut: taken if newer and not grown back */
    sx_adapt_init(&a, 5);
    test_cond("a cut of another process is taken",
              sx_adapt_adopt(&a, 1, 50, 51) && a.active &&
                  th_near(a.w_max, 1, 1e-12) && a.t_cut == 50);
    test_cond("the same cut again is not",
              !sx_adapt_adopt(&a, 2, 50, 51) && th_near(a.w_max, 1, 1e-12));
    test_cond("an older one is not", !sx_adapt_adopt(&a, 2, 40, 51));
    test_cond("a newer one is", sx_adapt_adopt(&a, 2, 52, 53) &&
                                    th_near(a.w_max, 2, 1e-12));
    sx_adapt_init(&a, 5);
    test_cond("one grown back already is not",
              !sx_adapt_adopt(&a, 1, 50, 5000) && !a.active);
    test_cond("a bad one is not", !sx_adapt_adopt(&a, 0, 50, 51) &&
                                      !sx_adapt_adopt(&a, 1, 1.0 / 0.0, 51));

    /* measured over the window only */
    sx_adapt_init(&a, 5);
    successes(&a, 0, 10, 3);    /* 0, 10, 20: older than the window */
    successes(&a, 20.5, 0.5, 3); /* 20.5, 21, 21.5 */
    test_cond("measured over the last SX_ADAPT_WINDOW s",
              th_near(sx_adapt_measured(&a), 3 / 1.5, 1e-9));
    test_retry_after_cuts();
    return test_report();
}
