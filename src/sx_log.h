/*
 * Structured logging on stderr: one event per line, logfmt
 * ("ts=... level=warn event=retry.429 ...") or one JSON object per line.
 * Callers pass fields; they never format lines themselves.  Values are
 * strings; a field marked raw (numbers, booleans) is written unquoted in
 * JSON.
 */
#ifndef SX_LOG_H
#define SX_LOG_H
#include <stdio.h>

enum sx_log_level { SX_LOG_DEBUG, SX_LOG_INFO, SX_LOG_WARN, SX_LOG_ERROR };

struct sx_log_field {
    const char *key;
    const char *value; /* NULL fields are skipped */
    int raw;           /* 1: number or boolean, unquoted in JSON */
};

/* Defaults: SX_LOG_INFO, text, stderr. */
void sx_log_setup(enum sx_log_level min, int json, FILE *out);
int sx_log_enabled(enum sx_log_level lvl);
enum sx_log_level sx_log_min(void);
int sx_log_json(void); /* 1 if lines are JSON */

/*
 * on: a progress line may be showing where the log goes (a terminal), so
 * each event starts with "\r\033[K", which erases it; its owner draws it
 * again later.  Off by default.
 */
void sx_log_set_erase(int on);
/* Erases a progress line on f if one may be showing (for other messages). */
void sx_log_erase_line(FILE *f);

/* "debug"/"info"/"warn"/"error" -> level; -1 for anything else. */
int sx_log_level_parse(const char *s);
/* "text" -> 0, "json" -> 1, anything else -1. */
int sx_log_format_parse(const char *s);

/*
 * Writes one event: ts (UTC, ISO-8601 with milliseconds), level, event,
 * then the n fields in order.  logfmt quotes a value that is empty or has
 * a space, '"', '=' or a control character, escaping '"', '\\' and
 * control characters; JSON escapes per RFC 8259 and replaces invalid
 * UTF-8 with U+FFFD (sx_json_escape), so a JSON line is always valid.
 */
void sx_log(enum sx_log_level lvl, const char *event,
            const struct sx_log_field *fields, int n);

/*
 * Where finished text goes: by default fwrite and fflush on the stream.  A
 * program that keeps something on the terminal between lines (a prompt)
 * installs a writer that moves it out of the way and back; fn NULL
 * restores the default.  Every log line goes through sx_log_write, and so
 * may other whole lines that must not tear that prompt (error reports,
 * print).
 */
void sx_log_set_writer(void (*fn)(void *ud, FILE *out, const char *s,
                                  size_t n),
                       void *ud);
void sx_log_write(FILE *out, const char *s, size_t n);

#endif
