/*
 * A tiny unit-test harness in the spirit of Redis testhelp.h: test_cond()
 * counts a check and prints it with file:line only when it fails;
 * `return test_report();` ends main() with one line "N passed, N failed".
 */
#ifndef SX_TESTHELP_H
#define SX_TESTHELP_H
#include <math.h>
#include <stdio.h>

static int th_passed, th_failed;

#define test_cond(descr, cond)                                          \
    do {                                                                \
        if (cond) {                                                     \
            th_passed++;                                                \
        } else {                                                        \
            th_failed++;                                                \
            printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, (descr));  \
        }                                                               \
    } while (0)

#define test_report()                                                   \
    (printf("%d passed, %d failed\n", th_passed, th_failed),            \
     th_failed != 0)

/* |a - b| <= eps, for results of floating-point arithmetic. */
static inline int th_near(double a, double b, double eps)
{
    return fabs(a - b) <= eps;
}

#endif
