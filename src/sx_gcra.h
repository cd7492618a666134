/*
 * The shared limiter's decision, in integer nanoseconds: GCRA with
 * reserve semantics, a server-imposed penalty deadline and a daily quota
 * counted per UTC day.  Pure: the caller reads the state (from the shared
 * state file), calls sx_gcra_reserve, and writes the state back.
 */
#ifndef SX_GCRA_H
#define SX_GCRA_H
#include <stdint.h>

#define SX_GCRA_NS 1000000000LL
#define SX_GCRA_DAY_S 86400LL
/* A tat or penalty further ahead of the clock than this is not ours. */
#define SX_GCRA_AHEAD_MAX (2 * SX_GCRA_DAY_S * SX_GCRA_NS)

/*
 * The state every process on one key shares.  Monotonic times (tat_ns,
 * penalty_ns) are CLOCK_MONOTONIC nanoseconds of the boot that wrote them
 * (the state file resets them when the boot id changes); days are UTC day
 * numbers (seconds since the epoch / 86400), which survive reboots.
 */
struct sx_gcra_state {
    int64_t tat_ns;     /* theoretical arrival time of the next request */
    int64_t penalty_ns; /* nothing is admitted before this (a 429) */
    int64_t day;        /* the UTC day day_count counts */
    int64_t day_count;  /* admissions on that day */
    int64_t spent_day;  /* the server said the quota of this day is spent */
    /* The adaptive rate's last cut (sx_adapt), carried, not used here: */
    int64_t adapt_wmax;   /* w_max in micro-requests per second; 0: none */
    int64_t adapt_cut_ns; /* when (monotonic) */
};

/*
 * interval_ns: the emission interval T (period / rate), >= 1.
 * burst B >= 1: the number of requests an idle limiter admits at one
 * instant.  The tolerance is tau = (B - 1) * T and a request may go at
 * time t when t >= tat - tau (ITU-T I.371, compared with the tat before
 * it is advanced).  Hence, for any window of length W, at most
 * B + W / T requests are admitted in it, whatever the arrival pattern.
 * max_penalty_ns: a penalty deadline further ahead than this refuses the
 * request instead of reserving a slot behind it (0: no limit).
 * quota: admissions per UTC day, 0 for no quota (a day the server marked
 * spent is refused even then).
 */
struct sx_gcra_params {
    int64_t interval_ns;
    int64_t burst;
    int64_t quota;
    int64_t max_penalty_ns;
};

struct sx_gcra_verdict {
    int admitted;     /* 1: a slot was reserved; 0: refused */
    int penalty;      /* refused for a penalty past max_penalty_ns */
    int64_t at_ns;    /* admitted: the reserved slot, >= now_ns */
    int64_t retry_s;  /* refused: seconds to the next 00:00 UTC, or to
                         the penalty's end (rounded up) */
    int64_t left;     /* quota left after this call (-1: no quota) */
};

/*
 * Reserves the next slot for one request arriving at now_ns (monotonic)
 * and utc_s (wall-clock seconds since the epoch): the slot is
 * max(now, tat - tau, penalty), tat becomes max(tat, slot) + T and the
 * day's count is incremented.  The caller waits until the slot: later
 * callers get later slots, so waiters never stampede.  If the day's count
 * reached quota, or the server marked the day spent, nothing changes and
 * the verdict says when the day ends.  A new UTC day (utc_s past the
 * state's day) resets the count; a wall clock stepped back into an older
 * day keeps counting the newer one.  A monotonic clock behind the state
 * (a jump back) only waits longer, unless the state is more than
 * SX_GCRA_AHEAD_MAX ahead, which is then reset.  Parameters out of range
 * are clamped (interval and burst to >= 1); arithmetic saturates.
 */
void sx_gcra_reserve(struct sx_gcra_state *s, const struct sx_gcra_params *p,
                     int64_t now_ns, int64_t utc_s,
                     struct sx_gcra_verdict *out);

/*
 * The quota left on the day of utc_s without reserving (-1: no quota);
 * for stockx.stats().
 */
int64_t sx_gcra_left(const struct sx_gcra_state *s,
                     const struct sx_gcra_params *p, int64_t utc_s);

/*
 * A 429 at now_ns with a Retry-After of retry_ns: nothing is admitted
 * before now + retry_ns, and no burst right after it (tat >= penalty + tau).  A
 * Retry-After of an hour or more marks the quota of utc_s's day spent.
 * Deadlines only move forward.
 */
void sx_gcra_penalty(struct sx_gcra_state *s, const struct sx_gcra_params *p,
                     int64_t now_ns, int64_t retry_ns, int64_t utc_s);

#define SX_GCRA_SPENT_S 3600 /* a Retry-After this long: the day is spent */

/* The UTC day number of utc_s (floor division, also before 1970). */
int64_t sx_gcra_day(int64_t utc_s);

#endif
