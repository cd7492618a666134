/*
 * Retry arithmetic: a strict hand-written HTTP-date parser (the three
 * forms of RFC 9110 section 5.6.7), Retry-After values and full-jitter
 * exponential backoff.  No locale, no strptime, no global state.
 */
#include "sx_retry.h"

#include <math.h>
#include <string.h>

/* Broken-down UTC time as the date forms spell it; mon is 0..11. */
struct sx_hdate {
    int year, mon, day, hour, min, sec;
};

static const char *const short_days[7] = {
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};
static const char *const long_days[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday"
};
static const char *const months[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly n digits; advances *p past them. */
static int scan_num(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int scan_lit(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return -1;
    *p += n;
    return 0;
}

/* Index of the name in names[0..count) that *p starts with, or -1. */
static int scan_name(const char **p, const char *const *names, int count)
{
    int i;

    for (i = 0; i < count; i++)
        if (scan_lit(p, names[i]) == 0)
            return i;
    return -1;
}

/* "HH:MM:SS" */
static int scan_time(const char **p, struct sx_hdate *d)
{
    if (scan_num(p, 2, &d->hour) < 0 || scan_lit(p, ":") < 0 ||
        scan_num(p, 2, &d->min) < 0 || scan_lit(p, ":") < 0 ||
        scan_num(p, 2, &d->sec) < 0)
        return -1;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int mon)
{
    static const int mdays[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    return mdays[mon] + (mon == 1 && is_leap(y));
}

/* A leap second (:60) is allowed, as RFC 9110 allows it. */
static int date_valid(const struct sx_hdate *d)
{
    return d->year >= 1 && d->mon >= 0 && d->mon < 12 && d->day >= 1 &&
           d->day <= month_days(d->year, d->mon) && d->hour <= 23 &&
           d->min <= 59 && d->sec <= 60;
}

/* Days from 1970-01-01 to the date (proleptic Gregorian, year >= 1). */
static long long days_from_epoch(int year, int mon, int day)
{
    static const int before[12] = {
        0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
    };
    long long y = year - 1;
    long long days = y * 365 + y / 4 - y / 100 + y / 400 - 719162;

    return days + before[mon] + (mon > 1 && is_leap(year)) + day - 1;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf(const char *p, struct sx_hdate *d)
{
    if (scan_name(&p, short_days, 7) < 0 || scan_lit(&p, ", ") < 0 ||
        scan_num(&p, 2, &d->day) < 0 || scan_lit(&p, " ") < 0 ||
        (d->mon = scan_name(&p, months, 12)) < 0 ||
        scan_lit(&p, " ") < 0 || scan_num(&p, 4, &d->year) < 0 ||
        scan_lit(&p, " ") < 0 || scan_time(&p, d) < 0 ||
        scan_lit(&p, " GMT") < 0)
        return -1;
    return *p == '\0' ? 0 : -1;
}

/*
 * RFC 9110: a two-digit year that would be more than 50 years in the
 * future is the most recent past year with the same last two digits.  So
 * the year is the latest one ending in yy that is at most now + 50.
 */
static int full_year(int yy, time_t now)
{
    struct tm tm;
    int cur = 1970, y;

    if (gmtime_r(&now, &tm) != NULL)
        cur = tm.tm_year + 1900;
    y = cur - cur % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    else if (y + 100 <= cur + 50)
        y += 100;
    return y;
}

/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
static int parse_rfc850(const char *p, time_t now, struct sx_hdate *d)
{
    int yy;

    if (scan_name(&p, long_days, 7) < 0 || scan_lit(&p, ", ") < 0 ||
        scan_num(&p, 2, &d->day) < 0 || scan_lit(&p, "-") < 0 ||
        (d->mon = scan_name(&p, months, 12)) < 0 ||
        scan_lit(&p, "-") < 0 || scan_num(&p, 2, &yy) < 0 ||
        scan_lit(&p, " ") < 0 || scan_time(&p, d) < 0 ||
        scan_lit(&p, " GMT") < 0 || *p != '\0')
        return -1;
    d->year = full_year(yy, now);
    return 0;
}

/* asctime: "Sun Nov  6 08:49:37 1994" (day is 2DIGIT or SP DIGIT) */
static int parse_asctime(const char *p, struct sx_hdate *d)
{
    if (scan_name(&p, short_days, 7) < 0 || scan_lit(&p, " ") < 0 ||
        (d->mon = scan_name(&p, months, 12)) < 0 || scan_lit(&p, " ") < 0)
        return -1;
    if (*p == ' ') {
        p++;
        if (scan_num(&p, 1, &d->day) < 0)
            return -1;
    } else if (scan_num(&p, 2, &d->day) < 0) {
        return -1;
    }
    if (scan_lit(&p, " ") < 0 || scan_time(&p, d) < 0 ||
        scan_lit(&p, " ") < 0 || scan_num(&p, 4, &d->year) < 0)
        return -1;
    return *p == '\0' ? 0 : -1;
}

/* now only matters for the two-digit years of RFC 850. */
static int date_parse(const char *s, time_t now, time_t *out)
{
    struct sx_hdate d;
    long long t;

    memset(&d, 0, sizeof(d));
    if (parse_imf(s, &d) < 0 && parse_rfc850(s, now, &d) < 0 &&
        parse_asctime(s, &d) < 0)
        return -1;
    if (!date_valid(&d))
        return -1;
    t = days_from_epoch(d.year, d.mon, d.day) * 86400 +
        d.hour * 3600 + d.min * 60 + d.sec;
    if ((long long)(time_t)t != t)
        return -1;
    *out = (time_t)t;
    return 0;
}

int sx_http_date_parse(const char *s, time_t *out)
{
    return date_parse(s, time(NULL), out);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Digits only in [p, end); clamped while scanning so it cannot overflow. */
static int parse_delta(const char *p, const char *end, double *secs)
{
    double v = 0;

    for (; p < end; p++) {
        if (!is_digit(*p))
            return -1;
        v = v * 10 + (*p - '0');
        if (v > SX_RETRY_AFTER_CAP)
            v = SX_RETRY_AFTER_CAP;
    }
    *secs = v;
    return 0;
}

static int parse_date_value(const char *p, const char *end, time_t now,
                            double *secs)
{
    char tmp[64];
    size_t n = (size_t)(end - p);
    time_t t;
    double d;

    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (date_parse(tmp, now, &t) < 0)
        return -1;
    d = difftime(t, now);
    *secs = d < 0 ? 0 : d > SX_RETRY_AFTER_CAP ? SX_RETRY_AFTER_CAP : d;
    return 0;
}

int sx_retry_after_parse(const char *v, time_t now, double *secs)
{
    const char *end;

    if (v == NULL)
        return -1;
    while (is_blank(*v))
        v++;
    end = v + strlen(v);
    while (end > v && is_blank(end[-1]))
        end--;
    if (end == v)
        return -1;
    if (is_digit(*v))
        return parse_delta(v, end, secs);
    return parse_date_value(v, end, now, secs);
}

/*
 * ldexp cannot overflow into undefined behaviour: a huge attempt gives
 * +inf, which the cap then replaces.  Out-of-range inputs are pulled in
 * so the result is always finite and in [0, cap].
 */
double sx_retry_backoff(int attempt, double base, double cap, double u)
{
    double top;

    if (attempt < 1)
        attempt = 1;
    if (!(base > 0) || !(cap > 0) || !(u > 0))
        return 0;
    if (cap > SX_RETRY_AFTER_CAP)
        cap = SX_RETRY_AFTER_CAP;
    if (u > 1)
        u = 1;
    top = ldexp(base, attempt > 4096 ? 4096 : attempt - 1);
    if (top > cap)
        top = cap;
    return u * top;
}

static void decision(struct sx_retry_decision *out,
                     enum sx_retry_action action, double wait,
                     const char *reason)
{
    out->action = action;
    out->wait = wait;
    out->reason = reason;
}

static int has_retry_after(const struct sx_retry_attempt *a)
{
    return a->retry_after >= 0; /* false for NaN too */
}

/* The comparison is written so a NaN limit refuses rather than obeys. */
static void decide_429(const struct sx_retry_policy *p,
                       const struct sx_retry_attempt *a, double u,
                       struct sx_retry_decision *out)
{
    if (has_retry_after(a) && !(a->retry_after <= p->max_retry_after))
        decision(out, SX_RETRY_GIVE_UP, a->retry_after,
                 "retry_after_too_long");
    else if (a->attempts >= p->max_attempts)
        decision(out, SX_RETRY_GIVE_UP, 0, "max_attempts");
    else if (has_retry_after(a))
        decision(out, SX_RETRY_PAUSE, a->retry_after, "429");
    else
        decision(out, SX_RETRY_PAUSE,
                 sx_retry_backoff(a->attempts, p->backoff_base,
                                  p->backoff_cap, u),
                 "429");
}

static void decide_transient(const struct sx_retry_policy *p,
                             const struct sx_retry_attempt *a, double u,
                             struct sx_retry_decision *out)
{
    const char *kind = a->transport_error == 1 ? "transport" : "status";
    double wait;

    if (!a->idempotent) {
        decision(out, SX_RETRY_GIVE_UP, 0, "not_idempotent");
        return;
    }
    if (a->attempts >= p->transient_attempts) {
        decision(out, SX_RETRY_GIVE_UP, 0, "transient_attempts");
        return;
    }
    wait = sx_retry_backoff(a->attempts, p->backoff_base, p->backoff_cap, u);
    if (a->transport_error == 0 && a->status == 503 && has_retry_after(a) &&
        a->retry_after <= p->max_retry_after && a->retry_after > wait)
        wait = a->retry_after;
    decision(out, SX_RETRY_BACKOFF, wait, kind);
}

static int is_transient_status(long status)
{
    return status == 502 || status == 503 || status == 504;
}

void sx_retry_decide(const struct sx_retry_policy *p,
                     const struct sx_retry_attempt *a, double u,
                     struct sx_retry_decision *out)
{
    if (a->transport_error == 0 && a->status == 429)
        decide_429(p, a, u, out);
    else if (a->transport_error == 1 ||
             (a->transport_error == 0 && is_transient_status(a->status)))
        decide_transient(p, a, u, out);
    else
        decision(out, SX_RETRY_GIVE_UP, 0, NULL);
}
