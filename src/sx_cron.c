/*
 * Cron expressions: parsing into bit sets, the next run found by walking
 * the zone's stretches of constant UTC offset and searching each one's
 * wall-clock range day by day (cronie's DST rules at the joins), and the
 * interval strings of fixed-delay jobs.
 */
#include "sx_cron.h"

#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 80 /* how much of the user's text a message quotes */
#define DAY 86400

/* ---- parsing ----------------------------------------------------------- */

struct field {
    const char *name;
    int lo, hi;
    const char *range; /* for messages */
    const char *names; /* 3-letter names from value `base`, or NULL */
    int base;
};

static const struct field fields[5] = {
    { "minute", 0, 59, "0-59", NULL, 0 },
    { "hour", 0, 23, "0-23", NULL, 0 },
    { "day-of-month", 1, 31, "1-31", NULL, 0 },
    { "month", 1, 12, "1-12 or JAN-DEC", "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC",
      1 },
    { "day-of-week", 0, 7, "0-7 or SUN-SAT", "SUNMONTUEWEDTHUFRISAT", 0 },
};

static const struct {
    const char *name, *expr;
} macros[] = {
    { "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" },
    { "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
    { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

/* Where a parse error is reported: the expression and the field. */
struct ctx {
    const char *expr;
    const struct field *f;
    char *err;
    size_t errlen;
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* How much of the text [p, end) a message quotes. */
static int quote_len(const char *p, const char *end)
{
    return end - p < QUOTE_MAX ? (int)(end - p) : QUOTE_MAX;
}

/* "cron 'EXPR': FIELD: " before + 'the text [p, end)' + after; -1. */
static int fail(const struct ctx *x, const char *before, const char *p,
                const char *end, const char *after)
{
    snprintf(x->err, x->errlen, "cron '%.*s': %s: %s'%.*s'%s", QUOTE_MAX,
             x->expr, x->f->name, before, quote_len(p, end), p, after);
    return -1;
}

/*
 * A number or (month, day of week) a name at *p, before end; advances *p.
 * -1 if there is none; numbers saturate at 9999 so they cannot overflow.
 */
static int scan_value(const struct field *f, const char **p, const char *end)
{
    const char *s = *p;
    int v = 0, i;

    if (s < end && is_digit(*s)) {
        for (; s < end && is_digit(*s); s++)
            v = v > 999 ? 9999 : v * 10 + (*s - '0');
        *p = s;
        return v;
    }
    if (!f->names || end - s < 3)
        return -1;
    for (i = 0; f->names[3 * i]; i++)
        if (upper(s[0]) == f->names[3 * i] &&
            upper(s[1]) == f->names[3 * i + 1] &&
            upper(s[2]) == f->names[3 * i + 2]) {
            *p = s + 3;
            return f->base + i;
        }
    return -1;
}

/* Sets the bits of lo..hi every step; day of week 7 is Sunday (0). */
static void set_range(const struct field *f, uint64_t *bits, int lo, int hi,
                      int step)
{
    int v;

    for (v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << (f->hi == 7 && v == 7 ? 0 : v);
}

/* The "/s" at *p, if any, into *step (1 if none); 0 or -1. */
static int scan_step(const struct ctx *x, const char **p, const char *item,
                     const char *end, int *step)
{
    const char *s = *p;
    char max[24];

    *step = 1;
    if (s == end)
        return 0;
    s++; /* the caller saw the '/' */
    snprintf(max, sizeof max, " (1-%d)", x->f->hi);
    if (s == end || !is_digit(*s))
        return fail(x, "bad step in ", item, end, max);
    for (*step = 0; s < end && is_digit(*s); s++)
        *step = *step > 999 ? 9999 : *step * 10 + (*s - '0');
    if (s != end)
        return fail(x, "bad step in ", item, end, max);
    if (*step == 0)
        return fail(x, "step 0 in ", item, end, "");
    if (*step > x->f->hi)
        return fail(x, "bad step in ", item, end, max);
    *p = s;
    return 0;
}

/* One list item [item, end): *, n, a-b, with an optional /step. */
static int parse_item(const struct ctx *x, const char *item, const char *end,
                      uint64_t *bits)
{
    const struct field *f = x->f;
    const char *p = item;
    char range[32];
    int lo = f->lo, hi = f->hi, step;

    snprintf(range, sizeof range, " (%s)", f->range);
    if (p < end && *p == '*') {
        p++;
    } else {
        if ((lo = scan_value(f, &p, end)) < 0)
            return fail(x, "bad value ", item, end, range);
        hi = lo;
        if (p < end && *p == '-') {
            const char *h = ++p;

            if ((hi = scan_value(f, &p, end)) < 0)
                return fail(x, "bad value ", item, end, range);
            if (f->hi == 7 && hi == 0 && lo > 0 && !is_digit(*h))
                hi = 7; /* MON-SUN */
        } else if (p < end && *p == '/') {
            hi = f->hi; /* a/s: from a to the end */
        }
    }
    if (p < end && *p != '/')
        return fail(x, "bad value ", item, end, range);
    if (scan_step(x, &p, item, end, &step) < 0)
        return -1;
    if (lo < f->lo || hi > f->hi || lo > f->hi) {
        snprintf(range, sizeof range, " out of range (%s)", f->range);
        return fail(x, "", item, end, range);
    }
    if (lo > hi)
        return fail(x, "reversed range ", item, end, "");
    set_range(f, bits, lo, hi, step);
    return 0;
}

/* A whole field [p, end): items separated by commas. */
static int parse_field(const struct ctx *x, const char *p, const char *end,
                       uint64_t *bits)
{
    const char *start = p;

    *bits = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;

        if (stop == p)
            return fail(x, "empty item in ", start, end, "");
        if (parse_item(x, p, stop, bits) < 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Splits text into at most 6 blank-separated words; returns the count. */
static int split(const char *s, const char *word[6], const char *wend[6])
{
    int n = 0;

    for (;;) {
        while (is_blank(*s))
            s++;
        if (!*s)
            return n;
        if (n < 6)
            word[n] = s;
        while (*s && !is_blank(*s))
            s++;
        if (n < 6)
            wend[n] = s;
        n++;
    }
}

/* 0 if some (month, day of month) pair exists in the calendar. */
static int check_dates(const struct ctx *x, struct sx_cron *c,
                       const char *word[6], const char *wend[6])
{
    static const int longest[13] = { 0,  31, 29, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31 };
    int m, d;

    if (!(c->flags & (SX_CRON_DOM_STAR | SX_CRON_DOW_STAR)))
        return 0; /* either may match: every month has every weekday */
    for (m = 1; m <= 12; m++)
        for (d = 1; d <= longest[m]; d++)
            if ((c->month >> m & 1) && (c->dom >> d & 1))
                return 0;
    snprintf(x->err, x->errlen, "cron '%.*s': day-of-month: '%.*s' never "
             "occurs in month '%.*s'", QUOTE_MAX, x->expr,
             quote_len(word[2], wend[2]), word[2], quote_len(word[3], wend[3]),
             word[3]);
    return -1;
}

static int parse_fields(struct ctx *x, struct sx_cron *c,
                        const char *word[6], const char *wend[6])
{
    uint64_t bits[5];
    int i;

    memset(c, 0, sizeof *c);
    for (i = 0; i < 5; i++) {
        x->f = &fields[i];
        if (parse_field(x, word[i], wend[i], &bits[i]) < 0)
            return -1;
    }
    c->flags = (*word[0] == '*' ? SX_CRON_MIN_STAR : 0) |
               (*word[1] == '*' ? SX_CRON_HOUR_STAR : 0) |
               (*word[2] == '*' ? SX_CRON_DOM_STAR : 0) |
               (*word[4] == '*' ? SX_CRON_DOW_STAR : 0);
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->month = (uint16_t)bits[3];
    c->dow = (uint8_t)bits[4];
    x->f = &fields[2];
    return check_dates(x, c, word, wend);
}

/* The expansion of a macro word; NULL (and err) if unknown. */
static const char *macro(const struct ctx *x, const char *w, const char *end)
{
    size_t i, len = (size_t)(end - w);

    for (i = 0; i < sizeof macros / sizeof *macros; i++) {
        size_t j;

        if (strlen(macros[i].name) != len)
            continue;
        for (j = 0; j < len && upper(w[j]) == upper(macros[i].name[j]); j++)
            ;
        if (j == len)
            return macros[i].expr;
    }
    snprintf(x->err, x->errlen, "cron '%.*s': unknown macro '%.*s' (use "
             "@yearly, @annually, @monthly, @weekly, @daily, @midnight or "
             "@hourly)", QUOTE_MAX, x->expr, (int)len, w);
    return NULL;
}

int sx_cron_parse(struct sx_cron *c, const char *expr, char *err,
                  size_t errlen)
{
    struct ctx x = { expr, NULL, err, errlen };
    const char *word[6], *wend[6];
    int n = split(expr, word, wend);

    if (n >= 1 && *word[0] == '@') {
        const char *e = macro(&x, word[0], wend[0]);

        if (!e)
            return -1;
        if (n > 1) {
            snprintf(err, errlen, "cron '%.*s': a macro stands alone",
                     QUOTE_MAX, expr);
            return -1;
        }
        n = split(e, word, wend);
    }
    if (n != 5) {
        snprintf(err, errlen, "cron '%.*s': expected 5 fields (minute hour "
                 "day-of-month month day-of-week), got %d", QUOTE_MAX, expr,
                 n);
        return -1;
    }
    return parse_fields(&x, c, word, wend);
}

/* ---- the next run ------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The first value >= from (and <= max) in bits, or -1. */
static int next_bit(uint64_t bits, int from, int max)
{
    for (; from <= max; from++)
        if (bits >> from & 1)
            return from;
    return -1;
}

static int day_matches(const struct sx_cron *c, int64_t days, int dom)
{
    int a = c->dom >> dom & 1, b = c->dow >> sx_tz_weekday(days) & 1;

    if (c->flags & (SX_CRON_DOM_STAR | SX_CRON_DOW_STAR))
        return a && b;
    return a || b;
}

/*
 * The first matching whole minute of wall-clock time in [lo, hi), or
 * INT64_MAX.  Months and days that do not match are skipped whole, then
 * hours, so a search costs at most a few steps per day.
 */
static int64_t wall_next(const struct sx_cron *c, int64_t lo, int64_t hi)
{
    int64_t w = floor_div(lo + 59, 60) * 60, days, y, sod;
    int m, d, h, mi;

    while (w < hi) {
        days = floor_div(w, DAY);
        sod = w - days * DAY;
        sx_tz_civil_from_days(days, &y, &m, &d);
        if (!(c->month >> m & 1)) {
            w = sx_tz_days_from_civil(y + (m == 12), m % 12 + 1, 1) * DAY;
            continue;
        }
        if (!day_matches(c, days, d) ||
            (h = next_bit(c->hour, (int)(sod / 3600), 23)) < 0) {
            w = (days + 1) * DAY;
            continue;
        }
        mi = next_bit(c->minute, h == sod / 3600 ? (int)(sod / 60 % 60) : 0,
                      59);
        if (mi < 0) {
            w = days * DAY + (h + 1) * 3600;
            continue;
        }
        w = days * DAY + h * 3600 + mi * 60;
        return w < hi ? w : INT64_MAX;
    }
    return INT64_MAX;
}

/*
 * The walk goes through the stretches [a, b) of constant offset o, from
 * two days before `after` (folds are shorter) so that a fixed-time job
 * knows the highest wall time already passed (hw): in a repeated hour its
 * second occurrence is skipped.  At a forward jump at b, a fixed-time
 * job's wall times in [b + o, b + o') (the gap) run at b.
 */
int64_t sx_cron_next(const struct sx_cron *c, const struct sx_tz *tz,
                     int64_t after)
{
    int fixed = !(c->flags & (SX_CRON_MIN_STAR | SX_CRON_HOUR_STAR));
    int64_t t0 = after + 1, limit, a, b, lo, w, hw = INT64_MIN;
    int o, o2, last = 0;

    if (after < SX_TZ_TIME_MIN || after >= SX_TZ_TIME_MAX)
        return -1;
    limit = after + (int64_t)SX_CRON_HORIZON_DAYS * DAY;
    if (limit > SX_TZ_TIME_MAX)
        limit = SX_TZ_TIME_MAX;
    a = after - 2 * DAY;
    o = sx_tz_offset(tz, a, NULL);
    while (!last) {
        b = sx_tz_next_transition(tz, a);
        if (b > limit) {
            b = limit + 1;
            last = 1;
        }
        lo = (a > t0 ? a : t0) + o;
        if (fixed && hw > lo)
            lo = hw;
        if ((w = wall_next(c, lo, b + o)) != INT64_MAX)
            return w - o;
        o2 = sx_tz_offset(tz, b, NULL);
        if (fixed && !last) {
            if (b + o > hw)
                hw = b + o;
            if (o2 > o && b >= t0 && wall_next(c, hw, b + o2) != INT64_MAX)
                return b;
        }
        a = b;
        o = o2;
    }
    return -1;
}

/* ---- intervals --------------------------------------------------------- */

/*
 * A decimal number at *p (digits, optional fraction): 0, -1 if there is
 * none, -2 if it has over 12 integer digits (it is too large anyway).
 */
static int scan_number(const char **p, double *v)
{
    const char *s = *p;
    double scale = 1;
    int n = 0;

    for (*v = 0; is_digit(*s); s++, n++)
        *v = *v * 10 + (*s - '0');
    if (*s == '.' && is_digit(s[1]))
        for (s++; is_digit(*s); s++)
            *v += (*s - '0') * (scale /= 10);
    if (s == *p)
        return -1;
    *p = s;
    return n > 12 ? -2 : 0;
}

/*
 * One part at *p: a number alone (seconds; only as the whole string) or a
 * number and a unit, added to *total; *next is the first unit still
 * allowed.  NULL, or what is wrong (in buf if it quotes the unit).
 */
static const char *interval_part(const char **p, int *next, double *total,
                                 char *buf, size_t n)
{
    static const char units[] = "dhms";
    static const double secs[] = { 86400, 3600, 60, 1 };
    const char *u;
    double v;
    int r = scan_number(p, &v);
    char c = **p;

    if (r == -2)
        return "over 366 days";
    if (r < 0)
        return c == '-' || c == '+' ? "must be positive"
             : is_blank(c) ? "no blanks allowed"
             : "expected a number of seconds or parts such as 1h30m";
    if (c == '\0' && *next == 0) {
        *total = v;
        return NULL;
    }
    if (c == '\0')
        return "missing unit after the last number (use d, h, m or s)";
    if (!(u = strchr(units, c))) {
        snprintf(buf, n, "unknown unit '%c' (use d, h, m or s)", c);
        return buf;
    }
    if (u - units < *next)
        return "units go d, h, m, s, each at most once";
    *next = (int)(u - units) + 1;
    *total += v * secs[u - units];
    (*p)++;
    return NULL;
}

int sx_cron_interval(const char *s, double *seconds, char *err,
                     size_t errlen)
{
    const char *p = s, *why = NULL;
    char buf[64];
    double total = 0;
    int next = 0;

    while (*p && !why)
        why = interval_part(&p, &next, &total, buf, sizeof buf);
    if (!why && !(total > 0))
        why = *s ? "must be positive" : "empty";
    else if (!why && total < SX_CRON_INTERVAL_MIN)
        why = "below 1 ms";
    else if (!why && total > SX_CRON_INTERVAL_MAX)
        why = "over 366 days";
    if (why) {
        snprintf(err, errlen, "interval '%.*s': %s", QUOTE_MAX, s, why);
        return -1;
    }
    *seconds = total;
    return 0;
}
