/*
 * Retry policy as pure functions: Retry-After parsing (delta-seconds or
 * HTTP-date, RFC 9110 section 10.2.3), full-jitter exponential backoff, and
 * the decision whether and how to retry a finished attempt.
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
 * Always finite and in [0, cap]: a cap above SX_RETRY_AFTER_CAP (or +inf)
 * counts as SX_RETRY_AFTER_CAP; NaN or non-positive base, cap or u give 0.
 */
double sx_retry_backoff(int attempt, double base, double cap, double u);

enum sx_retry_action {
    SX_RETRY_GIVE_UP, /* complete the request with this outcome */
    SX_RETRY_PAUSE,   /* pause the origin's limiter for `wait`, requeue first */
    SX_RETRY_BACKOFF  /* requeue this request alone after `wait` */
};

/* The client's configuration; callers validate it (all values > 0). */
struct sx_retry_policy {
    int max_attempts;       /* attempts in all, 429s included */
    double max_retry_after; /* a longer Retry-After on a 429 gives up */
    int transient_attempts; /* attempts in all for transient failures */
    double backoff_base, backoff_cap; /* full-jitter backoff, seconds */
};

struct sx_retry_attempt {
    int attempts;        /* attempts made so far, >= 1 */
    int idempotent;      /* may be retried after a transient failure */
    int transport_error; /* 0: an HTTP answer; 1: a transient transport
                            failure (connect/timeout/reset/dns); 2: a
                            permanent one (tls, url, io, too_large,
                            cancelled...) */
    long status;         /* HTTP status when transport_error == 0 */
    double retry_after;  /* parsed Retry-After in seconds, -1 if none */
};

/*
 * action, wait (seconds, finite, >= 0) and reason (a static string for the
 * log, or NULL).  On GIVE_UP wait is 0, except for "retry_after_too_long"
 * where it is the refused Retry-After, for the log line.
 */
struct sx_retry_decision {
    enum sx_retry_action action;
    double wait;
    const char *reason;
};

/*
 * Judges one finished attempt; u in [0,1) is the caller's random number
 * for full jitter (so the function stays pure).  In order:
 *
 * - 429 (an HTTP answer): Retry-After > max_retry_after -> GIVE_UP
 *   "retry_after_too_long"; attempts >= max_attempts -> GIVE_UP
 *   "max_attempts"; else PAUSE "429" with wait = Retry-After if present,
 *   else sx_retry_backoff(attempts, backoff_base, backoff_cap, u).
 * - Transient: transport_error == 1 (reason "transport") or status 502,
 *   503, 504 (reason "status").  Not idempotent -> GIVE_UP
 *   "not_idempotent"; attempts >= transient_attempts -> GIVE_UP
 *   "transient_attempts"; else BACKOFF with the jittered backoff as wait.
 *   Only a 503's Retry-After raises that wait (RFC 9110 gives Retry-After
 *   a meaning on 503 and 429, not on 502/504), and only when it is at most
 *   max_retry_after; a longer one is ignored, not obeyed.
 * - Anything else (2xx-4xx but 429, other 5xx, permanent transport
 *   errors): GIVE_UP with reason NULL, as it is not a retryable outcome.
 *
 * A negative or NaN retry_after counts as absent.
 */
void sx_retry_decide(const struct sx_retry_policy *p,
                     const struct sx_retry_attempt *a, double u,
                     struct sx_retry_decision *out);

#endif
