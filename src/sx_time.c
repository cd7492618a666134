/*
 * Time helpers: the one seconds -> struct timeval conversion (clamped, so
 * no float-to-integer overflow) and the monotonic clock as a double.
 */
#include "sx_time.h"

#include <math.h>
#include <time.h>

/*
 * 1.1 - 1 is 0.10000000000000009: rounding that up would add a microsecond
 * to most decimal intervals.  Excess below this many microseconds (1 ns) is
 * taken as floating-point noise.
 */
#define SLACK_US 1e-3

struct timeval sx_time_tv(double seconds)
{
    struct timeval tv = { 0, 0 };
    double whole, usec;

    if (!(seconds > 0))
        return tv;
    if (seconds > SX_TIME_MAX)
        seconds = SX_TIME_MAX;
    whole = floor(seconds);
    usec = ceil((seconds - whole) * 1e6 - SLACK_US);
    if (usec >= 1e6) {
        whole += 1;
        usec = 0;
    }
    tv.tv_sec = (time_t)whole;
    tv.tv_usec = (suseconds_t)usec;
    return tv;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sx_time_now(void) { return clock_seconds(CLOCK_MONOTONIC); }
double sx_time_wall(void) { return clock_seconds(CLOCK_REALTIME); }
double sx_time_boot(void) { return clock_seconds(CLOCK_BOOTTIME); }
