/*
 * Unit tests for sx_limiter: the GCRA burst, the spacing after it, refill,
 * pauses from server feedback, long idle periods, clamping of absurd
 * values, and every acceptance and rejection of the rate-string parser.
 */
#include <math.h>
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

/* 1 if s parses to want_rate per want_period seconds. */
static int rate_is(const char *s, double want_rate, double want_period)
{
    double r = -1, p = -1;
    char err[160] = "";

    return sx_limiter_parse_rate(s, &r, &p, err, sizeof(err)) == 0 &&
           th_near(r, want_rate, 1e-12 * want_rate) &&
           th_near(p, want_period, 1e-12 * want_period) && err[0] == '\0';
}

/* 1 if s is refused with a message containing part; outputs untouched. */
static int rate_bad(const char *s, const char *part)
{
    double r = -7, p = -7;
    char err[160] = "";
    int rc = sx_limiter_parse_rate(s, &r, &p, err, sizeof(err));

    if (rc != -1 || r != -7 || p != -7 || strstr(err, part) == NULL) {
        printf("  '%s' -> rc %d, err '%s'\n", s ? s : "(null)", rc, err);
        return 0;
    }
    return 1;
}

static void test_parse_ok(void)
{
    test_cond("10/1s", rate_is("10/1s", 10, 1));
    test_cond("10/s", rate_is("10/s", 10, 1));
    test_cond("100/60s", rate_is("100/60s", 100, 60));
    test_cond("5/m", rate_is("5/m", 5, 60));
    test_cond("1000/h", rate_is("1000/h", 1000, 3600));
    test_cond("1/0.5s", rate_is("1/0.5s", 1, 0.5));
    test_cond("2/1.5m", rate_is("2/1.5m", 2, 90));
    test_cond("0.5/s", rate_is("0.5/s", 0.5, 1));
    test_cond(".5/.5s", rate_is(".5/.5s", 0.5, 0.5));
    test_cond("1./s", rate_is("1./s", 1, 1));
    test_cond("1e3/s (exponent)", rate_is("1e3/s", 1000, 1));
    test_cond("1/2e1s", rate_is("1/2e1s", 1, 20));
    test_cond("1/1E-3s (smallest period)", rate_is("1/1E-3s", 1, 0.001));
    test_cond("1e-6/s (smallest rate)", rate_is("1e-6/s", 1e-6, 1));
    test_cond("1e6/s (largest rate)", rate_is("1e6/s", 1e6, 1));
    test_cond("1/8760h (one year)", rate_is("1/8760h", 1, 365 * 86400.0));
    test_cond("leading zeros", rate_is("007/010s", 7, 10));
}

static void test_parse_bad(void)
{
    test_cond("NULL", rate_bad(NULL, "empty"));
    test_cond("empty", rate_bad("", "empty"));
    test_cond("no slash", rate_bad("10", "expected '/'"));
    test_cond("no count", rate_bad("/s", "count must be"));
    test_cond("negative count", rate_bad("-1/s", "count must be"));
    test_cond("plus sign", rate_bad("+1/s", "count must be"));
    test_cond("zero count", rate_bad("0/s", "count '0' is out of range"));
    test_cond("count too small", rate_bad("1e-7/s", "'1e-7' is out of"));
    test_cond("count too large", rate_bad("1000001/s", "out of range"));
    test_cond("1e400", rate_bad("1e400", "expected '/'"));
    test_cond("1e400/s", rate_bad("1e400/s", "count '1e400' is out"));
    test_cond("nan/s", rate_bad("nan/s", "count must be"));
    test_cond("inf/s", rate_bad("inf/s", "count must be"));
    test_cond("hex count", rate_bad("0x10/s", "count must be"));
    test_cond("blank", rate_bad(" 10/s", "count must be"));
    test_cond("dangling exponent", rate_bad("1e/s", "expected '/'"));
    test_cond("no unit", rate_bad("10/1", "followed by s, m or h"));
    test_cond("bare slash", rate_bad("10/", "followed by s, m or h"));
    test_cond("unknown unit", rate_bad("10/1d", "period '1d'"));
    test_cond("negative period", rate_bad("10/-1s", "period '-1s'"));
    test_cond("zero period", rate_bad("10/0s", "period '0s' is out"));
    test_cond("period too short", rate_bad("1/0.0009s", "out of range"));
    test_cond("period over a year", rate_bad("1/8761h", "out of range"));
    test_cond("1/1e300s", rate_bad("1/1e300s", "period '1e300s' is out"));
    test_cond("2/1e400s", rate_bad("2/1e400s", "period '1e400s' is out"));
    test_cond("1/1e300h overflows", rate_bad("1/1e300h", "out of range"));
    test_cond("nan period", rate_bad("1/nans", "period 'nans'"));
    test_cond("inf period", rate_bad("1/infs", "period 'infs'"));
    test_cond("hex period", rate_bad("1/0x1p3s", "period"));
    test_cond("trailing junk", rate_bad("10/1sx", "trailing 'x'"));
    test_cond("trailing blank", rate_bad("10/1s ", "trailing ' '"));
    test_cond("burst option is not ours", rate_bad("10/1s,burst=2",
                                                   "trailing ',burst=2'"));
    test_cond("two slashes", rate_bad("10//s", "period '/s'"));
    test_cond("ms is not a unit", rate_bad("10/1ms", "trailing 's'"));
}

static void test_check(void)
{
    char err[160];

    test_cond("check ok", sx_limiter_check(10, 1, 10, err, sizeof(err)) == 0);
    test_cond("check bounds inclusive",
              sx_limiter_check(1e-6, 0.001, 1, err, sizeof(err)) == 0 &&
                  sx_limiter_check(1e6, SX_LIMITER_PERIOD_MAX, 1e6, err,
                                   sizeof(err)) == 0);
    test_cond("check rate 0", sx_limiter_check(0, 1, 1, err, sizeof(err)) ==
                                      -1 && strstr(err, "rate 0") != NULL);
    test_cond("check rate NaN",
              sx_limiter_check(NAN, 1, 1, err, sizeof(err)) == -1);
    test_cond("check period inf",
              sx_limiter_check(1, INFINITY, 1, err, sizeof(err)) == -1 &&
                  strstr(err, "period inf") != NULL);
    test_cond("check burst 0.5",
              sx_limiter_check(1, 1, 0.5, err, sizeof(err)) == -1 &&
                  strstr(err, "burst 0.5") != NULL);
    test_cond("check burst too large",
              sx_limiter_check(1, 1, 2e6, err, sizeof(err)) == -1);
}

/* The state after init is finite whatever the inputs. */
static int finite_state(const struct sx_limiter *g)
{
    return isfinite(g->interval) && g->interval > 0 &&
           isfinite(g->tolerance) && g->tolerance >= 0;
}

static void test_clamp(void)
{
    static const double bad[] = { 0, -1, 1e-300, 1e300, NAN, INFINITY,
                                  -INFINITY };
    struct sx_limiter g;
    size_t i, j;
    int ok = 1;

    for (i = 0; i < 7; i++)
        for (j = 0; j < 7; j++) {
            double w;

            sx_limiter_init(&g, bad[i], bad[j], bad[(i + j) % 7]);
            ok = ok && finite_state(&g);
            sx_limiter_admit(&g, 10);
            sx_limiter_admit(&g, 10);
            w = sx_limiter_wait(&g, 10);
            ok = ok && isfinite(w) && w >= 0 && w <= SX_LIMITER_WAIT_MAX;
        }
    test_cond("absurd init values: finite state and waits", ok);
    sx_limiter_init(&g, 1e-300, 1e300, 1);
    test_cond("slowest: interval period_max/rate_min",
              g.interval == SX_LIMITER_PERIOD_MAX / SX_LIMITER_RATE_MIN);
    sx_limiter_admit(&g, 0);
    test_cond("huge wait reported as the maximum",
              sx_limiter_wait(&g, 0) == SX_LIMITER_WAIT_MAX);
    sx_limiter_init(&g, NAN, 1, NAN);
    test_cond("NaN rate: the lowest rate, burst 1",
              g.interval == 1 / SX_LIMITER_RATE_MIN && g.tolerance == 0);
    sx_limiter_init(&g, 10, 1, 1);
    test_cond("NaN now: wait the interval, not 0",
              th_near(sx_limiter_wait(&g, NAN), 0.1, 1e-12));
    sx_limiter_admit(&g, NAN);
    test_cond("NaN now: admit ignored", g.tat == 0);
    sx_limiter_pause(&g, NAN);
    sx_limiter_pause(&g, INFINITY);
    test_cond("NaN/inf pause ignored", g.tat == 0 && g.paused_until == 0);
}

int main(void)
{
    test_burst();
    test_spacing();
    test_window();
    test_refill();
    test_pause();
    test_pause_busy();
    test_parse_ok();
    test_parse_bad();
    test_check();
    test_clamp();
    return test_report();
}
