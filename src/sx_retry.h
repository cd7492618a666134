/*
 * Retry arithmetic: Retry-After parsing (delta-seconds or HTTP-date, RFC
 * 9110 section 10.2.3) and exponential backoff with full jitter.
 */
#ifndef SX_RETRY_H
#define SX_RETRY_H
#include <time.h>

/* Values above this are clamped to it (about 31 years). */
#define SX_RETRY_AFTER_CAP 1e9

/*
 * Parses an HTTP-date in any of the three forms RFC 9110 accepts:
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
 * 0 and *out (UTC seconds since the epoch), or -1 for anything else.
 */
int sx_http_date_parse(const char *s, time_t *out);

/*
 * Parses a Retry-After header value (surrounding blanks ignored) relative to
 * now (UTC seconds).  Delta-seconds: a string of digits; an HTTP-date gives
 * the seconds from now until then, 0 if it is in the past.  Huge values are
 * clamped to SX_RETRY_AFTER_CAP.  Returns 0 and *secs, or -1 for garbage
 * (empty, negative, fractional, trailing junk).
 */
int sx_retry_after_parse(const char *v, time_t now, double *secs);

/*
 * Full-jitter backoff before retry number `attempt` (1 = first retry):
 * u * min(cap, base * 2^(attempt-1)), with u a uniform random number in
 * [0, 1) supplied by the caller so the function stays pure and testable.
 */
double sx_retry_backoff(int attempt, double base, double cap, double u);

#endif
