/*
 * Unit tests for sx_time: seconds -> timeval rounding and clamping of
 * NaN, negative, huge and infinite values, and the monotonic clock.
 */
#include <float.h>
#include <math.h>
#include <time.h>

#include "sx_time.h"
#include "testhelp.h"

static int tv_is(double s, long sec, long usec)
{
    struct timeval tv = sx_time_tv(s);

    if (tv.tv_sec != sec || tv.tv_usec != usec) {
        printf("  %g -> {%ld, %ld}\n", s, (long)tv.tv_sec,
               (long)tv.tv_usec);
        return 0;
    }
    return 1;
}

static void test_tv(void)
{
    test_cond("0", tv_is(0, 0, 0));
    test_cond("-0", tv_is(-0.0, 0, 0));
    test_cond("1.5", tv_is(1.5, 1, 500000));
    test_cond("0.25", tv_is(0.25, 0, 250000));
    test_cond("whole seconds", tv_is(42, 42, 0));
    test_cond("1 us", tv_is(1e-6, 0, 1));
    test_cond("below 1 us rounds up", tv_is(1e-8, 0, 1));
    test_cond("1 ns is noise", tv_is(1e-9, 0, 0));
    test_cond("smallest positive", tv_is(DBL_TRUE_MIN, 0, 0));
    test_cond("rounded up, not down", tv_is(0.0000015, 0, 2));
    test_cond("1.1: no extra microsecond", tv_is(1.1, 1, 100000));
    test_cond("0.3", tv_is(0.3, 0, 300000));
    test_cond("12345.678901", tv_is(12345.678901, 12345, 678901));
    test_cond("carry into seconds", tv_is(1.9999999, 2, 0));
    test_cond("negative -> 0", tv_is(-3.5, 0, 0));
    test_cond("-inf -> 0", tv_is(-INFINITY, 0, 0));
    test_cond("NaN -> 0", tv_is(NAN, 0, 0));
    test_cond("-NaN -> 0", tv_is(-NAN, 0, 0));
    test_cond("max", tv_is(SX_TIME_MAX, 100000000, 0));
    test_cond("just over max", tv_is(SX_TIME_MAX + 0.5, 100000000, 0));
    test_cond("1e300 clamped", tv_is(1e300, 100000000, 0));
    test_cond("DBL_MAX clamped", tv_is(DBL_MAX, 100000000, 0));
    test_cond("+inf clamped", tv_is(INFINITY, 100000000, 0));
}

static void test_now(void)
{
    double a = sx_time_now(), b;
    struct timespec ts = { 0, 20 * 1000 * 1000 };

    nanosleep(&ts, NULL);
    b = sx_time_now();
    test_cond("now is positive", a > 0);
    test_cond("now advances with sleep", b - a >= 0.019 && b - a < 5);
}

int main(void)
{
    test_tv();
    test_now();
    return test_report();
}
