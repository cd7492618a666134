/*
 * Unit tests for sx_tz: offsets cross-checked against glibc (TZ + tzset +
 * localtime_r, allowed here) for many zones 1970-2100, gaps and folds at
 * known transitions, POSIX TZ strings, bad names and hostile files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sx_tz.h"
#include "testhelp.h"

#define HOUR 3600
#define DAY 86400
#define T1970 INT64_C(0)
#define T2040 INT64_C(2208988800)
#define T2100 INT64_C(4102444800)

static char errbuf[256];

/* glibc's view of TZ (set by the caller) at t. */
static int glibc_offset(int64_t t, int *isdst)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    *isdst = tm.tm_isdst > 0;
    return (int)tm.tm_gmtoff;
}

static void set_tz(const char *value)
{
    if (value)
        setenv("TZ", value, 1);
    else
        unsetenv("TZ");
    tzset();
}

/* 1 if ours agrees with glibc at t; prints the first few differences. */
static int agree_at(const struct sx_tz *tz, int64_t t, int *shown)
{
    int d1, d2, o1 = sx_tz_offset(tz, t, &d1), o2 = glibc_offset(t, &d2);

    if (o1 == o2 && d1 == d2)
        return 1;
    if ((*shown)++ < 3)
        printf("  %s at %lld: ours %d/%d, glibc %d/%d\n", sx_tz_name(tz),
               (long long)t, o1, d1, o2, d2);
    return 0;
}

/* The instant in (lo, hi] where glibc's offset changes (one change). */
static int64_t glibc_transition(int64_t lo, int64_t hi)
{
    int d, olo = glibc_offset(lo, &d), dlo = d;

    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        int o = glibc_offset(mid, &d);

        if (o == olo && d == dlo)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/*
 * Every `step` seconds over [from, to), then each transition glibc sees
 * found to the second and checked on both sides.  TZ must be set.
 */
static void cross_check(const struct sx_tz *tz, const char *what,
                        int64_t from, int64_t to, int64_t step)
{
    int shown = 0, bad = 0, badtr = 0, ntr = 0, d, o, po, pd;
    int64_t t;
    char descr[160];

    po = glibc_offset(from, &pd);
    for (t = from; t < to; t += step) {
        bad += !agree_at(tz, t, &shown);
        o = glibc_offset(t, &d);
        if (t > from && (o != po || d != pd)) {
            int64_t tr = glibc_transition(t - step, t);

            ntr++;
            badtr += !agree_at(tz, tr - 1, &shown) + !agree_at(tz, tr, &shown);
        }
        po = o;
        pd = d;
    }
    snprintf(descr, sizeof descr, "%s: offsets agree with glibc", what);
    test_cond(descr, bad == 0);
    snprintf(descr, sizeof descr, "%s: %d transitions agree to the second",
             what, ntr);
    test_cond(descr, badtr == 0);
}

/* 1970-2040 every 6 hours, then to 2100 every day and 7 minutes. */
static void check_span(const struct sx_tz *tz, const char *what)
{
    char descr[160];

    snprintf(descr, sizeof descr, "%s 1970-2040", what);
    cross_check(tz, descr, T1970, T2040, 6 * HOUR);
    snprintf(descr, sizeof descr, "%s 2040-2100", what);
    cross_check(tz, descr, T2040, T2100, DAY + 420);
}

static void test_zone(const char *name, int min_transitions)
{
    struct sx_tz *tz = sx_tz_open(name, errbuf, sizeof errbuf);
    char descr[160];
    int64_t t;
    int n = 0, d, po, o;

    snprintf(descr, sizeof descr, "%s opens", name);
    test_cond(descr, tz != NULL);
    if (!tz) {
        printf("  %s\n", errbuf);
        return;
    }
    set_tz(name);
    check_span(tz, name);
    /* a sample of odd instants, to 2100, through the footer rule */
    for (t = T1970 + 1234567; t < T2100; t += 7 * DAY + 12345)
        n += agree_at(tz, t, &d);
    snprintf(descr, sizeof descr, "%s: odd instants agree", name);
    test_cond(descr, n == (int)((T2100 - T1970 - 1234567 - 1) /
                                (7 * DAY + 12345)) + 1);
    n = 0;
    po = sx_tz_offset(tz, T2040, NULL);
    for (t = T2040; t < T2100; t += DAY) {
        o = sx_tz_offset(tz, t, NULL);
        n += o != po;
        po = o;
    }
    snprintf(descr, sizeof descr, "%s: changes after 2040 (footer)", name);
    test_cond(descr, n >= min_transitions);
    sx_tz_close(tz);
}

static void test_zones(void)
{
    test_zone("UTC", 0);
    test_zone("Etc/UTC", 0);
    test_zone("Europe/Berlin", 100);
    test_zone("America/New_York", 100);
    test_zone("Europe/Dublin", 100);
    test_zone("America/Santiago", 100);
    test_zone("Africa/Cairo", 100);
    test_zone("Australia/Lord_Howe", 100);
    test_zone("Australia/Sydney", 100);
    test_zone("Asia/Kolkata", 0);
    test_zone("America/Nuuk", 100);  /* v3 footer: M3.5.0/-1 */
    test_zone("Asia/Tehran", 0);
    test_zone("Pacific/Chatham", 100);
    test_zone("Africa/Casablanca", 0);
    test_zone("Pacific/Apia", 0);
    set_tz(NULL);
}

/* ---- resolve and format at known transitions --------------------------- */

static struct sx_tz *open_or_die(const char *name)
{
    struct sx_tz *tz = sx_tz_open(name, errbuf, sizeof errbuf);

    if (!tz) {
        printf("cannot open %s: %s\n", name, errbuf);
        exit(2);
    }
    return tz;
}

static int64_t wall_of(int y, int mo, int d, int h, int mi)
{
    return sx_tz_days_from_civil(y, mo, d) * DAY + h * HOUR + mi * 60;
}

/*
 * resolve(wall) as text: "gap <instant>", or the instants separated by
 * spaces, each formatted in the zone.
 */
static const char *resolved(const struct sx_tz *tz, int64_t wall)
{
    static char out[128];
    int64_t u[2];
    int n = sx_tz_resolve(tz, wall, u), i;
    size_t len = 0;

    if (n == 0)
        len = (size_t)snprintf(out, sizeof out, "gap ");
    for (i = 0; i < (n ? n : 1); i++) {
        if (i > 0)
            out[len++] = ' ';
        len += sx_tz_format(tz, u[i], out + len, sizeof out - len);
    }
    return out;
}

static void check_resolve(const char *zone, int64_t wall, const char *want)
{
    struct sx_tz *tz = open_or_die(zone);
    const char *got = resolved(tz, wall);
    char descr[200];

    snprintf(descr, sizeof descr, "%s: %s", zone, want);
    test_cond(descr, strcmp(got, want) == 0);
    if (strcmp(got, want) != 0)
        printf("  got %s\n", got);
    sx_tz_close(tz);
}

static void test_resolve_known(void)
{
    check_resolve("Europe/Berlin", wall_of(2026, 3, 29, 2, 30),
                  "gap 2026-03-29T03:00:00+02:00");
    check_resolve("Europe/Berlin", wall_of(2026, 3, 29, 1, 59),
                  "2026-03-29T01:59:00+01:00");
    check_resolve("Europe/Berlin", wall_of(2026, 3, 29, 3, 0),
                  "2026-03-29T03:00:00+02:00");
    check_resolve("Europe/Berlin", wall_of(2026, 10, 25, 2, 30),
                  "2026-10-25T02:30:00+02:00 2026-10-25T02:30:00+01:00");
    check_resolve("Europe/Berlin", wall_of(2026, 10, 25, 3, 0),
                  "2026-10-25T03:00:00+01:00");
    check_resolve("Europe/Berlin", wall_of(2024, 10, 27, 2, 0),
                  "2024-10-27T02:00:00+02:00 2024-10-27T02:00:00+01:00");
    check_resolve("America/New_York", wall_of(2026, 3, 8, 2, 30),
                  "gap 2026-03-08T03:00:00-04:00");
    check_resolve("America/New_York", wall_of(2026, 11, 1, 1, 30),
                  "2026-11-01T01:30:00-04:00 2026-11-01T01:30:00-05:00");
    check_resolve("America/New_York", wall_of(2026, 11, 1, 2, 0),
                  "2026-11-01T02:00:00-05:00");
    check_resolve("Europe/Dublin", wall_of(2026, 3, 29, 1, 30),
                  "gap 2026-03-29T02:00:00+01:00");
    check_resolve("Europe/Dublin", wall_of(2026, 10, 25, 1, 30),
                  "2026-10-25T01:30:00+01:00 2026-10-25T01:30:00+00:00");
    check_resolve("America/Santiago", wall_of(2026, 9, 6, 0, 30),
                  "gap 2026-09-06T01:00:00-03:00");
    check_resolve("America/Santiago", wall_of(2026, 4, 4, 23, 30),
                  "2026-04-04T23:30:00-03:00 2026-04-04T23:30:00-04:00");
    check_resolve("Africa/Cairo", wall_of(2026, 4, 24, 0, 0),
                  "gap 2026-04-24T01:00:00+03:00");
    check_resolve("Africa/Cairo", wall_of(2026, 10, 29, 23, 59),
                  "2026-10-29T23:59:00+03:00 2026-10-29T23:59:00+02:00");
    check_resolve("Australia/Lord_Howe", wall_of(2026, 10, 4, 2, 15),
                  "gap 2026-10-04T02:30:00+11:00");
    check_resolve("Australia/Lord_Howe", wall_of(2026, 4, 5, 1, 45),
                  "2026-04-05T01:45:00+11:00 2026-04-05T01:45:00+10:30");
    check_resolve("Australia/Lord_Howe", wall_of(2026, 4, 5, 2, 0),
                  "2026-04-05T02:00:00+10:30");
    check_resolve("Australia/Sydney", wall_of(2026, 10, 4, 2, 0),
                  "gap 2026-10-04T03:00:00+11:00");
    check_resolve("Australia/Sydney", wall_of(2026, 4, 5, 2, 30),
                  "2026-04-05T02:30:00+11:00 2026-04-05T02:30:00+10:00");
    check_resolve("Asia/Kolkata", wall_of(2026, 6, 1, 12, 0),
                  "2026-06-01T12:00:00+05:30");
    check_resolve("UTC", wall_of(2026, 3, 29, 2, 30),
                  "2026-03-29T02:30:00+00:00");
    /* Samoa skipped 2011-12-30 altogether */
    check_resolve("Pacific/Apia", wall_of(2011, 12, 30, 12, 0),
                  "gap 2011-12-31T00:00:00+14:00");
    /* after the table (2050): the footer rule */
    check_resolve("Europe/Berlin", wall_of(2050, 3, 27, 2, 30),
                  "gap 2050-03-27T03:00:00+02:00");
    check_resolve("America/New_York", wall_of(2050, 11, 6, 1, 0),
                  "2050-11-06T01:00:00-04:00 2050-11-06T01:00:00-05:00");
}

/* Every result of resolve is right, for each wall minute of a year. */
static void check_resolve_year(const char *zone)
{
    struct sx_tz *tz = open_or_die(zone);
    int64_t w, u[2], from = wall_of(2026, 1, 1, 0, 0);
    int bad = 0, gaps = 0, folds = 0, n, i;
    char descr[160];

    for (w = from; w < from + 366 * DAY; w += 60) {
        n = sx_tz_resolve(tz, w, u);
        for (i = 0; i < n; i++)
            bad += u[i] + sx_tz_offset(tz, u[i], NULL) != w;
        if (n == 2)
            bad += !(u[0] < u[1]), folds++;
        if (n == 0) {
            gaps++;
            bad += !(u[0] - 1 + sx_tz_offset(tz, u[0] - 1, NULL) < w &&
                     w < u[0] + sx_tz_offset(tz, u[0], NULL));
        }
    }
    snprintf(descr, sizeof descr, "%s: resolve, every minute of 2026 "
             "(%d skipped, %d repeated)", zone, gaps, folds);
    test_cond(descr, bad == 0);
    sx_tz_close(tz);
}

static void test_resolve(void)
{
    test_resolve_known();
    check_resolve_year("Europe/Berlin");
    check_resolve_year("Australia/Lord_Howe");
    check_resolve_year("America/Santiago");
    check_resolve_year("Europe/Dublin");
    check_resolve_year("UTC");
}

static void test_format(void)
{
    struct sx_tz *tz = open_or_die("Asia/Kolkata"), *utc = open_or_die("UTC");
    char buf[SX_TZ_FORMAT_LEN], small[8];
    size_t n;

    n = sx_tz_format(tz, 0, buf, sizeof buf);
    test_cond("format 1970 Kolkata",
              strcmp(buf, "1970-01-01T05:30:00+05:30") == 0 && n == 25);
    n = sx_tz_format(tz, 0, small, sizeof small);
    test_cond("format truncates, returns the length", n == 25 &&
              strcmp(small, "1970-01") == 0);
    sx_tz_format(utc, -1, buf, sizeof buf);
    test_cond("format before 1970",
              strcmp(buf, "1969-12-31T23:59:59+00:00") == 0);
    sx_tz_format(utc, INT64_MAX, buf, sizeof buf);
    test_cond("format clamps to 9999",
              strcmp(buf, "9999-12-31T23:59:59+00:00") == 0);
    sx_tz_format(utc, INT64_MIN, buf, sizeof buf);
    test_cond("format clamps to 0001",
              strcmp(buf, "0001-01-01T00:00:00+00:00") == 0);
    sx_tz_close(tz);
    tz = open_or_die("America/New_York");
    sx_tz_format(tz, -2717668800, buf, sizeof buf); /* 1883: LMT */
    test_cond("format LMT offset with seconds",
              strcmp(buf, "1883-11-18T07:03:58-04:56:02") == 0);
    if (strcmp(buf, "1883-11-18T07:03:58-04:56:02") != 0)
        printf("  got %s\n", buf);
    sx_tz_close(tz);
    test_cond("name", strcmp(sx_tz_name(utc), "UTC") == 0);
    sx_tz_close(utc);
}

/* ---- calendar ---------------------------------------------------------- */

static void test_calendar(void)
{
    int64_t days, y;
    int m, d, bad = 0;

    test_cond("epoch", sx_tz_days_from_civil(1970, 1, 1) == 0);
    test_cond("2000-03-01", sx_tz_days_from_civil(2000, 3, 1) == 11017);
    test_cond("0001-01-01", sx_tz_days_from_civil(1, 1, 1) == -719162);
    test_cond("1969-12-31", sx_tz_days_from_civil(1969, 12, 31) == -1);
    test_cond("weekday 1970-01-01 Thursday", sx_tz_weekday(0) == 4);
    test_cond("weekday 1969-12-28 Sunday", sx_tz_weekday(-4) == 0);
    test_cond("weekday 2026-03-29 Sunday",
              sx_tz_weekday(sx_tz_days_from_civil(2026, 3, 29)) == 0);
    test_cond("Feb 2024", sx_tz_month_days(2024, 2) == 29);
    test_cond("Feb 2100", sx_tz_month_days(2100, 2) == 28);
    test_cond("Feb 2000", sx_tz_month_days(2000, 2) == 29);
    test_cond("Apr", sx_tz_month_days(2026, 4) == 30);
    test_cond("bad month", sx_tz_month_days(2026, 13) == 0);
    for (days = -800000; days < 3000000; days += 7) {
        sx_tz_civil_from_days(days, &y, &m, &d);
        bad += sx_tz_days_from_civil(y, m, d) != days || d < 1 ||
               d > sx_tz_month_days(y, m);
    }
    test_cond("civil round trip", bad == 0);
    bad = 0;
    for (days = -200000; days < 200000; days += 13) {
        time_t t = (time_t)(days * DAY);
        struct tm tm;

        gmtime_r(&t, &tm);
        sx_tz_civil_from_days(days, &y, &m, &d);
        bad += y != tm.tm_year + 1900 || m != tm.tm_mon + 1 ||
               d != tm.tm_mday || sx_tz_weekday(days) != tm.tm_wday;
    }
    test_cond("civil agrees with gmtime", bad == 0);
}

/* ---- POSIX TZ strings through "local" ---------------------------------- */

static void check_posix(const char *tzstr)
{
    struct sx_tz *tz;
    char descr[160];

    set_tz(tzstr);
    tz = sx_tz_open("local", errbuf, sizeof errbuf);
    snprintf(descr, sizeof descr, "TZ=%s opens", tzstr);
    test_cond(descr, tz != NULL);
    if (!tz) {
        printf("  %s\n", errbuf);
        return;
    }
    snprintf(descr, sizeof descr, "TZ=%s", tzstr);
    check_span(tz, descr);
    sx_tz_close(tz);
}

/* offset and DST flag of the zone in $TZ at t, as "+3600/1" */
static int local_is(const char *tzstr, int64_t t, int off, int dst)
{
    struct sx_tz *tz;
    int d = -1, o;

    set_tz(tzstr);
    tz = sx_tz_open(NULL, errbuf, sizeof errbuf);
    if (!tz) {
        printf("  TZ=%s: %s\n", tzstr, errbuf);
        return 0;
    }
    o = sx_tz_offset(tz, t, &d);
    sx_tz_close(tz);
    if (o != off || d != dst)
        printf("  TZ=%s at %lld: %d/%d\n", tzstr, (long long)t, o, d);
    return o == off && d == dst;
}

static void test_posix(void)
{
    int64_t t2026 = wall_of(2026, 1, 1, 0, 0), t;
    int bad = 0;

    check_posix("CET-1CEST,M3.5.0,M10.5.0/3");
    check_posix("<+03>-3");
    check_posix("JST-9");
    check_posix("IST-1GMT0,M10.5.0,M3.5.0/1");
    check_posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    check_posix("AAA3BBB,M3.5.0/30,M10.5.0/-2:30");
    check_posix("NZST-12NZDT,M9.5.0,M4.1.0/3");
    check_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    check_posix("XXX3YYY2,J60/2,J300/2");
    check_posix("XXX3YYY2,59/2,299/2");
    check_posix("<+0530>-5:30");
    check_posix("EST+5EDT+4:00:00,M3.2.0/2:00:00,M11.1.0/02");
    /* DST all year (RFC 8536's example; glibc gets early January wrong) */
    for (t = t2026 - 3 * DAY; t < t2026 + 3 * DAY; t += 1800)
        bad += !local_is("EST5EDT,0/0,J365/25", t, -4 * HOUR, 1);
    test_cond("EST5EDT,0/0,J365/25 is DST all year", bad == 0);
    /* DST without a rule: the US rule */
    test_cond("no rule: before 2026-03-08 07:00Z",
              local_is("ABC5DEF", 1772953199, -5 * HOUR, 0));
    test_cond("no rule: at 2026-03-08 07:00Z",
              local_is("ABC5DEF", 1772953200, -4 * HOUR, 1));
    test_cond("TZ='' is UTC", local_is("", 1772953200, 0, 0));
    test_cond("TZ=:Europe/Berlin", local_is(":Europe/Berlin", 1782000000,
                                            2 * HOUR, 1));
    test_cond("TZ=Europe/Berlin", local_is("Europe/Berlin", 1782000000,
                                           2 * HOUR, 1));
    test_cond("TZ=absolute path",
              local_is("/usr/share/zoneinfo/Asia/Kolkata", 0, 19800, 0));
    test_cond("TZ=EST5EDT (a file)", local_is("EST5EDT", 1782000000,
                                              -4 * HOUR, 1));
}

static void check_local_error(const char *tzstr, const char *want)
{
    struct sx_tz *tz;
    char descr[200];

    set_tz(tzstr);
    errbuf[0] = '\0';
    tz = sx_tz_open("local", errbuf, sizeof errbuf);
    snprintf(descr, sizeof descr, "TZ=%s: %s", tzstr, want);
    test_cond(descr, tz == NULL && strcmp(errbuf, want) == 0);
    if (tz || strcmp(errbuf, want) != 0)
        printf("  got '%s'\n", errbuf);
    sx_tz_close(tz);
}

static void test_local(void)
{
    struct sx_tz *tz;

    check_local_error("Mars/Base", "unknown time zone 'Mars/Base' (from $TZ)");
    check_local_error(":Mars", "unknown time zone 'Mars' (from $TZ)");
    check_local_error("CET-1CEST,M3.5.0,M13.5.0",
                      "unknown time zone 'CET-1CEST,M3.5.0,M13.5.0' "
                      "(from $TZ)");
    check_local_error("AB5", "unknown time zone 'AB5' (from $TZ)");
    check_local_error("CET-25", "unknown time zone 'CET-25' (from $TZ)");
    check_local_error("CET-1CEST,M3.5.0/168,M10.5.0",
                      "unknown time zone 'CET-1CEST,M3.5.0/168,M10.5.0' "
                      "(from $TZ)");
    set_tz(NULL);
    tz = sx_tz_open(NULL, errbuf, sizeof errbuf);
    test_cond("unset TZ: /etc/localtime (or UTC)", tz != NULL);
    if (tz) {
        cross_check(tz, "/etc/localtime", T1970, T2040, 5 * DAY);
        printf("  (local zone here: %s)\n", sx_tz_name(tz));
    }
    sx_tz_close(tz);
    set_tz("Europe/Berlin");
    tz = sx_tz_open("local", errbuf, sizeof errbuf);
    test_cond("local's name is $TZ",
              tz && strcmp(sx_tz_name(tz), "Europe/Berlin") == 0);
    sx_tz_close(tz);
    set_tz(NULL);
}

/* ---- bad names and hostile files --------------------------------------- */

static void check_open_error(const char *name, const char *want)
{
    struct sx_tz *tz;
    char descr[400];

    errbuf[0] = '\0';
    tz = sx_tz_open(name, errbuf, sizeof errbuf);
    snprintf(descr, sizeof descr, "open '%.60s': %s", name, want);
    test_cond(descr, tz == NULL && strstr(errbuf, want) != NULL);
    if (tz || !strstr(errbuf, want))
        printf("  got '%s'\n", errbuf);
    sx_tz_close(tz);
}

static void test_names(void)
{
    char longname[400];
    const char *bad = "letters, digits and _ + - / only, no leading '/' or "
                      "'..'";

    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    check_open_error("Mars/Base", "unknown time zone 'Mars/Base'");
    check_open_error("Europe", "unknown time zone 'Europe'");
    check_open_error("Europe/", "unknown time zone 'Europe/'");
    check_open_error("../etc/passwd", "bad time zone name '../etc/passwd'");
    check_open_error("Europe/../../etc/passwd", bad);
    check_open_error("/etc/passwd", "bad time zone name '/etc/passwd'");
    check_open_error("Europe/Ber lin", bad);
    check_open_error("Europe/Berlin;ls", bad);
    check_open_error("Europe\\Berlin", bad);
    check_open_error("", "bad time zone name ''");
    check_open_error(longname, bad);
    check_open_error("Europe/Berlin\n", bad);
    check_open_error("posixrules/x", "unknown time zone 'posixrules/x'");
    if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0)
        check_open_error("right/UTC", "leap-second zones are not supported");
}

/* data[0..len) as the file dir/name. */
static void write_file(const char *dir, const char *name,
                       const unsigned char *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path); /* truncating in place makes ext4 flush: slow */
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        printf("cannot write %s\n", path);
        exit(2);
    }
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 16);

    if (!f || !buf) {
        printf("cannot read %s\n", path);
        exit(2);
    }
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* 1 if dir/name opens (and is closed again). */
static int opens(const char *name)
{
    struct sx_tz *tz = sx_tz_open(name, errbuf, sizeof errbuf);

    sx_tz_close(tz);
    return tz != NULL;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The bytes of the v1 header + data of a TZif file. */
static size_t v1_size(const unsigned char *p)
{
    return 44 + get32(p + 32) * 5 + get32(p + 36) * 6 + get32(p + 40) +
           get32(p + 28) * 8 + get32(p + 24) + get32(p + 20);
}

static void test_truncated(const char *dir, const unsigned char *orig,
                           size_t len)
{
    size_t cut;
    int wrongly = 0;

    for (cut = 0; cut < len; cut++) {
        write_file(dir, "Trunc", orig, cut);
        if (opens("Trunc")) {
            if (wrongly++ < 3)
                printf("  opened truncated at %zu of %zu\n", cut, len);
        }
    }
    test_cond("every truncation of Europe/Berlin is refused", wrongly == 0);
    write_file(dir, "Trunc", orig, 100);
    check_open_error("Trunc", "time zone 'Trunc': ");
    check_open_error("Trunc", "/Trunc: truncated data");
}

/* Uses a zone everywhere: offsets, resolve and format at many instants. */
static void exercise(const struct sx_tz *tz)
{
    char buf[SX_TZ_FORMAT_LEN];
    int64_t t, u[2];

    for (t = -INT64_C(3000000000); t < T2100; t += 40 * DAY + 777) {
        sx_tz_offset(tz, t, NULL);
        sx_tz_resolve(tz, t, u);
        sx_tz_format(tz, t, buf, sizeof buf);
    }
}

/*
 * Random corruptions of the header, the footer or anywhere must never
 * crash or hang (ASan and valgrind watch the reads); a file that still
 * parses is used.
 */
static void test_fuzz(const char *dir, const unsigned char *orig, size_t len)
{
    unsigned char *buf = malloc(len);
    uint32_t seed = 12345, at;
    int i, j, ok = 0;
    struct sx_tz *tz;

    for (i = 0; i < 3000; i++) {
        memcpy(buf, orig, len);
        for (j = 0; j < 1 + i % 4; j++) {
            seed = seed * 1103515245 + 12345;
            at = (seed >> 8) % (i % 3 == 2 ? len : 40);
            if (i % 3 == 1)
                at = (uint32_t)len - 2 - at; /* the footer */
            buf[at] ^= (unsigned char)(seed >> 24 | 1);
        }
        write_file(dir, "Fuzz", buf, len);
        if ((tz = sx_tz_open("Fuzz", errbuf, sizeof errbuf))) {
            ok++;
            exercise(tz);
            sx_tz_close(tz);
        }
    }
    printf("  (fuzz: %d of 3000 corrupted files still parse)\n", ok);
    test_cond("fuzzed files do not crash", 1);
    free(buf);
}

static void test_hostile(const char *dir, const unsigned char *orig,
                         size_t len)
{
    unsigned char *buf = malloc(len);
    size_t v1 = v1_size(orig);
    struct sx_tz *tz;

    memcpy(buf, orig, len);
    put32(buf + v1 + 32, 0xffffffffu); /* v2 timecnt */
    write_file(dir, "Huge", buf, len);
    check_open_error("Huge", "truncated data");
    memcpy(buf, orig, len);
    put32(buf + v1 + 36, 0); /* no types */
    write_file(dir, "Notype", buf, len);
    check_open_error("Notype", "bad counts");
    memcpy(buf, orig, len);
    buf[4] = '5';
    write_file(dir, "V5", buf, len);
    check_open_error("V5", "unsupported version");
    memcpy(buf, orig, len);
    buf[v1 + 44 + 8 * 3] ^= 0x40; /* transition 3 moves ahead of 4 */
    write_file(dir, "Order", buf, len);
    check_open_error("Order", "transitions out of order");
    memcpy(buf, orig, len);
    buf[len - 5] = '@';
    write_file(dir, "Footer", buf, len);
    check_open_error("Footer", "bad TZ string in the footer");
    write_file(dir, "Text", (const unsigned char *)"hello world", 11);
    check_open_error("Text", "truncated header");
    {
        char fifo[512];

        snprintf(fifo, sizeof fifo, "%s/Fifo", dir);
        mkfifo(fifo, 0600);
        check_open_error("Fifo", "unknown time zone 'Fifo'");
        unlink(fifo);
    }
    /* an empty v1 block (as zic -b slim writes) is skipped */
    memset(buf, 0, 44);
    memcpy(buf, orig, 5);
    memcpy(buf + 44, orig + v1, len - v1);
    write_file(dir, "Slim", buf, 44 + len - v1);
    tz = sx_tz_open("Slim", errbuf, sizeof errbuf);
    test_cond("empty v1 block skipped", tz != NULL);
    if (tz) {
        set_tz("/usr/share/zoneinfo/Europe/Berlin");
        cross_check(tz, "slim copy of Europe/Berlin", T1970, T2100, DAY);
        set_tz(NULL);
    }
    sx_tz_close(tz);
    /* version 4 is accepted; a v1-only file uses the 32-bit data */
    memcpy(buf, orig, len);
    buf[4] = '4';
    write_file(dir, "V4", buf, len);
    test_cond("version 4 accepted", opens("V4"));
    memcpy(buf, orig, v1);
    buf[4] = 0;
    write_file(dir, "V1", buf, v1);
    tz = sx_tz_open("V1", errbuf, sizeof errbuf);
    test_cond("version 1 file opens", tz != NULL);
    if (tz) {
        set_tz("/usr/share/zoneinfo/Europe/Berlin"); /* TZDIR is ours */
        cross_check(tz, "v1 copy of Europe/Berlin", T1970, INT64_C(2145916800),
                    6 * HOUR);
        set_tz(NULL);
    }
    sx_tz_close(tz);
    free(buf);
}

static void test_files(void)
{
    char dir[] = "/tmp/sx_tz_test.XXXXXX";
    size_t len;
    unsigned char *orig = slurp("/usr/share/zoneinfo/Europe/Berlin", &len);
    const char *old = getenv("TZDIR");

    if (!mkdtemp(dir)) {
        printf("mkdtemp failed\n");
        exit(2);
    }
    setenv("TZDIR", dir, 1);
    write_file(dir, "Copy", orig, len);
    test_cond("a copy under $TZDIR opens", opens("Copy"));
    test_cond("UTC needs no file", opens("UTC") && opens("GMT") &&
              opens("Etc/UTC"));
    check_open_error("Europe/Berlin", "unknown time zone 'Europe/Berlin'");
    test_truncated(dir, orig, len);
    test_hostile(dir, orig, len);
    test_fuzz(dir, orig, len);
    {
        const char *names[] = { "Copy", "Trunc", "Fuzz", "Huge", "Notype",
                                "V5", "Order", "Footer", "Text", "V4", "V1",
                                "Slim" };
        char path[512];
        size_t i;

        for (i = 0; i < sizeof names / sizeof *names; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
    }
    rmdir(dir);
    if (old)
        setenv("TZDIR", old, 1);
    else
        unsetenv("TZDIR");
    free(orig);
}

int main(void)
{
    unsetenv("TZDIR");
    test_calendar();
    test_zones();
    test_resolve();
    test_format();
    test_posix();
    test_local();
    test_names();
    test_files();
    return test_report();
}
