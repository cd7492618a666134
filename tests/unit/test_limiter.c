/*
 * Unit tests for the GCRA arithmetic in sx_limiter: the burst, the spacing
 * after it, refill, pauses from server feedback, and long idle periods.
 */
#include <string.h>

#include "sx_limiter.h"
#include "testhelp.h"

/* Admits at `now` until the limiter says wait; returns how many went. */
static int drain(struct sx_limiter *g, double now)
{
    int n = 0;

    while (n < 100000 && sx_limiter_wait(g, now) == 0) {
        sx_limiter_admit(g, now);
        n++;
    }
    return n;
}

static void test_burst(void)
{
    static const double starts[] = { 0, 1, 123456.789, 1e7, 1e9 };
    struct sx_limiter g;
    size_t i;

    for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        double t = starts[i];

        sx_limiter_init(&g, 10, 1, 10);
        test_cond("idle: burst of 10 at once", drain(&g, t) == 10);
        test_cond("then wait one interval",
                  th_near(sx_limiter_wait(&g, t), 0.1, 1e-5));
    }
    sx_limiter_init(&g, 1, 2, 1);
    test_cond("burst 1: one at once", drain(&g, 0) == 1);
    test_cond("1 per 2 s: wait 2", th_near(sx_limiter_wait(&g, 0), 2, 1e-9));
    test_cond("1 per 2 s: wait 0.5 at 1.5",
              th_near(sx_limiter_wait(&g, 1.5), 0.5, 1e-9));
    sx_limiter_init(&g, 3, 60, 5);
    test_cond("3/min burst 5", drain(&g, 100) == 5);
    test_cond("3/min: next in 20 s",
              th_near(sx_limiter_wait(&g, 100), 20, 1e-9));
}

/* Runs the limiter greedily from t0 and records admission times. */
static void simulate(struct sx_limiter *g, double t0, double *at, int n)
{
    double t = t0;
    int i;

    for (i = 0; i < n; i++) {
        double w;

        while ((w = sx_limiter_wait(g, t)) > 0)
            t += w;
        sx_limiter_admit(g, t);
        at[i] = t;
    }
}

static void test_spacing(void)
{
    struct sx_limiter g;
    double at[40];
    int i, ok = 1;

    sx_limiter_init(&g, 10, 1, 10);
    simulate(&g, 50, at, 40);
    for (i = 0; i < 10; i++)
        ok = ok && at[i] == 50;
    test_cond("first 10 at t0", ok);
    for (i = 10, ok = 1; i < 40; i++)
        ok = ok && th_near(at[i] - at[i - 1], 0.1, 1e-6);
    test_cond("then exactly period/rate apart", ok);
    test_cond("11th at t0 + 0.1", th_near(at[10], 50.1, 1e-6));

    sx_limiter_init(&g, 5, 1, 1);
    simulate(&g, 0, at, 20);
    for (i = 1, ok = 1; i < 20; i++)
        ok = ok && th_near(at[i] - at[i - 1], 0.2, 1e-9);
    test_cond("burst 1: every request 0.2 s apart", ok && at[0] == 0);
}

/* A window of length period sees at most burst + rate requests. */
static void test_window(void)
{
    struct sx_limiter g;
    double at[200];
    int i, n = 0;

    sx_limiter_init(&g, 10, 1, 10);
    simulate(&g, 0, at, 200);
    for (i = 0; i < 200; i++)
        n += at[i] < 1 - 1e-9;
    test_cond("first second: burst + 9", n == 19);
    for (i = 0, n = 0; i < 200; i++)
        n += at[i] >= 5 - 1e-9 && at[i] < 6 - 1e-9;
    test_cond("a later second: exactly rate", n == 10);
}

static void test_refill(void)
{
    struct sx_limiter g;

    sx_limiter_init(&g, 10, 1, 10);
    drain(&g, 0);
    test_cond("0.35 s later: 3 admitted", drain(&g, 0.35) == 3);
    test_cond("and the next in 0.05 s",
              th_near(sx_limiter_wait(&g, 0.35), 0.05, 1e-9));
    test_cond("after long idle: only burst", drain(&g, 1000) == 10);
    test_cond("after long idle: then spaced",
              th_near(sx_limiter_wait(&g, 1000), 0.1, 1e-9));
    test_cond("after very long idle: only burst", drain(&g, 1e8) == 10);
}

static void test_pause(void)
{
    struct sx_limiter g, saved;

    sx_limiter_init(&g, 10, 1, 10);
    sx_limiter_pause(&g, 5);
    test_cond("pause: wait until it ends", th_near(sx_limiter_wait(&g, 0), 5,
                                                   1e-9));
    test_cond("pause: wait shrinks with time",
              th_near(sx_limiter_wait(&g, 4), 1, 1e-9));
    test_cond("pause: nothing just before", sx_limiter_wait(&g, 4.999) > 0);
    test_cond("pause: no burst when it ends", drain(&g, 5) == 1);
    test_cond("pause: then one interval",
              th_near(sx_limiter_wait(&g, 5), 0.1, 1e-9));

    saved = g;
    sx_limiter_pause(&g, 3);
    test_cond("earlier pause changes nothing",
              memcmp(&g, &saved, sizeof(g)) == 0);
    sx_limiter_pause(&g, 5);
    test_cond("same pause again changes nothing",
              memcmp(&g, &saved, sizeof(g)) == 0);

    sx_limiter_pause(&g, 8);
    test_cond("later pause extends", th_near(sx_limiter_wait(&g, 5.1), 2.9,
                                             1e-9));
    test_cond("later pause: no burst either", drain(&g, 8) == 1);
    test_cond("burst back after idle", drain(&g, 100) == 10);
}

static void test_pause_busy(void)
{
    struct sx_limiter g;

    sx_limiter_init(&g, 10, 1, 10);
    drain(&g, 0);
    sx_limiter_pause(&g, 0.05);
    test_cond("pause shorter than the current wait: same wait",
              th_near(sx_limiter_wait(&g, 0), 0.1, 1e-9));

    sx_limiter_init(&g, 10, 1, 10);
    drain(&g, 1e6);
    sx_limiter_pause(&g, 1e6 + 2);
    test_cond("pause at large now", th_near(sx_limiter_wait(&g, 1e6), 2, 1e-6));
    test_cond("one at the end of it", drain(&g, 1e6 + 2) == 1);
    test_cond("then spaced", th_near(sx_limiter_wait(&g, 1e6 + 2), 0.1, 1e-6));
}

int main(void)
{
    test_burst();
    test_spacing();
    test_window();
    test_refill();
    test_pause();
    test_pause_busy();
    return test_report();
}
