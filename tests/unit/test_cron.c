/*
 * Unit tests for sx_cron: the syntax and every error, the day-of-month /
 * day-of-week OR rule, next runs around every 2026 DST transition in
 * Berlin and New York (as RFC 3339 strings), a year of runs in zones with
 * odd rules checked against two brute-force oracles, and intervals.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sx_cron.h"
#include "sx_tz.h"
#include "testhelp.h"

#define DAY 86400
#define MAX_RUNS 200000

static char errbuf[256];

static struct sx_tz *zone(const char *name)
{
    struct sx_tz *tz = sx_tz_open(name, errbuf, sizeof errbuf);

    if (!tz) {
        printf("cannot open %s: %s\n", name, errbuf);
        exit(2);
    }
    return tz;
}

static struct sx_cron parse_or_die(const char *expr)
{
    struct sx_cron c;

    if (sx_cron_parse(&c, expr, errbuf, sizeof errbuf) < 0) {
        printf("cannot parse %s: %s\n", expr, errbuf);
        exit(2);
    }
    return c;
}

/* ---- parsing ----------------------------------------------------------- */

static uint64_t bits(int lo, int hi, int step)
{
    uint64_t b = 0;

    for (; lo <= hi; lo += step)
        b |= (uint64_t)1 << lo;
    return b;
}

static int parses(const char *expr, uint64_t min, uint32_t hour, uint32_t dom,
                  uint16_t mon, uint8_t dow, unsigned flags)
{
    struct sx_cron c;

    if (sx_cron_parse(&c, expr, errbuf, sizeof errbuf) < 0) {
        printf("  '%s': %s\n", expr, errbuf);
        return 0;
    }
    if (c.minute == min && c.hour == hour && c.dom == dom &&
        c.month == mon && c.dow == dow && c.flags == flags)
        return 1;
    printf("  '%s': %llx %x %x %x %x %x\n", expr,
           (unsigned long long)c.minute, c.hour, c.dom, c.month, c.dow,
           c.flags);
    return 0;
}

#define ALLMIN bits(0, 59, 1)
#define ALLHR (uint32_t) bits(0, 23, 1)
#define ALLDOM (uint32_t) bits(1, 31, 1)
#define ALLMON (uint16_t) bits(1, 12, 1)
#define ALLDOW (uint8_t) bits(0, 6, 1)
#define STARS (SX_CRON_MIN_STAR | SX_CRON_HOUR_STAR | SX_CRON_DOM_STAR | \
               SX_CRON_DOW_STAR)
#define DAYSTARS (SX_CRON_DOM_STAR | SX_CRON_DOW_STAR)

static void test_syntax(void)
{
    test_cond("* * * * *", parses("* * * * *", ALLMIN, ALLHR, ALLDOM, ALLMON,
                                  ALLDOW, STARS));
    test_cond("blanks around and between",
              parses(" \t0  0\t* *   *  ", 1, 1, ALLDOM, ALLMON, ALLDOW,
                     DAYSTARS));
    test_cond("lists", parses("0,15,30,45 1,13 1,15 1,7 1,5", bits(0, 45, 15),
                              1 << 1 | 1 << 13, 1 << 1 | 1 << 15,
                              1 << 1 | 1 << 7, 1 << 1 | 1 << 5, 0));
    test_cond("ranges", parses("10-20 9-17 10-12 3-5 1-5", bits(10, 20, 1),
                               (uint32_t)bits(9, 17, 1),
                               (uint32_t)bits(10, 12, 1),
                               (uint16_t)bits(3, 5, 1),
                               (uint8_t)bits(1, 5, 1), 0));
    test_cond("*/n", parses("*/15 */6 */10 */3 */2", bits(0, 59, 15),
                            (uint32_t)bits(0, 23, 6), (uint32_t)bits(1, 31, 10),
                            (uint16_t)bits(1, 12, 3), (uint8_t)bits(0, 6, 2),
                            STARS));
    test_cond("a-b/n", parses("10-40/10 1-10/3 5-20/5 2-11/3 1-5/2",
                              bits(10, 40, 10), (uint32_t)bits(1, 10, 3),
                              (uint32_t)bits(5, 20, 5),
                              (uint16_t)bits(2, 11, 3),
                              (uint8_t)bits(1, 5, 2), 0));
    test_cond("a/n", parses("5/20 20/2 25/3 10/1 3/2", bits(5, 59, 20),
                            (uint32_t)bits(20, 23, 2),
                            (uint32_t)bits(25, 31, 3),
                            (uint16_t)bits(10, 12, 1),
                            (uint8_t)(bits(3, 5, 2) | 1), 0)); /* 7: Sun */
    test_cond("month names", parses("0 0 1 jan,MAR-May,Dec *", 1, 1, 1 << 1,
                                    1 << 1 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 12,
                                    ALLDOW, SX_CRON_DOW_STAR));
    test_cond("day names", parses("0 0 * * Mon-FRI", 1, 1, ALLDOM, ALLMON,
                                  (uint8_t)bits(1, 5, 1), SX_CRON_DOM_STAR));
    test_cond("day names with step", parses("0 0 * * sun-sat/2", 1, 1, ALLDOM,
                                            ALLMON, (uint8_t)bits(0, 6, 2),
                                            SX_CRON_DOM_STAR));
    test_cond("dow 7 is Sunday", parses("0 0 * * 7", 1, 1, ALLDOM, ALLMON, 1,
                                        SX_CRON_DOM_STAR));
    test_cond("dow 5-7", parses("0 0 * * 5-7", 1, 1, ALLDOM, ALLMON,
                                1 | 1 << 5 | 1 << 6, SX_CRON_DOM_STAR));
    test_cond("dow 0-7", parses("0 0 * * 0-7", 1, 1, ALLDOM, ALLMON, ALLDOW,
                                SX_CRON_DOM_STAR));
    test_cond("MON-SUN", parses("0 0 * * MON-SUN", 1, 1, ALLDOM, ALLMON,
                                ALLDOW, SX_CRON_DOM_STAR));
    test_cond("fri-sun", parses("0 0 * * fri-sun", 1, 1, ALLDOM, ALLMON,
                                1 | 1 << 5 | 1 << 6, SX_CRON_DOM_STAR));
    test_cond("SUN-SUN", parses("0 0 * * SUN-SUN", 1, 1, ALLDOM, ALLMON, 1,
                                SX_CRON_DOM_STAR));
    test_cond("leading zeros", parses("05 007 01 01 00", 1 << 5, 1 << 7, 1 << 1,
                                      1 << 1, 1, 0));
    test_cond("mixed list", parses("1,5-7,*/20 * * * *",
                                   bits(0, 40, 20) | 1 << 1 | bits(5, 7, 1),
                                   ALLHR, ALLDOM, ALLMON, ALLDOW,
                                   SX_CRON_HOUR_STAR | DAYSTARS));
    test_cond("wildcard hour only", parses("0 * * * *", 1, ALLHR, ALLDOM,
                                           ALLMON, ALLDOW,
                                           SX_CRON_HOUR_STAR | DAYSTARS));
    test_cond("@hourly", parses("@hourly", 1, ALLHR, ALLDOM, ALLMON, ALLDOW,
                                SX_CRON_HOUR_STAR | DAYSTARS));
    test_cond("@daily", parses("@daily", 1, 1, ALLDOM, ALLMON, ALLDOW,
                               DAYSTARS));
    test_cond("@midnight", parses(" @midnight ", 1, 1, ALLDOM, ALLMON, ALLDOW,
                                  DAYSTARS));
    test_cond("@weekly", parses("@weekly", 1, 1, ALLDOM, ALLMON, 1,
                                SX_CRON_DOM_STAR));
    test_cond("@monthly", parses("@monthly", 1, 1, 1 << 1, ALLMON, ALLDOW,
                                 SX_CRON_DOW_STAR));
    test_cond("@yearly", parses("@yearly", 1, 1, 1 << 1, 1 << 1, ALLDOW,
                                SX_CRON_DOW_STAR));
    test_cond("@annually, any case", parses("@Annually", 1, 1, 1 << 1, 1 << 1,
                                            ALLDOW, SX_CRON_DOW_STAR));
    test_cond("Feb 29 allowed", parses("0 0 29 2 *", 1, 1, 1 << 29, 1 << 2,
                                       ALLDOW, SX_CRON_DOW_STAR));
    test_cond("30 Feb with a weekday (OR rule) allowed",
              parses("0 0 30 2 1", 1, 1, 1u << 30, 1 << 2, 1 << 1, 0));
    test_cond("31 in some month of the list",
              parses("0 0 31 4,5 *", 1, 1, 1u << 31, 1 << 4 | 1 << 5, ALLDOW,
                     SX_CRON_DOW_STAR));
}

static void check_error(const char *expr, const char *want)
{
    struct sx_cron c;
    char descr[300];
    int r;

    errbuf[0] = '\0';
    r = sx_cron_parse(&c, expr, errbuf, sizeof errbuf);
    snprintf(descr, sizeof descr, "error: %s", want);
    test_cond(descr, r == -1 && strcmp(errbuf, want) == 0);
    if (r != -1 || strcmp(errbuf, want) != 0)
        printf("  got '%s'\n", errbuf);
}

static void test_errors(void)
{
    check_error("x * * * *", "cron 'x * * * *': minute: bad value 'x' (0-59)");
    check_error("* * * *", "cron '* * * *': expected 5 fields (minute hour "
                "day-of-month month day-of-week), got 4");
    check_error("* * * * * *", "cron '* * * * * *': expected 5 fields "
                "(minute hour day-of-month month day-of-week), got 6");
    check_error("", "cron '': expected 5 fields (minute hour day-of-month "
                "month day-of-week), got 0");
    check_error("60 * * * *", "cron '60 * * * *': minute: '60' out of range "
                "(0-59)");
    check_error("0 24 * * *", "cron '0 24 * * *': hour: '24' out of range "
                "(0-23)");
    check_error("0 0 0 * *", "cron '0 0 0 * *': day-of-month: '0' out of "
                "range (1-31)");
    check_error("0 0 32 * *", "cron '0 0 32 * *': day-of-month: '32' out of "
                "range (1-31)");
    check_error("0 0 * 13 *", "cron '0 0 * 13 *': month: '13' out of range "
                "(1-12 or JAN-DEC)");
    check_error("0 0 * * 8", "cron '0 0 * * 8': day-of-week: '8' out of "
                "range (0-7 or SUN-SAT)");
    check_error("0 0 * 0-5 *", "cron '0 0 * 0-5 *': month: '0-5' out of "
                "range (1-12 or JAN-DEC)");
    check_error("99999999999 * * * *", "cron '99999999999 * * * *': minute: "
                "'99999999999' out of range (0-59)");
    check_error("*/0 * * * *", "cron '*/0 * * * *': minute: step 0 in '*/0'");
    check_error("0 1-5/0 * * *", "cron '0 1-5/0 * * *': hour: step 0 in "
                "'1-5/0'");
    check_error("*/60 * * * *", "cron '*/60 * * * *': minute: bad step in "
                "'*/60' (1-59)");
    check_error("*/x * * * *", "cron '*/x * * * *': minute: bad step in "
                "'*/x' (1-59)");
    check_error("*/ * * * *", "cron '*/ * * * *': minute: bad step in '*/' "
                "(1-59)");
    check_error("*/5/5 * * * *", "cron '*/5/5 * * * *': minute: bad step in "
                "'*/5/5' (1-59)");
    check_error("5-1 * * * *", "cron '5-1 * * * *': minute: reversed range "
                "'5-1'");
    check_error("0 0 * * FRI-MON", "cron '0 0 * * FRI-MON': day-of-week: "
                "reversed range 'FRI-MON'");
    check_error("1,,2 * * * *", "cron '1,,2 * * * *': minute: empty item in "
                "'1,,2'");
    check_error("1, * * * *", "cron '1, * * * *': minute: empty item in "
                "'1,'");
    check_error(",1 * * * *", "cron ',1 * * * *': minute: empty item in "
                "',1'");
    check_error("1- * * * *", "cron '1- * * * *': minute: bad value '1-' "
                "(0-59)");
    check_error("-1 * * * *", "cron '-1 * * * *': minute: bad value '-1' "
                "(0-59)");
    check_error("5x * * * *", "cron '5x * * * *': minute: bad value '5x' "
                "(0-59)");
    check_error("** * * * *", "cron '** * * * *': minute: bad value '**' "
                "(0-59)");
    check_error("0 0 * JANUARY *", "cron '0 0 * JANUARY *': month: bad value "
                "'JANUARY' (1-12 or JAN-DEC)");
    check_error("0 0 * * FOO", "cron '0 0 * * FOO': day-of-week: bad value "
                "'FOO' (0-7 or SUN-SAT)");
    check_error("MON 0 * * *", "cron 'MON 0 * * *': minute: bad value 'MON' "
                "(0-59)");
    check_error("0 0 * JA *", "cron '0 0 * JA *': month: bad value 'JA' "
                "(1-12 or JAN-DEC)");
    check_error("0 0 30 2 *", "cron '0 0 30 2 *': day-of-month: '30' never "
                "occurs in month '2'");
    check_error("0 0 31 4,6,9,11 *", "cron '0 0 31 4,6,9,11 *': "
                "day-of-month: '31' never occurs in month '4,6,9,11'");
    check_error("0 0 30-31 FEB */2", "cron '0 0 30-31 FEB */2': "
                "day-of-month: '30-31' never occurs in month 'FEB'");
    check_error("@reboot", "cron '@reboot': unknown macro '@reboot' (use "
                "@yearly, @annually, @monthly, @weekly, @daily, @midnight or "
                "@hourly)");
    check_error("@daily 5", "cron '@daily 5': a macro stands alone");
    check_error("0 0 * * 1\n", "cron '0 0 * * 1\n': day-of-week: bad value "
                "'1\n' (0-7 or SUN-SAT)");
}

/* ---- next runs as strings ---------------------------------------------- */

/* The instant of wall time y-m-d h:mi (its first occurrence, or the gap). */
static int64_t at(const struct sx_tz *tz, int y, int mo, int d, int h, int mi)
{
    int64_t u[2];

    sx_tz_resolve(tz, sx_tz_days_from_civil(y, mo, d) * DAY + h * 3600 +
                          mi * 60, u);
    return u[0];
}

/* The runs in [from, to) as formatted instants separated by blanks. */
static const char *runs(const char *expr, const struct sx_tz *tz,
                        int64_t from, int64_t to)
{
    static char out[4096];
    struct sx_cron c = parse_or_die(expr);
    int64_t t = from - 1;
    size_t len = 0;
    int n = 0;

    out[0] = '\0';
    while ((t = sx_cron_next(&c, tz, t)) >= 0 && t < to && n++ < 100) {
        if (len > 0)
            out[len++] = ' ';
        len += sx_tz_format(tz, t, out + len, sizeof out - len);
        if (len >= sizeof out - SX_TZ_FORMAT_LEN)
            break;
    }
    return out;
}

struct window {
    int y, mo, d, h, mi;
};

static void check_runs(const char *zname, const char *expr, struct window a,
                       struct window b, const char *want)
{
    struct sx_tz *tz = zone(zname);
    const char *got = runs(expr, tz, at(tz, a.y, a.mo, a.d, a.h, a.mi),
                           at(tz, b.y, b.mo, b.d, b.h, b.mi));
    char descr[200];

    snprintf(descr, sizeof descr, "%s '%s' %04d-%02d-%02d", zname, expr, a.y,
             a.mo, a.d);
    test_cond(descr, strcmp(got, want) == 0);
    if (strcmp(got, want) != 0)
        printf("  want %s\n  got  %s\n", want, got);
    sx_tz_close(tz);
}

/* Daily jobs: from 00:00 the day before to the end of the day after. */
static void check_daily(const char *zname, const char *expr, int y, int mo,
                        int d, const char *want)
{
    struct window a = { y, mo, d - 1, 0, 0 }, b = { y, mo, d + 2, 0, 0 };

    check_runs(zname, expr, a, b, want);
}

static void test_berlin(void)
{
    const char *z = "Europe/Berlin";

    /* 2026-03-29: 02:00 CET -> 03:00 CEST */
    check_daily(z, "30 2 * * *", 2026, 3, 29, "2026-03-28T02:30:00+01:00 "
                "2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00");
    check_daily(z, "0 2 * * *", 2026, 3, 29, "2026-03-28T02:00:00+01:00 "
                "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
    check_daily(z, "30 1 * * *", 2026, 3, 29, "2026-03-28T01:30:00+01:00 "
                "2026-03-29T01:30:00+01:00 2026-03-30T01:30:00+02:00");
    check_daily(z, "15 3 * * *", 2026, 3, 29, "2026-03-28T03:15:00+01:00 "
                "2026-03-29T03:15:00+02:00 2026-03-30T03:15:00+02:00");
    check_daily(z, "0,30 2 * * *", 2026, 3, 29, "2026-03-28T02:00:00+01:00 "
                "2026-03-28T02:30:00+01:00 2026-03-29T03:00:00+02:00 "
                "2026-03-30T02:00:00+02:00 2026-03-30T02:30:00+02:00");
    check_daily(z, "0 2,3 * * *", 2026, 3, 29, "2026-03-28T02:00:00+01:00 "
                "2026-03-28T03:00:00+01:00 2026-03-29T03:00:00+02:00 "
                "2026-03-30T02:00:00+02:00 2026-03-30T03:00:00+02:00");
    check_runs(z, "0 * * * *", (struct window){ 2026, 3, 29, 0, 0 },
               (struct window){ 2026, 3, 29, 5, 0 },
               "2026-03-29T00:00:00+01:00 2026-03-29T01:00:00+01:00 "
               "2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00");
    check_runs(z, "*/15 * * * *", (struct window){ 2026, 3, 29, 1, 0 },
               (struct window){ 2026, 3, 29, 3, 30 },
               "2026-03-29T01:00:00+01:00 2026-03-29T01:15:00+01:00 "
               "2026-03-29T01:30:00+01:00 2026-03-29T01:45:00+01:00 "
               "2026-03-29T03:00:00+02:00 2026-03-29T03:15:00+02:00");
    check_runs(z, "* 2 * * *", (struct window){ 2026, 3, 29, 0, 0 },
               (struct window){ 2026, 3, 30, 0, 0 }, "");
    /* 2026-10-25: 03:00 CEST -> 02:00 CET */
    check_daily(z, "30 2 * * *", 2026, 10, 25, "2026-10-24T02:30:00+02:00 "
                "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
    check_daily(z, "0 2 * * *", 2026, 10, 25, "2026-10-24T02:00:00+02:00 "
                "2026-10-25T02:00:00+02:00 2026-10-26T02:00:00+01:00");
    check_daily(z, "30 1 * * *", 2026, 10, 25, "2026-10-24T01:30:00+02:00 "
                "2026-10-25T01:30:00+02:00 2026-10-26T01:30:00+01:00");
    check_daily(z, "15 3 * * *", 2026, 10, 25, "2026-10-24T03:15:00+02:00 "
                "2026-10-25T03:15:00+01:00 2026-10-26T03:15:00+01:00");
    check_runs(z, "0 * * * *", (struct window){ 2026, 10, 25, 0, 0 },
               (struct window){ 2026, 10, 25, 5, 0 },
               "2026-10-25T00:00:00+02:00 2026-10-25T01:00:00+02:00 "
               "2026-10-25T02:00:00+02:00 2026-10-25T02:00:00+01:00 "
               "2026-10-25T03:00:00+01:00 2026-10-25T04:00:00+01:00");
    check_runs(z, "*/15 * * * *", (struct window){ 2026, 10, 25, 1, 30 },
               (struct window){ 2026, 10, 25, 3, 15 },
               "2026-10-25T01:30:00+02:00 2026-10-25T01:45:00+02:00 "
               "2026-10-25T02:00:00+02:00 2026-10-25T02:15:00+02:00 "
               "2026-10-25T02:30:00+02:00 2026-10-25T02:45:00+02:00 "
               "2026-10-25T02:00:00+01:00 2026-10-25T02:15:00+01:00 "
               "2026-10-25T02:30:00+01:00 2026-10-25T02:45:00+01:00 "
               "2026-10-25T03:00:00+01:00");
}

static void test_new_york(void)
{
    const char *z = "America/New_York";

    /* 2026-03-08: 02:00 EST -> 03:00 EDT */
    check_daily(z, "30 2 * * *", 2026, 3, 8, "2026-03-07T02:30:00-05:00 "
                "2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00");
    check_daily(z, "0 2 * * *", 2026, 3, 8, "2026-03-07T02:00:00-05:00 "
                "2026-03-08T03:00:00-04:00 2026-03-09T02:00:00-04:00");
    check_daily(z, "30 1 * * *", 2026, 3, 8, "2026-03-07T01:30:00-05:00 "
                "2026-03-08T01:30:00-05:00 2026-03-09T01:30:00-04:00");
    check_daily(z, "15 3 * * *", 2026, 3, 8, "2026-03-07T03:15:00-05:00 "
                "2026-03-08T03:15:00-04:00 2026-03-09T03:15:00-04:00");
    check_runs(z, "0 * * * *", (struct window){ 2026, 3, 8, 0, 0 },
               (struct window){ 2026, 3, 8, 5, 0 },
               "2026-03-08T00:00:00-05:00 2026-03-08T01:00:00-05:00 "
               "2026-03-08T03:00:00-04:00 2026-03-08T04:00:00-04:00");
    check_runs(z, "*/15 * * * *", (struct window){ 2026, 3, 8, 1, 0 },
               (struct window){ 2026, 3, 8, 3, 30 },
               "2026-03-08T01:00:00-05:00 2026-03-08T01:15:00-05:00 "
               "2026-03-08T01:30:00-05:00 2026-03-08T01:45:00-05:00 "
               "2026-03-08T03:00:00-04:00 2026-03-08T03:15:00-04:00");
    /* 2026-11-01: 02:00 EDT -> 01:00 EST */
    check_daily(z, "30 2 * * *", 2026, 11, 1, "2026-10-31T02:30:00-04:00 "
                "2026-11-01T02:30:00-05:00 2026-11-02T02:30:00-05:00");
    check_daily(z, "0 2 * * *", 2026, 11, 1, "2026-10-31T02:00:00-04:00 "
                "2026-11-01T02:00:00-05:00 2026-11-02T02:00:00-05:00");
    check_daily(z, "30 1 * * *", 2026, 11, 1, "2026-10-31T01:30:00-04:00 "
                "2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00");
    check_daily(z, "15 3 * * *", 2026, 11, 1, "2026-10-31T03:15:00-04:00 "
                "2026-11-01T03:15:00-05:00 2026-11-02T03:15:00-05:00");
    check_runs(z, "0 * * * *", (struct window){ 2026, 11, 1, 0, 0 },
               (struct window){ 2026, 11, 1, 4, 0 },
               "2026-11-01T00:00:00-04:00 2026-11-01T01:00:00-04:00 "
               "2026-11-01T01:00:00-05:00 2026-11-01T02:00:00-05:00 "
               "2026-11-01T03:00:00-05:00");
    check_runs(z, "*/15 * * * *", (struct window){ 2026, 11, 1, 0, 30 },
               (struct window){ 2026, 11, 1, 2, 15 },
               "2026-11-01T00:30:00-04:00 2026-11-01T00:45:00-04:00 "
               "2026-11-01T01:00:00-04:00 2026-11-01T01:15:00-04:00 "
               "2026-11-01T01:30:00-04:00 2026-11-01T01:45:00-04:00 "
               "2026-11-01T01:00:00-05:00 2026-11-01T01:15:00-05:00 "
               "2026-11-01T01:30:00-05:00 2026-11-01T01:45:00-05:00 "
               "2026-11-01T02:00:00-05:00");
}

static void test_other_transitions(void)
{
    /* Lord Howe: 30-minute shifts, 02:00 -> 02:30 and 02:00 -> 01:30 */
    check_daily("Australia/Lord_Howe", "15 2 * * *", 2026, 10, 4,
                "2026-10-03T02:15:00+10:30 2026-10-04T02:30:00+11:00 "
                "2026-10-05T02:15:00+11:00");
    check_daily("Australia/Lord_Howe", "45 1 * * *", 2026, 4, 5,
                "2026-04-04T01:45:00+11:00 2026-04-05T01:45:00+11:00 "
                "2026-04-06T01:45:00+10:30");
    check_runs("Australia/Lord_Howe", "*/15 * * * *",
               (struct window){ 2026, 4, 5, 1, 30 },
               (struct window){ 2026, 4, 5, 2, 15 },
               "2026-04-05T01:30:00+11:00 2026-04-05T01:45:00+11:00 "
               "2026-04-05T01:30:00+10:30 2026-04-05T01:45:00+10:30 "
               "2026-04-05T02:00:00+10:30");
    check_runs("Australia/Lord_Howe", "0 * * * *",
               (struct window){ 2026, 4, 5, 0, 0 },
               (struct window){ 2026, 4, 5, 3, 0 },
               "2026-04-05T00:00:00+11:00 2026-04-05T01:00:00+11:00 "
               "2026-04-05T02:00:00+10:30");
    /* Santiago: DST starts at midnight (Sat 24:00 -> Sun 01:00) */
    check_daily("America/Santiago", "0 0 * * *", 2026, 9, 6,
                "2026-09-05T00:00:00-04:00 2026-09-06T01:00:00-03:00 "
                "2026-09-07T00:00:00-03:00");
    check_daily("America/Santiago", "30 23 * * *", 2026, 4, 4,
                "2026-04-03T23:30:00-03:00 2026-04-04T23:30:00-03:00 "
                "2026-04-05T23:30:00-04:00");
    check_runs("America/Santiago", "0 * * * *",
               (struct window){ 2026, 4, 4, 22, 0 },
               (struct window){ 2026, 4, 5, 1, 0 },
               "2026-04-04T22:00:00-03:00 2026-04-04T23:00:00-03:00 "
               "2026-04-04T23:00:00-04:00 2026-04-05T00:00:00-04:00");
    /* Cairo: 00:00 -> 01:00 on the last Friday of April */
    check_daily("Africa/Cairo", "30 0 * * *", 2026, 4, 24,
                "2026-04-23T00:30:00+02:00 2026-04-24T01:00:00+03:00 "
                "2026-04-25T00:30:00+03:00");
    check_daily("Africa/Cairo", "59 23 * * *", 2026, 10, 29,
                "2026-10-28T23:59:00+03:00 2026-10-29T23:59:00+03:00 "
                "2026-10-30T23:59:00+02:00");
    /* Dublin: negative DST in the data, the clocks move as in London */
    check_daily("Europe/Dublin", "30 1 * * *", 2026, 3, 29,
                "2026-03-28T01:30:00+00:00 2026-03-29T02:00:00+01:00 "
                "2026-03-30T01:30:00+01:00");
    check_daily("Europe/Dublin", "30 1 * * *", 2026, 10, 25,
                "2026-10-24T01:30:00+01:00 2026-10-25T01:30:00+01:00 "
                "2026-10-26T01:30:00+00:00");
    /* Sydney: the southern hemisphere */
    check_daily("Australia/Sydney", "30 2 * * *", 2026, 10, 4,
                "2026-10-03T02:30:00+10:00 2026-10-04T03:00:00+11:00 "
                "2026-10-05T02:30:00+11:00");
    check_daily("Australia/Sydney", "30 2 * * *", 2026, 4, 5,
                "2026-04-04T02:30:00+11:00 2026-04-05T02:30:00+11:00 "
                "2026-04-06T02:30:00+10:00");
    /* Nuuk: DST starts at -01:00 (Saturday 23:00 -> Sunday 00:00), so
     * Saturday's 23:30 runs at the jump, on Sunday */
    check_daily("America/Nuuk", "30 23 * * *", 2026, 3, 28,
                "2026-03-27T23:30:00-02:00 2026-03-29T00:00:00-01:00 "
                "2026-03-29T23:30:00-01:00");
}

/* ---- days: month ends, Feb 29, macros, the OR rule --------------------- */

static void check_next(const char *zname, const char *expr, int64_t after,
                       const char *want)
{
    struct sx_tz *tz = zone(zname);
    struct sx_cron c = parse_or_die(expr);
    int64_t t = sx_cron_next(&c, tz, after);
    char got[SX_TZ_FORMAT_LEN] = "-1", descr[200];

    if (t >= 0)
        sx_tz_format(tz, t, got, sizeof got);
    snprintf(descr, sizeof descr, "%s '%s' -> %s", zname, expr, want);
    test_cond(descr, strcmp(got, want) == 0);
    if (strcmp(got, want) != 0)
        printf("  got %s\n", got);
    sx_tz_close(tz);
}

/* The instant of a UTC date-time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return sx_tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60;
}

static void test_days(void)
{
    check_next("UTC", "0 0 29 2 *", utc(2025, 1, 1, 0, 0),
               "2028-02-29T00:00:00+00:00");
    check_next("Europe/Berlin", "0 0 29 2 *", utc(2025, 1, 1, 0, 0),
               "2028-02-29T00:00:00+01:00");
    check_next("UTC", "0 0 29 2 *", utc(2096, 3, 1, 0, 0),
               "2104-02-29T00:00:00+00:00");
    check_next("UTC", "0 0 31 * *", utc(2026, 1, 31, 0, 0),
               "2026-03-31T00:00:00+00:00");
    check_next("UTC", "0 0 30 * *", utc(2026, 1, 30, 0, 0),
               "2026-03-30T00:00:00+00:00");
    check_next("UTC", "59 23 31 12 *", utc(2026, 1, 1, 0, 0),
               "2026-12-31T23:59:00+00:00");
    check_next("UTC", "0 0 1 * *", utc(2026, 12, 15, 0, 0),
               "2027-01-01T00:00:00+00:00");
    check_next("UTC", "0 0 31 4,5 *", utc(2026, 1, 1, 0, 0),
               "2026-05-31T00:00:00+00:00");
    check_next("UTC", "* * * * *", utc(2026, 1, 1, 0, 0),
               "2026-01-01T00:01:00+00:00");
    check_next("UTC", "* * * * *", utc(2026, 1, 1, 0, 0) - 1,
               "2026-01-01T00:00:00+00:00");
    check_next("UTC", "* * * * *", utc(2026, 1, 1, 0, 0) + 1,
               "2026-01-01T00:01:00+00:00");
    check_next("UTC", "59 23 31 12 *", utc(2026, 12, 31, 23, 59),
               "2027-12-31T23:59:00+00:00");
    check_next("Europe/Berlin", "@weekly", utc(2026, 3, 25, 12, 0),
               "2026-03-29T00:00:00+01:00");
    check_next("Europe/Berlin", "@monthly", utc(2026, 3, 25, 12, 0),
               "2026-04-01T00:00:00+02:00");
    check_next("Europe/Berlin", "@yearly", utc(2026, 3, 25, 12, 0),
               "2027-01-01T00:00:00+01:00");
    check_next("Europe/Berlin", "@daily", utc(2026, 3, 25, 12, 0),
               "2026-03-26T00:00:00+01:00");
    check_next("Europe/Berlin", "@hourly", utc(2026, 3, 25, 12, 0),
               "2026-03-25T14:00:00+01:00");
    check_next("Asia/Kolkata", "0 9 * * MON-FRI", utc(2026, 3, 27, 12, 0),
               "2026-03-30T09:00:00+05:30");
    /* from inside the second 01:xx of New York's fall-back night */
    check_next("America/New_York", "45 1 * * *", utc(2026, 11, 1, 6, 40),
               "2026-11-02T01:45:00-05:00");
    check_next("America/New_York", "45 * * * *", utc(2026, 11, 1, 6, 40),
               "2026-11-01T01:45:00-05:00");
    check_next("America/New_York", "45 1 * * *", utc(2026, 11, 1, 5, 40),
               "2026-11-01T01:45:00-04:00");
    /* from inside a gap's minute: the jump is still ahead */
    check_next("Europe/Berlin", "30 2 * * *", utc(2026, 3, 29, 0, 59),
               "2026-03-29T03:00:00+02:00");
    check_next("Europe/Berlin", "30 2 * * *", utc(2026, 3, 29, 1, 0),
               "2026-03-30T02:30:00+02:00");
    check_next("UTC", "0 0 * * *", SX_TZ_TIME_MAX - 10, "-1");
    check_next("UTC", "0 0 * * *", INT64_MIN, "-1");
    check_runs("UTC", "0 0 13 * 5", (struct window){ 2026, 1, 1, 0, 0 },
               (struct window){ 2026, 2, 14, 0, 0 },
               "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00 "
               "2026-01-13T00:00:00+00:00 2026-01-16T00:00:00+00:00 "
               "2026-01-23T00:00:00+00:00 2026-01-30T00:00:00+00:00 "
               "2026-02-06T00:00:00+00:00 2026-02-13T00:00:00+00:00");
    check_runs("UTC", "0 0 */10 * 5", (struct window){ 2026, 1, 1, 0, 0 },
               (struct window){ 2027, 1, 1, 0, 0 },
               "2026-05-01T00:00:00+00:00 2026-07-31T00:00:00+00:00 "
               "2026-08-21T00:00:00+00:00 2026-09-11T00:00:00+00:00 "
               "2026-12-11T00:00:00+00:00");
    check_runs("UTC", "0 0 13 * *", (struct window){ 2026, 1, 1, 0, 0 },
               (struct window){ 2026, 3, 1, 0, 0 },
               "2026-01-13T00:00:00+00:00 2026-02-13T00:00:00+00:00");
    check_runs("UTC", "0 0 * * 5", (struct window){ 2026, 1, 1, 0, 0 },
               (struct window){ 2026, 1, 20, 0, 0 },
               "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00 "
               "2026-01-16T00:00:00+00:00");
    /* Feb 1 on a Monday (the AND rule): years apart */
    check_next("UTC", "0 0 */28 2 1", utc(2027, 3, 1, 0, 0),
               "2038-02-01T00:00:00+00:00");
}

/* ---- a year in every zone, against oracles ----------------------------- */

static int matches(const struct sx_cron *c, int64_t wall)
{
    int64_t days = wall / DAY, y;
    int m, d, sod = (int)(wall % DAY), dom, dow;

    sx_tz_civil_from_days(days, &y, &m, &d);
    dom = c->dom >> d & 1;
    dow = c->dow >> sx_tz_weekday(days) & 1;
    if (!(c->minute >> (sod / 60 % 60) & 1) || !(c->hour >> (sod / 3600) & 1) ||
        !(c->month >> m & 1))
        return 0;
    return (c->flags & (SX_CRON_DOM_STAR | SX_CRON_DOW_STAR)) ? dom && dow
                                                               : dom || dow;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * The runs in [from, to) by the rules, computed the slow way: a wildcard
 * job at every UTC minute whose wall time matches; a fixed-time job at
 * each matching wall time's first occurrence, or at the end of its gap.
 */
static int oracle(const struct sx_cron *c, const struct sx_tz *tz,
                  int64_t from, int64_t to, int64_t *out)
{
    int n = 0, i, k = 0;

    if (c->flags & (SX_CRON_MIN_STAR | SX_CRON_HOUR_STAR)) {
        int64_t u;

        for (u = from; u < to; u += 60)
            if (matches(c, u + sx_tz_offset(tz, u, NULL)))
                out[n++] = u;
        return n;
    }
    for (int64_t w = (from / DAY - 2) * DAY; w < to + 2 * DAY; w += 60) {
        int64_t r[2];

        if (!matches(c, w))
            continue;
        sx_tz_resolve(tz, w, r);
        if (r[0] >= from && r[0] < to)
            out[n++] = r[0];
    }
    qsort(out, (size_t)n, sizeof *out, cmp64);
    for (i = 0; i < n; i++)
        if (k == 0 || out[i] != out[k - 1])
            out[k++] = out[i];
    return k;
}

static int64_t *got_runs, *want_runs;

/* sx_cron_next from `from` to `to`, against the oracle. */
static void check_year(const char *zname, const char *expr, int *runs_out)
{
    struct sx_tz *tz = zone(zname);
    struct sx_cron c = parse_or_die(expr);
    int64_t from = at(tz, 2026, 1, 1, 0, 0), to = at(tz, 2027, 1, 1, 0, 0);
    int64_t t = from - 1, gap, day, prevday = INT64_MIN;
    int n = 0, nw, i, same, dayok = 1, ndays = 0;
    char descr[200];

    while ((t = sx_cron_next(&c, tz, t)) >= 0 && t < to && n < MAX_RUNS) {
        gap = n > 0 ? t - got_runs[n - 1] : DAY;
        dayok &= gap >= 22 * 3600 && gap <= 26 * 3600;
        day = (t + sx_tz_offset(tz, t, NULL)) / DAY;
        ndays += day != prevday;
        prevday = day;
        got_runs[n++] = t;
    }
    nw = oracle(&c, tz, from, to, want_runs);
    same = n == nw;
    for (i = 0; same && i < n; i++)
        same = got_runs[i] == want_runs[i];
    snprintf(descr, sizeof descr, "%s '%s': %d runs in 2026 as the oracle's",
             zname, expr, n);
    test_cond(descr, same);
    if (!same) {
        char a[SX_TZ_FORMAT_LEN], b[SX_TZ_FORMAT_LEN];

        for (i = 0; i < n && i < nw && got_runs[i] == want_runs[i]; i++)
            ;
        sx_tz_format(tz, i < n ? got_runs[i] : 0, a, sizeof a);
        sx_tz_format(tz, i < nw ? want_runs[i] : 0, b, sizeof b);
        printf("  %d vs %d runs; first difference: got %s, want %s\n", n, nw,
               a, b);
    }
    if (runs_out) {
        *runs_out = n;
        snprintf(descr, sizeof descr, "%s '%s': runs 22 to 26 h apart",
                 zname, expr);
        test_cond(descr, dayok);
        /* Nuuk's gap is 23:00-24:00: a 23:xx job runs at Sunday 00:00 */
        snprintf(descr, sizeof descr, "%s '%s': one run on each local day",
                 zname, expr);
        test_cond(descr, ndays == 365 ||
                             (strcmp(zname, "America/Nuuk") == 0 &&
                              strstr(expr, " 23 ") && ndays == 364));
    }
    sx_tz_close(tz);
}

static void test_years(void)
{
    static const char *zones[] = {
        "UTC", "Europe/Berlin", "America/New_York", "Europe/Dublin",
        "America/Santiago", "Africa/Cairo", "Australia/Lord_Howe",
        "Australia/Sydney", "Asia/Kolkata", "America/Nuuk",
        "Pacific/Chatham", "Africa/Casablanca",
    };
    static const char *daily[] = { "0 0 * * *", "30 2 * * *", "0 1 * * *",
                                   "59 23 * * *", "30 0 * * *", "0 2 * * *" };
    static const char *other[] = { "0 * * * *", "*/15 * * * *",
                                   "15,45 1-3 * * *", "*/7 2 * * *",
                                   "0 0-23/2 * * *", "30 * * * 1-5",
                                   "0 12 1,15 * MON" };
    size_t z, i;
    int days;
    char descr[200];

    got_runs = malloc(MAX_RUNS * sizeof *got_runs);
    want_runs = malloc(MAX_RUNS * sizeof *want_runs);
    for (z = 0; z < sizeof zones / sizeof *zones; z++) {
        for (i = 0; i < sizeof daily / sizeof *daily; i++) {
            check_year(zones[z], daily[i], &days);
            snprintf(descr, sizeof descr, "%s '%s': 365 runs in 2026",
                     zones[z], daily[i]);
            test_cond(descr, days == 365);
            if (days != 365)
                printf("  %d runs\n", days);
        }
        for (i = 0; i < sizeof other / sizeof *other; i++)
            check_year(zones[z], other[i], NULL);
    }
    free(got_runs);
    free(want_runs);
}

/* A job that matches rarely: the search skips, it does not crawl. */
static void test_far(void)
{
    struct sx_tz *tz = zone("Europe/Berlin");
    struct sx_cron c = parse_or_die("0 0 29 2 *");
    int64_t t = utc(1970, 1, 1, 0, 0);
    int n = 0;

    while ((t = sx_cron_next(&c, tz, t)) >= 0 && t < utc(2400, 1, 1, 0, 0))
        n++;
    test_cond("Feb 29 1970-2400: 104 runs", n == 104);
    c = parse_or_die("0 0 */28 2 1"); /* Feb 1 or 29 and a Monday */
    t = utc(2000, 1, 1, 0, 0);
    n = 0;
    while ((t = sx_cron_next(&c, tz, t)) >= 0 && t < utc(2400, 1, 1, 0, 0))
        n++;
    test_cond("Feb 1/29 on Mondays 2000-2400: 73 runs", n == 73);
    sx_tz_close(tz);
}

/* ---- intervals --------------------------------------------------------- */

static int interval_is(const char *s, double want)
{
    double v = -1;

    if (sx_cron_interval(s, &v, errbuf, sizeof errbuf) < 0) {
        printf("  '%s': %s\n", s, errbuf);
        return 0;
    }
    return th_near(v, want, 1e-9);
}

static void check_interval_error(const char *s, const char *want)
{
    double v = 42;
    char descr[200];
    int r;

    errbuf[0] = '\0';
    r = sx_cron_interval(s, &v, errbuf, sizeof errbuf);
    snprintf(descr, sizeof descr, "interval error: %s", want);
    test_cond(descr, r == -1 && strcmp(errbuf, want) == 0 && v == 42);
    if (r != -1 || strcmp(errbuf, want) != 0)
        printf("  got '%s'\n", errbuf);
}

static void test_interval(void)
{
    test_cond("30", interval_is("30", 30));
    test_cond("1.5", interval_is("1.5", 1.5));
    test_cond(".5", interval_is(".5", 0.5));
    test_cond("30s", interval_is("30s", 30));
    test_cond("5m", interval_is("5m", 300));
    test_cond("2h", interval_is("2h", 7200));
    test_cond("1d", interval_is("1d", 86400));
    test_cond("1h30m", interval_is("1h30m", 5400));
    test_cond("1d12h", interval_is("1d12h", 129600));
    test_cond("2m30.5s", interval_is("2m30.5s", 150.5));
    test_cond("1d1h1m1s", interval_is("1d1h1m1s", 90061));
    test_cond("0.001", interval_is("0.001", 0.001));
    test_cond("366d", interval_is("366d", 366 * 86400.0));
    test_cond("90m", interval_is("90m", 5400));
    check_interval_error("0", "interval '0': must be positive");
    check_interval_error("0s", "interval '0s': must be positive");
    check_interval_error("0h0m", "interval '0h0m': must be positive");
    check_interval_error("-5", "interval '-5': must be positive");
    check_interval_error("+5", "interval '+5': must be positive");
    check_interval_error("", "interval '': empty");
    check_interval_error("5x", "interval '5x': unknown unit 'x' (use d, h, m "
                         "or s)");
    check_interval_error("1e3", "interval '1e3': unknown unit 'e' (use d, h, "
                         "m or s)");
    check_interval_error("1h 30m", "interval '1h 30m': no blanks allowed");
    check_interval_error(" 5", "interval ' 5': no blanks allowed");
    check_interval_error("abc", "interval 'abc': expected a number of "
                         "seconds or parts such as 1h30m");
    check_interval_error("h", "interval 'h': expected a number of seconds or "
                         "parts such as 1h30m");
    check_interval_error("30m1h", "interval '30m1h': units go d, h, m, s, "
                         "each at most once");
    check_interval_error("1h1h", "interval '1h1h': units go d, h, m, s, each "
                         "at most once");
    check_interval_error("1h30", "interval '1h30': missing unit after the "
                         "last number (use d, h, m or s)");
    check_interval_error("367d", "interval '367d': over 366 days");
    check_interval_error("31622401", "interval '31622401': over 366 days");
    check_interval_error("9999999999999999999999s", "interval "
                         "'9999999999999999999999s': over 366 days");
    check_interval_error("0.0001", "interval '0.0001': below 1 ms");
    check_interval_error("5.", "interval '5.': unknown unit '.' (use d, h, m "
                         "or s)");
}

int main(void)
{
    test_syntax();
    test_errors();
    test_berlin();
    test_new_york();
    test_other_transitions();
    test_days();
    test_far();
    test_years();
    test_interval();
    return test_report();
}
