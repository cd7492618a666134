/*
 * Structured event log: each event becomes one logfmt or JSON line, built
 * whole in a buffer and written with a single fwrite + fflush (or handed
 * whole to the writer a program installed) so lines from different call
 * sites never interleave.
 */
#include "sx_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sx_buf.h"
#include "sx_json.h"

#define SX_LOG_LINE_MAX ((size_t)256 << 10)
#define SX_LOG_TS_SIZE 96 /* room for any int fields, keeps gcc quiet */

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static struct {
    enum sx_log_level min;
    int json;
    FILE *out; /* NULL means stderr */
    int erase; /* start each line by erasing a progress line */
} log_cfg = { SX_LOG_INFO, 0, NULL, 0 };

static struct {
    void (*fn)(void *ud, FILE *out, const char *s, size_t n);
    void *ud;
} log_writer;

void sx_log_setup(enum sx_log_level min, int json, FILE *out)
{
    log_cfg.min = min;
    log_cfg.json = json;
    log_cfg.out = out;
}

void sx_log_erase_line(FILE *f)
{
    if (log_cfg.erase)
        fputs("\r\033[K", f);
}

void sx_log_set_erase(int on)
{
    log_cfg.erase = on != 0;
}

int sx_log_enabled(enum sx_log_level lvl)
{
    return lvl >= log_cfg.min;
}

enum sx_log_level sx_log_min(void) { return log_cfg.min; }

int sx_log_json(void) { return log_cfg.json; }

int sx_log_level_parse(const char *s)
{
    int i;

    for (i = 0; s != NULL && i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int sx_log_format_parse(const char *s)
{
    if (s != NULL && strcmp(s, "text") == 0)
        return 0;
    if (s != NULL && strcmp(s, "json") == 0)
        return 1;
    return -1;
}

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* 2026-11-28T18:14:41.123Z into ts (at least SX_LOG_TS_SIZE bytes) */
static void log_timestamp(char *ts, size_t n)
{
    struct timespec now = { 0, 0 };
    struct tm tm;
    int ms;

    clock_gettime(CLOCK_REALTIME, &now);
    if (gmtime_r(&now.tv_sec, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    ms = (int)(now.tv_nsec / 1000000 % 1000);
    snprintf(ts, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ms);
}

/* s as a JSON string body: escaped, invalid UTF-8 replaced (sx_json). */
static int json_escape(struct sx_buf *b, const char *s)
{
    return sx_json_escape(b, s, strlen(s));
}

/* Skips one run of digits; 0 if there was none. */
static int skip_digits(const char **p)
{
    const char *s = *p;

    while (**p >= '0' && **p <= '9')
        (*p)++;
    return *p != s;
}

/* 1 if s is exactly a JSON number, per the RFC 8259 grammar. */
static int json_is_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (!skip_digits(&s))
        return 0;
    if (*s == '.') {
        s++;
        if (!skip_digits(&s))
            return 0;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!skip_digits(&s))
            return 0;
    }
    return *s == '\0';
}

/*
 * A raw value is written bare only if it is valid JSON as it stands;
 * anything else ("nan", "", "1e") is quoted so the line stays parseable.
 */
static int json_value(struct sx_buf *b, const char *v, int raw)
{
    if (raw && (json_is_number(v) || strcmp(v, "true") == 0 ||
                strcmp(v, "false") == 0 || strcmp(v, "null") == 0))
        return sx_buf_addstr(b, v);
    if (sx_buf_add(b, "\"", 1) < 0 || json_escape(b, v) < 0)
        return -1;
    return sx_buf_add(b, "\"", 1);
}

static int json_pair(struct sx_buf *b, const char *k, const char *v,
                     int raw)
{
    if (sx_buf_add(b, ",\"", 2) < 0 || json_escape(b, k) < 0 ||
        sx_buf_add(b, "\":", 2) < 0)
        return -1;
    return json_value(b, v, raw);
}

static int logfmt_needs_quotes(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (*p == '\0')
        return 1;
    for (; *p != '\0'; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || is_ctl(*p))
            return 1;
    return 0;
}

static int logfmt_quoted(struct sx_buf *b, const char *s)
{
    const unsigned char *p;
    int rc = sx_buf_add(b, "\"", 1);

    for (p = (const unsigned char *)s; *p != '\0' && rc == 0; p++) {
        if (*p == '"' || *p == '\\')
            rc = sx_buf_addf(b, "\\%c", *p);
        else if (*p == '\n')
            rc = sx_buf_add(b, "\\n", 2);
        else if (*p == '\r')
            rc = sx_buf_add(b, "\\r", 2);
        else if (*p == '\t')
            rc = sx_buf_add(b, "\\t", 2);
        else if (is_ctl(*p))
            rc = sx_buf_addf(b, "\\u%04X", *p);
        else
            rc = sx_buf_add(b, p, 1);
    }
    return rc < 0 ? -1 : sx_buf_add(b, "\"", 1);
}

/* Keys cannot be quoted in logfmt: characters that would break it -> '_' */
static int logfmt_key(struct sx_buf *b, const char *k)
{
    const unsigned char *p;
    int rc = 0;

    for (p = (const unsigned char *)k; *p != '\0' && rc == 0; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || is_ctl(*p))
            rc = sx_buf_add(b, "_", 1);
        else
            rc = sx_buf_add(b, p, 1);
    }
    return rc;
}

static int logfmt_pair(struct sx_buf *b, const char *k, const char *v)
{
    if (sx_buf_add(b, " ", 1) < 0 || logfmt_key(b, k) < 0 ||
        sx_buf_add(b, "=", 1) < 0)
        return -1;
    if (logfmt_needs_quotes(v))
        return logfmt_quoted(b, v);
    return sx_buf_addstr(b, v);
}

static int log_pair(struct sx_buf *b, const char *k, const char *v, int raw)
{
    return log_cfg.json ? json_pair(b, k, v, raw) : logfmt_pair(b, k, v);
}

/*
 * The whole line, newline included (after the erase sequence, when a
 * progress line may be showing); -1 if it would pass the cap.
 */
static int log_build(struct sx_buf *b, const char *ts, const char *lvl,
                     const char *event, const struct sx_log_field *fields,
                     int n)
{
    int i;

    if (log_cfg.erase && sx_buf_add(b, "\r\033[K", 4) < 0)
        return -1;
    if (log_cfg.json) {
        if (sx_buf_add(b, "{\"ts\":\"", 7) < 0 || sx_buf_addstr(b, ts) < 0 ||
            sx_buf_add(b, "\"", 1) < 0)
            return -1;
    } else if (sx_buf_add(b, "ts=", 3) < 0 || sx_buf_addstr(b, ts) < 0) {
        return -1;
    }
    if (log_pair(b, "level", lvl, 0) < 0 ||
        log_pair(b, "event", event, 0) < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (fields[i].key != NULL && fields[i].value != NULL &&
            log_pair(b, fields[i].key, fields[i].value, fields[i].raw) < 0)
            return -1;
    if (log_cfg.json && sx_buf_add(b, "}", 1) < 0)
        return -1;
    return sx_buf_add(b, "\n", 1);
}

/*
 * A line over SX_LOG_LINE_MAX (or out of memory) is replaced by a short
 * line without the fields (and, if the event name itself is the problem,
 * without that too), so an event is never dropped silently.  -1 only if
 * even that fails; b then holds no complete line.
 */
static int log_line(struct sx_buf *b, const char *ts, const char *lvl,
                    const char *event, const struct sx_log_field *fields,
                    int n)
{
    static const struct sx_log_field too_long[] = {
        { "log_error", "line too long", 0 }
    };

    if (log_build(b, ts, lvl, event, fields, n) == 0)
        return 0;
    sx_buf_reset(b);
    if (log_build(b, ts, lvl, event, too_long, 1) == 0)
        return 0;
    sx_buf_reset(b);
    return log_build(b, ts, lvl, "log.overflow", too_long, 1);
}

void sx_log_set_writer(void (*fn)(void *ud, FILE *out, const char *s,
                                  size_t n),
                       void *ud)
{
    log_writer.fn = fn;
    log_writer.ud = ud;
}

void sx_log_write(FILE *out, const char *s, size_t n)
{
    if (log_writer.fn != NULL) {
        log_writer.fn(log_writer.ud, out, s, n);
        return;
    }
    fwrite(s, 1, n, out);
    fflush(out);
}

void sx_log(enum sx_log_level lvl, const char *event,
            const struct sx_log_field *fields, int n)
{
    FILE *out = log_cfg.out != NULL ? log_cfg.out : stderr;
    const char *name;
    struct sx_buf b;
    char ts[SX_LOG_TS_SIZE];

    if (!sx_log_enabled(lvl))
        return;
    name = (unsigned)lvl < 4 ? level_names[lvl] : "error";
    log_timestamp(ts, sizeof(ts));
    sx_buf_init(&b, SX_LOG_LINE_MAX);
    if (log_line(&b, ts, name, event ? event : "", fields, n) == 0)
        sx_log_write(out, b.data, b.len);
    sx_buf_free(&b);
}
