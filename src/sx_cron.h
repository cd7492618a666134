/*
 * Cron expressions for stockx.cron: the five-field syntax and macros, the
 * next run in a time zone with cron's (cronie's) daylight-saving rules,
 * and the interval strings ("90s", "1h30m") of fixed-delay jobs.
 */
#ifndef SX_CRON_H
#define SX_CRON_H
#include <stddef.h>
#include <stdint.h>

#include "sx_tz.h"

/* Flags: which fields start with '*'. */
#define SX_CRON_MIN_STAR 1
#define SX_CRON_HOUR_STAR 2
#define SX_CRON_DOM_STAR 4
#define SX_CRON_DOW_STAR 8

/*
 * A parsed expression: one bit per allowed value.  A "wildcard" job has
 * SX_CRON_MIN_STAR or SX_CRON_HOUR_STAR; any other is a fixed-time job.
 */
struct sx_cron {
    uint64_t minute;  /* bits 0-59 */
    uint32_t hour;    /* bits 0-23 */
    uint32_t dom;     /* bits 1-31 */
    uint16_t month;   /* bits 1-12 */
    uint8_t dow;      /* bits 0-6, 0 = Sunday (7 in the text is Sunday) */
    unsigned flags;   /* SX_CRON_*_STAR */
};

/*
 * Parses "minute hour day-of-month month day-of-week", fields separated by
 * blanks.  Each field is a comma-separated list of items: `*`, `n`,
 * `a-b`, `a-b/s`, `a/s` (a to the field's maximum, every s) and `*` with a
 * step `/s`.  Ranges: minute 0-59, hour 0-23, day of month 1-31, month
 * 1-12 or JAN-DEC, day of week 0-7 or SUN-SAT (0 and 7 are Sunday).
 * Names are case-insensitive and may be used in ranges ("MON-SUN" ends
 * on Sunday as 7).  A range must not be reversed; a step is 1 to the
 * field's maximum.  Macros: @yearly and @annually (0 0 1 1 *), @monthly
 * (0 0 1 * *), @weekly (0 0 * * 0), @daily and @midnight (0 0 * * *),
 * @hourly (0 * * * *).
 *
 * Days: if both day of month and day of week are restricted (neither
 * field starts with `*`), a day matches if either matches; otherwise it
 * must match both.  An expression whose day-of-month and month can never
 * meet ("0 0 30 2 *", "0 0 31 4,6 *") is refused; February 29 is allowed.
 *
 * Returns 0, or -1 with a message naming the expression, the field and
 * the token in err: "cron 'x * * * *': minute: bad value 'x' (0-59)".
 */
int sx_cron_parse(struct sx_cron *c, const char *expr, char *err,
                  size_t errlen);

/* How far ahead sx_cron_next looks (no expression it accepts needs more). */
#define SX_CRON_HORIZON_DAYS (40 * 366)

/*
 * The first run strictly after `after` (UTC seconds), on a whole minute
 * of the zone's wall clock, or -1 if there is none before the horizon (or
 * year 9999).  Daylight-saving rules, as cron's:
 * - a fixed-time job (minute and hour fields both not starting with `*`)
 *   whose wall time is skipped by a forward jump runs once, at the jump
 *   (the first instant after the gap: 02:30 on a 02:00->03:00 day runs
 *   at 03:00); several such times in one gap give one run.  A gap that
 *   ends at midnight (America/Nuuk: Saturday 23:00 -> Sunday 00:00) puts
 *   that run on the next calendar day;
 * - a fixed-time job whose wall time repeats (a backward jump) runs once,
 *   at the first occurrence;
 * - a wildcard job follows the wall clock as it reads: in a repeated hour
 *   it runs in both occurrences (`0 * * * *` twice; every 15 minutes,
 *   `*` with step `/15`, keeps running every 15 minutes of elapsed time),
 *   and wall times in a gap do not exist, so they give no run.
 */
int64_t sx_cron_next(const struct sx_cron *c, const struct sx_tz *tz,
                     int64_t after);

/* Interval bounds, seconds. */
#define SX_CRON_INTERVAL_MIN 0.001
#define SX_CRON_INTERVAL_MAX (366 * 86400.0)

/*
 * "30" (seconds), "1.5", "30s", "5m", "2h", "1d", "1h30m", "1d12h",
 * "2m30.5s": a plain decimal number of seconds, or one or more
 * number+unit parts with units d, h, m, s in that order, each at most
 * once, no blanks.  The total must be in [1 ms, 366 days].  Returns 0 and
 * *seconds, or -1 with a message naming the value in err:
 * "interval '5x': unknown unit 'x' (use d, h, m or s)".
 */
int sx_cron_interval(const char *s, double *seconds, char *err,
                     size_t errlen);

#endif
