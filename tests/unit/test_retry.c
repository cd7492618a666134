/*
 * Unit tests for sx_retry: HTTP-date parsing in its three forms with field
 * validation, Retry-After values relative to a fixed now, the bounds
 * of full-jitter backoff; every branch of sx_retry_decide.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "sx_retry.h"
#include "testhelp.h"

#define T_1994 ((time_t)784111777)   /* Sun, 06 Nov 1994 08:49:37 GMT */
#define T_2026 ((time_t)1795889681)  /* Sat, 28 Nov 2026 18:14:41 GMT */

/* 1 if s parses as a date equal to want. */
static int date_is(const char *s, time_t want)
{
    time_t t = -12345;

    return sx_http_date_parse(s, &t) == 0 && t == want;
}

static int date_bad(const char *s)
{
    time_t t = -12345;

    return sx_http_date_parse(s, &t) == -1;
}

static void test_dates(void)
{
    test_cond("IMF-fixdate", date_is("Sun, 06 Nov 1994 08:49:37 GMT", T_1994));
    test_cond("asctime, space-padded day",
              date_is("Sun Nov  6 08:49:37 1994", T_1994));
    test_cond("asctime, 2-digit day",
              date_is("Sun Nov 06 08:49:37 1994", T_1994));
    test_cond("epoch", date_is("Thu, 01 Jan 1970 00:00:00 GMT", 0));
    test_cond("leap day 2024",
              date_is("Thu, 29 Feb 2024 00:00:00 GMT", 1709164800));
    test_cond("leap day 2000 (400 rule)",
              date_is("Tue Feb 29 12:00:00 2000", 951825600));
    test_cond("year 9999",
              date_is("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799));
    test_cond("leap second :60 accepted",
              date_is("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800));
}

static void test_bad_dates(void)
{
    test_cond("day 32", date_bad("Sun, 32 Nov 1994 08:49:37 GMT"));
    test_cond("31 Nov", date_bad("Sun, 31 Nov 1994 08:49:37 GMT"));
    test_cond("day 00", date_bad("Sun, 00 Nov 1994 08:49:37 GMT"));
    test_cond("29 Feb 2023", date_bad("Wed, 29 Feb 2023 00:00:00 GMT"));
    test_cond("29 Feb 1900 (100 rule)", date_bad("Thu Feb 29 00:00:00 1900"));
    test_cond("hour 24", date_bad("Sun, 06 Nov 1994 24:00:00 GMT"));
    test_cond("minute 60", date_bad("Sun, 06 Nov 1994 08:60:00 GMT"));
    test_cond("second 61", date_bad("Sun, 06 Nov 1994 08:49:61 GMT"));
    test_cond("bad month", date_bad("Sun, 06 Foo 1994 08:49:37 GMT"));
    test_cond("bad day name", date_bad("Sux, 06 Nov 1994 08:49:37 GMT"));
    test_cond("lower case", date_bad("sun, 06 nov 1994 08:49:37 gmt"));
    test_cond("UTC not GMT", date_bad("Sun, 06 Nov 1994 08:49:37 UTC"));
    test_cond("trailing junk", date_bad("Sun, 06 Nov 1994 08:49:37 GMTx"));
    test_cond("one-digit day", date_bad("Sun, 6 Nov 1994 08:49:37 GMT"));
    test_cond("two-digit year in IMF", date_bad("Sun, 06 Nov 94 08:49:37 GMT"));
    test_cond("truncated", date_bad("Sun, 06 Nov 1994 08:49"));
    test_cond("short day name in RFC 850",
              date_bad("Sun, 06-Nov-94 08:49:37 GMT"));
    test_cond("asctime with GMT", date_bad("Sun Nov  6 08:49:37 1994 GMT"));
    test_cond("sign in field", date_bad("Sun, +6 Nov 1994 08:49:37 GMT"));
    test_cond("empty", date_bad(""));
    test_cond("digits", date_bad("120"));
}

/* 1 if v parses (relative to now) to want seconds. */
static int ra_is(const char *v, time_t now, double want)
{
    double s = -1;

    return sx_retry_after_parse(v, now, &s) == 0 && s == want;
}

static int ra_bad(const char *v)
{
    double s = -1;

    return sx_retry_after_parse(v, T_2026, &s) == -1;
}

static void test_delta(void)
{
    test_cond("120", ra_is("120", T_2026, 120));
    test_cond("blanks around", ra_is(" 5 ", T_2026, 5));
    test_cond("tab, CRLF around", ra_is("\t7\r\n", T_2026, 7));
    test_cond("0", ra_is("0", T_2026, 0));
    test_cond("leading zeros", ra_is("007", T_2026, 7));
    test_cond("just under cap", ra_is("999999999", T_2026, 999999999));
    test_cond("huge clamps", ra_is("99999999999999999999", T_2026,
                                   SX_RETRY_AFTER_CAP));
    test_cond("300 digits clamp",
              ra_is("1000000000000000000000000000000000000000000000000000"
                    "0000000000000000000000000000000000000000000000000000"
                    "0000000000000000000000000000000000000000000000000000"
                    "0000000000000000000000000000000000000000000000000000"
                    "0000000000000000000000000000000000000000000000000000"
                    "00000000000000000000000000000000000000000000000",
                    T_2026, SX_RETRY_AFTER_CAP));
    test_cond("abc", ra_bad("abc"));
    test_cond("empty", ra_bad(""));
    test_cond("blanks only", ra_bad("  \t "));
    test_cond("NULL", ra_bad(NULL));
    test_cond("-5", ra_bad("-5"));
    test_cond("+5", ra_bad("+5"));
    test_cond("1.5", ra_bad("1.5"));
    test_cond("12abc", ra_bad("12abc"));
    test_cond("1 2", ra_bad("1 2"));
    test_cond("1e3", ra_bad("1e3"));
    test_cond("0x10", ra_bad("0x10"));
}

static void test_date_values(void)
{
    time_t before = T_1994 - 120;

    test_cond("IMF-fixdate 120 s ahead",
              ra_is("Sun, 06 Nov 1994 08:49:37 GMT", before, 120));
    test_cond("RFC 850 120 s ahead",
              ra_is("Sunday, 06-Nov-94 08:49:37 GMT", before, 120));
    test_cond("asctime 120 s ahead",
              ra_is("Sun Nov  6 08:49:37 1994", before, 120));
    test_cond("date with blanks around",
              ra_is("  Sun, 06 Nov 1994 08:49:37 GMT\r\n", before, 120));
    test_cond("date equal to now", ra_is("Sun Nov  6 08:49:37 1994", T_1994,
                                         0));
    test_cond("past date gives 0",
              ra_is("Sun, 06 Nov 1994 08:49:37 GMT", T_2026, 0));
    test_cond("far date clamps",
              ra_is("Fri, 31 Dec 9999 23:59:59 GMT", T_2026,
                    SX_RETRY_AFTER_CAP));
    test_cond("invalid date is garbage",
              ra_bad("Sun, 32 Nov 1994 08:49:37 GMT"));
    test_cond("date with junk is garbage",
              ra_bad("Sun, 06 Nov 1994 08:49:37 GMT; x"));
    test_cond("very long garbage", ra_bad(
        "Sun, 06 Nov 1994 08:49:37 GMT                                 x"));
}

/* RFC 850 two-digit years, seen from late 2026. */
static void test_rfc850_years(void)
{
    test_cond("-30 is 2030",
              ra_is("Tuesday, 15-Jan-30 12:00:00 GMT", T_2026,
                    1894708800.0 - (double)T_2026));
    test_cond("-94 is 1994 (past: 0)",
              ra_is("Sunday, 06-Nov-94 08:49:37 GMT", T_2026, 0));
    test_cond("-76 is 2076 (50 years ahead: future, clamped)",
              ra_is("Wednesday, 01-Jan-76 00:00:00 GMT", T_2026,
                    SX_RETRY_AFTER_CAP));
    test_cond("-77 is 1977 (51 years ahead would be too far: past)",
              ra_is("Saturday, 01-Jan-77 00:00:00 GMT", T_2026, 0));
    test_cond("RFC 850 validates fields",
              ra_bad("Sunday, 31-Nov-94 08:49:37 GMT"));
    test_cond("RFC 850 needs GMT",
              ra_bad("Sunday, 06-Nov-94 08:49:37"));
}

static void test_backoff(void)
{
    int a, ok = 1;
    double u;

    test_cond("u=0 gives 0", sx_retry_backoff(1, 0.5, 30, 0) == 0 &&
                                 sx_retry_backoff(5, 0.5, 30, 0) == 0);
    test_cond("attempt 1, u~1: ~base",
              th_near(sx_retry_backoff(1, 0.5, 30, 0.999999), 0.5, 1e-5));
    test_cond("attempt 3, u~1: ~base*4",
              th_near(sx_retry_backoff(3, 0.5, 30, 0.999999), 2.0, 1e-5));
    test_cond("attempt 2, u=0.5", sx_retry_backoff(2, 1, 100, 0.5) == 1.0);
    test_cond("attempt 7 reaches cap",
              th_near(sx_retry_backoff(7, 0.5, 30, 0.999999), 30, 1e-4));
    test_cond("attempt 30 capped",
              th_near(sx_retry_backoff(30, 0.5, 30, 0.999999), 30, 1e-4));
    test_cond("attempt 1000 capped, finite",
              isfinite(sx_retry_backoff(1000, 0.5, 30, 0.999999)) &&
                  th_near(sx_retry_backoff(1000, 0.5, 30, 0.999999), 30, 1e-4));
    test_cond("attempt INT_MAX capped",
              th_near(sx_retry_backoff(INT_MAX, 0.5, 30, 0.999999), 30, 1e-4));
    test_cond("attempt 0 treated as 1", sx_retry_backoff(0, 2, 30, 0.5) == 1.0);
    for (a = 1; a <= 2000 && ok; a++)
        for (u = 0; u < 1 && ok; u += 0.125)
            ok = sx_retry_backoff(a, 0.25, 60, u) >= 0 &&
                 sx_retry_backoff(a, 0.25, 60, u) <= 60 * u + 1e-9;
    test_cond("always within [0, u*cap]", ok);
    test_cond("infinite cap: finite result",
              sx_retry_backoff(2000, 1, INFINITY, 0.5) ==
                  SX_RETRY_AFTER_CAP / 2);
    test_cond("NaN inputs give 0", sx_retry_backoff(1, NAN, 30, 0.5) == 0 &&
                                       sx_retry_backoff(1, 1, NAN, 0.5) == 0 &&
                                       sx_retry_backoff(1, 1, 30, NAN) == 0);
}

/* ---- sx_retry_decide -------------------------------------------------- */

static const struct sx_retry_policy pol = {
    .max_attempts = 5, .max_retry_after = 300, .transient_attempts = 3,
    .backoff_base = 2, .backoff_cap = 10,
};

static struct sx_retry_decision decide(int attempts, int idem, int terr,
                                       long status, double ra, double u)
{
    struct sx_retry_attempt a = { attempts, idem, terr, status, ra };
    struct sx_retry_decision d = { SX_RETRY_BACKOFF, -42, "unset" };

    sx_retry_decide(&pol, &a, u, &d);
    return d;
}

static int is(struct sx_retry_decision d, enum sx_retry_action act,
              double wait, const char *reason)
{
    if (d.action != act || !th_near(d.wait, wait, 1e-9))
        return 0;
    if (reason == NULL || d.reason == NULL)
        return reason == d.reason;
    return strcmp(reason, d.reason) == 0;
}

static void test_decide_429(void)
{
    test_cond("429 with Retry-After: pause that long",
              is(decide(1, 0, 0, 429, 7, 0.5), SX_RETRY_PAUSE, 7, "429"));
    test_cond("429 Retry-After 0: pause 0",
              is(decide(1, 1, 0, 429, 0, 0.5), SX_RETRY_PAUSE, 0, "429"));
    test_cond("429 Retry-After == max: still obeyed",
              is(decide(1, 1, 0, 429, 300, 0.5), SX_RETRY_PAUSE, 300, "429"));
    test_cond("429 without Retry-After: policy backoff (base 2, u .5)",
              is(decide(1, 1, 0, 429, -1, 0.5), SX_RETRY_PAUSE, 1, "429"));
    test_cond("429 backoff doubles per attempt",
              is(decide(3, 1, 0, 429, -1, 0.5), SX_RETRY_PAUSE, 4, "429"));
    test_cond("429 backoff uses the policy cap, not 60",
              is(decide(4, 1, 0, 429, -1, 0.999), SX_RETRY_PAUSE, 9.99,
                 "429"));
    test_cond("429 NaN Retry-After counts as none",
              is(decide(1, 1, 0, 429, NAN, 0.5), SX_RETRY_PAUSE, 1, "429"));
    test_cond("429 Retry-After too long",
              is(decide(1, 1, 0, 429, 301, 0.5), SX_RETRY_GIVE_UP, 301,
                 "retry_after_too_long"));
    test_cond("429 too long wins over max_attempts",
              is(decide(5, 1, 0, 429, 1000, 0.5), SX_RETRY_GIVE_UP, 1000,
                 "retry_after_too_long"));
    test_cond("429 at max_attempts",
              is(decide(5, 1, 0, 429, 1, 0.5), SX_RETRY_GIVE_UP, 0,
                 "max_attempts"));
    test_cond("429 past max_attempts",
              is(decide(9, 1, 0, 429, -1, 0.5), SX_RETRY_GIVE_UP, 0,
                 "max_attempts"));
    test_cond("429 one below max_attempts: retried",
              decide(4, 1, 0, 429, -1, 0.5).action == SX_RETRY_PAUSE);
    test_cond("429 not idempotent: still paused (never processed)",
              is(decide(1, 0, 0, 429, 2, 0.5), SX_RETRY_PAUSE, 2, "429"));
}

static void test_decide_transient(void)
{
    test_cond("transport failure: backoff",
              is(decide(1, 1, 1, 0, -1, 0.5), SX_RETRY_BACKOFF, 1,
                 "transport"));
    test_cond("transport failure ignores retry_after",
              is(decide(1, 1, 1, 503, 5, 0.5), SX_RETRY_BACKOFF, 1,
                 "transport"));
    test_cond("502: backoff", is(decide(2, 1, 0, 502, -1, 0.5),
                                 SX_RETRY_BACKOFF, 2, "status"));
    test_cond("504: backoff", is(decide(1, 1, 0, 504, -1, 0.25),
                                 SX_RETRY_BACKOFF, 0.5, "status"));
    test_cond("503 Retry-After raises the wait",
              is(decide(1, 1, 0, 503, 8, 0.5), SX_RETRY_BACKOFF, 8,
                 "status"));
    test_cond("503 shorter Retry-After: backoff kept",
              is(decide(2, 1, 0, 503, 0.5, 0.5), SX_RETRY_BACKOFF, 2,
                 "status"));
    test_cond("503 Retry-After over max: ignored, not obeyed",
              is(decide(1, 1, 0, 503, 301, 0.5), SX_RETRY_BACKOFF, 1,
                 "status"));
    test_cond("502 Retry-After ignored",
              is(decide(1, 1, 0, 502, 8, 0.5), SX_RETRY_BACKOFF, 1,
                 "status"));
    test_cond("504 Retry-After ignored",
              is(decide(1, 1, 0, 504, 8, 0.5), SX_RETRY_BACKOFF, 1,
                 "status"));
    test_cond("not idempotent",
              is(decide(1, 0, 1, 0, -1, 0.5), SX_RETRY_GIVE_UP, 0,
                 "not_idempotent"));
    test_cond("503 not idempotent",
              is(decide(1, 0, 0, 503, 1, 0.5), SX_RETRY_GIVE_UP, 0,
                 "not_idempotent"));
    test_cond("at transient_attempts",
              is(decide(3, 1, 1, 0, -1, 0.5), SX_RETRY_GIVE_UP, 0,
                 "transient_attempts"));
    test_cond("503 at transient_attempts",
              is(decide(3, 1, 0, 503, 1, 0.5), SX_RETRY_GIVE_UP, 0,
                 "transient_attempts"));
    test_cond("backoff capped by policy",
              is(decide(2, 1, 1, 0, -1, 0.999), SX_RETRY_BACKOFF, 3.996,
                 "transport") &&
                  decide(30, 1, 1, 0, -1, 0.999).action == SX_RETRY_GIVE_UP);
}

static void test_decide_other(void)
{
    static const long final[] = { 200, 201, 204, 301, 304, 400, 401, 403,
                                  404, 409, 422, 428, 431, 500, 501, 505 };
    size_t i;
    int ok = 1;

    for (i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        ok = ok && is(decide(1, 1, 0, final[i], 3, 0.5), SX_RETRY_GIVE_UP,
                      0, NULL);
    test_cond("final statuses: give up, no reason", ok);
    test_cond("permanent transport error",
              is(decide(1, 1, 2, 0, -1, 0.5), SX_RETRY_GIVE_UP, 0, NULL));
    test_cond("permanent transport error with a stale 429 status",
              is(decide(1, 1, 2, 429, 3, 0.5), SX_RETRY_GIVE_UP, 0, NULL));
    test_cond("unknown transport_error value: permanent",
              is(decide(1, 1, 7, 503, -1, 0.5), SX_RETRY_GIVE_UP, 0, NULL));
}

int main(void)
{
    test_dates();
    test_bad_dates();
    test_delta();
    test_date_values();
    test_rfc850_years();
    test_backoff();
    test_decide_429();
    test_decide_transient();
    test_decide_other();
    return test_report();
}
