/*
 * Unit tests for sx_log: exact logfmt and JSON lines (quoting, escaping,
 * raw values, skipped fields, invalid UTF-8 in JSON), the timestamp,
 * level filtering, the level/format parsers, the stderr default and the
 * erasing of a progress line, the writer hook.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sx_log.h"
#include "testhelp.h"

#define TS_LEN 24 /* 2026-11-28T18:14:41.123Z */

/* Logs one event into memory at level lvl; returns the malloc'd output. */
static char *capture(int json, enum sx_log_level lvl, const char *event,
                     const struct sx_log_field *f, int n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    sx_log_setup(SX_LOG_DEBUG, json, fp);
    sx_log(lvl, event, f, n);
    sx_log_setup(SX_LOG_INFO, 0, NULL);
    fclose(fp);
    return out;
}

/* The pattern and a value within a minute of the clock. */
static int ts_ok(const char *s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    struct tm tm;
    time_t t;
    int i;

    for (i = 0; i < TS_LEN; i++)
        if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i])
            return 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    return t > time(NULL) - 60 && t < time(NULL) + 60;
}

/* logfmt line: "ts=" TS then exactly rest. */
static int text_is(const char *got, const char *rest)
{
    return got != NULL && strncmp(got, "ts=", 3) == 0 && ts_ok(got + 3) &&
           strcmp(got + 3 + TS_LEN, rest) == 0;
}

/* JSON line: {"ts":"TS" then exactly rest. */
static int json_is(const char *got, const char *rest)
{
    return got != NULL && strncmp(got, "{\"ts\":\"", 7) == 0 &&
           ts_ok(got + 7) && strcmp(got + 7 + TS_LEN, rest) == 0;
}

static const struct sx_log_field fields[] = {
    { "path", "/v2/x", 0 },
    { "attempt", "2", 1 },
    { "msg", "rate limited", 0 },
    { "skip", NULL, 0 },
    { "empty", "", 0 },
    { "q", "a\"b\\c=d", 0 },
    { "ctl", "x\ny\x01\t", 0 },
    { "bs", "C:\\x", 0 },
    { "utf8", "caf\xc3\xa9", 0 },
};
#define NFIELDS ((int)(sizeof(fields) / sizeof(fields[0])))

static void test_text(void)
{
    char *s = capture(0, SX_LOG_WARN, "retry.429", fields, NFIELDS);

    test_cond("logfmt line", text_is(s, " level=warn event=retry.429"
        " path=/v2/x attempt=2 msg=\"rate limited\" empty=\"\""
        " q=\"a\\\"b\\\\c=d\" ctl=\"x\\ny\\u0001\\t\" bs=C:\\x"
        " utf8=caf\xc3\xa9\n"));
    free(s);

    s = capture(0, SX_LOG_ERROR, "boot", NULL, 0);
    test_cond("no fields", text_is(s, " level=error event=boot\n"));
    free(s);

    {
        static const struct sx_log_field odd[] = {
            { "bad key", "v", 0 }, { "del", "a\x7f", 0 }, { "eq", "=", 0 },
        };
        s = capture(0, SX_LOG_DEBUG, "odd", odd, 3);
        test_cond("logfmt key sanitised, DEL quoted",
                  text_is(s, " level=debug event=odd bad_key=v"
                             " del=\"a\\u007F\" eq=\"=\"\n"));
        free(s);
    }
}

static void test_json(void)
{
    static const struct sx_log_field raw[] = {
        { "t", "true", 1 }, { "f", "false", 1 }, { "nul", "null", 1 },
        { "neg", "-1.5e+3", 1 }, { "zero", "0", 1 }, { "nan", "nan", 1 },
        { "lead0", "01", 1 }, { "e", "", 1 }, { "dot", "1.", 1 },
        { "str", "5", 0 },
    };
    static const struct sx_log_field bad_utf8[] = {
        { "k\xc0", "a\xed\xa0\x80" "b", 0 },
        { "t", "\xe2\x82\xac\xe2\x82", 0 },
    };
    static const struct sx_log_field ctl[] = {
        { "c", "\b\f\r\x1f\x7f/", 0 }, { "k\"\n", "v", 0 },
    };
    char *s = capture(1, SX_LOG_WARN, "retry.429", fields, NFIELDS);

    test_cond("JSON line", json_is(s, "\",\"level\":\"warn\","
        "\"event\":\"retry.429\",\"path\":\"/v2/x\",\"attempt\":2,"
        "\"msg\":\"rate limited\",\"empty\":\"\",\"q\":\"a\\\"b\\\\c=d\","
        "\"ctl\":\"x\\ny\\u0001\\t\",\"bs\":\"C:\\\\x\","
        "\"utf8\":\"caf\xc3\xa9\"}\n"));
    free(s);

    s = capture(1, SX_LOG_INFO, "raw", raw, 10);
    test_cond("JSON raw values; invalid ones quoted",
              json_is(s, "\",\"level\":\"info\",\"event\":\"raw\",\"t\":true,"
                         "\"f\":false,\"nul\":null,\"neg\":-1.5e+3,"
                         "\"zero\":0,\"nan\":\"nan\",\"lead0\":\"01\","
                         "\"e\":\"\",\"dot\":\"1.\",\"str\":\"5\"}\n"));
    free(s);

    s = capture(1, SX_LOG_ERROR, "ev\"1", ctl, 2);
    test_cond("JSON control characters and keys escaped",
              json_is(s, "\",\"level\":\"error\",\"event\":\"ev\\\"1\","
                         "\"c\":\"\\b\\f\\r\\u001F\x7f/\","
                         "\"k\\\"\\n\":\"v\"}\n"));
    free(s);

    s = capture(1, SX_LOG_WARN, "bad\xff", bad_utf8, 2);
    test_cond("JSON: invalid UTF-8 in event, key, value -> U+FFFD",
              json_is(s, "\",\"level\":\"warn\","
                         "\"event\":\"bad\xEF\xBF\xBD\","
                         "\"k\xEF\xBF\xBD\":\"a\xEF\xBF\xBD\xEF\xBF\xBD"
                         "\xEF\xBF\xBD" "b\","
                         "\"t\":\"\xE2\x82\xAC\xEF\xBF\xBD\"}\n"));
    free(s);
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; s != NULL && *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static void test_levels(void)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    sx_log_setup(SX_LOG_WARN, 0, fp);
    test_cond("enabled: warn at warn", sx_log_enabled(SX_LOG_WARN));
    test_cond("enabled: error at warn", sx_log_enabled(SX_LOG_ERROR));
    test_cond("disabled: info at warn", !sx_log_enabled(SX_LOG_INFO));
    sx_log(SX_LOG_DEBUG, "a", NULL, 0);
    sx_log(SX_LOG_INFO, "b", NULL, 0);
    sx_log(SX_LOG_WARN, "c", NULL, 0);
    sx_log(SX_LOG_ERROR, "d", NULL, 0);
    sx_log_setup(SX_LOG_INFO, 0, NULL);
    fclose(fp);
    test_cond("filtered: two lines", count_lines(out) == 2);
    test_cond("filtered: the right ones",
              out != NULL && strstr(out, "event=c\n") &&
                  strstr(out, "event=d\n") && !strstr(out, "event=a") &&
                  !strstr(out, "event=b"));
    free(out);
}

static void test_parse(void)
{
    test_cond("debug", sx_log_level_parse("debug") == SX_LOG_DEBUG);
    test_cond("info", sx_log_level_parse("info") == SX_LOG_INFO);
    test_cond("warn", sx_log_level_parse("warn") == SX_LOG_WARN);
    test_cond("error", sx_log_level_parse("error") == SX_LOG_ERROR);
    test_cond("WARN rejected", sx_log_level_parse("WARN") == -1);
    test_cond("warning rejected", sx_log_level_parse("warning") == -1);
    test_cond("empty level", sx_log_level_parse("") == -1);
    test_cond("NULL level", sx_log_level_parse(NULL) == -1);
    test_cond("text", sx_log_format_parse("text") == 0);
    test_cond("json", sx_log_format_parse("json") == 1);
    test_cond("logfmt rejected", sx_log_format_parse("logfmt") == -1);
    test_cond("empty format", sx_log_format_parse("") == -1);
    test_cond("NULL format", sx_log_format_parse(NULL) == -1);
}

/* A line past the cap becomes a short line that keeps the event. */
static void test_overflow(void)
{
    size_t n = (size_t)512 << 10;
    char *big = malloc(n + 1);
    struct sx_log_field f = { "body", big, 0 };
    char *s;

    memset(big, 'x', n);
    big[n] = '\0';
    s = capture(0, SX_LOG_ERROR, "huge", &f, 1);
    test_cond("oversized line replaced",
              text_is(s, " level=error event=huge"
                         " log_error=\"line too long\"\n"));
    free(s);
    s = capture(1, SX_LOG_ERROR, big, NULL, 0);
    test_cond("oversized event name replaced",
              json_is(s, "\",\"level\":\"error\",\"event\":\"log.overflow\","
                         "\"log_error\":\"line too long\"}\n"));
    free(s);
    free(big);
}

/* With erasing on, every line (a fallback too) starts with \r ESC [K. */
static void test_erase(void)
{
    size_t n = (size_t)512 << 10;
    char *big = malloc(n + 1);
    struct sx_log_field f = { "body", big, 0 };
    char *s;

    memset(big, 'x', n);
    big[n] = '\0';
    sx_log_set_erase(1);
    s = capture(0, SX_LOG_WARN, "retry.429", NULL, 0);
    test_cond("erase: the line starts by erasing the progress line",
              s != NULL && strncmp(s, "\r\033[K", 4) == 0 &&
                  text_is(s + 4, " level=warn event=retry.429\n"));
    free(s);
    s = capture(1, SX_LOG_WARN, "x", NULL, 0);
    test_cond("erase: JSON lines too",
              s != NULL && strncmp(s, "\r\033[K{", 5) == 0);
    free(s);
    s = capture(0, SX_LOG_ERROR, "huge", &f, 1);
    test_cond("erase: an oversized line's replacement too",
              s != NULL && strncmp(s, "\r\033[K", 4) == 0 &&
                  text_is(s + 4, " level=error event=huge"
                                 " log_error=\"line too long\"\n"));
    free(s);
    sx_log_set_erase(0);
    s = capture(0, SX_LOG_WARN, "retry.429", NULL, 0);
    test_cond("erase off: the line as before",
              text_is(s, " level=warn event=retry.429\n"));
    free(s);
    free(big);
}

/* With no FILE set up, lines go to stderr (fd 2, swapped for a file). */
static void test_default_stderr(void)
{
    FILE *tmp = tmpfile();
    int saved = dup(2);
    char line[200] = "";

    test_cond("default: info enabled, debug not",
              sx_log_enabled(SX_LOG_INFO) && !sx_log_enabled(SX_LOG_DEBUG));
    fflush(stderr);
    dup2(fileno(tmp), 2);
    sx_log(SX_LOG_INFO, "to.stderr", NULL, 0);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    test_cond("default: stderr, logfmt",
              fgets(line, sizeof(line), tmp) != NULL &&
                  text_is(line, " level=info event=to.stderr\n"));
    fclose(tmp);
}

/* The writer hook: records what it is handed, in order. */
struct seen {
    int calls;
    FILE *out;
    char text[256];
};

static void record(void *ud, FILE *out, const char *s, size_t n)
{
    struct seen *w = ud;
    size_t have = strlen(w->text);

    w->calls++;
    w->out = out;
    if (have + n < sizeof(w->text)) {
        memcpy(w->text + have, s, n);
        w->text[have + n] = '\0';
    }
}

static void test_writer(void)
{
    struct seen w;
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    memset(&w, 0, sizeof(w));
    sx_log_setup(SX_LOG_INFO, 0, fp);
    sx_log_set_writer(record, &w);
    sx_log(SX_LOG_WARN, "via.writer", NULL, 0);
    sx_log(SX_LOG_DEBUG, "filtered", NULL, 0);
    sx_log_write(stdout, "raw\n", 4);
    test_cond("writer: each line whole, once", w.calls == 2);
    test_cond("writer: the log line first",
              strncmp(w.text, "ts=", 3) == 0 &&
                  strstr(w.text, " level=warn event=via.writer\nraw\n"));
    test_cond("writer: told the stream", w.out == stdout);
    sx_log_set_writer(NULL, NULL);
    sx_log(SX_LOG_WARN, "direct", NULL, 0);
    sx_log_setup(SX_LOG_INFO, 0, NULL);
    fclose(fp);
    test_cond("writer: NULL restores the stream",
              w.calls == 2 && out && strstr(out, "event=direct\n") &&
                  !strstr(out, "via.writer"));
    free(out);
}

int main(void)
{
    test_writer();
    test_default_stderr();
    test_text();
    test_json();
    test_levels();
    test_parse();
    test_overflow();
    test_erase();
    return test_report();
}
