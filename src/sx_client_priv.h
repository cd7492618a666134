/*
 * The pooled client's insides, shared by its three files: sx_client.c
 * (transfers, retries, configuration), sx_queue.c (the admission queue,
 * the limiter, 429 pauses) and sx_req.c (request objects).  Not for use
 * outside the client: everything else goes through sx_client.h.
 */
#ifndef SX_CLIENT_PRIV_H
#define SX_CLIENT_PRIV_H
#include <curl/curl.h>
#include <stdint.h>

#include "sx_adapt.h"
#include "sx_breaker.h"
#include "sx_client.h"
#include "sx_easy.h"
#include "sx_limiter.h"
#include "sx_list.h"
#include "sx_ratefile.h"

struct event;
struct sx_headers;

#define SX_HEADERS_MAX ((size_t)256 << 10)
#define SX_ORIGINS 16       /* other origins whose 429 pause we remember */
#define SX_ORIGIN_MAX 256

enum req_state { RQ_NEW, RQ_QUEUED, RQ_BACKOFF, RQ_RUNNING, RQ_DONE };

struct sx_req {
    struct sx_client *c;
    struct sx_list qlink;        /* on the admission queue */
    struct sx_list alink;        /* on the list of every live request */
    struct sx_req *next;         /* the done list, the free pool */
    CURLcode rc;                 /* curl's result of the last attempt */
    enum req_state state;
    char method[16];
    char *url;                   /* urlbuf.data */
    struct sx_buf urlbuf;
    size_t origin_len;           /* "scheme://host:port" part of url */
    struct curl_slist *headers;  /* the caller's */
    struct curl_slist *sent;     /* this attempt's own list, or NULL */
    struct sx_headers *hdrs;     /* defaults held while running */
    int has_accept;              /* the caller set Accept */
    int limited;                 /* under the base URL: limiter, auth */
    char *body;
    size_t body_len;
    int has_body;
    double timeout;
    int idempotent;
    int sink_fd;                 /* -1: body in memory */
    CURL *easy;
    unsigned easy_gen;           /* c->gen when easy was set up */
    struct event *backoff_ev;
    int attempts;
    double submitted;
    double queued_at;            /* last put on the admission queue */
    double queue_wait;           /* held there, all attempts together */
    int64_t slot_ns;             /* shared limiter: reserved slot, 0 none */
    double admitted_at;          /* this attempt left the queue */
    sx_req_done_fn done;
    void *ud;
    /* results */
    long status;
    struct sx_buf hbuf, body_buf;
    enum sx_err err;
    int write_failed;            /* 1 sink error, 2 body cap */
    char errbuf[CURL_ERROR_SIZE];
    char version[8];
    char *eff_url;
    double retry_after;
    int dry_run;                 /* answered by the client, not sent */
    long request_bytes;          /* sent by the last attempt (curl's
                                    CURLINFO_REQUEST_SIZE) */
    unsigned probe;              /* the half-open breaker's probe id, 0 */
    int budget_cost;             /* what its last retry took from budget */
};

/* An origin's circuit breaker and retry budget (sx_origin.c). */
struct sx_origin {
    char name[SX_ORIGIN_MAX];    /* "scheme://host:port", no userinfo */
    double used;                 /* last asked (to replace), 0: free */
    struct sx_breaker b;
    struct sx_budget budget;
};

struct sx_client {
    struct event_base *base;
    struct sx_multi *m;
    CURLM *multi;                /* sx_multi_curl(m) */
    struct sx_req *done;         /* finished transfers, by next */
    struct event *queue_timer;   /* wakes the admission queue */
    struct sx_config cfg;
    struct sx_headers *hdrs;     /* default headers of cfg */
    struct sx_limiter lim;
    struct sx_adapt adapt;       /* the rate learned from 429s */
    double adapt_last;           /* the last base URL admission */
    double adapt_logged;         /* the rate last logged (limiter.adapt) */
    double adapt_logged_at;      /* and when */
    int adapt_cut;               /* a 429 cut it since then */
    double paused_until;         /* base URL's 429 pause (limiter off) */
    struct {
        char origin[SX_ORIGIN_MAX];
        double until;
    } pauses[SX_ORIGINS];        /* 429 pauses of other origins */
    struct sx_list queue;        /* the admission queue, FIFO */
    struct sx_list all;          /* every request not yet freed */
    struct sx_req *free_reqs;    /* pool of finished requests (by next) */
    int n_free_reqs;
    struct sx_easy_pool easy;
    struct sx_stats st;
    unsigned gen;                /* configuration generation */
    int logged_pool;
    uint64_t rng;
    struct sx_share {            /* the limiter shared by processes */
        int state;               /* 0 not opened yet, 1 open, -1 failed */
        struct sx_ratefile f;
        int64_t penalty_ns;      /* a 429 deadline still to write, or 0 */
        int spent;               /* the day's quota is spent: to write */
        int adapt_dirty;         /* a cut of c->adapt: to write */
        struct sx_gcra_state last; /* as last read */
        int64_t held_slot;       /* a Redis slot waiting for the file lock */
        char error[300];         /* why state is -1 */
    } share;
    struct sx_rshare *rs;        /* the limiter in Redis, or NULL */
    struct sx_origin origins[SX_ORIGINS]; /* breakers, retry budgets */
};

/* sx_client.c */
void sx_client_start(struct sx_client *c, struct sx_req *r);
/* Takes r off the multi handle; its easy handle goes back to the pool. */
void sx_client_stop(struct sx_client *c, struct sx_req *r, int dirty);
/* r is finished: counts and logs it, then calls its done callback. */
void sx_client_complete(struct sx_req *r, enum sx_err err);

/* sx_queue.c */
int sx_queue_init(struct sx_client *c); /* -1: out of memory */
void sx_queue_free(struct sx_client *c);
void sx_queue_push(struct sx_client *c, struct sx_req *r, int front);
void sx_queue_unlink(struct sx_client *c, struct sx_req *r);
/* Starts what the limits allow; arms a timer for the rest. */
void sx_queue_pump(struct sx_client *c);
/* Pumps on the next loop pass (never synchronously). */
void sx_queue_kick(struct sx_client *c);
/* r waits wait seconds on its own timer, then goes first in line. */
void sx_queue_park(struct sx_req *r, double wait);
/* A 429 on r: its origin admits nothing before `until`. */
void sx_queue_pause(struct sx_req *r, double until);
int sx_queue_empty(const struct sx_client *c);
/* The base URL answered r: a success, or a 429 with this Retry-After. */
void sx_queue_adapt(struct sx_req *r, int throttled, double retry_after);
/* The configured rate changed: the learned one is capped by it. */
void sx_queue_adapt_config(struct sx_client *c);
/* Fills the queue's fields of *out: limiter_wait, pause_left, rate_learned. */
void sx_queue_stats(const struct sx_client *c, struct sx_stats *out);

/* sx_share.c: the limiter shared through the state file */
enum sx_share_rc {
    SX_SHARE_OFF, SX_SHARE_BUSY, SX_SHARE_SLOT, SX_SHARE_QUOTA,
    SX_SHARE_PENALTY, /* another process's 429 pause > max_retry_after */
    SX_SHARE_PENDING  /* asked Redis: its answer will kick the queue */
};
int64_t sx_share_now_ns(void); /* CLOCK_MONOTONIC */
/*
 * Reserves a slot for one request to the base URL: SLOT (*slot_ns),
 * QUOTA (the day is spent: *retry_s to 00:00 UTC), PENALTY (a shared 429
 * pause longer than max_retry_after: *retry_s), BUSY (the lock is
 * held: try again in a few ms), OFF (not shared: the local limiter).
 */
enum sx_share_rc sx_share_reserve(struct sx_client *c, int64_t *slot_ns,
                                  int64_t *retry_s);
/* A 429 from the base URL with this wait: written at the next lock. */
void sx_share_429(struct sx_client *c, double wait);
/* Writes a pending 429; 0 if the lock was busy (try again). */
int sx_share_flush(struct sx_client *c);
/* The configuration changed: reopened (maybe another file) when needed. */
void sx_share_reset(struct sx_client *c);
void sx_share_free(struct sx_client *c);
/* limiter.admit at debug level: the slot, the day's count, what is left. */
void sx_share_log_admit(int64_t slot, int64_t now, int64_t count,
                        int64_t left, const char *backend);
/* The shared limiter's parameters: rate and quota times the margin. */
void sx_share_params(const struct sx_config *k, struct sx_gcra_params *p);

/* sx_rshare.c: the shared limiter in Redis (rate_backend) */
/* Connects (or keeps the connection) for the key's hash; -1 on failure. */
int sx_rshare_open(struct sx_client *c, const char *hash);
/* As sx_share_reserve; OFF: no Redis now (the host's file decides). */
enum sx_share_rc sx_rshare_reserve(struct sx_client *c, int64_t *slot_ns,
                                   int64_t *retry_s);
int sx_rshare_active(const struct sx_client *c); /* Redis decides now */
/* The host's file admitted one instead, its tat now lead_ns ahead. */
void sx_rshare_fallback(struct sx_client *c, int64_t lead_ns);
/*
 * The host's share of the rate while Redis is away or has just come back
 * (the interval times the hosts, no burst); seed: Redis is away, so the
 * first slot also waits for a gap after Redis's last next free slot.
 */
void sx_rshare_host_params(const struct sx_client *c,
                           struct sx_gcra_params *p, struct sx_gcra_state *s,
                           int seed);
/* limiter.admit of the slot Redis's last answer led to. */
void sx_rshare_log_admit(const struct sx_client *c, int64_t slot,
                         const char *backend);
/* 1 in the seconds after Redis came back (other hosts may not be yet). */
int sx_rshare_grace(const struct sx_client *c);
/* A 429's penalty (or only the adaptive cut) to Redis; 0 if not sent. */
int sx_rshare_write(struct sx_client *c, int64_t retry_ns, int spent);
/* Redis's figures into *out (backend, fallback, used, left); 1 if any. */
int sx_rshare_quota(const struct sx_client *c, struct sx_quota *out);
void sx_rshare_free(struct sx_client *c);

/* sx_origin.c: the circuit breaker and retry budget per origin */
/* Before each attempt: 1 go (maybe as the probe), 0 r failed fast. */
int sx_origin_admit(struct sx_client *c, struct sx_req *r);
/* The attempt's curl timeout (a probe's is breaker.probe_timeout). */
double sx_origin_timeout(const struct sx_client *c, const struct sx_req *r);
/* The attempt's outcome to its breaker; 1: no retry (a probe, not closed). */
int sx_origin_record(struct sx_client *c, struct sx_req *r);
/* r would retry: pays from its origin's budget; 0: refused, give up. */
int sx_origin_retry(struct sx_client *c, struct sx_req *r);
/* r ends without an outcome (cancelled): a probe's slot is freed. */
void sx_origin_cancelled(struct sx_client *c, struct sx_req *r);
/* The settings changed from *old (NULL: the first). */
void sx_origin_config(struct sx_client *c, const struct sx_config *old);

/* sx_req.c */
void sx_req_pool_free(struct sx_client *c);

#endif
