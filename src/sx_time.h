/*
 * Time helpers: seconds as a struct timeval, range-checked before any
 * cast, and the monotonic clock.
 */
#ifndef SX_TIME_H
#define SX_TIME_H
#include <sys/time.h>

#define SX_TIME_MAX 1e8 /* seconds, about three years */

/* NaN and negative -> 0; above SX_TIME_MAX -> SX_TIME_MAX. */
struct timeval sx_time_tv(double seconds);
double sx_time_now(void); /* monotonic seconds */

#endif
