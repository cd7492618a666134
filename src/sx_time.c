/*
 * Time helpers (see sx_time.h).  The clamp comes before the cast, so a
 * huge or NaN number of seconds is never undefined behaviour.
 */
#include "sx_time.h"

#include <time.h>

struct timeval sx_time_tv(double s)
{
    struct timeval tv;
    if (!(s > 0))
        s = 0;
    if (s > SX_TIME_MAX)
        s = SX_TIME_MAX;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    if (tv.tv_usec > 999999)
        tv.tv_usec = 999999;
    return tv;
}

double sx_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
