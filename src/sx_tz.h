/*
 * Time zones without global state: TZif files (v1-v4) read from $TZDIR or
 * /usr/share/zoneinfo, POSIX TZ strings (the files' footers and $TZ),
 * offsets at an instant, wall times resolved to instants (gaps and folds),
 * RFC 3339 formatting, and the proleptic Gregorian calendar arithmetic.
 */
#ifndef SX_TZ_H
#define SX_TZ_H
#include <stddef.h>
#include <stdint.h>

/*
 * Instants are seconds since 1970-01-01T00:00:00Z (leap seconds not
 * counted).  The functions below are exact for instants from year 1 to
 * year 9999; inputs outside that range are clamped into it.
 */
#define SX_TZ_TIME_MIN INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define SX_TZ_TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* The longest zone name sx_tz_open accepts. */
#define SX_TZ_NAME_MAX 255

struct sx_tz;

/*
 * Opens a zone:
 * - "UTC", "Etc/UTC", "GMT": built in, no file needed;
 * - "local" or NULL: $TZ when set ("" is UTC; ":name" or "name" a file
 *   under the zone directory, or an absolute path; otherwise a POSIX TZ
 *   string such as "CET-1CEST,M3.5.0,M10.5.0/3"), else /etc/localtime,
 *   else UTC;
 * - an IANA name such as "Europe/Berlin", read from $TZDIR (default
 *   /usr/share/zoneinfo).  Names may use only [A-Za-z0-9_+-/], may not
 *   start with '/' or contain "..", and are at most SX_TZ_NAME_MAX bytes.
 * Files with leap-second records ("right/...") are refused.  A POSIX
 * string with DST but no rule uses the US rule M3.2.0,M11.1.0.
 * Returns NULL with a message naming the zone in err on failure
 * ("unknown time zone 'Mars/Base'").  Free with sx_tz_close.
 */
struct sx_tz *sx_tz_open(const char *name, char *err, size_t errlen);

void sx_tz_close(struct sx_tz *tz);

/* The name given to sx_tz_open; for "local" the zone it found. */
const char *sx_tz_name(const struct sx_tz *tz);

/*
 * Seconds east of UTC at that instant; *isdst (if not NULL) gets the
 * zone's DST flag (1 in Irish winter time: Europe/Dublin's DST is
 * negative).
 */
int sx_tz_offset(const struct sx_tz *tz, int64_t utc, int *isdst);

/*
 * The instants at which the local wall clock reads `wall` (seconds since
 * 1970-01-01 00:00 of the local calendar, as if it were UTC).  Returns
 * 1 (utc[0]), 2 in a repeated hour (utc[0] the earlier), or 0 if the wall
 * time is skipped, with utc[0] the transition that skips it (the first
 * instant after the gap).
 */
int sx_tz_resolve(const struct sx_tz *tz, int64_t wall, int64_t utc[2]);

/*
 * The first instant after utc at which the zone's offset may change (a
 * transition; some change only the DST flag), or INT64_MAX if none does.
 */
int64_t sx_tz_next_transition(const struct sx_tz *tz, int64_t utc);

/*
 * "2026-03-29T03:00:00+02:00" into buf (always a numeric offset, never
 * "Z"; an offset with seconds, as in pre-1900 local mean time, is written
 * +hh:mm:ss).  Returns the length it needs, as snprintf; a buffer of
 * SX_TZ_FORMAT_LEN bytes always suffices.
 */
#define SX_TZ_FORMAT_LEN 32
size_t sx_tz_format(const struct sx_tz *tz, int64_t utc, char *buf,
                    size_t n);

/* ---- the proleptic Gregorian calendar ---------------------------------- */

/* Days since 1970-01-01 of y-m-d (m 1-12, d 1-31; no range check). */
int64_t sx_tz_days_from_civil(int64_t y, int m, int d);

/* The date of a day number (days since 1970-01-01). */
void sx_tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* 0 (Sunday) to 6 (Saturday). */
int sx_tz_weekday(int64_t days);

/* Days in month m (1-12) of year y. */
int sx_tz_month_days(int64_t y, int m);

#endif
