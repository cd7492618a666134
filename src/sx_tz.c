/*
 * Time zones read straight from the tz database: a zone is its transition
 * table (from a TZif file) plus an optional POSIX rule for the instants
 * after the table (the file's footer, or all of $TZ).  No TZ variable is
 * set and no libc time-zone function is called, so zones can coexist.
 */
#include "sx_tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TYPES_MAX 256          /* TZif's limit on local time types */
#define FILE_MAX (256 * 1024)  /* real zone files are under 4 KiB */
#define FOOTER_MAX 512         /* the longest footer TZ string read */
#define OFFSET_MAX (26 * 3600) /* |UT offset| accepted (RFC 8536: <25h) */
#define RULE_HOURS_MAX 167     /* TZif v3: rule times up to 167h */
#define QUOTE_MAX 60           /* how much of a name a message quotes */
#define DAY 86400

struct ttype {
    int32_t off;         /* seconds east of UTC */
    unsigned char isdst;
};

/* When a POSIX rule switches, in one year: a day and a local time. */
struct rule_date {
    char kind;        /* 'J': Jn (1-365, no Feb 29); 'D': n (0-365); 'M' */
    int n;            /* J and D */
    int month, week, wday; /* Mm.w.d */
    int32_t secs;     /* local time of day, -167h to 167h */
};

struct rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    struct rule_date start, end; /* DST starts (in std), ends (in dst) */
};

struct sx_tz {
    char name[SX_TZ_NAME_MAX + 1];
    int has_rule;          /* rule applies from the last transition on */
    struct rule rule;
    uint32_t ntrans, ntypes;
    struct ttype types[TYPES_MAX];
    int64_t *trans;        /* ntrans ascending instants */
    unsigned char *idx;    /* their types; same block as trans */
};

/* ---- calendar ---------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Counting years from March makes February the last month, so the leap
 * day falls at the end of a year and month lengths from March on follow
 * (153 * m + 2) / 5.  An era is the 400-year Gregorian cycle (146097 days);
 * 719468 is the day number of 1970-01-01 counted from 0000-03-01.
 */
int64_t sx_tz_days_from_civil(int64_t y, int m, int d)
{
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = floor_div(yy, 400);
    int64_t yoe = yy - era * 400;
    int64_t mar = m > 2 ? m - 3 : m + 9; /* months since March */
    int64_t doy = (153 * mar + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

void sx_tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mar = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mar + 2) / 5 + 1);
    *m = (int)(mar < 10 ? mar + 3 : mar - 9);
    *y = era * 400 + yoe + (*m <= 2);
}

int sx_tz_weekday(int64_t days)
{
    return (int)(days - floor_div(days + 4, 7) * 7 + 4); /* 1970: Thu */
}

int sx_tz_month_days(int64_t y, int m)
{
    static const unsigned char len[12] = { 31, 28, 31, 30, 31, 30,
                                           31, 31, 30, 31, 30, 31 };

    if (m < 1 || m > 12)
        return 0;
    return len[m - 1] + (m == 2 && is_leap(y));
}

static int64_t clamp_time(int64_t t)
{
    return t < SX_TZ_TIME_MIN ? SX_TZ_TIME_MIN
         : t > SX_TZ_TIME_MAX ? SX_TZ_TIME_MAX : t;
}

/* ---- POSIX TZ strings -------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* 1 to max digits at s into *v; NULL if none. */
static const char *scan_digits(const char *s, int max, int *v)
{
    int n = 0;

    *v = 0;
    while (n < max && is_digit(s[n]))
        *v = *v * 10 + (s[n++] - '0');
    return n > 0 ? s + n : NULL;
}

/* A zone abbreviation: 3 or more letters, or <...> of [A-Za-z0-9+-]. */
static const char *posix_name(const char *s)
{
    const char *p = s;

    if (*p == '<') {
        for (p++; is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-';)
            p++;
        return *p == '>' && p - s - 1 >= 3 ? p + 1 : NULL;
    }
    while (is_alpha(*p))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]h[h[h]][:mm[:ss]], hours at most maxh, into signed *secs. */
static const char *posix_hms(const char *s, int maxh, int32_t *secs)
{
    int sign = 1, h, m = 0, sec = 0;

    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!(s = scan_digits(s, 3, &h)) || h > maxh)
        return NULL;
    if (*s == ':') {
        if (!(s = scan_digits(s + 1, 2, &m)) || m > 59)
            return NULL;
        if (*s == ':' && (!(s = scan_digits(s + 1, 2, &sec)) || sec > 59))
            return NULL;
    }
    *secs = sign * (h * 3600 + m * 60 + sec);
    return s;
}

/* Mm.w.d after the 'M'. */
static const char *posix_mwd(const char *s, struct rule_date *d)
{
    d->kind = 'M';
    if (!(s = scan_digits(s, 2, &d->month)) || d->month < 1 ||
        d->month > 12 || *s != '.')
        return NULL;
    if (!(s = scan_digits(s + 1, 1, &d->week)) || d->week < 1 ||
        d->week > 5 || *s != '.')
        return NULL;
    if (!(s = scan_digits(s + 1, 1, &d->wday)) || d->wday > 6)
        return NULL;
    return s;
}

/* date[/time]: Jn, n or Mm.w.d; the time defaults to 02:00. */
static const char *posix_date(const char *s, struct rule_date *d)
{
    if (*s == 'M') {
        s = posix_mwd(s + 1, d);
    } else if (*s == 'J') {
        d->kind = 'J';
        s = scan_digits(s + 1, 3, &d->n);
        if (s && (d->n < 1 || d->n > 365))
            s = NULL;
    } else {
        d->kind = 'D';
        s = scan_digits(s, 3, &d->n);
        if (s && d->n > 365)
            s = NULL;
    }
    d->secs = 2 * 3600;
    if (s && *s == '/')
        s = posix_hms(s + 1, RULE_HOURS_MAX, &d->secs);
    return s;
}

static void default_us_rule(struct rule *r)
{
    r->start = (struct rule_date){ 'M', 0, 3, 2, 0, 2 * 3600 };
    r->end = (struct rule_date){ 'M', 0, 11, 1, 0, 2 * 3600 };
}

/* std offset [dst [offset] [,start[/time],end[/time]]]; 0 or -1. */
static int posix_parse(const char *s, struct rule *r)
{
    int32_t off;

    memset(r, 0, sizeof *r);
    if (!(s = posix_name(s)) || !(s = posix_hms(s, 24, &off)))
        return -1;
    r->std_off = r->dst_off = -off; /* POSIX counts west of UTC */
    if (*s == '\0')
        return 0;
    if (!(s = posix_name(s)))
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*s != '\0' && *s != ',') {
        if (!(s = posix_hms(s, 24, &off)))
            return -1;
        r->dst_off = -off;
    }
    if (*s == '\0') {
        default_us_rule(r);
        return 0;
    }
    if (*s != ',' || !(s = posix_date(s + 1, &r->start)) || *s != ',' ||
        !(s = posix_date(s + 1, &r->end)))
        return -1;
    return *s == '\0' ? 0 : -1;
}

/* ---- POSIX rule evaluation --------------------------------------------- */

/* The day (since 1970) on which d falls in year y. */
static int64_t rule_day(const struct rule_date *d, int64_t y)
{
    int64_t first, day;

    if (d->kind == 'J')
        return sx_tz_days_from_civil(y, 1, 1) + d->n - 1 +
               (is_leap(y) && d->n >= 60);
    if (d->kind == 'D')
        return sx_tz_days_from_civil(y, 1, 1) + d->n;
    first = sx_tz_days_from_civil(y, d->month, 1);
    day = first + (d->wday - sx_tz_weekday(first) + 7) % 7 +
          7 * (d->week - 1);
    while (day >= first + sx_tz_month_days(y, d->month))
        day -= 7; /* week 5: the last one */
    return day;
}

struct event {
    int64_t at;
    int dst; /* the state from `at` on */
};

#define EVENT_YEARS 4

/*
 * The rule's switches in years y-2 .. y+1, in order.  At equal instants
 * the end of DST sorts first, so "J365/25" style rules (DST all year:
 * one year's end meets the next one's start) stay in DST.
 */
static void rule_events(const struct rule *r, int64_t y, struct event *ev)
{
    int i, j, n = 0;

    for (i = 0; i < EVENT_YEARS; i++) {
        int64_t yy = y - 2 + i;

        ev[n++] = (struct event){
            rule_day(&r->start, yy) * DAY + r->start.secs - r->std_off, 1 };
        ev[n++] = (struct event){
            rule_day(&r->end, yy) * DAY + r->end.secs - r->dst_off, 0 };
    }
    for (i = 1; i < n; i++) {
        struct event e = ev[i];

        for (j = i; j > 0 && (ev[j - 1].at > e.at ||
                              (ev[j - 1].at == e.at && ev[j - 1].dst > e.dst));
             j--)
            ev[j] = ev[j - 1];
        ev[j] = e;
    }
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;

    sx_tz_civil_from_days(floor_div(t, DAY), &y, &m, &d);
    return y;
}

/* 1 if the rule has DST in force at t. */
static int rule_isdst(const struct rule *r, int64_t t)
{
    struct event ev[2 * EVENT_YEARS];
    int i, dst = 0;

    if (!r->has_dst)
        return 0;
    rule_events(r, year_of(t + r->std_off), ev);
    for (i = 0; i < 2 * EVENT_YEARS && ev[i].at <= t; i++)
        dst = ev[i].dst;
    return dst;
}

/* The first switch after t, or INT64_MAX. */
static int64_t rule_next(const struct rule *r, int64_t t)
{
    struct event ev[2 * EVENT_YEARS];
    int i;

    if (!r->has_dst)
        return INT64_MAX;
    rule_events(r, year_of(t + r->std_off) + 1, ev);
    for (i = 0; i < 2 * EVENT_YEARS; i++)
        if (ev[i].at > t)
            return ev[i].at;
    return INT64_MAX;
}

/* ---- lookups ----------------------------------------------------------- */

/* The index of the last transition at or before t; -1 if none. */
static int64_t last_at_or_before(const struct sx_tz *tz, int64_t t)
{
    int64_t lo = 0, hi = tz->ntrans; /* answer + 1 in [lo, hi] */

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;

        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* 1 if t falls in the table, before its last transition. */
static int in_table(const struct sx_tz *tz, int64_t t)
{
    return tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1];
}

int sx_tz_offset(const struct sx_tz *tz, int64_t utc, int *isdst)
{
    const struct ttype *ty = &tz->types[0];
    int dst;

    utc = clamp_time(utc);
    if (!in_table(tz, utc) && tz->has_rule) {
        dst = rule_isdst(&tz->rule, utc);
        if (isdst)
            *isdst = dst;
        return dst ? tz->rule.dst_off : tz->rule.std_off;
    }
    if (tz->ntrans > 0) {
        int64_t i = last_at_or_before(tz, utc);

        if (i >= 0)
            ty = &tz->types[tz->idx[i]];
    }
    if (isdst)
        *isdst = ty->isdst;
    return ty->off;
}

int64_t sx_tz_next_transition(const struct sx_tz *tz, int64_t t)
{
    if (in_table(tz, t))
        return tz->trans[last_at_or_before(tz, t) + 1];
    if (tz->has_rule)
        return rule_next(&tz->rule, t);
    return INT64_MAX;
}

/*
 * Walks the stretches of constant offset around wall (offsets are under
 * 26 h, so every solution lies within 27 h of it): each stretch [a, b)
 * with offset o holds the solution wall - o if it falls inside.  A wall
 * time between b + o and b + o' (a forward jump at b) is in a gap.
 */
int sx_tz_resolve(const struct sx_tz *tz, int64_t wall, int64_t utc[2])
{
    int64_t a, b, end, gap = INT64_MIN;
    int n = 0, o, o2;

    wall = clamp_time(wall);
    a = wall - (OFFSET_MAX + 3600);
    end = wall + OFFSET_MAX + 3600;
    o = sx_tz_offset(tz, a, NULL);
    for (;;) {
        b = sx_tz_next_transition(tz, a);
        if (wall - o >= a && wall - o < b && n < 2)
            utc[n++] = wall - o;
        if (b > end)
            break;
        o2 = sx_tz_offset(tz, b, NULL);
        if (gap == INT64_MIN && wall >= b + o && wall < b + o2)
            gap = b;
        a = b;
        o = o2;
    }
    if (n == 0)
        utc[0] = gap != INT64_MIN ? gap : wall - o;
    return n;
}

size_t sx_tz_format(const struct sx_tz *tz, int64_t utc, char *buf,
                    size_t n)
{
    int off, a, m, d, r;
    int64_t wall, days, sod, y;
    char secs[4] = "";

    utc = clamp_time(utc);
    off = sx_tz_offset(tz, utc, NULL);
    wall = utc + off;
    days = floor_div(wall, DAY);
    sod = wall - days * DAY;
    sx_tz_civil_from_days(days, &y, &m, &d);
    a = off < 0 ? -off : off;
    if (a % 60 != 0)
        snprintf(secs, sizeof secs, ":%02d", a % 60);
    r = snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d%s",
                 (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
                 (int)(sod % 60), off < 0 ? '-' : '+', a / 3600, a / 60 % 60,
                 secs);
    return r > 0 ? (size_t)r : 0;
}

/* ---- TZif files (RFC 8536) --------------------------------------------- */

#define TZIF_HEADER 44

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chr;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The counts of the header at p: NULL, or why it is not a header. */
static const char *tzif_header(const unsigned char *p, size_t left,
                               struct tzif_counts *c)
{
    if (left < TZIF_HEADER)
        return "truncated header";
    if (memcmp(p, "TZif", 4) != 0)
        return "not a TZif file";
    if (p[4] != 0 && (p[4] < '2' || p[4] > '4'))
        return "unsupported version";
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chr = be32(p + 40);
    return NULL;
}

/* The counts of the block we read (a v2+ file's v1 block is skipped). */
static const char *tzif_counts_ok(const struct tzif_counts *c)
{
    if (c->type < 1 || c->type > TYPES_MAX || c->chr < 1 ||
        (c->isstd != 0 && c->isstd != c->type) ||
        (c->isut != 0 && c->isut != c->type))
        return "bad counts";
    return NULL;
}

/* Bytes of the data block after a header; tsize is 4 (v1) or 8. */
static uint64_t tzif_block_size(const struct tzif_counts *c, unsigned tsize)
{
    return (uint64_t)c->time * (tsize + 1) + (uint64_t)c->type * 6 +
           c->chr + (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static const char *tzif_types(struct sx_tz *tz, const unsigned char *p,
                              const struct tzif_counts *c)
{
    uint32_t i;

    for (i = 0; i < c->type; i++, p += 6) {
        int32_t off = (int32_t)be32(p);

        if (off < -OFFSET_MAX || off > OFFSET_MAX)
            return "bad UT offset";
        if (p[4] > 1 || p[5] >= c->chr)
            return "bad local time type";
        tz->types[i] = (struct ttype){ off, p[4] };
    }
    tz->ntypes = c->type;
    return NULL;
}

/* The transitions and types of the block at p (size checked). */
static const char *tzif_block(struct sx_tz *tz, const unsigned char *p,
                              const struct tzif_counts *c, unsigned tsize)
{
    const char *why = tzif_counts_ok(c);
    uint32_t i;

    if (why)
        return why;
    if (c->leap != 0)
        return "leap-second zones are not supported";
    if (c->time > 0) {
        tz->trans = malloc((size_t)c->time * (sizeof(int64_t) + 1));
        if (!tz->trans)
            return "out of memory";
        tz->idx = (unsigned char *)(tz->trans + c->time);
    }
    for (i = 0; i < c->time; i++, p += tsize) {
        tz->trans[i] = tsize == 4 ? (int32_t)be32(p) : be64(p);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return "transitions out of order";
    }
    tz->ntrans = c->time;
    for (i = 0; i < c->time; i++, p++) {
        if (*p >= c->type)
            return "bad type index";
        tz->idx[i] = *p;
    }
    return tzif_types(tz, p, c);
}

/* "\nTZ\n" at p: the rule for instants after the table. */
static const char *tzif_footer(struct sx_tz *tz, const unsigned char *p,
                               size_t left)
{
    char s[FOOTER_MAX + 1];
    const unsigned char *nl;
    size_t len;

    if (left < 2 || p[0] != '\n')
        return "truncated footer";
    nl = memchr(p + 1, '\n', left - 1 < FOOTER_MAX + 1 ? left - 1
                                                        : FOOTER_MAX + 1);
    if (!nl)
        return "truncated footer";
    len = (size_t)(nl - (p + 1));
    if (memchr(p + 1, '\0', len))
        return "bad footer";
    if (len == 0)
        return NULL; /* no rule: the last type stays */
    memcpy(s, p + 1, len);
    s[len] = '\0';
    if (posix_parse(s, &tz->rule) < 0)
        return "bad TZ string in the footer";
    tz->has_rule = 1;
    return NULL;
}

/* Fills tz from a whole file; NULL, or what is wrong with it. */
static const char *tzif_parse(struct sx_tz *tz, const unsigned char *p,
                              size_t n)
{
    struct tzif_counts c;
    const char *why = tzif_header(p, n, &c);
    uint64_t size;
    size_t at;

    if (why)
        return why;
    size = tzif_block_size(&c, 4);
    if (size > n - TZIF_HEADER)
        return "truncated data";
    if (p[4] == 0)
        return tzif_block(tz, p + TZIF_HEADER, &c, 4);
    at = TZIF_HEADER + (size_t)size; /* skip the 32-bit data */
    if ((why = tzif_header(p + at, n - at, &c)))
        return why;
    at += TZIF_HEADER;
    size = tzif_block_size(&c, 8);
    if (size > n - at)
        return "truncated data";
    if ((why = tzif_block(tz, p + at, &c, 8)))
        return why;
    at += (size_t)size;
    return tzif_footer(tz, p + at, n - at);
}

/* ---- opening ----------------------------------------------------------- */

/* A zone named name, UTC until filled in; NULL and err if out of memory. */
static struct sx_tz *tz_new(const char *name, char *err, size_t errlen)
{
    struct sx_tz *tz = calloc(1, sizeof *tz);

    if (!tz) {
        snprintf(err, errlen, "time zone '%.*s': out of memory", QUOTE_MAX,
                 name);
        return NULL;
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    tz->ntypes = 1;
    return tz;
}

void sx_tz_close(struct sx_tz *tz)
{
    if (tz) {
        free(tz->trans);
        free(tz);
    }
}

const char *sx_tz_name(const struct sx_tz *tz)
{
    return tz->name;
}

static int is_utc_name(const char *name)
{
    return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 ||
           strcmp(name, "GMT") == 0;
}

/* 0 if name is a safe relative path of allowed characters. */
static int name_ok(const char *name)
{
    size_t i, len = strlen(name);

    if (len == 0 || len > SX_TZ_NAME_MAX || name[0] == '/' ||
        strstr(name, ".."))
        return 0;
    for (i = 0; i < len; i++) {
        char ch = name[i];

        if (!is_alpha(ch) && !is_digit(ch) && !strchr("_+-/", ch))
            return 0;
    }
    return 1;
}

/*
 * The whole regular file at path into a new buffer; NULL and *errnum on
 * failure.  Opened non-blocking so a FIFO cannot hang us; anything but a
 * regular file counts as missing (ENOENT).
 */
static unsigned char *read_file(const char *path, size_t *len, int *errnum)
{
    struct stat st;
    unsigned char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    ssize_t r = 0;

    *len = 0;
    if (fd < 0) {
        *errnum = errno;
        return NULL;
    }
    if (fstat(fd, &st) < 0)
        *errnum = errno;
    else if (!S_ISREG(st.st_mode))
        *errnum = ENOENT;
    else if (st.st_size > FILE_MAX)
        *errnum = EFBIG;
    else if (!(buf = malloc((size_t)st.st_size + 1)))
        *errnum = ENOMEM;
    if (!buf)
        goto err;
    while (*len < (size_t)st.st_size &&
           (r = read(fd, buf + *len, (size_t)st.st_size - *len)) > 0)
        *len += (size_t)r;
    if (r < 0) {
        *errnum = errno;
        goto err;
    }
    close(fd);
    return buf;
err:
    free(buf);
    close(fd);
    return NULL;
}

/*
 * The zone in the file at path, named name.  *missing (if not NULL) is set
 * instead of an error when there is no such file.
 */
static struct sx_tz *open_file(const char *path, const char *name,
                               int *missing, char *err, size_t errlen)
{
    int errnum = 0;
    size_t len;
    unsigned char *data = read_file(path, &len, &errnum);
    struct sx_tz *tz = NULL;
    const char *why;

    if (!data) {
        if (errnum == ENOENT || errnum == ENOTDIR || errnum == EISDIR) {
            if (missing) {
                *missing = 1;
                return NULL;
            }
            snprintf(err, errlen, "unknown time zone '%.*s'", QUOTE_MAX, name);
        } else {
            snprintf(err, errlen, "time zone '%.*s': %s: %s", QUOTE_MAX, name,
                     path, strerror(errnum));
        }
        return NULL;
    }
    if ((tz = tz_new(name, err, errlen)) && (why = tzif_parse(tz, data, len))) {
        snprintf(err, errlen, "time zone '%.*s': %s: %s", QUOTE_MAX, name,
                 path, why);
        sx_tz_close(tz);
        tz = NULL;
    }
    free(data);
    return tz;
}

/* A zone by its name under $TZDIR (checked by the caller). */
static struct sx_tz *open_named(const char *name, int *missing, char *err,
                                size_t errlen)
{
    const char *dir = getenv("TZDIR");
    char path[4096];

    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
        sizeof path) {
        snprintf(err, errlen, "time zone '%.*s': path too long", QUOTE_MAX,
                 name);
        return NULL;
    }
    return open_file(path, name, missing, err, errlen);
}

static struct sx_tz *open_posix(const char *s, char *err, size_t errlen)
{
    struct sx_tz *tz = tz_new(s, err, errlen);

    if (!tz)
        return NULL;
    tz->has_rule = 1;
    if (posix_parse(s, &tz->rule) < 0) {
        snprintf(err, errlen, "unknown time zone '%.*s' (from $TZ)",
                 QUOTE_MAX, s);
        sx_tz_close(tz);
        return NULL;
    }
    tz->types[0].off = tz->rule.std_off;
    return tz;
}

/*
 * $TZ: "" is UTC; ":x" is a file only; otherwise a file (a zone name, or
 * an absolute path), and failing that a POSIX TZ string, as glibc does.
 */
static struct sx_tz *open_env(const char *e, char *err, size_t errlen)
{
    int colon = *e == ':', missing = 0;
    struct sx_tz *tz = NULL;

    e += colon;
    if (strlen(e) > SX_TZ_NAME_MAX) {
        snprintf(err, errlen, "time zone '%.*s...' (from $TZ): name too long",
                 QUOTE_MAX, e);
        return NULL;
    }
    if (*e == '\0' || is_utc_name(e))
        return tz_new(*e ? e : "UTC", err, errlen);
    if (*e == '/')
        tz = open_file(e, e, &missing, err, errlen);
    else if (name_ok(e))
        tz = open_named(e, &missing, err, errlen);
    else
        missing = 1;
    if (tz || !missing)
        return tz;
    if (colon) {
        snprintf(err, errlen, "unknown time zone '%.*s' (from $TZ)",
                 QUOTE_MAX, e);
        return NULL;
    }
    return open_posix(e, err, errlen);
}

/* /etc/localtime, named after the zone its symbolic link points to. */
static struct sx_tz *open_localtime(char *err, size_t errlen)
{
    char link[4096], name[SX_TZ_NAME_MAX + 1] = "local";
    ssize_t r = readlink("/etc/localtime", link, sizeof link - 1);
    int missing = 0;
    struct sx_tz *tz;

    if (r > 0) {
        const char *z;

        link[r] = '\0';
        if ((z = strstr(link, "zoneinfo/")) && name_ok(z + 9))
            snprintf(name, sizeof name, "%s", z + 9);
    }
    tz = open_file("/etc/localtime", name, &missing, err, errlen);
    if (!tz && missing)
        tz = tz_new("UTC", err, errlen);
    return tz;
}

struct sx_tz *sx_tz_open(const char *name, char *err, size_t errlen)
{
    const char *e;
    struct sx_tz *tz;

    if (!name || strcmp(name, "local") == 0) {
        e = getenv("TZ");
        tz = e ? open_env(e, err, errlen) : open_localtime(err, errlen);
    } else if (is_utc_name(name)) {
        tz = tz_new(name, err, errlen);
    } else if (!name_ok(name)) {
        snprintf(err, errlen, "bad time zone name '%.*s': letters, digits "
                 "and _ + - / only, no leading '/' or '..'", QUOTE_MAX, name);
        return NULL;
    } else {
        tz = open_named(name, NULL, err, errlen);
    }
    return tz;
}
