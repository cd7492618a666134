/*
 * The pooled HTTP client: one libcurl multi handle driven by a libevent
 * loop (socket-action API), one admission queue in front of it where the
 * rate limiter lives, and the retry rules (429 with Retry-After, transient
 * failures with full-jitter backoff, decided by sx_retry).  It never calls
 * Lua: a finished request is handed back through its done callback, from
 * the loop's top level (never from inside a curl callback).
 */
#ifndef SX_CLIENT_H
#define SX_CLIENT_H
#include <stddef.h>
#include "sx_buf.h"
#include "sx_config.h"

struct event_base;
struct sx_client;
struct sx_req;

/* Transport outcome of a request; an HTTP status of any value is SX_OK. */
enum sx_err {
    SX_OK = 0,
    SX_E_TIMEOUT,   /* "timeout" */
    SX_E_CONNECT,   /* "connect" */
    SX_E_TLS,       /* "tls" */
    SX_E_DNS,       /* "dns" */
    SX_E_RESET,     /* "reset": connection dropped mid-response */
    SX_E_URL,       /* "url": malformed or unsupported URL */
    SX_E_IO,        /* "io": writing a download failed */
    SX_E_TOO_LARGE, /* "too_large": body over the max_body cap */
    SX_E_CANCELLED, /* "cancelled": the client shut down */
    SX_E_OTHER,     /* "transport" */
    SX_E_QUOTA,     /* "quota_exhausted": the day's quota is spent */
    SX_E_RATE,      /* "rate_limited": a shared 429 pause is too long */
    SX_E_CIRCUIT    /* "circuit_open": the origin's breaker is open */
};
const char *sx_client_err_name(enum sx_err e);

/* Why a request was tried again, for stats().retries_by. */
enum sx_retry_reason {
    SX_RR_429, SX_RR_5XX, SX_RR_TIMEOUT, SX_RR_CONNECT, SX_RR_RESET,
    SX_RR_DNS, SX_RR_TLS, SX_RR_OTHER, SX_RR_COUNT
};
const char *sx_client_retry_reason(int i); /* "429", "5xx", "timeout"... */

struct sx_stats {
    long requests;     /* submitted */
    long attempts;     /* transfers started */
    long connections;  /* connections opened */
    long retries;
    long retries_by[SX_RR_COUNT]; /* the retries, by reason */
    long status_429;
    long in_flight;    /* transfers running now */
    long queued;       /* waiting in the admission queue */
    long sockets;      /* sockets curl watches now */
    long failed;       /* finished with a transport error */
    long pending;      /* submitted and not finished */
    long circuit_open; /* failed fast by an open breaker */
    long budget_refused; /* retries the retry budget could not pay */
    /* computed when read (sx_queue_stats), in seconds: */
    double limiter_wait; /* how long the head of the queue has been held
                            by the limiter or a 429 pause; 0: not held */
    double pause_left;   /* left of the base URL's 429 pause; 0: none */
    double rate_learned; /* requests/s the adaptive limiter allows now;
                            -1: rate or rate_adaptive off */
};

struct sx_client *sx_client_new(struct event_base *base, char *err,
                                size_t errlen);
/* Cancels every request (their done callbacks are not called). */
void sx_client_free(struct sx_client *c);
/* The live configuration (read only). */
const struct sx_config *sx_client_config(const struct sx_client *c);
/*
 * Replaces the configuration with a copy of k, all or nothing: on -1 (with
 * a reason in err) nothing changed.  Running transfers keep the headers
 * they started with; queued ones pick up the new credentials.
 */
int sx_client_set_config(struct sx_client *c, const struct sx_config *k,
                         char *err, size_t errlen);
void sx_client_stats(const struct sx_client *c, struct sx_stats *out);

/* The daily quota as the shared state says (read now, without waiting). */
struct sx_quota {
    int shared;        /* 1: the shared limiter is in use */
    const char *path;  /* its state file, or NULL */
    const char *error; /* why sharing is off despite rate_share, or NULL */
    const char *backend; /* a Redis URL (password masked), or NULL: host */
    int fallback;      /* Redis is unreachable: the host's file decides */
    long limit;        /* quota * margin per UTC day; -1: no quota */
    long used;         /* admissions counted today */
    long left;         /* -1: no quota */
    long day;          /* UTC day number (days since 1970-01-01) */
    double reset;      /* seconds to the next 00:00 UTC */
};
void sx_client_quota(struct sx_client *c, struct sx_quota *out);

/* One origin's circuit breaker and retry budget, for stats(). */
struct sx_breaker_stats {
    const char *origin; /* "scheme://host:port" (valid until the next call) */
    const char *state;  /* closed, open, half_open; off */
    int calls, failures; /* in the window */
    int in_a_row;       /* failures in a row */
    long trips;         /* times opened */
    double retry_in;    /* seconds until a probe, 0 unless open */
    long budget;        /* retry tokens left; -1: no budget */
};
/* The origins asked lately (at most max); how many were written. */
int sx_client_breakers(const struct sx_client *c, struct sx_breaker_stats *out,
                       int max);
int sx_client_asynch_dns(void); /* 1 if curl resolves names without blocking */

/* ---- one request ------------------------------------------------------ */

typedef void (*sx_req_done_fn)(struct sx_req *r, void *ud);

struct sx_req *sx_req_new(struct sx_client *c);
/*
 * Method, and the URL: path is absolute (http/https) or relative to the
 * base URL; query is already encoded (or NULL).  Dot segments are removed
 * before the URL is compared with the base URL.  0, or -1 with a message
 * in err (bad method or URL).
 */
int sx_req_set(struct sx_req *r, const char *method, const char *path,
               const char *query, char *err, size_t errlen);
/* A header of the caller's (checked by sx_headers_add). */
int sx_req_header(struct sx_req *r, const char *name, size_t nlen,
                  const char *value, size_t vlen, char *err, size_t errlen);
int sx_req_body(struct sx_req *r, const char *body, size_t len);
/* timeout in seconds (<= 0: the configured one); idempotent -1: by method */
void sx_req_options(struct sx_req *r, double timeout, int idempotent);
/* Streams a 2xx body into fd instead of memory (downloads). */
void sx_req_sink(struct sx_req *r, int fd);

/*
 * Queues r; done(r, ud) is called once, later, from the loop.  Requests to
 * the base URL carry the API key and token; every request but a download
 * gets "Accept: application/json" unless it set its own.  With dry_run
 * set, a POST, PUT, PATCH or DELETE is logged and not sent: it completes
 * with status 200, an empty body and sx_result.dry_run set.  -1: out of
 * memory (r is not queued).
 */
int sx_client_submit(struct sx_req *r, sx_req_done_fn done, void *ud);
/*
 * Starts what the queue allows now instead of on the next loop pass.  Call
 * it only where a done callback may run (not from inside a task).
 */
void sx_client_flush(struct sx_client *c);
/* Stops r; its done callback runs at once with SX_E_CANCELLED. */
void sx_req_cancel(struct sx_req *r);
/* Frees a request that is not queued or running (or cancels it first). */
void sx_req_free(struct sx_req *r);

/* Results, valid after done. */
struct sx_result {
    enum sx_err err;
    const char *message;   /* transport error text, "" if none */
    long status;           /* 0 without a response */
    const struct sx_buf *headers; /* final header block, raw lines */
    const struct sx_buf *body;    /* in memory unless sunk to a file */
    const char *url;       /* effective URL */
    const char *method;
    const char *http_version; /* "1.1", "2", ... */
    int attempts;
    double elapsed;        /* seconds since submit */
    double retry_after;    /* last Retry-After seen, -1 if none */
    int dry_run;           /* 1: a write not sent (the dry_run setting) */
    int sent;              /* 1: the last attempt's request went out, so
                              a failure after it may have taken effect */
    int idempotent;        /* 1: retried on transient failures */
    double queue_wait;     /* seconds held in the admission queue (the
                              limiter, 429 pauses, the connection limit),
                              all attempts together */
};
void sx_req_result(const struct sx_req *r, struct sx_result *out);

/*
 * Finds header `name` (any case, no colon) in a raw header block such as
 * sx_result.headers: its value, trimmed, and length in *vlen; or NULL.
 */
const char *sx_req_find_header(const struct sx_buf *h, const char *name,
                           size_t *vlen);

#endif
