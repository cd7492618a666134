/*
 * Settings (see sx_config.h): the descriptor table, defaults, and the
 * checks every value passes before it can reach the client.  A number is
 * compared with its bounds while still a double, so no cast ever sees an
 * out-of-range value.
 */
#include "sx_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sx_limiter.h"
#include "sx_log.h"
#include "sx_url.h"

#define OFF(f) offsetof(struct sx_config, f)
#define DAY 86400.0

const struct sx_opt sx_config_opts[] = {
    {"base_url", SX_OPT_URL, OFF(base_url), 0, 0,
     "https://api.stockx.com/v2", "--base-url", "STOCKX_BASE_URL",
     "API base URL; credentials go only to URLs under it"},
    {"api_key", SX_OPT_SECRET, OFF(api_key), 0, 0, NULL, NULL,
     "STOCKX_API_KEY", "sent as x-api-key"},
    {"access_token", SX_OPT_SECRET, OFF(access_token), 0, 0, NULL, NULL,
     "STOCKX_ACCESS_TOKEN", "sent as Authorization: Bearer"},
    {"ca_file", SX_OPT_FILE, OFF(ca_file), 0, 0, NULL, "--ca-file", NULL,
     "trust this CA bundle as well (TLS is always verified)"},
    {"rate", SX_OPT_RATE, 0, 0, 0, "1/1s", "--rate", NULL,
     "client rate limit for the base URL: N/Ps (10/1s, 100/60s, 5/m) or off"},
    {"timeout", SX_OPT_SECONDS, OFF(timeout), 0.001, DAY, "30", "--timeout",
     NULL, "seconds per attempt, queueing excluded"},
    {"connect_timeout", SX_OPT_SECONDS, OFF(connect_timeout), 0.001, 3600,
     "10", "--connect-timeout", NULL, "seconds to connect"},
    {"max_connections", SX_OPT_COUNT, OFF(max_connections), 1, 1024, "100",
     "--max-connections", NULL, "transfers (and connections) at once"},
    {"max_idle", SX_OPT_COUNT, OFF(max_idle), 0, 1024, "20", "--max-idle",
     NULL, "idle connections kept beyond those running transfers use"},
    {"idle_timeout", SX_OPT_SECONDS, OFF(idle_timeout), 1, DAY, "300",
     "--idle-timeout", NULL, "an idle connection is closed after this"},
    {"max_body", SX_OPT_COUNT, OFF(max_body), 1, 1073741824.0, "67108864",
     "--max-body", NULL, "largest response body kept in memory, bytes"},
    {"retry.max_attempts", SX_OPT_COUNT, OFF(max_attempts), 1, 100, "5",
     "--max-attempts", NULL, "attempts in all for a request answered 429"},
    {"retry.max_retry_after", SX_OPT_SECONDS, OFF(max_retry_after), 0, DAY,
     "300", "--max-retry-after", NULL,
     "a longer Retry-After fails at once (kind rate_limited)"},
    {"retry.transient_attempts", SX_OPT_COUNT, OFF(transient_attempts), 1,
     100, "3", "--transient-attempts", NULL,
     "attempts in all after connect/timeout/reset/502/503/504"},
    {"retry.backoff_base", SX_OPT_SECONDS, OFF(backoff_base), 0, 3600, "1",
     "--backoff-base", NULL, "first backoff ceiling, doubled per retry"},
    {"retry.backoff_cap", SX_OPT_SECONDS, OFF(backoff_cap), 0, DAY, "60",
     "--backoff-cap", NULL, "largest backoff ceiling"},
    {"retry.budget", SX_OPT_COUNT, OFF(retry_budget), 0, 1e6, "500",
     "--retry-budget", NULL, "retry tokens per origin: a retry costs 5 "
     "(10 after a timeout), a success returns 1 (0: no budget)"},
    {"breaker", SX_OPT_BOOL, OFF(breaker_on), 0, 0, "true", NULL,
     "STOCKX_BREAKER", "a circuit breaker per origin; breaker = {...} "
     "sets the breaker.* keys, false turns it off"},
    {"breaker.window", SX_OPT_COUNT, OFF(breaker_window), 1, 1000, "20",
     NULL, NULL, "attempts whose outcome the breaker remembers"},
    {"breaker.min_calls", SX_OPT_COUNT, OFF(breaker_min_calls), 1, 1000,
     "10", NULL, NULL, "attempts in the window before the rate can trip"},
    {"breaker.failure_rate", SX_OPT_NUMBER, OFF(breaker_failure_rate), 0.01,
     1, "0.5", NULL, NULL, "share of failures (connect, DNS, TLS, timeout, "
     "reset, 5xx) in the window that opens it"},
    {"breaker.consecutive", SX_OPT_COUNT, OFF(breaker_consecutive), 0, 1000,
     "5", NULL, NULL, "failures in a row that open it (0: off)"},
    {"breaker.open_for", SX_OPT_SECONDS, OFF(breaker_open_for), 0.001, DAY,
     "30", NULL, NULL, "open period before a probe; doubled on each reopen"},
    {"breaker.open_max", SX_OPT_SECONDS, OFF(breaker_open_max), 0.001, DAY,
     "300", NULL, NULL, "longest open period"},
    {"breaker.probe_timeout", SX_OPT_SECONDS, OFF(breaker_probe_timeout),
     0.001, DAY, "10", NULL, NULL, "the half-open probe's timeout (at most "
     "timeout)"},
    {"log_level", SX_OPT_LEVEL, OFF(log_level), 0, 0, "info", "--log-level",
     "STOCKX_LOG_LEVEL", "debug, info, warn, error"},
    {"log_format", SX_OPT_FORMAT, OFF(log_json), 0, 0, "text",
     "--log-format", "STOCKX_LOG_FORMAT", "text (logfmt) or json"},
    {"dry_run", SX_OPT_BOOL, OFF(dry_run), 0, 0, "false", "--dry-run",
     "STOCKX_DRY_RUN", "POST, PUT, PATCH and DELETE are logged, not sent"},
    /* OAuth client credentials, for the token refresh */
    {"client_id", SX_OPT_STRING, OFF(client_id), 0, 0, NULL, NULL,
     "STOCKX_CLIENT_ID", "OAuth client ID"},
    {"client_secret", SX_OPT_SECRET, OFF(client_secret), 0, 0, NULL, NULL,
     "STOCKX_CLIENT_SECRET", "OAuth client secret"},
    {"auth_url", SX_OPT_URL, OFF(auth_url), 0, 0, "https://accounts.stockx.com",
     NULL, "STOCKX_AUTH_URL", "OAuth server: /oauth/token, /authorize"},
    {"rate_share", SX_OPT_BOOL, OFF(rate_share), 0, 0, "true", NULL,
     "STOCKX_RATE_SHARE", "one limiter and daily count for every process "
     "on this API key and host (a state file)"},
    {"rate_state_dir", SX_OPT_DIR, OFF(rate_state_dir), 0, 0, NULL, NULL,
     "STOCKX_RATE_STATE_DIR", "where the shared state files live (unset: "
     "/tmp/stockx-<uid>)"},
    {"rate_backend", SX_OPT_BACKEND, OFF(rate_backend), 0, 0, "host",
     "--rate-backend", "STOCKX_RATE_BACKEND", "where the shared limiter "
     "lives: host (the state file) or redis://[:password@]host[:port][/db] "
     "(one limiter for every host on the key)"},
    {"rate_adaptive", SX_OPT_BOOL, OFF(rate_adaptive), 0, 0, "true", NULL,
     "STOCKX_RATE_ADAPTIVE", "a 429 (without a Retry-After of an hour or "
     "more) slows the base URL's rate, which then grows back to rate"},
    {"rate_margin", SX_OPT_NUMBER, OFF(rate_margin), 0.01, 1, "0.9", NULL,
     NULL, "the shared limiter runs at rate and quota times this"},
    {"quota", SX_OPT_COUNT, OFF(quota), 0, 1e9, "25000", NULL, NULL,
     "requests per UTC day on the key, before the margin (0: no quota)"},
    {"on_quota", SX_OPT_ONQUOTA, OFF(on_quota_wait), 0, 0, "fail", NULL,
     "STOCKX_ON_QUOTA", "when the day's quota is spent: fail "
     "(kind quota_exhausted) or wait for 00:00 UTC"},
    /* Prometheus metrics (lua/stockx/metrics.lua) */
    {"metrics_addr", SX_OPT_STRING, OFF(metrics_addr), 0, 0, NULL,
     "--metrics-addr", "STOCKX_METRICS_ADDR", "serve GET /metrics on "
     "HOST:PORT while the script runs (loopback unless metrics_public)"},
    {"metrics_public", SX_OPT_BOOL, OFF(metrics_public), 0, 0, "false", NULL,
     NULL, "let metrics_addr listen on an address other than loopback"},
    {"metrics_file", SX_OPT_STRING, OFF(metrics_file), 0, 0, NULL,
     "--metrics-file", "STOCKX_METRICS_FILE", "write the metrics to this "
     ".prom file (atomic, 0644) every metrics_interval and at the end"},
    {"metrics_interval", SX_OPT_SECONDS, OFF(metrics_interval), 1, DAY, "15",
     "--metrics-interval", NULL, "seconds between metrics_file writes"},
    {NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL}};

const size_t sx_config_nopts =
    sizeof sx_config_opts / sizeof *sx_config_opts - 1;

const struct sx_opt *sx_config_find(const char *name)
{
    for (const struct sx_opt *o = sx_config_opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

const struct sx_opt *sx_config_find_flag(const char *flag)
{
    for (const struct sx_opt *o = sx_config_opts; o->name; o++)
        if (o->flag && strcmp(o->flag, flag) == 0)
            return o;
    return NULL;
}

void sx_config_defaults(struct sx_config *k)
{
    memset(k, 0, sizeof *k);
    for (const struct sx_opt *o = sx_config_opts; o->name; o++)
        if (o->def && !sx_config_is_string(o)) /* strings: NULL */
            sx_config_set_text(k, o, o->def, strlen(o->def), NULL, 0);
}

static char **str_slot(struct sx_config *k, const struct sx_opt *o)
{
    return (char **)(void *)((char *)k + o->offset);
}

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

int sx_config_is_string(const struct sx_opt *o)
{
    return o->type == SX_OPT_URL || o->type == SX_OPT_SECRET ||
           o->type == SX_OPT_FILE || o->type == SX_OPT_STRING ||
           o->type == SX_OPT_DIR || o->type == SX_OPT_BACKEND;
}

void sx_config_free(struct sx_config *k)
{
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        if (sx_config_is_string(o)) {
            wipe_free(*str_slot(k, o));
            *str_slot(k, o) = NULL;
        }
    }
}

int sx_config_copy(struct sx_config *dst, const struct sx_config *src)
{
    *dst = *src;
    for (const struct sx_opt *o = sx_config_opts; o->name; o++) {
        if (!sx_config_is_string(o))
            continue;
        char **d = str_slot(dst, o);
        if (*d && !(*d = strdup(*d))) {
            /* the ones not copied yet still point into src */
            for (const struct sx_opt *p = o + 1; p->name; p++)
                if (sx_config_is_string(p))
                    *str_slot(dst, p) = NULL;
            sx_config_free(dst);
            return -1;
        }
    }
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *name,
                const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, name, what);
    return -1;
}

/* A URL or secret may not hold control characters (header injection). */
static int check_chars(const struct sx_opt *o, const char *v, size_t len,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == 0)
            return fail(err, errlen, "'%s' contains a NUL byte%s", o->name,
                        "");
        if (o->type != SX_OPT_FILE && o->type != SX_OPT_DIR &&
            (c < 0x20 || c == 0x7f))
            return fail(err, errlen, "'%s' contains a control character "
                        "(CR, LF, ...)%s", o->name, "");
        if (o->type == SX_OPT_URL && c == ' ')
            return fail(err, errlen, "'%s' contains a space%s", o->name, "");
    }
    return 0;
}

/* "host", or a redis:// URL sx_url_redis accepts. */
static int check_backend(const char *v, char *err, size_t errlen)
{
    struct sx_redis_addr a;
    if (strcmp(v, "host") == 0)
        return 0;
    return sx_url_redis(v, &a, err, errlen);
}

int sx_config_holds_secret(const struct sx_opt *o, const char *v)
{
    struct sx_redis_addr a;
    char err[8];
    if (o->type == SX_OPT_SECRET)
        return v != NULL;
    return o->type == SX_OPT_BACKEND && v && strcmp(v, "host") != 0 &&
           sx_url_redis(v, &a, err, sizeof err) == 0 && a.pass[0];
}

static int set_string(struct sx_config *k, const struct sx_opt *o,
                      const char *v, size_t len, char *err, size_t errlen)
{
    char *copy = NULL;
    if (v) {
        if (check_chars(o, v, len, err, errlen) < 0)
            return -1;
        if (o->type == SX_OPT_URL && !sx_url_is_absolute(v))
            return fail(err, errlen, "%s must start with http:// or "
                        "https:// (got '%s')", o->name, v);
        if (o->type == SX_OPT_URL)
            while (len > 1 && v[len - 1] == '/')
                len--;
        if (o->type == SX_OPT_BACKEND && check_backend(v, err, errlen) < 0)
            return -1;
        if (o->type == SX_OPT_FILE && access(v, R_OK) != 0) {
            char why[160];
            snprintf(why, sizeof why, "'%s': %s", v, strerror(errno));
            return fail(err, errlen, "cannot read %s %s", o->name, why);
        }
        if (!(copy = strndup(v, len)))
            return fail(err, errlen, "'%s': out of memory%s", o->name, "");
    }
    wipe_free(*str_slot(k, o));
    *str_slot(k, o) = copy;
    return 0;
}

int sx_config_set_number(struct sx_config *k, const struct sx_opt *o,
                         double v, char *err, size_t errlen)
{
    char want[120];
    if (o->type != SX_OPT_SECONDS && o->type != SX_OPT_COUNT &&
        o->type != SX_OPT_NUMBER)
        return fail(err, errlen, "'%s' is not a number setting%s", o->name,
                    "");
    if (!(v >= o->min && v <= o->max) ||
        (o->type == SX_OPT_COUNT && v != floor(v))) {
        snprintf(want, sizeof want, "%s between %g and %g (got %g)",
                 o->type == SX_OPT_COUNT ? "an integer" : "a number",
                 o->min, o->max, v);
        return fail(err, errlen, "'%s' must be %s", o->name, want);
    }
    char *p = (char *)k + o->offset;
    if (o->type == SX_OPT_COUNT)
        *(long *)(void *)p = (long)v;
    else
        *(double *)(void *)p = v;
    return 0;
}

int sx_config_set_rate(struct sx_config *k, double rate, double period,
                       double burst, char *err, size_t errlen)
{
    char why[200];
    if (burst < 0)
        burst = rate >= 1 && rate <= SX_LIMITER_BURST_MAX ? floor(rate) : 1;
    if (sx_limiter_check(rate, period, burst, why, sizeof why) < 0)
        return fail(err, errlen, "bad %s: %s", "rate", why);
    k->rate_on = 1;
    k->rate = rate;
    k->period = period;
    k->burst = burst;
    return 0;
}

static int set_rate_text(struct sx_config *k, const char *v, char *err,
                         size_t errlen)
{
    double rate, period;
    char why[160];
    if (strcmp(v, "off") == 0) {
        k->rate_on = 0;
        return 0;
    }
    if (sx_limiter_parse_rate(v, &rate, &period, why, sizeof why) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "bad rate '%s': %s (expected N/period such "
                     "as 10/1s, 100/60s, 5/m, or off)", v, why);
        return -1;
    }
    return sx_config_set_rate(k, rate, period, -1, err, errlen);
}

static int set_bool(struct sx_config *k, const struct sx_opt *o,
                    const char *v, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", NULL};
    int *slot = (int *)(void *)((char *)k + o->offset);
    for (int i = 0; yes[i]; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *slot = 1, 0;
        if (strcmp(v, no[i]) == 0)
            return *slot = 0, 0;
    }
    return fail(err, errlen, "'%s' must be true or false (got '%s')",
                o->name, v);
}

static int set_number_text(struct sx_config *k, const struct sx_opt *o,
                           const char *v, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d))
        return fail(err, errlen, "'%s' must be a number (got '%s')", o->name,
                    v);
    return sx_config_set_number(k, o, d, err, errlen);
}

int sx_config_set_text(struct sx_config *k, const struct sx_opt *o,
                       const char *v, size_t len, char *err, size_t errlen)
{
    if (sx_config_is_string(o))
        return set_string(k, o, v, len, err, errlen);
    if (!v)
        return fail(err, errlen, "'%s' cannot be cleared%s", o->name, "");
    if (memchr(v, '\0', len))
        return fail(err, errlen, "'%s' contains a NUL byte%s", o->name, "");
    if (o->type == SX_OPT_RATE)
        return set_rate_text(k, v, err, errlen);
    if (o->type == SX_OPT_LEVEL) {
        int lvl = sx_log_level_parse(v);
        if (lvl < 0)
            return fail(err, errlen, "bad %s '%s' (debug, info, warn, "
                        "error)", o->name, v);
        k->log_level = lvl;
        return 0;
    }
    if (o->type == SX_OPT_BOOL)
        return set_bool(k, o, v, err, errlen);
    if (o->type == SX_OPT_ONQUOTA) {
        if (strcmp(v, "fail") != 0 && strcmp(v, "wait") != 0)
            return fail(err, errlen, "bad %s '%s' (fail, wait)", o->name, v);
        k->on_quota_wait = strcmp(v, "wait") == 0;
        return 0;
    }
    if (o->type == SX_OPT_FORMAT) {
        int json = sx_log_format_parse(v);
        if (json < 0)
            return fail(err, errlen, "bad %s '%s' (text, json)", o->name, v);
        k->log_json = json;
        return 0;
    }
    return set_number_text(k, o, v, err, errlen);
}

double sx_config_number(const struct sx_config *k, const struct sx_opt *o)
{
    const char *p = (const char *)k + o->offset;
    if (o->type == SX_OPT_COUNT)
        return (double)*(const long *)(const void *)p;
    return *(const double *)(const void *)p;
}

const char *sx_config_string(const struct sx_config *k,
                             const struct sx_opt *o)
{
    return *(char *const *)(const void *)((const char *)k + o->offset);
}

const char *sx_config_format(const struct sx_config *k,
                             const struct sx_opt *o, char *buf, size_t len)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    const char *s = sx_config_is_string(o) ? sx_config_string(k, o) : NULL;
    const int *flag = (const int *)(const void *)((const char *)k +
                                                  o->offset);
    if (o->type == SX_OPT_SECRET)
        snprintf(buf, len, "%s", s ? "(set)" : "(not set)");
    else if (o->type == SX_OPT_BACKEND)
        sx_url_redis_mask(s ? s : "host", buf, len);
    else if (sx_config_is_string(o))
        snprintf(buf, len, "%s", s ? s : "(not set)");
    else if (o->type == SX_OPT_SECONDS || o->type == SX_OPT_COUNT ||
             o->type == SX_OPT_NUMBER)
        snprintf(buf, len, "%.15g", sx_config_number(k, o));
    else if (o->type == SX_OPT_RATE && !k->rate_on)
        snprintf(buf, len, "off");
    else if (o->type == SX_OPT_RATE)
        snprintf(buf, len, "%.15g/%.15gs burst %.15g", k->rate, k->period,
                 k->burst);
    else if (o->type == SX_OPT_LEVEL)
        snprintf(buf, len, "%s", levels[k->log_level & 3]);
    else if (o->type == SX_OPT_FORMAT)
        snprintf(buf, len, "%s", k->log_json ? "json" : "text");
    else if (o->type == SX_OPT_ONQUOTA)
        snprintf(buf, len, "%s", k->on_quota_wait ? "wait" : "fail");
    else
        snprintf(buf, len, "%s", *flag ? "true" : "false");
    return buf;
}

/* Levenshtein distance of two short names, capped at 9. */
static int distance(const char *a, const char *b)
{
    int d[32], n = (int)strlen(b), prev, tmp;
    if (n > 30 || strlen(a) > 30)
        return 9;
    for (int j = 0; j <= n; j++)
        d[j] = j;
    for (int i = 1; a[i - 1]; i++) {
        prev = d[0];
        d[0] = i;
        for (int j = 1; j <= n; j++) {
            tmp = d[j];
            int best = prev + (a[i - 1] != b[j - 1]);
            if (d[j] + 1 < best)
                best = d[j] + 1;
            if (d[j - 1] + 1 < best)
                best = d[j - 1] + 1;
            d[j] = best;
            prev = tmp;
        }
    }
    return d[n];
}

const char *sx_config_suggest(const char *s, const char *const *names)
{
    const char *best = NULL;
    int bestd = 3;
    for (; *names; names++) {
        int dd = distance(s, *names);
        if (dd < bestd) {
            bestd = dd;
            best = *names;
        }
    }
    return best;
}
