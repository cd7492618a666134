/*
 * The client's settings: one descriptor table (name, type, bounds,
 * default, command-line flag, environment variable, secret or not) that
 * drives stockx.configure, stockx.settings, the command line and the
 * README table, and a struct of values that is parsed into a copy,
 * validated whole and only then swapped in.  Pure C: no Lua, no curl.
 */
#ifndef SX_CONFIG_H
#define SX_CONFIG_H
#include <stddef.h>

struct sx_config {
    char *base_url;     /* owned strings; NULL = unset */
    char *api_key;
    char *access_token;
    char *ca_file;
    double timeout;         /* total per attempt, seconds */
    double connect_timeout;
    long max_connections;   /* transfers in flight (and connections) */
    long max_idle;          /* idle connections kept */
    double idle_timeout;    /* idle connections expire after this */
    int rate_on;
    double rate, period, burst;
    long max_attempts;       /* 429: attempts in all */
    double max_retry_after;  /* 429: longer Retry-After fails at once */
    long transient_attempts; /* connect/timeout/reset/502/503/504 */
    double backoff_base, backoff_cap;
    long max_body;
    int log_level;           /* enum sx_log_level */
    int log_json;
    int dry_run;             /* writes are logged, not sent */
    /* OAuth client credentials (the config file, the environment) */
    char *client_id;
    char *client_secret;
    char *auth_url;         /* the OAuth server (token, authorize) */
    int rate_share;          /* one limiter for every process on the key */
    char *rate_state_dir;    /* NULL: /tmp/stockx-<uid> */
    char *rate_backend;      /* "host" or a redis:// URL */
    int rate_adaptive;       /* 429s teach the limiter a lower rate */
    double rate_margin;      /* the shared limiter runs at rate * margin */
    long quota;              /* requests per UTC day (0: none) */
    int on_quota_wait;       /* quota spent: 1 wait, 0 fail */
    /* the circuit breaker per origin, the retry budget (sx_breaker) */
    long retry_budget;       /* tokens per origin; 0: no budget */
    int breaker_on;
    long breaker_window, breaker_min_calls, breaker_consecutive;
    double breaker_failure_rate;
    double breaker_open_for, breaker_open_max, breaker_probe_timeout;
    char *metrics_addr;      /* HOST:PORT for GET /metrics, or NULL */
    int metrics_public;      /* metrics_addr may be a non-loopback address */
    char *metrics_file;      /* a .prom file, or NULL */
    double metrics_interval; /* seconds between metrics_file writes */
};

enum sx_opt_type {
    SX_OPT_URL,     /* http(s) URL, trailing '/' trimmed */
    SX_OPT_SECRET,  /* a header value that must never be logged */
    SX_OPT_FILE,    /* a readable file */
    SX_OPT_SECONDS, /* a number of seconds in [min, max] */
    SX_OPT_COUNT,   /* an integer in [min, max] */
    SX_OPT_RATE,    /* "N/Ps" or "off" */
    SX_OPT_LEVEL,   /* debug, info, warn, error */
    SX_OPT_FORMAT,  /* text, json */
    SX_OPT_BOOL,    /* true/false (on the command line: a flag alone) */
    SX_OPT_STRING,  /* plain text, no control characters */
    SX_OPT_DIR,     /* a directory path (checked when used) */
    SX_OPT_NUMBER,  /* a number in [min, max] */
    SX_OPT_ONQUOTA, /* fail, wait */
    SX_OPT_BACKEND  /* host, or redis://... (may hold a password) */
};

struct sx_opt {
    const char *name;   /* Lua key: "timeout"; "retry.max_attempts" */
    enum sx_opt_type type;
    size_t offset;      /* of the field in struct sx_config */
    double min, max;    /* numbers */
    const char *def;    /* the default, as text (for docs) */
    const char *flag;   /* "--timeout", or NULL */
    const char *env;    /* "STOCKX_API_KEY", or NULL */
    const char *doc;    /* one line */
};

/* The table, ended by an entry with a NULL name; its length. */
extern const struct sx_opt sx_config_opts[];
extern const size_t sx_config_nopts;

/* The descriptor named name ("retry.max_attempts"), flag or NULL. */
const struct sx_opt *sx_config_find(const char *name);
const struct sx_opt *sx_config_find_flag(const char *flag);

void sx_config_defaults(struct sx_config *k);
/* Deep copy (dst is overwritten, not freed); 0 or -1 out of memory. */
int sx_config_copy(struct sx_config *dst, const struct sx_config *src);
void sx_config_free(struct sx_config *k); /* wipes the secrets */

/*
 * Sets o from text (the command line, the environment, a Lua string):
 * numbers are parsed, strings checked (no NUL in v[0..len), no control
 * character in a secret or URL); v NULL clears a string setting.  0, or
 * -1 with a message naming the setting and what it accepts.
 */
int sx_config_set_text(struct sx_config *k, const struct sx_opt *o,
                       const char *v, size_t len, char *err, size_t errlen);
/* Sets a number (SX_OPT_SECONDS or SX_OPT_COUNT), range-checked. */
int sx_config_set_number(struct sx_config *k, const struct sx_opt *o,
                         double v, char *err, size_t errlen);
/* Sets the limiter: rate per period seconds, burst (< 0: the default). */
int sx_config_set_rate(struct sx_config *k, double rate, double period,
                       double burst, char *err, size_t errlen);

/* 1 for the string settings (URL, secret, file, dir): clearable, owned. */
int sx_config_is_string(const struct sx_opt *o);
/* 1 if the value v of o holds a secret (a secret, a Redis password). */
int sx_config_holds_secret(const struct sx_opt *o, const char *v);

/* Reads a number setting as a double (for stockx.settings). */
double sx_config_number(const struct sx_config *k, const struct sx_opt *o);
/* A string setting (URL, secret, file), or NULL. */
const char *sx_config_string(const struct sx_config *k,
                             const struct sx_opt *o);

/*
 * The value of o as text, for `stockx config`: a secret is only "(set)"
 * or "(not set)", never any part of it.  Returns buf.
 */
const char *sx_config_format(const struct sx_config *k,
                             const struct sx_opt *o, char *buf, size_t len);

/* The name nearest to s (at most 2 edits away), or NULL: "did you mean". */
const char *sx_config_suggest(const char *s, const char *const *names);

#endif
