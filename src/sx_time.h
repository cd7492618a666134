/*
 * Time helpers shared by every timer: seconds as a double to a struct
 * timeval without undefined behaviour, and the clocks in seconds.
 */
#ifndef SX_TIME_H
#define SX_TIME_H
#include <sys/time.h>

/* The longest interval sx_time_tv returns: about 3 years. */
#define SX_TIME_MAX 1e8

/*
 * seconds -> timeval, rounded up to the next microsecond (ignoring excess
 * under 1 ns, floating-point noise) so a timer armed with it does not fire
 * before the deadline.  NaN, negative and zero give
 * {0, 0}; more than SX_TIME_MAX (or +inf) gives SX_TIME_MAX.  The clamping
 * happens before any conversion to an integer type.
 */
struct timeval sx_time_tv(double seconds);

/* Seconds on CLOCK_MONOTONIC (arbitrary origin; for intervals only). */
double sx_time_now(void);
/* Seconds since the epoch (CLOCK_REALTIME: jumps when the clock is set). */
double sx_time_wall(void);
/* Seconds since boot, suspend included (CLOCK_BOOTTIME; never jumps). */
double sx_time_boot(void);

#endif
